package dev.ppexec.host;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class HostCpuTest {

    @Test
    void model_takesTheFirstModelNameAfterItsColon() {
        assertThat(HostCpu.model(List.of("processor\t: 0", "vendor_id\t: AuthenticAMD",
                "model name\t: AMD EPYC 9R14 96-Core Processor", "model name\t: other")))
                .contains("AMD EPYC 9R14 96-Core Processor");
    }

    @Test
    void model_withoutAModelName_isEmpty() {
        assertThat(HostCpu.model(List.of("processor\t: 0", "model name\t:   ", "Hardware\t: BCM2835"))).isEmpty();
    }
}
