package dev.ppexec.check;

import dev.ppexec.model.ModelConfig;
import dev.ppexec.otlp.SpanRecord;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class DecodeRowTest {

    private static final long MS = 1_000_000;

    @Test
    void weightBytesPerStep_areTheLayersTheFinalNormAndTheLmHead_withoutTheEmbedding() {
        // toy: dim 512, ffn 2048, 8 layers, vocab 4096; per layer wq wk wv wo [512, 512], w1 w3 [512, 2048],
        // w2 [2048, 512], two norms [512]
        long toyLayer = 4L * 512 * 512 + 2L * 512 * 2048 + 2048L * 512 + 2 * 512;
        assertThat(DecodeRow.weightBytesPerStep(ModelConfig.preset("toy", 42)))
                .isEqualTo(4 * (8 * toyLayer + 512 + 512L * 4096))
                .isEqualTo(142_641_152L); // the "toy ≈ 142 MB"
        long smallLayer = 4L * 1024 * 1024 + 3L * 1024 * 4096 + 2 * 1024;
        assertThat(DecodeRow.weightBytesPerStep(ModelConfig.preset("small", 42)))
                .isEqualTo(4 * (16 * smallLayer + 1024 + 1024L * 8192))
                .isEqualTo(1_107_431_424L); // "small ≈ 1.1 GB"
    }

    private static SpanRecord span(String name, String mode, int rank, int mb, int step, long start, long end,
                                   Long launches) {
        Map<String, Object> attrs = new java.util.HashMap<>(Map.of("forward_mode", mode, "pp_rank", (long) rank,
                "pp_mb_id", (long) mb, "step", (long) step));
        if (launches != null) {
            attrs.put("launches", launches);
        }
        return new SpanRecord(name, start, end, attrs, Map.of());
    }

    /** Two ranks, one micro-batch of two requests (each slice twice), a prefill step and two decode steps. */
    private static List<SpanRecord> twoRanksTwoSteps(boolean withLaunches) {
        List<SpanRecord> spans = new ArrayList<>();
        for (int request = 0; request < 2; request++) {
            spans.add(span("run_batch_cpu", "prefill", 0, 0, 0, 0, 50 * MS, 999L));
            spans.add(span("run_batch_device", "prefill", 0, 0, 0, 1 * MS, 90 * MS, null));
            for (int step = 1; step <= 2; step++) {
                long t = 100 * MS * step;
                Long n = withLaunches ? (long) (10 + step) : null;
                spans.add(span("run_batch_cpu", "decode", 0, 0, step, t, t + 2 * MS, n));               // 2 ms
                spans.add(span("run_batch_device", "decode", 0, 0, step, t + 1 * MS, t + 11 * MS, null)); // 10 ms
                spans.add(span("run_batch_cpu", "decode", 1, 0, step, t + 11 * MS, t + 15 * MS, n));      // 4 ms
                spans.add(span("run_batch_device", "decode", 1, 0, step, t + 12 * MS, t + 40 * MS, null)); // 28 ms
            }
        }
        spans.add(span("pp_send", "decode", 0, 0, 1, 0, 1, null));
        return spans;
    }

    @Test
    void decodeFigures_countEachForwardOnce_andSkipPrefillAndOtherSpans() {
        DecodeRow.Figures f = DecodeRow.decodeFigures(twoRanksTwoSteps(true));
        assertThat(f.steps()).isEqualTo(2);
        // first decode launch at 100 ms, last decode device end at 240 ms: 140 ms over 2 steps
        assertThat(f.stepNanos()).isEqualTo(70.0 * MS);
        assertThat(f.meanCpuNanos()).containsExactly(2.0 * MS, 4.0 * MS);
        assertThat(f.meanDeviceNanos()).containsExactly(10.0 * MS, 28.0 * MS);
        assertThat(f.launchesPerForward()).isEqualTo(11.5); // 11 and 12 on each rank
        assertThat(DecodeRow.decodeFigures(twoRanksTwoSteps(false)).launchesPerForward()).isNaN();
    }

    @Test
    void decodeFigures_ofATraceWithoutDecodeSlices_sayWhatIsMissing() {
        assertThatThrownBy(() -> DecodeRow.decodeFigures(List.of(span("run_batch_cpu", "prefill", 0, 0, 0, 0, 1, null))))
                .hasMessageContaining("no decode run_batch_cpu and run_batch_device spans")
                .hasMessageContaining("trace level 4");
    }

    @Test
    void line_givesTheHbmFloorFraction_thePyTorchRatios_andTheWorstTokenStatus() {
        ModelConfig toy = ModelConfig.preset("toy", 42);
        // a 0.1 ms step at batch 8; floor = 142,641,152 B / 4.8e12 B/s = 29.717 us, 29.7% of the step
        DecodeRow.Figures f = new DecodeRow.Figures(64, 0.1 * MS, new double[] {20_000}, new double[] {95_000}, 6);
        int[][] tokens = new int[10][];
        for (int r = 0; r < tokens.length; r++) {
            tokens[r] = new int[] {r, r + 1};
        }
        int[][] oneDiffers = tokens.clone();
        oneDiffers[3] = new int[] {3, 0};
        DecodeRow.Line pass = DecodeRow.line(toy, 8, f, 4.8e12, tokens,
                List.of(new DecodeRow.Torch("eager", 0.5, tokens), new DecodeRow.Torch("graph", 0.2, tokens)));
        assertThat(pass.status()).isEqualTo("PASS");
        assertThat(pass.detail()).isEqualTo("step 0.100 ms, 80000 tok/s, HBM floor 29.7 us = 29.7% (142.6 MB at "
                + "4800.0 GB/s), 6.0 launches/forward, mean run_batch_cpu/run_batch_device us: PP0 20/95; "
                + "PyTorch eager 0.500 ms (ppexec 5.00x); PyTorch graph 0.200 ms (ppexec 2.00x); "
                + "tokens 10/10 = eager, 10/10 = graph");
        assertThat(DecodeRow.line(toy, 8, f, 4.8e12, tokens, List.of(new DecodeRow.Torch("graph", 0.2, oneDiffers)))
                .status()).isEqualTo("WARN"); // 9 of 10 requests equal
        oneDiffers[4] = new int[] {9};
        assertThat(DecodeRow.line(toy, 8, f, 4.8e12, tokens, List.of(new DecodeRow.Torch("eager", 0.5, tokens),
                new DecodeRow.Torch("graph", 0.2, oneDiffers))).status()).isEqualTo("FAIL");
        DecodeRow.Line alone = DecodeRow.line(toy, 8, f, 0, tokens, List.of());
        assertThat(alone.status()).isEqualTo("INFO");
        assertThat(alone.detail()).contains("HBM floor unknown (no peak bandwidth)").doesNotContain("PyTorch");
    }
}
