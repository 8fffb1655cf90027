package dev.ppexec.runtime;

import dev.ppexec.backend.Device;
import dev.ppexec.backend.cpu.CpuDevice;
import dev.ppexec.check.BackendComparison;
import dev.ppexec.model.ModelConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.opentest4j.TestAbortedException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Full generation on the CUDA backend against the CPU backend, PP with 2 and 4 ranks on one
 * device, and device spans that are present and causal. Run on a GPU ({@link CudaPipelineGpuTest})
 * and, in CI, on the stub driver's host emulation of the kernels ({@link CudaPipelineEmulatedTest}).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(300)
abstract class CudaPipelineContract {

    static final ModelConfig TINY = ModelConfig.preset("tiny", 42);
    private Device gpu;

    /** The CUDA device the pipelines run on. */
    abstract Device openDevice();

    private TestAbortedException unavailable;

    @BeforeAll
    void open() {
        try {
            gpu = openDevice();
        } catch (TestAbortedException e) {
            unavailable = e;
        }
    }

    /** Each test is skipped, with the reason, where there is no device (not the class as a whole, which reports run 0). */
    @BeforeEach
    void requireDevice() {
        if (unavailable != null) {
            throw unavailable;
        }
    }

    @AfterAll
    void close() {
        if (gpu != null) {
            gpu.close();
        }
    }

    /** The device of the class's pipelines, for checks of a backend's own counters. */
    Device gpu() {
        return gpu;
    }

    private RunResult run(List<Device> devices, int stages, int microBatches, Workload w, RunListener listener) {
        return run(devices, stages, microBatches, w, listener, true);
    }

    private RunResult run(List<Device> devices, int stages, int microBatches, Workload w, RunListener listener,
                          boolean cudaGraphs) {
        Pipeline.Builder b = Pipeline.builder().model(TINY).stages(stages).microBatches(microBatches).devices(devices)
                .cudaGraphs(cudaGraphs);
        if (listener != null) {
            b.listener(listener);
        }
        try (Pipeline p = b.build()) {
            return p.generate(w);
        }
    }

    private static void assertSameTokens(String what, int[][] actual, int[][] expected) {
        for (int r = 0; r < expected.length; r++) {
            assertThat(actual[r]).as("%s: request %d (first mismatch at step %d)", what, r,
                    java.util.Arrays.mismatch(actual[r], expected[r])).containsExactly(expected[r]);
        }
    }

    @Test
    void logits_matchTheCpuBackend_withinOneInTenThousand() {
        try (CpuDevice cpu = new CpuDevice()) {
            BackendComparison.Result r = BackendComparison.logits(TINY, cpu, gpu, 2, 6, 3);
            assertThat(r.passes(1e-4)).as(r.describe()).isTrue();
        }
    }

    @Test
    void generation_matchesTheCpuBackend() {
        Workload w = Workload.generated(TINY, 4, 5, 6);
        int[][] expected;
        try (CpuDevice cpu = new CpuDevice()) {
            expected = run(List.of(cpu), 1, 1, w, null).tokens();
        }
        assertSameTokens("cuda vs cpu", run(List.of(gpu), 1, 1, w, null).tokens(), expected);
    }

    @ParameterizedTest(name = "P={0}")
    @ValueSource(ints = {2, 4})
    void pipelineParallel_onOneDevice_matchesOneRank(int stages) {
        Workload w = Workload.generated(TINY, 5, 4, 4);
        int[][] single = run(List.of(gpu), 1, 4, w, null).tokens();
        RunResult r = run(List.of(gpu), stages, 4, w, null);
        assertSameTokens("P=" + stages + " vs P=1", r.tokens(), single);
        assertThat(r.ranks()).hasSize(stages).allSatisfy(f -> assertThat(f.device()).isEqualTo("cuda:0"));
    }

    @ParameterizedTest(name = "P={0}")
    @ValueSource(ints = {1, 2, 4})
    void decodeGraphs_giveTheTokensOfEagerLaunches_andOfTheCpuBackend(int stages) {
        Workload w = Workload.generated(TINY, 6, 4, 24);
        int[][] expected;
        try (CpuDevice cpu = new CpuDevice()) {
            expected = run(List.of(cpu), stages, 3, w, null).tokens();
        }
        assertSameTokens("P=" + stages + " eager launches vs cpu", run(List.of(gpu), stages, 3, w, null, false).tokens(),
                expected);
        assertSameTokens("P=" + stages + " graphs vs cpu", run(List.of(gpu), stages, 3, w, null, true).tokens(), expected);
    }

    record Seen(int rank, ActionRecord record) {}

    @Test
    void deviceSpans_arePresentAndCausal() {
        List<Seen> seen = new CopyOnWriteArrayList<>();
        RunListener listener = (info, rank, record) -> seen.add(new Seen(rank, record));
        int microBatches = 3, steps = 3;
        run(List.of(gpu), 2, microBatches, Workload.generated(TINY, 3, 4, steps), listener);
        for (int rank = 0; rank < 2; rank++) {
            int r = rank;
            assertThat(seen).filteredOn(s -> s.rank() == r && s.record().kind() == ActionRecord.Kind.FORWARD)
                    .as("forwards of rank %d", r).hasSize(microBatches * (steps + 1));
            assertThat(seen).filteredOn(s -> s.rank() == r && s.record().kind() == ActionRecord.Kind.RECV)
                    .as("receives of rank %d", r).isNotEmpty();
        }
        assertThat(seen).allSatisfy(s -> {
            ActionRecord a = s.record();
            assertThat(a.deviceStartNanos()).as("device start >= cpu start: %s on rank %d", a, s.rank())
                    .isGreaterThanOrEqualTo(a.cpuStartNanos());
            assertThat(a.deviceEndNanos()).as("device end >= device start: %s", a).isGreaterThanOrEqualTo(a.deviceStartNanos());
        });
        assertThat(seen).filteredOn(s -> s.record().kind() == ActionRecord.Kind.FORWARD)
                .allSatisfy(s -> assertThat(s.record().deviceEndNanos()).isGreaterThan(s.record().deviceStartNanos()));
    }

    /** Collects what a listener that asks for kernel slices (trace level 5) hears. */
    private record KernelMarks(List<Seen> seen) implements RunListener {
        @Override
        public boolean recordsKernels() {
            return true;
        }

        @Override
        public void action(RunInfo info, int rank, ActionRecord record) {
            seen.add(new Seen(rank, record));
        }
    }

    @Test
    void levelFive_marksBetweenLaunches_tileEachForward_andLeaveTheTokensAsTheyWere() {
        Workload w = Workload.generated(TINY, 3, 4, 3);
        KernelMarks marks = new KernelMarks(new CopyOnWriteArrayList<>());
        int[][] plain = run(List.of(gpu), 2, 2, w, null).tokens();
        RunResult marked = run(List.of(gpu), 2, 2, w, marks);
        assertSameTokens("level 5 vs none", marked.tokens(), plain);
        // tiny's 4 layers split 2 + 2. One array of marks serves both launch lists, sized by the longer (prefill) body:
        // rank 0's embed + 2 x 9, rank 1's 2 x 9 + the head's 4, a mark between each two launches of the body.
        int[] marksPerForward = {1 + 2 * 9 - 1, 2 * 9 + 4 - 1};
        List<Seen> forwards = marks.seen().stream().filter(s -> s.record().kind() == ActionRecord.Kind.FORWARD).toList();
        assertThat(forwards).as("ranks x micro-batches x passes").hasSize(2 * 2 * 4);
        assertThat(forwards).allSatisfy(s -> {
            ActionRecord a = s.record();
            assertThat(a.kernelMarkNanos()).as("marks of %s on rank %d", a, s.rank()).hasSize(marksPerForward[s.rank()]);
            long previous = a.deviceStartNanos();
            for (long mark : a.kernelMarkNanos()) {
                assertThat(mark).as("marks in launch order within the forward %s", a).isGreaterThanOrEqualTo(previous);
                previous = mark;
            }
            assertThat(a.deviceEndNanos()).isGreaterThanOrEqualTo(previous);
        });
        assertThat(marks.seen()).filteredOn(s -> s.record().kind() == ActionRecord.Kind.RECV)
                .allSatisfy(s -> assertThat(s.record().kernelMarkNanos()).as("a transfer has no kernels").isNull());
    }
}
