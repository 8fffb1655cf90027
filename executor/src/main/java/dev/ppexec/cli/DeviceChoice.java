package dev.ppexec.cli;

import dev.ppexec.backend.Device;
import dev.ppexec.backend.cpu.CpuDevice;
import dev.ppexec.cuda.CudaDevice;
import dev.ppexec.cuda.CudaPlatform;
import dev.ppexec.stage.MemoryPlan;

import java.util.HashSet;
import java.util.List;
import java.util.Locale;
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
        CudaPlatform platform = this == cpu ? null : CudaPlatform.detect();
        Optional<Opened> onCpu = onCpu(platform);
        if (onCpu.isPresent()) {
            return onCpu.get();
        }
        List<Device> devices = openOrdinals(platform, ordinals == null ? everyOrdinal(platform) : ordinals, tf32);
        return new Opened(devices, Optional.of("device " + this + ": using " + devices.stream()
                .map(d -> ((CudaDevice) d).info().describe()).collect(Collectors.joining(", ")) + "; matmul: "
                + ((CudaDevice) devices.getFirst()).matmul()));
    }

    private static List<Integer> everyOrdinal(CudaPlatform platform) {
        return platform.devices().stream().map(CudaPlatform.DeviceInfo::ordinal).toList();
    }

    private static List<Device> openOrdinals(CudaPlatform platform, List<Integer> ordinals, boolean tf32) {
        try {
            return platform.open(ordinals, tf32);
        } catch (IllegalArgumentException e) {
            throw UsageException.asOption(e, "device ordinal", "--devices");
        }
    }

    /** The CPU, when this choice or the platform ({@code null} for cpu) says so; empty when CUDA serves. */
    private Optional<Opened> onCpu(CudaPlatform platform) {
        if (platform == null) {
            return Optional.of(new Opened(List.of(new CpuDevice()), Optional.empty()));
        }
        Optional<String> reason = platform.unavailableReason();
        if (reason.isEmpty()) {
            return Optional.empty();
        }
        UsageException.check(this != cuda, "--device cuda: " + reason.get() + "; allowed here: cpu, auto");
        return Optional.of(new Opened(List.of(new CpuDevice()), Optional.of("device auto: using cpu: " + reason.get())));
    }

    /**
     * A world's rank process: one device, the (localRank mod N)-th of the listed ordinals (every device when none
     * are listed), as torchrun's LOCAL_RANK picks a GPU. {@code auto} without a usable CUDA device is the CPU, and
     * the line says why; on CUDA the line names the device and how it was picked.
     */
    Opened openForRank(List<Integer> ordinals, boolean tf32, int localRank) {
        check(this, ordinals, tf32);
        CudaPlatform platform = this == cpu ? null : CudaPlatform.detect();
        Optional<Opened> onCpu = onCpu(platform);
        if (onCpu.isPresent()) {
            return onCpu.get();
        }
        List<Integer> candidates = ordinals != null ? ordinals : everyOrdinal(platform);
        int ordinal = candidates.get(Math.floorMod(localRank, candidates.size()));
        List<Device> devices = openOrdinals(platform, List.of(ordinal), tf32);
        CudaDevice d = (CudaDevice) devices.getFirst();
        return new Opened(devices, Optional.of(String.format(Locale.ROOT,
                "device %s: local rank %d -> cuda:%d (local rank mod %d device(s)%s): %s; matmul: %s", this, localRank,
                ordinal, candidates.size(), ordinals != null ? " of --devices " + join(ordinals) : "",
                d.info().describe(), d.matmul())));
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
