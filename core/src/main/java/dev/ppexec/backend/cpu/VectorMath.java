package dev.ppexec.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Dot and axpy with the Vector API. The reduction order depends only on the length, never on the
 * batch, so results are the same whichever micro-batch a row runs in.
 *
 * <p>Not {@code reduceLanes(ADD)}: its order is left to the implementation, and HotSpot's compiled
 * reduction and the interpreter's differ, so one dot gave different bits before and after the JIT compiled
 * it (seen as different logits for the same run twice in one JVM). {@link #sumLanes} fixes the order.
 */
final class VectorMath {

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    private VectorMath() {}

    /** Σ a[ai + i]·b[bi + i] for i in [0, n). */
    static float dot(float[] a, int ai, float[] b, int bi, int n) {
        int i = 0;
        FloatVector acc = FloatVector.zero(S);
        for (int upper = S.loopBound(n); i < upper; i += S.length()) {
            acc = FloatVector.fromArray(S, a, ai + i).fma(FloatVector.fromArray(S, b, bi + i), acc);
        }
        float sum = sumLanes(acc);
        for (; i < n; i++) {
            sum = Math.fma(a[ai + i], b[bi + i], sum);
        }
        return sum;
    }

    /**
     * The sum of {@code v}'s lanes in one fixed pairwise order, the same bits interpreted or compiled: each
     * step adds the upper half onto the lower half (lane i += lane i + h, h = L/2, L/4, .., 1), lane-wise adds
     * whose result does not depend on how they run; lane 0 holds the sum.
     */
    static float sumLanes(FloatVector v) {
        for (int half = v.length() / 2; half > 0; half /= 2) {
            v = v.add(v.slice(half));
        }
        return v.lane(0);
    }

    /** y[yi + i] += alpha·x[xi + i] for i in [0, n). */
    static void axpy(float alpha, float[] x, int xi, float[] y, int yi, int n) {
        int i = 0;
        FloatVector va = FloatVector.broadcast(S, alpha);
        for (int upper = S.loopBound(n); i < upper; i += S.length()) {
            FloatVector.fromArray(S, x, xi + i).fma(va, FloatVector.fromArray(S, y, yi + i)).intoArray(y, yi + i);
        }
        for (; i < n; i++) {
            y[yi + i] = Math.fma(alpha, x[xi + i], y[yi + i]);
        }
    }

    /** out[oi + i] = (x[xi + i]·scale)·w[i] for i in [0, n): lane-wise, the same bits as the scalar loop. */
    static void scaleMul(float[] x, int xi, float scale, float[] w, float[] out, int oi, int n) {
        int i = 0;
        FloatVector vs = FloatVector.broadcast(S, scale);
        for (int upper = S.loopBound(n); i < upper; i += S.length()) {
            FloatVector.fromArray(S, x, xi + i).mul(vs).mul(FloatVector.fromArray(S, w, i)).intoArray(out, oi + i);
        }
        for (; i < n; i++) {
            out[oi + i] = x[xi + i] * scale * w[i];
        }
    }

    /** x[i] += d[i] for i in [0, n). */
    static void addInPlace(float[] x, float[] d, int n) {
        int i = 0;
        for (int upper = S.loopBound(n); i < upper; i += S.length()) {
            FloatVector.fromArray(S, x, i).add(FloatVector.fromArray(S, d, i)).intoArray(x, i);
        }
        for (; i < n; i++) {
            x[i] += d[i];
        }
    }
}
