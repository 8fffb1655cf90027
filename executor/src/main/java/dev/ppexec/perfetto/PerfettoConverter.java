package dev.ppexec.perfetto;

import dev.ppexec.otlp.SliceTable;
import dev.ppexec.otlp.SpanRecord;
import dev.ppexec.otlp.TraceFiles;
import dev.ppexec.otlp.TraceInputException;
import dev.ppexec.io.AtomicFile;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * Turns spans into a Chrome trace-event file for https://ui.perfetto.dev: per rank a CPU track
 * ({@code run_batch_cpu}), a track per device stream ({@code run_batch_device}, {@code pp_send},
 * {@code pp_recv}) and request slots, with arrows from each launch to its device work and from
 * each send to the next rank's receive.
 *
 * <p>Feed it spans ({@link #accept}), from a file or from a run, then {@link #write} once. It
 * holds the compact slice table only (Note [compact slices] in {@link SliceTable}), never the
 * spans.
 */
public final class PerfettoConverter implements Consumer<SpanRecord> {

    private final SliceTable table = new SliceTable();

    @Override
    public void accept(SpanRecord span) {
        table.add(span);
    }

    /** Writes the trace (to a temporary file beside {@code output}, then renamed). */
    public TraceCounts write(Path output) throws IOException {
        Objects.requireNonNull(output, "output");
        TraceCounts[] counts = new TraceCounts[1];
        AtomicFile.write(output, out -> counts[0] = ChromeTraceWriter.write(table, out));
        return counts[0];
    }

    /**
     * Converts OTLP-JSON files (reading each once) into one Chrome trace-event file: one file, or
     * the rank files of a world merged (Note [merged world] in {@link TraceFiles}).
     *
     * @param lenient skip lines that cannot be read, telling {@code onSkip} each one, instead of
     *                stopping at the first
     * @throws TraceInputException a missing file, a line that is not OTLP-JSON (unless lenient),
     *                             no span in any file, or files that are not of one run
     */
    public static ConvertResult convert(List<Path> inputs, Path output, boolean lenient, Consumer<String> onSkip) {
        PerfettoConverter converter = new PerfettoConverter();
        TraceFiles.Result read = TraceFiles.read(inputs, lenient, converter, onSkip);
        try {
            return new ConvertResult(read.read(), converter.write(output), read.warnings());
        } catch (IOException e) {
            throw new UncheckedIOException(output + ": cannot write: " + e.getMessage(), e);
        }
    }

    /** {@link #convert(List, Path, boolean, Consumer)} of one file. */
    public static ConvertResult convert(Path input, Path output, boolean lenient, Consumer<String> onSkip) {
        return convert(List.of(input), output, lenient, onSkip);
    }
}
