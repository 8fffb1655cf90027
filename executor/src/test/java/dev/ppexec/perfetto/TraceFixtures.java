package dev.ppexec.perfetto;

import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.Objects;

/** The hand-written traces under src/test/resources/traces (see PerfettoConverterTest for p2-m2.jsonl). */
public final class TraceFixtures {

    private TraceFixtures() {}

    public static Path resource(String name) {
        try {
            return Path.of(Objects.requireNonNull(TraceFixtures.class.getResource("/traces/" + name), name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
