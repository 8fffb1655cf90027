package dev.ppexec.cuda;

import dev.ppexec.backend.Device;

import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * {@link CudaKernelsContract} in CI: the project's kernels compiled for the host and run by the stub
 * driver's emulation (cuda_emu.h), through the same bindings, parameter blocks and launches; matrix
 * products through the stub cuBLAS (column-major, as the real one) and through the tiled kernel.
 */
class CudaKernelsEmulatedTest extends CudaKernelsContract {

    @Override
    List<Device> openDevices() {
        StubDriver.library();
        StubDriver.reset(1, 1L << 30);
        return List.of(StubDriver.platform().open(List.of(0), false).getFirst(),
                StubDriver.platform(Optional.of("none")).open(List.of(0), false).getFirst());
    }

    @Override
    OptionalLong kernelLaunches() {
        return OptionalLong.of(StubDriver.counter("launches"));
    }
}
