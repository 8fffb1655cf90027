package dev.ppexec.dist;

import dev.ppexec.backend.Buffer;
import dev.ppexec.backend.Launch;
import dev.ppexec.backend.cpu.CpuStaging;
import dev.ppexec.cuda.CudaStaging;

import java.nio.ByteBuffer;
import java.util.function.Supplier;

/**
 * The host side of the gRPC data plane, for either backend: a rank's buffer into a message and a message into a
 * rank's buffer, as 4-byte elements in the message's byte order (CpuStaging on the CPU; on CUDA through page-locked
 * host memory, Note [host staging] in CudaStaging). Ranks of a world may mix backends: the bytes are the same.
 */
final class HostStaging {

    private HostStaging() {
    }

    /** Refuses a buffer neither backend can stage. */
    static void require(Buffer b) {
        if (!CpuStaging.isCpu(b) && !CudaStaging.isCuda(b)) {
            throw new IllegalArgumentException("a " + b.getClass().getSimpleName() + " cannot be staged between rank "
                    + "processes; allowed: buffers of the cpu or cuda backend");
        }
    }

    /** Appends elements [0, count) of {@code source}, whose producing work has completed, to {@code out}. */
    static void read(Buffer source, int count, ByteBuffer out) {
        if (CpuStaging.isCpu(source)) {
            CpuStaging.read(source, count, out);
        } else {
            CudaStaging.read(source, count, out);
        }
    }

    /** A launch that copies the next payload of {@code payloads} into {@code destination} on the stream it runs on. */
    static Launch write(String label, Buffer destination, Supplier<ByteBuffer> payloads) {
        return CpuStaging.isCpu(destination) ? CpuStaging.write(label, destination, payloads)
                : CudaStaging.write(label, destination, payloads);
    }
}
