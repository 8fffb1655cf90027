package dev.ppexec.sweep;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.ppexec.io.AtomicFile;
import dev.ppexec.io.Desktop;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/** Writes a sweep's results: a Markdown table, a JSON file and two PNG plots, each whole or not at all. */
public final class SweepOutput {

    /** What was swept and where, for the files' headers. */
    public record Header(String model, String device, String machine, int requests, int promptLength, int decodeSteps,
                         int repeats) {}

    /** The files {@link #write} makes in its folder. */
    public static final String MARKDOWN = "bench.md";
    public static final String JSON = "bench.json";
    public static final String RATE_PLOT = "tokens_per_s.png";
    public static final String BUBBLE_PLOT = "bubble.png";

    private SweepOutput() {}

    /**
     * Writes {@code bench.md}, {@code bench.json} and, where the runtime can draw ({@link Desktop#available()}),
     * {@code tokens_per_s.png} and {@code bubble.png} into {@code dir}; returns what it wrote.
     */
    public static List<Path> write(Path dir, Header h, List<SweepPoint> points) throws IOException {
        Files.createDirectories(dir);
        Path md = dir.resolve(MARKDOWN);
        Path json = dir.resolve(JSON);
        Path rate = dir.resolve(RATE_PLOT);
        Path bubble = dir.resolve(BUBBLE_PLOT);
        AtomicFile.write(md, out -> out.write(markdown(h, points).getBytes(StandardCharsets.UTF_8)));
        AtomicFile.write(json, out -> new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
                .disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET).writeValue(out, json(h, points)));
        if (!Desktop.available()) {
            return List.of(md, json);
        }
        throughputPlot(h, points).write(rate);
        bubblePlot(points).write(bubble);
        return List.of(md, json, rate, bubble);
    }

    /** The table, one row per (P, M, phase). */
    public static String markdown(Header h, List<SweepPoint> points) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "Model %s on %s (%s); %d requests x (%d prompt + %d decode), %d repeats, interleaved.%n%n",
                h.model(), h.device(), h.machine(), h.requests(), h.promptLength(), h.decodeSteps(), h.repeats()));
        sb.append("| P | M | phase | tokens/s (median) | spread (min-max) | bubble measured | bubble ideal | efficiency"
                + " | run_batch_cpu us/rank | run_batch_device us/rank | traced/untraced |\n");
        sb.append("|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (SweepPoint p : points) {
            sb.append(String.format(Locale.ROOT, "| %d | %d | %s | %.1f | %.1f-%.1f | %.1f%% | %.1f%% | %.2f | %s | %s | %s |%n",
                    p.ranks(), p.microBatches(), p.phase(), p.median(), p.min(), p.max(), 100 * p.measuredBubble(),
                    100 * p.idealBubble(), p.efficiency(), join(p.meanCpuMicros()), join(p.meanDeviceMicros()),
                    Double.isNaN(p.tracedRatio()) ? "-" : String.format(Locale.ROOT, "%.3f", p.tracedRatio())));
        }
        return sb.toString();
    }

    private static String join(List<Double> values) {
        return values.stream().map(v -> String.format(Locale.ROOT, "%.1f", v)).collect(Collectors.joining(" / "));
    }

    private static Map<String, Object> json(Header h, List<SweepPoint> points) {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("model", h.model());
        root.put("device", h.device());
        root.put("machine", h.machine());
        root.put("requests", h.requests());
        root.put("promptLength", h.promptLength());
        root.put("decodeSteps", h.decodeSteps());
        root.put("repeats", h.repeats());
        List<Map<String, Object>> list = new ArrayList<>();
        for (SweepPoint p : points) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("ranks", p.ranks());
            m.put("microBatches", p.microBatches());
            m.put("phase", p.phase());
            m.put("tokensPerSecond", p.tokensPerSecond());
            m.put("tokensPerSecondMedian", p.median());
            m.put("measuredBubble", p.measuredBubble());
            m.put("idealBubble", p.idealBubble());
            m.put("efficiency", p.efficiency());
            m.put("meanRunBatchCpuMicros", p.meanCpuMicros());
            m.put("meanRunBatchDeviceMicros", p.meanDeviceMicros());
            m.put("tracedOverUntraced", Double.isNaN(p.tracedRatio()) ? null : p.tracedRatio());
            list.add(m);
        }
        root.put("points", list);
        return root;
    }

    private static LinePlot throughputPlot(Header h, List<SweepPoint> points) {
        LinePlot plot = new LinePlot("tokens/s against micro-batches (" + h.model() + ", " + h.device() + ")",
                "micro-batches M", "tokens/s (median)");
        int colour = 0;
        for (int ranks : points.stream().map(SweepPoint::ranks).distinct().toList()) {
            for (String phase : List.of("prefill", "decode")) {
                plot.add(new LinePlot.Series("P=" + ranks + " " + phase, series(points, ranks, phase, SweepPoint::median),
                        phase.equals("prefill"), colour));
            }
            colour++;
        }
        return plot;
    }

    private static LinePlot bubblePlot(List<SweepPoint> points) {
        LinePlot plot = new LinePlot("decode bubble: measured (solid) vs ideal (dashed)", "micro-batches M",
                "idle share of the ranks");
        int colour = 0;
        for (int ranks : points.stream().map(SweepPoint::ranks).distinct().filter(r -> r > 1).toList()) {
            plot.add(new LinePlot.Series("P=" + ranks + " measured", series(points, ranks, "decode",
                    SweepPoint::measuredBubble), false, colour));
            plot.add(new LinePlot.Series("P=" + ranks + " ideal", series(points, ranks, "decode",
                    SweepPoint::idealBubble), true, colour));
            colour++;
        }
        return plot;
    }

    private static List<double[]> series(List<SweepPoint> points, int ranks, String phase,
                                         java.util.function.ToDoubleFunction<SweepPoint> y) {
        return points.stream().filter(p -> p.ranks() == ranks && p.phase().equals(phase))
                .map(p -> new double[]{p.microBatches(), y.applyAsDouble(p)}).toList();
    }
}
