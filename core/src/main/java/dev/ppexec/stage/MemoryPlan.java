package dev.ppexec.stage;

import dev.ppexec.model.ModelConfig;

import java.util.Locale;

/**
 * The bytes a run will allocate on its devices, computed from shapes alone so that a run too
 * large for the machine is refused before anything is allocated. Mirrors what
 * {@link StageWeights}, {@link Workspace} and {@link StageProgram} allocate (all fp32 or int32).
 * Sums saturate at {@link Long#MAX_VALUE}, so absurd shapes give "too large", never an overflow.
 *
 * @param weightBytes     every stage's weights together
 * @param kvCacheBytes    the K and V caches of every request and layer
 * @param activationBytes scratch per rank and the residual stream per micro-batch
 */
public record MemoryPlan(long weightBytes, long kvCacheBytes, long activationBytes) {

    private static final long FLOAT = Float.BYTES;

    /** The plan of {@code requests} requests of {@code promptLength + decodeSteps} positions in {@code microBatches} groups on {@code ranks} ranks. */
    public static MemoryPlan of(ModelConfig c, int ranks, int microBatches, int requests, int promptLength,
                                int decodeSteps) {
        long dim = c.dim();
        long perLayer = sum(mul(4, dim, dim), mul(3, dim, c.ffn()), mul(2, dim));
        long weights = mul(FLOAT, sum(mul(2, c.vocab(), dim), dim, mul(c.layers(), perLayer)));

        long positions = (long) promptLength + decodeSteps;
        long kv = mul(FLOAT, mul(2, c.layers(), mul(requests, positions, dim)));

        long maxBatch = ((long) requests + microBatches - 1) / microBatches; // a long before the sum: no int overflow
        long rows = mul(maxBatch, promptLength);
        long scratch = sum(mul(6, rows, dim), mul(3, rows, c.ffn())); // Workspace: h, qkv (3), q, att; upGate (2), up
        long lastRank = mul(maxBatch, sum(mul(2, dim), c.vocab()));
        long residual = mul(requests, promptLength, dim);
        long activations = mul(FLOAT, sum(mul(ranks, scratch), lastRank, residual));
        return new MemoryPlan(weights, kv, activations);
    }

    public long total() {
        return sum(weightBytes, kvCacheBytes, activationBytes);
    }

    /** {@code "2.31 GiB (weights 2.00 GiB, KV cache 0.25 GiB, activations 0.06 GiB)"}. */
    public String describe() {
        return gib(total()) + " (weights " + gib(weightBytes) + ", KV cache " + gib(kvCacheBytes) + ", activations "
                + gib(activationBytes) + ")";
    }

    /** Bytes as GiB with two decimals, or "more than 8 EiB" when the sum saturated. */
    public static String gib(long bytes) {
        if (bytes == Long.MAX_VALUE) {
            return "more than 8 EiB";
        }
        return String.format(Locale.ROOT, "%.2f GiB", bytes / (double) (1L << 30));
    }

    private static long mul(long... factors) {
        long p = 1;
        for (long f : factors) {
            if (f != 0 && Math.abs(p) > Long.MAX_VALUE / Math.abs(f)) {
                return Long.MAX_VALUE;
            }
            p *= f;
        }
        return p;
    }

    private static long sum(long... terms) {
        long s = 0;
        for (long t : terms) {
            s = t > Long.MAX_VALUE - s ? Long.MAX_VALUE : s + t;
        }
        return s;
    }
}
