package dev.ppexec.cuda;

import dev.ppexec.backend.Buffer;
import dev.ppexec.backend.Event;
import dev.ppexec.backend.Stream;
import dev.ppexec.backend.cpu.CpuDevice;
import dev.ppexec.backend.cpu.CpuStaging;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Optional;
import java.util.Queue;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * What rank processes use to pass device buffers, against the stub libcuda: host staging (CudaStaging) gives the
 * CPU backend's bytes through page-locked memory, and the CUDA IPC bindings (CudaIpc) pass 64-byte handles with the
 * driver's rules. Two processes opening each other's handles run in the executor's CudaWorldTest.
 */
@Timeout(60)
class CudaInterprocessTest {

    private CudaDevice device;

    @BeforeEach
    void open() {
        StubDriver.library();
        StubDriver.reset(1, 64L << 20);
        device = (CudaDevice) StubDriver.platform(Optional.of("none")).open(List.of(0), false).getFirst();
    }

    @AfterEach
    void close() {
        if (device != null) {
            device.close();
        }
    }

    @Test
    void staging_roundTripsTheCpuBackendsBytes_throughOnePageLockedCopyPerBuffer() {
        float[] values = {1.5f, -0f, Float.NaN, Float.MIN_VALUE, 3e38f};
        ByteBuffer fromCuda = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer fromCpu = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        long hostBefore = StubDriver.counter("live_host");
        Buffer source = device.upload(values);
        CudaStaging.read(source, values.length, fromCuda);
        try (CpuDevice cpu = new CpuDevice()) {
            CpuStaging.read(cpu.upload(values), values.length, fromCpu);
        }
        assertThat(fromCuda.array()).as("the bytes the CPU backend stages").isEqualTo(fromCpu.array());
        assertThat(fromCuda.position()).isEqualTo(4 * values.length);

        Buffer destination = device.allocate(Buffer.Type.FLOAT32, 8);
        Queue<ByteBuffer> payloads = new ArrayDeque<>(List.of(fromCuda.flip()));
        Stream copy = device.createStream("copy");
        copy.launch(CudaStaging.write("pp_recv rank 1 mb0", destination, payloads::poll), 1, 0);
        copy.synchronize();
        float[] back = new float[8];
        device.download(destination, back);
        for (int i = 0; i < values.length; i++) {
            assertThat(Float.floatToRawIntBits(back[i])).as("element %d", i).isEqualTo(Float.floatToRawIntBits(values[i]));
        }
        assertThat(back[values.length]).as("past the payload: untouched").isZero();
        assertThat(StubDriver.counter("live_host") - hostBefore).as("one page-locked copy per staged buffer").isEqualTo(2);
        source.close();
        destination.close();
        assertThat(StubDriver.counter("live_host")).as("freed with their buffers").isEqualTo(hostBefore);
    }

    @Test
    void staging_anEmptyNotice_touchesNoMemory() {
        long hostBefore = StubDriver.counter("live_host");
        Buffer b = device.upload(new float[] {4f});
        ByteBuffer empty = ByteBuffer.allocate(0);
        CudaStaging.read(b, 0, empty);
        Stream copy = device.createStream("copy");
        copy.launch(CudaStaging.write("notice", b, () -> ByteBuffer.allocate(0)), 1, 0);
        copy.synchronize();
        float[] back = new float[1];
        device.download(b, back);
        assertThat(back).containsExactly(4f);
        assertThat(StubDriver.counter("live_host")).isEqualTo(hostBefore);
    }

    @Test
    void staging_aPayloadLargerThanTheDestination_failsTheStream_namingBothSizes() {
        Buffer small = device.allocate(Buffer.Type.FLOAT32, 2);
        Stream copy = device.createStream("copy");
        copy.launch(CudaStaging.write("pp_recv rank 1 mb0", small, () -> ByteBuffer.allocate(12)), 1, 0);
        assertThatThrownBy(copy::synchronize).hasMessageContaining("stage_in pp_recv rank 1 mb0: payload of 3 elements; "
                + "allowed: at most 2 (the destination's length)");
    }

    @Test
    void ipc_handlesAre64Bytes_andTheDriversRulesHold() {
        Buffer b = device.allocate(Buffer.Type.FLOAT32, 16);
        byte[] handle = CudaIpc.export(b);
        assertThat(handle).hasSize(CudaIpc.HANDLE_BYTES).hasSize(64);
        assertThatThrownBy(() -> CudaIpc.open(device, handle, Buffer.Type.FLOAT32, 16)).isInstanceOf(CudaException.class)
                .hasMessage("cuIpcOpenMemHandle_v2 failed: CUDA_ERROR_INVALID_CONTEXT (invalid device context)");
        assertThatThrownBy(() -> CudaIpc.open(device, new byte[12], Buffer.Type.FLOAT32, 16))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("an IPC handle of 12 bytes; allowed: 64 "
                        + "(CU_IPC_HANDLE_SIZE)");
        Event timed = device.createEvent();
        assertThatThrownBy(() -> CudaIpc.export(timed)).isInstanceOf(CudaException.class)
                .hasMessage("cuIpcGetEventHandle failed: CUDA_ERROR_INVALID_VALUE (invalid argument)");
    }

    @Test
    void ipc_interprocessEvent_exportsOpensAndIsWaitedFor_andTheDeviceReleasesIt() {
        Event exported = CudaIpc.interprocessEvent(device);
        Stream s = device.createStream("pp_send ipc");
        s.record(exported);
        byte[] handle = CudaIpc.export(exported);
        assertThat(handle).hasSize(64);
        long opened = StubDriver.counter("ipc_events_opened");
        Event mine = CudaIpc.openEvent(device, handle);
        assertThat(StubDriver.counter("ipc_events_opened")).isEqualTo(opened + 1);
        Stream copy = device.createStream("copy");
        copy.waitFor(mine);
        copy.synchronize();
        assertThatThrownBy(() -> mine.elapsedNanosSince(exported)).as("no timing on interprocess events")
                .isInstanceOf(CudaException.class);
        device.close();
        assertThat(StubDriver.counter("live_events")).isZero();
        assertThat(StubDriver.counter("live_imports")).isZero();
    }
}
