import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Writes a large OTLP-JSON trace shaped like a traced run (the span contract's Req, thread,
 * request and level-4 spans; 512 spans per line, as the batch span processor exports them), to
 * measure what {@code ppexec convert} and {@code report} need on big inputs. Not a test: run it
 * through scripts/synthetic-trace.
 *
 * <p>Usage: {@code OUT.jsonl SIZE_MB [stages] [micro-batches] [requests]}. Decode steps are
 * added until the file reaches SIZE_MB; each forward takes 100 us on the device after a 10 us
 * launch, and micro-batch k of the diagonal starts on rank r at (k + r) x 110 us.
 */
public final class SyntheticTrace {

    private static final long T0 = 1_700_000_000_000_000_000L;
    private static final long SLOT = 110_000;
    private static final long LAUNCH = 10_000;
    private static final int SPANS_PER_LINE = 512;

    private final BufferedWriter out;
    private final String resource;
    private final List<String> pending = new ArrayList<>();
    private long ids;
    private long bytes;

    private SyntheticTrace(BufferedWriter out, int stages, int microBatches, int requests) {
        this.out = out;
        this.resource = "{\"attributes\":[" + attr("service.name", "ppexec") + "," + attr("host.name", "synthetic-host")
                + "," + intAttr("ppexec.stages", stages) + "," + intAttr("ppexec.micro_batches", microBatches) + ","
                + intAttr("ppexec.requests", requests) + "]}";
    }

    public static void main(String[] args) throws IOException {
        if (args.length < 2) {
            System.err.println("usage: synthetic-trace OUT.jsonl SIZE_MB [stages] [micro-batches] [requests]");
            System.exit(2);
        }
        Path output = Path.of(args[0]);
        long target = Long.parseLong(args[1]) << 20;
        int stages = args.length > 2 ? Integer.parseInt(args[2]) : 4;
        int microBatches = args.length > 3 ? Integer.parseInt(args[3]) : 8;
        int requests = args.length > 4 ? Integer.parseInt(args[4]) : 32;
        try (BufferedWriter w = Files.newBufferedWriter(output, StandardCharsets.UTF_8)) {
            SyntheticTrace t = new SyntheticTrace(w, stages, microBatches, requests);
            int steps = 0;
            while (t.bytes < target) {
                t.step(steps++, stages, microBatches, requests);
            }
            t.requestsAndThreads(steps, stages, microBatches, requests);
            t.flush();
            System.out.printf(Locale.ROOT, "%s: %.1f MB, %d spans, %d steps of %d requests on %d ranks, %d micro-batches%n",
                    output, t.bytes / 1048576.0, t.ids, steps, requests, stages, microBatches);
        }
    }

    private static long start(int step, int microBatch, int rank, int microBatches) {
        return T0 + ((long) step * microBatches + microBatch + rank) * SLOT;
    }

    private void step(int step, int stages, int microBatches, int requests) throws IOException {
        for (int mb = 0; mb < microBatches; mb++) {
            for (int rank = 0; rank < stages; rank++) {
                long s = start(step, mb, rank, microBatches);
                for (int rid = mb; rid < requests; rid += microBatches) {
                    String base = intAttr("pp_rank", rank) + "," + intAttr("tp_rank", 0) + "," + intAttr("dp_rank", 0)
                            + "," + attr("rid", Integer.toString(rid));
                    String level4 = base + "," + intAttr("pp_mb_id", mb) + "," + intAttr("step", step) + ","
                            + attr("forward_mode", step == 0 ? "prefill" : "decode") + ","
                            + intAttr("batch_size", (requests + microBatches - 1) / microBatches) + "," + attr("device", "cpu");
                    span(rid, step == 0 ? "prefill_forward" : "decode_forward", s, s + SLOT, base);
                    span(rid, "run_batch_cpu", s, s + LAUNCH, level4);
                    span(rid, "run_batch_device", s + LAUNCH, s + SLOT, level4 + "," + attr("stream", "cpu stream " + (2 * rank + 1)));
                    if (rank + 1 < stages) {
                        span(rid, "pp_send", s + SLOT, s + SLOT + 5_000, level4 + "," + attr("stream", "cpu stream " + (2 * rank + 4))
                                + "," + intAttr("peer_rank", rank + 1));
                    }
                    if (rank > 0) {
                        long r = start(step, mb, rank - 1, microBatches) + SLOT;
                        span(rid, "pp_recv", r, r + 5_000, level4 + "," + attr("stream", "cpu stream " + (2 * rank + 2))
                                + "," + intAttr("peer_rank", rank - 1));
                    }
                }
            }
        }
    }

    private void requestsAndThreads(int steps, int stages, int microBatches, int requests) throws IOException {
        for (int rid = 0; rid < requests; rid++) {
            int mb = rid % microBatches;
            long end = start(steps - 1, mb, stages - 1, microBatches) + SLOT;
            for (int rank = 0; rank < stages; rank++) {
                String base = intAttr("pp_rank", rank) + "," + intAttr("tp_rank", 0) + "," + intAttr("dp_rank", 0)
                        + "," + attr("rid", Integer.toString(rid));
                long first = start(1, mb, rank, microBatches);
                if (steps > 1) {
                    span(rid, "decode_loop", first, start(steps - 1, mb, rank, microBatches) + SLOT, base);
                }
                span(rid, "Scheduler [PP " + rank + "] (host:syntheti | tid:" + (100 + rank) + ")", start(0, mb, rank, microBatches),
                        end, base + "," + attr("thread_label", "Scheduler [PP " + rank + "]") + "," + intAttr("thread_id", 100 + rank));
            }
            span(rid, "prefill_waiting", T0, start(0, mb, 0, microBatches),
                    intAttr("pp_rank", 0) + "," + attr("rid", Integer.toString(rid)));
            span(rid, "Req " + rid, T0, end, attr("rid", Integer.toString(rid)) + "," + intAttr("output_tokens", steps));
        }
    }

    private void span(int rid, String name, long start, long end, String attributes) throws IOException {
        pending.add(String.format(Locale.ROOT, "{\"traceId\":\"%032x\",\"spanId\":\"%016x\",\"name\":\"%s\",\"kind\":1,"
                + "\"startTimeUnixNano\":\"%d\",\"endTimeUnixNano\":\"%d\",\"attributes\":[%s],\"status\":{}}",
                rid + 1, ++ids, name, start, end, attributes));
        if (pending.size() == SPANS_PER_LINE) {
            flush();
        }
    }

    private void flush() throws IOException {
        if (pending.isEmpty()) {
            return;
        }
        String line = "{\"resourceSpans\":[{\"resource\":" + resource + ",\"scopeSpans\":[{\"scope\":{\"name\":\"dev.ppexec\"},"
                + "\"spans\":[" + String.join(",", pending) + "]}]}]}\n";
        out.write(line);
        bytes += line.length();
        pending.clear();
    }

    private static String attr(String key, String value) {
        return "{\"key\":\"" + key + "\",\"value\":{\"stringValue\":\"" + value + "\"}}";
    }

    private static String intAttr(String key, long value) {
        return "{\"key\":\"" + key + "\",\"value\":{\"intValue\":\"" + value + "\"}}";
    }
}
