package dev.ppexec.cuda;

import dev.ppexec.backend.Buffer;
import dev.ppexec.backend.Device;
import dev.ppexec.backend.Launch;
import dev.ppexec.nccl.Nccl;
import dev.ppexec.nccl.NcclCommunicator;
import dev.ppexec.nccl.NcclUniqueId;

import java.time.Duration;

/**
 * NCCL on the CUDA backend's devices: a communicator made with the device's context current, and point-to-point
 * transfers of a backend buffer as launches, so that a rank enqueues them on its streams like any other work (in
 * stream order with its copies and events). Here, in the CUDA package, because they need the backend's raw device
 * addresses and stream handles.
 */
public final class CudaNccl {

    private CudaNccl() {
    }

    private static CudaDevice cuda(Device d) {
        if (!(d instanceof CudaDevice c)) {
            throw new IllegalArgumentException("NCCL on " + d.name() + "; allowed: a CUDA device");
        }
        return c;
    }

    private static CudaBuffer cuda(Buffer b) {
        if (!(b instanceof CudaBuffer c)) {
            throw new IllegalArgumentException("NCCL of a " + b.getClass().getSimpleName() + "; allowed: a CUDA buffer");
        }
        return c;
    }

    /** {@link Nccl#initRank} with {@code device}'s context current: the communicator is that device's. */
    public static NcclCommunicator join(Nccl nccl, Device device, NcclUniqueId id, int rank, int worldSize,
                                        Duration timeout, Duration watchdogInterval) {
        cuda(device).bind();
        return nccl.initRank(id, rank, worldSize, timeout, watchdogInterval);
    }

    /** A launch that sends the first {@code tokens · elementsPerToken} elements of {@code source} to {@code peer}. */
    public static Launch send(String label, NcclCommunicator comm, Buffer source, int peer, int elementsPerToken) {
        return new PointToPoint(label, comm, cuda(source), peer, elementsPerToken, true);
    }

    /** A launch that receives {@code tokens · elementsPerToken} elements from {@code peer} into {@code destination}. */
    public static Launch recv(String label, NcclCommunicator comm, Buffer destination, int peer, int elementsPerToken) {
        return new PointToPoint(label, comm, cuda(destination), peer, elementsPerToken, false);
    }

    private static final class PointToPoint extends CudaLaunch {

        private final NcclCommunicator comm;
        private final CudaBuffer buffer;
        private final int peer;
        private final int elementsPerToken;
        private final boolean send;

        PointToPoint(String name, NcclCommunicator comm, CudaBuffer buffer, int peer, int elementsPerToken,
                     boolean send) {
            super(name);
            this.comm = comm;
            this.buffer = buffer;
            this.peer = peer;
            this.elementsPerToken = elementsPerToken;
            this.send = send;
        }

        @Override
        void enqueue(CudaStream stream, int tokens, int startPos) {
            long count = (long) elementsPerToken * tokens;
            if (tokens < 1 || count > buffer.length()) {
                throw new IllegalArgumentException(name() + ": " + count + " elements do not fit its buffer ("
                        + buffer.length() + ")");
            }
            if (send) {
                comm.send(buffer.pointer(), count, peer, stream.handle());
            } else {
                comm.recv(buffer.pointer(), count, peer, stream.handle());
            }
        }
    }
}
