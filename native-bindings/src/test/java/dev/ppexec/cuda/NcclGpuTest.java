package dev.ppexec.cuda;

import dev.ppexec.nccl.Nccl;
import dev.ppexec.nccl.NcclUnavailableException;
import org.junit.jupiter.api.Tag;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** {@link NcclSelfSendContract} on the first GPU with the NCCL the loader or the settings find. Skipped, with the reason, without either. */
@Tag("gpu")
@Tag("nccl") // scripts/gpu-check leaves it out, saying so, where it finds no libnccl
class NcclGpuTest extends NcclSelfSendContract {

    @Override
    CudaPlatform platform() {
        CudaPlatform platform = CudaPlatform.detect();
        assumeTrue(platform.unavailableReason().isEmpty(),
                () -> "no usable CUDA device: " + platform.unavailableReason().orElse(""));
        return platform;
    }

    @Override
    Nccl nccl() {
        try {
            return Nccl.load();
        } catch (NcclUnavailableException e) {
            assumeTrue(false, e.getMessage());
            throw e;
        }
    }
}
