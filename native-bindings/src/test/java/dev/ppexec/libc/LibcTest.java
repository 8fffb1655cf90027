package dev.ppexec.libc;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class LibcTest {

    @Test
    void abs_bothHandles_computeCAbs() {
        for (int v : new int[] {-7, 0, 12345, -Integer.MAX_VALUE}) {
            assertThat(Libc.abs(v)).as("abs(%d)", v).isEqualTo(Math.abs(v));
            assertThat(Libc.absCritical(v)).as("abs(%d), critical", v).isEqualTo(Math.abs(v));
        }
    }
}
