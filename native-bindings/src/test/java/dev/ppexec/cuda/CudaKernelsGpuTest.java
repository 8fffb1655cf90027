package dev.ppexec.cuda;

import dev.ppexec.backend.Device;
import org.junit.jupiter.api.Tag;

import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** {@link CudaKernelsContract} on the first GPU: cuBLAS (when found) and the tiled matmul kernel. Skipped, with the reason, without a GPU. */
@Tag("gpu")
class CudaKernelsGpuTest extends CudaKernelsContract {

    @Override
    List<Device> openDevices() {
        CudaPlatform platform = CudaPlatform.detect();
        assumeTrue(platform.unavailableReason().isEmpty(),
                () -> "no usable CUDA device: " + platform.unavailableReason().orElse(""));
        CudaPlatform.Config c = CudaPlatform.Config.fromSystemProperties();
        CudaPlatform tiled = CudaPlatform.detect(new CudaPlatform.Config(c.driverLibrary(), Optional.of("none"), c.fatbin()));
        return List.of(platform.open(List.of(0), false).getFirst(), tiled.open(List.of(0), false).getFirst());
    }
}
