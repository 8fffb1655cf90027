package dev.ppexec.perfetto;

import java.util.function.IntBinaryOperator;

/** A stable merge sort of int ids by a comparator over them: no boxing for a million slices. */
final class IndexSort {

    private IndexSort() {}

    /** Sorts ids in place; {@code compare} answers like {@link java.util.Comparator#compare}. */
    static void sort(int[] ids, IntBinaryOperator compare) {
        int[] buffer = new int[ids.length];
        int[] from = ids;
        int[] to = buffer;
        for (int width = 1; width < ids.length; width *= 2) {
            for (int lo = 0; lo < ids.length; lo += 2 * width) {
                int mid = Math.min(lo + width, ids.length);
                int hi = Math.min(lo + 2 * width, ids.length);
                int a = lo;
                int b = mid;
                for (int k = lo; k < hi; k++) {
                    to[k] = b >= hi || (a < mid && compare.applyAsInt(from[a], from[b]) <= 0) ? from[a++] : from[b++];
                }
            }
            int[] t = from;
            from = to;
            to = t;
        }
        if (from != ids) {
            System.arraycopy(from, 0, ids, 0, ids.length);
        }
    }
}
