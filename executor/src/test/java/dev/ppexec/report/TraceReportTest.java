package dev.ppexec.report;

import dev.ppexec.otlp.SpanRecord;
import dev.ppexec.report.TraceReport.RankStats;
import dev.ppexec.report.TraceReport.RunStats;
import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * The report on a synthetic P=2, M=2 trace with round times (microseconds after T0):
 *
 * <pre>
 * PP0  cpu    mb0 [0,10]    mb1 [10,20]       device mb0 [20,120]  mb1 [120,220]
 * PP1  cpu    mb0 [120,130] mb1 [220,230]     device mb0 [170,270] mb1 [320,420]
 * Req 0 [0,400] 3 tokens, Req 1 [0,800] 5 tokens; rids 0 and 1 both in micro-batch 0
 * </pre>
 *
 * Ratios are compared within 1e-12 (a double's rounding); times and counts exactly.
 */
class TraceReportTest {

    static final long T0 = 1_700_000_000_000_000_000L;

    static List<SpanRecord> synthetic(Map<String, Object> resource) {
        List<SpanRecord> spans = new ArrayList<>();
        for (String rid : List.of("0", "1")) {
            spans.add(batch("run_batch_cpu", 0, 0, rid, 0, 10, null, resource));
            spans.add(batch("run_batch_device", 0, 0, rid, 20, 120, "cuda:0 stream 1", resource));
            spans.add(batch("pp_send", 0, 0, rid, 120, 125, "cuda:0 stream 2", resource));
            spans.add(batch("pp_recv", 1, 0, rid, 120, 170, "cuda:0 stream 4", resource));
            spans.add(batch("run_batch_cpu", 1, 0, rid, 120, 130, null, resource));
            spans.add(batch("run_batch_device", 1, 0, rid, 170, 270, "cuda:0 stream 3", resource));
        }
        spans.add(batch("run_batch_cpu", 0, 1, "2", 10, 20, null, resource));
        spans.add(batch("run_batch_device", 0, 1, "2", 120, 220, "cuda:0 stream 1", resource));
        spans.add(batch("run_batch_cpu", 1, 1, "2", 220, 230, null, resource));
        spans.add(batch("run_batch_device", 1, 1, "2", 320, 420, "cuda:0 stream 3", resource));
        spans.add(request("0", 0, 400, 3, resource));
        spans.add(request("1", 0, 800, 5, resource));
        spans.add(new SpanRecord("Scheduler [PP 0] (host:testhost | tid:7)", T0, T0 + 400_000,
                Map.of("pp_rank", 0L, "thread_label", "Scheduler [PP 0]", "rid", "0"), resource));
        return spans;
    }

    static SpanRecord batch(String name, int rank, int microBatch, String rid, long startMicros, long endMicros,
                            String stream, Map<String, Object> resource) {
        Map<String, Object> a = new HashMap<>(Map.of("rid", rid, "pp_rank", (long) rank, "tp_rank", 0L, "dp_rank", 0L,
                "pp_mb_id", (long) microBatch, "step", 0L));
        if (stream != null) {
            a.put("stream", stream);
        }
        return new SpanRecord(name, T0 + startMicros * 1000, T0 + endMicros * 1000, a, resource);
    }

    static SpanRecord request(String rid, long startMicros, long endMicros, long tokens, Map<String, Object> resource) {
        return new SpanRecord("Req " + rid, T0 + startMicros * 1000, T0 + endMicros * 1000,
                Map.of("rid", rid, "prompt_len", 4L, "output_tokens", tokens), resource);
    }

    @Test
    void perRankFigures_countEachMicroBatchSliceOnce_whateverItsCopies() {
        TraceReport r = TraceReport.of(synthetic(Map.of("host.name", "testhost-01")));
        assertThat(r.ranks()).extracting(s -> s.rank().label()).containsExactly("PP0", "PP1");

        RankStats pp0 = r.ranks().get(0);
        assertThat(pp0.microBatches()).isEqualTo(2);
        assertThat(pp0.forwards()).isEqualTo(2);
        assertThat(pp0.cpuTotalNanos()).isEqualTo(20_000);
        assertThat(pp0.cpuMeanNanos()).isEqualTo(10_000.0);
        assertThat(pp0.deviceSlices()).isEqualTo(2);
        assertThat(pp0.deviceTotalNanos()).isEqualTo(200_000);
        assertThat(pp0.deviceMeanNanos()).isEqualTo(100_000.0);
        assertThat(pp0.deviceIdleShare()).as("busy from 20 to 220").isEqualTo(0.0);
        assertThat(pp0.launchLatencyMeanNanos()).as("(20 - 0 + 120 - 10) / 2 us").isEqualTo(65_000.0);

        RankStats pp1 = r.ranks().get(1);
        assertThat(pp1.cpuTotalNanos()).isEqualTo(20_000);
        assertThat(pp1.deviceTotalNanos()).isEqualTo(200_000);
        assertThat(pp1.deviceFirstNanos()).isEqualTo(T0 + 170_000);
        assertThat(pp1.deviceLastNanos()).isEqualTo(T0 + 420_000);
        assertThat(pp1.deviceIdleShare()).as("200 busy of 250").isCloseTo(0.2, within(1e-12));
        assertThat(pp1.launchLatencyMeanNanos()).as("(170 - 120 + 320 - 220) / 2 us").isEqualTo(75_000.0);
    }

    @Test
    void runFigures_tokensPerSecondAndMeasuredBubble() {
        RunStats run = TraceReport.of(synthetic(Map.of("host.name", "testhost-01"))).run();
        assertThat(run.requests()).isEqualTo(2);
        assertThat(run.outputTokens()).isEqualTo(8);
        assertThat(run.requestSpanNanos()).isEqualTo(800_000);
        assertThat(run.tokensPerSecond()).as("8 tokens in 800 us").isEqualTo(10_000.0);
        assertThat(run.deviceSpanNanos()).as("20 us to 420 us").isEqualTo(400_000);
        assertThat(run.measuredBubble()).as("1 - 400 / (2 x 400)").isEqualTo(0.5);
    }

    @Test
    void idealBubble_comesFromTheResource_elseFromTheRunsShape_elseFromTheTrace() {
        RunStats given = TraceReport.of(synthetic(Map.of("ppexec.ideal_bubble", 0.125, "ppexec.stages", 2L))).run();
        assertThat(given.idealBubble()).isEqualTo(0.125);
        assertThat(given.idealSource()).isEqualTo("resource attribute ppexec.ideal_bubble");

        RunStats prefill = TraceReport.of(synthetic(Map.of("ppexec.stages", 2L, "ppexec.micro_batches", 4L,
                "ppexec.decode_steps", 0L))).run();
        assertThat(prefill.idealBubble()).as("(2-1)/(4+2-1)").isCloseTo(0.2, within(1e-12));
        assertThat(prefill.idealSource()).isEqualTo("(P-1)/(M+P-1), P=2, M=4, S=0");

        RunStats ring = TraceReport.of(synthetic(Map.of("ppexec.stages", 2L, "ppexec.micro_batches", 4L,
                "ppexec.decode_steps", 3L))).run();
        assertThat(ring.idealBubble()).as("1 - 4 x 4 / (3 x 4 + 4 + 2 - 1): the decode ring, not fill-drain")
                .isCloseTo(1.0 / 17, within(1e-12));
        assertThat(ring.idealSource()).isEqualTo("1-(S+1)M/(S*max(M,P)+M+P-1), P=2, M=4, S=3");

        RunStats counted = TraceReport.of(synthetic(Map.of())).run();
        assertThat(counted.idealBubble()).as("2 ranks, 2 micro-batch ids, 5 tokens a request: 1 - 5 x 2 / (4 x 2 + 3)")
                .isCloseTo(1.0 / 11, within(1e-12));
        assertThat(counted.idealSource()).endsWith("P=2, M=2, S=4, counted in the trace");
    }

    @Test
    void text_andJson_carryTheSameFigures() {
        TraceReport r = TraceReport.of(synthetic(Map.of("ppexec.stages", 2L, "ppexec.micro_batches", 4L,
                "ppexec.decode_steps", 4L))); // up to 5 tokens a request: both requests' (3, 5) count
        StringWriter text = new StringWriter();
        r.printText(new PrintWriter(text, true));
        assertThat(text.toString().lines().filter(l -> l.startsWith("PP1")).findFirst().orElseThrow())
                .matches("PP1\\s+2\\s+2\\s+0\\.020\\s+10\\.0\\s+0\\.200\\s+100\\.0\\s+20\\.0%\\s+75\\.0");
        assertThat(text.toString()).contains("bubble: measured 50.0%, ideal 4.8% (1-(S+1)M/(S*max(M,P)+M+P-1), P=2, M=4, S=4)")
                .contains("throughput: 2 requests, 8 output tokens in 0.800 ms: 10000.0 tokens/s");

        Map<String, Object> json = r.toJson();
        @SuppressWarnings("unchecked")
        Map<String, Object> pp0 = ((List<Map<String, Object>>) json.get("ranks")).getFirst();
        assertThat(pp0).containsEntry("rank", "PP0").containsEntry("forwards", 2).containsEntry("cpuTotalMs", 0.02)
                .containsEntry("deviceMeanUs", 100.0).containsEntry("deviceIdleShare", 0.0)
                .containsEntry("launchToDeviceMeanUs", 65.0);
        @SuppressWarnings("unchecked")
        Map<String, Object> run = (Map<String, Object>) json.get("run");
        assertThat(run).containsEntry("outputTokens", 8L).containsEntry("tokensPerSecond", 10_000.0)
                .containsEntry("measuredBubble", 0.5);
    }

    @Test
    void traceWithoutLevel4Spans_saysSo_andHasNoRanks() {
        TraceReport r = TraceReport.of(List.of(request("0", 0, 100, 2, Map.of())));
        assertThat(r.ranks()).isEmpty();
        assertThat(r.run().measuredBubble()).isNaN();
        StringWriter text = new StringWriter();
        r.printText(new PrintWriter(text, true));
        assertThat(text.toString()).startsWith("no run_batch_cpu or run_batch_device spans").contains("bubble: measured -");
        assertThat(r.toJson().get("run")).asString().contains("measuredBubble=null");
    }
}
