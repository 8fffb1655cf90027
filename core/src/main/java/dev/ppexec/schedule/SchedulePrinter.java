package dev.ppexec.schedule;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Renders a schedule as a time × rank grid from its unit-cost timeline (every FORWARD takes 1, transfers take 0):
 * one row per time slot, one column per rank, each cell the FORWARD that runs there or {@code .} when idle. RECVs
 * and SENDs take no time and sit at the edges of their FORWARD's slot; a TOKENS or FEEDBACK after its FORWARD adds its
 * letter to that FORWARD's cell ({@code F0@1+T}). Where ranks stop short (a broken schedule), a last row
 * {@code blocked} shows the action each such rank is stuck on.
 */
public final class SchedulePrinter {

    private static final CostModel UNIT = CostModel.uniform(1, 0);
    private static final String IDLE = ".";
    private static final String MARK = ">";
    private static final String GAP = "  ";

    private SchedulePrinter() {
    }

    public static String grid(Schedule schedule) {
        Objects.requireNonNull(schedule, "schedule");
        return render(schedule, -1, -1);
    }

    /**
     * The grid with {@code >} in the cell of rank {@code markRank}'s action {@code markIndex} (for a RECV or SEND, the
     * cell of its FORWARD), and a last line naming that action; {@code markIndex} may equal the list's size, its
     * end, as in a {@link ScheduleException} for a missing FORWARD.
     */
    public static String grid(Schedule schedule, int markRank, int markIndex) {
        Objects.requireNonNull(schedule, "schedule");
        if (markRank < 0 || markRank >= schedule.ranks()) {
            throw new IllegalArgumentException(
                    "markRank " + markRank + " is out of range; allowed: 0.." + (schedule.ranks() - 1));
        }
        int size = schedule.rank(markRank).size();
        if (markIndex < 0 || markIndex > size) {
            throw new IllegalArgumentException("markIndex " + markIndex + " is out of range; allowed: 0.." + size
                    + " (" + size + " is the end of rank " + markRank + "'s list)");
        }
        return render(schedule, markRank, markIndex);
    }

    private static String render(Schedule s, int markRank, int markIndex) {
        Timeline timeline = Timeline.run(s, UNIT);
        int slots = 0;
        for (int r = 0; r < s.ranks(); r++) {
            for (int i = 0; i < timeline.executed(r); i++) {
                if (s.rank(r).get(i).kind() == ActionKind.FORWARD) {
                    slots = Math.max(slots, (int) timeline.span(r, i).end());
                }
            }
        }
        boolean stuck = !timeline.finished();
        String[][] cells = new String[slots + (stuck ? 1 : 0)][s.ranks()];  // (rows, ranks)
        List<String> labels = new ArrayList<>();
        for (int t = 0; t < slots; t++) {
            labels.add(Integer.toString(t));
        }
        if (stuck) {
            labels.add("blocked");
        }
        for (int r = 0; r < s.ranks(); r++) {
            for (String[] row : cells) {
                row[r] = IDLE;
            }
            Map<Action, Integer> forwardRows = new HashMap<>();
            for (int i = 0; i < timeline.executed(r); i++) {
                Action a = s.rank(r).get(i);
                if (a.kind() == ActionKind.FORWARD) {
                    int row = (int) timeline.span(r, i).start();
                    cells[row][r] = a.toString();
                    forwardRows.putIfAbsent(a, row);
                } else if (a.kind().local() && forwardRows.containsKey(a.withKind(ActionKind.FORWARD))) {
                    cells[forwardRows.get(a.withKind(ActionKind.FORWARD))][r] += "+" + a.kind().code();
                }
            }
            if (timeline.blocked(r)) {
                cells[slots][r] = s.rank(r).get(timeline.executed(r)).toString();
            }
        }
        if (markRank >= 0) {
            int row = markRow(s, timeline, slots, markRank, markIndex);
            if (row >= 0) {
                cells[row][markRank] = MARK + cells[row][markRank];
            }
        }
        StringBuilder text = table(s.ranks(), labels, cells);
        if (markRank >= 0) {
            List<Action> list = s.rank(markRank);
            text.append(MARK).append(" rank ").append(markRank).append(", index ").append(markIndex).append(": ")
                    .append(markIndex < list.size() ? list.get(markIndex).toString() : "end of list").append('\n');
        }
        return text.toString();
    }

    /** The row of the marked action's cell, or -1 where it has none. */
    private static int markRow(Schedule s, Timeline timeline, int slots, int rank, int index) {
        int executed = timeline.executed(rank);
        if (index >= executed) {
            return timeline.blocked(rank) ? slots : -1;
        }
        List<Action> list = s.rank(rank);
        Action forward = list.get(index).withKind(ActionKind.FORWARD);
        int nearest = -1;
        for (int i = 0; i < executed; i++) {
            if (list.get(i).equals(forward) && (nearest < 0 || Math.abs(i - index) < Math.abs(nearest - index))) {
                nearest = i;
            }
        }
        return nearest < 0 ? -1 : (int) timeline.span(rank, nearest).start();
    }

    private static StringBuilder table(int ranks, List<String> labels, String[][] cells) {
        int[] widths = new int[ranks + 1];
        widths[0] = "t".length();
        for (String label : labels) {
            widths[0] = Math.max(widths[0], label.length());
        }
        for (int r = 0; r < ranks; r++) {
            widths[r + 1] = ("rank " + r).length();
            for (String[] row : cells) {
                widths[r + 1] = Math.max(widths[r + 1], row[r].length());
            }
        }
        StringBuilder text = new StringBuilder();
        List<String> header = new ArrayList<>();
        header.add("t");
        for (int r = 0; r < ranks; r++) {
            header.add("rank " + r);
        }
        line(text, widths, header);
        for (int row = 0; row < cells.length; row++) {
            List<String> line = new ArrayList<>();
            line.add(labels.get(row));
            line.addAll(List.of(cells[row]));
            line(text, widths, line);
        }
        return text;
    }

    private static void line(StringBuilder text, int[] widths, List<String> columns) {
        StringBuilder line = new StringBuilder();
        for (int c = 0; c < columns.size(); c++) {
            if (c > 0) {
                line.append(GAP);
            }
            line.append(columns.get(c)).append(" ".repeat(widths[c] - columns.get(c).length()));
        }
        text.append(line.toString().stripTrailing()).append('\n');
    }
}
