package dev.ppexec.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;

/** {@code ppexec}: the command line. Bad input exits with status 2 and one line; no stack trace. */
@Command(name = "ppexec", mixinStandardHelpOptions = true, version = "ppexec 0.1.0",
        description = "Pipeline-parallel inference executor with CPU-launch and device-time tracing.",
        subcommands = {RunCommand.class, ConvertCommand.class, ReportCommand.class, BenchCommand.class,
                DevicesCommand.class, GpuCheckCommand.class, LaunchCommand.class})
public final class Main implements Runnable {

    public static final int USAGE = 2;

    public static void main(String[] args) {
        System.exit(execute(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs the CLI with the given streams; returns the exit status. */
    public static int execute(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cl = new CommandLine(new Main());
        cl.setOut(out);
        cl.setErr(err);
        cl.setParameterExceptionHandler(Main::badInput);
        cl.setExecutionExceptionHandler((e, line, parsed) -> {
            if (e instanceof IllegalArgumentException) {
                line.getErr().println(line.getCommandName() + ": " + e.getMessage());
                return USAGE;
            }
            line.getErr().println(line.getCommandName() + ": error: " + describe(e));
            return 1;
        });
        return cl.execute(args);
    }

    private static int badInput(CommandLine.ParameterException e, String[] args) {
        CommandLine cl = e.getCommandLine();
        String message = e.getMessage();
        if (e instanceof CommandLine.UnmatchedArgumentException u && !u.getUnmatched().isEmpty()) {
            message = "unknown option or argument '" + u.getUnmatched().getFirst() + "'; allowed options: "
                    + String.join(", ", cl.getCommandSpec().optionsMap().keySet().stream()
                    .filter(k -> k.startsWith("--")).sorted().toList());
        }
        cl.getErr().println(cl.getCommandName() + ": " + message);
        return USAGE;
    }

    /** A failure's message and its causes' messages, one line. */
    static String describe(Throwable t) {
        StringBuilder sb = new StringBuilder(String.valueOf(t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage()));
        for (Throwable c = t.getCause(); c != null && c != c.getCause(); c = c.getCause()) {
            if (c.getMessage() != null && !sb.toString().contains(c.getMessage())) {
                sb.append(": ").append(c.getMessage());
            }
        }
        return sb.toString();
    }

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }
}
