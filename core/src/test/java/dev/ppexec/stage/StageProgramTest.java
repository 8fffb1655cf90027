package dev.ppexec.stage;

import dev.ppexec.backend.Device;
import dev.ppexec.backend.Event;
import dev.ppexec.backend.Launch;
import dev.ppexec.backend.Stream;
import dev.ppexec.backend.cpu.CpuDevice;
import dev.ppexec.model.ModelConfig;
import dev.ppexec.model.Prompts;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

/**
 * StageProgram's two launch lists (Note [fused launches] in Kernels) on the CPU backend: their counts, what a forward
 * enqueues, the host check of the KV capacity, and the tokens of the fused and unfused one-token lists.
 */
class StageProgramTest {

    static final ModelConfig TINY = ModelConfig.preset("tiny", 3); // 4 layers, dim 64, ffn 256, vocab 256

    /** A stream that counts and names the launches it is given, and runs them on a real CPU stream. */
    static final class CountingStream implements Stream {
        final Stream inner;
        final List<String> launched = new ArrayList<>();

        CountingStream(Stream inner) {
            this.inner = inner;
        }

        @Override public Device device() { return inner.device(); }
        @Override public String label() { return inner.label(); }
        @Override public int id() { return inner.id(); }
        @Override public void record(Event event) { inner.record(event); }
        @Override public void waitFor(Event event) { inner.waitFor(event); }
        @Override public void synchronize() { inner.synchronize(); }
        @Override public void close() { inner.close(); }

        @Override
        public void launch(Launch launch, int tokens, int startPos) {
            launched.add(launch.name());
            inner.launch(launch, tokens, startPos);
        }
    }

    @Test
    void decodeLayer_isSixLaunches_andAnyOtherPassNine() {
        for (boolean first : new boolean[] {false, true}) {
            for (boolean last : new boolean[] {false, true}) {
                assertThat(StageProgram.launchCount(3, first, last, 16, 1) - StageProgram.launchCount(2, first, last, 16, 1))
                        .as("a decode layer at batch 16").isEqualTo(6);
                assertThat(StageProgram.launchCount(3, first, last, 17, 1) - StageProgram.launchCount(2, first, last, 17, 1))
                        .as("a one-token layer at batch 17").isEqualTo(9);
                assertThat(StageProgram.launchCount(3, first, last, 1, 5) - StageProgram.launchCount(2, first, last, 1, 5))
                        .as("a prefill layer").isEqualTo(9);
            }
        }
    }

    /** Rows: batch, tokens per request; the launches a whole-model stage enqueues (setStep, embed, 4 layers, head). */
    @ParameterizedTest
    @CsvSource({
            "2, 5, 42",  // prefill: 1 + 1 + 4·9 + 4 (gather_last, rmsnorm, matmul, argmax)
            "2, 1, 28",  // decode: 1 + 1 + 4·6 + 2 (norm_matmul of the final norm and LM head, argmax)
            "17, 1, 41"}) // one token over the fused limit: 1 + 1 + 4·9 + 3 (no gather_last)
    void forward_enqueuesItsLaunchCount(int batch, int tokens, int expected) {
        int promptLen = 5;
        try (CpuDevice device = new CpuDevice();
             StageWeights weights = new StageWeights(device, TINY, 0, TINY.layers());
             Workspace ws = new Workspace(device, TINY, batch, promptLen, true);
             StageProgram program = new StageProgram(device, weights, ws, Prompts.prompts(TINY.seed(), batch, promptLen,
                     TINY.vocab()), IntStream.range(0, batch).toArray(), promptLen, promptLen + 2,
                     new int[batch][3])) {
            CountingStream stream = new CountingStream(device.createStream("count"));
            program.launchForward(stream, promptLen, 0);
            stream.synchronize();
            stream.launched.clear();
            int startPos = tokens == 1 ? promptLen : 0;
            program.launchForward(stream, tokens, startPos);
            stream.synchronize();
            assertThat(stream.launched).as("what the forward enqueued").hasSize(expected);
            assertThat(program.launchCount(tokens)).isEqualTo(expected);
            assertThat(StageProgram.launchCount(TINY.layers(), true, true, batch, tokens)).isEqualTo(expected);
            assertThat(stream.launched.getFirst()).isEqualTo("set_step step");
            assertThat(stream.launched.subList(1, stream.launched.size()))
                    .as("the body is what level 5 slices")
                    .containsExactlyElementsOf(program.launches(tokens).stream().map(StageProgram.LaunchShape::name).toList());
        }
    }

    @Test
    void passPastTheKvCapacity_isRefusedOnTheHost_beforeAnythingIsEnqueued() {
        try (CpuDevice device = new CpuDevice();
             StageWeights weights = new StageWeights(device, TINY, 1, 2);
             Workspace ws = new Workspace(device, TINY, 1, 4, false);
             StageProgram program = new StageProgram(device, weights, ws, null, new int[] {0}, 4, 6, null)) {
            CountingStream stream = new CountingStream(device.createStream("count"));
            assertThatThrownBy(() -> program.launchForward(stream, 1, 6)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("a pass of 1 tokens from position 6 does not fit the KV cache of 6 positions per request");
            assertThat(stream.launched).isEmpty();
        }
    }

    /**
     * Requests 0..15 alone in a batch of 16 (fused decode) and beside a 17th (the unfused one-token list): every
     * logit of every step bit-identical (Note [cpu fused launches]), so the tokens are too.
     */
    @Test
    void fusedDecodeAtSixteen_andUnfusedAtSeventeen_giveBitIdenticalLogits() {
        int promptLen = 3, steps = 3;
        NumpyReferenceTest.Run fused = NumpyReferenceTest.runCpu(TINY, StageProgram.FUSED_MAX_BATCH, promptLen, steps);
        NumpyReferenceTest.Run unfused = NumpyReferenceTest.runCpu(TINY, StageProgram.FUSED_MAX_BATCH + 1, promptLen, steps);
        for (int r = 0; r < StageProgram.FUSED_MAX_BATCH; r++) {
            for (int s = 0; s <= steps; s++) {
                double[] a = fused.logits()[r][s];
                double[] b = unfused.logits()[r][s];
                for (int i = 0; i < a.length; i++) {
                    if (Double.doubleToRawLongBits(a[i]) != Double.doubleToRawLongBits(b[i])) {
                        fail("request " + r + " step " + s + ": first mismatch at vocab index " + i + ": fused " + a[i]
                                + ", unfused " + b[i] + " (bit-identical expected)");
                    }
                }
            }
            assertThat(fused.tokens()[r]).as("tokens of request %d", r).containsExactly(unfused.tokens()[r]);
        }
    }
}
