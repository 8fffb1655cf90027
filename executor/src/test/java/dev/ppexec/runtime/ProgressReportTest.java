package dev.ppexec.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ppexec.model.ModelConfig;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;

class ProgressReportTest {

    @Test
    void generate_reportsStepsOnTheCallersThread_neverOnARank_endingWithEveryStep() {
        List<Thread> threads = Collections.synchronizedList(new ArrayList<>());
        List<Integer> steps = Collections.synchronizedList(new ArrayList<>());
        try (Pipeline p = Pipeline.builder().model(ModelConfig.preset("tiny", 7)).stages(2).microBatches(2).build()) {
            p.generate(Workload.generated(p.model(), 4, 3, 5), done -> {
                threads.add(Thread.currentThread());
                steps.add(done);
            });
        }
        assertThat(threads).isNotEmpty().allMatch(t -> t == Thread.currentThread());
        assertThat(steps).isSorted().last().isEqualTo(6);
    }
}
