package dev.ppexec.perfetto;

import dev.ppexec.otlp.OtlpJsonReader;
import dev.ppexec.otlp.ReadSummary;
import dev.ppexec.otlp.SliceTable;
import dev.ppexec.otlp.SpanRecord;
import dev.ppexec.otlp.TraceInputException;
import dev.ppexec.io.AtomicFile;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
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
     * Converts an OTLP-JSON file (reading it once) into a Chrome trace-event file.
     *
     * @param lenient skip lines that cannot be read, telling {@code onSkip} each one, instead of
     *                stopping at the first
     * @throws TraceInputException a missing file, a line that is not OTLP-JSON (unless lenient),
     *                             or a file without any span
     */
    public static ConvertResult convert(Path input, Path output, boolean lenient, Consumer<String> onSkip) {
        PerfettoConverter converter = new PerfettoConverter();
        ReadSummary read = OtlpJsonReader.read(input, lenient, converter, onSkip).requireSpans(input.toString());
        try {
            return new ConvertResult(read, converter.write(output));
        } catch (IOException e) {
            throw new UncheckedIOException(output + ": cannot write: " + e.getMessage(), e);
        }
    }
}
