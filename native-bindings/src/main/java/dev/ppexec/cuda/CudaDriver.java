package dev.ppexec.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
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
    static final int ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
    static final int ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
    static final int STREAM_NON_BLOCKING = 1;
    static final int EVENT_DEFAULT = 0;


    private static final ThreadLocal<MemorySegment> SCRATCH = ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(16, 8));

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
    private final MethodHandle cuCtxSetCurrent;
    private final MethodHandle cuCtxSynchronize;
    private final MethodHandle cuMemGetInfo;
    private final MethodHandle cuMemAlloc;
    private final MethodHandle cuMemFree;
    private final MethodHandle cuMemAllocHost;
    private final MethodHandle cuMemFreeHost;
    private final MethodHandle cuMemsetD8;
    private final MethodHandle cuMemcpyHtoD;
    private final MethodHandle cuMemcpyDtoH;
    private final MethodHandle cuMemcpyDtoDAsync;
    private final MethodHandle cuMemcpyPeerAsync;
    private final MethodHandle cuMemcpyDtoHAsync;
    private final MethodHandle cuStreamCreate;
    private final MethodHandle cuStreamDestroy;
    private final MethodHandle cuStreamSynchronize;
    private final MethodHandle cuStreamWaitEvent;
    private final MethodHandle cuEventCreate;
    private final MethodHandle cuEventRecord;
    private final MethodHandle cuEventQuery;
    private final MethodHandle cuEventSynchronize;
    private final MethodHandle cuEventElapsedTime;
    private final MethodHandle cuEventDestroy;
    private final MethodHandle cuModuleLoadData;
    private final MethodHandle cuModuleGetFunction;
    private final MethodHandle cuModuleUnload;
    private final MethodHandle cuLaunchKernel;

    private CudaDriver(NativeLibrary lib) {
        this.library = lib;
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
        cuCtxSetCurrent = lib.function("cuCtxSetCurrent", FunctionDescriptor.of(INT, LONG));
        cuCtxSynchronize = lib.function("cuCtxSynchronize", FunctionDescriptor.of(INT));
        cuMemGetInfo = lib.function("cuMemGetInfo_v2", FunctionDescriptor.of(INT, POINTER, POINTER));
        cuMemAlloc = lib.function("cuMemAlloc_v2", FunctionDescriptor.of(INT, POINTER, LONG));
        cuMemFree = lib.function("cuMemFree_v2", FunctionDescriptor.of(INT, LONG));
        cuMemAllocHost = lib.function("cuMemAllocHost_v2", FunctionDescriptor.of(INT, POINTER, LONG));
        cuMemFreeHost = lib.function("cuMemFreeHost", FunctionDescriptor.of(INT, LONG));
        cuMemsetD8 = lib.function("cuMemsetD8_v2", FunctionDescriptor.of(INT, LONG, BYTE, LONG));
        cuMemcpyHtoD = lib.function("cuMemcpyHtoD_v2", FunctionDescriptor.of(INT, LONG, POINTER, LONG), heap);
        cuMemcpyDtoH = lib.function("cuMemcpyDtoH_v2", FunctionDescriptor.of(INT, POINTER, LONG, LONG), heap);
        cuMemcpyDtoDAsync = lib.function("cuMemcpyDtoDAsync_v2", FunctionDescriptor.of(INT, LONG, LONG, LONG, LONG));
        cuMemcpyPeerAsync = lib.function("cuMemcpyPeerAsync",
                FunctionDescriptor.of(INT, LONG, LONG, LONG, LONG, LONG, LONG));
        cuMemcpyDtoHAsync = lib.function("cuMemcpyDtoHAsync_v2", FunctionDescriptor.of(INT, LONG, LONG, LONG, LONG));
        cuStreamCreate = lib.function("cuStreamCreate", FunctionDescriptor.of(INT, POINTER, INT));
        cuStreamDestroy = lib.function("cuStreamDestroy_v2", FunctionDescriptor.of(INT, LONG));
        cuStreamSynchronize = lib.function("cuStreamSynchronize", FunctionDescriptor.of(INT, LONG));
        cuStreamWaitEvent = lib.function("cuStreamWaitEvent", FunctionDescriptor.of(INT, LONG, LONG, INT));
        cuEventCreate = lib.function("cuEventCreate", FunctionDescriptor.of(INT, POINTER, INT));
        cuEventRecord = lib.function("cuEventRecord", FunctionDescriptor.of(INT, LONG, LONG));
        cuEventQuery = lib.function("cuEventQuery", FunctionDescriptor.of(INT, LONG));
        cuEventSynchronize = lib.function("cuEventSynchronize", FunctionDescriptor.of(INT, LONG));
        // CUDA 12.8 added the _v2 entry point the 13.x header maps to; older drivers have only the first.
        cuEventElapsedTime = lib.firstFunction(FunctionDescriptor.of(INT, POINTER, LONG, LONG),
                "cuEventElapsedTime_v2", "cuEventElapsedTime");
        cuEventDestroy = lib.function("cuEventDestroy_v2", FunctionDescriptor.of(INT, LONG));
        cuModuleLoadData = lib.function("cuModuleLoadData", FunctionDescriptor.of(INT, POINTER, POINTER));
        cuModuleGetFunction = lib.function("cuModuleGetFunction", FunctionDescriptor.of(INT, POINTER, LONG, POINTER));
        cuModuleUnload = lib.function("cuModuleUnload", FunctionDescriptor.of(INT, LONG));
        cuLaunchKernel = lib.function("cuLaunchKernel",
                FunctionDescriptor.of(INT, LONG, INT, INT, INT, INT, INT, INT, INT, LONG, POINTER, POINTER));
    }

    /**
     * Opens the driver library and binds every entry point this backend uses.
     *
     * @throws IllegalArgumentException when the library cannot be opened (no driver installed)
     * @throws IllegalStateException    when it lacks an entry point (a driver too old)
     */
    static CudaDriver open(String library) {
        return new CudaDriver(NativeLibrary.open(library));
    }

    String library() {
        return library.name();
    }

    // ---- errors ----

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
        try {
            return (int) cuInit.invokeExact(0);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    int driverVersion() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(INT);
            check((int) cuDriverGetVersion.invokeExact(out), "cuDriverGetVersion");
            return out.get(INT, 0);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    int deviceCount() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(INT);
            check((int) cuDeviceGetCount.invokeExact(out), "cuDeviceGetCount");
            return out.get(INT, 0);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** The CUdevice of {@code ordinal}. */
    int device(int ordinal) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(INT);
            check((int) cuDeviceGet.invokeExact(out, ordinal), "cuDeviceGet");
            return out.get(INT, 0);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    String deviceName(int device) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(256);
            check((int) cuDeviceGetName.invokeExact(out, 256, device), "cuDeviceGetName");
            return out.getString(0);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    long deviceTotalMemory(int device) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(LONG);
            check((int) cuDeviceTotalMem.invokeExact(out, device), "cuDeviceTotalMem_v2");
            return out.get(LONG, 0);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    int deviceAttribute(int device, int attribute) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(INT);
            check((int) cuDeviceGetAttribute.invokeExact(out, attribute, device), "cuDeviceGetAttribute");
            return out.get(INT, 0);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    // ---- contexts ----

    long primaryContextRetain(int device) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(LONG);
            check((int) cuDevicePrimaryCtxRetain.invokeExact(out, device), "cuDevicePrimaryCtxRetain");
            return out.get(LONG, 0);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    void primaryContextRelease(int device) {
        try {
            check((int) cuDevicePrimaryCtxRelease.invokeExact(device), "cuDevicePrimaryCtxRelease_v2");
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    void contextSetCurrent(long context) {
        try {
            check((int) cuCtxSetCurrent.invokeExact(context), "cuCtxSetCurrent");
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    void contextSynchronize() {
        try {
            check((int) cuCtxSynchronize.invokeExact(), "cuCtxSynchronize");
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    // ---- memory ----

    /** {free, total} bytes of the current context's device. */
    long[] memoryInfo() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment free = arena.allocate(LONG);
            MemorySegment total = arena.allocate(LONG);
            check((int) cuMemGetInfo.invokeExact(free, total), "cuMemGetInfo_v2");
            return new long[] {free.get(LONG, 0), total.get(LONG, 0)};
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** cuMemAlloc_v2: returns the raw status and writes the pointer to {@code out[0]}. */
    int memAlloc(long bytes, long[] out) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = arena.allocate(LONG);
            int status = (int) cuMemAlloc.invokeExact(p, bytes);
            out[0] = p.get(LONG, 0);
            return status;
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    void memFree(long pointer) {
        try {
            check((int) cuMemFree.invokeExact(pointer), "cuMemFree_v2");
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** Page-locked host memory, which asynchronous copies to the host need. */
    long memAllocHost(long bytes) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = arena.allocate(LONG);
            check((int) cuMemAllocHost.invokeExact(p, bytes), "cuMemAllocHost_v2");
            return p.get(LONG, 0);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    void memFreeHost(long pointer) {
        try {
            check((int) cuMemFreeHost.invokeExact(pointer), "cuMemFreeHost");
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    void memsetD8(long pointer, byte value, long count) {
        try {
            check((int) cuMemsetD8.invokeExact(pointer, value, count), "cuMemsetD8_v2");
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** Synchronous copy from host memory (a heap array's segment is fine) to the device. */
    void memcpyHtoD(long device, MemorySegment host, long bytes) {
        try {
            check((int) cuMemcpyHtoD.invokeExact(device, host, bytes), "cuMemcpyHtoD_v2");
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** Synchronous copy from the device to host memory (a heap array's segment is fine). */
    void memcpyDtoH(MemorySegment host, long device, long bytes) {
        try {
            check((int) cuMemcpyDtoH.invokeExact(host, device, bytes), "cuMemcpyDtoH_v2");
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    void memcpyDtoDAsync(long dst, long src, long bytes, long stream) {
        try {
            check((int) cuMemcpyDtoDAsync.invokeExact(dst, src, bytes, stream), "cuMemcpyDtoDAsync_v2");
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    void memcpyPeerAsync(long dst, long dstContext, long src, long srcContext, long bytes, long stream) {
        try {
            check((int) cuMemcpyPeerAsync.invokeExact(dst, dstContext, src, srcContext, bytes, stream),
                    "cuMemcpyPeerAsync");
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** Asynchronous copy to page-locked host memory at {@code hostAddress}. */
    void memcpyDtoHAsync(long hostAddress, long src, long bytes, long stream) {
        try {
            check((int) cuMemcpyDtoHAsync.invokeExact(hostAddress, src, bytes, stream), "cuMemcpyDtoHAsync_v2");
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    // ---- streams and events ----

    long streamCreate(int flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(LONG);
            check((int) cuStreamCreate.invokeExact(out, flags), "cuStreamCreate");
            return out.get(LONG, 0);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    void streamDestroy(long stream) {
        try {
            check((int) cuStreamDestroy.invokeExact(stream), "cuStreamDestroy_v2");
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    void streamSynchronize(long stream) {
        try {
            check((int) cuStreamSynchronize.invokeExact(stream), "cuStreamSynchronize");
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    void streamWaitEvent(long stream, long event) {
        try {
            check((int) cuStreamWaitEvent.invokeExact(stream, event, 0), "cuStreamWaitEvent");
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** An event with timing (the default flags), for device spans. */
    long eventCreate() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(LONG);
            check((int) cuEventCreate.invokeExact(out, EVENT_DEFAULT), "cuEventCreate");
            return out.get(LONG, 0);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    void eventRecord(long event, long stream) {
        try {
            check((int) cuEventRecord.invokeExact(event, stream), "cuEventRecord");
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** True when the event's latest record completed (or it was never recorded); false while pending. */
    boolean eventDone(long event) {
        try {
            int status = (int) cuEventQuery.invokeExact(event);
            if (status == ERROR_NOT_READY) {
                return false;
            }
            check(status, "cuEventQuery");
            return true;
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    void eventSynchronize(long event) {
        try {
            check((int) cuEventSynchronize.invokeExact(event), "cuEventSynchronize");
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** Milliseconds from {@code start} to {@code end} (resolution about 0.5 µs). */
    float eventElapsedMillis(long start, long end) {
        MemorySegment out = SCRATCH.get();
        try {
            check((int) cuEventElapsedTime.invokeExact(out, start, end), "cuEventElapsedTime");
            return out.get(FLOAT, 0);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    void eventDestroy(long event) {
        try {
            check((int) cuEventDestroy.invokeExact(event), "cuEventDestroy_v2");
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    // ---- modules and launches ----

    /** Loads a fatbin, cubin or PTX image; {@code image} must stay alive while the module is loaded. */
    long moduleLoadData(MemorySegment image) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(LONG);
            check((int) cuModuleLoadData.invokeExact(out, image), "cuModuleLoadData");
            return out.get(LONG, 0);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    long moduleFunction(long module, String name) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(LONG);
            check((int) cuModuleGetFunction.invokeExact(out, module, arena.allocateFrom(name)),
                    "cuModuleGetFunction(" + name + ")");
            return out.get(LONG, 0);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    void moduleUnload(long module) {
        try {
            check((int) cuModuleUnload.invokeExact(module), "cuModuleUnload");
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }

    /** cuLaunchKernel with a prepared parameter block ({@code void*[]}, one pointer per kernel argument). */
    void launchKernel(long function, int gridX, int gridY, int blockX, int blockY, int sharedBytes, long stream,
                      MemorySegment parameters) {
        try {
            check((int) cuLaunchKernel.invokeExact(function, gridX, gridY, 1, blockX, blockY, 1, sharedBytes, stream,
                    parameters, MemorySegment.NULL), "cuLaunchKernel");
        } catch (Throwable t) {
            throw NativeLibrary.rethrow(t);
        }
    }
}
