package dev.ppexec.backend.cpu;

import dev.ppexec.backend.Buffer;

/** Test-only: the host array behind a CPU buffer, for tests in other packages that read results. */
public final class CpuBufferAccess {

    private CpuBufferAccess() {}

    /** The live array of a FLOAT32 CPU buffer (not a copy). */
    public static float[] floats(Buffer buffer) {
        return CpuBuffer.floats(buffer, "buffer");
    }
}
