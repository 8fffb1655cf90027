package dev.ppexec.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.invoke.VarHandle;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The one upcall stub this process hands to {@code cuLaunchHostFunc}, and the targets it calls.
 *
 * <p>Note [host callbacks]: next tokens reach the host table in stream order: the stream copies
 * them to page-locked memory, then runs a host function (on a driver thread) that writes them into
 * the table. Its {@code userData} is not a pointer but {@code (target id << 32) | step}, so that no
 * per-step memory is needed. The callback must never throw into native code: a failure goes to the
 * stream's failure instead. It ends with a release fence, and every synchronisation of a CUDA stream
 * or event ends with an acquire fence, so whoever waited for the stream sees the table written.
 */
@SuppressWarnings("restricted") // native access is this module's job (run with --enable-native-access)
final class HostCallbacks {

    /** Receives a stream's host callback. */
    interface Target {
        void run(int step);

        void failed(Throwable cause);
    }

    private static final Map<Integer, Target> TARGETS = new ConcurrentHashMap<>();
    private static final AtomicInteger NEXT_ID = new AtomicInteger(1);
    private static final MemorySegment STUB;

    static {
        try {
            var handle = MethodHandles.lookup().findStatic(HostCallbacks.class, "call",
                    MethodType.methodType(void.class, long.class));
            STUB = NativeLibrary.linker().upcallStub(handle, CudaDriver.HOST_FN, Arena.global());
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private HostCallbacks() {}

    static MemorySegment stub() {
        return STUB;
    }

    static int register(Target target) {
        int id = NEXT_ID.getAndIncrement();
        TARGETS.put(id, target);
        return id;
    }

    static void unregister(int id) {
        TARGETS.remove(id);
    }

    static long userData(int id, int step) {
        return ((long) id << 32) | (step & 0xffff_ffffL);
    }

    /** Called by the driver; catches everything, since an exception here would abort the process. */
    private static void call(long userData) {
        Target target = TARGETS.get((int) (userData >>> 32));
        if (target == null) {
            return;
        }
        try {
            target.run((int) userData);
        } catch (Throwable t) {
            try {
                target.failed(t);
            } catch (Throwable ignored) {
                // Nothing may escape to the driver's thread.
            }
        }
        VarHandle.releaseFence();
    }
}
