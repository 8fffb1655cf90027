package dev.ppexec.dist;

import dev.ppexec.backend.cpu.CpuDevice;
import dev.ppexec.model.ModelConfig;
import dev.ppexec.runtime.Pipeline;
import dev.ppexec.runtime.RunInfo;
import dev.ppexec.runtime.RunListener;
import dev.ppexec.runtime.Workload;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A world's links (Note [transport choice]): both ends publish their facts and decide alike, and the transport each
 * link got is what its runs' transports name in {@link RunInfo#transports()} (the {@code transport} span attribute).
 */
@Timeout(60)
class WorldLinksTest {

    static final ModelConfig TINY = ModelConfig.preset("tiny", 42);

    private final ExecutorService ranks = Executors.newCachedThreadPool();

    @AfterEach
    void stopRanks() throws InterruptedException {
        ranks.shutdownNow();
        assertThat(ranks.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
    }

    /** What a run tells its listeners about its transports. */
    private static RunListener seen(List<List<String>> into) {
        return new RunListener() {
            @Override
            public void runStarted(RunInfo info) {
                into.add(info.transports());
            }

            @Override
            public void action(RunInfo info, int rank, dev.ppexec.runtime.ActionRecord record) {
            }
        };
    }

    @Test
    void oneProcess_handsOffLocally() {
        List<List<String>> seen = new CopyOnWriteArrayList<>();
        try (Pipeline p = Pipeline.builder().model(TINY).stages(2).microBatches(2).listener(seen(seen)).build()) {
            p.generate(Workload.generated(TINY, 2, 3, 2));
        }
        assertThat(seen).containsExactly(List.of("local", "local"));
    }

    @Test
    void cpuWorld_negotiatesHostOnBothLinks_andItsRunsSaySo() throws Exception {
        int port = Ports.free();
        List<Future<String>> lines = new ArrayList<>();
        List<String> kinds = new CopyOnWriteArrayList<>();
        for (int r = 0; r < 2; r++) {
            LaunchContract c = new LaunchContract(r, 2, r, "127.0.0.1", port, "options");
            lines.add(ranks.submit(() -> {
                try (CpuDevice cpu = new CpuDevice();
                     World w = World.join(c, WorldTest.TOKEN, 20_000, 2, WorldTest.config(42))) {
                    WorldLinks links = WorldLinks.negotiate(w, TransportChoice.auto,
                            TransportChoice.Facts.here("", false), cpu, null, 20_000);
                    try (links; Pipeline p = Pipeline.builder().model(TINY).split("2,2").microBatches(2)
                            .devices(List.of(cpu)).process(c.rank(), links.transports()).build()) {
                        ForwardSpan span = new ForwardSpan();
                        Results.gather(w, p.generate(Workload.generated(TINY, 2, 3, 2), steps -> { }, List.of(span)), span,
                                20_000);
                        links.leaving();
                        kinds.add(links.transports().open(2, 2).kind(1 - c.rank()));
                        kinds.add(links.transports().open(2, 2).kind(c.rank()));
                    }
                    return links.line();
                }
            }));
        }
        assertThat(lines.get(0).get(30, TimeUnit.SECONDS)).isEqualTo("transport: host to rank 1 and from rank 1 (auto: "
                + "this rank runs on the CPU, which only the gRPC path serves)");
        assertThat(lines.get(1).get(30, TimeUnit.SECONDS)).startsWith("transport: host to rank 0 and from rank 0 (auto: ");
        assertThat(kinds).as("the transport attribute of each rank's pp_send and pp_recv").containsExactly("host", "host",
                "host", "host");
    }
}
