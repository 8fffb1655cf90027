package dev.ppexec.sweep;

import java.util.List;

/** Order statistics of repeated measurements. */
public final class Stats {

    private Stats() {}

    /** The median; the mean of the middle two for an even count; NaN for none. */
    public static double median(List<Double> values) {
        if (values.isEmpty()) {
            return Double.NaN;
        }
        double[] v = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        int mid = v.length / 2;
        return v.length % 2 == 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
    }

    /** Index of the value closest to the median (the "median run" whose details are reported). */
    static int medianIndex(List<Double> values) {
        double m = median(values);
        int best = 0;
        for (int i = 1; i < values.size(); i++) {
            if (Math.abs(values.get(i) - m) < Math.abs(values.get(best) - m)) {
                best = i;
            }
        }
        return best;
    }
}
