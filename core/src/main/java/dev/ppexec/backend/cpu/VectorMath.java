package dev.ppexec.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Dot and axpy with the Vector API. The reduction order depends only on the length, never on the
 * batch, so results are the same whichever micro-batch a row runs in.
 *
 * <p>Not {@code reduceLanes(ADD)}: its order is left to the implementation, and HotSpot's compiled
 * reduction and the interpreter's differ, so one dot gave different bits before and after the JIT compiled
 * it (seen as different logits for the same run twice in one JVM). {@link #sumLanes} fixes the order.
 *
 * <p><b>Note [vector api warm-up].</b> Only C2 turns these methods (and MatMul's tiles) into vector instructions
 * with no objects: the interpreter and C1 run the Vector API as plain Java, and every vector an operation returns is
 * a new object with its own lane array. Until C2 has compiled a kernel, a forward allocates megabytes (the first
 * 200 decode forwards at toy's widths, 2 rows, 614–773 MB in SteadyStateAllocationTest); afterwards nothing (the same
 * test's later rounds). A short run spends its first second or so in that phase, with young GCs and the
 * compiler threads beside the kernels: `run --warmup` (default 1) keeps it out of the timed run. Keep each kernel a
 * small static method over the static final species, with the scalar tail apart, so that C2 compiles it
 * stand-alone and inlines it where it is called.
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

    // ---- exp for silu: Note [deterministic exp]. The Vector API's EXP is one approximation compiled (an
    // intrinsic stub) and another interpreted (Math.exp per lane), so its bits change when the JIT compiles the
    // kernel. This one uses only lane-wise IEEE operations (fma, add, mul, bit moves), which give the same bits
    // interpreted, compiled, in a vector lane or in the scalar tail: exp(x) = 2^n · p(r), n = round(x·log2 e),
    // r = x − n·ln 2 (in two fma steps, ln 2 split hi + lo), p the degree-7 Taylor polynomial of e^r on
    // |r| <= ln2/2 (error below 2 ulp of Math.exp over [-87, 88], VectorMathTest). x is clamped to [-87, 88]
    // so that 2^n stays a normal float: exp(-87) = 1.6e-38 stands in for anything smaller, exp(88) = 1.7e38
    // for anything larger.

    private static final float EXP_MIN = -87f;
    private static final float EXP_MAX = 88f;
    private static final float LOG2E = 1.44269504f;
    /** 1.5·2^23: adding it rounds to an integer (ties to even) in the low mantissa bits. */
    private static final float ROUNDER = 12582912f;
    private static final float LN2_HI = 0.693145752f;
    private static final float LN2_LO = 1.42860677e-6f;
    private static final float C7 = 1f / 5040f;
    private static final float C6 = 1f / 720f;
    private static final float C5 = 1f / 120f;
    private static final float C4 = 1f / 24f;
    private static final float C3 = 1f / 6f;
    private static final float C2 = 0.5f;

    /** e^x, Note [deterministic exp]; the same bits as each lane of {@link #exp(FloatVector)}. */
    static float exp(float x) {
        float c = Math.min(Math.max(x, EXP_MIN), EXP_MAX);
        float t = Math.fma(c, LOG2E, ROUNDER);
        float n = t - ROUNDER;
        float r = Math.fma(n, -LN2_HI, c);
        r = Math.fma(n, -LN2_LO, r);
        float p = Math.fma(r, C7, C6);
        p = Math.fma(p, r, C5);
        p = Math.fma(p, r, C4);
        p = Math.fma(p, r, C3);
        p = Math.fma(p, r, C2);
        p = Math.fma(p, r, 1f);
        p = Math.fma(p, r, 1f);
        int scaleBits = (Float.floatToRawIntBits(t) - (Float.floatToRawIntBits(ROUNDER) - 127)) << 23;
        return p * Float.intBitsToFloat(scaleBits);
    }

    /** e^x lane by lane, Note [deterministic exp]. */
    static FloatVector exp(FloatVector x) {
        FloatVector c = x.max(EXP_MIN).min(EXP_MAX);
        FloatVector t = c.fma(LOG2E, ROUNDER);
        FloatVector n = t.sub(ROUNDER);
        FloatVector r = n.fma(FloatVector.broadcast(S, -LN2_HI), c);
        r = n.fma(FloatVector.broadcast(S, -LN2_LO), r);
        FloatVector p = r.fma(C7, C6);
        p = p.fma(r, FloatVector.broadcast(S, C5));
        p = p.fma(r, FloatVector.broadcast(S, C4));
        p = p.fma(r, FloatVector.broadcast(S, C3));
        p = p.fma(r, FloatVector.broadcast(S, C2));
        p = p.fma(r, FloatVector.broadcast(S, 1f));
        p = p.fma(r, FloatVector.broadcast(S, 1f));
        IntVector scaleBits = ((IntVector) t.reinterpretAsInts()).sub(Float.floatToRawIntBits(ROUNDER) - 127)
                .lanewise(VectorOperators.LSHL, 23);
        return p.mul((FloatVector) scaleBits.reinterpretAsFloats());
    }

    /** a[i] = silu(a[i])·b[i] = a[i] / (1 + e^(−a[i]))·b[i] for i in [0, n), with {@link #exp}. */
    static void siluMul(float[] a, float[] b, int n) {
        siluMul(a, 0, b, 0, a, 0, n);
    }

    /**
     * out[oi + i] = silu(a[ai + i])·b[bi + i] for i in [0, n): lane-wise, the same bits whichever offsets and lengths
     * cut the work (a vector lane and the scalar tail compute the same expression with {@link #exp}).
     */
    static void siluMul(float[] a, int ai, float[] b, int bi, float[] out, int oi, int n) {
        int i = 0;
        for (int upper = S.loopBound(n); i < upper; i += S.length()) {
            FloatVector v = FloatVector.fromArray(S, a, ai + i);
            v.div(exp(v.neg()).add(1f)).mul(FloatVector.fromArray(S, b, bi + i)).intoArray(out, oi + i);
        }
        for (; i < n; i++) {
            float v = a[ai + i];
            out[oi + i] = v / (1f + exp(-v)) * b[bi + i];
        }
    }
}
