package dev.ppexec.otlp;

import dev.ppexec.trace.SpanContract;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The slices of a trace, laid out on tracks, in primitive columns.
 *
 * <p>Note [compact slices]: a span read from OTLP-JSON takes about 600 bytes of text; a slice here
 * takes about 45 bytes (two longs and a few ints; names, tracks, argument sets and rids are
 * interned). The level-4 copies that every request of a micro-batch gets (same rank, name,
 * pp_mb_id, step, start and end) become one slice that lists their rids. So the converter and
 * the report read a trace once and hold far less than the file, whatever its order.
 *
 * <p>Layout (what {@link #add} does with each kind): a rank's {@code run_batch_cpu} goes to its
 * CPU track; {@code run_batch_device}, {@code pp_send} and {@code pp_recv} to the track of the
 * stream they name; request slices to the rank's request slots; {@code Req} roots to the
 * host's Requests process; other spans of a rank to its CPU track (or their stream's); spans
 * that name no rank to a process per resource, on a track per thread. Thread spans are not drawn:
 * the process name says what they say.
 */
public final class SliceTable {

    /** A process of the picture: a rank's scheduler (rank set) or another named process. */
    public record Process(RankKey rank, String name) {}

    /** How a track's slices share lanes (see {@code LanePacker}). */
    public enum Role { CPU, STREAM, REQUESTS, THREAD }

    /** A group of lanes in one process: e.g. PP0's CPU lanes, or those of {@code cuda:0 stream 1}. */
    public record Track(Process process, Role role, String label) {}

    private static final Set<String> RANK_KEYS = Set.of(SpanContract.PP_RANK.name(), SpanContract.TP_RANK.name(),
            SpanContract.DP_RANK.name(), SglangSpans.PROCESS_KEY);
    private static final Set<String> BATCH_KEYS = Set.of(SpanContract.PP_RANK.name(),
            SpanContract.TP_RANK.name(), SpanContract.DP_RANK.name(), SpanContract.RID.name(), SpanContract.PP_MB_ID.name(),
            SpanContract.STEP.name(), SglangSpans.PROCESS_KEY);
    private static final SpanKind[] KINDS = SpanKind.values();
    private static final Comparator<String> RID_ORDER = Comparator.comparingInt(String::length)
            .thenComparing(Comparator.naturalOrder());

    private final Interner<Track> tracks = new Interner<>();
    private final Interner<String> names = new Interner<>();
    private final Interner<Map<String, Object>> argSets = new Interner<>();
    private final Interner<String> rids = new Interner<>();
    private final IdIndex batchIndex = new IdIndex(new BatchKeys());

    private int size;
    private long[] start = new long[1024];
    private long[] end = new long[1024];
    private int[] track = new int[1024];
    private int[] name = new int[1024];
    private int[] owner = new int[1024];
    private int[] microBatch = new int[1024];
    private int[] step = new int[1024];
    private int[] args = new int[1024];
    private int[] ridHead = new int[1024];
    private byte[] kind = new byte[1024];

    private int ridCount;
    private int[] ridNext = new int[1024];
    private int[] ridValue = new int[1024];
    private long mergedCopies;
    private long threadSpans;

    /**
     * Adds a span where the layout above puts it; a level-4 copy of a slice already held only adds
     * its rid. Thread spans are not drawn and return false.
     */
    public boolean add(SpanRecord span) {
        SpanKind k = SpanKind.of(span);
        Track t = trackOf(span, k);
        if (t == null) {
            threadSpans++;
            return false;
        }
        int i = size;
        ensureCapacity(i + 1);
        start[i] = span.startNanos();
        end[i] = span.endNanos();
        track[i] = tracks.id(t);
        name[i] = names.id(span.name());
        kind[i] = (byte) k.ordinal();
        ridHead[i] = -1;
        String rid = span.stringAttribute(SpanContract.RID.name());
        if (k.batch()) {
            microBatch[i] = span.intAttribute(SpanContract.PP_MB_ID.name());
            Integer st = span.intAttribute(SpanContract.STEP.name());
            step[i] = st == null ? -1 : st;
            owner[i] = -1;
            args[i] = argSets.id(without(span.attributes(), BATCH_KEYS));
            int present = batchIndex.putIfAbsent(i);
            if (present != i) {
                mergedCopies++;
                addRid(present, rid);
                return true;
            }
            addRid(i, rid);
        } else {
            microBatch[i] = -1;
            step[i] = -1;
            owner[i] = (k == SpanKind.REQUEST || k == SpanKind.REQUEST_SLICE) ? rids.id(rid) : -1;
            boolean ranked = t.process().rank() != null;
            args[i] = argSets.id(ranked ? without(span.attributes(), RANK_KEYS) : span.attributes());
        }
        size++;
        return true;
    }

    /** Where the layout puts a span; {@code null} for a thread span (not drawn). */
    static Track trackOf(SpanRecord span, SpanKind k) {
        if (k == SpanKind.THREAD) {
            return null;
        }
        if (k == SpanKind.REQUEST) {
            return new Track(new Process(null, RankKey.host8(span) + ":Requests"), Role.REQUESTS, "requests");
        }
        if (k == SpanKind.OTHER) {
            return new Track(resourceProcess(span), Role.THREAD, threadLabel(span));
        }
        RankKey rank = RankKey.of(span);
        if (rank == null) {
            // An sglang thread without ranks (its tokenizer): a process of its own, as sglang's converter draws it.
            return new Track(new Process(null, span.stringAttribute(SglangSpans.PROCESS_KEY)), Role.REQUESTS, "requests");
        }
        Process p = new Process(rank, rank.processName());
        String stream = span.stringAttribute(SpanContract.STREAM.name());
        return switch (k) {
            case BATCH_CPU -> new Track(p, Role.CPU, "CPU");
            case BATCH_DEVICE, PP_SEND, PP_RECV -> new Track(p, Role.STREAM, stream == null ? "device" : stream);
            case REQUEST_SLICE -> new Track(p, Role.REQUESTS, "requests");
            default -> stream == null ? new Track(p, Role.CPU, "CPU") : new Track(p, Role.STREAM, stream);
        };
    }

    private static Process resourceProcess(SpanRecord span) {
        Object service = span.resource().getOrDefault(SpanContract.SERVICE_NAME.name(), "unknown_service");
        if (SpanContract.SMG_SERVICE.equals(service)) {
            return new Process(null, SpanContract.SMG_SERVICE); // as sglang's converter names its gateway
        }
        Object pid = span.resource().get(SpanContract.PROCESS_PID.name());
        return new Process(null, RankKey.host8(span) + ":" + service + (pid == null ? "" : " pid " + pid));
    }

    private static String threadLabel(SpanRecord span) {
        for (String key : List.of("thread.name", SpanContract.THREAD_LABEL.name(), "thread.id", SpanContract.THREAD_ID.name())) {
            Object v = span.attributes().get(key);
            if (v != null) {
                return key.endsWith("id") ? "thread " + v : v.toString();
            }
        }
        return "spans";
    }

    private static Map<String, Object> without(Map<String, Object> attributes, Set<String> keys) {
        Map<String, Object> kept = new LinkedHashMap<>();
        attributes.forEach((k, v) -> {
            if (!keys.contains(k)) {
                kept.put(k, v);
            }
        });
        return kept;
    }

    private void addRid(int slice, String rid) {
        if (rid == null) {
            return;
        }
        if (ridCount == ridNext.length) {
            ridNext = Arrays.copyOf(ridNext, ridCount * 2);
            ridValue = Arrays.copyOf(ridValue, ridCount * 2);
        }
        ridValue[ridCount] = rids.id(rid);
        ridNext[ridCount] = ridHead[slice];
        ridHead[slice] = ridCount++;
    }

    private void ensureCapacity(int n) {
        if (n <= start.length) {
            return;
        }
        int c = Math.max(n, start.length * 2);
        start = Arrays.copyOf(start, c);
        end = Arrays.copyOf(end, c);
        track = Arrays.copyOf(track, c);
        name = Arrays.copyOf(name, c);
        owner = Arrays.copyOf(owner, c);
        microBatch = Arrays.copyOf(microBatch, c);
        step = Arrays.copyOf(step, c);
        args = Arrays.copyOf(args, c);
        ridHead = Arrays.copyOf(ridHead, c);
        kind = Arrays.copyOf(kind, c);
    }

    /** Slices held (merged level-4 copies count once). */
    public int size() {
        return size;
    }

    /** Level-4 copies that were merged into a slice already held. */
    public long mergedCopies() {
        return mergedCopies;
    }

    /** Thread spans seen: not drawn, the rank process stands for them. */
    public long threadSpans() {
        return threadSpans;
    }

    public long start(int i) {
        return start[i];
    }

    public long end(int i) {
        return end[i];
    }

    public SpanKind kind(int i) {
        return KINDS[kind[i]];
    }

    public String name(int i) {
        return names.value(name[i]);
    }

    /** The track's id, from 0 to {@link #trackCount()} - 1. */
    public int trackId(int i) {
        return track[i];
    }

    public int trackCount() {
        return tracks.size();
    }

    public Track track(int trackId) {
        return tracks.value(trackId);
    }

    /** The request a slice belongs to, as a small id; -1 for none. */
    public int owner(int i) {
        return owner[i];
    }

    /** pp_mb_id of a level-4 slice; -1 for other kinds. */
    public int microBatch(int i) {
        return microBatch[i];
    }

    /** step of a level-4 slice (0 = prefill); -1 for other kinds and for sglang's run_batch_cpu (it has none). */
    public int step(int i) {
        return step[i];
    }

    /** The attributes drawn as the slice's arguments (rank, rid, pp_mb_id and step are columns). */
    public Map<String, Object> args(int i) {
        return argSets.value(args[i]);
    }

    /** The rids a level-4 slice stands for, in numeric order; the request's rid for a request slice. */
    public List<String> rids(int i) {
        List<String> out = new ArrayList<>();
        if (owner[i] >= 0) {
            out.add(rids.value(owner[i]));
        }
        for (int e = ridHead[i]; e >= 0; e = ridNext[e]) {
            out.add(rids.value(ridValue[e]));
        }
        out.sort(RID_ORDER);
        return out;
    }

    /** Level-4 copies are the same slice when rank track, kind, micro-batch, step and times agree. */
    private final class BatchKeys implements IdIndex.Keys {
        @Override
        public int hash(int id) {
            int h = track[id];
            h = 31 * h + kind[id];
            h = 31 * h + microBatch[id];
            h = 31 * h + step[id];
            h = 31 * h + Long.hashCode(start[id]);
            return 31 * h + Long.hashCode(end[id]);
        }

        @Override
        public boolean same(int a, int b) {
            return track[a] == track[b] && kind[a] == kind[b] && microBatch[a] == microBatch[b]
                    && step[a] == step[b] && start[a] == start[b] && end[a] == end[b];
        }
    }
}
