package dev.ppexec.dist;

import io.grpc.Metadata;
import io.grpc.MethodDescriptor;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/**
 * The gRPC methods between rank processes, over a hand-written byte marshaller: the messages are a few fields
 * (Note [wire format]), so neither protoc nor a protobuf runtime is needed, and an activation travels as the raw
 * bytes the staging wrote, not as a repeated-float message copied once more.
 */
final class Wire {

    /*
     * Note [wire format]
     * Store: Set = key (UTF), value (int length + bytes) → empty; Get = key, wait millis (long) → value, or
     * ABORTED with the abort's reason; Watch = rank (int) → at most one message, the abort's reason (UTF), while the
     * call's life says the rank is there (Note [who is there]); Heartbeat = rank (int) → empty, or ABORTED with the
     * abort's reason (Note [heartbeats] in Heartbeat); Clock = empty → rank 0's clock (long, epoch
     * nanoseconds of its EpochClock: Note [clock offset] in ClockOffset). Data: Push, one client stream per sending process:
     * each message is [from rank, micro-batch, step, elements, context bytes] as little-endian ints, the
     * requests' W3C traceparents of a traced run's step 0 (ASCII, comma-separated, in the micro-batch's order; Note
     * [one trace across processes] in WorldTrace), then the elements' 4-byte values (CpuStaging), in the receiver's
     * order of RECVs for that micro-batch.
     */

    static final Metadata.Key<String> TOKEN = Metadata.Key.of("ppexec-world-token", Metadata.ASCII_STRING_MARSHALLER);

    /** Bytes of an envelope's fixed fields, before its trace contexts and the payload. */
    static final int ENVELOPE_BYTES = 20;

    static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(byte[] value) {
            return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
            try {
                return stream.readAllBytes();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    };

    static final MethodDescriptor<byte[], byte[]> SET = method("ppexec.Store/Set", MethodDescriptor.MethodType.UNARY);
    static final MethodDescriptor<byte[], byte[]> GET = method("ppexec.Store/Get", MethodDescriptor.MethodType.UNARY);
    static final MethodDescriptor<byte[], byte[]> CLOCK = method("ppexec.Store/Clock", MethodDescriptor.MethodType.UNARY);
    static final MethodDescriptor<byte[], byte[]> HEARTBEAT = method("ppexec.Store/Heartbeat",
            MethodDescriptor.MethodType.UNARY);
    static final MethodDescriptor<byte[], byte[]> WATCH = method("ppexec.Store/Watch",
            MethodDescriptor.MethodType.SERVER_STREAMING);
    static final MethodDescriptor<byte[], byte[]> PUSH = method("ppexec.Data/Push",
            MethodDescriptor.MethodType.CLIENT_STREAMING);

    private Wire() {
    }

    private static MethodDescriptor<byte[], byte[]> method(String name, MethodDescriptor.MethodType type) {
        return MethodDescriptor.<byte[], byte[]>newBuilder().setFullMethodName(name).setType(type)
                .setRequestMarshaller(BYTES).setResponseMarshaller(BYTES).build();
    }

    /** A message of UTF strings, byte arrays (length-prefixed) and longs, written in order. */
    static byte[] encode(Object... fields) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            for (Object f : fields) {
                switch (f) {
                    case String s -> out.writeUTF(s);
                    case byte[] b -> {
                        out.writeInt(b.length);
                        out.write(b);
                    }
                    case Long l -> out.writeLong(l);
                    case Integer i -> out.writeInt(i);
                    default -> throw new IllegalArgumentException("no wire form for " + f.getClass());
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    static DataInputStream decode(byte[] message) {
        return new DataInputStream(new ByteArrayInputStream(message));
    }

    static byte[] bytes(DataInputStream in) throws IOException {
        byte[] b = new byte[in.readInt()];
        in.readFully(b);
        return b;
    }
}
