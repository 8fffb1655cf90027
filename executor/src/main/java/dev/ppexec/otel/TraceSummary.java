package dev.ppexec.otel;

import dev.ppexec.trace.TraceLevel;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What a run's tracing delivered: spans ended, and per destination how many arrived, how many the
 * export queue dropped, and how many were lost on the way (with the first reason).
 *
 * @param flushedInTime whether shutdown finished within {@code flushBound}
 */
public record TraceSummary(TraceLevel level, long spans, List<Destination> destinations, boolean flushedInTime,
                           Duration flushBound) {

    /**
     * @param dropped     spans the export queue had no room for
     * @param undelivered spans handed to the exporter that did not arrive (failed, or still in flight at the bound)
     */
    public record Destination(String name, long exported, long dropped, long undelivered, String error) {

        public long lost() {
            return dropped + undelivered;
        }
    }

    public long lost() {
        return destinations.stream().mapToLong(Destination::lost).sum();
    }

    /** The summary's lines: one per destination, each saying what was lost and why when anything was. */
    public List<String> lines() {
        List<String> lines = new ArrayList<>();
        for (Destination d : destinations) {
            if (d.lost() == 0) {
                lines.add(String.format(Locale.ROOT, "trace: %,d spans (level %d) to %s", d.exported(), level.value(),
                        d.name()));
                continue;
            }
            List<String> why = new ArrayList<>();
            if (d.dropped() > 0) {
                why.add(String.format(Locale.ROOT, "%,d dropped: export queue full (OTEL_BSP_MAX_QUEUE_SIZE)", d.dropped()));
            }
            if (d.undelivered() > 0) {
                String reason = d.error() != null ? d.error()
                        : flushedInTime ? "export failed" : "flush did not finish within " + flushBound.toSeconds() + " s";
                why.add(String.format(Locale.ROOT, "%,d not delivered: %s", d.undelivered(), reason));
            }
            lines.add(String.format(Locale.ROOT, "trace: %s: %,d of %,d spans lost (%s)", d.name(), d.lost(), spans,
                    String.join("; ", why)));
        }
        return lines;
    }
}
