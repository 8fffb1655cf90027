package dev.ppexec.reliability;

import dev.ppexec.cli.CliRun;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.statistics.Statistics;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Random values for {@code run}'s numeric options on {@code tiny} (in range, out of range, zero,
 * negative, huge): every combination runs (status 0) or is refused with status 2 and one line
 * naming an option; never a stack trace.
 */
class RunOptionsFuzzTest {

    @Property(tries = 120)
    void numericOptions_runOrAreRefusedInOneLine(@ForAll @IntRange(min = -3, max = 6) int stages,
                                                   @ForAll @IntRange(min = -2, max = 40) int microBatches,
                                                   @ForAll @IntRange(min = -2, max = 40) int requests,
                                                   @ForAll @IntRange(min = -2, max = 140) int promptLength,
                                                   @ForAll @IntRange(min = -2, max = 140) int decodeSteps) {
        CliRun r = CliRun.of("run", "--model", "tiny", "--device", "cpu", "--warmup", "0", "--no-progress",
                "--print-tokens", "0", "--stages", Integer.toString(stages), "--micro-batches", Integer.toString(microBatches),
                "--requests", Integer.toString(requests), "--prompt-len", Integer.toString(promptLength),
                "--decode-steps", Integer.toString(decodeSteps));
        Statistics.collect(r.status());
        assertThat(r.status()).as(r.err()).isIn(0, 2);
        assertThat(r.err()).doesNotContain("\tat ").doesNotContain("Exception");
        if (r.status() == 2) {
            assertThat(r.err().strip().lines()).as(r.err()).hasSize(1);
            assertThat(r.err()).startsWith("run: ").containsPattern("--[a-z-]+ ");
        } else {
            assertThat(r.out()).contains("tokens/s");
        }
    }
}
