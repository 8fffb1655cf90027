package dev.ppexec.otel;

import dev.ppexec.runtime.ActionRecord;
import dev.ppexec.schedule.Bubble;
import dev.ppexec.runtime.RunInfo;
import dev.ppexec.runtime.RunListener;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.metrics.DoubleCounter;
import io.opentelemetry.api.metrics.DoubleHistogram;
import io.opentelemetry.api.metrics.LongCounter;
import io.opentelemetry.api.metrics.Meter;

import java.util.ArrayDeque;
import java.util.List;

/**
 * Turns a run's timed actions into the metrics of {@link Metrics} (Note [metrics from the records]).
 * Every call comes from the run's trace delivery thread; only the bubble gauge is read from another
 * thread (the metric reader's), through one volatile field.
 */
final class MetricsListener implements RunListener {

    // Note [metrics from the records]: the metrics are recorded from the same ActionRecords the
    // spans are built from, on the run's trace delivery thread, as the ranks' logs resolve them
    // (Note [streaming records] in ForwardLog). The rank threads run no metrics code: no SDK call,
    // no lock, no clock read. The counters' totals are the run's own figures (RankFigures sums
    // the same log entries), and the SDK's collection for an export happens on the metric
    // reader's thread.

    static final AttributeKey<Long> PP_RANK = AttributeKey.longKey("pp_rank");
    static final AttributeKey<String> DEVICE = AttributeKey.stringKey("device");
    /** Bucket boundaries of the duration histograms (s): 1 µs to 1 s, three per decade. */
    static final List<Double> DURATION_BUCKETS_SECONDS = List.of(1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4,
            1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.2, 0.5, 1.0);
    /** Bytes per element of what a transfer carries: fp32 hidden states, int32 next-token ids. */
    static final int ELEMENT_BYTES = 4;

    private final DoubleCounter cpuLaunch;
    private final DoubleCounter deviceBusy;
    private final LongCounter forwards;
    private final LongCounter transferBytes;
    private final LongCounter tokens;
    private final DoubleHistogram cpuDuration;
    private final DoubleHistogram deviceDuration;
    private final SlidingBubble bubble;
    private final boolean pipelineBubble;
    private Attributes[] rankAttributes = new Attributes[0];

    /**
     * {@code pipelineBubble}: whether this process hears every rank's forwards, so that the pipeline's bubble gauge can
     * be measured; a rank process of a world hears only its own rank and exports no bubble (docs/TRACING.md, Metrics).
     */
    MetricsListener(Meter meter, long bubbleWindowNanos, boolean pipelineBubble) {
        this.pipelineBubble = pipelineBubble;
        cpuLaunch = meter.counterBuilder("ppexec.rank.cpu.launch").ofDoubles().setUnit("s")
                .setDescription("Host time inside the rank's run_batch launches").build();
        deviceBusy = meter.counterBuilder("ppexec.rank.device.busy").ofDoubles().setUnit("s")
                .setDescription("Device time of the rank's forwards (run_batch_device)").build();
        forwards = meter.counterBuilder("ppexec.rank.forwards").setUnit("{forward}")
                .setDescription("Micro-batch forwards the rank ran").build();
        transferBytes = meter.counterBuilder("ppexec.rank.transfer.bytes").setUnit("By")
                .setDescription("Bytes copied into the rank (pp_recv): hidden states, or next-token ids into rank 0").build();
        tokens = meter.counterBuilder("ppexec.rank.tokens").setUnit("{token}")
                .setDescription("Tokens the rank generated (only the last rank samples them)").build();
        cpuDuration = meter.histogramBuilder("ppexec.rank.run_batch_cpu.duration").setUnit("s")
                .setDescription("Host time of one run_batch launch").setExplicitBucketBoundariesAdvice(DURATION_BUCKETS_SECONDS)
                .build();
        deviceDuration = meter.histogramBuilder("ppexec.rank.run_batch_device.duration").setUnit("s")
                .setDescription("Device time of one forward").setExplicitBucketBoundariesAdvice(DURATION_BUCKETS_SECONDS)
                .build();
        bubble = new SlidingBubble(bubbleWindowNanos);
        if (!pipelineBubble) {
            return;
        }
        meter.gaugeBuilder("ppexec.pipeline.bubble").setUnit("1")
                .setDescription("Measured bubble (device idle share of all ranks) over the last window")
                .buildWithCallback(m -> {
                    double b = bubble.value();
                    if (!Double.isNaN(b)) {
                        m.record(b);
                    }
                });
    }

    @Override
    public void runStarted(RunInfo info) {
        Attributes[] attrs = new Attributes[info.ranks()];
        for (int r = 0; r < attrs.length; r++) {
            attrs[r] = Attributes.of(PP_RANK, (long) r, DEVICE, info.rankDevices().get(r));
        }
        rankAttributes = attrs;
        bubble.start(info.ranks());
    }

    @Override
    public void action(RunInfo info, int rank, ActionRecord record) {
        Attributes attrs = rankAttributes[rank];
        int batch = info.members()[record.microBatch()].length;
        if (record.kind() == ActionRecord.Kind.RECV) {
            // Note [routing] in Schedule: rank 0 receives next-token ids from the last rank, any other rank hidden states.
            long rowLength = rank == 0 ? 1 : info.model().dim();
            long positions = record.step() == 0 ? info.promptLength() : 1;
            transferBytes.add(batch * positions * rowLength * ELEMENT_BYTES, attrs);
            return;
        }
        double cpuSeconds = (record.cpuEndNanos() - record.cpuStartNanos()) / 1e9;
        double deviceSeconds = (record.deviceEndNanos() - record.deviceStartNanos()) / 1e9;
        forwards.add(1, attrs);
        cpuLaunch.add(cpuSeconds, attrs);
        deviceBusy.add(deviceSeconds, attrs);
        cpuDuration.record(cpuSeconds, attrs);
        deviceDuration.record(deviceSeconds, attrs);
        if (rank == info.ranks() - 1) {
            tokens.add(batch, attrs);
        }
        if (pipelineBubble) {
            bubble.add(record.deviceStartNanos(), record.deviceEndNanos());
        }
    }

    /**
     * The measured bubble ({@link Bubble#measured}) of the
     * forwards heard whose device time falls in the window that ends at the latest device end
     * heard: the whole run's measured bubble while the run is shorter than the window. Forwards
     * arrive in each rank's order, so the window's oldest entries leave first.
     */
    static final class SlidingBubble {

        private final long windowNanos;
        private final ArrayDeque<long[]> inWindow = new ArrayDeque<>();
        private int ranks;
        private long busyNanos;
        private long firstStartNanos;
        private long lastEndNanos;
        private volatile double value = Double.NaN;

        SlidingBubble(long windowNanos) {
            this.windowNanos = windowNanos;
        }

        void start(int ranks) {
            this.ranks = ranks;
            inWindow.clear();
            busyNanos = 0;
            firstStartNanos = Long.MAX_VALUE;
            lastEndNanos = Long.MIN_VALUE;
            value = Double.NaN;
        }

        void add(long startNanos, long endNanos) {
            inWindow.addLast(new long[]{startNanos, endNanos});
            busyNanos += endNanos - startNanos;
            firstStartNanos = Math.min(firstStartNanos, startNanos);
            lastEndNanos = Math.max(lastEndNanos, endNanos);
            long windowStart = Math.max(firstStartNanos, lastEndNanos - windowNanos);
            while (!inWindow.isEmpty() && inWindow.peekFirst()[1] <= windowStart) {
                long[] old = inWindow.removeFirst();
                busyNanos -= old[1] - old[0];
            }
            long clipped = 0;
            for (long[] e : inWindow) {
                if (e[0] >= windowStart) {
                    break;
                }
                clipped += Math.min(e[1], windowStart) - e[0];
            }
            long span = lastEndNanos - windowStart;
            value = span <= 0 ? Double.NaN : Bubble.measured(busyNanos - clipped, ranks, span);
        }

        /** The latest bubble, or NaN before a forward with device time was heard. */
        double value() {
            return value;
        }
    }
}
