package dev.ppexec.report;

import dev.ppexec.otlp.RankKey;
import dev.ppexec.otlp.SpanRecord;
import dev.ppexec.trace.SpanContract;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Level 5's kernel slices of a trace, held compactly for the timeline ({@link TimelinePainter}): per slice its rank,
 * micro-batch, step, start and end, and its kernel (the {@code kernel} attribute: {@code matmul},
 * {@code attention}, ... as the backends name their launches).
 */
final class TimelineKernels {

    private final List<RankKey> rankIds = new ArrayList<>();
    private final Map<RankKey, Integer> rankIndex = new HashMap<>();
    private final List<String> kernelIds = new ArrayList<>();
    private final Map<String, Integer> kernelIndex = new HashMap<>();
    private int size;
    private long[] start = new long[256];
    private long[] end = new long[256];
    private int[] rank = new int[256];
    private int[] microBatch = new int[256];
    private int[] step = new int[256];
    private int[] kernel = new int[256];

    /** Adds a kernel slice (SpanKind.KERNEL); one without its forward's pp_mb_id and step is not drawn. */
    void add(SpanRecord span) {
        Integer mb = span.intAttribute(SpanContract.PP_MB_ID.name());
        Integer st = span.intAttribute(SpanContract.STEP.name());
        RankKey key = RankKey.of(span);
        if (mb == null || st == null || key == null) {
            return;
        }
        if (size == start.length) {
            int n = size * 2;
            start = Arrays.copyOf(start, n);
            end = Arrays.copyOf(end, n);
            rank = Arrays.copyOf(rank, n);
            microBatch = Arrays.copyOf(microBatch, n);
            step = Arrays.copyOf(step, n);
            kernel = Arrays.copyOf(kernel, n);
        }
        String word = span.stringAttribute(SpanContract.KERNEL.name());
        start[size] = span.startNanos();
        end[size] = span.endNanos();
        rank[size] = rankIndex.computeIfAbsent(key, k -> {
            rankIds.add(k);
            return rankIds.size() - 1;
        });
        microBatch[size] = mb;
        step[size] = st;
        kernel[size] = kernelIndex.computeIfAbsent(word == null ? "?" : word, k -> {
            kernelIds.add(k);
            return kernelIds.size() - 1;
        });
        size++;
    }

    int size() {
        return size;
    }

    long start(int i) {
        return start[i];
    }

    long end(int i) {
        return end[i];
    }

    RankKey rank(int i) {
        return rankIds.get(rank[i]);
    }

    int microBatch(int i) {
        return microBatch[i];
    }

    int step(int i) {
        return step[i];
    }

    String kernel(int i) {
        return kernelIds.get(kernel[i]);
    }

    /** The kernels, by total time over all ranks, largest first. */
    List<String> kernelsByTime() {
        long[] total = new long[kernelIds.size()];
        for (int i = 0; i < size; i++) {
            total[kernel[i]] += end[i] - start[i];
        }
        List<String> out = new ArrayList<>(kernelIds);
        out.sort(Comparator.comparingLong((String k) -> -total[kernelIndex.get(k)]).thenComparing(k -> k));
        return out;
    }
}
