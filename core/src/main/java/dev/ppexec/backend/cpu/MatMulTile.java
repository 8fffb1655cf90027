package dev.ppexec.backend.cpu;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The register tile of {@link MatMul}: how many rows of {@code x} and how many vectors of a {@link PackedMatrix}
 * panel one kernel call keeps in accumulator registers. A {@link PackedMatrix} is packed for one tile (its panel
 * is {@link #vectors()} vectors wide) and {@link MatMul} runs that tile's kernels on it, so tests can run every
 * tile in one JVM. Which tile is used when none is named: {@link #selected()}.
 *
 * <p>Registers per tile: {@code rows × vectors} accumulators, {@code vectors} weight vectors and one broadcast.
 * A tile that needs more registers than the machine has spills accumulators to the stack on every step of the
 * {@code k} loop (measured on an AVX2 EPYC: the 4×4 tile, 21 registers of 16, ran at 0.54× OpenBLAS). Whatever
 * the tile, every output element is the same FMA chain (Note [matmul reduction order] in {@link MatMul}), so the
 * results are bit-identical across tiles.
 *
 * <p>Decode shapes (few rows): with at most {@link #onePassRows()} rows, {@link MatMul} takes all rows at once
 * over 2-vector strips of each panel ({@code rows × 2} accumulators), so each weight is read once for all rows.
 */
public enum MatMulTile {
    /** 4 rows × 4 vectors: 16 accumulators + 4 weights + 1 broadcast = 21 registers; up to 8 rows in one pass (19). */
    ROWS4_VECTORS4("4x4", 4, 4, 8, 21),
    /** 6 rows × 2 vectors: 12 accumulators + 2 weights + 1 broadcast = 15 registers; up to 6 rows in one pass. */
    ROWS6_VECTORS2("6x2", 6, 2, 6, 15);

    /** The system property that forces a tile by its {@link #label()}, e.g. {@code -Dppexec.matmul.tile=6x2}. */
    public static final String PROPERTY = "ppexec.matmul.tile";

    private final String label;
    private final int rows;
    private final int vectors;
    private final int onePassRows;
    private final int registers;

    MatMulTile(String label, int rows, int vectors, int onePassRows, int registers) {
        this.label = label;
        this.rows = rows;
        this.vectors = vectors;
        this.onePassRows = onePassRows;
        this.registers = registers;
    }

    /** {@code "4x4"}: rows × vectors, the value {@link #PROPERTY} takes. */
    public String label() {
        return label;
    }

    /** Rows of {@code x} per tile. */
    public int rows() {
        return rows;
    }

    /** Vectors per tile row, which is also the packed panel width in vectors. */
    public int vectors() {
        return vectors;
    }

    /** Up to this many rows are computed in one pass over the weights (the decode shape). */
    public int onePassRows() {
        return onePassRows;
    }

    /** Vector registers the main tile's inner loop needs. */
    public int registers() {
        return registers;
    }

    /** The widest tile that fits {@code vectorRegisters} without spilling. */
    public static MatMulTile forRegisters(int vectorRegisters) {
        return vectorRegisters >= ROWS4_VECTORS4.registers ? ROWS4_VECTORS4 : ROWS6_VECTORS2;
    }

    /**
     * The tile named by {@code label} ({@code "4x4"} or {@code "6x2"}).
     *
     * @throws IllegalArgumentException naming the property, the value and the allowed ones
     */
    public static MatMulTile parse(String label) {
        for (MatMulTile t : values()) {
            if (t.label.equals(label.strip().toLowerCase(Locale.ROOT))) {
                return t;
            }
        }
        throw new IllegalArgumentException(PROPERTY + " = '" + label + "' is not a matmul tile: allowed "
                + Arrays.stream(values()).map(MatMulTile::label).collect(Collectors.joining(", ")));
    }

    /**
     * The tile {@link PackedMatrix#pack(float[], int, int)} uses: the one {@link #PROPERTY} names, else
     * {@link CpuInfo#tile()}, the one that fits this machine's vector registers.
     *
     * @throws IllegalArgumentException if the property is set to something else than a tile's label
     */
    public static MatMulTile selected() {
        String forced = System.getProperty(PROPERTY);
        return forced == null ? CpuInfo.current().tile() : parse(forced);
    }

    /** Why {@link #selected()} is what it is, in a few words. */
    public static String selectedReason() {
        String forced = System.getProperty(PROPERTY);
        return forced == null ? CpuInfo.current().tileReason() : "forced by -D" + PROPERTY + "=" + forced;
    }

    @Override
    public String toString() {
        return label;
    }
}
