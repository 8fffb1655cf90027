package dev.ppexec.failure;

/** How a failure is said in one line: the command line's error lines and the exporters' first errors use this. */
public final class Failures {

    private Failures() {}

    /**
     * A failure's message and its causes' messages, joined by {@code ": "}, each said once; a
     * failure without a message is named by its class ({@code NullPointerException}).
     */
    public static String describe(Throwable t) {
        StringBuilder sb = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            String m = c.getMessage() == null ? c.getClass().getSimpleName() : c.getMessage();
            if (!sb.toString().contains(m)) {
                sb.append(sb.isEmpty() ? "" : ": ").append(m);
            }
        }
        return sb.toString();
    }
}
