package dev.ppexec.runtime;

import dev.ppexec.backend.Device;
import dev.ppexec.backend.Event;
import dev.ppexec.backend.Stream;
import dev.ppexec.backend.cpu.CpuDevice;
import dev.ppexec.trace.DeviceClock;
import org.junit.jupiter.api.Test;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The forward log's events at trace level 5: made once with the ring, and all freed, also when making them fails;
 * the log's ring of entries: a rank ahead of its reader waits for it, and every entry reaches the reader intact.
 */
class ForwardLogTest {

    /** A CPU device whose events count their closes, and whose {@code failAt}-th createEvent fails. */
    record CountingDevice(Device device, AtomicInteger made, AtomicInteger closed) {

        static CountingDevice over(CpuDevice cpu, int failAt) {
            AtomicInteger made = new AtomicInteger();
            AtomicInteger closed = new AtomicInteger();
            Device device = (Device) Proxy.newProxyInstance(Device.class.getClassLoader(), new Class<?>[] {Device.class},
                    (proxy, method, args) -> {
                        if (method.getName().equals("createEvent")) {
                            if (made.get() + 1 == failAt) {
                                throw new IllegalStateException("out of events (test)");
                            }
                            made.incrementAndGet();
                            Event e = cpu.createEvent();
                            return Proxy.newProxyInstance(Event.class.getClassLoader(), new Class<?>[] {Event.class},
                                    (p, m, a) -> {
                                        if (m.getName().equals("close")) {
                                            closed.incrementAndGet();
                                        }
                                        return invoke(m, e, a);
                                    });
                        }
                        return invoke(method, cpu, args);
                    });
            return new CountingDevice(device, made, closed);
        }

        private static Object invoke(java.lang.reflect.Method m, Object target, Object[] args) throws Throwable {
            try {
                return m.invoke(target, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        }
    }

    @Test
    void levelFive_makesLaunchesMinusOneMarksPerRingSlot_andCloseFreesEveryEvent() {
        try (CpuDevice cpu = new CpuDevice(); Stream stream = cpu.createStream("test")) {
            CountingDevice d = CountingDevice.over(cpu, -1);
            ForwardLog log = new ForwardLog(d.device(), clock(cpu, stream), 10, 4, 33);
            assertThat(d.made().get()).as("4 ring slots x (start, end and 32 marks)").isEqualTo(4 * 34);
            assertThat(log.marks(5)).hasSize(32).isSameAs(log.marks(1));
            log.close();
            assertThat(d.closed().get()).isEqualTo(d.made().get());

            CountingDevice plain = CountingDevice.over(cpu, -1);
            ForwardLog four = new ForwardLog(plain.device(), clock(cpu, stream), 10, 4);
            assertThat(plain.made().get()).as("below level 5: the start and end pairs only").isEqualTo(8);
            assertThat(four.marks(0)).isNull();
            assertThat(four.markNanos(0)).isNull();
            four.close();
        }
    }

    @Test
    void eventsFailingHalfWay_freeTheEventsAlreadyMade() {
        try (CpuDevice cpu = new CpuDevice(); Stream stream = cpu.createStream("test")) {
            CountingDevice d = CountingDevice.over(cpu, 100);
            assertThatThrownBy(() -> new ForwardLog(d.device(), clock(cpu, stream), 10, 4, 33))
                    .hasMessage("out of events (test)");
            assertThat(d.made().get()).isEqualTo(99);
            assertThat(d.closed().get()).as("every event made before the failure").isEqualTo(99);
        }
    }

    @Test
    void rankAWindowAheadOfItsReader_waitsUntilTheReaderTakes_andTheReaderGetsEveryEntry() throws Exception {
        int window = 4;
        int entries = 3 * window;
        try (CpuDevice cpu = new CpuDevice(); Stream stream = cpu.createStream("test")) {
            // Level 5, 3 launches: 2 kernel marks per entry, in the same ring.
            ForwardLog log = new ForwardLog(cpu, anchored(cpu, stream), window, window, 3);
            log.attachReader();
            Thread rank = Thread.ofPlatform().start(() -> {
                try {
                    for (int i = 0; i < entries; i++) {
                        int e = log.begin(i, 100 + i, 1_000L * i);
                        stream.record(log.startEvent(e));
                        for (Event mark : log.marks(e)) {
                            stream.record(mark);
                        }
                        stream.record(log.endEvent(e));
                        log.end(e, 1_000L * i + 7);
                    }
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            });
            rank.join(200);
            assertThat(rank.isAlive()).as("a rank a window ahead of a reader that took nothing is waiting").isTrue();
            int taken = 0;
            while (rank.isAlive() || taken < log.resolved()) {
                taken = takeResolved(log, taken);
                Thread.onSpinWait();
            }
            rank.join();
            log.resolveAll();
            taken = takeResolved(log, taken);
            assertThat(taken).isEqualTo(entries);
            assertThat(log.stalls()).as("waits for the reader").isPositive();
            assertThat(log.totals().entries()).isEqualTo(entries);
            assertThat(log.totals().cpuLaunchNanos()).as("7 ns per entry").isEqualTo(7L * entries);
            log.close();
        }
    }

    @Test
    void rankWaitingForItsReader_endsOnInterrupt_andGoesOnOnceTheReaderDetaches() throws Exception {
        try (CpuDevice cpu = new CpuDevice(); Stream stream = cpu.createStream("test")) {
            ForwardLog log = new ForwardLog(cpu, anchored(cpu, stream), 2, 2);
            log.attachReader();
            Throwable[] ended = new Throwable[1];
            Thread rank = Thread.ofPlatform().start(() -> {
                try {
                    for (int i = 0; i < 3; i++) {
                        int e = log.begin(i, 0, 0);
                        stream.record(log.startEvent(e));
                        stream.record(log.endEvent(e));
                        log.end(e, 0);
                    }
                } catch (InterruptedException e) {
                    ended[0] = e;
                }
            });
            rank.join(200);
            assertThat(rank.isAlive()).as("waiting for entry 0 to be taken").isTrue();
            rank.interrupt();
            rank.join();
            assertThat(ended[0]).isInstanceOf(InterruptedException.class).hasMessageContaining("entry 0");

            log.detach();
            int e = log.begin(9, 0, 0);
            assertThat(log.slot(e)).as("entry 2 reuses slot 0 once nothing reads").isZero();
            assertThat(log.microBatch[log.slot(e)]).isEqualTo(9);
            log.close();
        }
    }

    /** Takes the entries resolved since {@code from}, checking each holds what the rank wrote; returns the new mark. */
    private static int takeResolved(ForwardLog log, int from) {
        int upTo = log.resolved();
        for (int i = from; i < upTo; i++) {
            int s = log.slot(i);
            assertThat(new long[] {log.microBatch[s], log.step[s], log.cpuStartNanos[s], log.cpuEndNanos[s]})
                    .as("entry %d", i).containsExactly(i, 100 + i, 1_000L * i, 1_000L * i + 7);
            long[] marks = log.markNanos(i);
            if (marks != null) {
                assertThat(marks).as("entry %d's kernel marks", i).hasSize(2);
                for (long m : marks) {
                    assertThat(m).as("entry %d's kernel mark within its device time", i)
                            .isBetween(log.deviceStartNanos[s], log.deviceEndNanos[s]);
                }
            }
        }
        log.taken(upTo);
        return upTo;
    }

    @Test
    void marksIn_readsTheGraphsMarksForTheirEntry_beforeTheGraphRecordsThemAgain() throws Exception {
        try (CpuDevice cpu = new CpuDevice(); Stream stream = cpu.createStream("test")) {
            ForwardLog log = new ForwardLog(cpu, anchored(cpu, stream), 8, 8, 3); // 2 marks per entry
            Event[] graphMarks = {cpu.createEvent(), cpu.createEvent()};
            int previous = -1;
            for (int step = 0; step < 2; step++) {
                int e = log.begin(0, step, 0);
                stream.record(log.startEvent(e));
                log.marksIn(e, graphMarks, previous);
                previous = e;
                for (Event mark : graphMarks) {
                    stream.record(mark);
                }
                stream.record(log.endEvent(e));
                log.end(e, 1);
                stream.synchronize();
                Thread.sleep(2); // the next step's events come later on the clock
            }
            assertThat(log.resolved()).as("entry 0 resolved before its marks were recorded again").isEqualTo(1);
            log.resolveAll();
            for (int e = 0; e < 2; e++) {
                long[] marks = log.markNanos(e);
                int s = log.slot(e);
                for (long m : marks) {
                    assertThat(m).as("entry %d's marks lie within its own forward", e)
                            .isBetween(log.deviceStartNanos[s], log.deviceEndNanos[s]);
                }
            }
            assertThat(log.markNanos(1)[0]).as("entry 1's marks are the later recording")
                    .isGreaterThan(log.markNanos(0)[1]);
            for (Event mark : graphMarks) {
                mark.close();
            }
            log.close();
        }
    }

    private static DeviceClock clock(CpuDevice cpu, Stream stream) {
        return new DeviceClock(stream, cpu.createEvent(), System::nanoTime);
    }

    /** A clock that can time events: as a rank's, anchored before the rank starts. */
    private static DeviceClock anchored(CpuDevice cpu, Stream stream) {
        DeviceClock clock = clock(cpu, stream);
        clock.anchor();
        return clock;
    }
}
