package dev.ppexec.otlp;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Puts one track's slices on lanes so that the slices of a lane always nest (Perfetto draws a
 * lane's slices as one stack and moves any that overlap without nesting to an overflow track).
 * Slices must come sorted by start, longer first at equal starts.
 *
 * <p>A lane keeps the ends of its open slices as a stack. A slice fits a lane when, after the
 * slices that ended are dropped, the lane is empty or its innermost open slice contains the new
 * one. With owners (request slots), a lane that is busy holds one request only, and a request
 * goes back to its previous lane when it can: sglang's greedy packing.
 */
public final class LanePacker {

    private final boolean byOwner;
    private final List<long[]> stacks = new ArrayList<>();
    private final List<Integer> depths = new ArrayList<>();
    private final List<Integer> owners = new ArrayList<>();
    private final Map<Integer, Integer> lastLane = new HashMap<>();

    public LanePacker(boolean byOwner) {
        this.byOwner = byOwner;
    }

    /** The lane (0, 1, ...) of the next slice; a new lane when none fits. */
    public int place(long start, long end, int owner) {
        Integer preferred = byOwner ? lastLane.get(owner) : null;
        int lane = preferred != null && fits(preferred, start, end, owner) ? preferred : -1;
        for (int l = 0; lane < 0 && l < stacks.size(); l++) {
            if (fits(l, start, end, owner)) {
                lane = l;
            }
        }
        if (lane < 0) {
            lane = stacks.size();
            stacks.add(new long[8]);
            depths.add(0);
            owners.add(owner);
        }
        push(lane, end);
        owners.set(lane, owner);
        if (byOwner) {
            lastLane.put(owner, lane);
        }
        return lane;
    }

    /** Lanes opened so far. */
    public int lanes() {
        return stacks.size();
    }

    private boolean fits(int lane, long start, long end, int owner) {
        long[] stack = stacks.get(lane);
        int depth = depths.get(lane);
        while (depth > 0 && stack[depth - 1] <= start) {
            depth--;
        }
        depths.set(lane, depth);
        return depth == 0 || (stack[depth - 1] >= end && (!byOwner || owners.get(lane) == owner));
    }

    private void push(int lane, long end) {
        long[] stack = stacks.get(lane);
        int depth = depths.get(lane);
        if (depth == stack.length) {
            stack = Arrays.copyOf(stack, depth * 2);
            stacks.set(lane, stack);
        }
        stack[depth] = end;
        depths.set(lane, depth + 1);
    }
}
