package dev.ppexec.cuda;

import dev.ppexec.nccl.Nccl;
import dev.ppexec.nccl.StubNccl;

import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link NcclSelfSendContract} on the stub libcuda with the stub libnccl, which copies a rank's send to itself: the
 * backend's device addresses and stream handle reach NCCL as they are.
 */
class NcclEmulatedTest extends NcclSelfSendContract {

    @Override
    CudaPlatform platform() {
        StubDriver.library();
        StubDriver.reset(1, 64L << 20);
        return StubDriver.platform(Optional.of("none"));
    }

    @Override
    Nccl nccl() {
        Nccl nccl = Nccl.open(StubNccl.library().toString());
        StubNccl.reset();
        return nccl;
    }

    @Override
    void checkCalls(long source, long target, long stream, int count) {
        String tail = " count=" + count + " datatype=7 buffer=0x%x stream=0x%x depth=1";
        assertThat(StubNccl.log()).containsSubsequence(
                "ncclSend rank=0 peer=0" + tail.formatted(source, stream),
                "ncclRecv rank=0 peer=0" + tail.formatted(target, stream),
                "ncclGroupEnd depth=0", "ncclCommFinalize rank=0", "ncclCommDestroy rank=0");
    }
}
