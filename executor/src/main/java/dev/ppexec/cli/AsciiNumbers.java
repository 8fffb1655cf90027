package dev.ppexec.cli;

import picocli.CommandLine;
import picocli.CommandLine.TypeConversionException;

import java.util.regex.Pattern;

/**
 * Whole numbers on the command line are ASCII digits with an optional leading minus: Java's own
 * parsers also take other scripts' digits ({@code ٣}) and a {@code +}, and a value with spaces
 * around it is a quoting mistake, so each is refused with what is allowed.
 */
final class AsciiNumbers {

    private static final Pattern WHOLE = Pattern.compile("-?[0-9]+");

    private AsciiNumbers() {}

    static void register(CommandLine cl) {
        CommandLine.ITypeConverter<Integer> ints = s -> (int) parse(s, Integer.MIN_VALUE, Integer.MAX_VALUE, "an int");
        CommandLine.ITypeConverter<Long> longs = s -> parse(s, Long.MIN_VALUE, Long.MAX_VALUE, "a long");
        cl.registerConverter(Integer.class, ints);
        cl.registerConverter(int.class, ints);
        cl.registerConverter(Long.class, longs);
        cl.registerConverter(long.class, longs);
    }

    /** {@code text} as a whole number in {@code min..max}; picocli prefixes the option's name. */
    static long parse(String text, long min, long max, String type) {
        if (!WHOLE.matcher(text).matches()) {
            throw new TypeConversionException("'" + text + "' is not a whole number; allowed: ASCII digits 0-9 with an "
                    + "optional leading '-', no spaces");
        }
        try {
            long v = Long.parseLong(text);
            if (v >= min && v <= max) {
                return v;
            }
        } catch (NumberFormatException e) {
            // Too long for a long: out of range below.
        }
        throw new TypeConversionException("'" + text + "' is out of range; allowed: " + min + ".." + max + " (" + type + ")");
    }
}
