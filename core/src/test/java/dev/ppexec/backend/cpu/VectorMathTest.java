package dev.ppexec.backend.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

/** The vector helpers against their scalar definitions, bit for bit, at lengths that leave tails. */
class VectorMathTest {

    private static final int[] LENGTHS = {1, 7, 8, 15, 16, 17, 64, 70, 513};

    private static float[] random(Random rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = rnd.nextFloat() * 4f - 2f;
        }
        return a;
    }

    @Test
    void scaleMul_isTheScalarProductBitForBit() {
        Random rnd = new Random(7);
        for (int n : LENGTHS) {
            float[] x = random(rnd, n + 3);
            float[] w = random(rnd, n);
            float[] out = new float[n + 5];
            VectorMath.scaleMul(x, 3, 0.37f, w, out, 5, n);
            for (int i = 0; i < n; i++) {
                assertThat(Float.floatToRawIntBits(out[5 + i])).as("n=%d i=%d", n, i)
                        .isEqualTo(Float.floatToRawIntBits(x[3 + i] * 0.37f * w[i]));
            }
            assertThat(out[4]).as("before the output range").isZero();
        }
    }

    @Test
    void addInPlace_isTheScalarSumBitForBit() {
        Random rnd = new Random(8);
        for (int n : LENGTHS) {
            float[] x = random(rnd, n + 2);
            float[] d = random(rnd, n + 2);
            float[] expected = x.clone();
            for (int i = 0; i < n; i++) {
                expected[i] += d[i];
            }
            VectorMath.addInPlace(x, d, n);
            assertThat(x).as("n=%d (the last two elements untouched)", n).containsExactly(expected);
        }
    }

    @Test
    void sumLanes_addsPairwiseInOneFixedOrder_andDotUsesIt() {
        int lanes = FloatVector.SPECIES_PREFERRED.length();
        float[] values = new float[lanes];
        for (int i = 0; i < lanes; i++) {
            values[i] = (i % 3 == 0 ? 1e7f : 1f) + i * 0.1f; // big and small terms: any other order rounds differently
        }
        float[] tree = values.clone();
        for (int half = lanes / 2; half > 0; half /= 2) {
            for (int i = 0; i < half; i++) {
                tree[i] += tree[i + half];
            }
        }
        float expected = tree[0];
        for (int repeat = 0; repeat < 20_000; repeat++) { // interpreted, then compiled: the same bits
            float sum = VectorMath.sumLanes(FloatVector.fromArray(FloatVector.SPECIES_PREFERRED, values, 0));
            assertThat(Float.floatToRawIntBits(sum)).as("repeat %d", repeat).isEqualTo(Float.floatToRawIntBits(expected));
        }
        float[] ones = new float[lanes];
        java.util.Arrays.fill(ones, 1f);
        assertThat(VectorMath.dot(values, 0, ones, 0, lanes)).isEqualTo(expected);
    }

    @Test
    void exp_isWithin2UlpOfMathExp_andEveryLaneEqualsTheScalarBits() {
        int lanes = FloatVector.SPECIES_PREFERRED.length();
        float[] xs = new float[lanes];
        float worstUlps = 0;
        int checked = 0;
        for (float x = -87f; x <= 88f; x += 0.0137f) {
            float e = VectorMath.exp(x);
            float ref = (float) Math.exp(x);
            float ulps = Math.abs(e - ref) / Math.ulp(ref);
            if (!(ulps <= 2f)) {
                org.assertj.core.api.Assertions.fail("exp(%s) = %s, Math.exp %s: %s ulp > 2", x, e, ref, ulps);
            }
            worstUlps = Math.max(worstUlps, ulps);
            xs[checked % lanes] = x;
            if (++checked % lanes == 0) {
                float[] out = new float[lanes];
                VectorMath.exp(FloatVector.fromArray(FloatVector.SPECIES_PREFERRED, xs, 0)).intoArray(out, 0);
                for (int i = 0; i < lanes; i++) {
                    assertThat(Float.floatToRawIntBits(out[i])).as("lane %d, x = %s", i, xs[i])
                            .isEqualTo(Float.floatToRawIntBits(VectorMath.exp(xs[i])));
                }
            }
        }
        assertThat(checked).isGreaterThan(10_000);
        assertThat(VectorMath.exp(0f)).isEqualTo(1f);
        assertThat(VectorMath.exp(-1000f)).as("clamped below").isEqualTo(VectorMath.exp(-87f)).isPositive();
        assertThat(VectorMath.exp(1000f)).as("clamped above").isEqualTo(VectorMath.exp(88f)).isFinite();
    }

    @Test
    void siluMul_givesEachElementTheSameBits_inAVectorLaneOrInTheTail() {
        Random rnd = new Random(9);
        float[] a = random(rnd, 515);
        for (int i = 0; i < a.length; i++) {
            a[i] *= 20f; // [-40, 40): both tails of the sigmoid
        }
        float[] b = random(rnd, 515);
        float[] expected = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            expected[i] = a[i] / (1f + VectorMath.exp(-a[i])) * b[i];
        }
        for (int n : LENGTHS) {
            float[] x = a.clone();
            VectorMath.siluMul(x, b, n);
            for (int i = 0; i < n; i++) {
                assertThat(Float.floatToRawIntBits(x[i])).as("n=%d i=%d", n, i).isEqualTo(Float.floatToRawIntBits(expected[i]));
            }
            assertThat(x[n]).as("past n").isEqualTo(a[n]);
        }
    }
}
