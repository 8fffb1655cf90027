package dev.ppexec.otel;

import dev.ppexec.failure.Failures;
import io.opentelemetry.sdk.common.CompletableResultCode;

import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

/**
 * What one destination's exports came to, for the exporters that count them ({@link CountingExporter}
 * for spans, {@link Metrics}'s for metrics): each export's success or failure as its result
 * completes, the first failure's reason, and whether the shutdown (a file's commit) failed.
 */
final class ExportOutcomes {

    private final AtomicReference<String> firstError = new AtomicReference<>();
    private volatile boolean shutdownFailed;

    /** Runs {@code export}; when its result completes, {@code succeeded} or {@code failed} runs. Never throws. */
    CompletableResultCode track(Supplier<CompletableResultCode> export, Runnable succeeded, Runnable failed) {
        CompletableResultCode result;
        try {
            result = export.get();
        } catch (RuntimeException e) {
            note(e);
            failed.run();
            return CompletableResultCode.ofExceptionalFailure(e);
        }
        result.whenComplete(() -> {
            if (result.isSuccess()) {
                succeeded.run();
            } else {
                note(result.getFailureThrowable());
                failed.run();
            }
        });
        return result;
    }

    /** Notes a failed shutdown of the destination when {@code result} completes. */
    CompletableResultCode trackShutdown(CompletableResultCode result) {
        result.whenComplete(() -> {
            if (!result.isSuccess()) {
                shutdownFailed = true;
                note(result.getFailureThrowable());
            }
        });
        return result;
    }

    /** The first failure's reason, or null. */
    String firstError() {
        return firstError.get();
    }

    boolean shutdownFailed() {
        return shutdownFailed;
    }

    private void note(Throwable cause) {
        firstError.compareAndSet(null, cause == null ? "export failed" : Failures.describe(cause));
    }
}
