package dev.ppexec.perfetto;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.math.BigDecimal;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** A converted trace read back with exact decimals, in the shapes the structural checks need. */
public record ChromeTrace(List<Slice> slices, List<Flow> flows, Map<Integer, String> processes,
                   Map<Thread, String> threads) {

    public record Thread(int pid, int tid) {}

    public record Slice(String name, int pid, int tid, BigDecimal ts, BigDecimal dur, JsonNode args) {
        BigDecimal end() {
            return ts.add(dur);
        }

        Thread thread() {
            return new Thread(pid, tid);
        }
    }

    public record Flow(String phase, long id, String name, String cat, int pid, int tid, BigDecimal ts, String bindingPoint) {
        Thread thread() {
            return new Thread(pid, tid);
        }
    }

    public static ChromeTrace read(Path file) throws IOException {
        JsonNode root = new ObjectMapper().enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS).readTree(file.toFile());
        List<Slice> slices = new ArrayList<>();
        List<Flow> flows = new ArrayList<>();
        Map<Integer, String> processes = new HashMap<>();
        Map<Thread, String> threads = new HashMap<>();
        for (JsonNode e : root.get("traceEvents")) {
            String ph = e.get("ph").asText();
            int pid = e.get("pid").asInt();
            int tid = e.get("tid").asInt();
            switch (ph) {
                case "X" -> slices.add(new Slice(e.get("name").asText(), pid, tid, e.get("ts").decimalValue(),
                        e.get("dur").decimalValue(), e.get("args")));
                case "s", "f" -> flows.add(new Flow(ph, e.get("id").asLong(), e.get("name").asText(), e.get("cat").asText(),
                        pid, tid, e.get("ts").decimalValue(), e.path("bp").asText(null)));
                case "M" -> {
                    String name = e.at("/args/name").asText();
                    if (e.get("name").asText().equals("process_name")) {
                        processes.put(pid, name);
                    } else {
                        threads.put(new Thread(pid, tid), name);
                    }
                }
                default -> throw new AssertionError("unexpected phase " + ph + " in " + e);
            }
        }
        return new ChromeTrace(slices, flows, processes, threads);
    }

    /** The process whose name is {@code name}; fails when there is none. */
    int pid(String name) {
        return processes.entrySet().stream().filter(e -> e.getValue().equals(name)).map(Map.Entry::getKey)
                .findFirst().orElseThrow(() -> new AssertionError("no process '" + name + "' in " + processes));
    }

    /** The thread named {@code name} in process {@code pid}; fails when there is none. */
    Thread thread(int pid, String name) {
        return threads.entrySet().stream().filter(e -> e.getKey().pid() == pid && e.getValue().equals(name))
                .map(Map.Entry::getKey).findFirst()
                .orElseThrow(() -> new AssertionError("no thread '" + name + "' in pid " + pid + ": " + threads));
    }

    List<Slice> slicesNamed(String name) {
        return slices.stream().filter(s -> s.name().equals(name)).toList();
    }

    /** The slice a flow event binds to: the one on its thread that starts at the flow's time. */
    Slice boundSlice(Flow f) {
        List<Slice> at = slices.stream().filter(s -> s.thread().equals(f.thread()) && s.ts().compareTo(f.ts()) == 0).toList();
        if (at.size() != 1) {
            throw new AssertionError("flow " + f + " binds " + at.size() + " slices: " + at);
        }
        return at.getFirst();
    }
}
