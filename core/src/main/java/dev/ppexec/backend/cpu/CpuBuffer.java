package dev.ppexec.backend.cpu;

import dev.ppexec.backend.Buffer;

/** CPU device memory: a Java array of floats or ints. */
final class CpuBuffer implements Buffer {

    final float[] floats;
    final int[] ints;

    private CpuBuffer(float[] floats, int[] ints) {
        this.floats = floats;
        this.ints = ints;
    }

    static CpuBuffer ofFloats(float[] values) {
        return new CpuBuffer(values, null);
    }

    static CpuBuffer ofInts(int[] values) {
        return new CpuBuffer(null, values);
    }

    @Override
    public Type type() {
        return floats != null ? Type.FLOAT32 : Type.INT32;
    }

    @Override
    public long length() {
        return floats != null ? floats.length : ints.length;
    }

    static float[] floats(Buffer b, String what) {
        CpuBuffer c = (CpuBuffer) b;
        if (c.floats == null) {
            throw new IllegalArgumentException(what + " must be a FLOAT32 buffer, got INT32");
        }
        return c.floats;
    }

    static int[] ints(Buffer b, String what) {
        CpuBuffer c = (CpuBuffer) b;
        if (c.ints == null) {
            throw new IllegalArgumentException(what + " must be an INT32 buffer, got FLOAT32");
        }
        return c.ints;
    }

    @Override
    public void close() {
        // Heap memory: the garbage collector frees it.
    }
}
