package dev.ppexec.trace;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;

import static dev.ppexec.trace.RequestTrace.Edge.END;
import static dev.ppexec.trace.RequestTrace.Edge.START;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RequestTraceTest {

    private static final int[] MICRO_BATCH_1 = {2, 3};

    @Test
    void setTimeBatch_recordsOneSlicePerRequestOfTheMicroBatch() {
        RequestTrace trace = new RequestTrace(TraceLevel.ALL, 4, 2);
        trace.setTimeBatch(MICRO_BATCH_1, 1, TraceStage.RUN_BATCH_CPU, START, 100, 1, 3);
        trace.setTimeBatch(MICRO_BATCH_1, 1, TraceStage.RUN_BATCH_CPU, END, 140, 1, 3);

        for (int rid : MICRO_BATCH_1) {
            assertThat(trace.request(rid).slices())
                    .containsExactly(new Slice(TraceStage.RUN_BATCH_CPU, 1, 100, 140, 1, 3));
        }
        assertThat(trace.request(0).slices()).isEmpty();
        assertThat(trace.request(1).slices()).isEmpty();
    }

    @Test
    void levelThree_recordsDecodeLoop_butNoPerMicroBatchSlice() {
        RequestTrace trace = new RequestTrace(new TraceLevel(3), 4, 2);
        for (TraceStage stage : List.of(TraceStage.DECODE_LOOP, TraceStage.RUN_BATCH_CPU, TraceStage.RUN_BATCH_DEVICE,
                TraceStage.PP_SEND, TraceStage.PP_RECV)) {
            trace.setTimeBatch(MICRO_BATCH_1, 0, stage, START, 10, 1, 1);
            trace.setTimeBatch(MICRO_BATCH_1, 0, stage, END, 20, 1, 1);
        }

        assertThat(trace.request(2).slices()).extracting(Slice::stage).containsExactly(TraceStage.DECODE_LOOP);
    }

    @Test
    void levelOne_recordsForwards_butNotDecodeLoop() {
        RequestTrace trace = new RequestTrace(new TraceLevel(1), 4, 1);
        for (TraceStage stage : List.of(TraceStage.PREFILL_FORWARD, TraceStage.DECODE_LOOP)) {
            trace.setTimeBatch(MICRO_BATCH_1, 0, stage, START, 10, RequestTrace.NO_MICRO_BATCH, 0);
            trace.setTimeBatch(MICRO_BATCH_1, 0, stage, END, 20, RequestTrace.NO_MICRO_BATCH, 0);
        }

        assertThat(trace.request(3).slices()).extracting(Slice::stage).containsExactly(TraceStage.PREFILL_FORWARD);
    }

    @Test
    void levelZero_recordsNothing() {
        RequestTrace trace = new RequestTrace(TraceLevel.OFF, 4, 2);
        trace.arriveBatch(MICRO_BATCH_1, 5);
        for (TraceStage stage : TraceStage.values()) {
            trace.setTimeBatch(MICRO_BATCH_1, 0, stage, START, 10, 1, 0);
            trace.setTimeBatch(MICRO_BATCH_1, 0, stage, END, 20, 1, 0);
        }
        trace.tokenBatch(MICRO_BATCH_1, 30);

        assertThat(trace.request(2).slices()).isEmpty();
        assertThat(trace.request(2).arrivalNanos()).isEqualTo(Long.MIN_VALUE);
        assertThat(trace.request(2).lastTokenNanos()).isEqualTo(Long.MIN_VALUE);
    }

    @Test
    void end_withoutStart_failsNamingRequestRankAndStage() {
        RequestTrace trace = new RequestTrace(TraceLevel.ALL, 4, 2);

        assertThatThrownBy(() -> trace.setTimeBatch(MICRO_BATCH_1, 1, TraceStage.PP_RECV, END, 20, 1, 2))
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("request 2, rank 1: pp_recv ended (step 2) without a start");
    }

    @Test
    void tokenBatch_keepsTheLatestToken() {
        RequestTrace trace = new RequestTrace(TraceLevel.ALL, 4, 2);
        trace.tokenBatch(MICRO_BATCH_1, 30);
        trace.tokenBatch(MICRO_BATCH_1, 90);
        trace.tokenBatch(MICRO_BATCH_1, 60);

        assertThat(trace.request(3).lastTokenNanos()).isEqualTo(90);
    }

    @ParameterizedTest
    @ValueSource(ints = {-1, 5})
    void levelOutOfRange_isRejectedWithTheAllowedRange(int level) {
        assertThatThrownBy(() -> new TraceLevel(level)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("trace level " + level + " is out of range; allowed: 0..4");
    }

    @Test
    void spanCount_oneRequestOneRankPrefillOnly_isEnumerated() {
        // Req, thread span, prefill_waiting, prefill_forward, run_batch_cpu, run_batch_device.
        assertThat(RequestTrace.spanCount(1, 1, 0, TraceLevel.ALL)).isEqualTo(6);
        // Req, thread span, prefill_waiting, prefill_forward, decode_forward.
        assertThat(RequestTrace.spanCount(1, 1, 1, new TraceLevel(1))).isEqualTo(5);
        assertThat(RequestTrace.spanCount(7, 3, 9, TraceLevel.OFF)).isZero();
    }

    @Test
    void spanCount_ofHugeRuns_saturatesInsteadOfWrapping() {
        assertThat(RequestTrace.spanCount(Integer.MAX_VALUE, 4096, Integer.MAX_VALUE, TraceLevel.ALL)).isEqualTo(Long.MAX_VALUE);
        long perRequest = RequestTrace.spanCount(1, 4, 1 << 20, TraceLevel.ALL);
        assertThat(RequestTrace.spanCount(1000, 4, 1 << 20, TraceLevel.ALL)).isEqualTo(1000 * perRequest);
    }
}
