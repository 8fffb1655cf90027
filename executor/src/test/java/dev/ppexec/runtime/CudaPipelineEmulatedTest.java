package dev.ppexec.runtime;

import dev.ppexec.backend.Device;
import dev.ppexec.cuda.StubDriver;

import java.util.List;

/**
 * {@link CudaPipelineContract} in CI: the whole CUDA backend (bindings, launches, streams, events,
 * host callbacks, copies between ranks) on the stub driver, whose kernels are the project's own
 * compiled for the host.
 */
class CudaPipelineEmulatedTest extends CudaPipelineContract {

    @Override
    Device openDevice() {
        StubDriver.library();
        StubDriver.reset(1, 1L << 30);
        return StubDriver.platform().open(List.of(0), false).getFirst();
    }
}
