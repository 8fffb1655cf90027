package dev.ppexec.otel;

import dev.ppexec.model.ModelConfig;
import dev.ppexec.runtime.Pipeline;
import dev.ppexec.runtime.Workload;
import dev.ppexec.trace.EpochClock;
import dev.ppexec.trace.SpanContract;
import dev.ppexec.trace.TraceLevel;
import dev.ppexec.trace.TraceSchema;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Instant;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/** A real SDK with an in-memory exporter over a real P=2, M=4 run with two decode steps. */
@Timeout(120)
class TraceListenerTest {

    static final int RANKS = 2;
    static final int MICRO_BATCHES = 4;
    static final int REQUESTS = 8;
    static final int DECODE_STEPS = 2;
    static final int PROMPT = 5;

    record Traced(List<SpanData> spans, long[] threadIds, long startEpochNanos, long endEpochNanos) {}

    static Traced trace(TraceLevel level) {
        InMemorySpanExporter exporter = InMemorySpanExporter.create();
        long[] threadIds = new long[RANKS];
        ModelConfig model = ModelConfig.preset("tiny", 7);
        try (SdkTracerProvider provider = SdkTracerProvider.builder()
                .addSpanProcessor(SimpleSpanProcessor.create(exporter)).build();
             Pipeline pipeline = Pipeline.builder().model(model).stages(RANKS).microBatches(MICRO_BATCHES)
                     .actionHook((rank, action) -> threadIds[rank] = Thread.currentThread().threadId()).build()) {
            TraceListener listener = new TraceListener(provider.get(Tracing.SCOPE_NAME), level, TraceSchema.PPEXEC, EpochClock.process(),
                    "testhost-with-a-long-name");
            long before = epochNanos();
            pipeline.generate(Workload.generated(model, REQUESTS, PROMPT, DECODE_STEPS), s -> {}, List.of(listener));
            long after = epochNanos();
            return new Traced(exporter.getFinishedSpanItems(), threadIds, before, after);
        }
    }

    static long epochNanos() {
        Instant now = Instant.now();
        return now.getEpochSecond() * 1_000_000_000L + now.getNano();
    }

    static long attr(SpanData s, String key) {
        Long v = s.getAttributes().get(AttributeKey.longKey(key));
        assertThat(v).as("%s on %s", key, s.getName()).isNotNull();
        return v;
    }

    static String str(SpanData s, String key) {
        return s.getAttributes().get(AttributeKey.stringKey(key));
    }

    static boolean isThread(SpanData s) {
        return s.getName().startsWith("Scheduler [PP ");
    }

    static boolean isRoot(SpanData s) {
        return s.getName().startsWith("Req ");
    }

    static final Set<String> LEVEL_4 = Set.of("run_batch_cpu", "run_batch_device", "pp_send", "pp_recv");

    @Test
    void levelFour_eachRankHasExactlyItsSliceNames_withCountsPerRequest() {
        List<SpanData> spans = trace(TraceLevel.DEFAULT).spans();
        Map<String, SpanData> byId = spans.stream().collect(Collectors.toMap(SpanData::getSpanId, s -> s));

        Map<Integer, Map<String, Long>> namesPerRankOfRequest0 = new HashMap<>();
        for (SpanData s : spans) {
            if (isRoot(s) || isThread(s) || !"0".equals(str(s, "rid"))) {
                continue;
            }
            int rank = (int) attr(s, "pp_rank");
            namesPerRankOfRequest0.computeIfAbsent(rank, r -> new HashMap<>()).merge(s.getName(), 1L, Long::sum);
        }
        int passes = DECODE_STEPS + 1;
        assertThat(namesPerRankOfRequest0.get(0)).isEqualTo(Map.of(
                "prefill_waiting", 1L, "prefill_forward", 1L, "decode_forward", (long) DECODE_STEPS, "decode_loop", 1L,
                "run_batch_cpu", (long) passes, "run_batch_device", (long) passes, "pp_send", (long) passes));
        assertThat(namesPerRankOfRequest0.get(1)).isEqualTo(Map.of(
                "prefill_forward", 1L, "decode_forward", (long) DECODE_STEPS, "decode_loop", 1L,
                "run_batch_cpu", (long) passes, "run_batch_device", (long) passes, "pp_recv", (long) passes));
        for (int rid = 0; rid < REQUESTS; rid++) {
            String r = Integer.toString(rid);
            assertThat(spans.stream().filter(s -> r.equals(str(s, "rid")) && !isRoot(s) && !isThread(s)).count())
                    .as("slices of request %d (as request 0's above)", rid).isEqualTo(14 + 13);
        }
        assertThat(spans).hasSize((int) SpanContract.spanCount(REQUESTS, RANKS, DECODE_STEPS, TraceLevel.DEFAULT));
        assertThat(byId).hasSameSizeAs(spans);
    }

    @Test
    void levelFourSlices_carryMicroBatchRankAndStep_andDeviceSlicesPairWithTheirLaunch() {
        List<SpanData> spans = trace(TraceLevel.DEFAULT).spans();
        Map<String, SpanData> cpu = new HashMap<>();
        Map<String, SpanData> sends = new HashMap<>();
        for (SpanData s : spans) {
            if (!LEVEL_4.contains(s.getName())) {
                continue;
            }
            long mb = attr(s, "pp_mb_id");
            int rid = Integer.parseInt(str(s, "rid"));
            assertThat(mb).as("micro-batch of request %d (contiguous split)", rid).isEqualTo(rid / 2);
            assertThat(attr(s, "batch_size")).isEqualTo(2);
            assertThat(str(s, "device")).isEqualTo("cpu");
            assertThat(str(s, "forward_mode")).isEqualTo(attr(s, "step") == 0 ? "prefill" : "decode");
            String key = rid + "/" + attr(s, "pp_rank") + "/" + mb + "/" + attr(s, "step");
            if (s.getName().equals("run_batch_cpu")) {
                assertThat(cpu.put(key, s)).as("one run_batch_cpu per %s", key).isNull();
                assertThat(str(s, "stream")).isNull();
            }
            if (s.getName().equals("pp_send")) {
                sends.put(rid + "/" + (attr(s, "pp_rank") + 1) + "/" + mb + "/" + attr(s, "step"), s);
            }
        }
        int devices = 0;
        int receives = 0;
        for (SpanData s : spans) {
            String key = str(s, "rid") + "/" + (LEVEL_4.contains(s.getName()) ? attr(s, "pp_rank") + "/"
                    + attr(s, "pp_mb_id") + "/" + attr(s, "step") : "");
            if (s.getName().equals("run_batch_device")) {
                devices++;
                SpanData launch = cpu.get(key);
                assertThat(launch).as("run_batch_cpu for run_batch_device %s", key).isNotNull();
                assertThat(s.getStartEpochNanos()).as("device start vs launch start, %s", key)
                        .isGreaterThanOrEqualTo(launch.getStartEpochNanos());
                assertThat(s.getEndEpochNanos()).as("device end vs launch start, %s", key)
                        .isGreaterThan(launch.getStartEpochNanos());
                assertThat(str(s, "stream")).matches("cpu stream \\d+");
            }
            if (s.getName().equals("pp_recv")) {
                receives++;
                SpanData send = sends.get(key);
                assertThat(send).as("pp_send for pp_recv %s", key).isNotNull();
                assertThat(send.getStartEpochNanos()).isEqualTo(s.getStartEpochNanos());
                assertThat(send.getEndEpochNanos()).isEqualTo(s.getEndEpochNanos());
                assertThat(str(send, "stream")).isEqualTo(str(s, "stream")).matches("cpu stream \\d+");
                assertThat(attr(send, "peer_rank")).isEqualTo(1);
                assertThat(attr(s, "peer_rank")).isZero();
            }
        }
        assertThat(devices).isEqualTo(cpu.size()).isEqualTo(REQUESTS * RANKS * (DECODE_STEPS + 1));
        assertThat(receives).isEqualTo(sends.size()).isEqualTo(REQUESTS * (DECODE_STEPS + 1));
    }

    @Test
    void parentChain_requestToThreadSpanToSlice_oneTracePerRequest_childrenInsideParents() {
        Traced traced = trace(TraceLevel.DEFAULT);
        List<SpanData> spans = traced.spans();
        Map<String, SpanData> byId = spans.stream().collect(Collectors.toMap(SpanData::getSpanId, s -> s));
        Set<String> traces = new HashSet<>();
        for (SpanData s : spans) {
            SpanData parent = byId.get(s.getParentSpanId());
            if (isRoot(s)) {
                assertThat(s.getParentSpanContext().isValid()).as("root %s has no parent", s.getName()).isFalse();
                assertThat(traces.add(s.getTraceId())).as("one trace per request").isTrue();
                assertThat(s.getName()).isEqualTo("Req " + str(s, "rid"));
                assertThat(attr(s, "prompt_len")).isEqualTo(PROMPT);
                assertThat(attr(s, "output_tokens")).isEqualTo(DECODE_STEPS + 1);
                assertThat(s.getStartEpochNanos()).isBetween(traced.startEpochNanos(), traced.endEpochNanos());
                continue;
            }
            assertThat(parent).as("parent of %s", s.getName()).isNotNull();
            assertThat(s.getTraceId()).isEqualTo(parent.getTraceId());
            assertThat(s.getStartEpochNanos()).as("%s starts inside %s", s.getName(), parent.getName())
                    .isGreaterThanOrEqualTo(parent.getStartEpochNanos());
            assertThat(s.getEndEpochNanos()).as("%s ends inside %s", s.getName(), parent.getName())
                    .isLessThanOrEqualTo(parent.getEndEpochNanos());
            if (isThread(s)) {
                assertThat(isRoot(parent)).isTrue();
                int rank = (int) attr(s, "pp_rank");
                long tid = traced.threadIds()[rank];
                assertThat(s.getName()).isEqualTo("Scheduler [PP " + rank + "] (host:testhost | tid:" + tid + ")");
                assertThat(attr(s, "thread_id")).isEqualTo(tid);
                assertThat(str(s, "host_id")).isEqualTo("testhost");
                assertThat(str(s, "thread_label")).isEqualTo("Scheduler [PP " + rank + "]");
                assertThat(attr(s, "tp_rank")).isZero();
                assertThat(attr(s, "dp_rank")).isZero();
            } else {
                assertThat(isThread(parent)).as("parent of %s is a thread span", s.getName()).isTrue();
                assertThat(attr(s, "pp_rank")).isEqualTo(attr(parent, "pp_rank"));
                assertThat(str(s, "rid")).isEqualTo(str(byId.get(parent.getParentSpanId()), "rid"));
            }
        }
        assertThat(traces).hasSize(REQUESTS);
    }

    @Test
    void levelThree_recordsNoLevelFourSlice_levelOne_noDecodeLoop_levelZero_nothing() {
        Set<String> three = trace(new TraceLevel(3)).spans().stream().map(SpanData::getName).collect(Collectors.toSet());
        assertThat(three).contains("decode_loop", "decode_forward").doesNotContainAnyElementsOf(LEVEL_4);

        Set<String> one = trace(new TraceLevel(1)).spans().stream().map(SpanData::getName).collect(Collectors.toSet());
        assertThat(one).contains("prefill_waiting", "prefill_forward", "decode_forward")
                .doesNotContain("decode_loop").doesNotContainAnyElementsOf(LEVEL_4);

        assertThat(trace(TraceLevel.OFF).spans()).isEmpty();
    }
}
