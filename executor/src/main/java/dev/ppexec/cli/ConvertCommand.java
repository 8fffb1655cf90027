package dev.ppexec.cli;

import dev.ppexec.io.OutputCheck;
import dev.ppexec.io.Printable;
import dev.ppexec.perfetto.ConvertResult;
import dev.ppexec.perfetto.PerfettoConverter;
import dev.ppexec.perfetto.TraceCounts;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code ppexec convert}: an OTLP-JSON trace to Chrome trace-event JSON for https://ui.perfetto.dev. */
@Command(name = "convert", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Convert an OTLP-JSON trace (JSON lines or one array; several files, such as a world's rank files, merge into one) to Chrome trace-event JSON for https://ui.perfetto.dev.")
final class ConvertCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    TraceInput input;

    @Option(names = "--output", required = true, paramLabel = "OUT.json", description = "Chrome trace-event JSON to write.")
    Path output;

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        return StopOnSignal.guard(err, "convert", false, signal -> convert(spec.commandLine().getOut(), err, signal));
    }

    private Integer convert(PrintWriter out, PrintWriter err, StopOnSignal signal) {
        input.check();
        input.inputsOf(new OutputCheck()).output("--output", output).check();
        ConvertResult r;
        try {
            r = PerfettoConverter.convert(input.paths(), output, input.lenient, input.skipPrinter(err, "convert"));
        } catch (UncheckedIOException e) {
            throw new UncheckedIOException("--output " + e.getMessage(), e.getCause()); // "OUT: cannot write: why"
        }
        if (signal.signalled()) {
            return 1; // written whole before the signal; the stop line is the hook's
        }
        input.printSkipped(err, "convert", r.read());
        for (String warning : r.warnings()) {
            out.println("warning: " + warning);
        }
        TraceCounts w = r.written();
        out.printf(Locale.ROOT, "%s: %,d slices, %,d arrows, %s, %s, from %,d spans (%,d per-request copies merged, "
                        + "%,d thread spans not drawn)%n", Printable.path(output), w.slices(), w.flows(),
                count(w.processes(), "process", "processes"), count(w.tracks(), "track", "tracks"), r.read().spans(),
                w.mergedCopies(), w.threadSpans());
        if (w.backwardFlows() > 0) {
            out.printf(Locale.ROOT, "%,d pairs without an arrow: the device or receive side starts before its launch or send (clocks disagree)%n",
                    w.backwardFlows());
        }
        out.println("open it at https://ui.perfetto.dev (Open trace file)");
        return 0;
    }

    private static String count(int n, String one, String many) {
        return n + " " + (n == 1 ? one : many);
    }
}
