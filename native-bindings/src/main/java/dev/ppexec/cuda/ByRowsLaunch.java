package dev.ppexec.cuda;

import java.util.List;

/**
 * A fused product that picks its kernels by the pass's shape (Note [decode products] in fused.cu): a pass of at most
 * {@link CudaKernels#FUSED_ROWS} rows runs {@code decode}, one launch that reads each weight once for all rows; a
 * larger pass runs {@code larger} in order (cuBLAS, or the tiled kernel, and what the product needs around it). The
 * choice depends on {@code tokens} only, never on {@code startPos}, so a captured graph holds one of them for good.
 */
final class ByRowsLaunch extends CudaLaunch {

    private final int batch;
    private final CudaLaunch decode;
    private final List<CudaLaunch> larger;
    private final String largerMissing;

    /**
     * @param largerMissing why a larger pass is refused, when {@code larger} is empty (else null)
     */
    ByRowsLaunch(String name, int batch, CudaLaunch decode, List<CudaLaunch> larger, String largerMissing) {
        super(name);
        this.batch = batch;
        this.decode = decode;
        this.larger = List.copyOf(larger);
        this.largerMissing = largerMissing;
    }

    @Override
    void enqueue(CudaStream stream, int tokens, int startPos) {
        long rows = (long) batch * tokens;
        if (rows <= CudaKernels.FUSED_ROWS) {
            decode.enqueue(stream, tokens, startPos);
            return;
        }
        if (larger.isEmpty()) {
            throw new IllegalArgumentException(name() + ": " + batch + " x " + tokens + " rows; allowed: at most "
                    + CudaKernels.FUSED_ROWS + " (" + largerMissing + ")");
        }
        for (CudaLaunch l : larger) {
            l.enqueue(stream, tokens, startPos);
        }
    }
}
