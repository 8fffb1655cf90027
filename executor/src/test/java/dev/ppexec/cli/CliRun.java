package dev.ppexec.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Map;
import java.util.Properties;

/** Runs the command line in-process for tests, capturing its exit status and both streams. */
public record CliRun(int status, String out, String err) {

    public static CliRun of(String... args) {
        return run(System.getenv(), System.getProperties(), args);
    }

    /**
     * As {@link #of}, validating {@code env} as the environment (and no {@code otel.*} system
     * properties); a run that starts tracing still gives the SDK this JVM's own environment.
     */
    public static CliRun withEnv(Map<String, String> env, String... args) {
        return run(env, new Properties(), args);
    }

    private static CliRun run(Map<String, String> env, Properties system, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = Main.execute(args, new PrintWriter(out, true), new PrintWriter(err, true), env, system);
        return new CliRun(status, out.toString(), err.toString());
    }
}
