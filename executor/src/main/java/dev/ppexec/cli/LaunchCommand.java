package dev.ppexec.cli;

import dev.ppexec.dist.Launcher;
import dev.ppexec.io.OutputCheck;
import dev.ppexec.otlp.TraceInputException;
import dev.ppexec.perfetto.ConvertResult;
import dev.ppexec.perfetto.PerfettoConverter;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
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
            description = "Port of rank 0's rendezvous store on 127.0.0.1 (default 0: rank 0 binds a free one and "
                    + "publishes it to the other ranks).")
    int masterPort;

    @Option(names = "--perfetto", paramLabel = "OUT.json",
            description = "When the ranks have ended, merge their trace files (the run's --trace-file DIR/t.jsonl: "
                    + "DIR/t.rank{r}.jsonl) into one Chrome trace JSON for ui.perfetto.dev, as ppexec convert does.")
    Path perfetto;

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
        Path traceFile = traceFileOf(command); // run's options, parsed once here: a typo is one line, not one per rank
        List<Path> rankFiles = perfetto == null ? List.of() : rankFiles(traceFile);
        Launcher.requireGrpc();
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Launcher.Outcome o = new Launcher().run(nproc, masterPort, command, out, err);
        int status = o.status() == 0 ? 0 : o.status() > 128 ? 1 : o.status();
        if (perfetto != null && !convert(rankFiles, out, err)) {
            return status == 0 ? 1 : status;
        }
        return status;
    }

    /** The files the ranks will write for --perfetto to merge, checked as outputs before any rank starts. */
    private List<Path> rankFiles(Path traceFile) {
        if (traceFile == null) {
            throw new UsageException("--perfetto " + perfetto + ": the ranks write no trace file; allowed: with "
                    + "--trace-file DIR/t.jsonl in the run command (rank r writes DIR/t.rank{r}.jsonl)");
        }
        List<Path> files = new ArrayList<>();
        OutputCheck check = new OutputCheck().output("--perfetto", perfetto);
        for (int r = 0; r < nproc; r++) {
            files.add(InWorld.rankFile(traceFile, r));
            check.output("--trace-file (rank " + r + ")", files.getLast());
        }
        check.check();
        return files;
    }

    /** The run command's {@code --trace-file} (or null), read by run's own option parsing; bad options exit 2 here. */
    static Path traceFileOf(List<String> command) {
        RunCommand run = new RunCommand();
        CommandLine cl = new CommandLine(run);
        AsciiNumbers.register(cl);
        try {
            cl.parseArgs(command.subList(1, command.size()).toArray(String[]::new));
        } catch (CommandLine.ParameterException e) {
            throw new UsageException("-- run: " + e.getMessage());
        }
        return run.traceFile;
    }

    /**
     * Merges the rank files that exist (a failed world still has what its surviving ranks wrote) into --perfetto;
     * false when nothing could be converted.
     */
    private boolean convert(List<Path> rankFiles, PrintWriter out, PrintWriter err) {
        List<Path> written = rankFiles.stream().filter(Files::isRegularFile).toList();
        if (written.isEmpty()) {
            err.println("launch: --perfetto " + perfetto + ": not converted: no rank wrote its trace file");
            return false;
        }
        try {
            ConvertResult r = PerfettoConverter.convert(written, perfetto, false, skipped -> {});
            r.warnings().forEach(w -> out.println("warning: " + w));
            out.printf(Locale.ROOT, "perfetto: %s (%,d slices, %,d arrows, %d rank files merged); open it at "
                    + "https://ui.perfetto.dev%n", perfetto, r.written().slices(), r.written().flows(), written.size());
            return true;
        } catch (TraceInputException | UncheckedIOException e) {
            err.println("launch: --perfetto " + perfetto + ": not converted: " + e.getMessage());
            return false;
        }
    }
}
