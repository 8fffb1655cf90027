package dev.ppexec.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class MatMulSummaryTest {

    /**
     * Entries shaped like JMH 1.37's JSON. 2·512³ = 268,435,456 flops: 1342.17728 µs is 200 GFLOP/s,
     * 2684.35456 µs is 100. 2·8·1024·1024 = 16,777,216 flops: 167,772.16 ns is 100 GFLOP/s.
     */
    private static final String RESULTS = """
            [
              {"benchmark": "dev.ppexec.bench.MatMulBench.openblas", "mode": "avgt", "params": {"shape": "512x512x512"},
               "primaryMetric": {"score": 1342.17728, "scoreUnit": "us/op", "scorePercentiles": {"0.0": 1342.17728}}},
              {"benchmark": "dev.ppexec.bench.MatMulBench.ppexec", "mode": "avgt", "params": {"shape": "512x512x512"},
               "primaryMetric": {"score": 2.68435456, "scoreUnit": "ms/op", "scorePercentiles": {"0.0": 1.34217728}}},
              {"benchmark": "dev.ppexec.bench.MatMulBench.ppexec", "mode": "avgt", "params": {"shape": "8x1024x1024"},
               "primaryMetric": {"score": 167772.16, "scoreUnit": "ns/op", "scorePercentiles": {"0.0": 83886.08}}},
              {"benchmark": "dev.ppexec.bench.DowncallBench.abs", "mode": "avgt",
               "primaryMetric": {"score": 9.0, "scoreUnit": "ns/op", "scorePercentiles": {"0.0": 8.0}}}
            ]
            """;

    @Test
    void rows_convertMeanAndBestTimesToGflops_andPairTheImplementationsPerShape() throws Exception {
        List<MatMulSummary.Row> rows = MatMulSummary.rows(new ObjectMapper().readTree(RESULTS));
        assertThat(rows).extracting(MatMulSummary.Row::shape).containsExactly("512x512x512", "8x1024x1024");
        MatMulSummary.Row square = rows.get(0);
        assertThat(square.openblas().mean()).isCloseTo(200.0, within(1e-9));
        assertThat(square.ppexec().mean()).isCloseTo(100.0, within(1e-9));
        assertThat(square.ppexec().best()).isCloseTo(200.0, within(1e-9));
        assertThat(square.meanRatio()).isCloseTo(0.5, within(1e-12));
        assertThat(square.bestRatio()).isCloseTo(1.0, within(1e-12));
        MatMulSummary.Row decode = rows.get(1);
        assertThat(decode.ppexec().mean()).isCloseTo(100.0, within(1e-9));
        assertThat(decode.ppexec().best()).isCloseTo(200.0, within(1e-9));
        assertThat(decode.openblas().mean()).as("OpenBLAS not run for this shape").isNaN();
        assertThat(MatMulSummary.format(rows, "test machine"))
                .contains("512x512x512         100.0      200.0     0.50      200.0      200.0     1.00");
    }

    @Test
    void badShapeOrUnit_isRejectedWithWhatIsAllowed() {
        assertThatThrownBy(() -> MatMulCase.parseShape("512x512"))
                .hasMessage("shape '512x512'; allowed: MxKxN with positive sizes, e.g. 512x512x512");
        assertThatThrownBy(() -> MatMulCase.parseShape("8xax4")).hasMessageContaining("allowed: MxKxN");
        assertThatThrownBy(() -> MatMulSummary.secondsPer("ops/us")).hasMessageContaining("allowed: s/op, ms/op, us/op, ns/op");
    }
}
