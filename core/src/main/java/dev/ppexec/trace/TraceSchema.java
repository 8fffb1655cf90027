package dev.ppexec.trace;

/**
 * Which tools a run's trace is written for (docs/TRACING.md, "Schemas"). Both hold the same spans;
 * {@link #SGLANG} adds what sglang's converter needs to find them: {@link SpanContract#MODULE} on
 * each request's root, {@link SpanContract#PID} on each thread span, and service.name
 * {@code sglang} unless the user names the service.
 */
public enum TraceSchema {
    PPEXEC("ppexec"),
    SGLANG(SpanContract.SGLANG_SERVICE);

    private final String serviceName;

    TraceSchema(String serviceName) {
        this.serviceName = serviceName;
    }

    /** The option's value: {@code ppexec} or {@code sglang}. */
    public String value() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    /** service.name when neither OTEL_SERVICE_NAME nor the user's resource attributes name one. */
    public String defaultServiceName() {
        return serviceName;
    }
}
