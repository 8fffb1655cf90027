package dev.ppexec.otel;

import dev.ppexec.trace.TraceLevel;
import dev.ppexec.trace.TraceSchema;

import java.net.URI;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;

/**
 * Where a run's spans go and what they carry beyond the run's configuration.
 *
 * @param file         OTLP-JSON lines file, or null
 * @param otlpEndpoint collector URL, or null (then OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT, if set)
 * @param otlpProtocol {@code http/protobuf} or {@code grpc}, or null (then OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL,
 *                     else http/protobuf)
 * @param attributes   resource attributes of the experiment ({@code --attr key=value})
 * @param schema       whose tools the spans are written for ({@code --trace-schema})
 */
public record TraceOptions(TraceLevel level, Path file, URI otlpEndpoint, String otlpProtocol,
                           Map<String, String> attributes, TraceSchema schema) {

    public static final String HTTP_PROTOBUF = "http/protobuf";
    public static final String GRPC = "grpc";

    public TraceOptions {
        Objects.requireNonNull(level, "level");
        Objects.requireNonNull(schema, "schema");
        attributes = Map.copyOf(attributes);
        if (otlpProtocol != null && !otlpProtocol.equals(HTTP_PROTOBUF) && !otlpProtocol.equals(GRPC)) {
            throw new IllegalArgumentException("otlpProtocol '" + otlpProtocol + "' is not supported; allowed: "
                    + HTTP_PROTOBUF + ", " + GRPC);
        }
    }

    /** ppexec's own schema. */
    public TraceOptions(TraceLevel level, Path file, URI otlpEndpoint, String otlpProtocol, Map<String, String> attributes) {
        this(level, file, otlpEndpoint, otlpProtocol, attributes, TraceSchema.PPEXEC);
    }
}
