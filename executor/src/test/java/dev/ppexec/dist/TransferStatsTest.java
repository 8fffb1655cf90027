package dev.ppexec.dist;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.LongStream;

import static org.assertj.core.api.Assertions.assertThat;

/** gpu-check's transfer statistics: nearest-rank percentiles of the pp_send and pp_recv spans, per transport. */
class TransferStatsTest {

    @TempDir
    Path dir;

    @Test
    void percentile_isTheNearestRank() {
        long[] hundred = LongStream.rangeClosed(1, 100).toArray();
        assertThat(TransferStats.percentile(hundred, 50)).isEqualTo(50);
        assertThat(TransferStats.percentile(hundred, 99)).isEqualTo(99);
        assertThat(TransferStats.percentile(new long[] {7}, 99)).isEqualTo(7);
        assertThat(TransferStats.percentile(new long[] {1, 2, 3}, 50)).isEqualTo(2);
    }

    private static String span(String name, String transport, long startNanos, long endNanos) {
        return """
                {"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"%016x","name":"%s","startTimeUnixNano":"%d",\
                "endTimeUnixNano":"%d","attributes":[{"key":"transport","value":{"stringValue":"%s"}}]}"""
                .formatted(startNanos, name, startNanos, endNanos, transport);
    }

    @Test
    void of_groupsBySpanAndTransport_acrossRankFiles() throws IOException {
        Path rank0 = dir.resolve("t.rank0.jsonl");
        Path rank1 = dir.resolve("t.rank1.jsonl");
        Files.writeString(rank0, line(List.of(span("pp_send", "nccl", 1_000, 3_000), span("pp_send", "nccl", 5_000, 9_000),
                span("run_batch_cpu", "nccl", 1_000, 2_000))));
        Files.writeString(rank1, line(List.of(span("pp_recv", "nccl", 10_000, 11_000), span("pp_recv", "host", 20_000, 26_000))));
        assertThat(TransferStats.of(List.of(rank0, rank1))).containsExactly(
                new TransferStats.Stats("pp_recv", "host", 1, 6_000, 6_000),
                new TransferStats.Stats("pp_recv", "nccl", 1, 1_000, 1_000),
                new TransferStats.Stats("pp_send", "nccl", 2, 2_000, 4_000));
    }

    private static String line(List<String> spans) {
        return "{\"resourceSpans\":[{\"resource\":{\"attributes\":[]},\"scopeSpans\":[{\"spans\":["
                + spans.stream().collect(Collectors.joining(",")) + "]}]}]}\n";
    }
}
