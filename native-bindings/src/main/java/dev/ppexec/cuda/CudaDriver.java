package dev.ppexec.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static dev.ppexec.cuda.NativeLibrary.BYTE;
import static dev.ppexec.cuda.NativeLibrary.FLOAT;
import static dev.ppexec.cuda.NativeLibrary.INT;
import static dev.ppexec.cuda.NativeLibrary.LONG;
import static dev.ppexec.cuda.NativeLibrary.POINTER;

/**
 * The CUDA driver API ({@code libcuda.so.1}, which every NVIDIA driver installs), bound once through
 * FFM. Every {@code CUresult} goes through {@link #check}, which names the call and the error
 * ({@code cuGetErrorName}, {@code cuGetErrorString}).
 *
 * <p>Note [driver ABI]: the header maps many names to versioned entry points
 * ({@code #define cuMemAlloc cuMemAlloc_v2}); the unversioned symbols keep the old 32-bit ABI, so
 * the versioned names are bound here. Opaque handles ({@code CUcontext}, {@code CUstream},
 * {@code CUevent}, {@code CUmodule}, {@code CUfunction}) and device pointers are passed as
 * {@code long}, which the 64-bit ABIs pass exactly as pointers. Out-parameters use a confined arena
 * at set-up, or a per-thread scratch segment on paths that run every step.
 */
final class CudaDriver {

    static final String SONAME = "libcuda.so.1";

    static final int SUCCESS = 0;
    static final int ERROR_OUT_OF_MEMORY = 2;
    static final int ERROR_NO_DEVICE = 100;
    static final int ERROR_NOT_READY = 600;
    static final int ERROR_STREAM_CAPTURE_INVALIDATED = 901;
    /** CU_STREAM_CAPTURE_MODE_GLOBAL: a potentially unsafe call from any thread during the capture fails and invalidates it. */
    static final int CAPTURE_MODE_GLOBAL = 0;
    /** CUstreamCaptureStatus: not capturing, capturing, capturing but invalidated. */
    static final int CAPTURE_STATUS_NONE = 0;
    static final int CAPTURE_STATUS_ACTIVE = 1;
    static final int CAPTURE_STATUS_INVALIDATED = 2;
    static final int ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
    static final int ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
    /** Peak memory clock in kHz. */
    static final int ATTRIBUTE_MEMORY_CLOCK_RATE = 36;
    /** Global memory bus width in bits. */
    static final int ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH = 37;
    static final int STREAM_NON_BLOCKING = 1;
    static final int EVENT_DEFAULT = 0;
    /** CU_EVENT_DISABLE_TIMING | CU_EVENT_INTERPROCESS: an event another process can open and wait for. */
    static final int EVENT_INTERPROCESS = 0x2 | 0x4;
    static final int IPC_MEM_LAZY_ENABLE_PEER_ACCESS = 0x1;
    /** CU_IPC_HANDLE_SIZE: a CUipcMemHandle or CUipcEventHandle, passed by value. */
    static final int IPC_HANDLE_BYTES = 64;
    private static final MemoryLayout IPC_HANDLE = MemoryLayout.structLayout(
            MemoryLayout.sequenceLayout(IPC_HANDLE_BYTES, BYTE).withName("reserved"));


    private static final ThreadLocal<MemorySegment> SCRATCH = ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(16, 8));

    /**
     * Note [constant handles]: the JIT turns {@code handle.invokeExact(..)} into a direct native call only when
     * it reaches the handle through constants: a static final field, then final fields of records. An instance
     * field of an ordinary class is not one, so a call through it goes through the handle's generic invoker
     * (bench/LaunchHandleBench measures the difference on the stub driver). The handles a forward uses every
     * step are therefore one record, {@link Hot}; the first driver a process opens publishes its record in the
     * static final {@link First#HOT}, and {@link #hot()} returns that constant for the first driver and the
     * instance's own record for any other (a test's stub beside a real driver). Set-up calls (devices,
     * contexts, allocation, modules, IPC) keep plain fields: they run a few times per run, not per launch.
     */
    private record Hot(MethodHandle cuCtxSetCurrent, MethodHandle cuMemcpyDtoDAsync, MethodHandle cuMemcpyPeerAsync,
                       MethodHandle cuMemcpyDtoHAsync, MethodHandle cuMemcpyHtoDAsync, MethodHandle cuStreamSynchronize,
                       MethodHandle cuStreamWaitEvent, MethodHandle cuEventRecord, MethodHandle cuEventQuery,
                       MethodHandle cuEventSynchronize, MethodHandle cuEventElapsedTime, MethodHandle cuLaunchKernel,
                       MethodHandle cuGraphLaunch) {

        static Hot bind(NativeLibrary lib) {
            return new Hot(
                    lib.function("cuCtxSetCurrent", FunctionDescriptor.of(INT, LONG)),
                    lib.function("cuMemcpyDtoDAsync_v2", FunctionDescriptor.of(INT, LONG, LONG, LONG, LONG)),
                    lib.function("cuMemcpyPeerAsync", FunctionDescriptor.of(INT, LONG, LONG, LONG, LONG, LONG, LONG)),
                    lib.function("cuMemcpyDtoHAsync_v2", FunctionDescriptor.of(INT, LONG, LONG, LONG, LONG)),
                    lib.function("cuMemcpyHtoDAsync_v2", FunctionDescriptor.of(INT, LONG, LONG, LONG, LONG)),
                    lib.function("cuStreamSynchronize", FunctionDescriptor.of(INT, LONG)),
                    lib.function("cuStreamWaitEvent", FunctionDescriptor.of(INT, LONG, LONG, INT)),
                    lib.function("cuEventRecord", FunctionDescriptor.of(INT, LONG, LONG)),
                    lib.function("cuEventQuery", FunctionDescriptor.of(INT, LONG)),
                    lib.function("cuEventSynchronize", FunctionDescriptor.of(INT, LONG)),
                    // CUDA 12.8 added the _v2 entry point the 13.x header maps to; older drivers have only the first.
                    lib.firstFunction(FunctionDescriptor.of(INT, POINTER, LONG, LONG), "cuEventElapsedTime_v2",
                            "cuEventElapsedTime"),
                    lib.function("cuLaunchKernel",
                            FunctionDescriptor.of(INT, LONG, INT, INT, INT, INT, INT, INT, INT, LONG, POINTER, POINTER)),
                    lib.function("cuGraphLaunch", FunctionDescriptor.of(INT, LONG, LONG)));
        }
    }

    /** The first driver this process opened, set once by {@link #open} before any call reads {@link First}. */
    private static CudaDriver first;

    /** Note [constant handles]: initialised on the first per-step call, after {@link #first} is set. */
    private static final class First {
        static final CudaDriver DRIVER = first();
        static final Hot HOT = DRIVER.hot;
    }

    private static synchronized CudaDriver first() {
        return first;
    }

    private final Hot hot;
    private final NativeLibrary library;
    private final MethodHandle cuGetErrorName;
    private final MethodHandle cuGetErrorString;
    private final MethodHandle cuInit;
    private final MethodHandle cuDriverGetVersion;
    private final MethodHandle cuDeviceGetCount;
    private final MethodHandle cuDeviceGet;
    private final MethodHandle cuDeviceGetName;
    private final MethodHandle cuDeviceTotalMem;
    private final MethodHandle cuDeviceGetAttribute;
    private final MethodHandle cuDevicePrimaryCtxRetain;
    private final MethodHandle cuDevicePrimaryCtxRelease;
    private final MethodHandle cuCtxSynchronize;
    private final MethodHandle cuMemGetInfo;
    private final MethodHandle cuMemAlloc;
    private final MethodHandle cuMemFree;
    private final MethodHandle cuMemAllocHost;
    private final MethodHandle cuMemFreeHost;
    private final MethodHandle cuMemsetD8;
    private final MethodHandle cuMemcpyHtoD;
    private final MethodHandle cuMemcpyDtoH;
    private final MethodHandle cuStreamCreate;
    private final MethodHandle cuStreamDestroy;
    private final MethodHandle cuEventCreate;
    private final MethodHandle cuEventDestroy;
    private final MethodHandle cuModuleLoadData;
    private final MethodHandle cuModuleGetFunction;
    private final MethodHandle cuModuleUnload;
    private final MethodHandle cuStreamBeginCapture;
    private final MethodHandle cuStreamEndCapture;
    private final MethodHandle cuStreamIsCapturing;
    private final MethodHandle cuGraphInstantiateWithFlags;
    private final MethodHandle cuGraphExecDestroy;
    private final MethodHandle cuGraphDestroy;
    private final MethodHandle cuIpcGetMemHandle;
    private final MethodHandle cuIpcOpenMemHandle;
    private final MethodHandle cuIpcCloseMemHandle;
    private final MethodHandle cuIpcGetEventHandle;
    private final MethodHandle cuIpcOpenEventHandle;

    private CudaDriver(NativeLibrary lib) {
        this.library = lib;
        this.hot = Hot.bind(lib);
        // Heap arrays go straight to the synchronous copies (no staging copy); they block the GC only
        // for the copy itself, and only while stages are built or checked.
        Linker.Option heap = Linker.Option.critical(true);
        cuGetErrorName = lib.function("cuGetErrorName", FunctionDescriptor.of(INT, INT, POINTER));
        cuGetErrorString = lib.function("cuGetErrorString", FunctionDescriptor.of(INT, INT, POINTER));
        cuInit = lib.function("cuInit", FunctionDescriptor.of(INT, INT));
        cuDriverGetVersion = lib.function("cuDriverGetVersion", FunctionDescriptor.of(INT, POINTER));
        cuDeviceGetCount = lib.function("cuDeviceGetCount", FunctionDescriptor.of(INT, POINTER));
        cuDeviceGet = lib.function("cuDeviceGet", FunctionDescriptor.of(INT, POINTER, INT));
        cuDeviceGetName = lib.function("cuDeviceGetName", FunctionDescriptor.of(INT, POINTER, INT, INT));
        cuDeviceTotalMem = lib.function("cuDeviceTotalMem_v2", FunctionDescriptor.of(INT, POINTER, INT));
        cuDeviceGetAttribute = lib.function("cuDeviceGetAttribute", FunctionDescriptor.of(INT, POINTER, INT, INT));
        cuDevicePrimaryCtxRetain = lib.function("cuDevicePrimaryCtxRetain", FunctionDescriptor.of(INT, POINTER, INT));
        cuDevicePrimaryCtxRelease = lib.function("cuDevicePrimaryCtxRelease_v2", FunctionDescriptor.of(INT, INT));
        cuCtxSynchronize = lib.function("cuCtxSynchronize", FunctionDescriptor.of(INT));
        cuMemGetInfo = lib.function("cuMemGetInfo_v2", FunctionDescriptor.of(INT, POINTER, POINTER));
        cuMemAlloc = lib.function("cuMemAlloc_v2", FunctionDescriptor.of(INT, POINTER, LONG));
        cuMemFree = lib.function("cuMemFree_v2", FunctionDescriptor.of(INT, LONG));
        cuMemAllocHost = lib.function("cuMemAllocHost_v2", FunctionDescriptor.of(INT, POINTER, LONG));
        cuMemFreeHost = lib.function("cuMemFreeHost", FunctionDescriptor.of(INT, LONG));
        cuMemsetD8 = lib.function("cuMemsetD8_v2", FunctionDescriptor.of(INT, LONG, BYTE, LONG));
        cuMemcpyHtoD = lib.function("cuMemcpyHtoD_v2", FunctionDescriptor.of(INT, LONG, POINTER, LONG), heap);
        cuMemcpyDtoH = lib.function("cuMemcpyDtoH_v2", FunctionDescriptor.of(INT, POINTER, LONG, LONG), heap);
        cuStreamCreate = lib.function("cuStreamCreate", FunctionDescriptor.of(INT, POINTER, INT));
        cuStreamDestroy = lib.function("cuStreamDestroy_v2", FunctionDescriptor.of(INT, LONG));
        cuEventCreate = lib.function("cuEventCreate", FunctionDescriptor.of(INT, POINTER, INT));
        cuEventDestroy = lib.function("cuEventDestroy_v2", FunctionDescriptor.of(INT, LONG));
        cuModuleLoadData = lib.function("cuModuleLoadData", FunctionDescriptor.of(INT, POINTER, POINTER));
        cuModuleGetFunction = lib.function("cuModuleGetFunction", FunctionDescriptor.of(INT, POINTER, LONG, POINTER));
        cuModuleUnload = lib.function("cuModuleUnload", FunctionDescriptor.of(INT, LONG));
        // The header maps cuStreamBeginCapture to _v2 (Note [driver ABI]), which takes the capture mode.
        cuStreamBeginCapture = lib.function("cuStreamBeginCapture_v2", FunctionDescriptor.of(INT, LONG, INT));
        cuStreamEndCapture = lib.function("cuStreamEndCapture", FunctionDescriptor.of(INT, LONG, POINTER));
        cuStreamIsCapturing = lib.function("cuStreamIsCapturing", FunctionDescriptor.of(INT, LONG, POINTER));
        cuGraphInstantiateWithFlags = lib.function("cuGraphInstantiateWithFlags",
                FunctionDescriptor.of(INT, POINTER, LONG, LONG));
        cuGraphExecDestroy = lib.function("cuGraphExecDestroy", FunctionDescriptor.of(INT, LONG));
        cuGraphDestroy = lib.function("cuGraphDestroy", FunctionDescriptor.of(INT, LONG));
        cuIpcGetMemHandle = lib.function("cuIpcGetMemHandle", FunctionDescriptor.of(INT, POINTER, LONG));
        // The header maps cuIpcOpenMemHandle to _v2 (Note [driver ABI]); both handles are 64-byte structs by value.
        cuIpcOpenMemHandle = lib.function("cuIpcOpenMemHandle_v2", FunctionDescriptor.of(INT, POINTER, IPC_HANDLE, INT));
        cuIpcCloseMemHandle = lib.function("cuIpcCloseMemHandle", FunctionDescriptor.of(INT, LONG));
        cuIpcGetEventHandle = lib.function("cuIpcGetEventHandle", FunctionDescriptor.of(INT, POINTER, LONG));
        cuIpcOpenEventHandle = lib.function("cuIpcOpenEventHandle", FunctionDescriptor.of(INT, POINTER, IPC_HANDLE));
    }

    /**
     * Opens the driver library and binds every entry point this backend uses.
     *
     * @throws IllegalArgumentException when the library cannot be opened (no driver installed)
     * @throws IllegalStateException    when it lacks an entry point (a driver too old)
     */
    static CudaDriver open(String library) {
        CudaDriver driver = new CudaDriver(NativeLibrary.open(library));
        synchronized (CudaDriver.class) {
            if (first == null) {
                first = driver;
            }
        }
        return driver;
    }

    /** This driver's per-step handles, as constants when it is the process's first (Note [constant handles]). */
    private Hot hot() {
        return this == First.DRIVER ? First.HOT : hot;
    }

    String library() {
        return library.name();
    }

    // ---- errors ----

    /** Runs one driver entry point and checks its CUresult, naming {@code name}. */
    private void call(String name, NativeLibrary.Downcall call) {
        check(NativeLibrary.status(call), name);
    }

    /** Throws a {@link CudaException} naming {@code call} and the error unless {@code status} is success. */
    void check(int status, String call) {
        if (status != SUCCESS) {
            throw new CudaException(call, status, call + " failed: " + describe(status));
        }
    }

    /** {@code "CUDA_ERROR_OUT_OF_MEMORY (out of memory)"}, or the number when the driver has no name for it. */
    String describe(int status) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(POINTER);
            String name = (int) cuGetErrorName.invokeExact(status, out) == SUCCESS
                    ? NativeLibrary.cString(out.get(POINTER, 0), null) : null;
            String text = (int) cuGetErrorString.invokeExact(status, out) == SUCCESS
                    ? NativeLibrary.cString(out.get(POINTER, 0), null) : null;
            if (name == null) {
                return "CUresult " + status;
            }
            return text == null ? name : name + " (" + text + ")";
        } catch (Throwable t) {
            return "CUresult " + status;
        }
    }

    // ---- initialisation and devices ----

    /** cuInit(0); returns the raw status, since "no device" is an answer, not a failure, for the probe. */
    int init() {
        return NativeLibrary.status(() -> (int) cuInit.invokeExact(0));
    }

    int driverVersion() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(INT);
            call("cuDriverGetVersion", () -> (int) cuDriverGetVersion.invokeExact(out));
            return out.get(INT, 0);
        }
    }

    int deviceCount() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(INT);
            call("cuDeviceGetCount", () -> (int) cuDeviceGetCount.invokeExact(out));
            return out.get(INT, 0);
        }
    }

    /** The CUdevice of {@code ordinal}. */
    int device(int ordinal) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(INT);
            call("cuDeviceGet", () -> (int) cuDeviceGet.invokeExact(out, ordinal));
            return out.get(INT, 0);
        }
    }

    String deviceName(int device) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(256);
            call("cuDeviceGetName", () -> (int) cuDeviceGetName.invokeExact(out, 256, device));
            return out.getString(0);
        }
    }

    long deviceTotalMemory(int device) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(LONG);
            call("cuDeviceTotalMem_v2", () -> (int) cuDeviceTotalMem.invokeExact(out, device));
            return out.get(LONG, 0);
        }
    }

    int deviceAttribute(int device, int attribute) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(INT);
            call("cuDeviceGetAttribute", () -> (int) cuDeviceGetAttribute.invokeExact(out, attribute, device));
            return out.get(INT, 0);
        }
    }

    /** An attribute a driver may not report (a deprecated one): 0 when it answers with an error. */
    int deviceAttributeOrZero(int device, int attribute) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(INT);
            int status = NativeLibrary.status(() -> (int) cuDeviceGetAttribute.invokeExact(out, attribute, device));
            return status == SUCCESS ? out.get(INT, 0) : 0;
        }
    }

    // ---- contexts ----

    long primaryContextRetain(int device) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(LONG);
            call("cuDevicePrimaryCtxRetain", () -> (int) cuDevicePrimaryCtxRetain.invokeExact(out, device));
            return out.get(LONG, 0);
        }
    }

    void primaryContextRelease(int device) {
        call("cuDevicePrimaryCtxRelease_v2", () -> (int) cuDevicePrimaryCtxRelease.invokeExact(device));
    }

    void contextSetCurrent(long context) {
        call("cuCtxSetCurrent", () -> (int) hot().cuCtxSetCurrent().invokeExact(context));
    }

    void contextSynchronize() {
        call("cuCtxSynchronize", () -> (int) cuCtxSynchronize.invokeExact());
    }

    // ---- memory ----

    /** {free, total} bytes of the current context's device. */
    long[] memoryInfo() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment free = arena.allocate(LONG);
            MemorySegment total = arena.allocate(LONG);
            call("cuMemGetInfo_v2", () -> (int) cuMemGetInfo.invokeExact(free, total));
            return new long[] {free.get(LONG, 0), total.get(LONG, 0)};
        }
    }

    /** cuMemAlloc_v2: returns the raw status and writes the pointer to {@code out[0]}. */
    int memAlloc(long bytes, long[] out) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = arena.allocate(LONG);
            int status = NativeLibrary.status(() -> (int) cuMemAlloc.invokeExact(p, bytes));
            out[0] = p.get(LONG, 0);
            return status;
        }
    }

    void memFree(long pointer) {
        call("cuMemFree_v2", () -> (int) cuMemFree.invokeExact(pointer));
    }

    /** Page-locked host memory, which asynchronous copies to the host need. */
    long memAllocHost(long bytes) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = arena.allocate(LONG);
            call("cuMemAllocHost_v2", () -> (int) cuMemAllocHost.invokeExact(p, bytes));
            return p.get(LONG, 0);
        }
    }

    void memFreeHost(long pointer) {
        call("cuMemFreeHost", () -> (int) cuMemFreeHost.invokeExact(pointer));
    }

    void memsetD8(long pointer, byte value, long count) {
        call("cuMemsetD8_v2", () -> (int) cuMemsetD8.invokeExact(pointer, value, count));
    }

    /** Synchronous copy from host memory (a heap array's segment is fine) to the device. */
    void memcpyHtoD(long device, MemorySegment host, long bytes) {
        call("cuMemcpyHtoD_v2", () -> (int) cuMemcpyHtoD.invokeExact(device, host, bytes));
    }

    /** Synchronous copy from the device to host memory (a heap array's segment is fine). */
    void memcpyDtoH(MemorySegment host, long device, long bytes) {
        call("cuMemcpyDtoH_v2", () -> (int) cuMemcpyDtoH.invokeExact(host, device, bytes));
    }

    void memcpyDtoDAsync(long dst, long src, long bytes, long stream) {
        call("cuMemcpyDtoDAsync_v2", () -> (int) hot().cuMemcpyDtoDAsync().invokeExact(dst, src, bytes, stream));
    }

    void memcpyPeerAsync(long dst, long dstContext, long src, long srcContext, long bytes, long stream) {
        call("cuMemcpyPeerAsync",
                () -> (int) hot().cuMemcpyPeerAsync().invokeExact(dst, dstContext, src, srcContext, bytes, stream));
    }

    /** Asynchronous copy to page-locked host memory at {@code hostAddress}. */
    void memcpyDtoHAsync(long hostAddress, long src, long bytes, long stream) {
        call("cuMemcpyDtoHAsync_v2", () -> (int) hot().cuMemcpyDtoHAsync().invokeExact(hostAddress, src, bytes, stream));
    }

    /** Asynchronous copy from page-locked host memory at {@code hostAddress} to the device. */
    void memcpyHtoDAsync(long dst, long hostAddress, long bytes, long stream) {
        call("cuMemcpyHtoDAsync_v2", () -> (int) hot().cuMemcpyHtoDAsync().invokeExact(dst, hostAddress, bytes, stream));
    }

    // ---- streams and events ----

    long streamCreate(int flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(LONG);
            call("cuStreamCreate", () -> (int) cuStreamCreate.invokeExact(out, flags));
            return out.get(LONG, 0);
        }
    }

    void streamDestroy(long stream) {
        call("cuStreamDestroy_v2", () -> (int) cuStreamDestroy.invokeExact(stream));
    }

    void streamSynchronize(long stream) {
        call("cuStreamSynchronize", () -> (int) hot().cuStreamSynchronize().invokeExact(stream));
    }

    void streamWaitEvent(long stream, long event) {
        call("cuStreamWaitEvent", () -> (int) hot().cuStreamWaitEvent().invokeExact(stream, event, 0));
    }

    /** An event with {@code flags}: {@link #EVENT_DEFAULT} (timing, for device spans) or {@link #EVENT_INTERPROCESS}. */
    long eventCreate(int flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(LONG);
            call("cuEventCreate", () -> (int) cuEventCreate.invokeExact(out, flags));
            return out.get(LONG, 0);
        }
    }

    void eventRecord(long event, long stream) {
        call("cuEventRecord", () -> (int) hot().cuEventRecord().invokeExact(event, stream));
    }

    /** True when the event's latest record completed (or it was never recorded); false while pending. */
    boolean eventDone(long event) {
        int status = NativeLibrary.status(() -> (int) hot().cuEventQuery().invokeExact(event));
        if (status == ERROR_NOT_READY) {
            return false;
        }
        check(status, "cuEventQuery");
        return true;
    }

    void eventSynchronize(long event) {
        call("cuEventSynchronize", () -> (int) hot().cuEventSynchronize().invokeExact(event));
    }

    /** Milliseconds from {@code start} to {@code end} (resolution about 0.5 µs). */
    float eventElapsedMillis(long start, long end) {
        MemorySegment out = SCRATCH.get();
        call("cuEventElapsedTime", () -> (int) hot().cuEventElapsedTime().invokeExact(out, start, end));
        return out.get(FLOAT, 0);
    }

    void eventDestroy(long event) {
        call("cuEventDestroy_v2", () -> (int) cuEventDestroy.invokeExact(event));
    }

    // ---- modules and launches ----

    /** Loads a fatbin, cubin or PTX image; {@code image} must stay alive while the module is loaded. */
    long moduleLoadData(MemorySegment image) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(LONG);
            call("cuModuleLoadData", () -> (int) cuModuleLoadData.invokeExact(out, image));
            return out.get(LONG, 0);
        }
    }

    long moduleFunction(long module, String name) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(LONG);
            MemorySegment cName = arena.allocateFrom(name);
            call("cuModuleGetFunction(" + name + ")", () -> (int) cuModuleGetFunction.invokeExact(out, module, cName));
            return out.get(LONG, 0);
        }
    }

    void moduleUnload(long module) {
        call("cuModuleUnload", () -> (int) cuModuleUnload.invokeExact(module));
    }

    /** cuLaunchKernel with a prepared parameter block ({@code void*[]}, one pointer per kernel argument). */
    void launchKernel(long function, int gridX, int gridY, int blockX, int blockY, int sharedBytes, long stream,
                      MemorySegment parameters) {
        call("cuLaunchKernel", () -> (int) hot().cuLaunchKernel().invokeExact(function, gridX, gridY, 1, blockX, blockY, 1,
                sharedBytes, stream, parameters, MemorySegment.NULL));
    }

    // ---- stream capture and graphs ----

    /** Starts capturing {@code stream}: its work becomes nodes of a graph instead of running. */
    void streamBeginCapture(long stream, int mode) {
        call("cuStreamBeginCapture_v2", () -> (int) cuStreamBeginCapture.invokeExact(stream, mode));
    }

    /**
     * cuStreamEndCapture: returns the raw status and writes the graph to {@code graph[0]} (0 when the capture was
     * invalidated), since the caller reports why the capture failed before the status.
     */
    int streamEndCapture(long stream, long[] graph) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(LONG);
            int status = NativeLibrary.status(() -> (int) cuStreamEndCapture.invokeExact(stream, out));
            graph[0] = status == SUCCESS ? out.get(LONG, 0) : 0;
            return status;
        }
    }

    /** {@link #CAPTURE_STATUS_NONE}, {@link #CAPTURE_STATUS_ACTIVE} or {@link #CAPTURE_STATUS_INVALIDATED}. */
    int streamCaptureStatus(long stream) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(INT);
            call("cuStreamIsCapturing", () -> (int) cuStreamIsCapturing.invokeExact(stream, out));
            return out.get(INT, 0);
        }
    }

    /** An executable graph of {@code graph} (default flags); the graph itself may be destroyed afterwards. */
    long graphInstantiate(long graph) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(LONG);
            call("cuGraphInstantiateWithFlags", () -> (int) cuGraphInstantiateWithFlags.invokeExact(out, graph, 0L));
            return out.get(LONG, 0);
        }
    }

    void graphLaunch(long exec, long stream) {
        call("cuGraphLaunch", () -> (int) hot().cuGraphLaunch().invokeExact(exec, stream));
    }

    void graphExecDestroy(long exec) {
        call("cuGraphExecDestroy", () -> (int) cuGraphExecDestroy.invokeExact(exec));
    }

    void graphDestroy(long graph) {
        call("cuGraphDestroy", () -> (int) cuGraphDestroy.invokeExact(graph));
    }

    // ---- interprocess (CUDA IPC) ----

    /** The handle that lets another process map the allocation at {@code pointer} (a cuMemAlloc base address). */
    byte[] ipcGetMemHandle(long pointer) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(IPC_HANDLE);
            call("cuIpcGetMemHandle", () -> (int) cuIpcGetMemHandle.invokeExact(out, pointer));
            return out.toArray(BYTE);
        }
    }

    /** Maps another process's allocation into the current context; release with {@link #ipcCloseMemHandle}. */
    long ipcOpenMemHandle(byte[] handle) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(LONG);
            MemorySegment h = ipcHandle(arena, handle);
            call("cuIpcOpenMemHandle_v2", () -> (int) cuIpcOpenMemHandle.invokeExact(out, h,
                    IPC_MEM_LAZY_ENABLE_PEER_ACCESS));
            return out.get(LONG, 0);
        }
    }

    void ipcCloseMemHandle(long pointer) {
        call("cuIpcCloseMemHandle", () -> (int) cuIpcCloseMemHandle.invokeExact(pointer));
    }

    /** The handle of an event made with {@link #EVENT_INTERPROCESS}. */
    byte[] ipcGetEventHandle(long event) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(IPC_HANDLE);
            call("cuIpcGetEventHandle", () -> (int) cuIpcGetEventHandle.invokeExact(out, event));
            return out.toArray(BYTE);
        }
    }

    /** Another process's event, to wait for here; destroyed with {@link #eventDestroy}. */
    long ipcOpenEventHandle(byte[] handle) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(LONG);
            MemorySegment h = ipcHandle(arena, handle);
            call("cuIpcOpenEventHandle", () -> (int) cuIpcOpenEventHandle.invokeExact(out, h));
            return out.get(LONG, 0);
        }
    }

    private static MemorySegment ipcHandle(Arena arena, byte[] handle) {
        if (handle.length != IPC_HANDLE_BYTES) {
            throw new IllegalArgumentException("an IPC handle of " + handle.length + " bytes; allowed: "
                    + IPC_HANDLE_BYTES + " (CU_IPC_HANDLE_SIZE)");
        }
        MemorySegment h = arena.allocate(IPC_HANDLE);
        MemorySegment.copy(handle, 0, h, BYTE, 0, IPC_HANDLE_BYTES);
        return h;
    }
}
