package dev.ppexec.cuda;

import dev.ppexec.backend.Device;
import dev.ppexec.backend.Event;
import dev.ppexec.backend.Graph;
import dev.ppexec.backend.Launch;
import dev.ppexec.backend.Stream;

import java.util.Objects;


/**
 * A CUDA stream created non-blocking (it does not wait for the legacy default stream). Launches
 * enqueue and return. Its cuBLAS handle, when the device has cuBLAS, is created on the first
 * matrix product launched on it and bound to it for good, so that ranks sharing a device never
 * share a handle.
 *
 * <p>Note [cuda stream failure]: as on the CPU backend, a launch that fails (the driver refuses it,
 * or a precondition such as the KV cache capacity does not hold) does not throw at the caller: the
 * stream keeps the first failure, tells the device's failure listener at once, skips every later
 * launch and still records events, so nothing waiting on it hangs; {@link #synchronize()} rethrows
 * the failure. Errors that the device reports later (an illegal address inside a kernel) surface
 * from the next synchronisation, event query or record, as a {@link CudaException}. While the stream
 * captures a graph, a refused launch fails the capture instead (Note [graph capture] in CudaGraph).
 */
final class CudaStream implements Stream {

    private final CudaDevice device;
    private final long handle;
    private final String label;
    private final int id;
    private long cublasHandle;
    private volatile Throwable failure;
    private volatile boolean capturing;
    private Throwable captureFailure; // written and read by the capturing thread
    private boolean closed;
    private final java.util.List<TokensToHostLaunch> hostCopies = new java.util.ArrayList<>(); // guarded by this

    CudaStream(CudaDevice device, long handle, String label, int id) {
        this.device = device;
        this.handle = handle;
        this.label = label;
        this.id = id;
    }

    long handle() {
        return handle;
    }

    CudaDevice cudaDevice() {
        return device;
    }

    @Override
    public Device device() {
        return device;
    }

    @Override
    public String label() {
        return label;
    }

    @Override
    public int id() {
        return id;
    }

    String describe() {
        return device.name() + " stream " + id + " (" + label + ")";
    }

    /** This stream's cuBLAS handle; created on first use, on the launching thread. */
    synchronized long cublasHandle() {
        if (cublasHandle == 0) {
            cublasHandle = device.createCublasHandle(handle);
        }
        return cublasHandle;
    }

    @Override
    public void launch(Launch launch, int tokens, int startPos) {
        if (!(launch instanceof CudaLaunch l)) {
            throw new IllegalArgumentException("launch '" + launch.name() + "' was not prepared by a CUDA device");
        }
        if (failure != null) {
            return;
        }
        try {
            device.bind();
            l.enqueue(this, tokens, startPos);
        } catch (RuntimeException e) {
            if (capturing) {
                captureFailure = captureFailure == null ? new IllegalStateException(l.name() + ": " + e.getMessage(), e)
                        : captureFailure;
            } else {
                failed(l.name(), e);
            }
        }
    }

    /** Note [graph capture] in CudaGraph. */
    @Override
    public Graph capture(String name, Runnable launches) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(launches, "launches");
        if (failure != null) {
            throw new IllegalStateException(describe() + " failed before the capture of '" + name + "': "
                    + failure.getMessage(), failure);
        }
        device.bind();
        prepareCublasForCapture();
        CudaDriver driver = device.driver();
        driver.streamBeginCapture(handle, CudaDriver.CAPTURE_MODE_GLOBAL);
        captureFailure = null;
        capturing = true;
        try {
            launches.run();
        } catch (RuntimeException | Error e) {
            captureFailure = captureFailure == null ? e : captureFailure;
        } finally {
            capturing = false;
        }
        long[] graph = new long[1];
        int status = driver.streamEndCapture(handle, graph);
        if (captureFailure != null || status != CudaDriver.SUCCESS) {
            if (graph[0] != 0) {
                driver.graphDestroy(graph[0]);
            }
            String ended = status == CudaDriver.SUCCESS ? "" : "; cuStreamEndCapture: " + driver.describe(status);
            Throwable cause = captureFailure;
            captureFailure = null;
            String what = "capture of graph '" + name + "' on " + describe() + " failed: ";
            throw cause == null ? new CudaException("cuStreamEndCapture", status, what + driver.describe(status))
                    : new IllegalStateException(what + cause.getMessage() + ended, cause);
        }
        try {
            return device.adopt(name, driver.graphInstantiate(graph[0]));
        } finally {
            driver.graphDestroy(graph[0]);
        }
    }

    /** The stream's cuBLAS handle and its own workspace, made before a capture (Note [graph capture] in CudaGraph). */
    private void prepareCublasForCapture() {
        if (device.cublas().isPresent()) {
            device.ensureCublasWorkspace(cublasHandle());
        }
    }

    @Override
    public void launch(Graph graph) {
        CudaGraph g = device.own(graph);
        if (failure != null) {
            return;
        }
        try {
            device.bind();
            device.driver().graphLaunch(g.exec(), handle);
        } catch (RuntimeException e) {
            failed("graph " + g.name(), e);
        }
    }

    /** Has {@code launch} fill its table at this stream's next synchronisation (registered once). */
    synchronized void fillAfterSync(TokensToHostLaunch launch) {
        if (!hostCopies.contains(launch)) {
            hostCopies.add(launch);
        }
    }

    /** Records the stream's first failure and tells the device's listener (Note [cuda stream failure]). */
    void failed(String launch, Throwable cause) {
        boolean first;
        synchronized (this) {
            first = failure == null;
            if (first) {
                failure = cause;
            }
        }
        if (first) {
            device.streamFailed(this, launch, cause);
        }
    }

    @Override
    public void record(Event event) {
        CudaEvent e = device.own(event);
        device.bind();
        device.driver().eventRecord(e.handle(), handle);
    }

    @Override
    public void waitFor(Event event) {
        if (!(event instanceof CudaEvent e)) {
            throw new IllegalArgumentException("a CUDA stream cannot wait for a " + event.getClass().getSimpleName());
        }
        device.bind();
        device.driver().streamWaitEvent(handle, e.handle()); // an event of another device is fine here
    }

    @Override
    public void synchronize() {
        device.bind();
        try {
            device.driver().streamSynchronize(handle);
        } catch (CudaException e) {
            throw e.in(describe());
        }
        synchronized (this) {
            for (int i = 0; i < hostCopies.size(); i++) {
                hostCopies.get(i).fill(); // Note [tokens to the host] in TokensToHostLaunch
            }
        }
        Throwable f = failure;
        if (f != null) {
            throw new IllegalStateException(describe() + " failed: " + f.getMessage(), f);
        }
    }

    /** Waits for the stream's work, frees its cuBLAS handle and destroys it. Idempotent; best effort after a device fault. */
    @Override
    public void close() {
        long cublas;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            cublas = cublasHandle;
        }
        device.destroy(this, cublas);
    }
}
