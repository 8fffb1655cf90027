package dev.ppexec.io;

import java.nio.file.Path;

/**
 * Note [printable names]: what a user gave (a path, a model name, an option's value) is printed
 * through here, in output and error lines alike. A file named with a line break or an ANSI escape
 * would otherwise split a one-line message or drive the user's terminal (clear it, retitle it).
 * Control characters are shown as {@code \n}, {@code \r}, {@code \t}, {@code \e} or {@code \xNN}
 * (C0, DEL and C1), the Unicode line and paragraph separators as {@code \u2028} and {@code \u2029};
 * everything else, a backslash and non-ASCII letters included, is kept as it is.
 */
public final class Printable {

    private Printable() {}

    /** {@code path} as a message shows it. */
    public static String path(Path path) {
        return path == null ? "null" : text(path.toString());
    }

    /** {@code text} with its control characters escaped (see the Note above). */
    public static String text(String text) {
        StringBuilder sb = null;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            String shown = switch (c) {
                case '\n' -> "\\n";
                case '\r' -> "\\r";
                case '\t' -> "\\t";
                case '\u001b' -> "\\e";
                case '\u2028', '\u2029' -> String.format("\\u%04x", (int) c);
                default -> Character.isISOControl(c) ? String.format("\\x%02x", (int) c) : null;
            };
            if (shown != null && sb == null) {
                sb = new StringBuilder(text.length() + 8).append(text, 0, i);
            }
            if (sb != null) {
                if (shown != null) {
                    sb.append(shown);
                } else {
                    sb.append(c);
                }
            }
        }
        return sb == null ? text : sb.toString();
    }
}
