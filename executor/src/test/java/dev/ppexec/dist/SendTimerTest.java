package dev.ppexec.dist;

import dev.ppexec.backend.Device;
import dev.ppexec.backend.Event;
import dev.ppexec.backend.Launch;
import dev.ppexec.backend.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Note [device-timed transfers] in DeviceLinks: a send's times are its send stream's events, mapped to the host clock,
 * not the host call's. On a device whose clock the test moves by hand: the work between the two events takes exactly
 * its device time, however long the host took, and the mapped times sit where the device clock puts them after the
 * anchor.
 */
@Timeout(30)
class SendTimerTest {

    /** A device clock the test moves; a launch on a stream of it takes {@link #WORK_NANOS} of device time. */
    private static final long WORK_NANOS = 3_000;
    private final AtomicLong deviceNanos = new AtomicLong(1_000);
    private final List<String> calls = new ArrayList<>();

    private final class FakeEvent implements Event {
        long at = -1;

        @Override
        public boolean isDone() {
            return true;
        }

        @Override
        public void synchronize() {
        }

        @Override
        public long elapsedNanosSince(Event start) {
            return at - ((FakeEvent) start).at;
        }

        @Override
        public void close() {
            calls.add("event closed");
        }
    }

    private final class FakeStream implements Stream {
        @Override
        public Device device() {
            throw new UnsupportedOperationException();
        }

        @Override
        public String label() {
            return "pp_send fake";
        }

        @Override
        public int id() {
            return 0;
        }

        @Override
        public void launch(Launch launch, int tokens, int startPos) {
            calls.add("launch " + launch.name() + " x" + tokens);
            deviceNanos.addAndGet(WORK_NANOS);
        }

        @Override
        public void record(Event event) {
            ((FakeEvent) event).at = deviceNanos.get();
        }

        @Override
        public void waitFor(Event event) {
            calls.add("wait");
        }

        @Override
        public void synchronize() {
        }

        @Override
        public void close() {
            calls.add("stream closed");
        }
    }

    private Device device() {
        return (Device) Proxy.newProxyInstance(Device.class.getClassLoader(), new Class<?>[] {Device.class},
                (proxy, method, args) -> switch (method.getName()) {
                    case "createStream" -> new FakeStream();
                    case "createEvent" -> new FakeEvent();
                    case "name" -> "fake";
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }

    @Test
    void send_isTimedByTheStreamsEvents_notByTheHostCall() throws Exception {
        long beforeAnchor = System.nanoTime();
        SendTimer timer = new SendTimer(device(), "pp_send fake", 0); // anchored at device time 1000
        long afterAnchor = System.nanoTime();
        deviceNanos.set(5_000); // the device is 4 us further when the send's first event is recorded
        CompletableFuture<long[]> timed = new CompletableFuture<>();
        Launch work = () -> "copy";
        timer.send(new FakeEvent(), work, 2, s -> calls.add("after"), new SendTimer.Timed() {
            @Override
            public void sent(long startNanos, long endNanos) {
                timed.complete(new long[] {startNanos, endNanos});
            }

            @Override
            public void dropped() {
                timed.completeExceptionally(new AssertionError("dropped"));
            }
        });
        long[] span = timed.get(10, TimeUnit.SECONDS);
        assertThat(span[1] - span[0]).as("the work's device time, whatever the host took").isEqualTo(WORK_NANOS);
        assertThat(span[0]).as("the anchor's host time plus the device time since it")
                .isBetween(beforeAnchor + 4_000, afterAnchor + 4_000);
        assertThat(calls).containsExactly("wait", "launch copy x2", "after");
        timer.close();
        assertThat(calls).contains("stream closed").filteredOn("event closed"::equals).hasSize(3);
    }

    @Test
    void send_untimed_enqueuesTheSameWork_withoutEvents() {
        SendTimer timer = new SendTimer(device(), "pp_send fake", 0);
        timer.send(new FakeEvent(), () -> "copy", 1, s -> { }, null);
        assertThat(calls).containsExactly("wait", "launch copy x1");
        timer.close();
        assertThat(calls).filteredOn("event closed"::equals).as("only the anchor's reference").hasSize(1);
    }
}
