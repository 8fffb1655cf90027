package dev.ppexec.otlp;

/**
 * What a read of an OTLP-JSON file saw.
 *
 * @param units   lines read (JSON lines), or elements read (one JSON array), blank lines left out
 * @param skipped units skipped under {@code --lenient}
 * @param spans   spans handed on
 * @param unit    {@code "line"} or {@code "array element"}
 */
public record ReadSummary(long units, long skipped, long spans, String unit) {

    /**
     * Fails when the read found no span at all: there is nothing to convert or report.
     *
     * @throws TraceInputException naming the file and what it held
     */
    public ReadSummary requireSpans(String label) {
        if (spans == 0) {
            throw new TraceInputException(label + ": no spans in " + units + " " + unit + (units == 1 ? "" : "s")
                    + (skipped > 0 ? " (" + skippedText() + ")" : "") + "; allowed: an OTLP-JSON trace with spans");
        }
        return this;
    }

    /** {@code "skipped 2 of 40 lines"}. */
    public String skippedText() {
        return "skipped " + skipped + " of " + units + " " + unit + (units == 1 ? "" : "s");
    }
}
