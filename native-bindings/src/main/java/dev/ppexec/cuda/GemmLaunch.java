package dev.ppexec.cuda;

/** {@code y[rows, out] = x[rows, in] · w} through cuBLAS on the stream's own handle (Note [row-major GEMM]). */
final class GemmLaunch extends CudaLaunch {

    private final Cublas cublas;
    private final long x;
    private final long w;
    private final long y;
    private final int batch;
    private final int in;
    private final int out;
    private final long maxRows;
    private final long alphaBeta;

    GemmLaunch(String name, Cublas cublas, CudaBuffer x, CudaMatrix w, CudaBuffer y, int batch, long alphaBeta) {
        super(name);
        this.cublas = cublas;
        this.x = x.pointer();
        this.w = w.buffer().pointer();
        this.y = y.pointer();
        this.batch = batch;
        this.in = w.in();
        this.out = w.out();
        this.maxRows = Math.min(x.length() / in, y.length() / out);
        this.alphaBeta = alphaBeta;
    }

    @Override
    void enqueue(CudaStream stream, int tokens, int startPos) {
        long rows = (long) batch * tokens;
        if (tokens < 1 || rows > maxRows) {
            throw new IllegalArgumentException(name() + ": " + batch + " x " + tokens + " rows do not fit its buffers ("
                    + maxRows + " rows)");
        }
        cublas.matmulRowMajor(stream.cublasHandle(), x, w, y, (int) rows, in, out, alphaBeta);
    }
}
