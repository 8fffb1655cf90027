package dev.ppexec.cuda;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The fatbin the build made (uncompressed, so readable without cuobjdump) holds SASS for sm_80 and
 * sm_90 and compute_80 PTX, and every kernel the backend looks up is in each of them.
 */
class FatbinTest {

    private static final byte[] ELF_MAGIC = {0x7f, 'E', 'L', 'F'};
    private static final int EM_CUDA = 190;

    @Test
    void fatbin_holdsEveryKernel_forSm80Sm90AndComputE80Ptx() {
        Optional<byte[]> fatbin = CudaPlatform.builtFatbin();
        assumeTrue(fatbin.isPresent(), CudaPlatform.NO_KERNELS);
        byte[] bytes = fatbin.get();
        String text = new String(bytes, StandardCharsets.ISO_8859_1);

        List<Integer> architectures = new ArrayList<>();
        ByteBuffer le = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        for (int at = indexOf(bytes, ELF_MAGIC, 0); at >= 0; at = indexOf(bytes, ELF_MAGIC, at + 1)) {
            if (le.getShort(at + 0x12) == EM_CUDA) {
                architectures.add((le.getInt(at + 0x30) >> 8) & 0xff); // e_flags: the SM version
            }
        }
        assertThat(architectures).as("SASS images (e_flags SM version)").containsExactlyInAnyOrder(80, 90);
        assertThat(text).as("compute_80 PTX").contains(".target sm_80");

        for (String kernel : CudaKernels.FUNCTIONS) {
            assertThat(text).as("PTX entry of " + kernel).contains(".entry " + kernel + "(");
            assertThat(count(text, kernel + "\0")).as("symbol " + kernel + " in both SASS images").isGreaterThanOrEqualTo(2);
        }
    }

    private static int indexOf(byte[] data, byte[] pattern, int from) {
        outer:
        for (int i = from; i <= data.length - pattern.length; i++) {
            for (int j = 0; j < pattern.length; j++) {
                if (data[i + j] != pattern[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    private static int count(String text, String needle) {
        int n = 0;
        for (int i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + 1)) {
            n++;
        }
        return n;
    }
}
