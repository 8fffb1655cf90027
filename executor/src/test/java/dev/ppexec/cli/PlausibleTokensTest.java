package dev.ppexec.cli;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static dev.ppexec.perfetto.TraceFixtures.resource;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A huge but valid output_tokens on one request of the fixture (3 requests of 2 tokens over
 * 0.412 ms, ppexec.decode_steps 1): named in a warning and left out of tokens/s (Note [plausible
 * tokens] in TraceReport), so the run's figure is the other requests' 4 tokens, 9708.7 tokens/s.
 */
class PlausibleTokensTest {

    static final String TOKENS = "{\"key\":\"output_tokens\",\"value\":{\"intValue\":\"2\"}}";
    static final String DECODE_STEPS = "{\"key\":\"ppexec.decode_steps\",\"value\":{\"intValue\":\"1\"}},";

    @TempDir
    Path dir;

    @ParameterizedTest(name = "Req 1 output_tokens {0}, decode_steps kept: {1}")
    @CsvSource(delimiter = '|', value = {
            "2147483647    | true  | is more than a request of this run generates (ppexec.decode_steps 1 + 1)",
            "3             | true  | is more than a request of this run generates (ppexec.decode_steps 1 + 1)",
            "1000000000000 | true  | is not a 32-bit count",
            "1000000000000 | false | is not a 32-bit count",
            "1000          | false | in 0.350 ms is 2.86e+06 tokens/s for one request, above 1,000,000",
            "2147483647    | false | in 0.350 ms is 6.14e+12 tokens/s for one request, above 1,000,000",
    })
    void implausibleOutputTokens_areNamedInAWarning_andLeftOutOfTokensPerSecond(String tokens, boolean decodeSteps,
                                                                              String why) throws IOException {
        CliRun o = CliRun.of("report", "--input", trace(tokens, decodeSteps).toString());
        assertThat(o.status()).as(o.err()).isZero();
        assertThat(o.out()).contains("warning: Req 1 (rid 1): output_tokens " + tokens + " " + why)
                .contains("; left out of tokens/s\n")
                .contains("throughput: 3 requests, 4 output tokens in 0.412 ms: 9708.7 tokens/s");
    }

    @ParameterizedTest(name = "Req 1 output_tokens {0}, decode_steps kept: {1}")
    @CsvSource({"2, true", "2, false", "350, false"})
    void plausibleOutputTokens_count_withoutAWarning(int tokens, boolean decodeSteps) throws IOException {
        CliRun o = CliRun.of("report", "--input", trace(Integer.toString(tokens), decodeSteps).toString());
        assertThat(o.status()).as(o.err()).isZero();
        assertThat(o.out()).doesNotContain("warning:")
                .contains("throughput: 3 requests, " + (4 + tokens) + " output tokens in 0.412 ms");
    }

    /** The fixture with Req 1's output_tokens set to {@code tokens}, and without ppexec.decode_steps unless kept. */
    private Path trace(String tokens, boolean decodeSteps) throws IOException {
        String text = Files.readString(resource("p2-m2.jsonl"));
        int req1 = text.indexOf(TOKENS, text.indexOf(TOKENS) + 1);
        text = text.substring(0, req1) + TOKENS.replace("\"2\"", "\"" + tokens + "\"") + text.substring(req1 + TOKENS.length());
        return Files.writeString(dir.resolve("trace.jsonl"), decodeSteps ? text : text.replace(DECODE_STEPS, ""));
    }
}
