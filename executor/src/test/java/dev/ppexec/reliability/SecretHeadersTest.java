package dev.ppexec.reliability;

import com.sun.net.httpserver.HttpServer;
import dev.ppexec.cli.CliRun;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * OTLP headers may carry a token (OTEL_EXPORTER_OTLP_HEADERS): they reach the collector, and never
 * the run's output or errors, also when the export fails.
 */
class SecretHeadersTest {

    static final String SECRET = "s3cr3t-token-9f8e7d";

    private HttpServer server;

    @AfterEach
    void stop() {
        System.clearProperty("otel.exporter.otlp.headers");
        if (server != null) {
            server.stop(0);
        }
    }

    @Test
    void aTokenInTheHeaders_reachesTheCollector_andIsNeverPrinted() throws IOException {
        AtomicReference<String> received = new AtomicReference<>();
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 4);
        server.createContext("/", exchange -> {
            exchange.getRequestBody().readAllBytes();
            received.set(exchange.getRequestHeaders().getFirst("Authorization"));
            exchange.sendResponseHeaders(500, -1); // a failing export: its error must not print the headers either
            exchange.close();
        });
        server.start();
        System.setProperty("otel.exporter.otlp.headers", "Authorization=Bearer " + SECRET);

        // The SDK's own log lines go to the process's stderr, not the command's: capture that too.
        java.io.PrintStream stderr = System.err;
        java.io.ByteArrayOutputStream processErr = new java.io.ByteArrayOutputStream();
        System.setErr(new java.io.PrintStream(processErr, true, java.nio.charset.StandardCharsets.UTF_8));
        CliRun run;
        try {
            run = CliRun.of("run", "--model", "tiny", "--device", "cpu", "--requests", "2", "--micro-batches", "1",
                "--prompt-len", "4", "--decode-steps", "2", "--warmup", "0", "--no-progress",
                    "--otlp-endpoint", "http://127.0.0.1:" + server.getAddress().getPort());
        } finally {
            System.setErr(stderr);
        }

        assertThat(run.status()).as(run.err()).isZero();
        assertThat(received.get()).as("the header reached the collector").isEqualTo("Bearer " + SECRET);
        assertThat(run.out()).contains("not delivered").doesNotContain(SECRET);
        assertThat(run.err()).doesNotContain(SECRET);
        assertThat(processErr.toString(java.nio.charset.StandardCharsets.UTF_8)).doesNotContain(SECRET);
    }
}
