package dev.ppexec.cuda;

import dev.ppexec.backend.Buffer;
import dev.ppexec.backend.Device;
import dev.ppexec.backend.Event;

/**
 * CUDA IPC between processes of one host: a device buffer or an event of one process, exported as a 64-byte handle
 * ({@code cuIpcGetMemHandle}, {@code cuIpcGetEventHandle}) and opened by another ({@code cuIpcOpenMemHandle},
 * {@code cuIpcOpenEventHandle}), which then copies from the buffer and waits for the event on its own streams. An
 * opened buffer is unmapped ({@code cuIpcCloseMemHandle}) when it is closed, or with its device; the exporter must
 * not free the allocation before every importer unmapped it.
 */
public final class CudaIpc {

    /** The size of a handle (CU_IPC_HANDLE_SIZE). */
    public static final int HANDLE_BYTES = CudaDriver.IPC_HANDLE_BYTES;

    private CudaIpc() {
    }

    private static CudaDevice cuda(Device d) {
        if (!(d instanceof CudaDevice c)) {
            throw new IllegalArgumentException("CUDA IPC on " + d.name() + "; allowed: a CUDA device");
        }
        return c;
    }

    /** The handle of {@code buffer}'s allocation, for another process of this host to open. */
    public static byte[] export(Buffer buffer) {
        if (!(buffer instanceof CudaBuffer b)) {
            throw new IllegalArgumentException("CUDA IPC of a " + buffer.getClass().getSimpleName()
                    + "; allowed: a CUDA buffer");
        }
        b.device().bind();
        return b.device().driver().ipcGetMemHandle(b.pointer());
    }

    /**
     * An event of {@code device} that other processes can open and wait for (no timing: it cannot time a span),
     * owned by the device.
     */
    public static Event interprocessEvent(Device device) {
        CudaDevice d = cuda(device);
        d.bind();
        return d.adopt(d.driver().eventCreate(CudaDriver.EVENT_INTERPROCESS));
    }

    /** The handle of an event made by {@link #interprocessEvent}. */
    public static byte[] export(Event event) {
        if (!(event instanceof CudaEvent e)) {
            throw new IllegalArgumentException("CUDA IPC of a " + event.getClass().getSimpleName()
                    + "; allowed: a CUDA event");
        }
        e.device().bind();
        return e.device().driver().ipcGetEventHandle(e.handle());
    }

    /** Another process's event, for streams of {@code device} to wait for; destroyed when closed. */
    public static Event openEvent(Device device, byte[] handle) {
        CudaDevice d = cuda(device);
        d.bind();
        return d.adopt(d.driver().ipcOpenEventHandle(handle));
    }

    /**
     * Another process's buffer of {@code length} elements of {@code type}, mapped on {@code device}: a buffer that
     * this device's copies read and write, unmapped when closed.
     */
    public static Buffer open(Device device, byte[] handle, Buffer.Type type, long length) {
        CudaDevice d = cuda(device);
        d.bind();
        return d.imported(type, length, d.driver().ipcOpenMemHandle(handle));
    }
}
