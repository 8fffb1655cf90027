package dev.ppexec.trace;

import dev.ppexec.backend.Device;
import dev.ppexec.backend.Event;
import dev.ppexec.backend.Launch;
import dev.ppexec.backend.Stream;
import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Note [device clock anchor] and Note [re-anchoring] with a fake device: its events carry device
 * timestamps, and the device clock runs at {@code 1 + skew} times the host clock from an arbitrary
 * origin. The host clock is read a latency after each event it waits for, as a real wait does.
 */
class DeviceClockTest {

    /** A device whose clock reads {@code deviceOrigin + hostNanos * (1 + skew)}. */
    static final class FakeDevice {
        final AtomicLong hostNanos = new AtomicLong(1_000_000);
        final long deviceOrigin = 987_654_321_000L;
        final double skew;

        FakeDevice(double skew) {
            this.skew = skew;
        }

        long deviceNanosAt(long host) {
            return deviceOrigin + Math.round(host * (1 + skew));
        }

        /** An event that completed at host time {@code host}. */
        FakeEvent eventAt(long host) {
            FakeEvent e = new FakeEvent();
            e.deviceNanos = deviceNanosAt(host);
            return e;
        }
    }

    static final class FakeEvent implements Event {
        long deviceNanos;

        @Override
        public boolean isDone() {
            return true;
        }

        @Override
        public void synchronize() {}

        @Override
        public long elapsedNanosSince(Event start) {
            return deviceNanos - ((FakeEvent) start).deviceNanos;
        }

        @Override
        public void close() {}
    }

    /**
     * Records complete at the current host time; the host's next read comes a latency later: {@code latencies} in
     * turn, one per record, the last one repeated.
     */
    static final class FakeStream implements Stream {
        final FakeDevice device;
        final long[] latencies;
        int records;

        FakeStream(FakeDevice device, long... latencies) {
            this.device = device;
            this.latencies = latencies;
        }

        @Override
        public Device device() {
            throw new UnsupportedOperationException();
        }

        @Override
        public String label() {
            return "fake compute";
        }

        @Override
        public int id() {
            return 1;
        }

        @Override
        public void launch(Launch launch, int tokens, int startPos) {}

        @Override
        public void record(Event event) {
            ((FakeEvent) event).deviceNanos = device.deviceNanosAt(device.hostNanos.get());
            device.hostNanos.addAndGet(latencies[Math.min(records++, latencies.length - 1)]);
        }

        @Override
        public void waitFor(Event event) {}

        @Override
        public void synchronize() {}

        @Override
        public void close() {}
    }

    @Test
    void hostNanos_isTheAnchorPlusDeviceElapsed() {
        FakeDevice device = new FakeDevice(0.0);
        DeviceClock clock = new DeviceClock(new FakeStream(device, 0), new FakeEvent(), device.hostNanos::get);
        clock.anchor();

        assertThat(clock.hostNanos(device.eventAt(1_000_000))).isEqualTo(1_000_000);
        assertThat(clock.hostNanos(device.eventAt(1_250_000))).isEqualTo(1_250_000);
        assertThat(clock.hostNanos(device.eventAt(40_000_000))).isEqualTo(40_000_000);
    }

    @Test
    void anchorLatency_shiftsMappedTimesLater_neverEarlier() {
        FakeDevice device = new FakeDevice(0.0);
        long latency = 7_000;
        DeviceClock clock = new DeviceClock(new FakeStream(device, latency), new FakeEvent(), device.hostNanos::get);
        clock.anchor();

        long trueStart = 3_000_000;
        assertThat(clock.hostNanos(device.eventAt(trueStart))).isEqualTo(trueStart + latency);
    }

    @Test
    void causality_launchThenDeviceWork_deviceSliceNeverStartsBeforeLaunch() {
        FakeDevice device = new FakeDevice(0.0);
        DeviceClock clock = new DeviceClock(new FakeStream(device, 2_000), new FakeEvent(), device.hostNanos::get);
        clock.anchor();
        long launchStart = device.hostNanos.get();
        // The work starts on the device 1 ns after its launch began, the tightest case there is.
        long deviceStart = clock.hostNanos(device.eventAt(launchStart + 1));
        long deviceEnd = clock.hostNanos(device.eventAt(launchStart + 500_000));

        assertThat(deviceStart).isGreaterThanOrEqualTo(launchStart);
        assertThat(deviceEnd).isGreaterThan(launchStart);
    }

    @Test
    void drift_withoutReanchoring_breaksCausality_andReanchoringFromAHostWaitRestoresIt() {
        // The device clock runs 100 ppm slow: after 10 s it is 1 ms behind the host.
        FakeDevice device = new FakeDevice(-100e-6);
        long period = 1_000_000_000L;
        DeviceClock stale = new DeviceClock(new FakeStream(device, 0), new FakeEvent(), device.hostNanos::get, period);
        DeviceClock fresh = new DeviceClock(new FakeStream(device, 0), new FakeEvent(), device.hostNanos::get, period);
        device.hostNanos.set(0);
        stale.anchor();
        device.hostNanos.set(0);
        fresh.anchor();

        long tenSeconds = 10_000_000_000L;
        long waitLatency = 3_000;
        FakeEvent observed = device.eventAt(tenSeconds);
        assertThat(fresh.reanchor(observed, tenSeconds + waitLatency)).as("period passed").isTrue();

        long launch = tenSeconds + 50_000;
        FakeEvent work = device.eventAt(launch + 10);
        assertThat(stale.hostNanos(work)).as("stale anchor maps work before its launch").isLessThan(launch);
        assertThat(fresh.hostNanos(work)).as("re-anchored").isGreaterThanOrEqualTo(launch)
                .isLessThanOrEqualTo(launch + 10 + waitLatency + 10);
    }

    @Test
    void reanchor_beforeThePeriodPassed_keepsTheAnchor() {
        FakeDevice device = new FakeDevice(0.0);
        DeviceClock clock = new DeviceClock(new FakeStream(device, 0), new FakeEvent(), device.hostNanos::get, 1_000);
        clock.anchor();
        long anchoredAt = device.hostNanos.get();
        FakeEvent e = device.eventAt(anchoredAt + 500);

        assertThat(clock.reanchor(e, anchoredAt + 999)).isFalse();
        assertThat(clock.hostNanos(e)).isEqualTo(anchoredAt + 500);
        assertThat(clock.reanchor(e, anchoredAt + 1_500)).isTrue();
        assertThat(clock.hostNanos(e)).isEqualTo(anchoredAt + 1_500);
    }

    /** Note [device clock anchor]: a host descheduled right after the first wait does not shift the stream's times. */
    @Test
    void anchor_aLateReadIsTriedAgain_untilTheWindowIsWithinItsBound() {
        FakeDevice device = new FakeDevice(0.0);
        long late = 9_000_000;
        FakeStream stream = new FakeStream(device, late, late, 30_000);
        DeviceClock clock = new DeviceClock(stream, new FakeEvent(), device.hostNanos::get);
        clock.anchor();

        assertThat(stream.records).as("two late tries, then one within the bound").isEqualTo(3);
        assertThat(clock.anchorWindowNanos()).isEqualTo(30_000);
        long trueTime = device.hostNanos.get() + 1_000_000;
        assertThat(clock.hostNanos(device.eventAt(trueTime))).as("late by the last try's window only")
                .isEqualTo(trueTime + 30_000);
    }

    @Test
    void anchor_neverWithinTheBound_stopsAfterItsTries_keepingTheLast() {
        FakeDevice device = new FakeDevice(0.0);
        FakeStream stream = new FakeStream(device, 5_000_000);
        DeviceClock clock = new DeviceClock(stream, new FakeEvent(), device.hostNanos::get);
        clock.anchor();

        assertThat(stream.records).isEqualTo(DeviceClock.ANCHOR_TRIES);
        assertThat(clock.anchorWindowNanos()).isEqualTo(5_000_000);
        long trueTime = device.hostNanos.get() + 1_000_000;
        assertThat(clock.hostNanos(device.eventAt(trueTime))).isEqualTo(trueTime + 5_000_000);
    }

    @Test
    void neverAnchored_failsNamingTheStream() {
        FakeDevice device = new FakeDevice(0.0);
        DeviceClock clock = new DeviceClock(new FakeStream(device, 0), new FakeEvent(), device.hostNanos::get);

        assertThatThrownBy(() -> clock.hostNanos(device.eventAt(5))).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("'fake compute' was never anchored");
    }
}
