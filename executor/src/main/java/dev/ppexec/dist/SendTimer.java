package dev.ppexec.dist;

import dev.ppexec.backend.Device;
import dev.ppexec.backend.Event;
import dev.ppexec.backend.Launch;
import dev.ppexec.backend.Stream;
import dev.ppexec.trace.DeviceClock;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Consumer;

/**
 * A rank's send stream for a device transport, and the device timing of what it sends (Note [device-timed
 * transfers] in DeviceLinks): a send is enqueued between two events of the stream; a timing thread waits for the
 * second and hands both, mapped to the host clock ({@link System#nanoTime}) by the stream's {@link DeviceClock}, to
 * the send's {@link Timed}. The host call only enqueues.
 */
final class SendTimer implements AutoCloseable {

    /** Where a send's device times go. */
    interface Timed {
        /** The send ran on the device from {@code startNanos} to {@code endNanos} (host clock). */
        void sent(long startNanos, long endNanos);

        /** The send's events never completed (the stream failed): nothing will time it. */
        void dropped();
    }

    private final Device device;
    private final Stream stream;
    private final DeviceClock clock;
    private final ExecutorService timing;
    /** Event pairs, reused once their send was timed; every event made, to close. */
    private final ConcurrentLinkedQueue<Event[]> pairs = new ConcurrentLinkedQueue<>();
    private final ConcurrentLinkedQueue<Event> made = new ConcurrentLinkedQueue<>();

    /** A send stream on {@code device}, anchored now (one synchronisation). */
    SendTimer(Device device, String label, int rank) {
        this.device = device;
        this.stream = device.createStream(label);
        this.clock = new DeviceClock(stream, event(), System::nanoTime);
        clock.anchor();
        this.timing = Executors.newSingleThreadExecutor(r -> Thread.ofPlatform().daemon()
                .name("pp_send timing [PP " + rank + "]").unstarted(r));
    }

    private Event event() {
        Event e = device.createEvent();
        made.add(e);
        return e;
    }

    /**
     * Enqueues on the send stream a wait for {@code ready}, then {@code work} for {@code tokens}, then {@code after}
     * (what the receiver waits for, if anything), timing the wait's end to the work's end when {@code timed} is not
     * null. Never blocks.
     */
    void send(Event ready, Launch work, int tokens, Consumer<Stream> after, Timed timed) {
        Event[] pair = null;
        if (timed != null) {
            pair = pairs.poll();
            if (pair == null) {
                pair = new Event[] {event(), event()};
            }
        }
        stream.waitFor(ready);
        if (pair != null) {
            stream.record(pair[0]);
        }
        stream.launch(work, tokens, 0);
        after.accept(stream);
        if (pair != null) {
            stream.record(pair[1]);
            time(pair, timed);
        }
    }

    private void time(Event[] pair, Timed timed) {
        try {
            timing.execute(() -> {
                try {
                    pair[1].synchronize();
                    timed.sent(clock.hostNanos(pair[0]), clock.hostNanos(pair[1]));
                } catch (RuntimeException e) {
                    timed.dropped(); // the stream failed: the run fails with it, which says why
                }
                pairs.add(pair);
            });
        } catch (RejectedExecutionException e) {
            timed.dropped();
        }
    }

    /** Stops the timing thread (bounded: a send still timed gets 5 s), then frees the stream and the events. */
    @Override
    public void close() {
        GrpcTransport.stop(timing);
        stream.close();
        for (Event e = made.poll(); e != null; e = made.poll()) {
            e.close();
        }
    }
}
