package dev.ppexec.perfetto;

import dev.ppexec.otlp.Flows;
import dev.ppexec.otlp.LanePacker;
import dev.ppexec.otlp.SliceTable;
import dev.ppexec.trace.SpanContract;
import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import dev.ppexec.otlp.SliceTable.Process;
import dev.ppexec.otlp.SliceTable.Role;
import dev.ppexec.otlp.SliceTable.Track;

import java.io.IOException;
import java.io.OutputStream;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a {@link SliceTable} as Chrome trace-event JSON, which https://ui.perfetto.dev opens.
 *
 * <p>One process per rank (others after them), {@code M} events naming processes and threads,
 * each track's slices packed on lanes that nest ({@link LanePacker}), one {@code X} event per
 * slice, then one {@code s}/{@code f} pair (with {@code bp:"e"}) per {@link Flows} pair whose
 * target does not start before its source. Times are microseconds since the Unix epoch, written
 * with all nine digits of the nanoseconds ({@code 1700000000123456.789}): Perfetto reads the text
 * exactly, and traces of other processes (or a PyTorch profiler trace in epoch time) line up.
 */
final class ChromeTraceWriter {

    private static final JsonFactory JSON = new JsonFactory();
    private static final String CATEGORY = "ppexec";

    private final SliceTable table;
    private final JsonGenerator g;
    private final Map<Process, Integer> pids = new HashMap<>();
    private int tids;
    private int lanes;
    private int flows;
    private int backwardFlows;

    private ChromeTraceWriter(SliceTable table, JsonGenerator g) {
        this.table = table;
        this.g = g;
    }

    static TraceCounts write(SliceTable table, OutputStream out) throws IOException {
        try (JsonGenerator g = JSON.createGenerator(out, JsonEncoding.UTF8)) {
            ChromeTraceWriter w = new ChromeTraceWriter(table, g);
            g.writeStartObject();
            g.writeArrayFieldStart("traceEvents");
            int[] tidOf = w.writeSlices();
            w.writeFlows(tidOf);
            g.writeEndArray();
            g.writeObjectFieldStart("otherData");
            g.writeStringField("generator", "ppexec convert");
            g.writeStringField("timeUnit", "microseconds since the Unix epoch");
            g.writeEndObject();
            g.writeEndObject();
            return new TraceCounts(table.size(), table.mergedCopies(), table.threadSpans(), w.flows, w.backwardFlows, w.pids.size(), w.lanes);
        }
    }

    /** Writes every slice, track by track in display order; returns each slice's tid. */
    private int[] writeSlices() throws IOException {
        int[] trackRank = trackRanks();
        int n = table.size();
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        IndexSort.sort(order, (a, b) -> {
            int c = Integer.compare(trackRank[table.trackId(a)], trackRank[table.trackId(b)]);
            if (c == 0) {
                c = Long.compare(table.start(a), table.start(b));
            }
            return c != 0 ? c : Long.compare(table.end(b), table.end(a));
        });
        int[] tidOf = new int[n];
        int current = -1;
        LanePacker packer = null;
        List<Integer> laneTids = new ArrayList<>();
        int pid = 0;
        for (int i : order) {
            Track track = table.track(table.trackId(i));
            if (table.trackId(i) != current) {
                current = table.trackId(i);
                packer = new LanePacker(track.role() == Role.REQUESTS);
                laneTids.clear();
                pid = pid(track.process());
            }
            int lane = packer.place(table.start(i), table.end(i), table.owner(i));
            if (lane == laneTids.size()) {
                laneTids.add(++tids);
                lanes++;
                metadata("thread_name", pid, tids, laneName(track, lane));
            }
            tidOf[i] = laneTids.get(lane);
            slice(i, pid, tidOf[i]);
        }
        return tidOf;
    }

    /** Display order of tracks: rank processes by DP, TP, PP; then the others by name; then CPU, streams, requests, threads. */
    private int[] trackRanks() {
        Comparator<Process> processes = Comparator
                .comparing((Process p) -> p.rank() == null)
                .thenComparingInt(p -> p.rank() == null ? 0 : p.rank().dp())
                .thenComparingInt(p -> p.rank() == null ? 0 : p.rank().tp())
                .thenComparingInt(p -> p.rank() == null ? 0 : p.rank().pp())
                .thenComparing(Process::name);
        Comparator<Track> tracks = Comparator.comparing(Track::process, processes)
                .thenComparing(Track::role)
                .thenComparing(Track::label);
        List<Integer> ids = new ArrayList<>();
        for (int t = 0; t < table.trackCount(); t++) {
            ids.add(t);
        }
        ids.sort(Comparator.comparing(table::track, tracks));
        int[] rank = new int[ids.size()];
        for (int r = 0; r < ids.size(); r++) {
            rank[ids.get(r)] = r;
        }
        return rank;
    }

    private static String laneName(Track track, int lane) {
        if (track.role() == Role.REQUESTS) {
            return "req slot " + (lane + 1);
        }
        return lane == 0 ? track.label() : track.label() + " (overlap " + lane + ")";
    }

    private int pid(Process process) throws IOException {
        Integer pid = pids.get(process);
        if (pid == null) {
            pid = pids.size() + 1;
            pids.put(process, pid);
            metadata("process_name", pid, 0, process.name());
        }
        return pid;
    }

    private void metadata(String name, int pid, int tid, String value) throws IOException {
        g.writeStartObject();
        g.writeStringField("ph", "M");
        g.writeStringField("name", name);
        g.writeNumberField("pid", pid);
        g.writeNumberField("tid", tid);
        g.writeObjectFieldStart("args");
        g.writeStringField("name", value);
        g.writeEndObject();
        g.writeEndObject();
    }

    private void slice(int i, int pid, int tid) throws IOException {
        g.writeStartObject();
        g.writeStringField("ph", "X");
        g.writeStringField("cat", CATEGORY);
        g.writeStringField("name", table.name(i));
        g.writeNumberField("pid", pid);
        g.writeNumberField("tid", tid);
        micros("ts", table.start(i));
        micros("dur", table.end(i) - table.start(i));
        g.writeObjectFieldStart("args");
        if (table.kind(i).batch()) {
            g.writeNumberField(SpanContract.PP_MB_ID.name(), table.microBatch(i));
            if (table.step(i) >= 0) {
                g.writeNumberField(SpanContract.STEP.name(), table.step(i));
            }
            g.writeArrayFieldStart("rids");
            for (String rid : table.rids(i)) {
                g.writeString(rid);
            }
            g.writeEndArray();
        }
        for (Map.Entry<String, Object> e : table.args(i).entrySet()) {
            g.writeFieldName(e.getKey());
            value(e.getValue());
        }
        g.writeEndObject();
        g.writeEndObject();
    }

    private void writeFlows(int[] tidOf) throws IOException {
        Map<Integer, Integer> trackPid = new HashMap<>();
        for (int t = 0; t < table.trackCount(); t++) {
            Integer pid = pids.get(table.track(t).process());
            if (pid != null) {
                trackPid.put(t, pid);
            }
        }
        IOException[] failure = new IOException[1];
        Flows.forEach(table, (source, target, type) -> {
            if (failure[0] != null) {
                return;
            }
            if (table.start(target) < table.start(source)) {
                backwardFlows++;
                return;
            }
            try {
                flows++;
                flow("s", flows, type, trackPid.get(table.trackId(source)), tidOf[source], table.start(source));
                flow("f", flows, type, trackPid.get(table.trackId(target)), tidOf[target], table.start(target));
            } catch (IOException e) {
                failure[0] = e;
            }
        });
        if (failure[0] != null) {
            throw failure[0];
        }
    }

    private void flow(String phase, int id, Flows.Type type, int pid, int tid, long nanos) throws IOException {
        g.writeStartObject();
        g.writeStringField("ph", phase);
        if (phase.equals("f")) {
            g.writeStringField("bp", "e");
        }
        g.writeStringField("cat", CATEGORY);
        g.writeStringField("name", type.label());
        g.writeNumberField("id", id);
        g.writeNumberField("pid", pid);
        g.writeNumberField("tid", tid);
        micros("ts", nanos);
        g.writeEndObject();
    }

    /** Nanoseconds as exact decimal microseconds: 1234567 ns is {@code 1234.567}. */
    private void micros(String field, long nanos) throws IOException {
        g.writeFieldName(field);
        g.writeNumber(BigDecimal.valueOf(nanos, 3).stripTrailingZeros().toPlainString());
    }

    @SuppressWarnings("unchecked")
    private void value(Object v) throws IOException {
        switch (v) {
            case String s -> g.writeString(s);
            case Long l -> g.writeNumber(l);
            case Double d when Double.isFinite(d) -> g.writeNumber(d);
            case Double d -> g.writeString(d.toString());
            case Boolean b -> g.writeBoolean(b);
            case List<?> list -> {
                g.writeStartArray();
                for (Object o : list) {
                    value(o);
                }
                g.writeEndArray();
            }
            case Map<?, ?> map -> {
                g.writeStartObject();
                for (Map.Entry<String, Object> e : ((Map<String, Object>) map).entrySet()) {
                    g.writeFieldName(e.getKey());
                    value(e.getValue());
                }
                g.writeEndObject();
            }
            default -> g.writeString(String.valueOf(v));
        }
    }
}
