package dev.ppexec.cli;

import dev.ppexec.backend.Device;
import dev.ppexec.backend.cpu.CpuDevice;
import dev.ppexec.cuda.CudaDevice;
import dev.ppexec.cuda.CudaPlatform;
import dev.ppexec.stage.MemoryPlan;

import java.io.PrintWriter;
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

    /** The opened devices (the caller closes them); prints one line on {@code err} saying what was chosen. */
    List<Device> open(List<Integer> ordinals, boolean tf32, PrintWriter err) {
        if (this == cpu) {
            if (ordinals != null) {
                throw new IllegalArgumentException("--devices " + join(ordinals)
                        + " applies to CUDA devices; allowed with --device cuda or auto");
            }
            if (tf32) {
                throw new IllegalArgumentException("--tf32 applies to CUDA matmul; allowed with --device cuda or auto");
            }
            return List.of(new CpuDevice());
        }
        CudaPlatform platform = CudaPlatform.detect();
        Optional<String> reason = platform.unavailableReason();
        if (reason.isPresent()) {
            if (this == cuda) {
                throw new IllegalArgumentException("--device cuda: " + reason.get() + "; allowed here: cpu, auto");
            }
            err.println("device auto: using cpu: " + reason.get());
            return List.of(new CpuDevice());
        }
        if (ordinals != null && new HashSet<>(ordinals).size() != ordinals.size()) {
            throw new IllegalArgumentException("--devices " + join(ordinals) + " repeats a device; allowed: distinct "
                    + "ordinals 0.." + (platform.devices().size() - 1));
        }
        List<Device> devices = ordinals == null ? platform.openAll(tf32) : platform.open(ordinals, tf32);
        err.println("device " + this + ": using " + devices.stream().map(d -> ((CudaDevice) d).info().describe())
                .collect(Collectors.joining(", ")) + "; matmul: " + ((CudaDevice) devices.getFirst()).matmul());
        return devices;
    }

    /**
     * Refuses, before any weight is made, a run that does not fit: in this JVM's heap on the CPU, in
     * the devices' free memory on CUDA.
     */
    static void checkFits(MemoryPlan plan, List<Device> devices) {
        if (devices.getFirst() instanceof CudaDevice) {
            long free = 0;
            for (Device d : devices) {
                free += ((CudaDevice) d).memoryInfo()[0];
            }
            if (plan.total() > free) {
                throw new IllegalArgumentException("model and workload need " + plan.describe() + "; the CUDA device(s) "
                        + "have " + MemoryPlan.gib(free) + " free; allowed: fewer requests or positions, a smaller "
                        + "model, or more devices (--devices)");
            }
            return;
        }
        Runtime rt = Runtime.getRuntime();
        long available = rt.maxMemory() - (rt.totalMemory() - rt.freeMemory());
        if (plan.total() > available) {
            throw new IllegalArgumentException("model and workload need " + plan.describe() + "; this JVM has "
                    + MemoryPlan.gib(available) + " free of its -Xmx " + MemoryPlan.gib(rt.maxMemory())
                    + "; allowed: fewer requests or positions, a smaller model, or a larger -Xmx (PPEXEC_JAVA_OPTS)");
        }
    }

    private static String join(List<Integer> ordinals) {
        return ordinals.stream().map(String::valueOf).collect(Collectors.joining(","));
    }
}
