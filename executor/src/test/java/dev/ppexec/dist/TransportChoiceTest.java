package dev.ppexec.dist;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

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
    void auto_betweenCudaRanks_isHostInThisBuild_sayingWhatIsMissing() {
        assertThat(TransportChoice.auto.decide(GPU_A, GPU_A2, 0).why())
                .isEqualTo("auto: rank 0 shares this host, and CUDA IPC is not in this build");
        assertThat(TransportChoice.auto.decide(GPU_A, GPU_B, 3).why())
                .isEqualTo("auto: rank 3 is on host node-b, and NCCL is not in this build");
        assertThat(TransportChoice.auto.decide(GPU_A, GPU_A_ELSEWHERE, 3).why()).as("a boot id tells hosts apart")
                .startsWith("auto: rank 3 is on host node-a");
    }

    @Test
    void host_isTakenAsAsked() {
        assertThat(TransportChoice.host.decide(GPU_A, GPU_A2, 1))
                .isEqualTo(new TransportChoice.Decision(TransportChoice.host, "--transport host"));
    }

    @Test
    void refusal_namesWhatThisBuildLacks_andAllowsAutoAndHost() {
        assertThat(TransportChoice.nccl.refusal()).hasValueSatisfying(l -> assertThat(l).startsWith("--transport nccl: "));
        assertThat(TransportChoice.ipc.refusal()).hasValueSatisfying(l -> assertThat(l).startsWith("--transport ipc: "));
        assertThat(TransportChoice.auto.refusal()).isEmpty();
        assertThat(TransportChoice.host.refusal()).isEmpty();
    }

    @Test
    void facts_roundTripThroughTheStoreEncoding() {
        assertThat(TransportChoice.Facts.decode(GPU_B.encode())).isEqualTo(GPU_B);
        assertThat(TransportChoice.Facts.here(true).bootId()).as("read from /proc on Linux").isNotEqualTo("unknown");
    }
}
