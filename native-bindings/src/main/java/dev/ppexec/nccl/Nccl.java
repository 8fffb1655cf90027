package dev.ppexec.nccl;

import dev.ppexec.cuda.NativeLibrary;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntSupplier;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;

import static dev.ppexec.cuda.NativeLibrary.BYTE;
import static dev.ppexec.cuda.NativeLibrary.INT;
import static dev.ppexec.cuda.NativeLibrary.LONG;
import static dev.ppexec.cuda.NativeLibrary.POINTER;

/**
 * NCCL ({@code libnccl.so.2}) through FFM: the unique id, non-blocking communicator creation with a deadline, and the
 * calls a {@link NcclCommunicator} makes. The library is never bundled: it is the file named by the system property
 * {@value #LIBRARY_PROPERTY} or the environment variable {@value #LIBRARY_ENV}, else {@value #SONAME} from the dynamic
 * loader's path. Every {@code ncclResult_t} goes through {@link #check}, which names the call, NCCL's text for the
 * result and its last error. The declarations follow NCCL's {@code nccl.h} (2.14 and later).
 *
 * <p>Note [non-blocking NCCL]: a communicator is created with {@code config.blocking = 0}, so no NCCL call blocks
 * the calling thread: creation, {@code ncclGroupEnd} and {@code ncclCommFinalize} may answer {@code ncclInProgress},
 * and the operation has finished when {@code ncclCommGetAsyncError} answers {@code ncclSuccess} (or failed when it
 * answers an error). The bindings poll it with a bounded back-off up to a deadline; past the deadline, or on an
 * error, they abort the communicator ({@code ncclCommAbort}), which is the one way to free a communicator that
 * waits for a peer that will never come. Non-blocking creation needs NCCL 2.14.
 */
public final class Nccl {

    /** System property: the NCCL library file to open instead of {@value #SONAME}. */
    public static final String LIBRARY_PROPERTY = "ppexec.nccl.library";
    /** Environment variable: the same, when the system property is not set. */
    public static final String LIBRARY_ENV = "PPEXEC_NCCL_LIBRARY";
    /** The soname the dynamic loader is asked for when no file is named. */
    public static final String SONAME = "libnccl.so.2";

    static final int SUCCESS = 0;
    static final int IN_PROGRESS = 7;
    /** {@code ncclFloat32}. */
    static final int FLOAT32 = 7;

    private static final List<String> RESULT_NAMES = List.of("ncclSuccess", "ncclUnhandledCudaError",
            "ncclSystemError", "ncclInternalError", "ncclInvalidArgument", "ncclInvalidUsage", "ncclRemoteError",
            "ncclInProgress", "ncclTimeout");

    /** The longest sleep between two polls of a pending operation (Note [non-blocking NCCL]). */
    private static final long MAX_POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(10);

    /**
     * Note [ncclConfig_t layout]: the head of {@code ncclConfig_t} as NCCL 2.14 defined it ({@code size_t size;
     * unsigned magic; unsigned version; int blocking}), 24 bytes with its padding. NCCL copies {@code size} bytes of
     * the caller's struct over its {@code NCCL_CONFIG_INITIALIZER} defaults, requires {@code magic == 0xcafebeef},
     * and resets to their defaults the fields newer than {@code version}, so this short struct stating version
     * 2.14.0 is read correctly by every NCCL from 2.14 on, with every other attribute left at NCCL's default.
     */
    static final StructLayout CONFIG = MemoryLayout.structLayout(LONG.withName("size"), INT.withName("magic"),
            INT.withName("version"), INT.withName("blocking"), MemoryLayout.paddingLayout(4));
    static final int CONFIG_MAGIC = 0xcafebeef;
    /** {@code NCCL_VERSION(2, 14, 0)}: the layout of {@link #CONFIG}. */
    static final int CONFIG_VERSION = 21400;

    /** {@code ncclUniqueId}, passed by value to {@code ncclCommInitRankConfig}. */
    private static final StructLayout UNIQUE_ID = MemoryLayout.structLayout(
            MemoryLayout.sequenceLayout(NcclUniqueId.BYTES, BYTE).withName("internal"));

    private final NativeLibrary library;
    private final MethodHandle ncclGetVersion;
    private final MethodHandle ncclGetUniqueId;
    private final MethodHandle ncclCommInitRankConfig;
    private final MethodHandle ncclCommGetAsyncError;
    private final MethodHandle ncclGroupStart;
    private final MethodHandle ncclGroupEnd;
    private final MethodHandle ncclSend;
    private final MethodHandle ncclRecv;
    private final MethodHandle ncclCommFinalize;
    private final MethodHandle ncclCommDestroy;
    private final MethodHandle ncclCommAbort;
    private final MethodHandle ncclGetErrorString;
    private final Optional<MethodHandle> ncclGetLastError;

    private Nccl(NativeLibrary lib) {
        this.library = lib;
        ncclGetVersion = lib.function("ncclGetVersion", FunctionDescriptor.of(INT, POINTER));
        ncclGetUniqueId = lib.function("ncclGetUniqueId", FunctionDescriptor.of(INT, POINTER));
        ncclCommInitRankConfig = lib.function("ncclCommInitRankConfig",
                FunctionDescriptor.of(INT, POINTER, INT, UNIQUE_ID, INT, POINTER));
        ncclCommGetAsyncError = lib.function("ncclCommGetAsyncError", FunctionDescriptor.of(INT, LONG, POINTER));
        ncclGroupStart = lib.function("ncclGroupStart", FunctionDescriptor.of(INT));
        ncclGroupEnd = lib.function("ncclGroupEnd", FunctionDescriptor.of(INT));
        // (buffer, count, datatype, peer, comm, stream)
        FunctionDescriptor pointToPoint = FunctionDescriptor.of(INT, LONG, LONG, INT, INT, LONG, LONG);
        ncclSend = lib.function("ncclSend", pointToPoint);
        ncclRecv = lib.function("ncclRecv", pointToPoint);
        ncclCommFinalize = lib.function("ncclCommFinalize", FunctionDescriptor.of(INT, LONG));
        ncclCommDestroy = lib.function("ncclCommDestroy", FunctionDescriptor.of(INT, LONG));
        ncclCommAbort = lib.function("ncclCommAbort", FunctionDescriptor.of(INT, LONG));
        ncclGetErrorString = lib.function("ncclGetErrorString", FunctionDescriptor.of(POINTER, INT));
        ncclGetLastError = lib.optionalFunction("ncclGetLastError", FunctionDescriptor.of(POINTER, LONG));
    }

    /** Opens the library the system property, else the environment variable, names, else {@value #SONAME}. */
    public static Nccl load() {
        return open(libraryFrom(System::getProperty, System::getenv));
    }

    /** The library to open: {@code property(LIBRARY_PROPERTY)}, else {@code env(LIBRARY_ENV)}, else the soname. */
    static String libraryFrom(UnaryOperator<String> property, UnaryOperator<String> env) {
        return Optional.ofNullable(property.apply(LIBRARY_PROPERTY)).filter(s -> !s.isBlank())
                .or(() -> Optional.ofNullable(env.apply(LIBRARY_ENV)).filter(s -> !s.isBlank()))
                .orElse(SONAME);
    }

    /**
     * Opens {@code library} (a path or a full soname).
     *
     * @throws NcclUnavailableException when it cannot be opened or lacks an entry point this binding calls
     */
    public static Nccl open(String library) {
        Objects.requireNonNull(library, "library");
        try {
            return new Nccl(NativeLibrary.open(library));
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw new NcclUnavailableException("NCCL is not loadable from " + library + " (" + e.getMessage()
                    + "); name the file with -D" + LIBRARY_PROPERTY + "=FILE or " + LIBRARY_ENV + "=FILE", e);
        }
    }

    /** The library as it was named when opened. */
    public String library() {
        return library.name();
    }

    /** {@code NCCL_VERSION_CODE} of the library, e.g. 22803 for 2.28.3. */
    public int version() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(INT);
            check("ncclGetVersion", NativeLibrary.status(() -> (int) ncclGetVersion.invokeExact(out)), "");
            return out.get(INT, 0);
        }
    }

    /** {@code "NCCL 2.28.3 (libnccl.so.2)"}. */
    public String describe() {
        int v = version();
        return "NCCL " + v / 10000 + "." + v / 100 % 100 + "." + v % 100 + " (" + library() + ")";
    }

    /** A new unique id, made once by rank 0 and handed to every rank over the control plane. */
    public NcclUniqueId uniqueId() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(UNIQUE_ID);
            check("ncclGetUniqueId", NativeLibrary.status(() -> (int) ncclGetUniqueId.invokeExact(out)), "");
            return NcclUniqueId.of(out.toArray(BYTE));
        }
    }

    /**
     * Joins communicator {@code id} as {@code rank} of {@code worldSize}, non-blocking (Note [non-blocking NCCL]): the
     * call returns when every rank has joined, or throws once {@code timeout} has passed, after aborting the
     * half-made communicator. The calling thread's current CUDA device is the communicator's. {@code timeout} also
     * bounds the communicator's pending groups and its finalize; a watchdog polls it every {@code watchdogInterval}
     * (1 ms to 1 s) from then on (Note [NCCL watchdog] in {@link NcclCommunicator}).
     *
     * @throws NcclException naming the rank and world when NCCL fails or the deadline passes
     */
    public NcclCommunicator initRank(NcclUniqueId id, int rank, int worldSize, Duration timeout,
                                     Duration watchdogInterval) {
        Objects.requireNonNull(id, "id");
        if (worldSize < 1 || rank < 0 || rank >= worldSize) {
            throw new IllegalArgumentException("rank " + rank + " of world " + worldSize
                    + ": the world has at least 1 rank and the rank is in [0, world)");
        }
        requirePositive(timeout, "timeout");
        NcclCommunicator.requireWatchdogInterval(watchdogInterval);
        String where = "rank " + rank + " of " + worldSize;
        long comm;
        int result;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(POINTER);
            MemorySegment config = arena.allocate(CONFIG);
            config.set(LONG, CONFIG.byteOffset(MemoryLayout.PathElement.groupElement("size")), CONFIG.byteSize());
            config.set(INT, CONFIG.byteOffset(MemoryLayout.PathElement.groupElement("magic")), CONFIG_MAGIC);
            config.set(INT, CONFIG.byteOffset(MemoryLayout.PathElement.groupElement("version")), CONFIG_VERSION);
            config.set(INT, CONFIG.byteOffset(MemoryLayout.PathElement.groupElement("blocking")), 0);
            MemorySegment idValue = arena.allocate(UNIQUE_ID).copyFrom(MemorySegment.ofArray(id.bytes()));
            result = NativeLibrary.status(() -> (int) ncclCommInitRankConfig.invokeExact(out, worldSize, idValue, rank,
                    config));
            comm = out.get(LONG, 0);
        }
        if (result != SUCCESS && result != IN_PROGRESS) {
            NcclException failed = failure("ncclCommInitRankConfig", result, where + ": ");
            if (comm != 0) {
                abort(comm);
            }
            throw failed;
        }
        try {
            awaitCompletion(() -> asyncError(comm), "ncclCommInitRankConfig", timeout, where,
                    () -> " (did every rank start and reach the same unique id?)");
        } catch (RuntimeException | Error e) {
            abort(comm);
            throw e;
        }
        return new NcclCommunicator(this, comm, rank, worldSize, timeout, watchdogInterval);
    }

    static void requirePositive(Duration d, String name) {
        Objects.requireNonNull(d, name);
        if (d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(name + " " + d + ": must be positive");
        }
    }

    /**
     * Polls the communicator's state ({@code poll}: {@code ncclCommGetAsyncError}) until the pending operation
     * {@code call} has finished (Note [non-blocking NCCL]), with a back-off from 50 µs to 10 ms between polls.
     *
     * @throws NcclException on an asynchronous error, or with result {@code ncclInProgress} once {@code timeout} has
     *                       passed ({@code hint} is added to that message)
     */
    void awaitCompletion(IntSupplier poll, String call, Duration timeout, String where, Supplier<String> hint) {
        long deadlineNanos = System.nanoTime() + timeout.toNanos();
        long sleepNanos = TimeUnit.MICROSECONDS.toNanos(50);
        while (true) {
            int state = poll.getAsInt();
            if (state == SUCCESS) {
                return;
            }
            if (state != IN_PROGRESS) {
                throw failure(call, state, where + ": ");
            }
            long left = deadlineNanos - System.nanoTime();
            if (left <= 0) {
                throw new NcclException(call, IN_PROGRESS, where + ": " + call + " did not finish within "
                        + timeout.toMillis() + " ms" + hint.get() + "; the communicator is aborted");
            }
            if (Thread.interrupted()) {
                Thread.currentThread().interrupt();
                throw new NcclException(call, IN_PROGRESS, where + ": interrupted while waiting for " + call
                        + "; the communicator is aborted");
            }
            LockSupport.parkNanos(Math.min(sleepNanos, left));
            sleepNanos = Math.min(2 * sleepNanos, MAX_POLL_NANOS);
        }
    }

    /**
     * {@code ncclCommGetAsyncError}: the communicator's state ({@code ncclSuccess}, {@code ncclInProgress} or an error),
     * or the call's own status when the call itself fails (an error either way).
     */
    int asyncError(long comm) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(INT);
            int r = NativeLibrary.status(() -> (int) ncclCommGetAsyncError.invokeExact(comm, out));
            return r != SUCCESS ? r : out.get(INT, 0);
        }
    }

    int groupStart() {
        return NativeLibrary.status(() -> (int) ncclGroupStart.invokeExact());
    }

    int groupEnd() {
        return NativeLibrary.status(() -> (int) ncclGroupEnd.invokeExact());
    }

    int send(long buffer, long count, int peer, long comm, long stream) {
        return NativeLibrary.status(() -> (int) ncclSend.invokeExact(buffer, count, FLOAT32, peer, comm, stream));
    }

    int recv(long buffer, long count, int peer, long comm, long stream) {
        return NativeLibrary.status(() -> (int) ncclRecv.invokeExact(buffer, count, FLOAT32, peer, comm, stream));
    }

    int finalizeComm(long comm) {
        return NativeLibrary.status(() -> (int) ncclCommFinalize.invokeExact(comm));
    }

    int destroy(long comm) {
        return NativeLibrary.status(() -> (int) ncclCommDestroy.invokeExact(comm));
    }

    /** {@code ncclCommAbort}; its own failure is not thrown (it is the last resort), only returned. */
    int abort(long comm) {
        return NativeLibrary.status(() -> (int) ncclCommAbort.invokeExact(comm));
    }

    /** Throws a {@link NcclException} for {@code result} unless it is {@code ncclSuccess}. */
    void check(String call, int result, String where) {
        if (result != SUCCESS) {
            throw failure(call, result, where);
        }
    }

    /** {@code "<where>ncclSend failed: ncclRemoteError (remote process exited ...); last error: ..."}. */
    NcclException failure(String call, int result, String where) {
        return new NcclException(call, result, where + call + " failed: " + describe(result));
    }

    /** NCCL's name and text for {@code result}, and its last error. */
    String describe(int result) {
        String name = result >= 0 && result < RESULT_NAMES.size() ? RESULT_NAMES.get(result) : "ncclResult_t " + result;
        String text;
        try {
            text = NativeLibrary.cString((MemorySegment) ncclGetErrorString.invokeExact(result), "");
        } catch (Throwable t) {
            text = "";
        }
        String last = lastError();
        return name + (text.isEmpty() ? "" : " (" + text + ")") + (last.isEmpty() ? "" : "; last error: " + last);
    }

    /** {@code ncclGetLastError}: NCCL keeps one last error per process and ignores its argument, so NULL is passed. */
    private String lastError() {
        if (ncclGetLastError.isEmpty()) {
            return "";
        }
        try {
            return NativeLibrary.cString((MemorySegment) ncclGetLastError.get().invokeExact(0L), "").strip();
        } catch (Throwable t) {
            return "";
        }
    }
}
