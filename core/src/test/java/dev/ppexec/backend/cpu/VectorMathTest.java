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
}
