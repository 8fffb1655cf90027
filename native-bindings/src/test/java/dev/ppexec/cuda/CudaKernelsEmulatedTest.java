package dev.ppexec.cuda;

import dev.ppexec.backend.Device;

import java.util.List;

/**
 * {@link CudaKernelsContract} in CI: the project's kernels compiled for the host and run by the stub
 * driver's emulation (cuda_emu.h), through the same bindings, parameter blocks and launches.
 */
class CudaKernelsEmulatedTest extends CudaKernelsContract {

    @Override
    List<Device> openDevices() {
        StubDriver.library();
        StubDriver.reset(1, 1L << 30);
        CudaPlatform platform = StubDriver.platform();
        return List.of(platform.open(List.of(0), false).getFirst(), platform.open(List.of(0), false).getFirst());
    }
}
