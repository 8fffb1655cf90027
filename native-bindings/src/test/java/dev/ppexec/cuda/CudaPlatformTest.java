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
}
