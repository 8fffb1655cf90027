package dev.ppexec.schedule;

import java.util.ArrayList;
import java.util.List;

/** Schedule generators: fill-drain prefill, then the decode ring (DESIGN.md, "The PP runtime"). */
public final class Schedules {

    private Schedules() {
    }

    /** Fill-drain (GPipe forward) for the prefill pass alone: {@code generation(ranks, microBatches, 0)}. */
    public static Schedule prefill(int ranks, int microBatches) {
        return generation(ranks, microBatches, 0);
    }

    /**
     * Prefill at step 0, then the decode ring for steps 1..{@code steps}. Every rank runs step-major,
     * micro-batch-minor; per (micro-batch, step) a rank receives (except rank 0 at step 0), runs its stage, and
     * sends (except the last rank at the last step). The last rank copies every step's tokens to the host after its
     * FORWARD. With one rank there is nothing to hand off: a FEEDBACK copies the tokens into the next step's input.
     */
    public static Schedule generation(int ranks, int microBatches, int steps) {
        Schedule.checkShape(ranks, microBatches, steps);
        List<List<Action>> actions = new ArrayList<>(ranks);
        int last = ranks - 1;
        for (int r = 0; r < ranks; r++) {
            List<Action> list = new ArrayList<>();
            for (int s = 0; s <= steps; s++) {
                for (int m = 0; m < microBatches; m++) {
                    if (ranks > 1 && !(r == 0 && s == 0)) {
                        list.add(Action.recv(m, s));
                    }
                    list.add(Action.forward(m, s));
                    if (r == last) {
                        list.add(Action.tokens(m, s));
                    }
                    if (ranks == 1 && s < steps) {
                        list.add(Action.feedback(m, s));
                    }
                    if (ranks > 1 && !(r == last && s == steps)) {
                        list.add(Action.send(m, s));
                    }
                }
            }
            actions.add(list);
        }
        return new Schedule(ranks, microBatches, steps, actions);
    }
}
