package dev.ppexec.otel;

import io.opentelemetry.common.ComponentLoader;
import io.opentelemetry.sdk.common.export.HttpSenderProvider;

import java.util.ArrayList;
import java.util.List;

/**
 * Picks the OTLP senders: OTLP/HTTP through the JDK's HttpClient, OTLP/gRPC through OkHttp (the
 * JDK sender has no gRPC). Both OkHttp's and the JDK's HTTP senders are on the class path, so the
 * SDK's service loading is narrowed to the JDK one rather than left to the class path's order.
 */
final class OtlpSenders {

    static final String JDK_HTTP_SENDER = "io.opentelemetry.exporter.sender.jdk.internal.JdkHttpSenderProvider";

    private OtlpSenders() {}

    /** Loads services from {@code loader}; for {@link HttpSenderProvider}, only the JDK's. */
    static ComponentLoader jdkHttp(ClassLoader loader) {
        ComponentLoader all = ComponentLoader.forClassLoader(loader);
        return new ComponentLoader() {
            @Override
            public <T> Iterable<T> load(Class<T> spi) {
                Iterable<T> found = all.load(spi);
                if (spi != HttpSenderProvider.class) {
                    return found;
                }
                List<T> jdk = new ArrayList<>();
                for (T provider : found) {
                    if (provider.getClass().getName().equals(JDK_HTTP_SENDER)) {
                        jdk.add(provider);
                    }
                }
                return jdk;
            }
        };
    }
}
