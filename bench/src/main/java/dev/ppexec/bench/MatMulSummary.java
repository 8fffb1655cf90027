package dev.ppexec.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ppexec.backend.cpu.CpuInfo;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Turns {@link MatMulBench}'s times in a JMH JSON result file into GFLOP/s (2·M·K·N flops per call) and the
 * ppexec/OpenBLAS ratio per shape, with the machine they ran on. {@code scripts/bench-jmh} runs it after JMH.
 *
 * <p>Two figures per implementation: from the mean time over the measured iterations (JMH's score), and
 * from the best iteration (its fastest one). On a machine shared with other work the mean moves with
 * whatever else runs during each benchmark; the best iteration is the one least disturbed, so the
 * best-iteration ratio is the steadier comparison there.
 */
public final class MatMulSummary {

    /** GFLOP/s from the mean time and from the best iteration; NaN where not run. */
    record Gflops(double mean, double best) {
        static final Gflops NONE = new Gflops(Double.NaN, Double.NaN);
    }

    /** One shape's figures for both implementations. */
    record Row(String shape, Gflops ppexec, Gflops openblas) {
        double meanRatio() {
            return ppexec.mean() / openblas.mean();
        }

        double bestRatio() {
            return ppexec.best() / openblas.best();
        }
    }

    private MatMulSummary() {}

    public static void main(String[] args) throws IOException {
        if (args.length != 1 || !Files.isRegularFile(Path.of(args[0]))) {
            System.err.println("MatMulSummary: expected one argument, a JMH JSON result file (-rf json -rff FILE); got "
                    + String.join(" ", args));
            System.exit(2);
        }
        List<Row> rows = rows(new ObjectMapper().readTree(Path.of(args[0]).toFile()));
        if (!rows.isEmpty()) {
            System.out.print(format(rows, machine()));
        }
    }

    /** The MatMulBench entries of a JMH result array, by shape in the order JMH ran them. */
    static List<Row> rows(JsonNode results) {
        String prefix = MatMulBench.class.getName() + ".";
        Map<String, Gflops[]> byShape = new LinkedHashMap<>();
        for (JsonNode r : results) {
            String benchmark = r.path("benchmark").asText();
            if (!benchmark.startsWith(prefix) || !"avgt".equals(r.path("mode").asText())) {
                continue;
            }
            String shape = r.path("params").path("shape").asText();
            int[] mkn = MatMulCase.parseShape(shape);
            double flops = 2.0 * mkn[0] * mkn[1] * mkn[2];
            JsonNode metric = r.path("primaryMetric");
            double unit = secondsPer(metric.path("scoreUnit").asText());
            double meanSeconds = metric.path("score").asDouble() * unit;
            double bestSeconds = metric.path("scorePercentiles").path("0.0").asDouble() * unit;
            Gflops g = new Gflops(flops / meanSeconds / 1e9, flops / bestSeconds / 1e9);
            Gflops[] pair = byShape.computeIfAbsent(shape, s -> new Gflops[] {Gflops.NONE, Gflops.NONE});
            switch (benchmark.substring(prefix.length())) {
                case "ppexec" -> pair[0] = g;
                case "openblas" -> pair[1] = g;
                default -> { }
            }
        }
        List<Row> rows = new ArrayList<>();
        byShape.forEach((shape, pair) -> rows.add(new Row(shape, pair[0], pair[1])));
        return rows;
    }

    /** Seconds in one unit of an average-time score such as {@code "us/op"}. */
    static double secondsPer(String scoreUnit) {
        return switch (scoreUnit) {
            case "s/op" -> 1.0;
            case "ms/op" -> 1e-3;
            case "us/op" -> 1e-6;
            case "ns/op" -> 1e-9;
            default -> throw new IllegalArgumentException("score unit '" + scoreUnit
                    + "'; allowed: s/op, ms/op, us/op, ns/op (MatMulBench runs in average-time mode)");
        };
    }

    static String format(List<Row> rows, String machine) {
        StringBuilder sb = new StringBuilder();
        sb.append("\nmatmul, one thread, ").append(machine).append('\n');
        sb.append(String.format(Locale.ROOT, "%-16s %28s   %28s%n", "", "GFLOP/s from the mean time",
                "GFLOP/s from the best iteration"));
        sb.append(String.format(Locale.ROOT, "%-16s %8s %10s %8s   %8s %10s %8s%n", "shape MxKxN",
                "ppexec", "OpenBLAS", "ratio", "ppexec", "OpenBLAS", "ratio"));
        for (Row r : rows) {
            sb.append(String.format(Locale.ROOT, "%-16s %8.1f %10.1f %8.2f   %8.1f %10.1f %8.2f%n", r.shape(),
                    r.ppexec().mean(), r.openblas().mean(), r.meanRatio(),
                    r.ppexec().best(), r.openblas().best(), r.bestRatio()));
        }
        return sb.toString();
    }

    /** CPU, cores, vector width, matmul tile and JVM: where the figures came from. */
    static String machine() {
        return CpuInfo.current().describe() + "; Java " + Runtime.version();
    }
}
