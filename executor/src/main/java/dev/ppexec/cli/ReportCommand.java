package dev.ppexec.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.ppexec.io.Desktop;
import dev.ppexec.io.OutputCheck;
import dev.ppexec.io.Printable;
import dev.ppexec.io.PngFile;
import dev.ppexec.report.KernelReport;
import dev.ppexec.report.TimelinePainter;
import dev.ppexec.report.TraceReport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

/** {@code ppexec report}: per-rank CPU-launch versus device time of a traced run, and its bubble. */
@Command(name = "report", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Per rank: micro-batches, CPU launch and device time, device idle share, launch-to-device latency; "
                + "for the run: tokens/s and measured vs ideal bubble.")
final class ReportCommand implements Callable<Integer> {

    enum Format { text, json }

    @Spec
    CommandSpec spec;

    @Mixin
    TraceInput input;

    @Option(names = "--format", defaultValue = "text", description = "text or json (default: ${DEFAULT-VALUE}).")
    Format format;

    @Option(names = "--timeline", paramLabel = "OUT.png", description = "Also draw the ranks' CPU and stream lanes over time as a PNG.")
    Path timeline;

    @Option(names = "--kernels", description = "Print per rank each kernel slice's count, total, mean and share of device "
            + "time instead (a trace of run --trace-level 5).")
    boolean kernels;

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        return StopOnSignal.guard(err, "report", false, signal -> report(spec.commandLine().getOut(), err, signal));
    }

    private Integer report(PrintWriter out, PrintWriter err, StopOnSignal signal) throws IOException {
        input.check();
        input.inputsOf(new OutputCheck()).output("--timeline", timeline).check();
        if (timeline != null) {
            if (!Desktop.available()) {
                throw new UsageException("--timeline " + timeline + ": this Java runtime has no java.desktop "
                        + "module to draw with; allowed: a full JDK or JRE (the GPU bundle's runtime has none)");
            }
        }
        TraceReport.Builder builder = TraceReport.builder();
        KernelReport kernelReport = kernels ? new KernelReport() : null;
        input.read(kernels ? builder.andThen(kernelReport) : builder, err, "report");
        TraceReport report = builder.build();
        if (kernels && kernelReport.isEmpty()) {
            throw new UsageException("--kernels: " + input.paths().stream().map(Path::toString)
                    .collect(Collectors.joining(", ")) + " holds no kernel slices; allowed: a trace of "
                    + "ppexec run --trace-level 5");
        }
        if (timeline != null && report.ranks().isEmpty()) {
            throw new UsageException("--timeline " + timeline + ": nothing to draw: no run_batch_cpu, "
                    + "run_batch_device, pp_send or pp_recv spans in " + input.describe() + " (traced below level 4?)");
        }
        if (format == Format.json) {
            Object json = kernels ? kernelReport.toJson() : report.toJson();
            out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(json));
        } else if (kernels) {
            kernelReport.printText(out);
        } else {
            report.printText(out);
        }
        if (timeline != null) {
            try {
                if (!TimelinePng.write(timeline, report, input.describe(), signal)) {
                    return 1; // asked there, not by the interrupt: a font's first load clears the thread's interrupt flag
                }
            } catch (IOException e) {
                throw new UncheckedIOException("--timeline " + timeline + ": cannot write: " + e.getMessage(), e);
            }
            (format == Format.json ? err : out).println("timeline: " + Printable.path(timeline));
        }
        return 0;
    }

    /**
     * The timeline's picture, in a class of its own so that java.desktop (java.awt.image) is loaded only when
     * --timeline asks for it: the verifier of the command's own class would load it at the CLI's start, and the GPU
     * bundle's runtime has no java.desktop.
     */
    private static final class TimelinePng {

        /** Paints and writes the picture; false, with nothing written, when a signal came while painting. */
        static boolean write(Path file, TraceReport report, String title, StopOnSignal signal) throws IOException {
            BufferedImage picture = TimelinePainter.paint(report, title);
            if (signal.signalled()) {
                return false;
            }
            PngFile.write(file, picture);
            return true;
        }
    }
}
