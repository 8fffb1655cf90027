package dev.ppexec.cuda;

import dev.ppexec.backend.Buffer;
import dev.ppexec.nccl.Nccl;
import dev.ppexec.nccl.NcclCommunicator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The NCCL bindings on a CUDA backend device: a communicator of one rank sends a buffer to itself in one group, on
 * one of the backend's streams, and the receiving buffer holds the same floats. On a GPU with a real libnccl
 * ({@link NcclGpuTest}) and on the stub libcuda with the stub libnccl ({@link NcclEmulatedTest}). Here, in the CUDA
 * package, because it needs the backend's raw device addresses and stream handles.
 */
@Timeout(120)
abstract class NcclSelfSendContract {

    /** The platform to open device 0 of; skips the test, with the reason, when there is none. */
    abstract CudaPlatform platform();

    /** The NCCL library; skips the test, with the reason, when there is none. */
    abstract Nccl nccl();

    /** Checks, after the transfer, what the library was called with; nothing to check on a real library. */
    void checkCalls(long source, long target, long stream, int count) {}

    @Test
    void oneRankCommunicator_sendRecvToItself_copiesTheBuffer() {
        CudaPlatform platform = platform();
        Nccl nccl = nccl();
        int count = 1 << 16;
        float[] values = new float[count];
        for (int i = 0; i < count; i++) {
            values[i] = i * 0.5f - 7f;
        }
        CudaDevice device = (CudaDevice) platform.open(List.of(0), false).getFirst();
        try {
            device.bind();
            CudaBuffer source = (CudaBuffer) device.upload(values);
            CudaBuffer target = (CudaBuffer) device.allocate(Buffer.Type.FLOAT32, count);
            CudaStream stream = (CudaStream) device.createStream("nccl");
            try (NcclCommunicator comm = nccl.initRank(nccl.uniqueId(), 0, 1, Duration.ofSeconds(60),
                    Duration.ofMillis(50))) {
                comm.sendRecv(source.pointer(), 0, target.pointer(), 0, count, stream.handle());
                stream.synchronize();
                assertThat(comm.failure()).isEmpty();
            }
            checkCalls(source.pointer(), target.pointer(), stream.handle(), count);
            float[] back = new float[count];
            device.download(target, back);
            for (int i = 0; i < count; i++) {
                if (back[i] != values[i]) {
                    throw new AssertionError(nccl.describe() + ": element " + i + " is " + back[i] + ", expected "
                            + values[i] + " (exact: a copy)");
                }
            }
            stream.close();
            source.close();
            target.close();
        } finally {
            device.close();
        }
    }
}
