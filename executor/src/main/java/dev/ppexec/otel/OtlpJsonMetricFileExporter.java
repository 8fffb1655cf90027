package dev.ppexec.otel;

import io.opentelemetry.exporter.internal.otlp.metrics.MetricsRequestMarshaler;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.metrics.InstrumentType;
import io.opentelemetry.sdk.metrics.data.AggregationTemporality;
import io.opentelemetry.sdk.metrics.data.MetricData;
import io.opentelemetry.sdk.metrics.export.MetricExporter;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Collection;

/**
 * Writes metrics as OTLP-JSON lines, the shape the OpenTelemetry Collector's file exporter writes
 * (one {@code {"resourceMetrics":[...]}} object per collection), by the file policy of
 * {@link OtlpJsonLines}. Cumulative, as the OTLP exporters' default: each line holds the totals so far.
 */
final class OtlpJsonMetricFileExporter implements MetricExporter {

    private final OtlpJsonLines file;

    private OtlpJsonMetricFileExporter(OtlpJsonLines file) {
        this.file = file;
    }

    /** Opens {@code target} by Note [output policy], creating missing folders. */
    static OtlpJsonMetricFileExporter create(Path target) throws IOException {
        return new OtlpJsonMetricFileExporter(OtlpJsonLines.create(target));
    }

    Path target() {
        return file.target();
    }

    @Override
    public AggregationTemporality getAggregationTemporality(InstrumentType instrumentType) {
        return AggregationTemporality.CUMULATIVE;
    }

    @Override
    public CompletableResultCode export(Collection<MetricData> metrics) {
        return file.write(MetricsRequestMarshaler.create(metrics));
    }

    @Override
    public CompletableResultCode flush() {
        return file.flush();
    }

    /** Leaves the target as it was (the run never started). */
    void discard() {
        file.discard();
    }

    @Override
    public CompletableResultCode shutdown() {
        return file.shutdown();
    }
}
