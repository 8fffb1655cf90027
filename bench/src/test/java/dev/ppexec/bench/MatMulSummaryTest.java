package dev.ppexec.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class MatMulSummaryTest {

    /** Entries shaped like JMH 1.37's JSON: 2·512³ = 268,435,456 flops in 1342.17728 µs is 200 GFLOP/s. */
    private static final String RESULTS = """
            [
              {"benchmark": "dev.ppexec.bench.MatMulBench.openblas", "mode": "avgt", "params": {"shape": "512x512x512"},
               "primaryMetric": {"score": 1342.17728, "scoreUnit": "us/op"}},
              {"benchmark": "dev.ppexec.bench.MatMulBench.ppexec", "mode": "avgt", "params": {"shape": "512x512x512"},
               "primaryMetric": {"score": 2.68435456, "scoreUnit": "ms/op"}},
              {"benchmark": "dev.ppexec.bench.MatMulBench.ppexec", "mode": "avgt", "params": {"shape": "8x1024x1024"},
               "primaryMetric": {"score": 167772.16, "scoreUnit": "ns/op"}},
              {"benchmark": "dev.ppexec.bench.DowncallBench.getpid", "mode": "avgt",
               "primaryMetric": {"score": 9.0, "scoreUnit": "ns/op"}}
            ]
            """;

    @Test
    void rows_convertTimesToGflops_andPairTheTwoImplementationsPerShape() throws Exception {
        List<MatMulSummary.Row> rows = MatMulSummary.rows(new ObjectMapper().readTree(RESULTS));
        assertThat(rows).extracting(MatMulSummary.Row::shape).containsExactly("512x512x512", "8x1024x1024");
        MatMulSummary.Row square = rows.get(0);
        assertThat(square.openblasGflops()).isCloseTo(200.0, within(1e-9));
        assertThat(square.ppexecGflops()).isCloseTo(100.0, within(1e-9));
        assertThat(square.ratio()).isCloseTo(0.5, within(1e-12));
        // 2·8·1024·1024 = 16,777,216 flops in 167,772.16 ns is 100 GFLOP/s; OpenBLAS was not run for it.
        assertThat(rows.get(1).ppexecGflops()).isCloseTo(100.0, within(1e-9));
        assertThat(rows.get(1).openblasGflops()).isNaN();
        assertThat(MatMulSummary.format(rows, "test machine"))
                .contains("512x512x512               100.0            200.0             0.50");
    }

    @Test
    void badShapeOrUnit_isRejectedWithWhatIsAllowed() {
        assertThatThrownBy(() -> MatMulBench.parseShape("512x512"))
                .hasMessage("shape '512x512'; allowed: MxKxN with positive sizes, e.g. 512x512x512");
        assertThatThrownBy(() -> MatMulBench.parseShape("8xax4")).hasMessageContaining("allowed: MxKxN");
        assertThatThrownBy(() -> MatMulSummary.secondsPer("ops/us")).hasMessageContaining("allowed: s/op, ms/op, us/op, ns/op");
    }
}
