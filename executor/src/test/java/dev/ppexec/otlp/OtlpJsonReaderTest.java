package dev.ppexec.otlp;

import dev.ppexec.perfetto.TraceFixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static dev.ppexec.perfetto.TraceFixtures.resource;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class OtlpJsonReaderTest {

    private static List<SpanRecord> readAll(Path file, boolean lenient, List<String> skips) {
        List<SpanRecord> spans = new ArrayList<>();
        OtlpJsonReader.read(file, lenient, spans::add, skips::add);
        return spans;
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "bad-truncated.jsonl        | line 3: the line ends inside a JSON value (truncated?",
            "bad-end-before-start.jsonl | line 2: span 'run_batch_device' ends before it starts: startTimeUnixNano 1700000000000190000, endTimeUnixNano 1700000000000100000; allowed: end >= start",
            "bad-attribute-type.jsonl   | line 2: span 'run_batch_cpu': attribute 'batch_size': unknown value type 'fooValue'; allowed: stringValue, intValue",
            "not-otlp.json              | line 1: not OTLP-JSON: an object without \"resourceSpans\" (its keys: traceEvents, displayTimeUnit)",
    })
    void badInput_failsWithTheFileTheLineAndWhatIsWrong(String fixture, String message) {
        Path file = resource(fixture);
        assertThatThrownBy(() -> readAll(file, false, new ArrayList<>()))
                .isInstanceOf(TraceInputException.class)
                .hasMessageStartingWith(file + " " + message)
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
    }

    @Test
    void missingFile_failsNamingIt(@TempDir Path dir) {
        Path file = dir.resolve("nosuch.jsonl");
        assertThatThrownBy(() -> readAll(file, false, new ArrayList<>()))
                .isInstanceOf(TraceInputException.class).hasMessage(file + ": no such file");
    }

    @Test
    void emptyFile_failsSayingWhatIsAllowed(@TempDir Path dir) throws IOException {
        Path file = Files.writeString(dir.resolve("empty.jsonl"), "\n  \n");
        assertThatThrownBy(() -> readAll(file, false, new ArrayList<>()))
                .isInstanceOf(TraceInputException.class).hasMessageStartingWith(file + ": empty file; allowed: OTLP-JSON");
    }

    @Test
    void lenient_skipsTheTruncatedLastLine_keepsTheOthers_andCountsIt() {
        Path file = resource("bad-truncated.jsonl");
        List<String> skips = new ArrayList<>();
        List<SpanRecord> spans = new ArrayList<>();
        ReadSummary summary = OtlpJsonReader.read(file, true, spans::add, skips::add);
        assertThat(spans).extracting(SpanRecord::name)
                .containsExactly("run_batch_cpu", "run_batch_device", "run_batch_cpu", "run_batch_device");
        assertThat(summary).isEqualTo(new ReadSummary(3, 1, 4, "line"));
        assertThat(summary.skippedText()).isEqualTo("skipped 1 of 3 lines");
        assertThat(skips).singleElement().asString().startsWith(file + " line 3: the line ends inside a JSON value");
    }

    @Test
    void lenient_skipsALineWithABadSpanWhole_andReadsTheLinesAfterIt() {
        List<String> skips = new ArrayList<>();
        List<SpanRecord> spans = readAll(resource("bad-end-before-start.jsonl"), true, skips);
        assertThat(spans).hasSize(4);
        assertThat(spans).extracting(s -> s.intAttribute("pp_mb_id")).containsExactly(0, 0, 1, 1);
        assertThat(skips).singleElement().asString().contains("line 2: span 'run_batch_device' ends before it starts");
    }

    @Test
    void collectorArray_readsEveryResourceScopeAndValueType() {
        List<SpanRecord> spans = readAll(resource("collector-array.json"), false, new ArrayList<>());
        assertThat(spans).extracting(SpanRecord::name).containsExactly("run_batch_cpu", "run_batch_device", "pp_send",
                "schedule_batch", "pp_recv", "run_batch_cpu", "run_batch_device", "decode_forward", "gc_pause", "Req 7");
        SpanRecord recv = spans.get(4);
        assertThat(recv.intAttribute("pp_rank")).as("intValue as a JSON number").isEqualTo(1);
        assertThat(recv.resource()).containsEntry("host.name", "hostbbbb-2").containsEntry("process.pid", 22L);
        assertThat(spans.getFirst().intAttribute("pp_rank")).as("intValue as a string").isZero();
        assertThat(spans.getFirst().resource()).containsEntry("host.name", "hostaaaa-1");
        SpanRecord gc = spans.get(8);
        assertThat(gc.attributes()).containsEntry("collector", Map.of("name", "G1 Young"))
                .containsEntry("regions", List.of(4L, 5L)).containsEntry("ratio", 0.25).containsEntry("concurrent", false);
        assertThat(gc.startNanos()).isEqualTo(1_700_000_000_000_050_000L);
        assertThat(gc.endNanos()).isEqualTo(1_700_000_000_000_060_000L);
    }

    @Test
    void truncatedArray_failsAtTheLineWhereItEnds_orKeepsTheElementsBeforeIt(@TempDir Path dir) throws IOException {
        List<String> lines = Files.readAllLines(resource("collector-array.json"));
        int cut = lines.indexOf(lines.stream().filter(l -> l.contains("\"Req 7\"")).findFirst().orElseThrow());
        Path file = Files.writeString(dir.resolve("cut.json"), String.join("\n", lines.subList(0, cut + 1)) + "\n");
        assertThatThrownBy(() -> readAll(file, false, new ArrayList<>()))
                .isInstanceOf(TraceInputException.class)
                .hasMessageStartingWith(file + " line " + (cut + 1) + ": the file ends inside the array (truncated?)");

        List<String> skips = new ArrayList<>();
        List<SpanRecord> spans = new ArrayList<>();
        ReadSummary summary = OtlpJsonReader.read(file, true, spans::add, skips::add);
        assertThat(spans).as("the whole first element").hasSize(9);
        assertThat(summary.skippedText()).isEqualTo("skipped 1 of 2 array elements");
    }

    @Test
    void badElementInAnArray_isSkippedWhole_underLenient(@TempDir Path dir) throws IOException {
        String good = Files.readString(resource("bad-truncated.jsonl")).lines().findFirst().orElseThrow();
        String bad = Files.readString(resource("bad-attribute-type.jsonl")).lines().skip(1).findFirst().orElseThrow();
        Path file = Files.writeString(dir.resolve("mixed.json"), "[\n" + good + ",\n" + bad + ",\n" + good + "\n]\n");
        List<String> skips = new ArrayList<>();
        List<SpanRecord> spans = new ArrayList<>();
        ReadSummary summary = OtlpJsonReader.read(file, true, spans::add, skips::add);
        assertThat(spans).hasSize(4);
        assertThat(summary).isEqualTo(new ReadSummary(3, 1, 4, "array element"));
        assertThat(skips).singleElement().asString().contains(" line 3: span 'run_batch_cpu': attribute 'batch_size'");
    }

    @Test
    void notJsonAtAll_namesTheLineAndColumn(@TempDir Path dir) throws IOException {
        Path file = Files.writeString(dir.resolve("t.csv"), "rank,start,end\n0,1,2\n");
        assertThatThrownBy(() -> readAll(file, false, new ArrayList<>()))
                .isInstanceOf(TraceInputException.class)
                .hasMessageStartingWith(file + " line 1: not JSON at column 1: Unrecognized token 'rank'");
    }
}
