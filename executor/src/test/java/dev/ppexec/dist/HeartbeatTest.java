package dev.ppexec.dist;

import org.junit.jupiter.api.Test;

import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** Rank 0's side of Note [heartbeats], on a test clock: who is called silent, and when. */
class HeartbeatTest {

    private static final long BOUND_NANOS = TimeUnit.MILLISECONDS.toNanos(Heartbeat.SILENCE_MILLIS);

    private static long s(double seconds) {
        return (long) (seconds * 1e9);
    }

    /** Checks once a second from {@code fromS} to {@code toS}, rank 2 beating each time; the abort's reason or null. */
    private static String beatAndCheck(Store store, int fromS, int toS) {
        String reason = null;
        for (int t = fromS; t <= toS && reason == null; t++) {
            store.heard(2, s(t));
            store.checkSilence(s(t), BOUND_NANOS);
            reason = store.heard(2, s(t));
        }
        return reason;
    }

    @Test
    void silentRank_abortsTheWorld_namingIt_onlyOnceTheBoundPassed() {
        Store store = new Store();
        store.expect(3, 0);
        assertThat(beatAndCheck(store, 1, 4)).as("4 s of silence is not yet more than the bound").isNull();
        store.checkSilence(s(4.5), BOUND_NANOS);
        assertThat(store.heard(2, s(4.5))).isEqualTo("rank 1 went silent: no heartbeat for 4 s (its process is "
                + "stopped, hung or cut off)");
    }

    @Test
    void rankThatBeats_orLeft_isNeverCalledSilent() {
        Store store = new Store();
        store.expect(3, 0);
        store.put("left/1", new byte[0]);
        assertThat(beatAndCheck(store, 1, 20)).isNull();
    }

    @Test
    void lateCheck_rankZeroWasStalled_hearsEveryRankAfresh() {
        Store store = new Store();
        store.expect(2, 0);
        store.checkSilence(s(10), BOUND_NANOS); // rank 0's own 10 s pause: nobody's silence can be told from it
        assertThat(store.heard(0, s(10))).isNull();
        for (int t = 11; t <= 14; t++) {
            store.checkSilence(s(t), BOUND_NANOS);
        }
        assertThat(store.heard(0, s(14))).as("silent 4 s since the pause: not yet").isNull();
        store.checkSilence(s(14.5), BOUND_NANOS);
        assertThat(store.heard(0, s(14.5))).startsWith("rank 1 went silent");
    }
}
