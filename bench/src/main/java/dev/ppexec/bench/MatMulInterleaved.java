package dev.ppexec.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The matmul comparison for a machine shared with other work: for each shape, timed windows of ppexec and
 * OpenBLAS alternate (so both meet the same disturbances), and each side's best window counts. JMH's
 * {@link MatMulBench} runs one implementation after the other, so a load that comes and goes between them
 * moves its ratio; this one is steadier there. {@code scripts/bench-jmh --interleaved [SHAPE ...]} runs it.
 */
public final class MatMulInterleaved {

    static final List<String> SHAPES = List.of("256x256x256", "512x512x512", "1024x1024x1024", "8x1024x1024");
    private static final int WARMUP_WINDOWS = 4;
    private static final int WINDOWS = 30;
    private static final long WINDOW_NANOS = 100_000_000L;

    private MatMulInterleaved() {}

    public static void main(String[] args) {
        List<String> shapes = args.length == 0 ? SHAPES : List.of(args);
        for (String s : shapes) {
            try {
                MatMulCase.parseShape(s);
            } catch (IllegalArgumentException e) {
                System.err.println("bench-jmh --interleaved: " + e.getMessage());
                System.exit(2);
            }
        }
        List<MatMulSummary.Row> rows = new ArrayList<>();
        for (String shape : shapes) {
            try (MatMulCase matmul = new MatMulCase(shape)) {
                if (rows.isEmpty()) {
                    System.out.println(matmul.openblasInfo());
                }
                double bestPpexec = 0;
                double bestOpenblas = 0;
                for (int w = 0; w < WARMUP_WINDOWS + WINDOWS; w++) {
                    double p = window(matmul, true);
                    double o = window(matmul, false);
                    if (w >= WARMUP_WINDOWS) {
                        bestPpexec = Math.max(bestPpexec, p);
                        bestOpenblas = Math.max(bestOpenblas, o);
                    }
                }
                rows.add(new MatMulSummary.Row(shape, new MatMulSummary.Gflops(Double.NaN, bestPpexec),
                        new MatMulSummary.Gflops(Double.NaN, bestOpenblas)));
            }
        }
        System.out.printf(Locale.ROOT, "%nmatmul, one thread, best of %d alternating windows of %d ms, %s%n", WINDOWS,
                WINDOW_NANOS / 1_000_000, MatMulSummary.machine());
        System.out.printf(Locale.ROOT, "%-16s %8s %10s %8s%n", "shape MxKxN", "ppexec", "OpenBLAS", "ratio");
        for (MatMulSummary.Row r : rows) {
            System.out.printf(Locale.ROOT, "%-16s %8.1f %10.1f %8.2f%n", r.shape(), r.ppexec().best(),
                    r.openblas().best(), r.bestRatio());
        }
    }

    /** GFLOP/s of one window of back-to-back calls. */
    private static double window(MatMulCase matmul, boolean ppexec) {
        long calls = 0;
        long start = System.nanoTime();
        long elapsed;
        do {
            if (ppexec) {
                matmul.ppexec();
            } else {
                matmul.openblas();
            }
            calls++;
            elapsed = System.nanoTime() - start;
        } while (elapsed < WINDOW_NANOS);
        return matmul.flops() * calls / elapsed;
    }
}
