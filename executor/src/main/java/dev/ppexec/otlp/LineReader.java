package dev.ppexec.otlp;

import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;

/** Reads a byte stream one line at a time into a reused buffer (no String per line, no decoding). */
final class LineReader {

    private final InputStream in;
    private final byte[] chunk = new byte[1 << 16];
    private int position;
    private int limit;
    private byte[] line = new byte[1 << 12];
    private int length;

    LineReader(InputStream in) {
        this.in = in;
    }

    /** Reads the next line (without its line break); false at the end of the stream. */
    boolean next() throws IOException {
        length = 0;
        boolean any = false;
        while (true) {
            if (position == limit) {
                limit = Math.max(0, in.read(chunk));
                position = 0;
                if (limit == 0) {
                    trimCarriageReturn();
                    return any;
                }
            }
            any = true;
            int newline = indexOfNewline();
            int stop = newline < 0 ? limit : newline;
            append(stop - position);
            position = newline < 0 ? limit : newline + 1;
            if (newline >= 0) {
                trimCarriageReturn();
                return true;
            }
        }
    }

    byte[] buffer() {
        return line;
    }

    int length() {
        return length;
    }

    /** True when the line holds only white space. */
    boolean blank() {
        for (int i = 0; i < length; i++) {
            if (line[i] != ' ' && line[i] != '\t') {
                return false;
            }
        }
        return true;
    }

    private int indexOfNewline() {
        for (int i = position; i < limit; i++) {
            if (chunk[i] == '\n') {
                return i;
            }
        }
        return -1;
    }

    private void append(int n) {
        if (length + n > line.length) {
            line = Arrays.copyOf(line, Math.max(length + n, line.length * 2));
        }
        System.arraycopy(chunk, position, line, length, n);
        length += n;
    }

    private void trimCarriageReturn() {
        if (length > 0 && line[length - 1] == '\r') {
            length--;
        }
    }
}
