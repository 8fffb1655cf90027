package dev.ppexec.runtime;

import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;

/**
 * Hands a run's timed actions to its {@link RunListener}s on a thread of its own ({@code Trace
 * delivery}), in batches, as soon as the ranks' logs have resolved their device times: every
 * {@link #POLL_NANOS} it takes what each log published since the last look (see Note [streaming
 * records] in {@link ForwardLog}), and tells each log what it took. The ranks never touch a
 * listener, and wait for this thread only when a whole log window ahead of it (Note [bounded logs]).
 * Listeners hear every call on this one thread, in each log's order: {@code runStarted}, the
 * actions, then {@code runFinished} after the last entry the run resolved.
 */
final class RecordDelivery {

    /** How often the delivery thread looks for newly resolved entries. */
    static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(20);

    private final RunInfo info;
    private final List<RunListener> listeners;
    /** [rank] the rank's forward log and its receive log. */
    private final ForwardLog[][] logs;
    private final int[][] delivered;
    private final Thread thread;
    private volatile boolean finishing;
    private volatile Throwable failure;
    private volatile RuntimeException listenerFailure;

    RecordDelivery(RunInfo info, List<RunListener> listeners, ForwardLog[][] logs) {
        this.info = info;
        this.listeners = listeners;
        this.logs = logs;
        this.delivered = new int[logs.length][2];
        this.thread = Thread.ofPlatform().name("Trace delivery").daemon().unstarted(this::deliver);
        forEachLog(ForwardLog::attachReader); // before the ranks start: they wait for what this thread has not taken
    }

    void start() {
        thread.start();
    }

    /**
     * Delivers what is left (the logs are final by now), then {@code runFinished} with
     * {@code cause} (null when the run succeeded); returns when the listeners are done. Rethrows a
     * listener's failure.
     */
    void finish(Throwable cause) {
        failure = cause;
        finishing = true;
        LockSupport.unpark(thread);
        boolean interrupted = Thread.interrupted();
        try {
            while (true) {
                try {
                    thread.join();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true; // a signal's interrupt: the listeners still end what they started
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
        if (listenerFailure != null) {
            throw listenerFailure;
        }
    }

    private void deliver() {
        try {
            for (RunListener l : listeners) {
                l.runStarted(info);
            }
            boolean last = false;
            while (!last) {
                last = finishing; // read before the logs: what they published before finish() is delivered below
                deliverResolved();
                if (!last) {
                    LockSupport.parkNanos(POLL_NANOS);
                }
            }
            for (RunListener l : listeners) {
                l.runFinished(info, failure);
            }
        } catch (RuntimeException e) {
            listenerFailure = e;
        } finally {
            forEachLog(ForwardLog::detach); // nothing takes entries any more: the ranks must not wait for it
        }
    }

    private void forEachLog(Consumer<ForwardLog> action) {
        for (ForwardLog[] rankLogs : logs) {
            for (int k = 0; rankLogs != null && k < rankLogs.length; k++) {
                action.accept(rankLogs[k]);
            }
        }
    }

    private void deliverResolved() {
        for (int rank = 0; rank < logs.length; rank++) {
            if (logs[rank] == null) {
                continue; // a rank of another process
            }
            for (int k = 0; k < 2; k++) {
                ForwardLog log = logs[rank][k];
                ActionRecord.Kind kind = k == 0 ? ActionRecord.Kind.FORWARD : ActionRecord.Kind.RECV;
                int upTo = log.resolved();
                for (int i = delivered[rank][k]; i < upTo; i++) {
                    int s = log.slot(i);
                    ActionRecord rec = new ActionRecord(kind, log.microBatch[s], log.step[s], log.cpuStartNanos[s],
                            log.cpuEndNanos[s], log.deviceStartNanos[s], log.deviceEndNanos[s], log.markNanos(i));
                    for (RunListener l : listeners) {
                        l.action(info, rank, rec);
                    }
                }
                delivered[rank][k] = upTo;
                log.taken(upTo); // Note [bounded logs] in ForwardLog: their slots may be reused
            }
        }
    }
}
