package dev.ppexec.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.util.Optional;

/**
 * Can this process use CUDA? Opens the driver library by its full soname (libcuda.so.1, which every
 * NVIDIA driver installs). Without a driver, opening it fails with a catchable
 * IllegalArgumentException, and the answer is the reason, for {@code --device auto} to print.
 */
public final class CudaProbe {

    public static final String DRIVER_SONAME = "libcuda.so.1";

    private CudaProbe() {}

    /** Empty when the CUDA backend could run; else why not. */
    public static Optional<String> unavailableReason() {
        try (Arena arena = Arena.ofConfined()) {
            SymbolLookup.libraryLookup(DRIVER_SONAME, arena);
        } catch (IllegalArgumentException e) {
            return Optional.of("no CUDA driver (" + DRIVER_SONAME + " not loadable)");
        }
        return Optional.of("the CUDA backend is not part of this build yet (issue [D])");
    }
}
