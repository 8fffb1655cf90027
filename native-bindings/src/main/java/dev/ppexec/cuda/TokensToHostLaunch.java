package dev.ppexec.cuda;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * {@code table[requests[b]][step] = ids[b]}, in stream order.
 *
 * <p>Note [tokens to the host]: each step's ids go by an asynchronous copy into their own slot of a
 * page-locked mirror ({@code [steps][batch]} ints), so no step overwrites another before the host
 * reads it; the table is filled from the mirror when the stream is synchronised
 * ({@link CudaStream#synchronize()}), which is when the CPU backend's table is complete too. There
 * is no host callback: a driver thread that called into Java stays attached to the JVM, and the
 * driver joining it at process exit deadlocks the JVM's exit (JDK-8391662), which hung every
 * process that used the GPU on the first H200 run.
 */
final class TokensToHostLaunch extends CudaLaunch {

    private final long ids;
    private final MemorySegment mirror;
    private final int[][] table;
    private final int[] requests;
    private final int steps;
    private int enqueuedThrough = -1; // guarded by this
    private int filledThrough = -1;   // guarded by this
    private boolean closed;           // guarded by this

    TokensToHostLaunch(String name, CudaBuffer ids, int[][] table, int[] requests) {
        super(name);
        if (requests.length > ids.length()) {
            throw new IllegalArgumentException(name + ": " + requests.length + " requests but the ids buffer holds "
                    + ids.length());
        }
        this.ids = ids.pointer();
        this.table = table;
        this.requests = requests.clone();
        this.steps = requests.length == 0 ? 0 : table[requests[0]].length;
        this.mirror = ids.hostMirror((long) steps * requests.length * Integer.BYTES);
        ids.onClose(this::close);
    }

    @Override
    void enqueue(CudaStream stream, int tokens, int step) {
        if (step < 0 || step >= steps) {
            throw new IllegalArgumentException(name() + ": step " + step + " is out of range; allowed: 0.." + (steps - 1));
        }
        long bytes = (long) requests.length * Integer.BYTES;
        stream.cudaDevice().driver().memcpyDtoHAsync(mirror.address() + step * bytes, ids, bytes, stream.handle());
        synchronized (this) {
            if (step <= filledThrough) {
                filledThrough = step - 1; // a step launched again: read it again
            }
            enqueuedThrough = Math.max(enqueuedThrough, step);
        }
        stream.fillAfterSync(this);
    }

    /** Copies the enqueued steps' ids into the table; called once their stream has been synchronised. */
    synchronized void fill() {
        if (closed) {
            return;
        }
        for (int s = filledThrough + 1; s <= enqueuedThrough; s++) {
            for (int b = 0; b < requests.length; b++) {
                table[requests[b]][s] = mirror.getAtIndex(ValueLayout.JAVA_INT, (long) s * requests.length + b);
            }
        }
        filledThrough = enqueuedThrough;
    }

    private synchronized void close() {
        closed = true;
    }
}
