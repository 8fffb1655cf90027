package dev.ppexec.trace;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SpanCountTest {

    @Test
    void spanCount_oneRequestOneRankPrefillOnly_isEnumerated() {
        // Req, thread span, prefill_waiting, prefill_forward, run_batch_cpu, run_batch_device.
        assertThat(SpanContract.spanCount(1, 1, 0, TraceLevel.DEFAULT)).isEqualTo(6);
        // Req, thread span, prefill_waiting, prefill_forward, decode_forward.
        assertThat(SpanContract.spanCount(1, 1, 1, new TraceLevel(1))).isEqualTo(5);
        assertThat(SpanContract.spanCount(7, 3, 9, TraceLevel.OFF)).isZero();
    }

    @Test
    void spanCount_ofHugeRuns_saturatesInsteadOfWrapping() {
        assertThat(SpanContract.spanCount(Integer.MAX_VALUE, 4096, Integer.MAX_VALUE, TraceLevel.DEFAULT)).isEqualTo(Long.MAX_VALUE);
        long perRequest = SpanContract.spanCount(1, 4, 1 << 20, TraceLevel.DEFAULT);
        assertThat(SpanContract.spanCount(1000, 4, 1 << 20, TraceLevel.DEFAULT)).isEqualTo(1000 * perRequest);
    }

    @ParameterizedTest
    @ValueSource(ints = {-1, 6})
    void levelOutOfRange_isRejectedWithTheAllowedRange(int level) {
        assertThatThrownBy(() -> new TraceLevel(level)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("trace level " + level + " is out of range; allowed: 0..5");
    }

    @Test
    void kernelSpanCount_isOnePerBodyLaunchOfEachMicroBatchsPass_perList_atLevelFiveOnly() {
        // 3 micro-batches x (1 prefill pass of 69 slices across the stages + 4 decode passes of 30)
        assertThat(SpanContract.kernelSpanCount(3, 4, 69, 30, TraceLevel.KERNELS)).isEqualTo(3 * 69 + 3 * 4 * 30);
        assertThat(SpanContract.kernelSpanCount(3, 4, 69, 30, TraceLevel.DEFAULT)).isZero();
        assertThat(SpanContract.kernelSpanCount(Integer.MAX_VALUE, Integer.MAX_VALUE, Integer.MAX_VALUE,
                Integer.MAX_VALUE, TraceLevel.KERNELS)).isEqualTo(Long.MAX_VALUE);
    }

    @Test
    void kernelSliceNames_areAKernelOfTheContractASpaceAndALabel() {
        assertThat(SpanContract.isKernelSlice("matmul layers.3.wq")).isTrue();
        assertThat(SpanContract.namesSpan("attention layers.3.attn")).isTrue();
        assertThat(SpanContract.isKernelSlice("matmul")).isFalse();
        assertThat(SpanContract.isKernelSlice("matmul ")).isFalse();
        assertThat(SpanContract.isKernelSlice("conv layers.3")).isFalse();
        assertThat(SpanContract.namesSpan("lm_head")).isFalse();
    }
}
