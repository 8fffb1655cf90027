package dev.ppexec.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

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
 */
public final class MatMulSummary {

    /** One shape: GFLOP/s of each implementation (NaN where it was not run). */
    record Row(String shape, double ppexecGflops, double openblasGflops) {
        double ratio() {
            return ppexecGflops / openblasGflops;
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
        Map<String, double[]> byShape = new LinkedHashMap<>();
        for (JsonNode r : results) {
            String benchmark = r.path("benchmark").asText();
            if (!benchmark.startsWith(prefix) || !"avgt".equals(r.path("mode").asText())) {
                continue;
            }
            String shape = r.path("params").path("shape").asText();
            int[] mkn = MatMulBench.parseShape(shape);
            double flops = 2.0 * mkn[0] * mkn[1] * mkn[2];
            JsonNode metric = r.path("primaryMetric");
            double seconds = metric.path("score").asDouble() * secondsPer(metric.path("scoreUnit").asText());
            double[] gflops = byShape.computeIfAbsent(shape, s -> new double[] {Double.NaN, Double.NaN});
            switch (benchmark.substring(prefix.length())) {
                case "ppexec" -> gflops[0] = flops / seconds / 1e9;
                case "openblas" -> gflops[1] = flops / seconds / 1e9;
                default -> { }
            }
        }
        List<Row> rows = new ArrayList<>();
        byShape.forEach((shape, g) -> rows.add(new Row(shape, g[0], g[1])));
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
        sb.append(String.format(Locale.ROOT, "%-16s %14s %16s %16s%n", "shape MxKxN", "ppexec GFLOP/s",
                "OpenBLAS GFLOP/s", "ppexec/OpenBLAS"));
        for (Row r : rows) {
            sb.append(String.format(Locale.ROOT, "%-16s %14.1f %16.1f %16.2f%n", r.shape(), r.ppexecGflops(),
                    r.openblasGflops(), r.ratio()));
        }
        return sb.toString();
    }

    /** CPU model, cores, JVM: where the figures came from. */
    static String machine() {
        String cpu = System.getProperty("os.arch");
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    cpu = line.substring(line.indexOf(':') + 1).strip();
                    break;
                }
            }
        } catch (IOException e) {
            // No /proc (not Linux): the architecture name stays.
        }
        return cpu + ", " + Runtime.getRuntime().availableProcessors() + " cores, Java " + Runtime.version();
    }
}
