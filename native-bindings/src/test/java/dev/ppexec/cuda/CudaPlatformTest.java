package dev.ppexec.cuda;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Without a usable driver the backend is unavailable with a reason, and nothing can be opened. */
class CudaPlatformTest {

    @Test
    void missingDriver_isTheReason_andOpeningFails() {
        CudaPlatform p = CudaPlatform.detect(new CudaPlatform.Config("libppexec-no-such-driver.so.1", Optional.empty(),
                Optional.of(new byte[1])));
        assertThat(p.unavailableReason()).contains("no CUDA driver (libppexec-no-such-driver.so.1 not loadable)");
        assertThat(p.devices()).isEmpty();
        assertThat(p.driver()).isEmpty();
        assertThatThrownBy(() -> p.open(List.of(0), false))
                .hasMessage("no CUDA driver (libppexec-no-such-driver.so.1 not loadable)");
    }

    @Test
    void systemProperties_chooseTheDriverLibrary() {
        String previous = System.getProperty(CudaPlatform.DRIVER_PROPERTY);
        System.setProperty(CudaPlatform.DRIVER_PROPERTY, "libppexec-other-driver.so.1");
        try {
            assertThat(CudaPlatform.detect().unavailableReason())
                    .contains("no CUDA driver (libppexec-other-driver.so.1 not loadable)");
        } finally {
            if (previous == null) {
                System.clearProperty(CudaPlatform.DRIVER_PROPERTY);
            } else {
                System.setProperty(CudaPlatform.DRIVER_PROPERTY, previous);
            }
        }
    }

    @Test
    void cublas_missingLibrary_isDescribed() {
        Cublas.Lookup none = Cublas.open(Optional.of("libppexec-no-such-cublas.so"));
        assertThat(none.cublas()).isEmpty();
        assertThat(none.description()).startsWith("cuBLAS not loadable (libppexec-no-such-cublas.so: ");
    }

    @Test
    void peakMemoryBandwidth_isTwoTransfersPerClockOfTheBusWidth() {
        // The attribute values deviceQuery prints for an H100 SXM (2619 MHz, 5120-bit) and an H200 (3201 MHz,
        // 6144-bit); NVIDIA's published peaks are 3.35 TB/s and 4.8 TB/s.
        CudaPlatform.DeviceInfo h100 = new CudaPlatform.DeviceInfo(0, "NVIDIA H100 80GB HBM3", 80L << 30, 9, 0, 2_619_000, 5120);
        CudaPlatform.DeviceInfo h200 = new CudaPlatform.DeviceInfo(1, "NVIDIA H200", 141L << 30, 9, 0, 3_201_000, 6144);
        assertThat(h100.peakMemoryBytesPerSecond()).isEqualTo(2 * 2_619_000e3 * 640); // 3.352 TB/s
        assertThat(h200.peakMemoryBytesPerSecond()).isEqualTo(2 * 3_201_000e3 * 768); // 4.917 TB/s
        assertThat(h200.describeMemory())
                .isEqualTo("cuda:1  memory bandwidth peak 4916.7 GB/s (6144-bit bus, memory clock 3201 MHz)");
        CudaPlatform.DeviceInfo silent = new CudaPlatform.DeviceInfo(2, "old", 1L << 30, 8, 0, 0, 5120);
        assertThat(silent.peakMemoryBytesPerSecond()).isZero();
        assertThat(silent.describeMemory()).startsWith("cuda:2  memory bandwidth peak unknown");
    }
}
