package dev.ppexec.report;

import dev.ppexec.otlp.SpanRecord;
import org.junit.jupiter.api.Test;

import java.awt.Color;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Note [kernel lanes] in {@link TimelinePainter}, read back from the picture's pixels at the places its layout says:
 * one rank whose one forward (run_batch_device, 10 ms or 1 ms) holds level-5 kernel slices.
 */
class TimelineKernelsTest {

    private static final long T0 = TraceReportTest.T0;
    private static final Map<String, Object> RESOURCE = Map.of("host.name", "testhost", "service.name", "ppexec");
    private static final String STREAM = "cpu stream 1";

    private static TraceReport report(long deviceMicros, List<SpanRecord> kernels) {
        TraceReport.Builder b = TraceReport.builder();
        b.accept(TraceReportTest.batch("run_batch_cpu", 0, 0, "0", 0, 5, null, RESOURCE));
        b.accept(TraceReportTest.batch("run_batch_device", 0, 0, "0", 0, deviceMicros, STREAM, RESOURCE));
        kernels.forEach(b);
        return b.build();
    }

    private static SpanRecord kernel(String name, long startNanos, long endNanos) {
        Map<String, Object> a = new HashMap<>(Map.of("pp_rank", 0L, "tp_rank", 0L, "dp_rank", 0L, "pp_mb_id", 0L,
                "step", 0L, "kernel", name.substring(0, name.indexOf(' '))));
        return new SpanRecord(name, T0 + startNanos, T0 + endNanos, a, RESOURCE);
    }

    private static TimelinePainter.Lane kernelLane(TimelinePainter.Layout layout) {
        return layout.lanes().stream().filter(TimelinePainter.Lane::kernels).findFirst().orElseThrow();
    }

    @Test
    void paint_wideKernelSlices_drawnInTheirColoursOnALaneUnderTheirStream() {
        TraceReport report = report(10_000, List.of(kernel("matmul layers.0.w1", 0, 6_000_000),
                kernel("attention layers.0.attn", 6_000_000, 10_000_000)));
        TimelinePainter.Layout layout = TimelinePainter.layout(report);
        BufferedImage image = TimelinePainter.paint(report, "t");

        List<TimelinePainter.Lane> lanes = layout.lanes();
        TimelinePainter.Lane kernels = kernelLane(layout);
        int below = lanes.indexOf(kernels) - 1;
        assertThat(lanes.get(below).label()).isEqualTo(STREAM);
        assertThat(lanes.get(below).kernels()).isFalse();
        assertThat(layout.laneTop(kernels)).isGreaterThan(layout.laneTop(lanes.get(below)));
        Color matmul = layout.kernelColours().get("matmul");
        Color attention = layout.kernelColours().get("attention");
        assertThat(matmul).isNotEqualTo(attention);
        int mid = layout.laneTop(kernels) + 13;
        assertThat(pixel(image, layout.x(T0 + 3_000_000), mid)).isEqualTo(matmul);
        assertThat(pixel(image, layout.x(T0 + 8_000_000), mid)).isEqualTo(attention);
        Color device = pixel(image, layout.x(T0 + 3_000_000), layout.laneTop(lanes.get(below)) + 13);
        assertThat(device).isNotIn(matmul, attention);
        assertThat(pixel(image, layout.x(T0 + 8_000_000), layout.laneTop(lanes.get(below)) + 13)).isEqualTo(device);
    }

    @Test
    void paint_slicesThinnerThanAPixel_mergedIntoEachColumnsShares() {
        List<SpanRecord> thin = new ArrayList<>();
        for (int j = 0; j < 50_000; j++) { // 20 ns each over 1 ms: ~36 in a pixel; 3 of 4 matmul, 1 of 4 rmsnorm
            thin.add(kernel(j % 4 == 3 ? "rmsnorm layers.0.attn_norm" : "matmul layers.0.wq", 20L * j, 20L * (j + 1)));
        }
        TraceReport report = report(1_000, thin);
        TimelinePainter.Layout layout = TimelinePainter.layout(report);
        BufferedImage image = TimelinePainter.paint(report, "t");

        Color matmul = layout.kernelColours().get("matmul");
        Color rmsnorm = layout.kernelColours().get("rmsnorm");
        int top = layout.laneTop(kernelLane(layout)) + 1;
        int height = 24;
        for (long at : new long[] {100_000, 500_000, 900_000}) {
            int x = (int) Math.floor(layout.x(T0 + at)) + 2;
            int matmulPixels = 0;
            int rmsnormPixels = 0;
            for (int y = top + 1; y < top + height - 1; y++) { // inside any outline
                Color c = pixel(image, x, y);
                assertThat(c).as("x %d y %d", x, y).isIn(matmul, rmsnorm);
                matmulPixels += c.equals(matmul) ? 1 : 0;
                rmsnormPixels += c.equals(rmsnorm) ? 1 : 0;
            }
            assertThat((double) matmulPixels).as("matmul at %d ns", at).isBetween(0.75 * height - 2, 0.75 * height + 1);
            assertThat((double) rmsnormPixels).as("rmsnorm at %d ns", at).isBetween(0.25 * height - 2, 0.25 * height + 1);
        }
    }

    @Test
    void layout_traceWithoutKernelSlices_hasNoKernelLane() {
        TimelinePainter.Layout layout = TimelinePainter.layout(report(10_000, List.of()));

        assertThat(layout.lanes()).noneMatch(TimelinePainter.Lane::kernels);
        assertThat(layout.kernelColours()).isEmpty();
    }

    private static Color pixel(BufferedImage image, double x, int y) {
        return new Color(image.getRGB((int) Math.floor(x), y));
    }
}
