package dev.ppexec.otel;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;

import static org.assertj.core.api.Assertions.assertThat;

class OtelSettingsTest {

    @ParameterizedTest(name = "{0}={1}")
    @CsvSource(delimiter = '|', value = {
            "OTEL_EXPORTER_OTLP_TIMEOUT          | -5             | OTEL_EXPORTER_OTLP_TIMEOUT='-5' is not a duration; allowed: 1ms..1h",
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT   | 0              | OTEL_EXPORTER_OTLP_TRACES_TIMEOUT='0' is out of range; allowed: 1ms..1h",
            "OTEL_EXPORTER_OTLP_TIMEOUT          | 2h             | OTEL_EXPORTER_OTLP_TIMEOUT='2h' is out of range",
            "OTEL_EXPORTER_OTLP_TIMEOUT          | 99999999999999 | OTEL_EXPORTER_OTLP_TIMEOUT='99999999999999' is not a duration",
            "OTEL_BSP_MAX_QUEUE_SIZE             | -1             | OTEL_BSP_MAX_QUEUE_SIZE='-1' is out of range; allowed: a whole number 1..16777216",
            "OTEL_BSP_MAX_QUEUE_SIZE             | ٣              | OTEL_BSP_MAX_QUEUE_SIZE='٣' is not a whole number",
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE      | 0              | OTEL_BSP_MAX_EXPORT_BATCH_SIZE='0' is out of range",
            "OTEL_BSP_SCHEDULE_DELAY             | soon           | OTEL_BSP_SCHEDULE_DELAY='soon' is not a duration",
            "OTEL_BSP_EXPORT_TIMEOUT             | 0              | OTEL_BSP_EXPORT_TIMEOUT='0' is out of range",
            "OTEL_EXPORTER_OTLP_PROTOCOL         | carrier-pigeon | OTEL_EXPORTER_OTLP_PROTOCOL='carrier-pigeon' is not supported; allowed: http/protobuf, grpc",
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL  | http/json      | OTEL_EXPORTER_OTLP_TRACES_PROTOCOL='http/json' is not supported",
            "OTEL_EXPORTER_OTLP_ENDPOINT         | http://127.0.0.1:99999 | OTEL_EXPORTER_OTLP_ENDPOINT='http://127.0.0.1:99999' has port 99999; allowed: http://HOST[:PORT][/PATH]",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT  | collector:4318 | OTEL_EXPORTER_OTLP_TRACES_ENDPOINT='collector:4318' is not a URL",
            "OTEL_EXPORTER_OTLP_ENDPOINT         | http://u:p@c:4318 | holds user credentials",
            "OTEL_EXPORTER_OTLP_COMPRESSION      | zstd           | OTEL_EXPORTER_OTLP_COMPRESSION='zstd' is not supported; allowed: gzip, none",
            "OTEL_EXPORTER_OTLP_CERTIFICATE      | no/such.pem    | OTEL_EXPORTER_OTLP_CERTIFICATE='no/such.pem' is not a readable file",
            "OTEL_EXPORTER_OTLP_CLIENT_KEY       | no/such.pem    | OTEL_EXPORTER_OTLP_CLIENT_KEY='no/such.pem' is not a readable file",
            "OTEL_TRACES_EXPORTER                | console        | OTEL_TRACES_EXPORTER='console' is not supported; allowed: otlp, none",
            "OTEL_TRACES_SAMPLER                 | traceidratio   | OTEL_TRACES_SAMPLER='traceidratio' is not supported; allowed: always_on, parentbased_always_on",
            "OTEL_PROPAGATORS                    | b3             | OTEL_PROPAGATORS='b3' is not supported",
            "OTEL_PROPAGATORS                    | none,baggage   | OTEL_PROPAGATORS='none,baggage' is not supported",
            "OTEL_SDK_DISABLED                   | true           | OTEL_SDK_DISABLED='true' turns off the SDK that writes this run's spans",
            "OTEL_SDK_DISABLED                   | yes            | OTEL_SDK_DISABLED='yes' is not a boolean",
            "OTEL_RESOURCE_ATTRIBUTES            | team           | OTEL_RESOURCE_ATTRIBUTES='team' has the entry 'team', not KEY=VALUE",
            "OTEL_RESOURCE_ATTRIBUTES            | a=1,a=2        | sets key 'a' twice",
            "OTEL_RESOURCE_ATTRIBUTES            | ppexec.seed=1  | sets key 'ppexec.seed', which the run sets",
            "OTEL_RESOURCE_ATTRIBUTES            | a=%zz          | has a '%' that is not followed by two hex digits",
            "OTEL_ATTRIBUTE_COUNT_LIMIT          | 3              | OTEL_ATTRIBUTE_COUNT_LIMIT='3' is out of range; allowed: a whole number 128..",
            "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT | 10          | OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT='10' is out of range",
            "OTEL_JAVA_EXPORTER_OTLP_RETRY_DISABLED | maybe       | OTEL_JAVA_EXPORTER_OTLP_RETRY_DISABLED='maybe' is not supported; allowed: true, false",
            "OTEL_CONFIG_FILE                    | otel.yaml      | OTEL_CONFIG_FILE='otel.yaml' is not supported",
    })
    void badVariable_isOneLineNamingItsValueAndWhatIsAllowed(String name, String value, String message) {
        String problem = OtelSettings.problem(Map.of(name, value), new Properties()).orElseThrow();
        assertThat(problem).startsWith(name).contains(message).contains("allowed: ");
        assertThat(problem.lines()).hasSize(1);
    }

    @Test
    void headers_areNamedButTheirValueIsNeverShown() {
        String problem = OtelSettings.problem(Map.of("OTEL_EXPORTER_OTLP_HEADERS", "Authorization Bearer s3cret"),
                new Properties()).orElseThrow();
        assertThat(problem).startsWith("OTEL_EXPORTER_OTLP_HEADERS (value not shown").contains("not KEY=VALUE")
                .doesNotContain("s3cret");
    }

    @Test
    void batchLargerThanQueue_isRefusedNamingBoth() {
        String problem = OtelSettings.problem(Map.of("OTEL_BSP_MAX_QUEUE_SIZE", "100", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "512"),
                new Properties()).orElseThrow();
        assertThat(problem).isEqualTo("OTEL_BSP_MAX_EXPORT_BATCH_SIZE='512' is more than OTEL_BSP_MAX_QUEUE_SIZE='100'; "
                + "allowed: a batch no larger than the queue");
    }

    @Test
    void systemProperty_winsOverTheVariable_andIsNamedAsAProperty() {
        Properties p = new Properties();
        p.setProperty("otel.bsp.max.queue.size", "0");
        assertThat(OtelSettings.problem(Map.of("OTEL_BSP_MAX_QUEUE_SIZE", "2048"), p).orElseThrow())
                .startsWith("system property otel.bsp.max.queue.size='0' is out of range");
        p.setProperty("otel.bsp.max.queue.size", "2048");
        assertThat(OtelSettings.problem(Map.of("OTEL_BSP_MAX_QUEUE_SIZE", "-1"), p)).isEmpty();
    }

    @ParameterizedTest(name = "{0}={1}")
    @CsvSource(delimiter = '|', value = {
            "OTEL_EXPORTER_OTLP_TIMEOUT          | 10000",
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT   | 10s",
            "OTEL_BSP_SCHEDULE_DELAY             | 0",
            "OTEL_BSP_MAX_QUEUE_SIZE             | 4096",
            "OTEL_EXPORTER_OTLP_PROTOCOL         | grpc",
            "OTEL_EXPORTER_OTLP_ENDPOINT         | https://collector.example:4317",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT  | http://[::1]:4318/v1/traces",
            "OTEL_EXPORTER_OTLP_HEADERS          | Authorization=Bearer%20x,team=pp",
            "OTEL_EXPORTER_OTLP_COMPRESSION      | gzip",
            "OTEL_TRACES_EXPORTER                | none",
            "OTEL_TRACES_SAMPLER                 | parentbased_always_on",
            "OTEL_PROPAGATORS                    | tracecontext,baggage",
            "OTEL_SDK_DISABLED                   | false",
            "OTEL_RESOURCE_ATTRIBUTES            | team=pp,run=a%2Cb",
            "OTEL_SERVICE_NAME                   | pp-sweep",
            "OTEL_ATTRIBUTE_COUNT_LIMIT          | 256",
            "OTEL_JAVA_EXPORTER_OTLP_RETRY_DISABLED | true",
            "OTEL_PYTHON_LOG_LEVEL               | anything: another SDK's variable",
            "OTEL_BSP_MAX_QUEUE_SIZE             | '  '",
    })
    void allowedValue_passes(String name, String value) {
        assertThat(OtelSettings.problem(Map.of(name, value), new Properties())).isEmpty();
    }

    @Test
    void readableCertificate_passes(@TempDir Path dir) throws IOException {
        Path pem = Files.writeString(dir.resolve("ca.pem"), "-----BEGIN CERTIFICATE-----\n");
        assertThat(OtelSettings.problem(Map.of("OTEL_EXPORTER_OTLP_CERTIFICATE", pem.toString()), new Properties())).isEmpty();
        assertThat(OtelSettings.problem(Map.of("OTEL_EXPORTER_OTLP_CERTIFICATE", dir.toString()), new Properties()))
                .hasValueSatisfying(p -> assertThat(p).contains("is not a readable file"));
    }

    @Test
    void tracesExporterNone_meansTheEnvironmentNamesNoCollector() {
        Map<String, String> env = Map.of("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318");
        assertThat(Tracing.environmentNamesCollector(env, new Properties())).isTrue();
        Map<String, String> none = Map.of("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318", "OTEL_TRACES_EXPORTER", "none");
        assertThat(Tracing.environmentNamesCollector(none, new Properties())).isFalse();
    }
}
