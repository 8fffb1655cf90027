package dev.ppexec.blas;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * OpenBLAS's single-precision GEMM through FFM: the baseline the CPU matmul benchmark compares with.
 *
 * <p>Where it comes from, in order: the system's {@value #SONAME} (opened by soname, e.g. Debian's
 * libopenblas0), else the copy that {@code org.bytedeco:openblas}'s linux-x86_64 jar carries on the class
 * path (extracted with its libgfortran beside it into a temporary folder, opened by path, the files then
 * deleted). {@link #source()} says which one this process got.
 *
 * <p>OpenBLAS picks its kernels when it is loaded: it detects the CPU, unless the environment variable
 * {@code OPENBLAS_CORETYPE} names a core, which it then uses (on an AVX-512 machine,
 * {@code OPENBLAS_CORETYPE=Haswell} selects AVX2 kernels at about half the speed). {@link #coreName()}
 * says what it chose. The library stays loaded for the life of the process (its thread pool makes
 * unloading unsafe), so {@link #load()} returns one shared instance.
 */
public final class OpenBlas {

    /** The shared library's soname. */
    public static final String SONAME = "libopenblas.so.0";
    /** Class-path folder of the natives in {@code org.bytedeco:openblas:*:linux-x86_64}. */
    static final String BYTEDECO_FOLDER = "org/bytedeco/openblas/linux-x86_64/";
    /** The bytedeco library and what it needs that a system may lack (its RUNPATH is {@code $ORIGIN}). */
    private static final List<String> BYTEDECO_FILES =
            List.of(SONAME, "libgfortran.so.5", "libquadmath.so.0", "libgcc_s.so.1");

    private static final int ROW_MAJOR = 101;   // CblasRowMajor
    private static final int NO_TRANS = 111;    // CblasNoTrans

    private static OpenBlas instance;           // guarded by OpenBlas.class

    private final String source;
    private final MethodHandle sgemm;
    private final MethodHandle getCorename;
    private final MethodHandle getConfig;
    private final MethodHandle setNumThreads;
    private final MethodHandle getNumThreads;

    private OpenBlas(String source, SymbolLookup lib) {
        Linker linker = Linker.nativeLinker();
        this.source = source;
        this.sgemm = linker.downcallHandle(find(lib, "cblas_sgemm"), FunctionDescriptor.ofVoid(
                JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_FLOAT,
                ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_FLOAT, ADDRESS, JAVA_INT));
        this.getCorename = linker.downcallHandle(find(lib, "openblas_get_corename"), FunctionDescriptor.of(ADDRESS));
        this.getConfig = linker.downcallHandle(find(lib, "openblas_get_config"), FunctionDescriptor.of(ADDRESS));
        this.setNumThreads = linker.downcallHandle(find(lib, "openblas_set_num_threads"), FunctionDescriptor.ofVoid(JAVA_INT));
        this.getNumThreads = linker.downcallHandle(find(lib, "openblas_get_num_threads"), FunctionDescriptor.of(JAVA_INT));
    }

    /**
     * The process's OpenBLAS, loaded on first use.
     *
     * @throws IllegalStateException when neither the system library nor the bytedeco jar is present, or
     *         the library cannot be opened, saying why; or when a symbol is missing, naming it
     */
    public static synchronized OpenBlas load() {
        if (instance == null) {
            instance = open();
        }
        return instance;
    }

    private static OpenBlas open() {
        try {
            return new OpenBlas("system " + SONAME, SymbolLookup.libraryLookup(SONAME, Arena.global()));
        } catch (IllegalArgumentException noSystemLibrary) {
            ClassLoader loader = OpenBlas.class.getClassLoader();
            if (loader.getResource(BYTEDECO_FOLDER + SONAME) == null) {
                throw new IllegalStateException("OpenBLAS not found: " + SONAME + " is not on the library path (e.g. "
                        + "Debian's libopenblas0) and no org.bytedeco:openblas linux-x86_64 jar is on the class path");
            }
            return new OpenBlas("org.bytedeco:openblas jar (" + SONAME + " extracted from the class path)",
                    extractAndOpen(loader));
        }
    }

    /** Copies the bytedeco natives into a fresh temporary folder, opens the library, deletes the copies. */
    private static SymbolLookup extractAndOpen(ClassLoader loader) {
        List<Path> written = new ArrayList<>();
        Path dir = null;
        try {
            dir = Files.createTempDirectory("ppexec-openblas-");
            for (String name : BYTEDECO_FILES) {
                try (InputStream in = loader.getResourceAsStream(BYTEDECO_FOLDER + name)) {
                    if (in != null) {
                        Path target = dir.resolve(name);
                        Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
                        written.add(target);
                    }
                }
            }
            // Once loaded, the mapping outlives the files: nothing is left behind on disk.
            return SymbolLookup.libraryLookup(dir.resolve(SONAME), Arena.global());
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException("cannot open the OpenBLAS extracted from the org.bytedeco:openblas jar: "
                    + e.getMessage(), e);
        } catch (IOException e) {
            throw new UncheckedIOException("extracting OpenBLAS from the org.bytedeco:openblas jar: " + e.getMessage(), e);
        } finally {
            for (Path p : written.reversed()) {
                deleteQuietly(p);
            }
            if (dir != null) {
                deleteQuietly(dir);
            }
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            // A temporary file the OS cleans up later; loading has already succeeded or failed on its own.
        }
    }

    private static MemorySegment find(SymbolLookup lib, String symbol) {
        return lib.find(symbol).orElseThrow(() -> new IllegalStateException("OpenBLAS symbol " + symbol + " not found"));
    }

    /** Which library this process loaded: the system's, or the one extracted from the bytedeco jar. */
    public String source() {
        return source;
    }

    /** The kernels' core type OpenBLAS chose, e.g. {@code "SkylakeX"}, {@code "Cooperlake"} or {@code "Haswell"}. */
    public String coreName() {
        return string(getCorename, "openblas_get_corename");
    }

    /** Build configuration and version, e.g. {@code "OpenBLAS 0.3.31 DYNAMIC_ARCH NO_AFFINITY Cooperlake MAX_THREADS=64"}. */
    public String config() {
        return string(getConfig, "openblas_get_config").strip();
    }

    /** Threads OpenBLAS uses for later calls (≥ 1). */
    public void setThreads(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads = " + threads + " out of range: must be >= 1");
        }
        try {
            setNumThreads.invokeExact(threads);
        } catch (Throwable t) {
            throw rethrow("openblas_set_num_threads", t);
        }
    }

    public int threads() {
        try {
            return (int) getNumThreads.invokeExact();
        } catch (Throwable t) {
            throw rethrow("openblas_get_num_threads", t);
        }
    }

    /**
     * {@code c[m, n] = a[m, k] · b[k, n]}, all row-major and dense, through {@code cblas_sgemm}
     * (alpha 1, beta 0). The segments must be native and hold at least the elements their shapes need.
     */
    public void sgemm(int m, int n, int k, MemorySegment a, MemorySegment b, MemorySegment c) {
        checkShape("a", a, m, k);
        checkShape("b", b, k, n);
        checkShape("c", c, m, n);
        try {
            sgemm.invokeExact(ROW_MAJOR, NO_TRANS, NO_TRANS, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
        } catch (Throwable t) {
            throw rethrow("cblas_sgemm", t);
        }
    }

    private static void checkShape(String name, MemorySegment s, int rows, int cols) {
        Objects.requireNonNull(s, name);
        if (rows < 1 || cols < 1) {
            throw new IllegalArgumentException(name + " shape [" + rows + ", " + cols + "] out of range: both must be >= 1");
        }
        if (!s.isNative()) {
            throw new IllegalArgumentException(name + " is a heap segment: must be native memory");
        }
        long need = (long) rows * cols * Float.BYTES;
        if (s.byteSize() < need) {
            throw new IllegalArgumentException(name + " holds " + s.byteSize() + " bytes; [" + rows + ", " + cols
                    + "] floats need " + need);
        }
    }

    private static String string(MethodHandle h, String call) {
        try {
            MemorySegment p = (MemorySegment) h.invokeExact();
            return p.equals(MemorySegment.NULL) ? "" : p.reinterpret(Long.MAX_VALUE).getString(0);
        } catch (Throwable t) {
            throw rethrow(call, t);
        }
    }

    private static RuntimeException rethrow(String call, Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(call + " failed", t);
    }

    @Override
    public String toString() {
        return "OpenBLAS[" + source + ", core " + coreName() + "]";
    }
}
