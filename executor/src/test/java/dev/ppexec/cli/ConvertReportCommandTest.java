package dev.ppexec.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static dev.ppexec.cli.RunCommandTest.cli;
import static dev.ppexec.perfetto.TraceFixtures.resource;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class ConvertReportCommandTest {

    @Test
    void convert_writesTheTrace_andSaysWhatItHolds(@TempDir Path dir) {
        Path out = dir.resolve("p2.json");
        CliRun o = cli("convert", "--input", resource("p2-m2.jsonl").toString(), "--output", out.toString());
        assertThat(o.status()).as(o.err()).isZero();
        assertThat(o.out()).contains(out + ": 48 slices, 12 arrows, 3 processes, 15 tracks, from 66 spans (12 per-request copies merged, 6 thread spans not drawn)")
                .contains("https://ui.perfetto.dev");
        assertThat(out).isRegularFile();
        assertThat(dir.toFile().list()).as("no temporary file left").containsExactly("p2.json");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "bad-truncated.jsonl        | line 3: the line ends inside a JSON value",
            "bad-end-before-start.jsonl | line 2: span 'run_batch_device' ends before it starts",
            "bad-attribute-type.jsonl   | line 2: span 'run_batch_cpu': attribute 'batch_size': unknown value type 'fooValue'",
            "not-otlp.json              | line 1: not OTLP-JSON: an object without \"resourceSpans\"",
    })
    void badInputFile_exits2_withOneLineNamingTheFileAndLine(String fixture, String what, @TempDir Path dir) {
        for (String command : new String[] {"convert", "report"}) {
            Path input = resource(fixture);
            CliRun o = command.equals("convert")
                    ? cli("convert", "--input", input.toString(), "--output", dir.resolve("o.json").toString())
                    : cli("report", "--input", input.toString());
            assertThat(o.status()).as("%s: %s", command, o.err()).isEqualTo(2);
            assertThat(o.err()).startsWith(command + ": " + input + " " + what);
            assertThat(o.err().strip().lines()).as("one line").hasSize(1);
            assertThat(o.err()).doesNotContain("\tat ").doesNotContain("Exception");
        }
        assertThat(dir.resolve("o.json")).doesNotExist();
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "convert --input MISSING --output OUT   | convert: --input MISSING: no such file; allowed: an OTLP-JSON trace file",
            "convert --input DIR --output OUT       | convert: --input DIR: not a file",
            "convert --input P2                     | convert: Missing required option: '--output=OUT.json'",
            "convert --input P2 --output UNDERFILE  | convert: --output UNDERFILE: cannot write: P2: Not a directory",
            "convert --input P2 --output P2         | convert: --input P2 and --output P2 name one file",
            "report --input P2 --format xml         | report: Invalid value for option '--format': expected one of [text, json]",
            "report --input P2 --timeline UNDERFILE | report: --timeline UNDERFILE: cannot write: P2: Not a directory",
    })
    void badOptions_exit2_withOneLine(String args, String message, @TempDir Path dir) {
        String p2 = resource("p2-m2.jsonl").toString();
        String[] argv = args.replace("MISSING", dir.resolve("nosuch.jsonl").toString()).replace("DIR", dir.toString())
                .replace("UNDERFILE", p2 + "/out.json").replace("OUT", dir.resolve("o.json").toString())
                .replace("P2", p2).split("\\s+");
        CliRun o = cli(argv);
        String expected = message.replace("MISSING", dir.resolve("nosuch.jsonl").toString()).replace("DIR", dir.toString())
                .replace("UNDERFILE", p2 + "/out.json").replace("P2", p2);
        assertThat(o.status()).as(o.err()).isEqualTo(2);
        assertThat(o.err()).startsWith(expected);
        assertThat(o.err().strip().lines()).as("one line").hasSize(1);
    }

    @Test
    void lenient_convertsTheReadableLines_andPrintsHowManyWereSkipped(@TempDir Path dir) throws IOException {
        Path input = resource("bad-truncated.jsonl");
        Path out = dir.resolve("t.json");
        CliRun o = cli("convert", "--input", input.toString(), "--output", out.toString(), "--lenient");
        assertThat(o.status()).as(o.err()).isZero();
        assertThat(o.err()).contains("convert: " + input + " line 3: the line ends inside a JSON value")
                .contains("convert: skipped 1 of 3 lines (--lenient)");
        assertThat(o.out()).contains("4 slices").contains("2 arrows").contains("from 4 spans");
        JsonNode trace = new ObjectMapper().readTree(out.toFile());
        assertThat(trace.get("traceEvents").findValuesAsText("name")).contains("run_batch_cpu", "run_batch_device");
    }

    @Test
    void report_text_ofTheP2Trace(@TempDir Path dir) {
        CliRun o = cli("report", "--input", resource("p2-m2.jsonl").toString());
        assertThat(o.status()).as(o.err()).isZero();
        // Hand-computed from the fixture's schedule (see PerfettoConverterTest): PP0 busy 300 of 345 us,
        // PP1 240 of 282 us; launch latency (10+90+5+5)/4 and (20+20+30+12)/4 us; 6 tokens in 412 us.
        assertThat(o.out()).containsPattern("PP0\\s+2\\s+4\\s+0\\.030\\s+7\\.5\\s+0\\.300\\s+75\\.0\\s+13\\.0%\\s+27\\.5")
                .containsPattern("PP1\\s+2\\s+4\\s+0\\.026\\s+6\\.5\\s+0\\.240\\s+60\\.0\\s+14\\.9%\\s+20\\.5")
                .contains("bubble: measured 31.1%, ideal 33.3% (resource attribute ppexec.ideal_bubble)")
                .contains("throughput: 3 requests, 6 output tokens in 0.412 ms: 14563.1 tokens/s");
    }

    @Test
    void report_json_ofTheP2Trace_andItsTimeline(@TempDir Path dir) throws IOException {
        Path png = dir.resolve("timeline.png");
        CliRun o = cli("report", "--input", resource("p2-m2.jsonl").toString(), "--format", "json", "--timeline", png.toString());
        assertThat(o.status()).as(o.err()).isZero();
        assertThat(o.err()).contains("timeline: " + png);
        JsonNode json = new ObjectMapper().readTree(o.out());
        assertThat(json.at("/ranks/1/rank").asText()).isEqualTo("PP1");
        assertThat(json.at("/ranks/1/deviceTotalMs").asDouble()).isEqualTo(0.24);
        assertThat(json.at("/ranks/1/deviceIdleShare").asDouble()).isCloseTo(42.0 / 282, within(1e-12));
        assertThat(json.at("/run/measuredBubble").asDouble()).as("1 - 540 / (2 x 392)").isCloseTo(244.0 / 784, within(1e-12));
        assertThat(json.at("/run/idealBubble").asDouble()).isCloseTo(1.0 / 3, within(1e-12));

        BufferedImage image = ImageIO.read(png.toFile());
        assertThat(image.getWidth()).isEqualTo(1600);
        assertThat(containsColour(image, 0x1f77b4)).as("micro-batch 0's colour").isTrue();
        assertThat(containsColour(image, 0xff7f0e)).as("micro-batch 1's colour").isTrue();
        assertThat(Files.list(dir)).as("no temporary file left").containsExactly(png);
    }

    @Test
    void timeline_ofATraceWithoutLevel4Spans_exits2_sayingThereIsNothingToDraw(@TempDir Path dir) throws IOException {
        Path trace = Files.writeString(dir.resolve("level1.jsonl"), "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{"
                + "\"name\":\"Req 0\",\"startTimeUnixNano\":\"1000\",\"endTimeUnixNano\":\"2000\",\"attributes\":["
                + "{\"key\":\"rid\",\"value\":{\"stringValue\":\"0\"}}]}]}]}]}\n");
        Path png = dir.resolve("t.png");
        CliRun o = cli("report", "--input", trace.toString(), "--timeline", png.toString());
        assertThat(o.status()).as(o.err()).isEqualTo(2);
        assertThat(o.err().strip()).startsWith("report: --timeline " + png + ": nothing to draw").doesNotContain("\n");
        assertThat(png).doesNotExist();
    }

    private static boolean containsColour(BufferedImage image, int rgb) {
        for (int y = 0; y < image.getHeight(); y++) {
            for (int x = 0; x < image.getWidth(); x++) {
                if ((image.getRGB(x, y) & 0xffffff) == rgb) {
                    return true;
                }
            }
        }
        return false;
    }
}
