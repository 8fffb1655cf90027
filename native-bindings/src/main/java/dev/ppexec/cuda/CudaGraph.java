package dev.ppexec.cuda;

import dev.ppexec.backend.Graph;

/**
 * An executable CUDA graph ({@code CUgraphExec}) captured from a stream of a {@link CudaDevice}, which owns it:
 * {@link #close()} destroys it, and so does the device's close.
 *
 * <p>Note [graph capture]: {@link CudaStream#capture} runs the launches between {@code cuStreamBeginCapture_v2}
 * and {@code cuStreamEndCapture}, instantiates the graph and destroys the graph itself at once (the executable
 * one does not need it).
 * <ul>
 *   <li>Mode {@code CU_STREAM_CAPTURE_MODE_GLOBAL}: while a capture lasts, a potentially unsafe call from any
 *       thread (a synchronisation, a synchronous copy, an allocation) fails and invalidates it, so a capture
 *       happens while the device is otherwise idle, and a capture error names the call that broke it.</li>
 *   <li>A kernel node keeps the argument values the launch had at capture; the driver reads them at the call, so
 *       {@link KernelParams} rewritten later do not reach it. What changes per step must be in device memory.</li>
 *   <li>cuBLAS: the stream's handle is created and given a workspace of its own ({@code cublasSetWorkspace_v2})
 *       before the capture begins, since creating either inside it is an unsafe call.</li>
 *   <li>Event records on the capturing stream become nodes: the events around a forward, and the level-5 marks
 *       between its launches, are recorded at every replay.</li>
 * </ul>
 */
final class CudaGraph implements Graph {

    private final CudaDevice device;
    private final String name;
    private final long exec;
    private volatile boolean closed;

    CudaGraph(CudaDevice device, String name, long exec) {
        this.device = device;
        this.name = name;
        this.exec = exec;
    }

    @Override
    public String name() {
        return name;
    }

    CudaDevice device() {
        return device;
    }

    /** The {@code CUgraphExec}; fails once closed. */
    long exec() {
        if (closed) {
            throw new IllegalStateException("graph '" + name + "' on " + device.name() + " is closed");
        }
        return exec;
    }

    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        device.destroy(this, exec);
    }
}
