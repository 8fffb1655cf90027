package dev.ppexec.backend.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class CpuInfoTest {

    @Test
    void x86With256BitSpecies_has16Registers_andGetsThe6x2Tile() {
        CpuInfo avx2 = CpuInfo.of("AMD EPYC", "amd64", 2, 256);
        assertThat(avx2.vectorRegisters()).isEqualTo(16);
        assertThat(avx2.lanes()).isEqualTo(8);
        assertThat(avx2.tile()).isEqualTo(MatMulTile.ROWS6_VECTORS2);
        assertThat(avx2.tileReason()).isEqualTo("15 of 16 vector registers (x86 with a 256-bit species: AVX2 or narrower, ymm0-15)");
    }

    @Test
    void x86With512BitSpecies_has32Registers_andGetsThe4x4Tile() {
        CpuInfo avx512 = CpuInfo.of("AMD EPYC", "x86_64", 2, 512);
        assertThat(avx512.vectorRegisters()).isEqualTo(32);
        assertThat(avx512.tile()).isEqualTo(MatMulTile.ROWS4_VECTORS4);
    }

    @Test
    void aarch64_has32Registers_whateverTheWidth() {
        assertThat(CpuInfo.of("Neoverse", "aarch64", 4, 128).tile()).isEqualTo(MatMulTile.ROWS4_VECTORS4);
        assertThat(CpuInfo.of("riscv", "riscv64", 4, 128).vectorRegisters()).isEqualTo(16);
    }

    @Test
    void everyTile_fitsTheRegistersOfTheMachinesItIsChosenFor() {
        for (int registers : new int[] {16, 32}) {
            MatMulTile tile = MatMulTile.forRegisters(registers);
            assertThat(tile.registers()).as("%s on %d registers", tile, registers).isLessThanOrEqualTo(registers);
            assertThat(tile.rows() * tile.vectors() + tile.vectors() + 1).as("accumulators + weights + broadcast of %s", tile)
                    .isEqualTo(tile.registers());
            // the one-pass (decode) strips hold onePassRows × 2 accumulators, 2 weight vectors and a broadcast
            assertThat(tile.onePassRows() * 2 + 2 + 1).as("one-pass registers of %s", tile).isLessThanOrEqualTo(registers);
        }
    }

    @Test
    void current_describesThisJvm() {
        CpuInfo info = CpuInfo.current();
        assertThat(info.vectorBits()).isEqualTo(jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.vectorBitSize());
        assertThat(info.arch()).isEqualTo(System.getProperty("os.arch"));
        assertThat(info.describe()).startsWith(info.model() + ", " + info.arch() + ", ")
                .contains("matmul tile " + MatMulTile.selected() + ": ");
    }

    @Test
    void parse_acceptsEveryLabel_andRejectsOthersNamingThePropertyAndTheAllowedOnes() {
        for (MatMulTile tile : MatMulTile.values()) {
            assertThat(MatMulTile.parse(tile.label())).isEqualTo(tile);
        }
        assertThatThrownBy(() -> MatMulTile.parse("5x5")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("ppexec.matmul.tile = '5x5' is not a matmul tile: allowed 4x4, 6x2");
    }

    @Test
    void selected_followsTheProperty_whenSet() {
        String before = System.getProperty(MatMulTile.PROPERTY);
        try {
            System.setProperty(MatMulTile.PROPERTY, "6x2");
            assertThat(MatMulTile.selected()).isEqualTo(MatMulTile.ROWS6_VECTORS2);
            assertThat(MatMulTile.selectedReason()).isEqualTo("forced by -Dppexec.matmul.tile=6x2");
            System.setProperty(MatMulTile.PROPERTY, "4x4");
            try (CpuDevice device = new CpuDevice()) {
                assertThat(((CpuMatrix) device.uploadMatrix(new float[4], 2, 2)).packed().tile())
                        .isEqualTo(MatMulTile.ROWS4_VECTORS4);
            }
        } finally {
            if (before == null) {
                System.clearProperty(MatMulTile.PROPERTY);
            } else {
                System.setProperty(MatMulTile.PROPERTY, before);
            }
        }
        assertThat(MatMulTile.selected()).isEqualTo(before == null ? CpuInfo.current().tile() : MatMulTile.parse(before));
    }
}
