package dev.ppexec.report;

import dev.ppexec.io.PngFile;
import dev.ppexec.otlp.RankKey;
import dev.ppexec.otlp.SliceTable;
import dev.ppexec.otlp.SpanKind;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Draws a report's level-4 slices as a PNG: one row group per rank, a CPU lane
 * ({@code run_batch_cpu}) and a lane per stream ({@code run_batch_device} solid,
 * {@code pp_send}/{@code pp_recv} pale and thinner), time in ms from the first slice, a colour
 * per micro-batch and its id inside every box wide enough to hold it.
 */
public final class TimelinePainter {

    private static final int WIDTH = 1600;
    private static final int LEFT = 200;
    private static final int RIGHT = 24;
    private static final int TOP = 78;
    private static final int LANE = 26;
    private static final int LANE_GAP = 4;
    private static final int RANK_GAP = 14;
    private static final int AXIS = 48;
    private static final Color[] PALETTE = {
            new Color(0x1f77b4), new Color(0xff7f0e), new Color(0x2ca02c), new Color(0xd62728), new Color(0x9467bd),
            new Color(0x8c564b), new Color(0xe377c2), new Color(0x7f7f7f), new Color(0xbcbd22), new Color(0x17becf)};

    /** One horizontal lane: a rank's CPU, or one of its streams. */
    private record Lane(RankKey rank, String label, boolean cpu) {}

    private TimelinePainter() {}

    /** The picture, to write with {@link PngFile} (see Note [output policy] in AtomicFile). */
    public static BufferedImage paint(TraceReport report, String title) {
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
        SliceTable t = report.slices();
        List<Lane> lanes = lanes(report, t);
        Map<Lane, Integer> laneIndex = new LinkedHashMap<>();
        for (Lane l : lanes) {
            laneIndex.put(l, laneIndex.size());
        }
        int[] laneY = new int[lanes.size()];
        int y = TOP;
        for (int i = 0; i < lanes.size(); i++) {
            if (i > 0 && !lanes.get(i).rank().equals(lanes.get(i - 1).rank())) {
                y += RANK_GAP;
            }
            laneY[i] = y;
            y += LANE + LANE_GAP;
        }
        int height = y + AXIS;
        long t0 = Long.MAX_VALUE;
        long t1 = Long.MIN_VALUE;
        for (int i = 0; i < t.size(); i++) {
            t0 = Math.min(t0, t.start(i));
            t1 = Math.max(t1, t.end(i));
        }
        double pxPerNano = t.size() == 0 ? 0 : (WIDTH - LEFT - RIGHT) / (double) Math.max(1, t1 - t0);

        BufferedImage image = new BufferedImage(WIDTH, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, WIDTH, height);
            header(g, report, title, t1 - t0);
            axis(g, t1 - t0, pxPerNano, TOP - 6, y);
            laneLabels(g, lanes, laneY);
            g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 11));
            for (int i = 0; i < t.size(); i++) {
                int lane = laneIndex.get(laneOf(t, i));
                box(g, t, i, LEFT + (t.start(i) - t0) * pxPerNano, LEFT + (t.end(i) - t0) * pxPerNano, laneY[lane]);
            }
        } finally {
            g.dispose();
        }
        return image;
    }

    /** Per rank (in the report's order): CPU first, then streams with device work, then the others, by name. */
    private static List<Lane> lanes(TraceReport report, SliceTable t) {
        Map<Lane, Boolean> compute = new HashMap<>();
        for (int i = 0; i < t.size(); i++) {
            compute.merge(laneOf(t, i), t.kind(i) == SpanKind.BATCH_DEVICE, Boolean::logicalOr);
        }
        List<RankKey> ranks = report.ranks().stream().map(TraceReport.RankStats::rank).toList();
        List<Lane> lanes = new ArrayList<>(compute.keySet());
        lanes.sort(Comparator.comparingInt((Lane l) -> ranks.indexOf(l.rank()))
                .thenComparing(l -> !l.cpu()).thenComparing(l -> !compute.get(l)).thenComparing(Lane::label));
        return lanes;
    }

    private static Lane laneOf(SliceTable t, int i) {
        SliceTable.Track track = t.track(t.trackId(i));
        return new Lane(track.process().rank(), track.label(), track.role() == SliceTable.Role.CPU);
    }

    private static void header(Graphics2D g, TraceReport report, String title, long spanNanos) {
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
        TraceReport.RunStats run = report.run();
        g.drawString(String.format(Locale.ROOT, "%s  -  %d rank(s), %.3f ms shown; bubble measured %s, ideal %s",
                title, report.ranks().size(), spanNanos / 1e6, TraceReport.percent(run.measuredBubble()), TraceReport.percent(run.idealBubble())),
                12, 22);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        int x = 12;
        g.drawString("micro-batch:", x, 46);
        x += 80;
        int shown = Math.min(PALETTE.length, Math.max(1, maxMicroBatch(report.slices()) + 1));
        for (int mb = 0; mb < shown; mb++) {
            g.setColor(PALETTE[mb]);
            g.fillRect(x, 35, 22, 14);
            g.setColor(textOn(PALETTE[mb]));
            g.drawString(Integer.toString(mb), x + 7, 46);
            x += 26;
        }
        g.setColor(Color.DARK_GRAY);
        String note = (maxMicroBatch(report.slices()) >= PALETTE.length ? "(colours repeat every 10)   " : "")
                + "solid: run_batch_cpu on the CPU lane, run_batch_device on stream lanes;  pale, thin: pp_send / pp_recv";
        g.drawString(note, x + 14, 46);
    }

    private static int maxMicroBatch(SliceTable t) {
        int max = -1;
        for (int i = 0; i < t.size(); i++) {
            max = Math.max(max, t.microBatch(i));
        }
        return max;
    }

    private static void axis(Graphics2D g, long spanNanos, double pxPerNano, int top, int bottom) {
        double spanMs = Math.max(spanNanos / 1e6, 1e-6);
        double magnitude = Math.pow(10, Math.floor(Math.log10(spanMs / 10)));
        double step = 10 * magnitude;
        for (double m : new double[] {1, 2, 5}) {
            if (m * magnitude >= spanMs / 10) {
                step = m * magnitude;
                break;
            }
        }
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        FontMetrics fm = g.getFontMetrics();
        int decimals = Math.max(0, (int) -Math.floor(Math.log10(step)));
        for (int k = 0; k * step <= spanMs + 1e-9; k++) {
            int x = (int) Math.round(LEFT + k * step * 1e6 * pxPerNano);
            g.setColor(new Color(0xe4e4e4));
            g.drawLine(x, top, x, bottom);
            g.setColor(Color.DARK_GRAY);
            String text = String.format(Locale.ROOT, "%." + decimals + "f", k * step);
            g.drawString(text, x - fm.stringWidth(text) / 2, bottom + 16);
        }
        g.drawString("time since the first slice (ms)", LEFT, bottom + 34);
    }

    private static void laneLabels(Graphics2D g, List<Lane> lanes, int[] laneY) {
        FontMetrics plain;
        for (int i = 0; i < lanes.size(); i++) {
            Lane lane = lanes.get(i);
            boolean first = i == 0 || !lanes.get(i - 1).rank().equals(lane.rank());
            g.setColor(new Color(0xf4f4f4));
            g.fillRect(LEFT, laneY[i], WIDTH - LEFT - RIGHT, LANE);
            g.setColor(Color.BLACK);
            if (first) {
                g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 13));
                g.drawString(lane.rank().label(), 10, laneY[i] + LANE / 2 + 5);
            }
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
            plain = g.getFontMetrics();
            String text = lane.cpu() ? "CPU" : lane.label();
            g.drawString(text, LEFT - 8 - plain.stringWidth(text), laneY[i] + LANE / 2 + 5);
        }
    }

    private static void box(Graphics2D g, SliceTable t, int i, double x0, double x1, int laneTop) {
        SpanKind kind = t.kind(i);
        boolean transfer = kind == SpanKind.PP_SEND || kind == SpanKind.PP_RECV;
        Color base = PALETTE[Math.floorMod(t.microBatch(i), PALETTE.length)];
        Color fill = transfer ? mix(base, Color.WHITE, 0.55) : base;
        int top = transfer ? laneTop + LANE / 4 : laneTop + 1;
        int h = transfer ? LANE / 2 : LANE - 2;
        int x = (int) Math.floor(x0);
        int w = Math.max(1, (int) Math.ceil(x1) - x);
        g.setColor(fill);
        g.fillRect(x, top, w, h);
        if (w >= 4) {
            g.setColor(base.darker());
            g.setStroke(new BasicStroke(1f));
            g.drawRect(x, top, w - 1, h - 1);
        }
        String id = Integer.toString(t.microBatch(i));
        FontMetrics fm = g.getFontMetrics();
        if (fm.stringWidth(id) + 4 <= w && fm.getAscent() <= h + 2) {
            g.setColor(textOn(fill));
            g.drawString(id, x + (w - fm.stringWidth(id)) / 2, top + (h + fm.getAscent()) / 2 - 1);
        }
    }

    private static Color mix(Color a, Color b, double share) {
        return new Color((int) (a.getRed() * (1 - share) + b.getRed() * share),
                (int) (a.getGreen() * (1 - share) + b.getGreen() * share),
                (int) (a.getBlue() * (1 - share) + b.getBlue() * share));
    }

    private static Color textOn(Color c) {
        double luminance = 0.299 * c.getRed() + 0.587 * c.getGreen() + 0.114 * c.getBlue();
        return luminance > 150 ? Color.BLACK : Color.WHITE;
    }

}
