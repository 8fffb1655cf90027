package dev.ppexec.runtime;

import dev.ppexec.model.ModelConfig;
import dev.ppexec.schedule.Bubble;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The run's figures from the ranks' bounded logs (Note [bounded logs] in ForwardLog) are the figures of the whole
 * run: on a run whose logs wrap their window, each rank's figures and the measured bubble, added up the old way
 * from every forward kept (a listener's copy of the full log), equal the run's own to the last digit.
 */
class BoundedLogFiguresTest {

    static final int MICRO_BATCHES = 4;
    /** Forwards per rank: 4 × 5,001, past {@link PipelineRun#LOG_WINDOW} so every slot is reused. */
    static final int DECODE_STEPS = 5_000;

    @Test
    void runWhoseLogsWrapTheirWindow_reportsTheFiguresOfEveryForwardKept() {
        ModelConfig model = new ModelConfig("wrap", 16, 8, 1, 2, 8, DECODE_STEPS + 8, 3);
        Workload workload = Workload.generated(model, MICRO_BATCHES, 4, DECODE_STEPS);
        int ranks = 2;
        List<List<ActionRecord>> kept = new ArrayList<>();
        for (int r = 0; r < ranks; r++) {
            kept.add(new ArrayList<>());
        }
        RunListener fullLog = (info, rank, record) -> {
            if (record.kind() == ActionRecord.Kind.FORWARD) {
                kept.get(rank).add(record);
            }
        };
        RunResult result;
        try (Pipeline pipeline = Pipeline.builder().model(model).stages(ranks).microBatches(MICRO_BATCHES).build()) {
            result = pipeline.generate(workload, steps -> {}, List.of(fullLog));
        }
        assertThat(kept.get(0).size()).as("forwards of rank 0, past the window").isGreaterThan(PipelineRun.LOG_WINDOW);

        long busyTotal = 0;
        long first = Long.MAX_VALUE;
        long last = Long.MIN_VALUE;
        for (int r = 0; r < ranks; r++) {
            List<ActionRecord> log = kept.get(r);
            long cpu = 0;
            long busy = 0;
            long latency = 0;
            long rankFirst = Long.MAX_VALUE;
            long rankLast = Long.MIN_VALUE;
            for (ActionRecord a : log) {
                cpu += a.cpuEndNanos() - a.cpuStartNanos();
                busy += a.deviceEndNanos() - a.deviceStartNanos();
                latency += a.deviceStartNanos() - a.cpuStartNanos();
                rankFirst = Math.min(rankFirst, a.deviceStartNanos());
                rankLast = Math.max(rankLast, a.deviceEndNanos());
            }
            int n = log.size();
            RankFigures f = result.ranks().get(r);
            assertThat(new long[] {f.forwards(), f.cpuLaunchNanos(), f.deviceBusyNanos(), f.deviceSpanNanos(),
                    f.launchLatencyNanos()}).as("rank %d: forwards, cpu launch, device busy, span, latency", r)
                    .containsExactly(n, cpu, busy, rankLast - rankFirst, latency / n);
            busyTotal += busy;
            first = Math.min(first, rankFirst);
            last = Math.max(last, rankLast);
        }
        assertThat(result.pipelineSpanNanos()).isEqualTo(last - first);
        assertThat(result.measuredBubble()).isEqualTo(Bubble.measured(busyTotal, ranks, last - first));
    }
}
