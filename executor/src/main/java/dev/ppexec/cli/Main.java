package dev.ppexec.cli;

import dev.ppexec.failure.Failures;
import dev.ppexec.io.OutputRefusedException;
import dev.ppexec.io.Printable;
import dev.ppexec.otlp.TraceInputException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;

/**
 * {@code ppexec}: the command line. Bad input exits with status 2 and one line; no stack trace.
 *
 * <p>Note [usage errors]: bad input is a {@link UsageException} (or picocli's own parameter
 * errors, a {@link TraceInputException} naming the file and line, or an output that
 * {@link OutputRefusedException refuses}): exit status 2 and one line
 * that names the option, field or variable, the value and what is allowed. Commands find it in
 * one validation pass before they choose a device or build anything. Core and runtime classes
 * throw {@link IllegalArgumentException} naming their own fields, never a flag; one that reaches
 * here was not caught by the validation pass, so it is an internal error (exit 1) with its cause,
 * as is any other programming error (a NullPointerException, an index out of bounds, ...).
 */
@Command(name = "ppexec", mixinStandardHelpOptions = true, version = "ppexec 0.1.0",
        description = "Pipeline-parallel inference executor with CPU-launch and device-time tracing.",
        subcommands = {RunCommand.class, ConvertCommand.class, ReportCommand.class, BenchCommand.class,
                DevicesCommand.class, GpuCheckCommand.class, LaunchCommand.class, PlanCommand.class})
public final class Main implements Runnable {

    public static final int USAGE = 2;

    /** The environment and system properties the commands read ({@code OTEL_*}): the process's own, or a test's. */
    final Map<String, String> env;
    final Properties system;

    private Main(Map<String, String> env, Properties system) {
        this.env = Map.copyOf(env);
        this.system = system;
    }

    public static void main(String[] args) {
        System.exit(execute(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs the CLI with the given streams; returns the exit status. */
    public static int execute(String[] args, PrintWriter out, PrintWriter err) {
        return execute(args, out, err, System.getenv(), System.getProperties());
    }

    /** As {@link #execute(String[], PrintWriter, PrintWriter)}, validating {@code env} and {@code system} as the OTEL_* settings. */
    public static int execute(String[] args, PrintWriter out, PrintWriter err, Map<String, String> env, Properties system) {
        CommandLine cl = new CommandLine(new Main(Objects.requireNonNull(env, "env"), Objects.requireNonNull(system, "system")));
        cl.setOut(out);
        cl.setErr(err);
        AsciiNumbers.register(cl);
        cl.setParameterExceptionHandler(Main::badInput);
        cl.setExecutionExceptionHandler((e, line, parsed) -> failed(e, line.getCommandName(), line.getErr()));
        return cl.execute(args);
    }

    /** Says how {@code command} failed, in one line on {@code err}; returns the exit status (Note [usage errors]). */
    static int failed(Exception e, String command, PrintWriter err) {
        if (e instanceof UsageException || e instanceof TraceInputException || e instanceof OutputRefusedException) {
            err.println(Printable.text(command + ": " + e.getMessage()));
            return USAGE;
        }
        boolean internal = e instanceof IllegalArgumentException || e instanceof NullPointerException
                || e instanceof IndexOutOfBoundsException || e instanceof ClassCastException || e instanceof ArithmeticException;
        String what = Failures.describe(e);
        String name = e.getClass().getSimpleName();
        String kind = !internal ? ": error: " : ": internal error: " + (what.startsWith(name) ? "" : name + ": ");
        err.println(Printable.text(command + kind + what));
        return 1;
    }

    private static int badInput(CommandLine.ParameterException e, String[] args) {
        CommandLine cl = e.getCommandLine();
        String message = e.getMessage();
        if (e instanceof CommandLine.UnmatchedArgumentException u && !u.getUnmatched().isEmpty()) {
            message = "unknown option or argument '" + u.getUnmatched().getFirst() + "'; allowed options: "
                    + String.join(", ", cl.getCommandSpec().optionsMap().keySet().stream()
                    .filter(k -> k.startsWith("--")).sorted().toList());
        }
        if (e instanceof CommandLine.MutuallyExclusiveArgsException || e instanceof CommandLine.MaxValuesExceededException) {
            message = exclusive(cl, args).orElse(message);
        }
        cl.getErr().println(Printable.text(cl.getCommandName() + ": " + message));
        return USAGE;
    }

    /**
     * {@code "--stages 2 and --split 2,2 both given; allowed: one of them"}: an exclusive group's
     * options as the user gave them (one of them twice, too).
     */
    private static Optional<String> exclusive(CommandLine cl, String[] args) {
        for (CommandLine.Model.ArgGroupSpec group : cl.getCommandSpec().argGroups()) {
            if (!group.exclusive()) {
                continue;
            }
            List<String> given = new ArrayList<>();
            for (int i = 0; i < args.length; i++) {
                for (CommandLine.Model.OptionSpec o : group.options()) {
                    String name = o.longestName();
                    if (args[i].equals(name)) {
                        given.add(name + (i + 1 < args.length ? " " + args[i + 1] : ""));
                    } else if (args[i].startsWith(name + "=")) {
                        given.add(name + " " + args[i].substring(name.length() + 1));
                    }
                }
            }
            if (given.size() >= 2) {
                return Optional.of(given.get(0) + " and " + given.get(1) + " both given; allowed: one of them");
            }
        }
        return Optional.empty();
    }

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }
}
