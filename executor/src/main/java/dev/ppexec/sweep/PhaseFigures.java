package dev.ppexec.sweep;

import dev.ppexec.runtime.ActionRecord;
import dev.ppexec.schedule.Bubble;

import java.util.List;
import java.util.function.IntPredicate;

/**
 * What the forwards of one phase (prefill, or the decode steps) did, from their host and device
 * times: the phase's span, each rank's busy time, and the bubble and overlap efficiency they imply.
 *
 * <p>Note [overlap efficiency]: the ideal makespan of the phase is the work it did spread evenly over
 * the ranks, stretched only by the schedule's own bubble: {@code Σ busy / P / (1 − idealBubble)}.
 * Efficiency is that over the measured device span, which equals
 * {@code (1 − measuredBubble) / (1 − idealBubble)}: 1 when the only idle time is the schedule's,
 * lower when imbalance, launch gaps or transfers add idle time.
 *
 * @param spanNanos        first launch start to last device end of the phase's forwards
 * @param deviceSpanNanos  first device start to last device end, over all ranks
 * @param busyNanos        [rank] device time of the rank's forwards in the phase
 * @param cpuNanos         [rank] host launch time of those forwards
 * @param forwards         [rank] how many forwards
 */
public record PhaseFigures(long spanNanos, long deviceSpanNanos, long[] busyNanos, long[] cpuNanos, int[] forwards) {

    /** The figures of the FORWARD records whose step passes {@code steps}; {@code perRank[r]} holds rank r's records. */
    public static PhaseFigures of(List<List<ActionRecord>> perRank, IntPredicate steps) {
        int ranks = perRank.size();
        long[] busy = new long[ranks];
        long[] cpu = new long[ranks];
        int[] n = new int[ranks];
        long firstLaunch = Long.MAX_VALUE;
        long firstDevice = Long.MAX_VALUE;
        long lastDevice = Long.MIN_VALUE;
        for (int r = 0; r < ranks; r++) {
            for (ActionRecord a : perRank.get(r)) {
                if (a.kind() != ActionRecord.Kind.FORWARD || !steps.test(a.step())) {
                    continue;
                }
                busy[r] += a.deviceEndNanos() - a.deviceStartNanos();
                cpu[r] += a.cpuEndNanos() - a.cpuStartNanos();
                n[r]++;
                firstLaunch = Math.min(firstLaunch, a.cpuStartNanos());
                firstDevice = Math.min(firstDevice, a.deviceStartNanos());
                lastDevice = Math.max(lastDevice, a.deviceEndNanos());
            }
        }
        boolean empty = lastDevice == Long.MIN_VALUE;
        return new PhaseFigures(empty ? 0 : lastDevice - firstLaunch, empty ? 0 : lastDevice - firstDevice, busy, cpu, n);
    }

    public int ranks() {
        return busyNanos.length;
    }

    /** 1 − Σ busy / (ranks × device span): the ranks' idle share while the phase ran. */
    public double bubble() {
        long total = 0;
        for (long b : busyNanos) {
            total += b;
        }
        return Bubble.measured(total, ranks(), deviceSpanNanos);
    }

    /** See Note [overlap efficiency]. */
    public double efficiency(double idealBubble) {
        return (1.0 - bubble()) / (1.0 - idealBubble);
    }

    /** Mean host launch time of rank r's forwards, ns. */
    public double meanCpuNanos(int r) {
        return forwards[r] == 0 ? 0.0 : (double) cpuNanos[r] / forwards[r];
    }

    /** Mean device time of rank r's forwards, ns. */
    public double meanDeviceNanos(int r) {
        return forwards[r] == 0 ? 0.0 : (double) busyNanos[r] / forwards[r];
    }
}
