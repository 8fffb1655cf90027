package dev.ppexec.cuda;

import dev.ppexec.backend.Buffer;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * Device memory ({@code cuMemAlloc_v2}) owned by this object: closing frees it, once. A buffer that
 * next tokens are copied from also owns a page-locked host mirror, and a buffer staged between rank
 * processes a page-locked staging copy; each is allocated on first use and freed with it.
 */
@SuppressWarnings("restricted") // native access is this module's job (run with --enable-native-access)
final class CudaBuffer implements Buffer {

    private final CudaDevice device;
    private final Type type;
    private final long length;
    private final long pointer;
    /** Another process's allocation mapped here (CUDA IPC): closing unmaps it instead of freeing it. */
    private final boolean imported;
    private long hostMirror;
    private long hostMirrorBytes;
    private long staging;
    private List<Runnable> onClose;
    private boolean closed;

    CudaBuffer(CudaDevice device, Type type, long length, long pointer) {
        this(device, type, length, pointer, false);
    }

    CudaBuffer(CudaDevice device, Type type, long length, long pointer, boolean imported) {
        this.device = device;
        this.type = type;
        this.length = length;
        this.pointer = pointer;
        this.imported = imported;
    }

    @Override
    public Type type() {
        return type;
    }

    @Override
    public long length() {
        return length;
    }

    long bytes() {
        return length * Float.BYTES;
    }

    CudaDevice device() {
        return device;
    }

    /** The device address; fails on a closed buffer rather than handing out freed memory. */
    synchronized long pointer() {
        if (closed) {
            throw new IllegalStateException("buffer of " + length + " " + type + " on " + device.name() + " is closed");
        }
        return pointer;
    }

    /** Page-locked host memory of {@code bytes} (sized by the first caller), for asynchronous copies to the host. */
    synchronized MemorySegment hostMirror(long bytes) {
        if (closed) {
            throw new IllegalStateException("buffer on " + device.name() + " is closed");
        }
        if (hostMirror == 0) {
            hostMirror = device.allocateHost(bytes);
            hostMirrorBytes = bytes;
        }
        if (bytes > hostMirrorBytes) {
            throw new IllegalStateException("host mirror of " + hostMirrorBytes + " bytes asked for " + bytes);
        }
        return MemorySegment.ofAddress(hostMirror).reinterpret(bytes);
    }

    /**
     * Page-locked host memory of the buffer's whole size, for host staging between rank processes (Note [host
     * staging] in CudaStaging); apart from {@link #hostMirror}, which next tokens use.
     */
    synchronized MemorySegment staging() {
        if (closed) {
            throw new IllegalStateException("buffer on " + device.name() + " is closed");
        }
        if (staging == 0) {
            staging = device.allocateHost(Math.max(1, bytes()));
        }
        return MemorySegment.ofAddress(staging).reinterpret(bytes());
    }

    /** Runs {@code action} when the buffer is closed (before its memory is freed). */
    synchronized void onClose(Runnable action) {
        if (onClose == null) {
            onClose = new ArrayList<>(1);
        }
        onClose.add(action);
    }

    @Override
    public void close() {
        long host;
        long stagingHost;
        List<Runnable> actions;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            host = hostMirror;
            stagingHost = staging;
            actions = onClose;
        }
        if (actions != null) {
            actions.forEach(Runnable::run);
        }
        if (imported) {
            device.unmap(this, pointer);
        } else {
            device.free(this, pointer, host);
        }
        if (stagingHost != 0) {
            device.freeHost(stagingHost);
        }
    }
}
