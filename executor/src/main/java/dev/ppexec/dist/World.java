package dev.ppexec.dist;

import dev.ppexec.otel.WorldTrace;
import dev.ppexec.runtime.Transport;
import dev.ppexec.trace.EpochClock;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;

import java.io.DataInputStream;
import java.io.IOException;
import java.net.BindException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * This process's membership of a world of rank processes: its gRPC server (the rendezvous store on rank 0, every
 * rank's data inbox), its channel to rank 0, the abort that every rank hears, and the CPU data plane.
 * {@link #join} does the rendezvous; {@link #close} leaves.
 */
public final class World implements AutoCloseable {

    private static final long KEEPALIVE_SECONDS = 1;
    /** After the rendezvous deadline, how long a rank waits for rank 0's verdict on the configurations. */
    private static final long VERDICT_SLACK_MILLIS = 5_000;
    /** How often a rank > 0 looks for the port rank 0 published (Note [rank 0 binds first]). */
    private static final long PORT_POLL_MILLIS = 10;

    /** Its port is rank 0's bound one once {@link #start} has run (Note [rank 0 binds first]). */
    private LaunchContract contract;
    /** Whether rank 0 wrote the port file (and so may remove it). */
    private boolean published;
    private final WorldToken token;
    private final long timeoutMillis;
    private final AtomicLong refused = new AtomicLong();
    private final Store store;
    private final GrpcTransport transport;
    private final Map<Integer, ManagedChannel> channels = new ConcurrentHashMap<>();
    private final CompletableFuture<String> aborted = new CompletableFuture<>();
    private volatile boolean leaving;
    private ClockOffset.Estimate clockOffset = ClockOffset.Estimate.REFERENCE;
    private Server server;
    private ManagedChannel master;
    private Heartbeat heartbeat;

    private World(LaunchContract contract, WorldToken token, long timeoutMillis, int microBatches) {
        this.contract = contract;
        this.token = token;
        this.timeoutMillis = timeoutMillis;
        this.store = contract.isMaster() ? new Store() : null;
        this.transport = new GrpcTransport(contract.rank(), microBatches, this::channelTo, this);
    }

    /**
     * Joins the world: serves (rank 0: the store at the contract's address, never all interfaces), meets every rank
     * within {@code timeoutMillis}, and checks that each runs rank 0's {@code configuration}. A difference throws an
     * {@link IllegalArgumentException} on every rank naming the rank, the field and both values; missing ranks an
     * {@link IllegalStateException} naming them.
     */
    public static World join(LaunchContract contract, WorldToken token, long timeoutMillis, int microBatches,
                             Map<String, String> configuration) {
        World w = new World(contract, token, timeoutMillis, microBatches);
        try {
            w.start();
            w.rendezvous(configuration);
            w.measureClock();
            w.heartbeat = w.store != null ? Heartbeat.watchRanks(w.store, contract.worldSize())
                    : Heartbeat.sendTo(w.master, contract.rank(), w::abortLocally);
            return w;
        } catch (RuntimeException | Error e) {
            w.leaving = true;
            w.sayLeft();
            w.shutdown();
            throw e;
        }
    }

    /*
     * Note [rank 0 binds first]
     * Every rank but 0 serves its inbox on a port the kernel picks (port 0). Were it to bind before rank 0 has bound
     * MASTER_PORT, the kernel could hand it that very port (a port just probed free, as launchers do, is the likeliest
     * pick), and rank 0 would find its own world's rank in the way: a run on CI saw rank 1 take the port and call its
     * own inbox as the store. So a rank > 0 first reaches rank 0's store, and only then binds. ppexec launch closes
     * the other window too, where an unrelated process takes the port between the launcher's pick and rank 0's bind:
     * it picks no port, but gives MASTER_PORT=0 and a file (LaunchContract.PORT_FILE); rank 0 binds a free port
     * and publishes it there, and the other ranks read it before they reach rank 0.
     */

    private void start() {
        InetSocketAddress bind;
        if (contract.isMaster()) {
            bind = new InetSocketAddress(contract.masterHost(), contract.masterPort());
        } else {
            if (contract.masterPort() == 0) {
                contract = contract.withMasterPort(awaitPublishedPort());
            }
            bind = new InetSocketAddress(localAddressToward(contract.masterHost(), contract.masterPort()), 0);
        }
        if (bind.isUnresolved()) {
            throw new IllegalArgumentException("MASTER_ADDR '" + contract.masterHost() + "' does not resolve; allowed: "
                    + "a host name or address of rank 0's host");
        }
        if (!contract.isMaster()) {
            master = channel(contract.masterHost(), contract.masterPort());
            reachMaster();
        }
        NettyServerBuilder b = NettyServerBuilder.forAddress(bind)
                .permitKeepAliveTime(KEEPALIVE_SECONDS, TimeUnit.SECONDS).permitKeepAliveWithoutCalls(true)
                .addService(ServerInterceptors.intercept(transport.service(), guard(token, refused)));
        if (store != null) {
            b.addService(ServerInterceptors.intercept(store.service(), guard(token, refused)));
        }
        try {
            server = b.build().start();
        } catch (IOException e) {
            if (isBindFailure(e)) {
                throw new IllegalStateException("rendezvous: cannot listen on " + contract.master() + " ("
                        + e.getMessage() + "): the port is in use or the address is not this host's; allowed: a free "
                        + "port of this host (MASTER_PORT, --master HOST:PORT or launch --master-port)", e);
            }
            throw new IllegalStateException("rendezvous: cannot listen on " + bind + ": " + e.getMessage(), e);
        }
        if (contract.isMaster()) {
            if (contract.masterPort() == 0) {
                contract = contract.withMasterPort(server.getPort());
                publishPort();
            }
            master = channel(contract.masterHost(), contract.masterPort());
        }
        watch();
        set("addr/" + contract.rank(), (bind.getAddress().getHostAddress() + ":" + server.getPort())
                .getBytes(StandardCharsets.UTF_8));
    }

    /**
     * Note [rank 0 binds first]: rank 0 writes the port it bound, whole or not at all, and never over a file that is
     * there already (a hard link of a new partial file, which fails where the name is taken), so a variable pointed
     * at someone's file damages nothing.
     */
    private void publishPort() {
        Path file = contract.portFile();
        Path partial = file.resolveSibling(file.getFileName() + ".partial");
        try {
            Files.writeString(partial, contract.masterPort() + "\n", StandardCharsets.US_ASCII,
                    StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            try {
                Files.createLink(file, partial);
            } finally {
                Files.deleteIfExists(partial);
            }
            published = true;
        } catch (FileAlreadyExistsException e) { // bad input: the variable names a file that is there
            throw new IllegalArgumentException(e.getFile() + " (" + LaunchContract.PORT_FILE + ") exists; allowed: a "
                    + "path where no file is (ppexec launch makes a fresh one)");
        } catch (IOException | UnsupportedOperationException e) {
            throw new IllegalStateException("rendezvous: cannot publish rank 0's port in " + file + " ("
                    + LaunchContract.PORT_FILE + "): " + e.getMessage(), e);
        }
    }

    /**
     * Note [rank 0 binds first]: once every rank has reached the store (or the wait for them is over), no one needs
     * the published port; rank 0 removes the file, so a launcher killed before it can clean up leaves only its empty
     * directory.
     */
    private void unpublishPort() {
        if (!published) {
            return;
        }
        try {
            Files.deleteIfExists(contract.portFile());
        } catch (IOException e) {
            // The launcher removes its directory, with this file, when the ranks have ended.
        }
    }

    /** Note [rank 0 binds first]: a rank > 0 waits, within the rendezvous timeout, for the port rank 0 published. */
    private int awaitPublishedPort() {
        Path file = contract.portFile();
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        while (true) {
            try {
                return publishedPort(file, Files.readString(file, StandardCharsets.US_ASCII).trim());
            } catch (NoSuchFileException e) {
                if (System.nanoTime() - deadline > 0) {
                    throw new IllegalStateException("rendezvous: rank 0 did not publish its port in " + file + " ("
                            + LaunchContract.PORT_FILE + ") within " + timeoutMillis / 1000.0
                            + " s (--rendezvous-timeout)");
                }
            } catch (IOException e) {
                throw new IllegalStateException("rendezvous: cannot read rank 0's port from " + file + " ("
                        + LaunchContract.PORT_FILE + "): " + e.getMessage(), e);
            }
            try {
                Thread.sleep(PORT_POLL_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for rank 0's port in " + file, e);
            }
        }
    }

    private static int publishedPort(Path file, String text) {
        try {
            int port = Integer.parseInt(text);
            if (port >= 1 && port <= 65535) {
                return port;
            }
        } catch (NumberFormatException e) {
            // Reported below.
        }
        throw new IllegalStateException("rendezvous: " + file + " (" + LaunchContract.PORT_FILE + ") holds '" + text
                + "', not a port; allowed: the port rank 0 bound, 1..65535");
    }

    /** Note [rank 0 binds first]: one call to rank 0's store, waiting for it within the rendezvous timeout. */
    private void reachMaster() {
        try {
            ClientCalls.blockingUnaryCall(master, Wire.CLOCK, CallOptions.DEFAULT.withWaitForReady()
                    .withDeadlineAfter(timeoutMillis, TimeUnit.MILLISECONDS), new byte[0]);
        } catch (StatusRuntimeException e) {
            throw failure("reaching rank 0", e);
        }
    }

    private static boolean isBindFailure(Throwable e) {
        for (Throwable c = e; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof BindException || String.valueOf(c.getMessage()).startsWith("Failed to bind")) {
                return true;
            }
        }
        return false;
    }

    /** Refuses calls without this token, before their first message is read; counts them in {@code refused}. */
    private static ServerInterceptor guard(WorldToken token, AtomicLong refused) {
        return new ServerInterceptor() {
            @Override
            public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                               ServerCallHandler<Q, R> next) {
                if (token.matches(headers.get(Wire.TOKEN))) {
                    return next.startCall(call, headers);
                }
                refused.incrementAndGet();
                call.close(Status.UNAUTHENTICATED.withDescription("missing or wrong world token"), new Metadata());
                return new ServerCall.Listener<>() {
                };
            }
        };
    }

    /** The address of this host's interface that reaches rank 0 (no packet is sent: a UDP connect only routes). */
    private static InetAddress localAddressToward(String host, int port) {
        try (DatagramSocket probe = new DatagramSocket()) {
            probe.connect(new InetSocketAddress(host, port));
            return probe.getLocalAddress();
        } catch (SocketException e) {
            throw new IllegalStateException("rendezvous: no route to rank 0 at " + host + ":" + port + ": "
                    + e.getMessage(), e);
        }
    }

    private ManagedChannel channel(String host, int port) {
        return NettyChannelBuilder.forAddress(host, port).usePlaintext()
                .keepAliveTime(KEEPALIVE_SECONDS, TimeUnit.SECONDS).keepAliveWithoutCalls(true)
                .intercept(MetadataUtils.newAttachHeadersInterceptor(tokenHeaders())).build();
    }

    private Metadata tokenHeaders() {
        Metadata m = new Metadata();
        m.put(Wire.TOKEN, token.value());
        return m;
    }

    private ManagedChannel channelTo(int rank) {
        return channels.computeIfAbsent(rank, r -> {
            String address = new String(get("addr/" + r, timeoutMillis), StandardCharsets.UTF_8);
            int colon = address.lastIndexOf(':');
            return channel(address.substring(0, colon), Integer.parseInt(address.substring(colon + 1)));
        });
    }

    /** Note [who is there] in Store: this rank's presence; its end without an abort means rank 0 is gone. */
    private void watch() {
        ClientCalls.asyncServerStreamingCall(master.newCall(Wire.WATCH, CallOptions.DEFAULT.withWaitForReady()),
                Wire.encode(contract.rank()), new StreamObserver<>() {
                    @Override
                    public void onNext(byte[] value) {
                        try (DataInputStream in = Wire.decode(value)) {
                            abortLocally(in.readUTF());
                        } catch (IOException e) {
                            abortLocally("an unreadable abort from rank 0");
                        }
                    }

                    @Override
                    public void onError(Throwable t) {
                        Status s = Status.fromThrowable(t);
                        abortLocally(s.getCode() == Status.Code.UNAUTHENTICATED
                                ? "rank 0 refused this rank's world token (" + WorldToken.VARIABLE + " differs)"
                                : "rank 0 went away (" + s.getCode() + ")");
                    }

                    @Override
                    public void onCompleted() {
                        abortLocally("rank 0 ended the world");
                    }
                });
    }

    private void rendezvous(Map<String, String> configuration) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        set("config/" + contract.rank(), encodeConfig(configuration));
        String verdict;
        if (store != null) {
            verdict = verdict(configuration, deadline);
            unpublishPort();
            store.put("verdict", verdict.getBytes(StandardCharsets.UTF_8));
            if (!verdict.equals("ok")) {
                // The ranks that came read the verdict and say "left" before rank 0's store goes.
                store.awaitLeft(store.arrivedRanks(), VERDICT_SLACK_MILLIS);
            }
        } else {
            long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()) + VERDICT_SLACK_MILLIS;
            verdict = new String(get("verdict", Math.max(left, 1)), StandardCharsets.UTF_8);
        }
        if (verdict.startsWith("mismatch:")) {
            throw new IllegalArgumentException(verdict.substring("mismatch:".length()));
        }
        if (!verdict.equals("ok")) {
            throw new IllegalStateException(verdict);
        }
    }

    /** Rank 0: "ok", "mismatch:{line}" for the first difference, or the line naming the ranks that never came. */
    private String verdict(Map<String, String> mine, long deadlineNanos) {
        List<Integer> missing = new ArrayList<>();
        for (int r = 1; r < contract.worldSize(); r++) {
            long left = TimeUnit.NANOSECONDS.toMillis(deadlineNanos - System.nanoTime());
            try {
                Map<String, String> theirs = decodeConfig(get("config/" + r, Math.max(left, 1)));
                for (Map.Entry<String, String> e : mine.entrySet()) {
                    String their = theirs.get(e.getKey());
                    if (!Objects.equals(e.getValue(), their)) {
                        return "mismatch:rendezvous: rank " + r + " runs " + e.getKey() + " " + their + ", rank 0 runs "
                                + e.getKey() + " " + e.getValue() + "; allowed: the same configuration on every rank";
                    }
                }
            } catch (RendezvousTimeout t) {
                missing.add(r);
            }
        }
        if (!missing.isEmpty()) {
            return "rendezvous: rank" + (missing.size() > 1 ? "s " : " ") + missing.toString().replaceAll("[\\[\\]]", "")
                    + " of " + contract.worldSize() + " did not arrive within " + timeoutMillis / 1000.0
                    + " s (--rendezvous-timeout)";
        }
        return "ok";
    }

    /** This process's clock in the domain its spans use: epoch nanoseconds of {@link System#nanoTime()}. */
    static long clockNanos() {
        return EpochClock.process().epochNanos(System.nanoTime());
    }

    /** Note [clock offset] in ClockOffset: rank r > 0 pings rank 0's store after the rendezvous. */
    private void measureClock() {
        if (store != null) {
            return;
        }
        clockOffset = ClockOffset.measure(World::clockNanos, () -> {
            try (DataInputStream in = Wire.decode(ClientCalls.blockingUnaryCall(master, Wire.CLOCK, CallOptions.DEFAULT
                    .withDeadlineAfter(timeoutMillis, TimeUnit.MILLISECONDS), new byte[0]))) {
                return in.readLong();
            } catch (StatusRuntimeException e) {
                throw failure("reading rank 0's clock", e);
            } catch (IOException e) {
                throw new IllegalStateException("rendezvous: an unreadable clock from rank 0", e);
            }
        }, ClockOffset.SAMPLES);
    }

    /** This process's clock minus rank 0's, and the round trip that bounds it (zero on rank 0). */
    public long clockOffsetNanos() {
        return clockOffset.offsetNanos();
    }

    public long clockRttNanos() {
        return clockOffset.rttNanos();
    }

    /** Where rank 0 serves the store, {@code HOST:PORT}: the port it bound, also where MASTER_PORT was 0. */
    public String master() {
        return contract.master();
    }

    /** {@code clock offset to rank 0: +12.3 us (rtt 85 us)}. */
    public String clockLine() {
        return store != null ? "its clock is the reference of every rank's spans" : clockOffset.line();
    }

    private static byte[] encodeConfig(Map<String, String> config) {
        StringBuilder sb = new StringBuilder();
        config.forEach((k, v) -> sb.append(k).append('\n').append(v).append('\n'));
        return sb.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static Map<String, String> decodeConfig(byte[] bytes) {
        String[] lines = new String(bytes, StandardCharsets.UTF_8).split("\n", -1);
        Map<String, String> out = new LinkedHashMap<>();
        for (int i = 0; i + 1 < lines.length; i += 2) {
            out.put(lines[i], lines[i + 1]);
        }
        return out;
    }

    /** Sets {@code key} in rank 0's store (the first value wins). */
    public void set(String key, byte[] value) {
        if (store != null) {
            store.put(key, value);
            return;
        }
        try {
            ClientCalls.blockingUnaryCall(master, Wire.SET, CallOptions.DEFAULT.withWaitForReady()
                    .withDeadlineAfter(timeoutMillis, TimeUnit.MILLISECONDS), Wire.encode(key, value));
        } catch (StatusRuntimeException e) {
            throw failure("setting " + key, e);
        }
    }

    /** Waits up to {@code waitMillis} for {@code key}; an abort of the world ends the wait at once. */
    public byte[] get(String key, long waitMillis) {
        return get(key, waitMillis, true);
    }

    /** As {@link #get(String, long)}; without {@code waitForReady} a store that is gone fails the wait at once. */
    private byte[] get(String key, long waitMillis, boolean waitForReady) {
        CompletableFuture<byte[]> value = new CompletableFuture<>();
        CallOptions options = CallOptions.DEFAULT.withDeadlineAfter(waitMillis, TimeUnit.MILLISECONDS);
        ClientCalls.asyncUnaryCall(master.newCall(Wire.GET, waitForReady ? options.withWaitForReady() : options),
                Wire.encode(key), new StreamObserver<>() {
                    @Override
                    public void onNext(byte[] v) {
                        value.complete(v);
                    }

                    @Override
                    public void onError(Throwable t) {
                        value.completeExceptionally(t);
                    }

                    @Override
                    public void onCompleted() {
                    }
                });
        try {
            CompletableFuture.anyOf(value, aborted).get(waitMillis + 1_000, TimeUnit.MILLISECONDS);
            if (aborted.isDone() && !value.isDone()) {
                throw new WorldAborted(aborted.getNow(null));
            }
            return value.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof StatusRuntimeException s) {
                if (s.getStatus().getCode() == Status.Code.DEADLINE_EXCEEDED) {
                    throw new RendezvousTimeout(key);
                }
                throw failure("waiting for " + key, s);
            }
            throw new IllegalStateException("waiting for " + key + ": " + e.getCause().getMessage(), e.getCause());
        } catch (TimeoutException e) {
            throw new RendezvousTimeout(key);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for " + key, e);
        }
    }

    private RuntimeException failure(String what, StatusRuntimeException e) {
        return switch (e.getStatus().getCode()) {
            case ABORTED -> new WorldAborted(e.getStatus().getDescription());
            case UNIMPLEMENTED -> new IllegalStateException("rendezvous: " + contract.master() + " answers but serves "
                    + "no ppexec store (while " + what + "); allowed: rank 0's address and port (MASTER_ADDR and "
                    + "MASTER_PORT, or --master HOST:PORT)");
            case UNAUTHENTICATED -> new IllegalStateException("rank 0 at " + contract.master() + " refused this rank's "
                    + "world token (" + WorldToken.VARIABLE + " differs from rank 0's)");
            case DEADLINE_EXCEEDED, UNAVAILABLE -> aborted.isDone() ? new WorldAborted(aborted.getNow(null))
                    : new IllegalStateException("rendezvous: rank 0 at " + contract.master() + " did not answer within "
                    + timeoutMillis / 1000.0 + " s (--rendezvous-timeout) while " + what);
            default -> new IllegalStateException(what + ": " + e.getStatus(), e);
        };
    }

    /** A wait for a key that ran out of time. */
    static final class RendezvousTimeout extends RuntimeException {
        RendezvousTimeout(String key) {
            super("no " + key + " in time", null, false, false);
        }
    }

    /** The world was aborted: the message is the first cause, naming its rank. */
    public static final class WorldAborted extends IllegalStateException {
        WorldAborted(String reason) {
            super("the world was aborted: " + reason);
        }
    }

    /** Aborts the world: every rank hears {@code reason}, which names the rank and what failed. */
    public void abort(String reason) {
        if (leaving) {
            return;
        }
        abortLocally(reason);
        try {
            ClientCalls.blockingUnaryCall(master, Wire.SET, CallOptions.DEFAULT.withDeadlineAfter(2, TimeUnit.SECONDS),
                    Wire.encode(Store.ABORT, reason.getBytes(StandardCharsets.UTF_8)));
        } catch (StatusRuntimeException e) {
            // Rank 0 is gone: the others hear that from their own watch.
        }
    }

    private void abortLocally(String reason) {
        if (leaving) {
            return;
        }
        if (aborted.complete(reason)) {
            transport.abort();
        }
    }

    String abortReason() {
        return aborted.getNow(null);
    }

    /** The first abort's reason, or null while the world stands. */
    public String aborted() {
        return abortReason();
    }

    public LaunchContract contract() {
        return contract;
    }

    /** Traces this world's next runs with {@code trace}: the data plane carries its contexts and times its sends. */
    public void trace(WorldTrace trace) {
        transport.trace(trace);
    }

    /** Transports for the pipeline's runs: this world's data plane. */
    public Transport.Factory transports() {
        return transport::open;
    }

    /** This world's gRPC data plane, which device transports send their notices over. */
    GrpcTransport dataPlane() {
        return transport;
    }

    /** Calls refused for a missing or wrong world token, by this process's server. */
    public long refusedCalls() {
        return refused.get();
    }

    /**
     * Leaves the world (Note [leaving]): every rank says so, then waits (bounded by the rendezvous timeout) until rank
     * 0 saw every rank leave, so that no rank's server closes while another still sends to it.
     */
    @Override
    public void close() {
        transport.shutdown();
        boolean clean = !aborted.isDone();
        leaving = true;
        if (clean) {
            try {
                set("left/" + contract.rank(), new byte[0]);
                if (store != null) {
                    for (int r = 1; r < contract.worldSize(); r++) {
                        get("left/" + r, timeoutMillis);
                    }
                    store.put("end", new byte[0]);
                } else {
                    get("end", timeoutMillis, false); // rank 0 may be gone already: then the world ended
                }
            } catch (RuntimeException e) {
                // Leaving anyway; a rank that did not say goodbye was named by the abort it caused.
            }
        }
        shutdown();
    }

    /** Best effort, after a failed rendezvous: rank 0 must not take this rank's going for its death. */
    private void sayLeft() {
        if (master == null) {
            return;
        }
        try {
            ClientCalls.blockingUnaryCall(master, Wire.SET, CallOptions.DEFAULT.withDeadlineAfter(1, TimeUnit.SECONDS),
                    Wire.encode("left/" + contract.rank(), new byte[0]));
        } catch (StatusRuntimeException e) {
            // Rank 0 is gone or never came: nobody to tell.
        }
    }

    /*
     * Note [leaving]
     * A rank's results reach rank 0 before it leaves (Results.gather); after that, a broken stream or a lost watch
     * is the world ending, not a failure, so aborts are ignored from the moment a rank starts leaving. Rank 0 ends
     * the world ("end") only once every rank said "left/{r}": until then every server stays up, so no rank sees a
     * neighbour's stream cancelled while it still waits for its own results.
     */

    private void shutdown() {
        if (heartbeat != null) {
            heartbeat.close();
        }
        List<ManagedChannel> all = new ArrayList<>(channels.values());
        if (master != null) {
            all.add(master);
        }
        all.forEach(ManagedChannel::shutdownNow);
        if (server != null) {
            server.shutdownNow();
        }
        try {
            for (ManagedChannel c : all) {
                c.awaitTermination(2, TimeUnit.SECONDS);
            }
            if (server != null) {
                server.awaitTermination(2, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
