package dev.ppexec.dist;

import dev.ppexec.model.ModelConfig;
import dev.ppexec.runtime.Pipeline;
import dev.ppexec.runtime.RankFigures;
import dev.ppexec.runtime.RunResult;
import dev.ppexec.runtime.Workload;
import dev.ppexec.security.ListeningSockets;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.MetadataUtils;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.IntFunction;
import java.util.stream.Stream;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Worlds whose ranks are threads of this JVM, talking over loopback gRPC as rank processes do: the rendezvous's
 * checks, the world token, the abort, and the CPU data plane's tokens against the in-process run.
 */
@Timeout(60)
class WorldTest {

    static final String SECRET = "test-world-token-0123456789";
    static final WorldToken TOKEN = WorldToken.fromEnvironment(Map.of(WorldToken.VARIABLE, SECRET));
    static final ModelConfig TINY = ModelConfig.preset("tiny", 42);

    private final ExecutorService ranks = Executors.newCachedThreadPool();

    @AfterEach
    void stopRanks() throws InterruptedException {
        ranks.shutdownNow();
        assertThat(ranks.awaitTermination(10, TimeUnit.SECONDS)).as("every rank thread ended").isTrue();
    }

    static Map<String, String> config(long seed) {
        Map<String, String> c = new LinkedHashMap<>();
        c.put("version", "test");
        c.put("--seed", Long.toString(seed));
        c.put("--split", "2,2");
        return c;
    }

    private List<Future<World>> join(int worldSize, int port, long timeoutMillis, IntFunction<Map<String, String>> config) {
        List<Future<World>> worlds = new ArrayList<>();
        for (int r = 0; r < worldSize; r++) {
            LaunchContract c = new LaunchContract(r, worldSize, r, "127.0.0.1", port, "options");
            int rank = r;
            worlds.add(ranks.submit(() -> World.join(c, TOKEN, timeoutMillis, 2, config.apply(rank))));
        }
        return worlds;
    }

    /** A world of {@code worldSize} ranks that all agree, once every rank joined. */
    private List<World> joined(int worldSize) throws Exception {
        List<World> w = new ArrayList<>();
        for (Future<World> f : join(worldSize, Ports.free(), 20_000, r -> config(42))) {
            w.add(f.get(30, TimeUnit.SECONDS));
        }
        return w;
    }

    /** Every rank leaves at once, as rank processes do (Note [leaving] in World). */
    private void leave(List<World> worlds) throws Exception {
        List<Future<?>> closed = new ArrayList<>();
        for (World w : worlds) {
            closed.add(ranks.submit(w::close));
        }
        for (Future<?> f : closed) {
            f.get(30, TimeUnit.SECONDS);
        }
    }

    private static Throwable failure(Future<World> f) throws InterruptedException {
        try {
            f.get(30, TimeUnit.SECONDS).close();
            return null;
        } catch (ExecutionException e) {
            return e.getCause();
        } catch (TimeoutException e) {
            return e;
        }
    }

    @Test
    void rendezvous_configurationMismatch_failsEveryRank_namingRankFieldAndValues() throws Exception {
        List<Future<World>> worlds = join(2, Ports.free(), 10_000, r -> config(r == 1 ? 7 : 42));
        for (Future<World> w : worlds) {
            assertThat(failure(w)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("rendezvous: rank 1 runs --seed 7, rank 0 runs --seed 42; allowed: the same "
                            + "configuration on every rank");
        }
    }

    @Test
    void rendezvous_rankThatNeverComes_endsEveryRankAfterTheTimeout_namingIt() throws Exception {
        int port = Ports.free();
        long start = System.nanoTime();
        Future<World> rank0 = ranks.submit(() -> World.join(new LaunchContract(0, 3, 0, "127.0.0.1", port, "options"),
                TOKEN, 3_000, 2, config(42)));
        Future<World> rank1 = ranks.submit(() -> World.join(new LaunchContract(1, 3, 1, "127.0.0.1", port, "options"),
                TOKEN, 3_000, 2, config(42)));
        assertThat(failure(rank0)).hasMessage("rendezvous: rank 2 of 3 did not arrive within 3.0 s (--rendezvous-timeout)");
        assertThat(failure(rank1)).hasMessage("rendezvous: rank 2 of 3 did not arrive within 3.0 s (--rendezvous-timeout)");
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).as("ended soon after the timeout")
                .isLessThan(15_000);
    }

    @Test
    void start_busyPort_isOneLineNamingIt() throws Exception {
        try (ServerSocket busy = new ServerSocket()) {
            busy.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            int port = busy.getLocalPort();
            assertThatThrownBy(() -> World.join(new LaunchContract(0, 2, 0, "127.0.0.1", port, "options"), TOKEN, 1_000,
                    2, config(42)))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("rendezvous: cannot listen on 127.0.0.1:" + port)
                    .hasMessageContaining("the port is in use")
                    .message().doesNotContain("\n");
        }
    }

    @Test
    void token_missingOrWrong_isRefusedAndCounted_andTheWorldGoesOn() throws Exception {
        int port = Ports.free();
        Future<World> rank0 = ranks.submit(() -> World.join(new LaunchContract(0, 2, 0, "127.0.0.1", port, "options"),
                TOKEN, 20_000, 2, config(42)));
        Thread.sleep(300); // rank 0 listens
        for (String presented : new String[] {null, "another-world-token-0000"}) {
            ManagedChannel intruder = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
            try {
                Channel ch = intruder;
                if (presented != null) {
                    Metadata m = new Metadata();
                    m.put(Wire.TOKEN, presented);
                    ch = ClientInterceptors.intercept(intruder, MetadataUtils.newAttachHeadersInterceptor(m));
                }
                Channel call = ch;
                assertThatThrownBy(() -> ClientCalls.blockingUnaryCall(call, Wire.GET,
                        CallOptions.DEFAULT.withWaitForReady().withDeadlineAfter(5, TimeUnit.SECONDS),
                        Wire.encode("config/0")))
                        .isInstanceOfSatisfying(StatusRuntimeException.class,
                                e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED));
            } finally {
                intruder.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }
        }
        Future<World> rank1 = ranks.submit(() -> World.join(new LaunchContract(1, 2, 1, "127.0.0.1", port, "options"),
                TOKEN, 20_000, 2, config(42)));
        World w0 = rank0.get(30, TimeUnit.SECONDS);
        World w1 = rank1.get(30, TimeUnit.SECONDS);
        try {
            assertThat(w0.refusedCalls()).isEqualTo(2);
            assertThat(w1.refusedCalls()).isZero();
            assertThat(w0.aborted()).isNull();
            assertThat(listeners(port)).as("rank 0's store listens on the master address only, not all interfaces")
                    .isNotEmpty().allMatch(a -> a.equals(String.format("0100007F:%04X", port))
                            || a.equals(String.format("0000000000000000FFFF00000100007F:%04X", port)));
        } finally {
            leave(List.of(w0, w1));
        }
    }

    /** Note [rank 0 binds first]: a rank > 0 opens no listening socket before rank 0 listens on MASTER_PORT. */
    @Test
    void rankAboveZero_listensOnlyOnceRankZeroDoes() throws Exception {
        assumeTrue(Files.isDirectory(Path.of("/proc/self/fd")), "needs Linux /proc");
        int port = Ports.free();
        Set<String> before = ListeningSockets.ofThisProcess();
        Future<World> rank1 = ranks.submit(() -> World.join(new LaunchContract(1, 2, 1, "127.0.0.1", port, "options"),
                TOKEN, 20_000, 2, config(42)));
        Thread.sleep(1_000); // rank 1 started and waits for rank 0
        assertThat(rank1).isNotDone();
        assertThat(ListeningSockets.ofThisProcess()).as("rank 1 listens on nothing while rank 0 is away")
                .isEqualTo(before);
        Future<World> rank0 = ranks.submit(() -> World.join(new LaunchContract(0, 2, 0, "127.0.0.1", port, "options"),
                TOKEN, 20_000, 2, config(42)));
        World w0 = rank0.get(30, TimeUnit.SECONDS);
        World w1 = rank1.get(30, TimeUnit.SECONDS);
        try {
            assertThat(ListeningSockets.ofThisProcess()).as("rank 0's store and rank 1's inbox").hasSize(before.size() + 2);
            assertThat(w1.master()).isEqualTo(w0.master()).isEqualTo("127.0.0.1:" + port);
        } finally {
            leave(List.of(w0, w1));
        }
    }

    /** Note [rank 0 binds first]: with MASTER_PORT=0 rank 0 binds a free port and publishes it; rank 1 reads it. */
    @Test
    void masterPortZero_rankZeroPublishesThePortItBound_andTheOthersFindIt(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("master-port");
        Future<World> rank1 = ranks.submit(() -> World.join(new LaunchContract(1, 2, 1, "127.0.0.1", 0, "torchrun",
                file), TOKEN, 20_000, 2, config(42)));
        Thread.sleep(300);
        assertThat(rank1).as("rank 1 waits for the port").isNotDone();
        Future<World> rank0 = ranks.submit(() -> World.join(new LaunchContract(0, 2, 0, "127.0.0.1", 0, "torchrun",
                file), TOKEN, 20_000, 2, config(42)));
        World w0 = rank0.get(30, TimeUnit.SECONDS);
        World w1 = rank1.get(30, TimeUnit.SECONDS);
        try {
            int port = Integer.parseInt(w0.master().substring("127.0.0.1:".length()));
            assertThat(port).isBetween(1, 65535);
            assertThat(w1.master()).as("rank 1 read the port rank 0 bound").isEqualTo(w0.master());
            assertThat(listeners(port)).as("rank 0's store listens on the published port").isNotEmpty();
            try (Stream<Path> files = Files.list(dir)) {
                assertThat(files).as("every rank came: rank 0 removed the file (and left no partial one)").isEmpty();
            }
        } finally {
            leave(List.of(w0, w1));
        }
    }

    @Test
    void masterPortZero_portNeverPublishedOrNotAPort_isOneLineNamingTheFile(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("master-port");
        assertThatThrownBy(() -> World.join(new LaunchContract(1, 2, 1, "127.0.0.1", 0, "torchrun", file), TOKEN, 300,
                2, config(42)))
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("rendezvous: rank 0 did not publish its port in " + file + " (PPEXEC_MASTER_PORT_FILE) "
                        + "within 0.3 s (--rendezvous-timeout)");
        Files.writeString(file, "http\n");
        assertThatThrownBy(() -> World.join(new LaunchContract(1, 2, 1, "127.0.0.1", 0, "torchrun", file), TOKEN, 300,
                2, config(42)))
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("rendezvous: " + file + " (PPEXEC_MASTER_PORT_FILE) holds 'http', not a port; allowed: the "
                        + "port rank 0 bound, 1..65535");
    }

    /** A port file that is there already (someone's file, or last run's) is neither overwritten nor removed. */
    @Test
    void masterPortZero_portFileThereAlready_isLeftAlone_andNamed(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("notes.txt");
        Files.writeString(file, "someone's notes\n");
        assertThatThrownBy(() -> World.join(new LaunchContract(0, 2, 0, "127.0.0.1", 0, "torchrun", file), TOKEN,
                1_000, 2, config(42)))
                .isInstanceOf(IllegalArgumentException.class).hasNoCause()
                .hasMessage(file + " (PPEXEC_MASTER_PORT_FILE) exists; allowed: a path where no file is "
                        + "(ppexec launch makes a fresh one)");
        assertThat(file).hasContent("someone's notes");
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files).as("no partial file left").containsExactly(file);
        }
    }

    /** A MASTER_PORT where some other gRPC server answers (here one with no service) is named, not waited on. */
    @Test
    void masterAddressOfAnotherServer_isOneLineNamingIt() throws Exception {
        Server other = NettyServerBuilder.forAddress(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
                .build().start();
        try {
            int port = other.getPort();
            assertThatThrownBy(() -> World.join(new LaunchContract(1, 2, 1, "127.0.0.1", port, "options"), TOKEN,
                    10_000, 2, config(42)))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessage("rendezvous: 127.0.0.1:" + port + " answers but serves no ppexec store (while reaching "
                            + "rank 0); allowed: rank 0's address and port (MASTER_ADDR and MASTER_PORT, or --master "
                            + "HOST:PORT)");
        } finally {
            other.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    /** Local addresses (as /proc/net/tcp{,6} write them) that listen on {@code port}. */
    private static List<String> listeners(int port) throws IOException {
        return ListeningSockets.rows().stream().map(f -> f[1])
                .filter(a -> a.endsWith(String.format(":%04X", port))).toList();
    }

    @Test
    void join_ranksOfOneClock_measureAnOffsetWithinHalfTheirRtt() throws Exception {
        List<World> w = joined(3);
        try {
            assertThat(w.get(0).clockOffsetNanos()).isZero();
            assertThat(w.get(0).clockRttNanos()).isZero();
            for (World rank : w.subList(1, 3)) {
                // Threads of one JVM share one clock: the truth is 0, and Note [clock offset] bounds the error by rtt/2.
                assertThat(rank.clockRttNanos()).isPositive();
                assertThat(Math.abs(rank.clockOffsetNanos())).as(rank.clockLine())
                        .isLessThanOrEqualTo(rank.clockRttNanos() / 2 + 1);
                assertThat(rank.clockLine()).matches("clock offset to rank 0: [+-]\\d+\\.\\d us \\(rtt \\d+ us\\)");
            }
        } finally {
            leave(w);
        }
    }

    @Test
    void abort_isHeardByEveryRank_withTheFirstCause() throws Exception {
        List<World> w = joined(3);
        try {
            w.get(2).abort("rank 2 failed: test");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (w.stream().anyMatch(x -> x.aborted() == null) && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertThat(w).allSatisfy(x -> assertThat(x.aborted()).isEqualTo("rank 2 failed: test"));
            w.get(1).abort("rank 1 failed: later");
            assertThat(w.get(1).aborted()).as("the first cause stays").isEqualTo("rank 2 failed: test");
            assertThatThrownBy(() -> w.get(1).get("never", 10_000))
                    .isInstanceOf(World.WorldAborted.class).hasMessageContaining("rank 2 failed");
        } finally {
            leave(w);
        }
    }

    @ParameterizedTest(name = "ranks={0} split={1} microBatches={2}")
    @CsvSource({"2, '2,2', 2", "2, '1,3', 3", "4, '1,1,1,1', 4"})
    void grpcDataPlane_tokensAreBitIdenticalToTheInProcessRun(int worldSize, String split, int microBatches)
            throws Exception {
        Workload workload = Workload.generated(TINY, 7, 6, 5);
        int[][] expected;
        try (Pipeline p = Pipeline.builder().model(TINY).split(split).microBatches(microBatches).build()) {
            expected = p.generate(workload).tokens();
        }
        int port = Ports.free();
        List<Future<RunResult>> results = new ArrayList<>();
        for (int r = 0; r < worldSize; r++) {
            LaunchContract c = new LaunchContract(r, worldSize, r, "127.0.0.1", port, "options");
            results.add(ranks.submit(() -> {
                try (World w = World.join(c, TOKEN, 20_000, microBatches, config(42));
                     Pipeline p = Pipeline.builder().model(TINY).split(split).microBatches(microBatches)
                             .process(c.rank(), w.transports()).build()) {
                    p.generate(workload); // a second run on the same world's connections
                    ForwardSpan span = new ForwardSpan();
                    return Results.gather(w, p.generate(workload, steps -> { }, List.of(span)), span, 20_000);
                }
            }));
        }
        RunResult world = results.getFirst().get(30, TimeUnit.SECONDS);
        assertThat(world.tokens()).isDeepEqualTo(expected);
        assertThat(world.ranks()).extracting(f -> f.rank()).containsExactlyElementsOf(
                IntStream.range(0, worldSize).boxed().toList());
        for (RankFigures f : world.ranks()) {
            assertThat(world.pipelineSpanNanos()).as("Note [world bubble]: the common span holds rank %d's", f.rank())
                    .isGreaterThanOrEqualTo(f.deviceSpanNanos()).isPositive();
        }
        for (int r = 1; r < worldSize; r++) {
            assertThat(results.get(r).get(30, TimeUnit.SECONDS)).as("rank %d hands its results to rank 0", r).isNull();
        }
    }
}
