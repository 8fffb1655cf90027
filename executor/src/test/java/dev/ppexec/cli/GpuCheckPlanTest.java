package dev.ppexec.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code scripts/gpu-check --plan}: what a lent GPU machine would run, checked here without one: the decode rows of
 * [G], their options, and a deadline that fits one device call (at most 600 s) with room to start and to fetch.
 */
@Timeout(60)
class GpuCheckPlanTest {

    private record Script(int status, String out) {}

    private static Script gpuCheck(String... args) throws IOException, InterruptedException {
        Path script = Path.of(System.getProperty("user.dir")).resolve("../scripts/gpu-check").normalize();
        List<String> command = new ArrayList<>(List.of("bash", script.toString()));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        return new Script(p.exitValue(), out);
    }

    private static List<String> phases(String plan, String prefix) {
        return plan.lines().filter(l -> l.startsWith("plan: " + prefix)).toList();
    }

    private static int deadline(String plan) {
        Matcher m = Pattern.compile("plan: deadline (\\d+) s").matcher(plan);
        assertThat(m.find()).as(plan).isTrue();
        return Integer.parseInt(m.group(1));
    }

    @Test
    void plan_runsTheCublasSplitThenTwelveDecodeRows_withGraphsOnAndOff_withinOneDeviceCall() throws Exception {
        Script s = gpuCheck("--plan");
        assertThat(s.status()).as(s.out()).isZero();
        List<String> split = phases(s.out(), "cublas-split-toy-b8-");
        assertThat(split).hasSize(2);
        assertThat(split.get(0)).doesNotContain("-Dppexec.cublas=none").contains("--cuda-graphs off");
        assertThat(split.get(1)).contains("-Dppexec.cublas=none -cp").contains("--cuda-graphs off");
        List<String> rows = phases(s.out(), "decode-");
        List<String> expected = new ArrayList<>();
        for (String model : List.of("toy", "small")) {
            for (int batch : new int[] {1, 8, 64}) {
                for (String graphs : List.of("on", "off")) {
                    expected.add("decode-" + model + "-b" + batch + "-graphs-" + graphs);
                }
            }
        }
        assertThat(rows.stream().filter(l -> !l.startsWith("plan: decode-rows")).map(l -> l.split(" ")[1]))
                .containsExactlyElementsOf(expected);
        for (String row : rows.subList(0, 12)) {
            String name = row.split(" ")[1];
            assertThat(row).contains(" run --device cuda --model " + name.split("-")[1] + " --stages 1 --micro-batches 1 "
                    + "--requests " + name.split("-")[2].substring(1) + " ", " --cuda-graphs " + name.split("-")[4] + " ",
                    " --trace-level 4 ");
        }
        assertThat(phases(s.out(), "torch-decode-")).hasSize(2)
                .allSatisfy(l -> assertThat(l).contains("--batches 1,8,64 --modes eager,graph"));
        String table = phases(s.out(), "decode-rows").getFirst();
        assertThat(Pattern.compile("--row ").matcher(table).results().count()).isEqualTo(14);
        assertThat(table).contains("--torch $OUT/gpu-check/torch-decode-toy.json");
        // One device call runs at most 600 s and must also unpack the runtime and send the logs back.
        assertThat(deadline(s.out())).isLessThanOrEqualTo(480);
    }

    @Test
    void quickPlan_keepsBatchEight_andAShorterDeadline() throws Exception {
        Script full = gpuCheck("--plan");
        Script quick = gpuCheck("--plan", "--quick");
        assertThat(quick.status()).isZero();
        assertThat(phases(quick.out(), "decode-").stream().map(l -> l.split(" ")[1]).filter(n -> !n.equals("decode-rows")))
                .containsExactly("decode-toy-b8-graphs-on", "decode-toy-b8-graphs-off", "decode-small-b8-graphs-on",
                        "decode-small-b8-graphs-off");
        assertThat(phases(quick.out(), "bench")).isEmpty();
        assertThat(deadline(quick.out())).isLessThan(deadline(full.out()));
    }

    @Test
    void unknownOption_isBadInput_inOneLine() throws Exception {
        Script s = gpuCheck("--fast");
        assertThat(s.status()).isEqualTo(2);
        assertThat(s.out()).isEqualTo("gpu-check: option '--fast' is unknown; allowed: --quick, --plan\n");
    }
}
