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

    private Results() {
    }

    /**
     * Rank 0: waits (up to {@code waitMillis}, or until the world aborts) for the tokens and every rank's figures
     * and returns the world's result. The bubble is measured over rank 0's wall time, since ranks in separate
     * processes share no clock yet. Other ranks: hands their part to rank 0 and returns null.
     */
    public static RunResult gather(World world, RunResult local, long waitMillis) {
        LaunchContract c = world.contract();
        int last = c.worldSize() - 1;
        if (c.rank() == last) {
            world.set(TOKENS, encodeTokens(local.tokens()));
        }
        if (!c.isMaster()) {
            world.set(FIGURES + c.rank(), encodeFigures(local.ranks().getFirst()));
            return null;
        }
        int[][] tokens = decodeTokens(world.get(TOKENS, waitMillis));
        List<RankFigures> figures = new ArrayList<>(local.ranks());
        for (int r = 1; r < c.worldSize(); r++) {
            figures.add(decodeFigures(world.get(FIGURES + r, waitMillis)));
        }
        figures.sort(Comparator.comparingInt(RankFigures::rank));
        long busy = figures.stream().mapToLong(RankFigures::deviceBusyNanos).sum();
        double bubble = local.wallNanos() <= 0 ? 0 : Math.max(0, 1 - (double) busy / ((double) c.worldSize() * local.wallNanos()));
        return new RunResult(tokens, local.wallNanos(), List.copyOf(figures), bubble, local.idealBubble(),
                local.wallNanos());
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
