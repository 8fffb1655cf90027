package dev.ppexec.backend.cpu;

import dev.ppexec.backend.Event;
import dev.ppexec.backend.Launch;
import dev.ppexec.backend.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

@Timeout(30)
class CpuStreamTest {

    private final CpuDevice device = new CpuDevice();

    @AfterEach
    void close() {
        device.close();
        assertThat(device.liveStreamThreads()).isZero();
    }

    private static Launch launch(String name, Runnable body) {
        return new CpuLaunch(name) {
            @Override
            void run(int tokens, int startPos) {
                body.run();
            }
        };
    }

    @Test
    void launch_returnsBeforeTheWorkRuns() throws Exception {
        Stream s = device.createStream("compute");
        CountDownLatch gate = new CountDownLatch(1);
        AtomicInteger ran = new AtomicInteger();
        s.launch(launch("blocked", () -> {
            try {
                gate.await();
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
            ran.incrementAndGet();
        }), 1, 0);
        assertThat(ran.get()).as("work ran before launch returned").isZero();
        gate.countDown();
        s.synchronize();
        assertThat(ran.get()).isEqualTo(1);
    }

    @Test
    void waitFor_ordersWorkAcrossStreams() {
        Stream a = device.createStream("a");
        Stream b = device.createStream("b");
        Event produced = device.createEvent();
        StringBuffer order = new StringBuffer();
        a.launch(launch("slow producer", () -> {
            sleep(50);
            order.append("produce;");
        }), 1, 0);
        a.record(produced);
        b.waitFor(produced);
        b.launch(launch("consumer", () -> order.append("consume;")), 1, 0);
        b.synchronize();
        assertThat(order.toString()).isEqualTo("produce;consume;");
    }

    @Test
    void elapsedTime_isPositiveAndPlausible() {
        Stream s = device.createStream("compute");
        Event start = device.createEvent();
        Event end = device.createEvent();
        s.record(start);
        s.launch(launch("sleep 20 ms", () -> sleep(20)), 1, 0);
        s.record(end);
        end.synchronize();
        long nanos = end.elapsedNanosSince(start);
        assertThat(nanos).isBetween(TimeUnit.MILLISECONDS.toNanos(20), TimeUnit.SECONDS.toNanos(5));
        assertThat(start.elapsedNanosSince(end)).isNegative();
    }

    @Test
    void failedLaunch_skipsLaterLaunches_stillCompletesEvents_andSynchronizeRethrows() {
        Stream s = device.createStream("compute");
        AtomicInteger later = new AtomicInteger();
        StringBuffer heard = new StringBuffer();
        device.onFailure(f -> heard.append(f.launch()));
        Event after = device.createEvent();
        s.launch(launch("boom", () -> {
            throw new IllegalStateException("injected");
        }), 1, 0);
        s.launch(launch("later", later::incrementAndGet), 1, 0);
        s.record(after);
        after.synchronize();
        assertThat(later.get()).isZero();
        assertThat(heard.toString()).isEqualTo("boom");
        assertThatThrownBy(s::synchronize).isInstanceOf(StreamFailedException.class).hasMessageContaining("injected");
    }

    @Test
    void manyLaunches_moreThanTheRingHolds_allRunInOrder() {
        Stream s = device.createStream("compute");
        int[] seen = {0};
        int[] outOfOrder = {0};
        for (int i = 0; i < 10_000; i++) {
            int expect = i;
            s.launch(launch("n" + i, () -> {
                if (seen[0] != expect) {
                    outOfOrder[0]++;
                }
                seen[0]++;
            }), 1, 0);
        }
        s.synchronize();
        assertThat(seen[0]).isEqualTo(10_000);
        assertThat(outOfOrder[0]).isZero();
    }

    @Test
    void close_isBoundedEvenWhenAStreamWaitsOnAnEventThatNeverCompletes() {
        Stream s = device.createStream("stuck");
        Stream other = device.createStream("never records");
        Event never = device.createEvent();
        other.launch(launch("hold", () -> sleep(10_000)), 1, 0);
        other.record(never);
        s.waitFor(never);
        long t0 = System.nanoTime();
        device.close();
        assertThat(System.nanoTime() - t0).isLessThan(TimeUnit.SECONDS.toNanos(15));
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
