package dev.ppexec.cli;

import dev.ppexec.dist.Launcher;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.util.List;
import java.util.concurrent.Callable;

/** {@code ppexec launch --nproc N -- run ...}: N rank processes of this host, as {@code torchrun --standalone} does. */
@Command(name = "launch", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Run the command after -- as N rank processes on this host (RANK, WORLD_SIZE, MASTER_ADDR, "
                + "MASTER_PORT and a fresh PPEXEC_WORLD_TOKEN set for each); output prefixed [PP r].")
final class LaunchCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--nproc", required = true, description = "Rank processes to start (2 or more).")
    int nproc;

    @Option(names = "--master-port", defaultValue = "0",
            description = "Port of rank 0's rendezvous store on 127.0.0.1 (default: a free one).")
    int masterPort;

    @Parameters(paramLabel = "COMMAND", description = "The ppexec command each rank runs, after --: run ...")
    List<String> command = List.of();

    @Override
    public Integer call() throws InterruptedException {
        if (nproc < 2 || nproc > 64) {
            throw new UsageException("--nproc " + nproc + " is out of range; allowed: 2..64");
        }
        if (masterPort < 0 || masterPort > 65535) {
            throw new UsageException("--master-port " + masterPort + " is out of range; allowed: 1..65535, "
                    + "or 0 for a free port");
        }
        if (command.isEmpty() || !command.getFirst().equals("run")) {
            throw new UsageException("launch: command '" + String.join(" ", command) + "'; allowed: -- run "
                    + "[run's options] (each rank runs it)");
        }
        Launcher.requireGrpc();
        Launcher.Outcome o = new Launcher().run(nproc, masterPort, command, spec.commandLine().getOut(),
                spec.commandLine().getErr());
        return o.status() == 0 ? 0 : o.status() > 128 ? 1 : o.status();
    }
}
