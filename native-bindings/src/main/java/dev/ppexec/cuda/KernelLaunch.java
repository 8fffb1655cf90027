package dev.ppexec.cuda;

/**
 * One of the project's kernels with its arguments bound ({@link KernelParams}). Per step, a
 * subclass writes the arguments that depend on {@code tokens} and {@code startPos}, checks that the
 * pass fits the bound buffers, and sets the grid; then the kernel is launched. Nothing is
 * allocated per launch. Launches of one object are serialised, since the argument block is shared.
 */
abstract class KernelLaunch extends CudaLaunch {

    private final long function;
    private final int blockX;
    private final int blockY;
    private final int sharedBytes;
    final KernelParams params;
    final int batch;
    private final long maxRows;
    int gridX;
    int gridY = 1;

    /**
     * @param maxRows the most rows ({@code batch · tokens}) the bound buffers hold
     */
    KernelLaunch(String name, long function, int argumentCount, int batch, long maxRows, int blockX, int blockY,
                 int sharedBytes) {
        super(name);
        this.function = function;
        this.params = new KernelParams(argumentCount);
        this.batch = batch;
        this.maxRows = maxRows;
        this.blockX = blockX;
        this.blockY = blockY;
        this.sharedBytes = sharedBytes;
    }

    /** Writes the per-step arguments and sets {@link #gridX} (and {@link #gridY}); may throw when the pass does not fit. */
    abstract void prepare(int tokens, int startPos);

    @Override
    final synchronized void enqueue(CudaStream stream, int tokens, int startPos) {
        long rows = (long) batch * tokens;
        if (tokens < 1 || rows > maxRows) {
            throw new IllegalArgumentException(name() + ": " + batch + " x " + tokens + " rows do not fit its buffers ("
                    + maxRows + " rows)");
        }
        prepare(tokens, startPos);
        stream.cudaDevice().driver().launchKernel(function, gridX, gridY, blockX, blockY, sharedBytes, stream.handle(),
                params.pointers());
    }

    static int blocks(long threads, int perBlock) {
        return Math.toIntExact((threads + perBlock - 1) / perBlock);
    }
}
