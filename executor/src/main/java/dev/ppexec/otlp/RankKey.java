package dev.ppexec.otlp;

import dev.ppexec.trace.SpanContract;

/**
 * One scheduler rank of a run: the host it ran on (first 8 characters, as sglang names it) and
 * its PP, DP and TP ranks. The converter draws one process per rank; the report has one row.
 *
 * @param process the process name sglang's converter gives the rank's thread, for a span of
 *                sglang's own schema (Note [sglang spans] in {@link SglangSpans}); null for ppexec's
 */
public record RankKey(String host, int pp, int dp, int tp, String process) {

    /** {@code PP1}, with {@code -DP1} and {@code -TP2} added only where those ranks are not 0. */
    public String label() {
        return "PP" + pp + (dp != 0 ? "-DP" + dp : "") + (tp != 0 ? "-TP" + tp : "");
    }

    /** The Perfetto process name, as sglang's converter spells it: {@code a1b2c3d4:Scheduler-PP1}. */
    public String processName() {
        return process != null ? process : host + ":Scheduler-" + label();
    }

    /** The rank of a span that carries {@code pp_rank}; {@code null} for one that does not. */
    public static RankKey of(SpanRecord span) {
        Integer pp = span.intAttribute(SpanContract.PP_RANK.name());
        if (pp == null) {
            return null;
        }
        Integer dp = span.intAttribute(SpanContract.DP_RANK.name());
        Integer tp = span.intAttribute(SpanContract.TP_RANK.name());
        return new RankKey(host8(span), pp, dp == null ? 0 : dp, tp == null ? 0 : tp,
                span.stringAttribute(SglangSpans.PROCESS_KEY));
    }

    /** The resource's host.name, else the span's host_id, cut to 8 characters; "unknown" without either. */
    static String host8(SpanRecord span) {
        Object host = span.resource().get(SpanContract.HOST_NAME.name());
        if (host == null) {
            host = span.attributes().get(SpanContract.HOST_ID.name());
        }
        String h = host == null ? "unknown" : host.toString();
        return h.length() > 8 ? h.substring(0, 8) : h;
    }
}
