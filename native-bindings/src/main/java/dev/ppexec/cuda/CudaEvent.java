package dev.ppexec.cuda;

import dev.ppexec.backend.Event;


/** A CUDA event created with timing, so that device spans come from {@code cuEventElapsedTime}. */
final class CudaEvent implements Event {

    private final CudaDevice device;
    private final long handle;
    private boolean closed;

    CudaEvent(CudaDevice device, long handle) {
        this.device = device;
        this.handle = handle;
    }

    long handle() {
        return handle;
    }

    CudaDevice device() {
        return device;
    }

    @Override
    public boolean isDone() {
        device.bind();
        return device.driver().eventDone(handle);
    }

    @Override
    public void synchronize() {
        device.bind();
        device.driver().eventSynchronize(handle);
    }

    /**
     * The driver's float milliseconds, rounded up by one unit in the last place: a float holds a
     * minute to within a few microseconds only, and a time mapped through a clock anchor must never
     * come out earlier than the true one (Note [device clock anchor] in DeviceClock).
     */
    @Override
    public long elapsedNanosSince(Event start) {
        if (!(start instanceof CudaEvent from) || from.device != device) {
            throw new IllegalArgumentException("elapsed time between events of different devices (" + device.name()
                    + " and " + (start instanceof CudaEvent c ? c.device.name() : start.getClass().getSimpleName()) + ")");
        }
        device.bind();
        float millis = device.driver().eventElapsedMillis(from.handle, handle);
        return (long) Math.ceil(((double) millis + Math.ulp(millis)) * 1e6);
    }

    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        device.destroy(this);
    }
}
