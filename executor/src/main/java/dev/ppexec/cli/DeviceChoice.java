package dev.ppexec.cli;

import dev.ppexec.backend.Device;
import dev.ppexec.backend.cpu.CpuDevice;
import dev.ppexec.cuda.CudaDevice;
import dev.ppexec.cuda.CudaPlatform;
import dev.ppexec.stage.MemoryPlan;

import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * {@code --device cpu|cuda|auto} with {@code --devices} and {@code --tf32}: which devices a run's
 * ranks go on. {@code auto} takes CUDA when it is usable and otherwise the CPU, printing one line
 * saying why; {@code cuda} without a usable device is bad input (exit 2) with the same reason.
 */
enum DeviceChoice {
    cpu, cuda, auto;

    /** Opened devices (the caller closes them) and the line that says what was chosen, if there is one to say. */
    record Opened(List<Device> devices, Optional<String> line) {}

    /** The checks of --devices and --tf32 that need no device (Note [usage errors]). */
    static void check(DeviceChoice choice, List<Integer> ordinals, boolean tf32) {
        if (choice == cpu) {
            UsageException.check(ordinals == null, "--devices " + (ordinals == null ? "" : join(ordinals))
                    + " applies to CUDA devices; allowed with --device cuda or auto");
            UsageException.check(!tf32, "--tf32 applies to CUDA matmul; allowed with --device cuda or auto");
        }
        if (ordinals != null) {
            UsageException.check(ordinals.stream().allMatch(o -> o >= 0), "--devices " + join(ordinals)
                    + " has a negative ordinal; allowed: ordinals >= 0");
            UsageException.check(new HashSet<>(ordinals).size() == ordinals.size(), "--devices " + join(ordinals)
                    + " repeats a device; allowed: distinct ordinals");
        }
    }

    /**
     * The devices of this choice, opened; {@link Opened#line()} says which (or, for auto, why the
     * CPU), to be printed once the run is known to start.
     */
    Opened open(List<Integer> ordinals, boolean tf32) {
        check(this, ordinals, tf32);
        if (this == cpu) {
            return new Opened(List.of(new CpuDevice()), Optional.empty());
        }
        CudaPlatform platform = CudaPlatform.detect();
        Optional<String> reason = platform.unavailableReason();
        if (reason.isPresent()) {
            UsageException.check(this != cuda, "--device cuda: " + reason.get() + "; allowed here: cpu, auto");
            return new Opened(List.of(new CpuDevice()), Optional.of("device auto: using cpu: " + reason.get()));
        }
        List<Device> devices;
        try {
            devices = ordinals == null ? platform.openAll(tf32) : platform.open(ordinals, tf32);
        } catch (IllegalArgumentException e) {
            throw UsageException.asOption(e, "device ordinal", "--devices");
        }
        return new Opened(devices, Optional.of("device " + this + ": using " + devices.stream()
                .map(d -> ((CudaDevice) d).info().describe()).collect(Collectors.joining(", ")) + "; matmul: "
                + ((CudaDevice) devices.getFirst()).matmul()));
    }

    /**
     * Refuses, before any weight is made, a run that does not fit: in this JVM's heap on the CPU, in
     * the devices' free memory on CUDA. {@code workload} says with the user's options what needs it
     * ({@code --requests 8 x (--prompt-len 32 + --decode-steps 32) positions of model toy}).
     */
    static void checkFits(MemoryPlan plan, String workload, List<Device> devices) {
        if (devices.getFirst() instanceof CudaDevice) {
            long free = 0;
            for (Device d : devices) {
                free += ((CudaDevice) d).memoryInfo()[0];
            }
            if (plan.total() > free) {
                throw new UsageException(workload + " need " + plan.describe() + "; the CUDA device(s) "
                        + "have " + MemoryPlan.gib(free) + " free; allowed: fewer requests or positions, a smaller "
                        + "model, or more devices (--devices)");
            }
            return;
        }
        Runtime rt = Runtime.getRuntime();
        long available = rt.maxMemory() - (rt.totalMemory() - rt.freeMemory());
        if (plan.total() > available) {
            throw new UsageException(workload + " need " + plan.describe() + "; this JVM has "
                    + MemoryPlan.gib(available) + " free of its -Xmx " + MemoryPlan.gib(rt.maxMemory())
                    + "; allowed: fewer requests or positions, a smaller model, or a larger -Xmx (PPEXEC_JAVA_OPTS)");
        }
    }

    private static String join(List<Integer> ordinals) {
        return ordinals.stream().map(String::valueOf).collect(Collectors.joining(","));
    }
}
