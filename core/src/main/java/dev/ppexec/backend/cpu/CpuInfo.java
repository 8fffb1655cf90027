package dev.ppexec.backend.cpu;

import dev.ppexec.host.HostCpu;
import jdk.incubator.vector.FloatVector;

/**
 * The CPU the JVM runs on, as the CPU backend sees it: model name, architecture, cores, the preferred vector
 * width and the vector registers the JIT can use, and the {@link MatMulTile} that fits them. The model name
 * comes from {@link HostCpu}, the one reader of {@code /proc/cpuinfo}; {@code ppexec devices} and the matmul
 * benchmarks print {@link #describe()}.
 *
 * <p>Vector registers, from the architecture and the preferred species (which follows what the JIT uses, so
 * {@code -XX:UseAVX=2} on an AVX-512 CPU gives a 256-bit species and 16 registers): x86 with a 512-bit species
 * means AVX-512 is in use, 32 registers (zmm0–31); x86 narrower, AVX2 or less, 16 (ymm0–15); AArch64, NEON or
 * SVE, 32; anything else is assumed to have 16.
 *
 * @param model           the CPU's model name ({@link HostCpu#model()}), else the architecture
 * @param arch            {@code os.arch}
 * @param cores           processors available to the JVM
 * @param vectorBits      bits of {@link FloatVector#SPECIES_PREFERRED}
 * @param vectorRegisters vector registers the JIT can allocate
 * @param registersReason why {@code vectorRegisters} is what it is
 */
public record CpuInfo(String model, String arch, int cores, int vectorBits, int vectorRegisters,
                      String registersReason) {

    private static final class Holder {
        static final CpuInfo CURRENT = detect();
    }

    /** This machine, detected once. */
    public static CpuInfo current() {
        return Holder.CURRENT;
    }

    /** This CPU ({@link HostCpu}; without a model name, the architecture stands for it) and this JVM. */
    private static CpuInfo detect() {
        String arch = System.getProperty("os.arch");
        return of(HostCpu.model().orElse(arch), arch, HostCpu.cores(), FloatVector.SPECIES_PREFERRED.vectorBitSize());
    }

    /** The description of a CPU with the given architecture and preferred vector width. */
    static CpuInfo of(String model, String arch, int cores, int vectorBits) {
        return switch (arch) {
            case "amd64", "x86_64" -> vectorBits >= 512
                    ? new CpuInfo(model, arch, cores, vectorBits, 32, "x86 with a 512-bit species: AVX-512, zmm0-31")
                    : new CpuInfo(model, arch, cores, vectorBits, 16, "x86 with a " + vectorBits
                            + "-bit species: AVX2 or narrower, ymm0-15");
            case "aarch64" -> new CpuInfo(model, arch, cores, vectorBits, 32, "AArch64: NEON/SVE, v0-31");
            default -> new CpuInfo(model, arch, cores, vectorBits, 16, arch + ": not known, 16 assumed");
        };
    }

    /** Floats per preferred vector. */
    public int lanes() {
        return vectorBits / Float.SIZE;
    }

    /** The matmul tile that fits {@link #vectorRegisters()}. */
    public MatMulTile tile() {
        return MatMulTile.forRegisters(vectorRegisters);
    }

    /** Why {@link #tile()}: the registers it needs of those there are. */
    public String tileReason() {
        return tile().registers() + " of " + vectorRegisters + " vector registers (" + registersReason + ")";
    }

    /** "AMD EPYC, amd64, 2 cores": the machine a figure came from. */
    public String machine() {
        return model + ", " + arch + ", " + cores + " cores";
    }

    /**
     * One line for {@code ppexec devices} and the benchmarks: the machine, the vector width, the registers, and
     * the matmul tile in use ({@link MatMulTile#selected()}) with its reason.
     */
    public String describe() {
        return machine() + "; vectors " + vectorBits + "-bit (" + lanes() + " floats); matmul tile "
                + MatMulTile.selected() + ": " + MatMulTile.selectedReason();
    }
}
