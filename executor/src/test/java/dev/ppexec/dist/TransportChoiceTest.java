package dev.ppexec.dist;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Note [transport choice]: each link decided from both ends' facts, the same on both ends. */
class TransportChoiceTest {

    static final TransportChoice.Facts GPU_A = new TransportChoice.Facts("node-a", "boot-a", "cuda:0", false);
    static final TransportChoice.Facts GPU_A2 = new TransportChoice.Facts("node-a", "boot-a", "cuda:1", false);
    static final TransportChoice.Facts CPU_A = new TransportChoice.Facts("node-a", "boot-a", "", false);
    static final TransportChoice.Facts GPU_B = new TransportChoice.Facts("node-b", "boot-b", "cuda:0", false);
    /** Same host name, another machine (containers named alike): not one host. */
    static final TransportChoice.Facts GPU_A_ELSEWHERE = new TransportChoice.Facts("node-a", "boot-x", "cuda:0", false);
    /** The same, where NCCL loads. */
    static final TransportChoice.Facts NCCL_A = new TransportChoice.Facts("node-a", "boot-a", "cuda:0", true);
    static final TransportChoice.Facts NCCL_A1 = new TransportChoice.Facts("node-a", "boot-a", "cuda:1", true);
    static final TransportChoice.Facts NCCL_B = new TransportChoice.Facts("node-b", "boot-b", "cuda:0", true);

    @Test
    void auto_withACpuEnd_isHost_namingWhichEndRunsOnTheCpu() {
        assertThat(TransportChoice.auto.decide(CPU_A, GPU_A, 1)).isEqualTo(new TransportChoice.Decision(
                TransportChoice.host, "auto: this rank runs on the CPU, which only the gRPC path serves"));
        assertThat(TransportChoice.auto.decide(GPU_A, CPU_A, 1)).isEqualTo(new TransportChoice.Decision(
                TransportChoice.host, "auto: rank 1 runs on the CPU, which only the gRPC path serves"));
    }

    @Test
    void auto_betweenCudaRanksOfOneHost_isIpc_andAcrossHostsIsNcclWhereItLoadsAtBothEnds_elseHost() {
        assertThat(TransportChoice.auto.decide(GPU_A, GPU_A2, 0)).isEqualTo(new TransportChoice.Decision(
                TransportChoice.ipc, "auto: rank 0 is on this host, both on CUDA"));
        assertThat(TransportChoice.auto.decide(NCCL_A, NCCL_A1, 0).transport()).as("one host: ipc, even with NCCL")
                .isEqualTo(TransportChoice.ipc);
        assertThat(TransportChoice.auto.decide(NCCL_B, NCCL_A, 3)).isEqualTo(new TransportChoice.Decision(
                TransportChoice.nccl, "auto: rank 3 is on host node-a, both on CUDA with NCCL"));
        assertThat(TransportChoice.auto.decide(GPU_B, GPU_A, 3)).isEqualTo(new TransportChoice.Decision(
                TransportChoice.host, "auto: rank 3 is on host node-a, and NCCL does not load on either"));
        assertThat(TransportChoice.auto.decide(NCCL_B, GPU_A, 3).why()).endsWith("NCCL does not load on rank 3");
        assertThat(TransportChoice.auto.decide(GPU_B, NCCL_A, 3).why()).endsWith("NCCL does not load on this rank");
        assertThat(TransportChoice.auto.decide(GPU_A, GPU_A_ELSEWHERE, 3).transport()).as("a boot id tells hosts apart")
                .isEqualTo(TransportChoice.host);
    }

    @Test
    void nccl_isTakenBetweenRanksOnDifferentGpus_ofOneHostOrTwo() {
        assertThat(TransportChoice.nccl.decide(NCCL_A, NCCL_A1, 1))
                .isEqualTo(new TransportChoice.Decision(TransportChoice.nccl, "--transport nccl"));
        assertThat(TransportChoice.nccl.decide(NCCL_A, NCCL_B, 1).transport()).isEqualTo(TransportChoice.nccl);
    }

    @Test
    void nccl_whereALinkCannotHaveIt_isOneLineNamingWhy_includingNcclsOneGpuRule() {
        String allowed = "; allowed: nccl between CUDA ranks on different GPUs, else --transport auto, ipc or host";
        assertThatThrownBy(() -> TransportChoice.nccl.decide(NCCL_A, NCCL_A, 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("--transport nccl: rank 1 and this rank share cuda:0 of this host, and NCCL refuses two "
                        + "ranks of one communicator on one GPU" + allowed);
        assertThatThrownBy(() -> TransportChoice.nccl.decide(NCCL_A, GPU_A2, 1))
                .hasMessage("--transport nccl: rank 1 cannot load NCCL (its own lines say why)" + allowed);
        assertThatThrownBy(() -> TransportChoice.nccl.decide(CPU_A, NCCL_A, 1))
                .hasMessage("--transport nccl: this rank runs on the CPU" + allowed);
    }

    @Test
    void bothEnds_decideTheirLinkAlike() {
        for (TransportChoice.Facts a : List.of(GPU_A, CPU_A, GPU_B, GPU_A_ELSEWHERE, NCCL_A, NCCL_B)) {
            for (TransportChoice.Facts b : List.of(GPU_A2, CPU_A, GPU_B, NCCL_A1, NCCL_B)) {
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
    void facts_roundTripThroughTheStoreEncoding() {
        assertThat(TransportChoice.Facts.decode(GPU_B.encode())).isEqualTo(GPU_B);
        assertThat(TransportChoice.Facts.decode(NCCL_A1.encode())).isEqualTo(NCCL_A1);
        assertThat(TransportChoice.Facts.decode(CPU_A.encode())).isEqualTo(CPU_A);
        assertThat(TransportChoice.Facts.here("cuda:0", false).bootId()).as("read from /proc on Linux")
                .isNotEqualTo("unknown");
    }
}
