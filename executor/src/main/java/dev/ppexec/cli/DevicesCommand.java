package dev.ppexec.cli;

import dev.ppexec.backend.cpu.CpuInfo;
import dev.ppexec.cuda.CudaPlatform;
import picocli.CommandLine.Command;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.util.concurrent.Callable;

/** {@code ppexec devices}: the CUDA devices this machine offers, or why there are none; then the CPU and its matmul tile. */
@Command(name = "devices", mixinStandardHelpOptions = true,
        description = "List CUDA devices (name, memory, compute capability, memory bandwidth peak), or say why there are none.")
final class DevicesCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        CudaPlatform platform = CudaPlatform.detect();
        platform.devices().forEach(d -> out.println(d.describe()));
        platform.devices().forEach(d -> out.println(d.describeMemory()));
        if (platform.devices().isEmpty()) {
            out.println("no CUDA devices: " + platform.unavailableReason().orElse("none listed"));
        }
        platform.driver().ifPresent(driver -> out.println(driver + "; matmul: " + platform.matmul()));
        platform.unavailableReason().filter(r -> !platform.devices().isEmpty())
                .ifPresent(r -> out.println("CUDA backend unavailable: " + r));
        out.println("cpu: always available (--device cpu, and --device auto's fallback): " + CpuInfo.current().describe());
        return 0;
    }
}
