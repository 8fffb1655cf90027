package dev.ppexec.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The one bar, on a fake clock in nanoseconds. */
class ProgressTest {

    private final StringWriter text = new StringWriter();
    private final AtomicLong clock = new AtomicLong();

    private Progress bar(String unit, int total, long quietNanos, long redrawNanos) {
        return new Progress(new PrintWriter(text), true, unit, total, quietNanos, redrawNanos, clock::get);
    }

    @Test
    void draw_fillsTheBarInProportion_andNamesCountUnitAndWhatRan() {
        try (Progress runs = bar("runs", 0, 0, 0)) {
            clock.set(1_500_000_000L);
            runs.draw(1, 3, "P=2 M=4");
        }
        assertThat(text.toString()).isEqualTo("\r[" + "#".repeat(10) + " ".repeat(20) + "] 1/3 runs  P=2 M=4"
                + " ".repeat(17) + " 1.5 s" + System.lineSeparator());
    }

    @Test
    void accept_staysQuietAtFirst_thenRedrawsNoMoreOftenThanAsked() {
        Progress steps = bar("steps", 4, 1_000, 200);
        clock.set(999);
        steps.accept(1);
        assertThat(text.toString()).as("within the quiet time").isEmpty();
        clock.set(1_000);
        steps.accept(2);
        clock.set(1_199);
        steps.accept(3);
        assertThat(text.toString()).as("one draw, of step 2").contains("] 2/4 steps").doesNotContain("3/4");
        clock.set(1_200);
        steps.accept(4);
        assertThat(text.toString()).contains("[" + "#".repeat(30) + "] 4/4 steps");
    }

    @Test
    void disabledOrNeverDrawn_printsNothing_notEvenTheClosingNewline() {
        try (Progress off = new Progress(new PrintWriter(text), false, "runs", 0, 0, 0, clock::get)) {
            off.draw(1, 1, "x");
        }
        try (Progress quiet = bar("steps", 3, 1_000, 0)) {
            quiet.accept(1);
        }
        assertThat(text.toString()).isEmpty();
    }
}
