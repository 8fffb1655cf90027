package dev.ppexec.dist;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * {@code --transport auto|nccl|ipc|host}: how the hand-offs between two neighbouring rank processes travel.
 *
 * <p>Note [transport choice]: every rank publishes where it runs ({@link Facts}: host name, boot id, CUDA or not)
 * in the store; each link (sender, receiver) is then decided by {@link #decide} from the two ends' facts, the same
 * function on both ends, so they agree without another round trip. {@code auto} takes CUDA IPC between CUDA ranks of
 * one host (Note [cuda ipc] in IpcLinks), NCCL between CUDA ranks of different hosts when NCCL loads at both ends
 * (Note [nccl links] in NcclLinks), and host staging over gRPC otherwise (on the CPU that is the only path).
 * {@code --transport nccl} is refused, as NCCL itself would refuse it, between two ranks on one GPU.
 */
public enum TransportChoice {
    auto, nccl, ipc, host;

    /**
     * Where a rank runs: what decides its links. {@code bootId} tells two machines of one host name apart;
     * {@code device} is the rank's CUDA device ({@code cuda:0}), empty on the CPU; {@code nccl} whether NCCL loads.
     */
    public record Facts(String host, String bootId, String device, boolean nccl) {

        /** This process's facts, for a rank on {@code device} (empty: the CPU). */
        public static Facts here(String device, boolean nccl) {
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
            return new Facts(host, boot, device, nccl);
        }

        boolean cuda() {
            return !device.isEmpty();
        }

        byte[] encode() {
            return (host + "\n" + bootId + "\n" + device + "\n" + nccl).getBytes(StandardCharsets.UTF_8);
        }

        static Facts decode(byte[] bytes) {
            String[] f = new String(bytes, StandardCharsets.UTF_8).split("\n", -1);
            return new Facts(f[0], f[1], f[2], Boolean.parseBoolean(f[3]));
        }

        boolean sameHost(Facts other) {
            return host.equals(other.host) && bootId.equals(other.bootId);
        }
    }

    /** What a link uses and why, in words for the run's transport line. */
    public record Decision(TransportChoice transport, String why) {
    }

    /**
     * The link between {@code self} and {@code peer} (rank {@code peerRank}); the same answer on both ends.
     *
     * @throws IllegalArgumentException when {@code --transport ipc} or {@code nccl} cannot serve this link, in one line
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
        if (this == nccl) {
            String refused = !cuda ? onTheCpu(self, peerRank)
                    : !peer.nccl() ? "rank " + peerRank + " cannot load NCCL (its own lines say why)"
                    : sameHost && self.device().equals(peer.device()) ? "rank " + peerRank + " and this rank share "
                    + self.device() + " of this host, and NCCL refuses two ranks of one communicator on one GPU"
                    : null;
            if (refused != null) {
                throw new IllegalArgumentException("--transport nccl: " + refused + "; allowed: nccl between CUDA ranks "
                        + "on different GPUs, else --transport auto, ipc or host");
            }
            return new Decision(nccl, "--transport nccl");
        }
        if (!cuda) {
            return new Decision(host, "auto: " + onTheCpu(self, peerRank) + ", which only the gRPC path serves");
        }
        if (sameHost) {
            return new Decision(ipc, "auto: rank " + peerRank + " is on this host, both on CUDA");
        }
        String where = "auto: rank " + peerRank + " is on host " + peer.host();
        if (self.nccl() && peer.nccl()) {
            return new Decision(nccl, where + ", both on CUDA with NCCL");
        }
        return new Decision(host, where + ", and NCCL does not load on " + (self.nccl() ? "rank " + peerRank
                : peer.nccl() ? "this rank" : "either"));
    }

    /** Which end of a link with a CPU rank runs on the CPU, in words. */
    private static String onTheCpu(Facts self, int peerRank) {
        return (self.cuda() ? "rank " + peerRank + " runs" : "this rank runs") + " on the CPU";
    }
}
