package dev.ppexec.otlp;

/**
 * An open-addressing hash set of int ids whose keys live elsewhere (in table columns): 4 bytes
 * per entry at most twice, where a {@code HashMap} of boxed keys costs about 100.
 */
final class IdIndex {

    /** Hash and equality of the keys behind two ids. */
    interface Keys {
        int hash(int id);

        boolean same(int a, int b);
    }

    private final Keys keys;
    private int[] slots = new int[64]; // id + 1; 0 = empty
    private int count;

    IdIndex(Keys keys) {
        this.keys = keys;
    }

    /** The id already present with the same key as {@code id}, or {@code id} after adding it. */
    int putIfAbsent(int id) {
        int mask = slots.length - 1;
        for (int s = mix(keys.hash(id)) & mask; ; s = (s + 1) & mask) {
            int present = slots[s] - 1;
            if (present < 0) {
                slots[s] = id + 1;
                if (++count * 2 > slots.length) {
                    grow();
                }
                return id;
            }
            if (keys.same(present, id)) {
                return present;
            }
        }
    }

    /** An id present with the same key as {@code probe} (which need not be present), or -1. */
    int find(int probe) {
        int mask = slots.length - 1;
        for (int s = mix(keys.hash(probe)) & mask; ; s = (s + 1) & mask) {
            int present = slots[s] - 1;
            if (present < 0 || keys.same(present, probe)) {
                return present;
            }
        }
    }

    private void grow() {
        int[] old = slots;
        slots = new int[old.length * 2];
        int mask = slots.length - 1;
        for (int entry : old) {
            if (entry != 0) {
                int s = mix(keys.hash(entry - 1)) & mask;
                while (slots[s] != 0) {
                    s = (s + 1) & mask;
                }
                slots[s] = entry;
            }
        }
    }

    private static int mix(int h) {
        h *= 0x9E3779B9;
        return h ^ (h >>> 16);
    }
}
