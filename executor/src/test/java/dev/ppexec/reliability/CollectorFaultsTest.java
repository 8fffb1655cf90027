package dev.ppexec.reliability;

import com.sun.net.httpserver.HttpServer;
import dev.ppexec.cli.CliRun;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A collector that misbehaves: accepts and never answers, answers 500, or answers slowly. The run
 * finishes with exit 0 and its results, shutdown is bounded by the flush bound (10 s), and the
 * spans that did not arrive are counted in the summary. (A collector that refuses connections is
 * in TracingTest.)
 */
@Timeout(120)
class CollectorFaultsTest {

    enum Fault { NEVER_ANSWERS, ANSWERS_500, ANSWERS_SLOWLY }

    private HttpServer server;
    private final CountDownLatch release = new CountDownLatch(1);

    @AfterEach
    void stop() {
        release.countDown();
        if (server != null) {
            server.stop(0);
        }
    }

    private String start(Fault fault) throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
        server.setExecutor(Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "fake-collector");
            t.setDaemon(true);
            return t;
        }));
        server.createContext("/", exchange -> {
            exchange.getRequestBody().readAllBytes();
            try {
                switch (fault) {
                    case NEVER_ANSWERS -> release.await();
                    case ANSWERS_SLOWLY -> release.await(3, TimeUnit.SECONDS);
                    case ANSWERS_500 -> { }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            exchange.sendResponseHeaders(fault == Fault.ANSWERS_500 ? 500 : 200, -1);
            exchange.close();
        });
        server.start();
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    @ParameterizedTest
    @EnumSource(Fault.class)
    void theRunFinishes_shutdownIsBounded_andLostSpansAreCounted(Fault fault) throws IOException {
        String endpoint = start(fault);
        long t0 = System.nanoTime();
        CliRun run = CliRun.of("run", "--model", "tiny", "--device", "cpu", "--requests", "4", "--micro-batches", "2",
                "--prompt-len", "4", "--decode-steps", "4", "--warmup", "0", "--no-progress", "--otlp-endpoint", endpoint);
        double seconds = (System.nanoTime() - t0) / 1e9;
        System.out.printf("%s: exit %d in %.1f s; %s%n", fault, run.status(), seconds,
                run.out().lines().filter(l -> l.startsWith("trace:")).findFirst().orElse("no trace line"));

        assertThat(run.status()).as(run.err()).isZero();
        assertThat(run.out()).contains("tokens/s").contains("request 0:");
        assertThat(seconds).as("bounded by the 10 s flush bound plus the run").isLessThan(60);
        String trace = run.out().lines().filter(l -> l.startsWith("trace:")).findFirst().orElseThrow();
        if (fault == Fault.ANSWERS_SLOWLY) {
            assertThat(trace).matches("trace: [\\d,]+ spans .*");
        } else {
            assertThat(trace).as("spans that did not arrive are counted").containsPattern("[\\d,]+ not delivered");
        }
    }
}
