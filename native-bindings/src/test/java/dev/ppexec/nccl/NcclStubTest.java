package dev.ppexec.nccl;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The NCCL bindings against a stub libnccl built with gcc ({@link StubNccl}): how the library is found, the unique
 * id and config passed to ncclCommInitRankConfig, the deadline on a communicator that never forms, the shapes of the
 * grouped transfers, the watchdog turning an asynchronous error into an exception naming the peers, and the order
 * finalize, destroy, abort on close. The call-shape tests use made-up device addresses, so the stub only logs their
 * transfers ({@code wire} 0); the wire tests move floats between two communicators over the stub's sockets (Note
 * [stub wire] in nccl_stub.c), and see a peer that went away as an asynchronous error naming it.
 */
@Timeout(60)
class NcclStubTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(10);
    private static final Duration WATCHDOG = Duration.ofMillis(5);
    private static final long STREAM = 0xabc0L;

    private Nccl nccl;
    private final List<NcclCommunicator> opened = new ArrayList<>();

    @BeforeEach
    void open() {
        nccl = Nccl.open(StubNccl.library().toString());
        StubNccl.reset();
        StubNccl.set("wire", 0);
    }

    @AfterEach
    void closeAll() {
        for (NcclCommunicator c : opened) {
            try {
                c.close();
            } catch (NcclException e) {
                // a test that made close fail has checked it already
            }
        }
        assertThat(StubNccl.counter("live_comms")).as("communicators left after the test").isZero();
    }

    private NcclCommunicator init(int rank, int worldSize) {
        NcclCommunicator c = nccl.initRank(nccl.uniqueId(), rank, worldSize, TIMEOUT, WATCHDOG);
        opened.add(c);
        return c;
    }

    /** The log's lines after the first that starts with {@code prefix}, that one included. */
    private static List<String> logFrom(String prefix) {
        List<String> log = StubNccl.log();
        for (int i = 0; i < log.size(); i++) {
            if (log.get(i).startsWith(prefix)) {
                return log.subList(i, log.size());
            }
        }
        throw new AssertionError("no line starting with " + prefix + " in " + log);
    }

    @Test
    void libraryFrom_propertyBeforeEnvironment_beforeSoname() {
        Map<String, String> property = Map.of(Nccl.LIBRARY_PROPERTY, "/opt/a/libnccl.so.2");
        Map<String, String> env = Map.of(Nccl.LIBRARY_ENV, "/opt/b/libnccl.so.2");
        Map<String, String> none = Map.of();
        assertThat(Nccl.libraryFrom(property::get, env::get)).isEqualTo("/opt/a/libnccl.so.2");
        assertThat(Nccl.libraryFrom(none::get, env::get)).isEqualTo("/opt/b/libnccl.so.2");
        assertThat(Nccl.libraryFrom(none::get, none::get)).isEqualTo("libnccl.so.2");
        assertThat(Nccl.libraryFrom(Map.of(Nccl.LIBRARY_PROPERTY, " ")::get, env::get)).isEqualTo("/opt/b/libnccl.so.2");
    }

    @Test
    void open_missingLibrary_saysWhichFileAndHowToNameAnother() {
        String missing = StubNccl.library().resolveSibling("no-such-libnccl.so.2").toString();
        assertThatThrownBy(() -> Nccl.open(missing))
                .isInstanceOf(NcclUnavailableException.class)
                .hasMessageStartingWith("NCCL is not loadable from " + missing + " (")
                .hasMessageEndingWith("name the file with -Dppexec.nccl.library=FILE or PPEXEC_NCCL_LIBRARY=FILE");
    }

    @Test
    void versionAndUniqueId_comeFromTheLibrary() {
        assertThat(nccl.version()).isEqualTo(22803);
        assertThat(nccl.describe()).isEqualTo("NCCL 2.28.3 (" + StubNccl.library() + ")");
        NcclUniqueId id = nccl.uniqueId();
        assertThat(id).as("16 random bytes each time").isNotEqualTo(nccl.uniqueId());
        byte[] bytes = id.bytes();
        assertThat(NcclUniqueId.of(bytes)).isEqualTo(id).hasSameHashCodeAs(id);
        assertThat(id.toString()).isEqualTo("NcclUniqueId[" + HexFormat.of().formatHex(bytes, 0, 8) + "…]");
        assertThatThrownBy(() -> NcclUniqueId.of(new byte[127]))
                .hasMessage("an NCCL unique id has 128 bytes, not 127");
    }

    @Test
    void uniqueId_failure_namesTheCallResultAndLastError() {
        StubNccl.failNext("ncclGetUniqueId", 2);
        assertThatThrownBy(() -> nccl.uniqueId())
                .isInstanceOf(NcclException.class)
                .hasMessage("ncclGetUniqueId failed: ncclSystemError (unhandled system error (run with NCCL_DEBUG=INFO"
                        + " for details)); last error: stub: ncclGetUniqueId failed as told");
    }

    @Test
    void initRank_passesTheIdByValue_andANonBlockingConfig_thenPollsUntilReady() {
        byte[] idBytes = new byte[NcclUniqueId.BYTES];
        for (int i = 0; i < idBytes.length; i++) {
            idBytes[i] = (byte) (255 - i);
        }
        long sum = 0;
        for (byte b : idBytes) {
            sum = sum * 31 + (b & 0xff);
        }
        StubNccl.set("init_polls", 3);
        NcclCommunicator c = nccl.initRank(NcclUniqueId.of(idBytes), 1, 2, TIMEOUT, WATCHDOG);
        opened.add(c);
        assertThat(StubNccl.log()).containsExactly(String.format(
                "ncclCommInitRankConfig nranks=2 rank=1 id=%016x config.size=24 magic=cafebeef version=21400 blocking=0",
                sum));
        assertThat(StubNccl.counter("async_polls")).as("3 polls in progress, then ready").isGreaterThanOrEqualTo(4);
        assertThat(c.rank()).isEqualTo(1);
        assertThat(c.worldSize()).isEqualTo(2);
    }

    @Test
    void initRank_neverFinishing_isAbortedAtTheDeadline_namingRankAndWorld() {
        StubNccl.set("init_polls", -1);
        NcclUniqueId id = nccl.uniqueId();
        assertThatThrownBy(() -> nccl.initRank(id, 1, 4, Duration.ofMillis(200), WATCHDOG))
                .isInstanceOf(NcclException.class)
                .hasMessage("rank 1 of 4: ncclCommInitRankConfig did not finish within 200 ms (did every rank start and"
                        + " reach the same unique id?); the communicator is aborted")
                .extracting(e -> ((NcclException) e).result()).isEqualTo(Nccl.IN_PROGRESS);
        assertThat(logFrom("ncclCommInitRankConfig")).hasSize(2).last().isEqualTo("ncclCommAbort rank=1");
        assertThat(StubNccl.counter("live_comms")).isZero();
    }

    @Test
    void initRank_refused_namesTheResult_andAbortsNothingItDidNotGet() {
        StubNccl.failNext("ncclCommInitRankConfig", 4);
        NcclUniqueId id = nccl.uniqueId();
        assertThatThrownBy(() -> nccl.initRank(id, 0, 2, TIMEOUT, WATCHDOG))
                .isInstanceOf(NcclException.class)
                .hasMessage("rank 0 of 2: ncclCommInitRankConfig failed: ncclInvalidArgument (invalid argument (run"
                        + " with NCCL_DEBUG=WARN for details)); last error: stub: ncclCommInitRankConfig failed as told");
        assertThat(StubNccl.log()).noneMatch(line -> line.startsWith("ncclCommAbort"));
    }

    @Test
    void initRank_badArguments_sayWhatIsAllowed() {
        NcclUniqueId id = nccl.uniqueId();
        assertThatThrownBy(() -> nccl.initRank(id, 2, 2, TIMEOUT, WATCHDOG))
                .hasMessage("rank 2 of world 2: the world has at least 1 rank and the rank is in [0, world)");
        assertThatThrownBy(() -> nccl.initRank(id, 0, 2, TIMEOUT, Duration.ofSeconds(2)))
                .hasMessage("watchdogInterval 2000 ms: allowed 1 to 1000 ms");
        assertThatThrownBy(() -> nccl.initRank(id, 0, 2, Duration.ZERO, WATCHDOG))
                .hasMessage("timeout PT0S: must be positive");
        assertThat(StubNccl.log()).containsExactly("ncclGetUniqueId");
    }

    @Test
    void sendRecv_isOneGroup_withBothFloat32TransfersOnTheStream() {
        NcclCommunicator c = init(1, 3);
        c.sendRecv(0x1000L, 2, 0x2000L, 0, 4096, STREAM);
        c.send(0x3000L, 16, 2, STREAM);
        c.recv(0x4000L, 8, 0, STREAM);
        assertThat(logFrom("ncclGroupStart")).containsExactly(
                "ncclGroupStart depth=1",
                "ncclSend rank=1 peer=2 count=4096 datatype=7 buffer=0x1000 stream=0xabc0 depth=1",
                "ncclRecv rank=1 peer=0 count=4096 datatype=7 buffer=0x2000 stream=0xabc0 depth=1",
                "ncclGroupEnd depth=0",
                "ncclGroupStart depth=1",
                "ncclSend rank=1 peer=2 count=16 datatype=7 buffer=0x3000 stream=0xabc0 depth=1",
                "ncclGroupEnd depth=0",
                "ncclGroupStart depth=1",
                "ncclRecv rank=1 peer=0 count=8 datatype=7 buffer=0x4000 stream=0xabc0 depth=1",
                "ncclGroupEnd depth=0");
        assertThat(c.failure()).isEmpty();
    }

    @Test
    void sendRecv_groupInProgress_waitsUntilTheCommunicatorIsReady() {
        NcclCommunicator c = init(0, 2);
        StubNccl.set("group_polls", 5);
        long before = StubNccl.counter("async_polls");
        c.sendRecv(0x1000L, 1, 0x2000L, 1, 64, STREAM);
        assertThat(StubNccl.counter("async_polls") - before).as("5 polls in progress, then ready")
                .isGreaterThanOrEqualTo(6);
        assertThat(c.failure()).isEmpty();
    }

    @Test
    void sendRecv_groupNeverFinishing_failsAtTheDeadline_namingThePeers() {
        NcclCommunicator c = nccl.initRank(nccl.uniqueId(), 1, 3, Duration.ofMillis(200), WATCHDOG);
        opened.add(c);
        StubNccl.set("group_polls", -1);
        assertThatThrownBy(() -> c.sendRecv(0x1000L, 2, 0x2000L, 0, 64, STREAM))
                .isInstanceOf(NcclException.class)
                .hasMessage("rank 1 of 3: ncclGroupEnd did not finish within 200 ms (send 64 floats to rank 2, receive"
                        + " 64 floats from rank 0); the communicator is aborted");
        assertThat(StubNccl.log().getLast()).isEqualTo("ncclCommAbort rank=1");
    }

    @Test
    void send_refusedByNccl_endsTheGroup_abortsAndNamesThePeer() {
        NcclCommunicator c = init(0, 2);
        StubNccl.failNext("ncclSend", 5);
        assertThatThrownBy(() -> c.send(0x1000L, 32, 1, STREAM))
                .isInstanceOf(NcclException.class)
                .hasMessageStartingWith("rank 0 of 2: ncclSend failed: ncclInvalidUsage (")
                .hasMessageEndingWith("; last error: stub: ncclSend failed as told (send 32 floats to rank 1)");
        assertThat(logFrom("ncclGroupStart")).containsExactly("ncclGroupStart depth=1",
                "ncclSend rank=0 peer=1 count=32 datatype=7 buffer=0x1000 stream=0xabc0 depth=1",
                "ncclGroupEnd depth=0", "ncclCommAbort rank=0");
    }

    @Test
    void send_badPeerOrCount_isRefusedBeforeNccl() {
        NcclCommunicator c = init(0, 2);
        assertThatThrownBy(() -> c.send(0x1000L, 32, 2, STREAM))
                .hasMessage("rank 0 of 2: send with peer rank 2: allowed 0 to 1");
        assertThatThrownBy(() -> c.recv(0x1000L, -1, 1, STREAM))
                .hasMessage("rank 0 of 2: recv of -1 floats: the count is >= 0");
        assertThat(StubNccl.log()).noneMatch(line -> line.startsWith("ncclGroupStart"));
    }

    @Test
    void asyncError_watchdogAborts_andHandsAnExceptionNamingThePeers() throws Exception {
        NcclCommunicator c = init(1, 3);
        c.sendRecv(0x1000L, 2, 0x2000L, 0, 64, STREAM);
        CompletableFuture<NcclException> seen = new CompletableFuture<>();
        c.onFailure(seen::complete);
        StubNccl.raise(6, "stub: rank 2 hung up");

        NcclException e = seen.get(30, TimeUnit.SECONDS);
        assertThat(e.call()).isEqualTo("ncclCommGetAsyncError");
        assertThat(e.result()).isEqualTo(6);
        assertThat(e).hasMessage("rank 1 of 3: asynchronous NCCL error on the communicator with peer ranks 0, 2 (a"
                + " peer process died or its link failed?): ncclRemoteError (remote process exited or there was a"
                + " network error); last error: stub: rank 2 hung up; the communicator is aborted");
        assertThat(StubNccl.log().getLast()).isEqualTo("ncclCommAbort rank=1");
        assertThat(c.failure()).containsSame(e);
        assertThatThrownBy(() -> c.send(0x1000L, 1, 2, STREAM)).isSameAs(e);
        CompletableFuture<NcclException> late = new CompletableFuture<>();
        c.onFailure(late::complete);
        assertThat(late).as("a listener added after the failure hears of it at once").isCompletedWithValue(e);

        int logged = StubNccl.log().size();
        c.close();
        assertThat(StubNccl.log()).as("an aborted communicator is neither finalized nor destroyed").hasSize(logged);
        assertThat(c.watchdogAlive()).isFalse();
    }

    @Test
    @Timeout(20)
    void asyncError_duringAPendingGroup_endsTheWaitingCall_namingThePeer() throws Exception {
        NcclCommunicator c = nccl.initRank(nccl.uniqueId(), 0, 2, Duration.ofSeconds(600), WATCHDOG);
        opened.add(c);
        StubNccl.set("group_polls", -1);
        Thread raiser = Thread.ofPlatform().start(() -> {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
            StubNccl.raise(6, "stub: rank 1 is gone");
        });
        assertThatThrownBy(() -> c.sendRecv(0x1000L, 1, 0x2000L, 1, 64, STREAM))
                .as("the pending group ends with the error instead of waiting out its 600 s")
                .isInstanceOf(NcclException.class)
                .hasMessageStartingWith("rank 0 of 2: ")
                .hasMessageContaining("ncclRemoteError")
                .hasMessageContaining("rank 1")
                .hasMessageContaining("stub: rank 1 is gone");
        raiser.join();
        assertThat(StubNccl.log().getLast()).isEqualTo("ncclCommAbort rank=0");
    }

    @Test
    void close_finalizesThenDestroys_andLeavesNoWatchdogThread() {
        NcclCommunicator c = init(0, 2);
        assertThat(c.watchdogAlive()).isTrue();
        StubNccl.set("finalize_polls", 3);
        c.close();
        c.close();
        assertThat(logFrom("ncclCommFinalize")).containsExactly("ncclCommFinalize rank=0", "ncclCommDestroy rank=0");
        assertThat(c.watchdogAlive()).isFalse();
        assertThat(Thread.getAllStackTraces().keySet())
                .noneMatch(t -> t.getName().startsWith("nccl-watchdog") && t.isAlive());
        assertThatThrownBy(() -> c.send(0x1000L, 1, 1, STREAM))
                .isInstanceOf(IllegalStateException.class)
                .hasMessage("rank 0 of 2: the NCCL communicator is closed");
    }

    @Test
    void close_finalizeFailing_abortsInsteadOfDestroying_andThrows() {
        NcclCommunicator c = init(0, 2);
        StubNccl.failNext("ncclCommFinalize", 3);
        assertThatThrownBy(c::close)
                .isInstanceOf(NcclException.class)
                .hasMessageStartingWith("rank 0 of 2: ncclCommFinalize failed: ncclInternalError (");
        assertThat(logFrom("ncclCommFinalize")).containsExactly("ncclCommFinalize rank=0", "ncclCommAbort rank=0");
        assertThat(c.watchdogAlive()).isFalse();
    }

    @Test
    void close_finalizeNeverFinishing_abortsAtTheDeadline() {
        NcclCommunicator c = nccl.initRank(nccl.uniqueId(), 0, 2, Duration.ofMillis(200), WATCHDOG);
        opened.add(c);
        StubNccl.set("finalize_polls", -1);
        assertThatThrownBy(c::close)
                .isInstanceOf(NcclException.class)
                .hasMessage("rank 0 of 2: ncclCommFinalize did not finish within 200 ms; the communicator is aborted");
        assertThat(logFrom("ncclCommFinalize")).containsExactly("ncclCommFinalize rank=0", "ncclCommAbort rank=0");
    }

    @Test
    void wire_sendOnOneCommunicator_arrivesInTheOtherRanksReceive_inOrder() {
        StubNccl.set("wire", 1);
        NcclUniqueId id = nccl.uniqueId();
        NcclCommunicator rank0 = nccl.initRank(id, 0, 2, TIMEOUT, WATCHDOG);
        opened.add(rank0);
        NcclCommunicator rank1 = nccl.initRank(id, 1, 2, TIMEOUT, WATCHDOG);
        opened.add(rank1);
        try (Arena arena = Arena.ofConfined()) {
            int count = 1000;
            MemorySegment first = arena.allocate(ValueLayout.JAVA_FLOAT, count);
            MemorySegment second = arena.allocate(ValueLayout.JAVA_FLOAT, count);
            MemorySegment in = arena.allocate(ValueLayout.JAVA_FLOAT, count);
            for (int i = 0; i < count; i++) {
                first.setAtIndex(ValueLayout.JAVA_FLOAT, i, i + 0.5f);
                second.setAtIndex(ValueLayout.JAVA_FLOAT, i, -i);
            }
            rank0.send(first.address(), count, 1, STREAM);
            rank0.send(second.address(), count, 1, STREAM);
            rank1.recv(in.address(), count, 0, STREAM);
            assertThat(in.toArray(ValueLayout.JAVA_FLOAT)).isEqualTo(first.toArray(ValueLayout.JAVA_FLOAT));
            rank1.recv(in.address(), count, 0, STREAM);
            assertThat(in.toArray(ValueLayout.JAVA_FLOAT)).isEqualTo(second.toArray(ValueLayout.JAVA_FLOAT));
        }
        assertThat(rank0.failure()).isEmpty();
        assertThat(rank1.failure()).isEmpty();
    }

    @Test
    @Timeout(20)
    void wire_receiveWhoseSenderWentAway_isAnAsyncErrorNamingThePeer() throws Exception {
        StubNccl.set("wire", 1);
        NcclUniqueId id = nccl.uniqueId();
        NcclCommunicator rank0 = nccl.initRank(id, 0, 2, Duration.ofSeconds(600), WATCHDOG);
        opened.add(rank0);
        NcclCommunicator rank1 = nccl.initRank(id, 1, 2, TIMEOUT, WATCHDOG);
        opened.add(rank1);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(ValueLayout.JAVA_FLOAT, 16);
            rank1.send(buffer.address(), 16, 0, STREAM);
            rank0.recv(buffer.address(), 16, 1, STREAM); // connected: rank 1 is known to rank 0 now
            CompletableFuture<NcclException> seen = new CompletableFuture<>();
            rank0.onFailure(seen::complete);
            Thread.ofPlatform().start(rank1::close); // its sockets close with it, as a dying process's do
            assertThatThrownBy(() -> rank0.recv(buffer.address(), 16, 1, STREAM))
                    .as("the waiting receive ends with the error instead of its 600 s")
                    .isInstanceOf(NcclException.class)
                    .hasMessageContaining("ncclRemoteError")
                    .hasMessageContaining("stub: rank 1's connection to rank 0 closed")
                    .as("the peer named: by the waiting call (receive … from rank 1) or by the watchdog (peer rank 1)")
                    .hasMessageMatching("(?s).*(receive 16 floats from rank 1|peer rank 1 ).*")
                    .isSameAs(seen.get(10, TimeUnit.SECONDS));
        }
    }
}
