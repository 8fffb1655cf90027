package dev.ppexec.cuda;

import dev.ppexec.backend.Launch;

/** A launch prepared by a {@link CudaDevice}: enqueues its work on a stream of that device. */
abstract class CudaLaunch implements Launch {

    private final String name;

    CudaLaunch(String name) {
        this.name = name;
    }

    @Override
    public final String name() {
        return name;
    }

    /**
     * Enqueues the work for this step; the stream's device context is current. Throws when the
     * driver refuses or a precondition fails; the stream turns that into its failure.
     */
    abstract void enqueue(CudaStream stream, int tokens, int startPos);

    @Override
    public String toString() {
        return name;
    }
}
