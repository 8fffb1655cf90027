package dev.ppexec.cuda;

import java.util.Locale;

/**
 * A device allocation did not fit. An error, not a crash: it names the device, the bytes asked for
 * and the bytes the device had free, and the device still frees what the run had allocated when it
 * is closed.
 */
public final class CudaOutOfMemoryException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final long requestedBytes;
    private final long freeBytes;

    CudaOutOfMemoryException(String device, long requestedBytes, long freeBytes, long totalBytes) {
        super(String.format(Locale.ROOT, "%s: out of memory: asked for %,d bytes, %,d bytes free of %,d", device,
                requestedBytes, freeBytes, totalBytes));
        this.requestedBytes = requestedBytes;
        this.freeBytes = freeBytes;
    }

    public long requestedBytes() {
        return requestedBytes;
    }

    public long freeBytes() {
        return freeBytes;
    }
}
