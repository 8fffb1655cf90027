package dev.ppexec.dist;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Note [transport choice]: each link decided from both ends' facts, the same on both ends. */
class TransportChoiceTest {

    static final TransportChoice.Facts GPU_A = new TransportChoice.Facts("node-a", "boot-a", true);
    static final TransportChoice.Facts GPU_A2 = new TransportChoice.Facts("node-a", "boot-a", true);
    static final TransportChoice.Facts CPU_A = new TransportChoice.Facts("node-a", "boot-a", false);
    static final TransportChoice.Facts GPU_B = new TransportChoice.Facts("node-b", "boot-b", true);
    /** Same host name, another machine (containers named alike): not one host. */
    static final TransportChoice.Facts GPU_A_ELSEWHERE = new TransportChoice.Facts("node-a", "boot-x", true);

    @Test
    void auto_withACpuEnd_isHost_namingWhichEndRunsOnTheCpu() {
        assertThat(TransportChoice.auto.decide(CPU_A, GPU_A, 1)).isEqualTo(new TransportChoice.Decision(
                TransportChoice.host, "auto: this rank runs on the CPU, which only the gRPC path serves"));
        assertThat(TransportChoice.auto.decide(GPU_A, CPU_A, 1)).isEqualTo(new TransportChoice.Decision(
                TransportChoice.host, "auto: rank 1 runs on the CPU, which only the gRPC path serves"));
    }

    @Test
    void auto_betweenCudaRanksOfOneHost_isIpc_andAcrossHostsIsHost_sinceThisBuildHasNoNccl() {
        assertThat(TransportChoice.auto.decide(GPU_A, GPU_A2, 0)).isEqualTo(new TransportChoice.Decision(
                TransportChoice.ipc, "auto: rank 0 is on this host, both on CUDA"));
        assertThat(TransportChoice.auto.decide(GPU_B, GPU_A, 3)).isEqualTo(new TransportChoice.Decision(
                TransportChoice.host, "auto: rank 3 is on host node-a, and NCCL is not in this build"));
        assertThat(TransportChoice.auto.decide(GPU_A, GPU_A_ELSEWHERE, 3).transport()).as("a boot id tells hosts apart")
                .isEqualTo(TransportChoice.host);
    }

    @Test
    void bothEnds_decideTheirLinkAlike() {
        for (TransportChoice.Facts a : List.of(GPU_A, CPU_A, GPU_B, GPU_A_ELSEWHERE)) {
            for (TransportChoice.Facts b : List.of(GPU_A2, CPU_A, GPU_B)) {
                assertThat(TransportChoice.auto.decide(a, b, 1).transport()).as("%s -> %s", a, b)
                        .isEqualTo(TransportChoice.auto.decide(b, a, 0).transport());
            }
        }
    }

    @Test
    void ipc_whereALinkCannotHaveIt_isOneLineNamingWhy() {
        assertThatThrownBy(() -> TransportChoice.ipc.decide(CPU_A, GPU_A, 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("--transport ipc: this rank runs on the CPU; allowed: ipc between CUDA ranks of one host, "
                        + "else --transport auto or host");
        assertThatThrownBy(() -> TransportChoice.ipc.decide(GPU_A, CPU_A, 1))
                .hasMessageStartingWith("--transport ipc: rank 1 runs on the CPU; ");
        assertThatThrownBy(() -> TransportChoice.ipc.decide(GPU_A, GPU_B, 2))
                .hasMessageStartingWith("--transport ipc: rank 2 is on host node-b, not this one; ");
        assertThat(TransportChoice.ipc.decide(GPU_A, GPU_A2, 1))
                .isEqualTo(new TransportChoice.Decision(TransportChoice.ipc, "--transport ipc"));
    }

    @Test
    void host_isTakenAsAsked() {
        assertThat(TransportChoice.host.decide(GPU_A, GPU_A2, 1))
                .isEqualTo(new TransportChoice.Decision(TransportChoice.host, "--transport host"));
    }

    @Test
    void refusal_isNcclOnly_whichThisBuildLacks() {
        assertThat(TransportChoice.nccl.refusal()).contains(
                "--transport nccl: NCCL is not available in this build; allowed: auto, ipc, host");
        assertThat(TransportChoice.ipc.refusal()).isEmpty();
        assertThat(TransportChoice.auto.refusal()).isEmpty();
        assertThat(TransportChoice.host.refusal()).isEmpty();
    }

    @Test
    void facts_roundTripThroughTheStoreEncoding() {
        assertThat(TransportChoice.Facts.decode(GPU_B.encode())).isEqualTo(GPU_B);
        assertThat(TransportChoice.Facts.here(true).bootId()).as("read from /proc on Linux").isNotEqualTo("unknown");
    }
}
