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
 * one host (Note [cuda ipc] in IpcLinks), NCCL between CUDA ranks of different hosts when NCCL loads, and host
 * staging over gRPC otherwise (on the CPU that is the only path). This build has no NCCL: {@code auto} never takes
 * it, and asking for it is bad input.
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

    /** The check that needs no peer: a transport this build lacks, as one line naming the option, value and what is allowed. */
    public Optional<String> refusal() {
        return this == nccl ? Optional.of("--transport nccl: NCCL is not available in this build; allowed: auto, ipc, host")
                : Optional.empty();
    }

    /**
     * The link between {@code self} and {@code peer} (rank {@code peerRank}); the same answer on both ends.
     *
     * @throws IllegalArgumentException when {@code --transport ipc} cannot serve this link, in one line
     */
    public Decision decide(Facts self, Facts peer, int peerRank) {
        if (this == host) {
            return new Decision(host, "--transport host");
        }
        boolean cuda = self.cuda() && peer.cuda();
        boolean sameHost = self.sameHost(peer);
        if (this == ipc) {
            if (!cuda || !sameHost) {
                throw new IllegalArgumentException("--transport ipc: " + (!cuda
                        ? onTheCpu(self, peerRank)
                        : "rank " + peerRank + " is on host " + peer.host() + ", not this one")
                        + "; allowed: ipc between CUDA ranks of one host, else --transport auto or host");
            }
            return new Decision(ipc, "--transport ipc");
        }
        if (!cuda) {
            return new Decision(host, "auto: " + onTheCpu(self, peerRank) + ", which only the gRPC path serves");
        }
        if (sameHost) {
            return new Decision(ipc, "auto: rank " + peerRank + " is on this host, both on CUDA");
        }
        return new Decision(host, "auto: rank " + peerRank + " is on host " + peer.host()
                + ", and NCCL is not in this build");
    }

    /** Which end of a link with a CPU rank runs on the CPU, in words. */
    private static String onTheCpu(Facts self, int peerRank) {
        return (self.cuda() ? "rank " + peerRank + " runs" : "this rank runs") + " on the CPU";
    }
}
