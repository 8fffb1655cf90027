package dev.ppexec.otlp;

import dev.ppexec.trace.SpanContract;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Reads sglang's schema as its converter ({@code scripts/convert_otel_2_perfetto.py}) does, so that
 * the slice table and the report place sglang's spans as they place ppexec's.
 *
 * <p>Note [sglang spans]: sglang's slices carry neither the rank nor the request: they hang below a
 * thread span ({@code pp_rank}, {@code dp_rank}, {@code tp_rank}, {@code host_id}, {@code pid},
 * {@code thread_label}), itself a child of the request's root ({@code module}
 * {@code sglang::request}, {@code rid}), found by parentSpanId only. So the spans of resources
 * named {@code sglang} that lack either a rank or a rid wait here, with the roots and the thread
 * spans, until the file is read (a child is often exported before its parent); then each slice
 * gets its root's rid, its thread span's ranks and host_id, and the process name sglang's
 * converter gives the thread ({@code host_id[:8]:thread_label-PP{pp}-DP{dp}-TP{tp}}, each
 * suffix where the thread span has the rank; the thread span gets it too), and a root gets its
 * first thread's host_id. A span
 * that already names its rank and request (ppexec's own slices in sglang's schema) passes at once,
 * so only sglang's own traces are held whole. Spans of other resources pass unchanged; waiting
 * spans whose root never came are handed on as they are.
 */
final class SglangSpans {

    /** The process name sglang's converter gives a slice's thread; a column of the slice, not an argument. */
    static final String PROCESS_KEY = "sglang.process_name";

    private static final String MOONCAKE_MODULE = "sglang::mooncake";
    /** In the order sglang's converter appends them to a process name. */
    private static final List<SpanContract.Key> RANKS = List.of(SpanContract.PP_RANK, SpanContract.DP_RANK,
            SpanContract.TP_RANK);

    private record Held(SpanRecord span, String parentId) {}

    private final Consumer<SpanRecord> sink;
    private final Map<String, Held> byId = new HashMap<>();
    private final List<Held> held = new ArrayList<>();

    SglangSpans(Consumer<SpanRecord> sink) {
        this.sink = sink;
    }

    void accept(SpanRecord span, String spanId, String parentId) {
        boolean complete = span.intAttribute(SpanContract.PP_RANK.name()) != null
                && span.attributes().containsKey(SpanContract.RID.name());
        if (complete || !SpanContract.SGLANG_SERVICE.equals(span.resource().get(SpanContract.SERVICE_NAME.name()))) {
            sink.accept(span);
            return;
        }
        Held h = new Held(span, parentId == null || parentId.isEmpty() ? null : parentId);
        held.add(h);
        if (spanId != null) {
            byId.put(spanId, h);
        }
    }

    /** Hands on every waiting span, with what its root and thread span say. */
    void finish() {
        Map<Held, String> rootHost = new HashMap<>();
        for (Held h : held) {
            Held thread = threadOf(h);
            if (thread != null && thread != h) {
                rootHost.putIfAbsent(byId.get(thread.parentId()), thread.span().stringAttribute(SpanContract.HOST_ID.name()));
            }
        }
        for (Held h : held) {
            Held thread = threadOf(h);
            SpanRecord s = h.span();
            if (isRoot(s)) {
                String host = rootHost.get(h);
                sink.accept(host == null ? s : with(s, Map.of(SpanContract.HOST_ID.name(), host)));
            } else if (thread == h) {
                sink.accept(with(s, Map.of(PROCESS_KEY, processName(s))));
            } else if (thread == null) {
                sink.accept(s);
            } else {
                sink.accept(with(s, inherited(thread.span(), byId.get(thread.parentId()).span())));
            }
        }
        held.clear();
        byId.clear();
    }

    /** The thread span above {@code h} (a child of a root), {@code h} itself when it is one, or null. */
    private Held threadOf(Held h) {
        Held child = null;
        Held at = h;
        for (int depth = 0; at != null && depth <= byId.size(); depth++) {
            if (isRoot(at.span())) {
                return child;
            }
            child = at;
            at = at.parentId() == null ? null : byId.get(at.parentId());
        }
        return null;
    }

    private static boolean isRoot(SpanRecord span) {
        String module = span.stringAttribute(SpanContract.MODULE.name());
        return SpanContract.SGLANG_REQUEST_MODULE.equals(module) || MOONCAKE_MODULE.equals(module);
    }

    /** What a slice takes from its thread span and root. */
    private static Map<String, Object> inherited(SpanRecord thread, SpanRecord root) {
        Map<String, Object> add = new LinkedHashMap<>();
        Object rid = root.attributes().get(SpanContract.RID.name());
        if (rid != null) {
            add.put(SpanContract.RID.name(), rid);
        }
        for (SpanContract.Key rank : RANKS) {
            Object v = thread.attributes().get(rank.name());
            if (v != null) {
                add.put(rank.name(), v);
            }
        }
        String host = thread.stringAttribute(SpanContract.HOST_ID.name());
        if (host != null) {
            add.put(SpanContract.HOST_ID.name(), host);
        }
        add.put(PROCESS_KEY, processName(thread));
        return add;
    }

    /** {@code host_id[:8]:thread_label-PP{pp}-DP{dp}-TP{tp}}, each suffix where the thread span has that rank. */
    private static String processName(SpanRecord thread) {
        StringBuilder process = new StringBuilder();
        String host = thread.stringAttribute(SpanContract.HOST_ID.name());
        process.append(host == null ? "" : host.substring(0, Math.min(8, host.length()))).append(':')
                .append(thread.stringAttribute(SpanContract.THREAD_LABEL.name()));
        for (SpanContract.Key rank : RANKS) {
            Object v = thread.attributes().get(rank.name());
            if (v != null) {
                process.append('-').append(rank.name().substring(0, 2).toUpperCase(Locale.ROOT)).append(v);
            }
        }
        return process.toString();
    }

    /** {@code span} with {@code add} put where it has no such attribute. */
    private static SpanRecord with(SpanRecord span, Map<String, Object> add) {
        Map<String, Object> attributes = new LinkedHashMap<>(span.attributes());
        add.forEach(attributes::putIfAbsent);
        return new SpanRecord(span.name(), span.startNanos(), span.endNanos(), attributes, span.resource());
    }
}
