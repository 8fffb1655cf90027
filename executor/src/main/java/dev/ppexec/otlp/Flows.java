package dev.ppexec.otlp;

/**
 * The causal pairs among level-4 slices: each {@code run_batch_cpu} with the
 * {@code run_batch_device} of the same rank, micro-batch and step (a launch and its work), and
 * each {@code pp_send} of rank r with the {@code pp_recv} of rank r+1 (same DP and TP ranks,
 * micro-batch and step). The converter draws them as arrows; the report measures launch latency.
 */
public final class Flows {

    /** What a pair links. */
    public enum Type {
        LAUNCH("launch"), TRANSFER("pp transfer");

        private final String label;

        Type(String label) {
            this.label = label;
        }

        /** The flow's name in the trace. */
        public String label() {
            return label;
        }
    }

    /** Receives one pair: slice ids in the table, the source first. */
    @FunctionalInterface
    public interface PairSink {
        void pair(int source, int target, Type type);
    }

    private Flows() {}

    /** Calls the sink once per source that has a target; a source or target without its pair is left out. */
    public static void forEach(SliceTable table, PairSink sink) {
        PairKeys keys = new PairKeys(table);
        IdIndex targets = new IdIndex(keys);
        for (int i = 0; i < table.size(); i++) {
            SpanKind k = table.kind(i);
            if (k == SpanKind.BATCH_DEVICE || k == SpanKind.PP_RECV) {
                targets.putIfAbsent(i);
            }
        }
        for (int i = 0; i < table.size(); i++) {
            SpanKind k = table.kind(i);
            if (k == SpanKind.BATCH_CPU || k == SpanKind.PP_SEND) {
                int target = targets.find(i);
                if (target >= 0) {
                    sink.pair(i, target, k == SpanKind.BATCH_CPU ? Type.LAUNCH : Type.TRANSFER);
                }
            }
        }
    }

    /**
     * A launch pairs within one rank process; a transfer pairs rank r's send with rank r+1's
     * receive, whatever host each ran on.
     */
    private record PairKeys(SliceTable table) implements IdIndex.Keys {

        private boolean launch(int id) {
            SpanKind k = table.kind(id);
            return k == SpanKind.BATCH_CPU || k == SpanKind.BATCH_DEVICE;
        }

        private RankKey rank(int id) {
            return table.track(table.trackId(id)).process().rank();
        }

        /** The PP rank a slice's pair is keyed on: the receiver's for a transfer. */
        private int pairRank(int id) {
            return rank(id).pp() + (table.kind(id) == SpanKind.PP_SEND ? 1 : 0);
        }

        @Override
        public int hash(int id) {
            RankKey r = rank(id);
            int h = launch(id) ? r.host().hashCode() : 7;
            h = 31 * h + pairRank(id);
            h = 31 * h + r.dp();
            h = 31 * h + r.tp();
            h = 31 * h + table.microBatch(id);
            return 31 * h + table.step(id);
        }

        @Override
        public boolean same(int a, int b) {
            RankKey ra = rank(a);
            RankKey rb = rank(b);
            return launch(a) == launch(b) && (!launch(a) || ra.host().equals(rb.host()))
                    && pairRank(a) == pairRank(b) && ra.dp() == rb.dp() && ra.tp() == rb.tp()
                    && table.microBatch(a) == table.microBatch(b) && table.step(a) == table.step(b);
        }
    }
}
