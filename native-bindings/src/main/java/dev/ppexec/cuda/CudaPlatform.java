package dev.ppexec.cuda;

import dev.ppexec.backend.Device;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Can this process use CUDA, on which devices, with which matmul? Detects once what the CUDA
 * backend needs, in order: the driver library ({@code libcuda.so.1}; without a driver, opening it
 * fails with a catchable {@code IllegalArgumentException}), {@code cuInit}, at least one device,
 * and the kernels' fatbin in this build. The first thing missing is the reason the backend is
 * unavailable, which {@code --device auto} prints when it falls back to the CPU. cuBLAS is
 * optional: without it the project's tiled matmul kernel serves, and {@link #matmul()} says so.
 *
 * <p>Placement: {@link #open(List, boolean)} opens one {@link CudaDevice} per requested ordinal;
 * the pipeline puts rank r on device r mod N.
 */
public final class CudaPlatform {

    /** System property: the driver library to open instead of {@code libcuda.so.1} (tests use a stub). */
    public static final String DRIVER_PROPERTY = "ppexec.cuda.driver";
    /** System property: the cuBLAS library file to open instead of searching the loader's path. */
    public static final String CUBLAS_PROPERTY = "ppexec.cublas";
    /** Why there is no CUDA backend when the build machine had no nvcc. */
    public static final String NO_KERNELS = "kernels not built: nvcc was not found at build time";
    /** Where the build puts the fatbin, on the classpath. */
    public static final String FATBIN_RESOURCE = "/dev/ppexec/cuda/kernels.fatbin";

    private static final Map<String, CudaDriver> DRIVERS = new ConcurrentHashMap<>();

    /**
     * One GPU as the driver describes it.
     *
     * @param memoryClockKhz the peak memory clock (CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE), 0 when the driver does not say
     * @param memoryBusBits  the global memory bus width (CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH), 0 when unknown
     */
    public record DeviceInfo(int ordinal, String name, long totalBytes, int computeMajor, int computeMinor,
                             int memoryClockKhz, int memoryBusBits) {

        /** {@code "cuda:0  NVIDIA H200  139.8 GiB  compute capability 9.0"}. */
        public String describe() {
            return String.format(Locale.ROOT, "cuda:%d  %s  %.1f GiB  compute capability %d.%d", ordinal, name,
                    totalBytes / (double) (1L << 30), computeMajor, computeMinor);
        }

        /**
         * The memory's peak bandwidth in bytes/s: two transfers per clock (double data rate) of the bus width, as
         * CUDA's deviceQuery computes it; 0 when the driver gives no clock or width. The HBM floor of a decode
         * step is the weight bytes it reads over this.
         */
        public double peakMemoryBytesPerSecond() {
            return 2.0 * memoryClockKhz * 1e3 * (memoryBusBits / 8.0);
        }

        /** {@code "cuda:0  memory bandwidth peak 4917.0 GB/s (6144-bit bus, memory clock 3201 MHz)"}, or why it is unknown. */
        public String describeMemory() {
            if (peakMemoryBytesPerSecond() <= 0) {
                return String.format(Locale.ROOT, "cuda:%d  memory bandwidth peak unknown (the driver gives no memory "
                        + "clock or bus width)", ordinal);
            }
            return String.format(Locale.ROOT, "cuda:%d  memory bandwidth peak %.1f GB/s (%d-bit bus, memory clock %d MHz)",
                    ordinal, peakMemoryBytesPerSecond() / 1e9, memoryBusBits, memoryClockKhz / 1000);
        }
    }

    /**
     * Where to find the pieces.
     *
     * @param driverLibrary path or soname of the driver library
     * @param cublasLibrary a cuBLAS file to open, or empty to try {@link Cublas#SONAMES}; {@code "none"} skips cuBLAS
     * @param fatbin        the kernels' fatbin, or empty when this build has none
     */
    public record Config(String driverLibrary, Optional<String> cublasLibrary, Optional<byte[]> fatbin) {

        /** From the system properties {@link #DRIVER_PROPERTY} and {@link #CUBLAS_PROPERTY}, and the fatbin on the classpath. */
        public static Config fromSystemProperties() {
            return new Config(System.getProperty(DRIVER_PROPERTY, CudaDriver.SONAME),
                    Optional.ofNullable(System.getProperty(CUBLAS_PROPERTY)).filter(s -> !s.isBlank()),
                    builtFatbin());
        }
    }

    private final Config config;
    private final CudaDriver driver;
    private final String unavailable;
    private final List<DeviceInfo> devices;
    private final int driverVersion;
    private Cublas.Lookup cublas;

    private CudaPlatform(Config config, CudaDriver driver, String unavailable, List<DeviceInfo> devices,
                         int driverVersion) {
        this.config = config;
        this.driver = driver;
        this.unavailable = unavailable;
        this.devices = List.copyOf(devices);
        this.driverVersion = driverVersion;
    }

    /** Detects with {@link Config#fromSystemProperties()}. */
    public static CudaPlatform detect() {
        return detect(Config.fromSystemProperties());
    }

    public static CudaPlatform detect(Config config) {
        String library = config.driverLibrary();
        CudaDriver driver;
        try {
            driver = DRIVERS.computeIfAbsent(library, CudaDriver::open);
        } catch (IllegalArgumentException e) {
            return unavailable(config, "no CUDA driver (" + library + " not loadable)");
        } catch (IllegalStateException e) {
            return unavailable(config, "CUDA driver too old: " + e.getMessage());
        }
        int status = driver.init();
        if (status == CudaDriver.ERROR_NO_DEVICE) {
            return unavailable(config, "no CUDA device (cuInit: " + driver.describe(status) + ")");
        }
        if (status != CudaDriver.SUCCESS) {
            return unavailable(config, "CUDA driver unusable (cuInit: " + driver.describe(status) + ")");
        }
        int count = driver.deviceCount();
        if (count == 0) {
            return unavailable(config, "no CUDA device (cuDeviceGetCount: 0)");
        }
        List<DeviceInfo> infos = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int d = driver.device(i);
            infos.add(new DeviceInfo(i, driver.deviceName(d), driver.deviceTotalMemory(d),
                    driver.deviceAttribute(d, CudaDriver.ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR),
                    driver.deviceAttribute(d, CudaDriver.ATTRIBUTE_COMPUTE_CAPABILITY_MINOR),
                    driver.deviceAttributeOrZero(d, CudaDriver.ATTRIBUTE_MEMORY_CLOCK_RATE),
                    driver.deviceAttributeOrZero(d, CudaDriver.ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH)));
        }
        String reason = config.fatbin().isEmpty() ? NO_KERNELS : null;
        return new CudaPlatform(config, driver, reason, infos, driver.driverVersion());
    }

    private static CudaPlatform unavailable(Config config, String reason) {
        return new CudaPlatform(config, null, reason, List.of(), 0);
    }

    /** The fatbin the build put on the classpath, or empty when nvcc was not found at build time. */
    static Optional<byte[]> builtFatbin() {
        try (InputStream in = CudaPlatform.class.getResourceAsStream(FATBIN_RESOURCE)) {
            return in == null ? Optional.empty() : Optional.of(in.readAllBytes());
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + FATBIN_RESOURCE, e);
        }
    }

    /** Empty when the CUDA backend can run here; else why not (no driver, no device, kernels not built). */
    public Optional<String> unavailableReason() {
        return Optional.ofNullable(unavailable);
    }

    /** The devices the driver lists (also when the kernels are missing); empty without a driver or device. */
    public List<DeviceInfo> devices() {
        return devices;
    }

    /** {@code "CUDA driver 13.0 (libcuda.so.1)"}, or empty without a driver. */
    public Optional<String> driver() {
        if (driver == null) {
            return Optional.empty();
        }
        return Optional.of("CUDA driver " + driverVersion / 1000 + "." + driverVersion % 1000 / 10 + " ("
                + driver.library() + ")");
    }

    /**
     * How matrix products will run: {@code "cuBLAS libcublas.so.13"}, or the tiled kernel and why.
     * A device may still fall back when cuBLAS cannot start on it ({@link CudaDevice#matmul()}).
     */
    public synchronized String matmul() {
        Cublas.Lookup c = cublas();
        return c.cublas().isPresent() ? c.description() : "the project's tiled kernel: " + c.description();
    }

    private synchronized Cublas.Lookup cublas() {
        if (cublas == null) {
            cublas = config.cublasLibrary().filter("none"::equals).isPresent()
                    ? new Cublas.Lookup(Optional.empty(), "cuBLAS disabled")
                    : Cublas.open(config.cublasLibrary());
        }
        return cublas;
    }

    /**
     * Opens the devices with these ordinals, in order (the pipeline puts rank r on entry r mod N).
     *
     * @param tf32 let cuBLAS use TF32 tensor cores (faster, about 1e-3 relative error); fp32 otherwise
     * @throws IllegalStateException    when CUDA is unavailable here, with the reason
     * @throws IllegalArgumentException when an ordinal names no device
     */
    public List<Device> open(List<Integer> ordinals, boolean tf32) {
        if (unavailable != null) {
            throw new IllegalStateException(unavailable);
        }
        if (ordinals.isEmpty()) {
            throw new IllegalArgumentException("device ordinal list is empty; allowed: ordinals 0.." + (devices.size() - 1));
        }
        for (int ordinal : ordinals) {
            if (ordinal < 0 || ordinal >= devices.size()) {
                throw new IllegalArgumentException("device ordinal " + ordinal + " names no device; allowed: 0.."
                        + (devices.size() - 1) + " (" + devices.size() + " CUDA device(s))");
            }
        }
        List<Device> opened = new ArrayList<>();
        try {
            for (int ordinal : ordinals) {
                opened.add(CudaDevice.open(driver, cublas(), devices.get(ordinal), config.fatbin().orElseThrow(), tf32));
            }
        } catch (RuntimeException | Error e) {
            opened.forEach(Device::close);
            throw e;
        }
        return List.copyOf(opened);
    }
}
