package dev.ppexec.sweep;

import dev.ppexec.io.PngFile;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A small line chart drawn with Java2D: x on a log2 axis (micro-batches), y linear from 0, one
 * coloured line per series, dashed lines for reference series, a legend. Enough for the sweep's
 * plots, with no plotting library to ship.
 */
final class LinePlot {

    record Series(String label, List<double[]> points, boolean dashed, int colour) {}

    private static final Color[] PALETTE = {
            new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c), new Color(0x9467bd), new Color(0xff7f0e)};
    private static final int WIDTH = 800;
    private static final int HEIGHT = 500;
    private static final int LEFT = 80;
    private static final int RIGHT = 200;
    private static final int TOP = 50;
    private static final int BOTTOM = 60;

    private final String title;
    private final String xLabel;
    private final String yLabel;
    private final List<Series> series = new ArrayList<>();

    LinePlot(String title, String xLabel, String yLabel) {
        this.title = title;
        this.xLabel = xLabel;
        this.yLabel = yLabel;
    }

    LinePlot add(Series s) {
        series.add(s);
        return this;
    }

    void write(Path png) throws IOException {
        BufferedImage img = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        try {
            draw(g);
        } finally {
            g.dispose();
        }
        PngFile.write(png, img);
    }

    private void draw(Graphics2D g) {
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, WIDTH, HEIGHT);
        double xMin = Double.MAX_VALUE;
        double xMax = -Double.MAX_VALUE;
        double yMax = 0;
        for (Series s : series) {
            for (double[] p : s.points()) {
                xMin = Math.min(xMin, log2(p[0]));
                xMax = Math.max(xMax, log2(p[0]));
                yMax = Math.max(yMax, p[1]);
            }
        }
        if (xMax <= xMin) {
            xMax = xMin + 1;
        }
        yMax = niceCeiling(yMax);
        int plotW = WIDTH - LEFT - RIGHT;
        int plotH = HEIGHT - TOP - BOTTOM;

        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
        g.drawString(title, LEFT, TOP - 20);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        for (int i = 0; i <= 5; i++) {
            double y = yMax * i / 5;
            int py = TOP + plotH - (int) Math.round(plotH * i / 5.0);
            g.setColor(new Color(0xdddddd));
            g.drawLine(LEFT, py, LEFT + plotW, py);
            g.setColor(Color.BLACK);
            String label = yMax <= 1.0 ? String.format(Locale.ROOT, "%.0f%%", y * 100) : String.format(Locale.ROOT, "%.0f", y);
            g.drawString(label, LEFT - 8 - g.getFontMetrics().stringWidth(label), py + 4);
        }
        for (int e = (int) Math.floor(xMin); e <= (int) Math.ceil(xMax); e++) {
            int px = LEFT + (int) Math.round(plotW * (e - xMin) / (xMax - xMin));
            String label = Integer.toString(1 << e);
            g.drawLine(px, TOP + plotH, px, TOP + plotH + 5);
            g.drawString(label, px - g.getFontMetrics().stringWidth(label) / 2, TOP + plotH + 20);
        }
        g.drawRect(LEFT, TOP, plotW, plotH);
        g.drawString(xLabel, LEFT + plotW / 2 - g.getFontMetrics().stringWidth(xLabel) / 2, HEIGHT - 15);
        g.rotate(-Math.PI / 2);
        g.drawString(yLabel, -(TOP + plotH / 2 + g.getFontMetrics().stringWidth(yLabel) / 2), 20);
        g.rotate(Math.PI / 2);

        int legendY = TOP + 10;
        for (Series s : series) {
            Color c = PALETTE[s.colour() % PALETTE.length];
            g.setColor(c);
            g.setStroke(s.dashed()
                    ? new BasicStroke(2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[]{6f, 5f}, 0f)
                    : new BasicStroke(2.5f));
            int[] xs = new int[s.points().size()];
            int[] ys = new int[s.points().size()];
            for (int i = 0; i < xs.length; i++) {
                double[] p = s.points().get(i);
                xs[i] = LEFT + (int) Math.round(plotW * (log2(p[0]) - xMin) / (xMax - xMin));
                ys[i] = TOP + plotH - (int) Math.round(plotH * p[1] / yMax);
            }
            g.drawPolyline(xs, ys, xs.length);
            for (int i = 0; i < xs.length && !s.dashed(); i++) {
                g.fillOval(xs[i] - 4, ys[i] - 4, 8, 8);
            }
            g.drawLine(LEFT + plotW + 15, legendY, LEFT + plotW + 45, legendY);
            g.setColor(Color.BLACK);
            g.drawString(s.label(), LEFT + plotW + 52, legendY + 4);
            legendY += 20;
        }
    }

    private static double log2(double x) {
        return Math.log(x) / Math.log(2);
    }

    /** 1, 2 or 5 times a power of ten, at least {@code v}; 1 for fractions (shares). */
    private static double niceCeiling(double v) {
        if (v <= 0) {
            return 1;
        }
        if (v <= 1) {
            return 1;
        }
        double p = Math.pow(10, Math.floor(Math.log10(v)));
        for (double f : new double[]{1, 2, 5, 10}) {
            if (f * p >= v) {
                return f * p;
            }
        }
        return 10 * p;
    }
}
