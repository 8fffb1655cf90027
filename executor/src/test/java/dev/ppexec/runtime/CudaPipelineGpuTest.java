package dev.ppexec.runtime;

import dev.ppexec.backend.Device;
import dev.ppexec.cuda.CudaPlatform;
import org.junit.jupiter.api.Tag;

import java.util.List;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** {@link CudaPipelineContract} on the first GPU. Skipped, with the reason, without a GPU. */
@Tag("gpu")
class CudaPipelineGpuTest extends CudaPipelineContract {

    @Override
    Device openDevice() {
        CudaPlatform platform = CudaPlatform.detect();
        assumeTrue(platform.unavailableReason().isEmpty(),
                () -> "no usable CUDA device: " + platform.unavailableReason().orElse(""));
        return platform.open(List.of(0), false).getFirst();
    }
}
