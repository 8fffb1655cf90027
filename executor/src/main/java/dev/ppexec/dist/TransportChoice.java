package dev.ppexec.dist;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * {@code --transport auto|nccl|ipc|host}: how the hand-offs between two neighbouring rank processes travel.
 *
 * <p>Note [transport choice]: every rank publishes where it runs ({@link Facts}: host name, boot id, CUDA or not)
 * in the store; each link (sender, receiver) is then decided by {@link #decide} from the two ends' facts, the same
 * function on both ends, so they agree without another round trip. {@code auto} takes CUDA IPC between CUDA ranks of
 * one host, NCCL between CUDA ranks of different hosts when NCCL loads, and host staging over gRPC otherwise (on the
 * CPU that is the only path). This build has neither NCCL nor CUDA IPC: {@code auto} is {@code host} and says why;
 * asking for either is bad input.
 */
public enum TransportChoice {
    auto, nccl, ipc, host;

    /** Where a rank runs: what decides its links. {@code bootId} tells two machines of one host name apart. */
    public record Facts(String host, String bootId, boolean cuda) {

        /** This process's facts. */
        public static Facts here(boolean cuda) {
            String host;
            try {
                host = InetAddress.getLocalHost().getHostName();
            } catch (IOException e) {
                host = "unknown";
            }
            String boot;
            try {
                boot = Files.readString(Path.of("/proc/sys/kernel/random/boot_id")).strip();
            } catch (IOException e) {
                boot = "unknown";
            }
            return new Facts(host, boot, cuda);
        }

        byte[] encode() {
            return (host + "\n" + bootId + "\n" + cuda).getBytes(StandardCharsets.UTF_8);
        }

        static Facts decode(byte[] bytes) {
            String[] f = new String(bytes, StandardCharsets.UTF_8).split("\n", -1);
            return new Facts(f[0], f[1], Boolean.parseBoolean(f[2]));
        }

        boolean sameHost(Facts other) {
            return host.equals(other.host) && bootId.equals(other.bootId);
        }
    }

    /** What a link uses and why, in words for the run's transport line. */
    public record Decision(TransportChoice transport, String why) {
    }

    /**
     * The checks that need no peer: a transport this build or this rank cannot use, as one line naming the option,
     * the value and what is allowed.
     */
    public Optional<String> refusal() {
        return switch (this) {
            case nccl -> Optional.of("--transport nccl: NCCL is not available in this build; allowed: auto, host");
            case ipc -> Optional.of("--transport ipc: CUDA IPC is not available in this build; allowed: auto, host");
            case auto, host -> Optional.empty();
        };
    }

    /** The link between {@code self} and {@code peer} (rank {@code peerRank}); the same answer on both ends. */
    public Decision decide(Facts self, Facts peer, int peerRank) {
        if (this == host) {
            return new Decision(host, "--transport host");
        }
        if (!self.cuda() || !peer.cuda()) {
            return new Decision(host, "auto: " + (self.cuda() ? "rank " + peerRank + " runs" : "this rank runs")
                    + " on the CPU, which only the gRPC path serves");
        }
        if (self.sameHost(peer)) {
            return new Decision(host, "auto: rank " + peerRank + " shares this host, and CUDA IPC is not in this build");
        }
        return new Decision(host, "auto: rank " + peerRank + " is on host " + peer.host()
                + ", and NCCL is not in this build");
    }
}
