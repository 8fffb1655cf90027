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

/** The forward log's events at trace level 5: made once with the ring, and all freed, also when making them fails. */
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

    private static DeviceClock clock(CpuDevice cpu, Stream stream) {
        return new DeviceClock(stream, cpu.createEvent(), System::nanoTime);
    }
}
