package dev.ppexec.cuda;

import dev.ppexec.backend.Buffer;
import dev.ppexec.backend.Launch;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.function.Supplier;

/**
 * Host staging of CUDA buffers, for transfers between rank processes: the same bytes as the CPU backend's staging
 * (4-byte elements, little-endian as the device and the host both are), so a round trip is bit-exact.
 *
 * <p>Note [host staging]: device → page-locked host → message on the sender, message → page-locked host → device
 * on the receiver. The sender's copy runs on the transport's sender thread once the forward's event completed, so the
 * rank's next forward overlaps it; it is a synchronous copy on the legacy stream, which the backend's non-blocking
 * streams never wait for. The receiver's copy is enqueued on the receiving rank's copy stream, between the events
 * that time its {@code pp_recv}; its page-locked slot is reused only after the rank's forward consumed it (the next
 * payload of a micro-batch comes round the ring after that forward).
 */
public final class CudaStaging {

    private CudaStaging() {
    }

    /** Whether {@code buffer} is device memory of the CUDA backend. */
    public static boolean isCuda(Buffer buffer) {
        return buffer instanceof CudaBuffer;
    }

    /**
     * Appends elements [0, count) of {@code source} to {@code out}. The caller makes sure the work that writes them
     * has completed (an event) and that nothing writes them until this returns.
     */
    public static void read(Buffer source, int count, ByteBuffer out) {
        CudaBuffer b = (CudaBuffer) source;
        if (count < 0 || count > b.length()) {
            throw new IllegalArgumentException("staging " + count + " elements of a buffer of " + b.length() + " on "
                    + b.device().name() + "; allowed: 0.." + b.length());
        }
        long bytes = (long) count * Float.BYTES;
        if (bytes == 0) {
            return; // a notice without payload (CUDA IPC carries the data)
        }
        MemorySegment pinned = b.staging();
        b.device().bind();
        b.device().driver().memcpyDtoH(pinned, b.pointer(), bytes);
        MemorySegment.copy(pinned, 0, MemorySegment.ofBuffer(out), 0, bytes);
        out.position(out.position() + (int) bytes);
    }

    /**
     * A launch that, when enqueued on a stream of the destination's device, takes the next payload from
     * {@code payloads}, copies it into the destination's page-locked slot and enqueues the copy to the device: as
     * many elements as the payload holds, at most the buffer's length.
     */
    public static Launch write(String label, Buffer destination, Supplier<ByteBuffer> payloads) {
        return new StageIn("stage_in " + label, (CudaBuffer) destination, payloads);
    }

    private static final class StageIn extends CudaLaunch {

        private final CudaBuffer destination;
        private final Supplier<ByteBuffer> payloads;

        StageIn(String name, CudaBuffer destination, Supplier<ByteBuffer> payloads) {
            super(name);
            this.destination = destination;
            this.payloads = payloads;
        }

        @Override
        void enqueue(CudaStream stream, int tokens, int startPos) {
            ByteBuffer in = payloads.get();
            if (in == null) {
                throw new IllegalStateException(name() + ": no payload was received for this launch");
            }
            int count = in.remaining() / Float.BYTES;
            if (count > destination.length()) {
                throw new IllegalStateException(name() + ": payload of " + count + " elements; allowed: at most "
                        + destination.length() + " (the destination's length)");
            }
            long bytes = (long) count * Float.BYTES;
            if (bytes == 0) {
                return;
            }
            MemorySegment pinned = destination.staging();
            MemorySegment.copy(MemorySegment.ofBuffer(in), 0, pinned, 0, bytes);
            stream.cudaDevice().driver().memcpyHtoDAsync(destination.pointer(), pinned.address(), bytes,
                    stream.handle());
        }
    }
}
