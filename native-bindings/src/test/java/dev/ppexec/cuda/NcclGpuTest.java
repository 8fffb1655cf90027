package dev.ppexec.cuda;

import dev.ppexec.backend.Buffer;
import dev.ppexec.nccl.Nccl;
import dev.ppexec.nccl.NcclCommunicator;
import dev.ppexec.nccl.NcclUnavailableException;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The NCCL bindings against a real libnccl on the first GPU: a communicator of one rank sends a buffer to itself in
 * one group, on a CUDA backend stream. Skipped, with the reason, without a GPU or without NCCL. Here, in the CUDA
 * package, because it needs the backend's raw device addresses and stream handles.
 */
@Tag("gpu")
@Tag("nccl") // scripts/gpu-check leaves it out, saying so, where it finds no libnccl
@Timeout(120)
class NcclGpuTest {

    @Test
    void oneRankCommunicator_sendRecvToItself_copiesTheBuffer() {
        CudaPlatform platform = CudaPlatform.detect();
        assumeTrue(platform.unavailableReason().isEmpty(),
                () -> "no usable CUDA device: " + platform.unavailableReason().orElse(""));
        Nccl nccl;
        try {
            nccl = Nccl.load();
        } catch (NcclUnavailableException e) {
            assumeTrue(false, e.getMessage());
            return;
        }
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
