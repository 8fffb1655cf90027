package dev.ppexec.cuda;

import dev.ppexec.backend.Buffer;
import dev.ppexec.backend.Device;
import dev.ppexec.backend.Event;
import dev.ppexec.backend.Graph;
import dev.ppexec.backend.Kernels;
import dev.ppexec.backend.Matrix;
import dev.ppexec.backend.Stream;
import dev.ppexec.backend.StreamFailure;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * One CUDA GPU, through its primary context: the project's kernels loaded from the fatbin, cuBLAS
 * when it could be opened, and every stream, event and buffer made here. Several PP ranks may share
 * one device, each with its own streams. Closing frees everything the device still owns, so a run
 * that failed half-way (out of memory while building a stage) leaves nothing behind.
 *
 * <p>Note [current context]: the driver keeps the current context per thread, and ranks launch from
 * their own scheduler threads (and the main thread, and transports). Every entry point calls
 * {@link #bind()}, which sets this device's context on the calling thread unless a per-thread cache
 * says it is already current there; the cache holds a serial unique to each opened device, so a
 * device opened later never inherits a stale answer.
 *
 * <p>Note [spare cuBLAS handles]: a stream's cuBLAS handle outlives the stream: closing the stream returns the
 * handle to this device, and the next stream that runs a product takes it and rebinds it (cublasSetStream)
 * instead of creating one. The handle made when the device opens, to see whether cuBLAS starts here, is the
 * first spare. So the runs of a sweep, which share the device (Note [devices across runs] in executor's Sweep),
 * pay cublasCreate once, not inside each run's first timed forwards. Closing the device destroys the spares.
 */
public final class CudaDevice implements Device {

    private static final AtomicLong SERIALS = new AtomicLong(1);
    private static final ThreadLocal<long[]> CURRENT = ThreadLocal.withInitial(() -> new long[1]);

    private final CudaDriver driver;
    private Optional<Cublas> cublas;
    private String matmul;
    private final boolean tf32;
    private final CudaPlatform.DeviceInfo info;
    private final int cuDevice;
    private final long context;
    private final long serial = SERIALS.getAndIncrement();
    private final Arena arena = Arena.ofShared();
    private final long alphaBeta;
    private long module;
    private CudaKernels kernels;
    private final Set<CudaBuffer> buffers = ConcurrentHashMap.newKeySet();
    private final Set<CudaEvent> events = ConcurrentHashMap.newKeySet();
    private final Set<CudaGraph> graphs = ConcurrentHashMap.newKeySet();
    /**
     * cuBLAS handle → the workspace set on it for capture; freed when the handle is destroyed, not when its stream
     * closes (Note [spare cuBLAS handles]: the handle, and so its workspace, serves the next stream).
     */
    private final Map<Long, CudaBuffer> cublasWorkspaces = new ConcurrentHashMap<>();
    private final List<CudaStream> streams = new ArrayList<>();
    /** Note [spare cuBLAS handles]; guarded by this. */
    private final ArrayDeque<Long> spareCublasHandles = new ArrayDeque<>();
    private volatile Consumer<StreamFailure> failureListener = f -> {};
    private int nextStreamId = 1;
    private boolean closed;

    private CudaDevice(CudaDriver driver, Cublas.Lookup cublas, CudaPlatform.DeviceInfo info, boolean tf32) {
        this.driver = driver;
        this.cublas = cublas.cublas();
        this.matmul = cublas.cublas().isPresent() ? cublas.description() : "the project's tiled kernel: " + cublas.description();
        this.info = info;
        this.tf32 = tf32;
        this.cuDevice = driver.device(info.ordinal());
        this.context = driver.primaryContextRetain(cuDevice);
        MemorySegment constants = arena.allocate(ValueLayout.JAVA_FLOAT, 2);
        constants.setAtIndex(ValueLayout.JAVA_FLOAT, 0, 1.0f);
        constants.setAtIndex(ValueLayout.JAVA_FLOAT, 1, 0.0f);
        this.alphaBeta = constants.address();
    }

    /**
     * Retains the device's primary context, loads {@code fatbin} and tries cuBLAS on it; releases
     * everything when anything fails. A cuBLAS that opens but cannot create a handle here (a driver
     * too old for it) gives way to the tiled kernel, and {@link #matmul()} says why.
     */
    static CudaDevice open(CudaDriver driver, Cublas.Lookup cublas, CudaPlatform.DeviceInfo info, byte[] fatbin,
                           boolean tf32) {
        CudaDevice d = new CudaDevice(driver, cublas, info, tf32);
        try {
            d.load(fatbin);
            d.tryCublas();
            return d;
        } catch (RuntimeException | Error e) {
            d.close();
            throw e;
        }
    }

    private void load(byte[] fatbin) {
        bind();
        // The image stays alive with the module: the driver may read it again when it loads kernels lazily.
        MemorySegment image = arena.allocate(fatbin.length + 1L, 16);
        MemorySegment.copy(fatbin, 0, image, ValueLayout.JAVA_BYTE, 0, fatbin.length);
        module = driver.moduleLoadData(image);
        Map<String, Long> functions = new LinkedHashMap<>();
        for (String name : CudaKernels.FUNCTIONS) {
            functions.put(name, driver.moduleFunction(module, name));
        }
        kernels = new CudaKernels(this, functions);
    }

    private void tryCublas() {
        if (cublas.isEmpty()) {
            return;
        }
        try {
            spareCublasHandles.push(cublas.get().createHandle(0, tf32));
        } catch (CudaException e) {
            matmul = "the project's tiled kernel: cuBLAS " + cublas.get().library() + " unusable here ("
                    + e.getMessage() + ")";
            cublas = Optional.empty();
        }
    }

    /** How this device runs matrix products: {@code "cuBLAS libcublas.so.13 in fp32"}, or the tiled kernel and why. */
    public String matmul() {
        return matmul + (cublas.isPresent() ? (tf32 ? " with TF32" : " in fp32") : "");
    }

    /** Makes this device's context current on the calling thread (Note [current context]). */
    void bind() {
        long[] current = CURRENT.get();
        if (current[0] != serial) {
            driver.contextSetCurrent(context);
            current[0] = serial;
        }
    }

    CudaDriver driver() {
        return driver;
    }

    Optional<Cublas> cublas() {
        return cublas;
    }

    long context() {
        return context;
    }

    /** Host floats {1, 0}: cuBLAS's alpha and beta. */
    long alphaBeta() {
        return alphaBeta;
    }

    /** What this device is: ordinal, name, memory, compute capability. */
    public CudaPlatform.DeviceInfo info() {
        return info;
    }

    @Override
    public String name() {
        return "cuda:" + info.ordinal();
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException(name() + " is closed");
        }
    }

    @Override
    public void onFailure(Consumer<StreamFailure> listener) {
        this.failureListener = Objects.requireNonNull(listener, "listener");
    }

    void streamFailed(CudaStream stream, String launch, Throwable cause) {
        failureListener.accept(new StreamFailure(stream, launch, cause));
    }

    @Override
    public Stream createStream(String label) {
        synchronized (this) {
            requireOpen();
            bind();
            CudaStream s = new CudaStream(this, driver.streamCreate(CudaDriver.STREAM_NON_BLOCKING), label,
                    nextStreamId++);
            streams.add(s);
            return s;
        }
    }

    /** A cuBLAS handle bound to {@code stream}: a spare one when there is (Note [spare cuBLAS handles]). */
    long createCublasHandle(long stream) {
        bind();
        Long spare;
        synchronized (this) {
            spare = spareCublasHandles.poll();
        }
        if (spare == null) {
            return cublas.orElseThrow().createHandle(stream, tf32);
        }
        try {
            cublas.orElseThrow().setStream(spare, stream);
            return spare;
        } catch (RuntimeException | Error e) {
            destroyCublasHandle(spare);
            throw e;
        }
    }

    /**
     * Gives {@code cublasHandle} a workspace of its own unless it has one, so that its products can be captured
     * (Note [graph capture] in CudaGraph); the workspace lives as long as the handle.
     */
    void ensureCublasWorkspace(long cublasHandle) {
        if (cublasWorkspaces.containsKey(cublasHandle)) {
            return;
        }
        long bytes = Cublas.workspaceBytes(info.computeMajor());
        CudaBuffer workspace = allocateUninitialised(Buffer.Type.FLOAT32, bytes / Float.BYTES);
        try {
            cublas.orElseThrow().setWorkspace(cublasHandle, workspace.pointer(), bytes);
        } catch (RuntimeException e) {
            workspace.close();
            throw e;
        }
        cublasWorkspaces.put(cublasHandle, workspace);
    }

    /** Destroys {@code cublasHandle}, then frees its workspace, if it had one. */
    private void destroyCublasHandle(long cublasHandle) {
        bestEffort(() -> cublas.orElseThrow().destroyHandle(cublasHandle));
        CudaBuffer workspace = cublasWorkspaces.remove(cublasHandle);
        if (workspace != null) {
            workspace.close();
        }
    }

    void destroy(CudaStream stream, long cublasHandle) {
        synchronized (this) {
            streams.remove(stream);
        }
        bind();
        bestEffort(() -> driver.streamSynchronize(stream.handle()));
        boolean kept = false;
        if (cublasHandle != 0) {
            synchronized (this) {
                kept = !closed && spareCublasHandles.add(cublasHandle);
            }
        }
        if (cublasHandle != 0 && !kept) {
            destroyCublasHandle(cublasHandle);
        }
        bestEffort(() -> driver.streamDestroy(stream.handle()));
    }

    @Override
    public boolean supportsGraphs() {
        return true;
    }

    /** An executable graph made here, owned (destroyed on close) by this device. */
    CudaGraph adopt(String name, long exec) {
        CudaGraph g = new CudaGraph(this, name, exec);
        graphs.add(g);
        return g;
    }

    CudaGraph own(Graph graph) {
        if (!(graph instanceof CudaGraph g) || g.device() != this) {
            throw new IllegalArgumentException("graph '" + graph.name() + "' is not a graph of " + name());
        }
        return g;
    }

    void destroy(CudaGraph graph, long exec) {
        graphs.remove(graph);
        bind();
        bestEffort(() -> driver.graphExecDestroy(exec));
    }

    @Override
    public Event createEvent() {
        requireOpen();
        bind();
        return adopt(driver.eventCreate(CudaDriver.EVENT_DEFAULT));
    }

    /** An event made here with {@code handle}, owned (destroyed on close) by this device. */
    CudaEvent adopt(long handle) {
        CudaEvent e = new CudaEvent(this, handle);
        events.add(e);
        return e;
    }

    CudaEvent own(Event event) {
        if (!(event instanceof CudaEvent e) || e.device() != this) {
            throw new IllegalArgumentException("event is not an event of " + name());
        }
        return e;
    }

    void destroy(CudaEvent event) {
        events.remove(event);
        bind();
        bestEffort(() -> driver.eventDestroy(event.handle()));
    }

    @Override
    public Buffer allocate(Buffer.Type type, long length) {
        CudaBuffer b = allocateUninitialised(type, length);
        driver.memsetD8(b.pointer(), (byte) 0, b.bytes());
        settle();
        return b;
    }

    /**
     * cuMemAlloc_v2 of {@code length} 4-byte elements (at least one). Out of memory becomes a
     * {@link CudaOutOfMemoryException} naming the device, the bytes asked for and the bytes free.
     */
    private CudaBuffer allocateUninitialised(Buffer.Type type, long length) {
        Objects.requireNonNull(type, "type");
        if (length < 0) {
            throw new IllegalArgumentException("buffer length " + length + " is negative");
        }
        requireOpen();
        bind();
        long bytes = Math.multiplyExact(Math.max(1, length), (long) Float.BYTES);
        long[] pointer = new long[1];
        int status = driver.memAlloc(bytes, pointer);
        if (status == CudaDriver.ERROR_OUT_OF_MEMORY) {
            long[] freeTotal = driver.memoryInfo();
            throw new CudaOutOfMemoryException(name() + " (" + info.name() + ")", bytes, freeTotal[0], freeTotal[1]);
        }
        driver.check(status, "cuMemAlloc_v2");
        CudaBuffer b = new CudaBuffer(this, type, length, pointer[0]);
        buffers.add(b);
        return b;
    }

    /**
     * Waits for the synchronous memsets and copies, which run on the legacy default stream: this
     * device's streams are non-blocking and would not wait for them.
     */
    private void settle() {
        driver.streamSynchronize(0);
    }

    long allocateHost(long bytes) {
        bind();
        return driver.memAllocHost(bytes);
    }

    /** Another process's allocation, mapped here at {@code pointer}, owned (unmapped on close) by this device. */
    CudaBuffer imported(Buffer.Type type, long length, long pointer) {
        CudaBuffer b = new CudaBuffer(this, type, length, pointer, true);
        buffers.add(b);
        return b;
    }

    void unmap(CudaBuffer buffer, long pointer) {
        buffers.remove(buffer);
        bind();
        bestEffort(() -> driver.ipcCloseMemHandle(pointer));
    }

    void freeHost(long pointer) {
        bind();
        bestEffort(() -> driver.memFreeHost(pointer));
    }

    void free(CudaBuffer buffer, long pointer, long hostMirror) {
        buffers.remove(buffer);
        bind();
        bestEffort(() -> driver.memFree(pointer));
        if (hostMirror != 0) {
            bestEffort(() -> driver.memFreeHost(hostMirror));
        }
    }

    @Override
    public Buffer upload(float[] values) {
        CudaBuffer b = allocateUninitialised(Buffer.Type.FLOAT32, values.length);
        copyIn(b, MemorySegment.ofArray(values), (long) values.length * Float.BYTES);
        return b;
    }

    @Override
    public Buffer upload(int[] values) {
        CudaBuffer b = allocateUninitialised(Buffer.Type.INT32, values.length);
        copyIn(b, MemorySegment.ofArray(values), (long) values.length * Integer.BYTES);
        return b;
    }

    private void copyIn(CudaBuffer b, MemorySegment host, long bytes) {
        try {
            if (bytes > 0) {
                driver.memcpyHtoD(b.pointer(), host, bytes);
            }
            settle();
        } catch (RuntimeException e) {
            b.close();
            throw e;
        }
    }

    @Override
    public Matrix uploadMatrix(float[] values, int in, int out) {
        if ((long) in * out != values.length) {
            throw new IllegalArgumentException("matrix [" + in + ", " + out + "] needs " + (long) in * out
                    + " values, got " + values.length);
        }
        return new CudaMatrix((CudaBuffer) upload(values), in, out);
    }

    @Override
    public void download(Buffer buffer, float[] into) {
        copyOut(buffer, Buffer.Type.FLOAT32, MemorySegment.ofArray(into), into.length);
    }

    @Override
    public void download(Buffer buffer, int[] into) {
        copyOut(buffer, Buffer.Type.INT32, MemorySegment.ofArray(into), into.length);
    }

    /** Waits for all of this device's streams, then copies the buffer's first {@code count} elements. */
    private void copyOut(Buffer buffer, Buffer.Type type, MemorySegment host, long count) {
        if (!(buffer instanceof CudaBuffer b) || b.device() != this) {
            throw new IllegalArgumentException("buffer is not on " + name());
        }
        if (b.type() != type || count > b.length()) {
            throw new IllegalArgumentException("download of " + count + " " + type + " from a buffer of " + b.length()
                    + " " + b.type());
        }
        bind();
        driver.contextSynchronize();
        driver.memcpyDtoH(host, b.pointer(), count * Float.BYTES);
    }

    @Override
    public Kernels kernels() {
        requireOpen();
        return kernels;
    }

    /** Device memory {free, total} in bytes now. */
    public long[] memoryInfo() {
        bind();
        return driver.memoryInfo();
    }

    /** Buffers, streams, events and graphs this device still owns (0 after close). */
    public int liveResources() {
        synchronized (this) {
            return buffers.size() + events.size() + streams.size() + graphs.size();
        }
    }

    /**
     * Waits for the device, then destroys every graph, stream, cuBLAS handle (and its workspace) and event and frees
     * every buffer still owned, unloads the kernels and releases the primary context. Idempotent;
     * after a device fault it frees what the driver still lets it free.
     */
    @Override
    public void close() {
        List<CudaStream> toClose;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            toClose = List.copyOf(streams);
        }
        bind();
        bestEffort(driver::contextSynchronize);
        List.copyOf(graphs).forEach(CudaGraph::close);
        toClose.forEach(CudaStream::close);
        List<Long> spares;
        synchronized (this) {
            spares = List.copyOf(spareCublasHandles);
            spareCublasHandles.clear();
        }
        spares.forEach(this::destroyCublasHandle);
        List.copyOf(events).forEach(CudaEvent::close);
        List.copyOf(buffers).forEach(CudaBuffer::close);
        if (module != 0) {
            bestEffort(() -> driver.moduleUnload(module));
        }
        bestEffort(() -> driver.primaryContextRelease(cuDevice));
        CURRENT.get()[0] = 0;
        arena.close();
    }

    /** Runs a release step; a device that faulted refuses some, and the rest must still run. */
    private static void bestEffort(Runnable step) {
        try {
            step.run();
        } catch (CudaException e) {
            // Freed as far as the driver allows; the fault itself was reported where it happened.
        }
    }

    @Override
    public String toString() {
        return name() + " (" + info.name() + ")";
    }
}
