package dev.ppexec.nccl;

import java.util.Arrays;
import java.util.HexFormat;

/**
 * The 128-byte {@code ncclUniqueId} that rank 0 makes with {@link Nccl#uniqueId()} and every rank passes to
 * {@link Nccl#initRank}: a value, to be carried over the control plane as its {@link #bytes()}.
 */
public final class NcclUniqueId {

    /** {@code NCCL_UNIQUE_ID_BYTES}. */
    public static final int BYTES = 128;

    private final byte[] bytes;

    private NcclUniqueId(byte[] bytes) {
        this.bytes = bytes;
    }

    /** The id whose bytes are {@code bytes} (copied); exactly {@link #BYTES} of them. */
    public static NcclUniqueId of(byte[] bytes) {
        if (bytes.length != BYTES) {
            throw new IllegalArgumentException("an NCCL unique id has " + BYTES + " bytes, not " + bytes.length);
        }
        return new NcclUniqueId(bytes.clone());
    }

    /** A copy of the id's bytes. */
    public byte[] bytes() {
        return bytes.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof NcclUniqueId other && Arrays.equals(bytes, other.bytes);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(bytes);
    }

    /** The first 8 bytes in hex: enough to tell two ids apart in a log, not enough to join a communicator. */
    @Override
    public String toString() {
        return "NcclUniqueId[" + HexFormat.of().formatHex(bytes, 0, 8) + "…]";
    }
}
