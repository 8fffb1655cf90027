package dev.ppexec.otlp;

/**
 * The span ids seen while merging files, each with the file it came from: a 64-bit id and an
 * int in open-addressed arrays (12 bytes per entry at most twice), where a {@code HashMap} of
 * strings costs about 100.
 */
final class SpanIds {

    private long[] ids = new long[1024];
    private int[] files = new int[1024]; // file + 1; 0 = empty
    private int count;

    /** The file already holding {@code hexId}, or -1 after recording it for {@code file}. */
    int putIfAbsent(String hexId, int file) {
        long id = Long.parseUnsignedLong(hexId, 16);
        int mask = ids.length - 1;
        for (int s = slot(id, mask); ; s = (s + 1) & mask) {
            if (files[s] == 0) {
                ids[s] = id;
                files[s] = file + 1;
                if (++count * 2 > ids.length) {
                    grow();
                }
                return -1;
            }
            if (ids[s] == id) {
                return files[s] - 1;
            }
        }
    }

    private void grow() {
        long[] oldIds = ids;
        int[] oldFiles = files;
        ids = new long[oldIds.length * 2];
        files = new int[oldIds.length * 2];
        int mask = ids.length - 1;
        for (int i = 0; i < oldIds.length; i++) {
            if (oldFiles[i] != 0) {
                int s = slot(oldIds[i], mask);
                while (files[s] != 0) {
                    s = (s + 1) & mask;
                }
                ids[s] = oldIds[i];
                files[s] = oldFiles[i];
            }
        }
    }

    private static int slot(long id, int mask) {
        long h = id * 0x9E3779B97F4A7C15L;
        return (int) (h ^ (h >>> 32)) & mask;
    }
}
