package dev.ppexec.cuda;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * {@code table[requests[b]][step] = ids[b]}, in stream order (Note [host callbacks]): an
 * asynchronous copy of the ids to the buffer's page-locked mirror, then a host callback that fills
 * the table. Registered with {@link HostCallbacks} until the ids buffer is closed.
 */
final class TokensToHostLaunch extends CudaLaunch implements HostCallbacks.Target {

    private final long ids;
    private final MemorySegment mirror;
    private final int[][] table;
    private final int[] requests;
    private final int id;
    private volatile CudaStream lastStream;

    TokensToHostLaunch(String name, CudaBuffer ids, int[][] table, int[] requests) {
        super(name);
        if (requests.length > ids.length()) {
            throw new IllegalArgumentException(name + ": " + requests.length + " requests but the ids buffer holds "
                    + ids.length());
        }
        this.ids = ids.pointer();
        this.mirror = ids.hostMirror();
        this.table = table;
        this.requests = requests.clone();
        this.id = HostCallbacks.register(this);
        ids.onClose(() -> HostCallbacks.unregister(id));
    }

    @Override
    void enqueue(CudaStream stream, int tokens, int step) {
        lastStream = stream;
        CudaDriver driver = stream.cudaDevice().driver();
        driver.memcpyDtoHAsync(mirror.address(), ids, (long) requests.length * Integer.BYTES, stream.handle());
        driver.launchHostFunction(stream.handle(), HostCallbacks.stub(), HostCallbacks.userData(id, step));
    }

    @Override
    public void run(int step) {
        for (int b = 0; b < requests.length; b++) {
            table[requests[b]][step] = mirror.getAtIndex(ValueLayout.JAVA_INT, b);
        }
    }

    @Override
    public void failed(Throwable cause) {
        CudaStream stream = lastStream;
        if (stream != null) {
            stream.failed(name(), cause);
        }
    }
}
