package dev.ppexec.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.ppexec.model.ModelConfig;
import dev.ppexec.output.AtomicFile;
import dev.ppexec.runtime.Pipeline;
import dev.ppexec.runtime.RankFigures;
import dev.ppexec.runtime.RunResult;
import dev.ppexec.runtime.Workload;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** {@code --report FILE.json}: tokens per request and the run's figures, for scripts. */
final class RunReport {

    private RunReport() {}

    static Map<String, Object> of(Pipeline p, Workload w, RunResult r) {
        ModelConfig m = p.model();
        Map<String, Object> root = new LinkedHashMap<>();
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("model", m.name());
        config.put("seed", m.seed());
        config.put("device", p.device(0).name());
        config.put("stages", p.ranks());
        config.put("split", p.partition().toString());
        config.put("microBatches", p.microBatches());
        config.put("requests", w.requests());
        config.put("promptLength", w.promptLength());
        config.put("decodeSteps", w.decodeSteps());
        root.put("config", config);
        root.put("tokens", r.tokens());
        Map<String, Object> figures = new LinkedHashMap<>();
        figures.put("generatedTokens", r.generatedTokens());
        figures.put("wallSeconds", r.wallNanos() / 1e9);
        figures.put("tokensPerSecond", r.tokensPerSecond());
        figures.put("measuredBubble", r.measuredBubble());
        figures.put("idealBubble", r.idealBubble());
        root.put("figures", figures);
        List<Map<String, Object>> ranks = new ArrayList<>();
        for (RankFigures f : r.ranks()) {
            Map<String, Object> rank = new LinkedHashMap<>();
            rank.put("rank", f.rank());
            rank.put("device", f.device());
            rank.put("layers", f.layers());
            rank.put("forwards", f.forwards());
            rank.put("cpuLaunchMs", f.cpuLaunchNanos() / 1e6);
            rank.put("deviceBusyMs", f.deviceBusyNanos() / 1e6);
            rank.put("launchToDeviceUs", f.launchLatencyNanos() / 1e3);
            rank.put("deviceIdleShare", f.bubble());
            ranks.add(rank);
        }
        root.put("ranks", ranks);
        return root;
    }

    /** Writes to a temporary file beside {@code target}, then renames it: never a half-written report. */
    static void write(Path target, Pipeline p, Workload w, RunResult r) {
        try {
            AtomicFile.write(target, out -> new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
                    .writeValue(out, of(p, w, r)));
        } catch (IOException e) {
            throw new UncheckedIOException("--report " + target + ": cannot write: " + e.getMessage(), e);
        }
    }
}
