package dev.ppexec.cli;

import dev.ppexec.perfetto.ConvertResult;
import dev.ppexec.perfetto.PerfettoConverter;
import dev.ppexec.perfetto.TraceCounts;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code ppexec convert}: an OTLP-JSON trace to Chrome trace-event JSON for https://ui.perfetto.dev. */
@Command(name = "convert", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Convert an OTLP-JSON trace (JSON lines or one array) to Chrome trace-event JSON for https://ui.perfetto.dev.")
final class ConvertCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--input", required = true, paramLabel = "TRACE", description = "OTLP-JSON trace file.")
    Path input;

    @Option(names = "--output", required = true, paramLabel = "OUT.json", description = "Chrome trace-event JSON to write.")
    Path output;

    @Option(names = "--lenient", description = "Skip lines that cannot be read (and count them) instead of stopping.")
    boolean lenient;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        TraceFiles.checkInput(input);
        TraceFiles.checkOutput("--output", output, input);
        ConvertResult r = PerfettoConverter.convert(input, output, lenient, TraceFiles.skipPrinter(err, "convert"));
        TraceFiles.printSkipped(err, "convert", r.read());
        TraceCounts w = r.written();
        out.printf(Locale.ROOT, "%s: %,d slices (%,d per-request copies merged), %,d arrows, %d processes, %d tracks, from %,d spans%n",
                output, w.slices(), w.mergedCopies(), w.flows(), w.processes(), w.tracks(), r.read().spans());
        if (w.backwardFlows() > 0) {
            out.printf(Locale.ROOT, "%,d pairs without an arrow: the device or receive side starts before its launch or send (clocks disagree)%n",
                    w.backwardFlows());
        }
        out.println("open it at https://ui.perfetto.dev (Open trace file)");
        return 0;
    }
}
