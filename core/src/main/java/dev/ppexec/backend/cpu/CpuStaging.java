package dev.ppexec.backend.cpu;

import dev.ppexec.backend.Buffer;
import dev.ppexec.backend.Launch;

import java.nio.ByteBuffer;
import java.util.function.Supplier;

/**
 * Host staging of CPU buffers, for transfers between rank processes: elements as 4-byte values (a float's raw bits,
 * so a round trip is bit-exact) in the byte buffer's order. On the CPU the device memory is the host's, so reading
 * is one copy into the message and writing one copy out of it.
 */
public final class CpuStaging {

    private CpuStaging() {
    }

    /** Whether {@code buffer} is CPU memory that this class can stage. */
    public static boolean isCpu(Buffer buffer) {
        return buffer instanceof CpuBuffer;
    }

    /**
     * Appends elements [0, count) of {@code source} to {@code out}. The caller makes sure the work that writes them
     * has completed (an event) and that nothing writes them until this returns.
     */
    public static void read(Buffer source, int count, ByteBuffer out) {
        CpuBuffer b = (CpuBuffer) source;
        if (b.floats != null) {
            out.asFloatBuffer().put(b.floats, 0, count);
        } else {
            out.asIntBuffer().put(b.ints, 0, count);
        }
        out.position(out.position() + 4 * count);
    }

    /**
     * A launch that, when its stream reaches it, takes the next payload from {@code payloads} and copies it into the
     * first elements of {@code destination}: as many as the payload holds, at most the buffer's length.
     */
    public static Launch write(String label, Buffer destination, Supplier<ByteBuffer> payloads) {
        CpuBuffer b = (CpuBuffer) destination;
        return new CpuLaunch(CpuKernels.named("stage_in", label)) {
            @Override
            void run(int tokens, int startPos) {
                ByteBuffer in = payloads.get();
                int count = in.remaining() / 4;
                if (count > b.length()) {
                    throw new IllegalStateException(name() + ": payload of " + count + " elements; allowed: at most "
                            + b.length() + " (the destination's length)");
                }
                if (b.floats != null) {
                    in.asFloatBuffer().get(b.floats, 0, count);
                } else {
                    in.asIntBuffer().get(b.ints, 0, count);
                }
            }
        };
    }
}
