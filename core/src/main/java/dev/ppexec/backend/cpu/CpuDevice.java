package dev.ppexec.backend.cpu;

import dev.ppexec.backend.Buffer;
import dev.ppexec.backend.Device;
import dev.ppexec.backend.Event;
import dev.ppexec.backend.Kernels;
import dev.ppexec.backend.Matrix;
import dev.ppexec.backend.Stream;
import dev.ppexec.backend.StreamFailure;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * The CPU backend, the reference every other backend is compared with. Each stream is a worker
 * thread; several PP ranks may share one CpuDevice, each with its own streams.
 */
public final class CpuDevice implements Device {

    private final CpuKernels kernels;
    private final MatMulTile tile;
    private final List<CpuStream> streams = new ArrayList<>();
    private volatile Consumer<StreamFailure> failureListener = f -> {};
    private int nextStreamId = 1;
    private boolean closed;

    /** With this machine's matmul tile ({@link MatMulTile#selected()}). */
    public CpuDevice() {
        this(CpuKernels.Hooks.NONE);
    }

    /** With test hooks that can inject faults or delays into kernels. */
    public CpuDevice(CpuKernels.Hooks hooks) {
        this(hooks, MatMulTile.selected());
    }

    /** With the given matmul register tile for every matrix it uploads (tests run each tile this way). */
    public CpuDevice(MatMulTile tile) {
        this(CpuKernels.Hooks.NONE, tile);
    }

    private CpuDevice(CpuKernels.Hooks hooks, MatMulTile tile) {
        this.kernels = new CpuKernels(hooks);
        this.tile = Objects.requireNonNull(tile, "tile");
    }

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public void onFailure(Consumer<StreamFailure> listener) {
        this.failureListener = listener;
    }

    void streamFailed(CpuStream stream, CpuLaunch launch, Throwable cause) {
        failureListener.accept(new StreamFailure(stream, launch.name(), cause));
    }

    @Override
    public synchronized Stream createStream(String label) {
        if (closed) {
            throw new IllegalStateException("cpu device is closed");
        }
        CpuStream s = new CpuStream(this, label, nextStreamId++);
        streams.add(s);
        return s;
    }

    @Override
    public Event createEvent() {
        return new CpuEvent();
    }

    @Override
    public Buffer allocate(Buffer.Type type, long length) {
        int n = Math.toIntExact(length);
        return type == Buffer.Type.FLOAT32 ? CpuBuffer.ofFloats(new float[n]) : CpuBuffer.ofInts(new int[n]);
    }

    @Override
    public Buffer upload(float[] values) {
        return CpuBuffer.ofFloats(values.clone());
    }

    @Override
    public Buffer upload(int[] values) {
        return CpuBuffer.ofInts(values.clone());
    }

    @Override
    public Matrix uploadMatrix(float[] values, int in, int out) {
        return new CpuMatrix(PackedMatrix.pack(values, in, out, tile));
    }

    /** Waits for every stream of this device, then copies. */
    @Override
    public void download(Buffer buffer, float[] into) {
        synchronizeStreams();
        System.arraycopy(CpuBuffer.floats(buffer, "buffer"), 0, into, 0, into.length);
    }

    @Override
    public void download(Buffer buffer, int[] into) {
        synchronizeStreams();
        System.arraycopy(CpuBuffer.ints(buffer, "buffer"), 0, into, 0, into.length);
    }

    private void synchronizeStreams() {
        List<CpuStream> all;
        synchronized (this) {
            all = List.copyOf(streams);
        }
        all.forEach(CpuStream::synchronize);
    }

    @Override
    public Kernels kernels() {
        return kernels;
    }

    /**
     * A closed stream whose worker has ended leaves the device's list, so a device that serves many
     * runs does not keep every run's streams (and their command rings) alive.
     */
    synchronized void forget(CpuStream stream) {
        if (!stream.workerAlive()) {
            streams.remove(stream);
        }
    }

    /** Live worker threads of this device's streams (0 after close). */
    public synchronized int liveStreamThreads() {
        return (int) streams.stream().filter(CpuStream::workerAlive).count();
    }

    /** Stops every stream's worker; bounded (see {@link CpuStream#close()}). Idempotent. */
    @Override
    public void close() {
        List<CpuStream> toClose;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            toClose = List.copyOf(streams);
        }
        toClose.forEach(CpuStream::close);
    }
}
