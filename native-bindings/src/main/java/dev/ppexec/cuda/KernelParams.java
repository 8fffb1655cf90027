package dev.ppexec.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The argument block of one prepared kernel launch, as {@code cuLaunchKernel} takes it: an array of
 * pointers, one per kernel argument, each to an 8-byte slot holding the value. Allocated once when
 * the launch is built (an automatic arena: freed with the launch); a launch then only rewrites the
 * slots that change per step (tokens, start position) before calling the driver, which copies the
 * values at the call.
 */
final class KernelParams {

    private final MemorySegment pointers; // void*[count]
    private final MemorySegment values;   // count 8-byte slots

    KernelParams(int count) {
        MemorySegment block = Arena.ofAuto().allocate(16L * count, 8);
        this.pointers = block.asSlice(0, 8L * count);
        this.values = block.asSlice(8L * count, 8L * count);
        for (int i = 0; i < count; i++) {
            pointers.setAtIndex(ValueLayout.ADDRESS, i, values.asSlice(8L * i, 8));
        }
    }

    /** {@code kernelParams} for cuLaunchKernel. */
    MemorySegment pointers() {
        return pointers;
    }

    KernelParams setPointer(int index, long address) {
        return setLong(index, address);
    }

    KernelParams setLong(int index, long value) {
        values.set(ValueLayout.JAVA_LONG, 8L * index, value);
        return this;
    }

    KernelParams setInt(int index, int value) {
        values.set(ValueLayout.JAVA_INT, 8L * index, value);
        return this;
    }

    KernelParams setFloat(int index, float value) {
        values.set(ValueLayout.JAVA_FLOAT, 8L * index, value);
        return this;
    }

    KernelParams setDouble(int index, double value) {
        values.set(ValueLayout.JAVA_DOUBLE, 8L * index, value);
        return this;
    }
}
