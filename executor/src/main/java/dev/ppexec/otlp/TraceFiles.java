package dev.ppexec.otlp;

import dev.ppexec.trace.SpanContract;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;
import java.util.function.Consumer;
import java.util.stream.Collectors;

/**
 * Reads several OTLP-JSON files as one trace, handing every file's spans to one sink.
 *
 * <p>Note [merged world]: in a world (ranks as processes) each rank process writes its own file
 * ({@code t.rank{r}.jsonl}); rank 0's holds the {@code Req} roots and its own scheduler subtree,
 * rank r's only its {@code Scheduler [PP r]} subtrees. Their span times are already on rank 0's
 * clock (each writer subtracted its {@code ppexec.clock_offset_ns}), so merging is reading them
 * all into one slice table: a process per rank as for one file, and {@link Flows} pairs a send
 * with the next rank's receive whatever file each came from. Readers never apply the offset
 * again; {@code ppexec.clock_rtt_ns} is the correction's stated uncertainty, which the report
 * shows and checks transfers against. What merging can get wrong is refused here: files of
 * different runs (run attributes that disagree), one span in two files (a copy, or one file under
 * two names), two files of one world rank. A world rank without a file is a warning: the picture
 * lacks it.
 */
public final class TraceFiles {

    /** What the files of one run agree on. */
    private static final List<SpanContract.Key> RUN_KEYS = List.of(SpanContract.RUN_MODEL, SpanContract.RUN_SPLIT,
            SpanContract.RUN_STAGES, SpanContract.RUN_SEED, SpanContract.RUN_MICRO_BATCHES, SpanContract.RUN_REQUESTS,
            SpanContract.RUN_PROMPT_LEN, SpanContract.RUN_DECODE_STEPS, SpanContract.RUN_TRACE_LEVEL,
            SpanContract.WORLD_SIZE);
    private static final String ALLOWED_RUN = "allowed: the files of one run, which agree on "
            + RUN_KEYS.stream().map(SpanContract.Key::name).collect(Collectors.joining(", "));

    /**
     * What the read saw.
     *
     * @param read     the files' lines, skips and spans together
     * @param warnings what the files lack of their world (ranks without a file), one sentence each
     */
    public record Result(ReadSummary read, List<String> warnings) {}

    private record Seen(Object value, int file) {}

    private final List<Path> inputs;
    private final Map<String, Seen> runValues = new HashMap<>();
    private final Map<Long, Integer> fileOfWorldRank = new HashMap<>();
    private final SpanIds spanIds = new SpanIds();
    private Map<String, Object> lastResource;
    private Long worldSize;

    private TraceFiles(List<Path> inputs) {
        this.inputs = inputs;
    }

    /**
     * Reads each file once, in the order given, handing every span to {@code sink}.
     *
     * @param lenient as in {@link OtlpJsonReader#read(Path, boolean, Consumer, Consumer)}, per file
     * @throws TraceInputException a file that cannot be read, files of different runs, a span in
     *                             two files, two files of one world rank, or no span in any file
     */
    public static Result read(List<Path> inputs, boolean lenient, Consumer<SpanRecord> sink, Consumer<String> onSkip) {
        Objects.requireNonNull(sink, "sink");
        List<Path> files = List.copyOf(inputs);
        if (files.isEmpty()) {
            throw new IllegalArgumentException("inputs: none; allowed: one or more trace files");
        }
        TraceFiles world = new TraceFiles(files);
        List<ReadSummary> reads = new ArrayList<>();
        for (int f = 0; f < files.size(); f++) {
            int file = f;
            Consumer<String> ids = files.size() == 1 ? id -> { } : id -> world.checkSpanId(id, file);
            reads.add(OtlpJsonReader.read(files.get(f), lenient, span -> {
                world.checkResource(span.resource(), file);
                sink.accept(span);
            }, onSkip, ids));
        }
        String label = files.stream().map(Path::toString).collect(Collectors.joining(", "));
        return new Result(total(reads).requireSpans(label), world.warnings());
    }

    private static ReadSummary total(List<ReadSummary> reads) {
        long units = 0;
        long skipped = 0;
        long spans = 0;
        for (ReadSummary r : reads) {
            units += r.units();
            skipped += r.skipped();
            spans += r.spans();
        }
        boolean oneUnit = reads.stream().map(ReadSummary::unit).distinct().count() == 1;
        return new ReadSummary(units, skipped, spans, oneUnit ? reads.getFirst().unit() : "line or array element");
    }

    /** Compares a resource's run attributes with those the other files had (once per resource object). */
    private void checkResource(Map<String, Object> resource, int file) {
        if (resource == lastResource) {
            return;
        }
        lastResource = resource;
        for (SpanContract.Key key : RUN_KEYS) {
            Object value = resource.get(key.name());
            if (value == null) {
                continue;
            }
            Seen first = runValues.putIfAbsent(key.name(), new Seen(value, file));
            if (first != null && first.file() != file && !String.valueOf(first.value()).equals(String.valueOf(value))) {
                throw new TraceInputException(inputs.get(file) + ": " + key.name() + " is " + value + ", but "
                        + first.value() + " in " + inputs.get(first.file()) + "; " + ALLOWED_RUN);
            }
        }
        if (resource.get(SpanContract.WORLD_SIZE.name()) instanceof Number size) {
            worldSize = size.longValue();
        }
        if (resource.get(SpanContract.WORLD_RANK.name()) instanceof Number rank) {
            Integer other = fileOfWorldRank.putIfAbsent(rank.longValue(), file);
            if (other != null && other != file) {
                throw new TraceInputException(inputs.get(file) + ": holds world rank " + rank + " ("
                        + SpanContract.WORLD_RANK.name() + "), as " + inputs.get(other)
                        + " does; allowed: one file per rank of the world");
            }
        }
    }

    private void checkSpanId(String id, int file) {
        int other = spanIds.putIfAbsent(id, file);
        if (other >= 0 && other != file) {
            throw new TraceInputException(inputs.get(file) + ": span id " + id + " is also in " + inputs.get(other)
                    + "; allowed: each span in one file (the files of one run, each given once)");
        }
    }

    private List<String> warnings() {
        if (worldSize == null || fileOfWorldRank.size() >= worldSize) {
            return List.of();
        }
        TreeSet<Long> missing = new TreeSet<>();
        for (long r = 0; r < worldSize && missing.size() < 8; r++) {
            if (!fileOfWorldRank.containsKey(r)) {
                missing.add(r);
            }
        }
        long more = worldSize - fileOfWorldRank.size() - missing.size();
        return List.of(String.format(Locale.ROOT, "the trace files hold %d of the world's %d ranks (%s); missing: rank %s%s",
                fileOfWorldRank.size(), worldSize, SpanContract.WORLD_SIZE.name(),
                missing.stream().map(String::valueOf).collect(Collectors.joining(", rank ")),
                more > 0 ? " and " + more + " more" : ""));
    }
}
