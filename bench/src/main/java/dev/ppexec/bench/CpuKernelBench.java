package dev.ppexec.bench;

import dev.ppexec.backend.Buffer;
import dev.ppexec.backend.Launch;
import dev.ppexec.backend.cpu.CpuDevice;
import dev.ppexec.backend.cpu.CpuKernels;
import dev.ppexec.model.ModelConfig;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * The CPU backend's kernels other than matmul, one launch per operation on the calling thread (no stream), at
 * {@code toy}'s widths (dim 512, 8 heads of 64, ffn 2048) for {@code rows} rows: 16 is a decode step of 16
 * requests, 512 a prefill of 16 × 32. None of them does more than a few flops per element, so each reports,
 * beside its operations per second, {@code bytes}: the bytes per second it moves, counting every element it
 * must read and write once (a kernel whose figure sits near the machine's cache or memory bandwidth is
 * memory-bound; see docs/BENCHMARKS.md). Attention is timed for a decode step of 16 requests at position 63
 * (64 cached positions), whatever {@code rows}.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
@Warmup(iterations = 3, time = 1, timeUnit = TimeUnit.SECONDS)
@Measurement(iterations = 5, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@State(Scope.Thread)
public class CpuKernelBench {

    private static final ModelConfig TOY = ModelConfig.preset("toy", 42);
    private static final int POSITION = 63;
    /** Attention is timed for a decode step of this many requests, whatever {@code rows}. */
    private static final int DECODE_REQUESTS = 16;

    /** Rows per launch: 16 (decode of 16 requests) or 512 (prefill of 16 × 32). */
    @Param({"16", "512"})
    public int rows;

    /** Bytes moved, reported by JMH as a rate (bytes/s). */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Traffic {
        public long bytes;

        @Setup(Level.Iteration)
        public void reset() {
            bytes = 0;
        }
    }

    private CpuDevice device;
    private Launch rmsnorm;
    private Launch add;
    private Launch siluMul;
    private Launch rope;
    private Launch attention;
    private long rmsnormBytes;
    private long addBytes;
    private long siluBytes;
    private long ropeBytes;
    private long attentionBytes;

    @Setup(Level.Trial)
    public void setup() {
        int dim = TOY.dim();
        int ffn = TOY.ffn();
        int heads = TOY.heads();
        int headDim = dim / heads;
        device = new CpuDevice();
        CpuKernels k = (CpuKernels) device.kernels();
        Random random = new Random(42);
        Buffer x = device.upload(uniform(random, rows * dim));
        Buffer out = device.upload(uniform(random, rows * dim));
        Buffer weight = device.upload(uniform(random, dim));
        Buffer a = device.upload(uniform(random, rows * ffn));
        Buffer b = device.upload(uniform(random, rows * ffn));
        rmsnorm = k.rmsnorm("bench", x, weight, out, rows, dim, 1e-5f);
        rmsnormBytes = (2L * rows * dim + dim) * Float.BYTES;
        add = k.add("bench", x, out, rows, dim);
        addBytes = 3L * rows * dim * Float.BYTES;
        siluMul = k.siluMul("bench", a, b, rows, ffn);
        siluBytes = 3L * rows * ffn * Float.BYTES;
        rope = k.rope("bench", x, rows, heads, headDim, 10000.0, POSITION + 1);
        ropeBytes = 2L * rows * dim * Float.BYTES;
        int capacity = POSITION + 1;
        Buffer kCache = device.upload(uniform(random, DECODE_REQUESTS * capacity * dim));
        Buffer vCache = device.upload(uniform(random, DECODE_REQUESTS * capacity * dim));
        attention = k.attention("bench", x, kCache, vCache, out, DECODE_REQUESTS, heads, headDim, capacity);
        attentionBytes = (2L * DECODE_REQUESTS * capacity * dim + 2L * DECODE_REQUESTS * dim) * Float.BYTES;
    }

    @TearDown(Level.Trial)
    public void close() {
        device.close();
    }

    private static float[] uniform(Random random, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = random.nextFloat() * 2f - 1f;
        }
        return v;
    }

    /** One launch on this thread, counting its bytes. */
    private static void run(Launch launch, int startPos, long bytes, Traffic traffic) {
        CpuKernels.runOnCallingThread(launch, 1, startPos);
        traffic.bytes += bytes;
    }

    /** rmsnorm of {@code rows} × 512. */
    @Benchmark
    public void rmsnorm(Traffic traffic) {
        run(rmsnorm, 0, rmsnormBytes, traffic);
    }

    /** The residual add, {@code rows} × 512. */
    @Benchmark
    public void add(Traffic traffic) {
        run(add, 0, addBytes, traffic);
    }

    /** silu(a) ⊙ b, {@code rows} × 2048. */
    @Benchmark
    public void siluMul(Traffic traffic) {
        run(siluMul, 0, siluBytes, traffic);
    }

    /** RoPE on {@code rows} × 512 at one position each (tables built in the first call). */
    @Benchmark
    public void rope(Traffic traffic) {
        run(rope, POSITION, ropeBytes, traffic);
    }

    /** Decode attention of 16 requests over 64 cached positions. */
    @Benchmark
    public void attention(Traffic traffic) {
        run(attention, POSITION, attentionBytes, traffic);
    }
}
