package dev.ppexec.dist;

import dev.ppexec.cli.CliRun;
import dev.ppexec.nccl.Nccl;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** A world's bad options exit 2 with one line naming the option, the value and what is allowed, before any socket. */
class WorldOptionsTest {

    /** A world of 2 as rank 0 (unless {@code extra} says otherwise) plus {@code extra}. */
    private static CliRun run(String... extra) {
        List<String> args = new ArrayList<>(List.of("run", "--model", "tiny", "--requests", "4", "--micro-batches", "2",
                "--world-size", "2"));
        List<String> given = List.of(extra);
        if (!given.contains("--rank")) {
            args.addAll(List.of("--rank", "0"));
        }
        if (!given.contains("--master")) {
            args.addAll(List.of("--master", "127.0.0.1:1"));
        }
        args.addAll(given);
        return CliRun.of(args.toArray(String[]::new));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', textBlock = """
            --device cpu --transport nccl | run: --transport nccl with --device cpu: NCCL moves device memory; allowed: --device cuda or auto with nccl, or --transport auto or host
            --device cpu --transport ipc | run: --transport ipc with --device cpu: CUDA IPC moves device memory; allowed: --device cuda or auto with ipc, or --transport auto or host
            --transport tcp              | run: Invalid value for option '--transport': expected one of [auto, nccl, ipc, host] (case-sensitive) but was 'tcp'
            --stages 4                   | run: --stages 4 makes 4 stages in a world of 2 ranks (from options); allowed: one stage per rank, 2 stages
            --split 1,1,2                | run: --split '1,1,2' makes 3 stages in a world of 2 ranks (from options); allowed: one stage per rank, 2 stages
            --rendezvous-timeout 0       | run: --rendezvous-timeout 0.0 is out of range; allowed: seconds in (0, 86400]
            --master nohost              | run: --master 'nohost' has no port; allowed: HOST:PORT (e.g. 127.0.0.1:29500)
            --rank 2                     | run: rank 2 (from options) is out of range; allowed: 0..1 (world size 2)
            """)
    void badWorldOption_exits2_withOneLine(String option, String expected) {
        CliRun r = run(option.split(" "));
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err().lines().toList()).singleElement().asString().startsWith(expected);
    }

    @Test
    void transportNccl_withoutALoadableLibrary_exits2_namingTheFileAndHowToNameAnother() {
        String missing = Path.of("no-such-dir", "libnccl-missing.so").toAbsolutePath().toString();
        String before = System.setProperty(Nccl.LIBRARY_PROPERTY, missing);
        try {
            CliRun r = run("--transport", "nccl");
            assertThat(r.status()).isEqualTo(2);
            assertThat(r.err().lines().toList()).singleElement().asString()
                    .startsWith("run: --transport nccl: NCCL is not loadable from " + missing + " (")
                    .endsWith("name the file with -Dppexec.nccl.library=FILE or PPEXEC_NCCL_LIBRARY=FILE; allowed: "
                            + "--transport auto, ipc or host without it");
        } finally {
            if (before == null) {
                System.clearProperty(Nccl.LIBRARY_PROPERTY);
            } else {
                System.setProperty(Nccl.LIBRARY_PROPERTY, before);
            }
        }
    }

    @Test
    void transport_inOneProcess_exits2_sayingItIsForRankProcesses() {
        CliRun r = CliRun.of("run", "--model", "tiny", "--requests", "4", "--transport", "host");
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err().lines().toList()).singleElement().asString().isEqualTo("run: --transport host applies between "
                + "rank processes, and this run is one process; allowed here: auto");
    }

    @Test
    void perfetto_inAWorld_isRefused_pointingAtPerRankTraceFiles() {
        CliRun r = run("--perfetto", Path.of("never-written.json").toString());
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err().lines().toList()).singleElement().asString().isEqualTo("run: --perfetto never-written.json "
                + "with ranks as processes: each rank writes its own trace; allowed: --trace-file DIR/t.jsonl (rank r "
                + "writes DIR/t.rank{r}.jsonl), then ppexec convert, or ppexec launch --perfetto");
        assertThat(Path.of("never-written.json")).doesNotExist();
    }

    @Test
    void missingWorldToken_exits2_namingTheVariable() {
        CliRun r = CliRun.withEnv(Map.of("RANK", "1", "WORLD_SIZE", "2", "MASTER_ADDR", "127.0.0.1", "MASTER_PORT", "1"),
                "run", "--model", "tiny", "--requests", "4");
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err().lines().toList()).singleElement().asString().isEqualTo("run: PPEXEC_WORLD_TOKEN is not set; "
                + "allowed: the same secret of at least 16 printable ASCII characters in every rank's environment "
                + "(ppexec launch makes one)");
    }

    @Test
    void collectorInTheEnvironment_isEveryRanksInAWorld_notRefused() {
        Map<String, String> env = Map.of("RANK", "1", "WORLD_SIZE", "2", "MASTER_ADDR", "127.0.0.1", "MASTER_PORT", "1",
                "OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318");
        CliRun traced = CliRun.withEnv(env, "run", "--model", "tiny", "--requests", "4");
        assertThat(traced.status()).isEqualTo(2);
        assertThat(traced.err()).as("past the trace and metrics checks, on to the token")
                .startsWith("run: PPEXEC_WORLD_TOKEN is not set");
    }

    @Test
    void worldLargerThanTheModel_exits2() {
        CliRun r = CliRun.withEnv(Map.of("RANK", "0", "WORLD_SIZE", "5", "MASTER_ADDR", "127.0.0.1", "MASTER_PORT", "1"),
                "run", "--model", "tiny", "--requests", "5");
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err().lines().toList()).singleElement().asString().isEqualTo("run: a world of 5 ranks (from "
                + "torchrun) for model tiny's 4 layers; allowed: at most 4 ranks, one stage each");
    }

    @ParameterizedTest
    @CsvSource({"--nproc 1 run", "--nproc 65 run", "--nproc 2 devices", "--nproc 2 --master-port 70000 run"})
    void launch_badInput_exits2_withOneLine(String args) {
        String[] a = args.split(" ");
        String[] full = new String[a.length + 2];
        full[0] = "launch";
        System.arraycopy(a, 0, full, 1, a.length - 1);
        full[a.length] = "--";
        full[a.length + 1] = a[a.length - 1];
        CliRun r = CliRun.of(full);
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err().lines().toList()).singleElement().asString().startsWith("launch: ").contains("allowed");
    }
}
