package dev.ppexec.bench;

import dev.ppexec.trace.RequestTrace;
import dev.ppexec.trace.TraceLevel;
import dev.ppexec.trace.TraceStage;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

import java.util.concurrent.TimeUnit;

import static dev.ppexec.trace.RequestTrace.Edge.START;

/**
 * What the batch helper costs a caller per micro-batch: with tracing off (level 0) and for a stage
 * above the level it must be one comparison, no allocation (gc.alloc.rate.norm = 0 B/op under
 * {@code -prof gc}) and no clock read (times are arguments); {@code baseline} passes the same
 * arguments to nothing, {@code levelFourStart} records a start for two requests, for scale.
 *
 * <pre>java -jar bench/target/ppexec-bench.jar TracingBench -prof gc</pre>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Thread)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class TracingBench {

    private int[] members;
    private RequestTrace off;
    private RequestTrace levelThree;
    private RequestTrace levelFour;
    private long hostNanos;
    private int microBatch;
    private int step;

    @Setup
    public void setUp() {
        members = new int[] {4, 5};
        off = new RequestTrace(TraceLevel.OFF, 8, 2);
        levelThree = new RequestTrace(new TraceLevel(3), 8, 2);
        levelFour = new RequestTrace(TraceLevel.ALL, 8, 2);
        hostNanos = 123_456_789L;
        microBatch = 2;
        step = 3;
    }

    @Benchmark
    public void baseline(Blackhole bh) {
        bh.consume(members);
        bh.consume(hostNanos);
        bh.consume(microBatch);
        bh.consume(step);
    }

    @Benchmark
    public void tracingOff(Blackhole bh) {
        off.setTimeBatch(members, 1, TraceStage.RUN_BATCH_CPU, START, hostNanos, microBatch, step);
        bh.consume(off);
    }

    @Benchmark
    public void stageAboveLevel(Blackhole bh) {
        levelThree.setTimeBatch(members, 1, TraceStage.RUN_BATCH_CPU, START, hostNanos, microBatch, step);
        bh.consume(levelThree);
    }

    @Benchmark
    public void levelFourStart(Blackhole bh) {
        levelFour.setTimeBatch(members, 1, TraceStage.RUN_BATCH_CPU, START, hostNanos, microBatch, step);
        bh.consume(levelFour);
    }
}
