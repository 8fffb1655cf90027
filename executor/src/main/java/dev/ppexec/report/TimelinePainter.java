package dev.ppexec.report;

import dev.ppexec.io.PngFile;
import dev.ppexec.io.Printable;
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
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Draws a report's level-4 slices as a PNG: one row group per rank, a CPU lane
 * ({@code run_batch_cpu}) and a lane per stream ({@code run_batch_device} solid,
 * {@code pp_send}/{@code pp_recv} pale and thinner), time in ms from the first slice, a colour
 * per micro-batch and its id inside every box wide enough to hold it.
 *
 * <p>Note [kernel lanes]: at level 5, a stream lane whose run_batch_device slices hold kernel slices gets a kernel
 * lane right below it, as Perfetto nests them one row under their parent: a colour per kernel (the {@code kernel}
 * attribute; the {@value #KERNEL_COLOURS} with the most time, the rest grey as "other"). A forward lasts a few
 * pixels at the picture's scale and its kernels far less than one, so the lane is drawn per pixel column: each
 * column is split from the top in proportion to the time each kernel takes inside it (slices thinner than a pixel
 * merge into their column's shares); a slice 4 pixels wide or more also gets an outline.
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

    private static final Color[] KERNEL_PALETTE = {
            // apart from the micro-batches' PALETTE, so that a kernel lane never reads as a micro-batch
            new Color(0x393b79), new Color(0x8ca252), new Color(0xbd9e39), new Color(0xad494a), new Color(0xa55194),
            new Color(0x6b6ecf), new Color(0x17becf).darker()};
    private static final int KERNEL_COLOURS = 7;
    private static final Color OTHER_KERNELS = new Color(0xbab0ac);
    /** The least width, in pixels, of a kernel slice that gets an outline. */
    private static final int OUTLINED_PX = 4;

    /** One horizontal lane: a rank's CPU, one of its streams, or the kernel lane under a stream (Note [kernel lanes]). */
    record Lane(RankKey rank, String label, boolean cpu, boolean kernels) {}

    /**
     * Where things go: the lanes top to bottom with their y, the time origin and scale, and each kernel's colour.
     *
     * @param kernelColours per kernel, its colour in the kernel lanes and the legend (the first {@value #KERNEL_COLOURS}
     *                      by time, then "other")
     */
    record Layout(List<Lane> lanes, int[] laneY, int height, long t0, long t1, double pxPerNano,
                  Map<String, Color> kernelColours) {

        /** The x of {@code nanos} (epoch ns). */
        double x(long nanos) {
            return LEFT + (nanos - t0) * pxPerNano;
        }

        int laneTop(Lane lane) {
            return laneY[lanes.indexOf(lane)];
        }
    }

    private TimelinePainter() {}

    /** The picture, to write with {@link PngFile} (see Note [output policy] in AtomicFile). */
    public static BufferedImage paint(TraceReport report, String title) {
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
        SliceTable t = report.slices();
        Layout layout = layout(report);
        Map<Lane, Integer> laneIndex = new LinkedHashMap<>();
        for (Lane l : layout.lanes()) {
            laneIndex.put(l, laneIndex.size());
        }
        int width = WIDTH;
        BufferedImage image = new BufferedImage(width, layout.height(), BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, width, layout.height());
            header(g, report, title, layout.t1() - layout.t0(), layout.kernelColours());
            int bottom = layout.height() - AXIS;
            axis(g, layout.t1() - layout.t0(), layout.pxPerNano(), TOP - 6, bottom);
            laneLabels(g, layout.lanes(), layout.laneY());
            g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 11));
            for (int i = 0; i < t.size(); i++) {
                int lane = laneIndex.get(laneOf(t, i));
                box(g, t, i, layout.x(t.start(i)), layout.x(t.end(i)), layout.laneY()[lane]);
            }
            kernelLanes(g, report, layout);
        } finally {
            g.dispose();
        }
        return image;
    }

    /** The picture's geometry (Note [kernel lanes] for the kernel lanes). */
    static Layout layout(TraceReport report) {
        SliceTable t = report.slices();
        List<Lane> lanes = lanes(report, t);
        int[] laneY = new int[lanes.size()];
        int y = TOP;
        for (int i = 0; i < lanes.size(); i++) {
            if (i > 0 && !lanes.get(i).rank().equals(lanes.get(i - 1).rank())) {
                y += RANK_GAP;
            }
            laneY[i] = y;
            y += LANE + LANE_GAP;
        }
        long t0 = Long.MAX_VALUE;
        long t1 = Long.MIN_VALUE;
        for (int i = 0; i < t.size(); i++) {
            t0 = Math.min(t0, t.start(i));
            t1 = Math.max(t1, t.end(i));
        }
        double pxPerNano = t.size() == 0 ? 0 : (WIDTH - LEFT - RIGHT) / (double) Math.max(1, t1 - t0);
        Map<String, Color> colours = new LinkedHashMap<>();
        List<String> byTime = report.kernels().kernelsByTime();
        for (int k = 0; k < byTime.size(); k++) {
            colours.put(byTime.get(k), k < KERNEL_COLOURS ? KERNEL_PALETTE[k] : OTHER_KERNELS);
        }
        return new Layout(lanes, laneY, y + AXIS, t0, t1, pxPerNano, colours);
    }

    /**
     * The stream lane of each forward ({@code [rank, micro-batch, step]}) that has a run_batch_device slice, to put its
     * kernel slices under.
     */
    private static Map<List<Object>, Lane> forwardLanes(SliceTable t) {
        Map<List<Object>, Lane> out = new HashMap<>();
        for (int i = 0; i < t.size(); i++) {
            if (t.kind(i) == SpanKind.BATCH_DEVICE) {
                Lane stream = laneOf(t, i);
                out.putIfAbsent(List.of(stream.rank(), t.microBatch(i), t.step(i)), stream);
            }
        }
        return out;
    }

    /** Note [kernel lanes]: per kernel lane, per pixel column, each kernel's time in it; then the stacked columns. */
    private static void kernelLanes(Graphics2D g, TraceReport report, Layout layout) {
        TimelineKernels k = report.kernels();
        if (k.size() == 0) {
            return;
        }
        Map<List<Object>, Lane> streams = forwardLanes(report.slices());
        List<String> kernels = new ArrayList<>(layout.kernelColours().keySet());
        Map<String, Integer> kernelIndex = new HashMap<>();
        for (String name : kernels) {
            kernelIndex.put(name, kernelIndex.size());
        }
        int columns = WIDTH - LEFT - RIGHT;
        Map<Lane, double[][]> cover = new LinkedHashMap<>(); // lane -> [column][kernel] pixels covered
        for (int i = 0; i < k.size(); i++) {
            Lane stream = streams.get(List.of(k.rank(i), k.microBatch(i), k.step(i)));
            if (stream == null) {
                continue;
            }
            Lane lane = new Lane(stream.rank(), stream.label(), false, true);
            double[][] c = cover.computeIfAbsent(lane, l -> new double[columns][kernels.size()]);
            int kernel = kernelIndex.get(k.kernel(i));
            double x0 = layout.x(k.start(i)) - LEFT;
            double x1 = layout.x(k.end(i)) - LEFT;
            for (int col = Math.max(0, (int) Math.floor(x0)); col < Math.min(columns, Math.ceil(x1)); col++) {
                c[col][kernel] += Math.min(x1, col + 1) - Math.max(x0, col);
            }
        }
        cover.forEach((lane, c) -> {
            int top = layout.laneTop(lane) + 1;
            int h = LANE - 2;
            for (int col = 0; col < columns; col++) {
                double total = 0;
                for (double v : c[col]) {
                    total += v;
                }
                if (total <= 0) {
                    continue;
                }
                double at = 0;
                for (int kernel = 0; kernel < kernels.size(); kernel++) {
                    if (c[col][kernel] <= 0) {
                        continue;
                    }
                    int y0 = (int) Math.round(at / total * h);
                    at += c[col][kernel];
                    int y1 = (int) Math.round(at / total * h);
                    g.setColor(layout.kernelColours().get(kernels.get(kernel)));
                    g.fillRect(LEFT + col, top + y0, 1, y1 - y0);
                }
            }
        });
        g.setStroke(new BasicStroke(1f));
        for (int i = 0; i < k.size(); i++) {
            Lane stream = streams.get(List.of(k.rank(i), k.microBatch(i), k.step(i)));
            int x = (int) Math.floor(layout.x(k.start(i)));
            int w = (int) Math.ceil(layout.x(k.end(i))) - x;
            if (stream != null && w >= OUTLINED_PX) {
                g.setColor(layout.kernelColours().get(k.kernel(i)).darker());
                g.drawRect(x, layout.laneTop(new Lane(stream.rank(), stream.label(), false, true)) + 1, w - 1, LANE - 3);
            }
        }
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
        TimelineKernels k = report.kernels();
        Map<List<Object>, Lane> streams = forwardLanes(t);
        Set<Lane> withKernels = new HashSet<>();
        for (int i = 0; i < k.size(); i++) {
            Lane stream = streams.get(List.of(k.rank(i), k.microBatch(i), k.step(i)));
            if (stream != null) {
                withKernels.add(stream);
            }
        }
        List<Lane> out = new ArrayList<>();
        for (Lane lane : lanes) {
            out.add(lane);
            if (withKernels.contains(lane)) {
                out.add(new Lane(lane.rank(), lane.label(), false, true));
            }
        }
        return out;
    }

    private static Lane laneOf(SliceTable t, int i) {
        SliceTable.Track track = t.track(t.trackId(i));
        return new Lane(track.process().rank(), track.label(), track.role() == SliceTable.Role.CPU, false);
    }

    private static void header(Graphics2D g, TraceReport report, String title, long spanNanos,
                               Map<String, Color> kernelColours) {
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
        if (!kernelColours.isEmpty()) {
            kernelLegend(g, kernelColours);
        }
    }

    /** The kernel lanes' colours (Note [kernel lanes]), on the line under the micro-batches'. */
    private static void kernelLegend(Graphics2D g, Map<String, Color> kernelColours) {
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        FontMetrics fm = g.getFontMetrics();
        g.setColor(Color.DARK_GRAY);
        g.drawString("kernels (level 5):", 12, 66);
        int x = 12 + fm.stringWidth("kernels (level 5):") + 8;
        List<String> shown = new ArrayList<>();
        kernelColours.forEach((name, colour) -> {
            if (colour != OTHER_KERNELS) {
                shown.add(name);
            }
        });
        if (shown.size() < kernelColours.size()) {
            shown.add("other");
        }
        for (String name : shown) {
            String text = Printable.text(name);
            g.setColor(name.equals("other") && !kernelColours.containsKey("other") ? OTHER_KERNELS : kernelColours.get(name));
            g.fillRect(x, 55, 14, 14);
            g.setColor(Color.DARK_GRAY);
            g.drawString(text, x + 18, 66);
            x += 18 + fm.stringWidth(text) + 12;
        }
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
            String text = lane.cpu() ? "CPU" : lane.kernels() ? "kernels" : lane.label();
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
