package dev.ppexec.dist;

import dev.ppexec.runtime.RankFigures;
import dev.ppexec.runtime.RunResult;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * A run's results across the world: the last rank holds the tokens and each rank its own figures; rank 0 owns the
 * results, so the others hand theirs to it through the store.
 */
public final class Results {

    private static final String TOKENS = "result/tokens";
    private static final String FIGURES = "result/figures/";
    private static final String SPAN = "result/span/";

    /*
     * Note [world bubble]
     * Ranks in separate processes have separate clocks, so the world's measured bubble is taken over one common
     * pipeline span: from the first forward's device start to the last forward's device end across all ranks, each
     * rank's times moved onto rank 0's clock by its measured offset (Note [clock offset] in ClockOffset), as the
     * in-process run takes it over its ranks' shared clock. The span's error is within the offsets' round trips.
     */

    private Results() {
    }

    /**
     * Rank 0: waits (up to {@code waitMillis}, or until the world aborts) for the tokens and every rank's figures
     * and pipeline span and returns the world's result, its bubble over the common span (Note [world bubble]).
     * Other ranks: hands their part to rank 0 and returns null.
     */
    public static RunResult gather(World world, RunResult local, ForwardSpan span, long waitMillis) {
        long[] mine = span.onRankZerosClock(world.clockOffsetNanos());
        LaunchContract c = world.contract();
        int last = c.worldSize() - 1;
        if (c.rank() == last) {
            world.set(TOKENS, encodeTokens(local.tokens()));
        }
        if (!c.isMaster()) {
            world.set(FIGURES + c.rank(), encodeFigures(local.ranks().getFirst()));
            world.set(SPAN + c.rank(), Wire.encode(mine[0], mine[1]));
            return null;
        }
        int[][] tokens = decodeTokens(world.get(TOKENS, waitMillis));
        List<RankFigures> figures = new ArrayList<>(local.ranks());
        List<long[]> spans = new ArrayList<>(List.of(mine));
        for (int r = 1; r < c.worldSize(); r++) {
            figures.add(decodeFigures(world.get(FIGURES + r, waitMillis)));
            spans.add(decodeSpan(world.get(SPAN + r, waitMillis)));
        }
        figures.sort(Comparator.comparingInt(RankFigures::rank));
        long spanNanos = commonSpanNanos(spans);
        return new RunResult(tokens, local.wallNanos(), List.copyOf(figures), bubble(figures, spanNanos),
                local.idealBubble(), spanNanos);
    }

    /** Note [world bubble]: from the earliest first start to the latest last end of {first, last} pairs. */
    static long commonSpanNanos(List<long[]> spans) {
        long first = Long.MAX_VALUE;
        long last = Long.MIN_VALUE;
        for (long[] s : spans) {
            first = Math.min(first, s[0]);
            last = Math.max(last, s[1]);
        }
        return last - first;
    }

    /** 1 - the ranks' device busy time over (ranks x span), never below 0. */
    static double bubble(List<RankFigures> figures, long spanNanos) {
        long busy = figures.stream().mapToLong(RankFigures::deviceBusyNanos).sum();
        return spanNanos <= 0 ? 0 : Math.max(0, 1 - (double) busy / ((double) figures.size() * spanNanos));
    }

    private static long[] decodeSpan(byte[] bytes) {
        try (DataInputStream in = Wire.decode(bytes)) {
            return new long[] {in.readLong(), in.readLong()};
        } catch (IOException e) {
            throw new UncheckedIOException("a rank's pipeline span is malformed", e);
        }
    }

    static byte[] encodeTokens(int[][] tokens) {
        List<Object> fields = new ArrayList<>();
        fields.add(tokens.length);
        for (int[] row : tokens) {
            fields.add(row.length);
            for (int t : row) {
                fields.add(t);
            }
        }
        return Wire.encode(fields.toArray());
    }

    static int[][] decodeTokens(byte[] bytes) {
        try (DataInputStream in = Wire.decode(bytes)) {
            int[][] tokens = new int[in.readInt()][];
            for (int i = 0; i < tokens.length; i++) {
                tokens[i] = new int[in.readInt()];
                for (int j = 0; j < tokens[i].length; j++) {
                    tokens[i][j] = in.readInt();
                }
            }
            return tokens;
        } catch (IOException e) {
            throw new UncheckedIOException("the last rank's tokens are malformed", e);
        }
    }

    static byte[] encodeFigures(RankFigures f) {
        return Wire.encode(f.rank(), f.device(), f.layers(), f.forwards(), f.cpuLaunchNanos(), f.deviceBusyNanos(),
                f.deviceSpanNanos(), f.launchLatencyNanos());
    }

    static RankFigures decodeFigures(byte[] bytes) {
        try (DataInputStream in = Wire.decode(bytes)) {
            return new RankFigures(in.readInt(), in.readUTF(), in.readInt(), in.readInt(), in.readLong(), in.readLong(),
                    in.readLong(), in.readLong());
        } catch (IOException e) {
            throw new UncheckedIOException("a rank's figures are malformed", e);
        }
    }
}
