package dev.ppexec.cli;

import dev.ppexec.otel.TraceOptions;
import dev.ppexec.trace.TraceLevel;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.net.URI;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** A world's trace file per rank: the contract's names (docs/DISTRIBUTED.md), the rest of the options kept. */
class InWorldTest {

    @ParameterizedTest
    @CsvSource({"out/t.jsonl, 0, out/t.rank0.jsonl", "out/t.jsonl, 3, out/t.rank3.jsonl", "trace, 1, trace.rank1",
            "a.b/t.x.jsonl, 2, a.b/t.x.rank2.jsonl", ".hidden, 0, .hidden.rank0"})
    void rankTrace_namesRankRsFile_keepingTheExtension(String given, int rank, String expected) {
        TraceOptions options = new TraceOptions(new TraceLevel(3), Path.of(given), URI.create("http://127.0.0.1:4318"),
                TraceOptions.GRPC, Map.of("team", "x"));
        TraceOptions ranked = InWorld.rankTrace(options, rank);
        assertThat(ranked.file()).isEqualTo(Path.of(expected));
        assertThat(ranked).isEqualTo(new TraceOptions(options.level(), Path.of(expected), options.otlpEndpoint(),
                options.otlpProtocol(), options.attributes(), options.schema()));
    }
}
