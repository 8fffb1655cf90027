package dev.ppexec.cuda;

/**
 * {@code dst[0, rows·rowLength) = src[0, rows·rowLength)} on the stream: a device-to-device copy on
 * one device, a peer copy ({@code cuMemcpyPeerAsync}) between two.
 */
final class CopyLaunch extends CudaLaunch {

    private final CudaBuffer src;
    private final CudaBuffer dst;
    private final long srcPointer;
    private final long dstPointer;
    private final int batch;
    private final int rowLength;
    private final long maxElements;

    CopyLaunch(String name, CudaBuffer src, CudaBuffer dst, int batch, int rowLength) {
        super(name);
        this.src = src;
        this.dst = dst;
        this.srcPointer = src.pointer();
        this.dstPointer = dst.pointer();
        this.batch = batch;
        this.rowLength = rowLength;
        this.maxElements = Math.min(src.length(), dst.length());
    }

    @Override
    void enqueue(CudaStream stream, int tokens, int startPos) {
        long elements = (long) batch * tokens * rowLength;
        if (tokens < 1 || elements > maxElements) {
            throw new IllegalArgumentException(name() + ": " + elements + " elements do not fit its buffers ("
                    + maxElements + ")");
        }
        long bytes = elements * Float.BYTES;
        CudaDriver driver = stream.cudaDevice().driver();
        if (src.device() == dst.device()) {
            driver.memcpyDtoDAsync(dstPointer, srcPointer, bytes, stream.handle());
        } else {
            driver.memcpyPeerAsync(dstPointer, dst.device().context(), srcPointer, src.device().context(), bytes,
                    stream.handle());
        }
    }
}
