package dev.ppexec.cli;

import dev.ppexec.backend.Device;
import dev.ppexec.cuda.CudaDevice;
import dev.ppexec.dist.ForwardSpan;
import dev.ppexec.dist.LaunchContract;
import dev.ppexec.dist.Launcher;
import dev.ppexec.dist.Results;
import dev.ppexec.dist.TransportChoice;
import dev.ppexec.dist.World;
import dev.ppexec.dist.WorldLinks;
import dev.ppexec.dist.WorldToken;
import dev.ppexec.failure.Failures;
import dev.ppexec.model.ModelConfig;
import dev.ppexec.model.Partition;
import dev.ppexec.nccl.Nccl;
import dev.ppexec.nccl.NcclUnavailableException;
import dev.ppexec.io.OutputCheck;
import dev.ppexec.otel.Metrics;
import dev.ppexec.otel.MetricsOptions;
import dev.ppexec.otel.RunResource;
import dev.ppexec.otel.TraceOptions;
import dev.ppexec.otel.TraceSummary;
import dev.ppexec.otel.Tracing;
import dev.ppexec.otel.WorldTrace;
import dev.ppexec.runtime.Pipeline;
import dev.ppexec.runtime.RunListener;
import dev.ppexec.runtime.RunResult;
import dev.ppexec.runtime.Workload;
import dev.ppexec.trace.SpanContract;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code ppexec run} as one rank of a world of rank processes (Note [launch contract] in LaunchContract): rank r runs
 * stage r on its device (on CUDA the LOCAL_RANK-th; Note [transport choice] for how hand-offs travel), rank 0 owns
 * the workload's results, the summary and {@code --report}.
 */
final class InWorld {

    /** ppexec's version, compared at rendezvous. */
    static final String VERSION = "ppexec 0.1.0";

    private InWorld() {
    }

    static int run(RunCommand cmd, PrintWriter out, PrintWriter err, LaunchContract contract, RunCommand.Plan plan,
                   Map<String, String> env) throws IOException {
        int world = contract.worldSize();
        ModelConfig config = plan.config();
        if (cmd.perfetto != null) {
            throw new UsageException("--perfetto " + cmd.perfetto + " with ranks as processes: each rank writes its own "
                    + "trace; allowed: --trace-file DIR/t.jsonl (rank r writes DIR/t.rank{r}.jsonl), then ppexec convert, or ppexec launch --perfetto");
        }
        MetricsOptions metricsOptions = rankMetrics(plan.metricsOptions(), contract.rank());
        new OutputCheck().output("--trace-file", rankTrace(plan.traceOptions(), contract.rank()).file())
                .output("--metrics-file", metricsOptions == null ? null : metricsOptions.file()).check();
        boolean deviceTransport = cmd.transport == TransportChoice.ipc || cmd.transport == TransportChoice.nccl;
        UsageException.check(cmd.device != DeviceChoice.cpu || !deviceTransport, "--transport " + cmd.transport
                + " with --device cpu: " + (cmd.transport == TransportChoice.ipc ? "CUDA IPC" : "NCCL")
                + " moves device memory; allowed: --device cuda or auto with " + cmd.transport
                + ", or --transport auto or host");
        Nccl nccl = nccl(cmd.transport); // before any socket: --transport nccl without the library is bad input
        boolean stagesGiven = cmd.stagesGiven != null;
        int stageCount = stagesGiven ? plan.stages() : world;
        if (!stagesGiven && world > config.layers()) {
            throw new UsageException("a world of " + world + " ranks (from " + contract.source() + ") for model "
                    + config.name() + "'s " + config.layers() + " layers; allowed: at most " + config.layers()
                    + " ranks, one stage each");
        }
        if (stageCount != world) {
            throw new UsageException((plan.split() != null ? "--split '" + plan.split() + "'" : "--stages " + stageCount)
                    + " makes " + stageCount + " stages in a world of " + world + " ranks (from "
                    + contract.source() + "); allowed: one stage per rank, " + world + " stages");
        }
        if (!(cmd.rendezvousTimeoutSeconds > 0) || cmd.rendezvousTimeoutSeconds > 86_400) {
            throw new UsageException("--rendezvous-timeout " + cmd.rendezvousTimeoutSeconds
                    + " is out of range; allowed: seconds in (0, 86400]");
        }
        Partition partition = plan.split() != null ? Partition.parse(plan.split(), config.layers())
                : Partition.balanced(config.layers(), stageCount);
        WorldToken token;
        long launcher;
        try {
            token = WorldToken.fromEnvironment(env);
            launcher = Launcher.launcherPid(env);
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
        Launcher.requireGrpc();
        DeviceChoice.Opened opened = cmd.device.openForRank(cmd.deviceOrdinals, cmd.tf32, contract.localRank());
        try {
            return run(cmd, out, err, contract, plan, partition, stageCount, token, launcher, opened, nccl);
        } finally {
            opened.devices().forEach(Device::close);
        }
    }

    private static int run(RunCommand cmd, PrintWriter out, PrintWriter err, LaunchContract contract,
                           RunCommand.Plan plan, Partition partition, int stageCount, WorldToken token, long launcher,
                           DeviceChoice.Opened opened, Nccl ncclLoaded) throws IOException {
        int world = contract.worldSize();
        ModelConfig config = plan.config();
        Workload workload = Workload.generated(config, plan.requests(), plan.promptLength(), plan.decodeSteps());
        TraceOptions trace = rankTrace(plan.traceOptions(), contract.rank());
        MetricsOptions metricsOptions = rankMetrics(plan.metricsOptions(), contract.rank());
        long timeoutMillis = (long) (cmd.rendezvousTimeoutSeconds * 1000);
        World w;
        try {
            w = World.join(contract, token, timeoutMillis, plan.microBatches(),
                    configuration(config, partition, plan, cmd.warmup, plan.traceOptions(), cmd.transport));
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage()); // a configuration that differs from rank 0's
        }
        WorldLinks links = null;
        try (w) {
            Launcher.followLauncher(w, launcher);
            err.printf(Locale.ROOT, "world: rank %d of %d joined (rank 0 at %s, from %s); %s%n", contract.rank(), world,
                    w.master(), contract.source(), w.clockLine());
            opened.line().ifPresent(err::println);
            Device device = opened.devices().getFirst();
            Nccl nccl = device instanceof CudaDevice ? ncclLoaded : null;
            try {
                links = WorldLinks.negotiate(w, cmd.transport, TransportChoice.Facts.here(
                        device instanceof CudaDevice ? device.name() : "", nccl != null), device, nccl, timeoutMillis);
            } catch (IllegalArgumentException e) {
                throw new UsageException(e.getMessage()); // --transport ipc where a link cannot have it
            }
            err.println(links.line());
            err.flush();
            RunResult result;
            Tracing tracing = null;
            Metrics metrics = null;
            try (Pipeline pipeline = Pipeline.builder().model(config).split(plan.split()).stages(stageCount)
                    .microBatches(plan.microBatches()).devices(opened.devices())
                    .cudaGraphs(cmd.cudaGraphs == RunCommand.Toggle.on)
                    .process(contract.rank(), links.transports()).build()) {
                WorldTrace worldTrace = null;
                var resource = RunResource.of(pipeline, workload, trace.level()).toBuilder()
                        .putAll(RunResource.world(contract.rank(), world, w.clockOffsetNanos(), w.clockRttNanos())).build();
                if (!trace.level().isOff()) {
                    worldTrace = new WorldTrace(contract.rank(), w.clockOffsetNanos());
                    w.trace(worldTrace);
                    tracing = Tracing.start(trace, resource,
                            SpanContract.spanCount(plan.requests(), 1, plan.decodeSteps(), trace.level()));
                }
                if (metricsOptions != null) {
                    metrics = Metrics.start(metricsOptions, resource, false); // only this rank's forwards: no bubble
                }
                try {
                    Workload warm = Workload.generated(config, plan.requests(), plan.promptLength(),
                            Math.min(plan.decodeSteps(), 4));
                    for (int i = 0; i < cmd.warmup; i++) {
                        pipeline.generate(warm);
                    }
                    ForwardSpan span = new ForwardSpan(); // Note [world bubble] in Results
                    List<RunListener> listeners = new ArrayList<>(List.of(span));
                    if (tracing != null) {
                        worldTrace.arm(); // Note [one trace across processes]: this run, not the warm-ups
                        listeners.add(tracing.listener(worldTrace));
                    }
                    if (metrics != null) {
                        listeners.add(metrics.listener());
                    }
                    result = Results.gather(w, pipeline.generate(workload, steps -> { }, listeners), span,
                            timeoutMillis);
                } catch (RuntimeException e) {
                    RuntimeException failure = failed(w, contract, e);
                    try {
                        endTrace(out, tracing, trace); // what this rank had (Note [streaming spans] in TraceListener)
                        endMetrics(out, metrics, metricsOptions);
                    } catch (RuntimeException traceFailure) {
                        failure.addSuppressed(traceFailure);
                    }
                    throw failure;
                }
                if (result != null) {
                    cmd.printSummary(out, pipeline, workload, result);
                    if (cmd.report != null) {
                        RunReport.write(cmd.report, pipeline, workload, result);
                        out.println("report: " + dev.ppexec.io.Printable.path(cmd.report));
                    }
                } else {
                    out.printf(Locale.ROOT, "rank %d of %d: stage %d (layers %s) done; rank 0 has the results%n",
                            contract.rank(), world, contract.rank(), partition.size(contract.rank()));
                }
                endTrace(out, tracing, trace);
                endMetrics(out, metrics, metricsOptions);
            } finally {
                if (tracing != null) {
                    tracing.close();
                }
                if (metrics != null) {
                    metrics.close();
                }
            }
            links.leaving(); // Note [cuda ipc] in IpcLinks: mappings go before this rank leaves, exports after all left
            out.printf(Locale.ROOT, "world: %d ranks (%s), rank 0 at %s; %d call(s) refused for a missing or wrong %s%n",
                    world, contract.source(), w.master(), w.refusedCalls(), WorldToken.VARIABLE);
        } finally {
            if (links != null) {
                links.close();
            }
        }
        return 0;
    }

    /**
     * NCCL for a CUDA rank whose links may take it ({@code --transport auto} or {@code nccl}), or null: with
     * {@code auto} a library that does not load leaves NCCL out (the transport line says so where it matters); with
     * {@code nccl} it is bad input, naming the file tried and how to name another.
     */
    private static Nccl nccl(TransportChoice transport) {
        if (transport != TransportChoice.auto && transport != TransportChoice.nccl) {
            return null;
        }
        try {
            return Nccl.load();
        } catch (NcclUnavailableException e) {
            if (transport == TransportChoice.nccl) {
                throw new UsageException("--transport nccl: " + e.getMessage() + "; allowed: --transport auto, ipc or "
                        + "host without it");
            }
            return null;
        }
    }

    /**
     * A world's trace options for rank {@code rank}: {@code --trace-file DIR/t.jsonl} becomes {@code DIR/t.rank{r}.jsonl}
     * (a name without an extension gets {@code .rank{r}} at its end); a collector is every rank's.
     */
    static TraceOptions rankTrace(TraceOptions trace, int rank) {
        Path file = trace.file();
        if (file == null) {
            return trace;
        }
        return new TraceOptions(trace.level(), rankFile(file, rank), trace.otlpEndpoint(), trace.otlpProtocol(),
                trace.attributes(), trace.schema());
    }

    /** Rank {@code rank}'s trace file of a world's {@code --trace-file}: {@code t.jsonl} -> {@code t.rank{r}.jsonl}. */
    static Path rankFile(Path file, int rank) {
        String name = file.getFileName().toString();
        int dot = name.lastIndexOf('.');
        String ranked = dot > 0 ? name.substring(0, dot) + ".rank" + rank + name.substring(dot) : name + ".rank" + rank;
        return file.resolveSibling(ranked);
    }

    /** A world's metrics options for rank {@code rank}: {@code --metrics-file DIR/m.jsonl} becomes {@code DIR/m.rank{r}.jsonl}. */
    static MetricsOptions rankMetrics(MetricsOptions metrics, int rank) {
        if (metrics == null || metrics.file() == null) {
            return metrics;
        }
        return new MetricsOptions(rankFile(metrics.file(), rank), metrics.collector(), metrics.otlpEndpoint(),
                metrics.otlpProtocol(), metrics.interval(), metrics.attributes());
    }

    /** Makes this rank's last export (bounded) and says what each destination got; a metrics file it could not write fails. */
    private static void endMetrics(PrintWriter out, Metrics metrics, MetricsOptions options) {
        if (metrics == null) {
            return;
        }
        metrics.shutdown().forEach(out::println);
        out.flush();
        if (options.file() != null) {
            metrics.failure(options.file().toString()).ifPresent(f -> {
                throw new IllegalStateException("--metrics-file " + options.file() + ": cannot write: " + f);
            });
        }
    }

    /** Flushes this rank's spans (bounded) and says what each destination got; a trace file it could not write fails. */
    private static void endTrace(PrintWriter out, Tracing tracing, TraceOptions trace) {
        if (tracing == null) {
            return;
        }
        TraceSummary summary = tracing.shutdown();
        summary.lines().forEach(out::println);
        out.flush();
        for (TraceSummary.Destination d : summary.destinations()) {
            if (trace.file() != null && d.name().equals(trace.file().toString()) && d.error() != null) {
                throw new IllegalStateException("--trace-file " + trace.file() + ": cannot write: " + d.error());
            }
        }
    }

    /** This rank's failure, told to the world; or, when another rank's failure stopped this one, that rank's. */
    private static RuntimeException failed(World w, LaunchContract contract, RuntimeException e) {
        String heard = w.aborted();
        if (heard != null) {
            // The first cause is the other rank's; this rank's own failure (a RECV woken by the abort) adds nothing.
            return new IllegalStateException("rank " + contract.rank() + " stopped: the world was aborted: " + heard);
        }
        w.abort("rank " + contract.rank() + " failed: " + Failures.describe(e));
        return e;
    }

    /** What every rank must agree on, in the order differences are named. */
    private static Map<String, String> configuration(ModelConfig m, Partition partition, RunCommand.Plan plan, int warmup,
                                                     TraceOptions trace, TransportChoice transport) {
        Map<String, String> c = new LinkedHashMap<>();
        c.put("version", VERSION);
        c.put("--seed", Long.toString(m.seed()));
        c.put("--model", m.name() + " (vocab " + m.vocab() + ", dim " + m.dim() + ", heads " + m.heads() + ", layers "
                + m.layers() + ", ffn " + m.ffn() + ", max_seq " + m.maxSeq() + ")");
        c.put("--split", partition.toString());
        c.put("--micro-batches", Integer.toString(plan.microBatches()));
        c.put("--requests", Integer.toString(plan.requests()));
        c.put("--prompt-len", Integer.toString(plan.promptLength()));
        c.put("--decode-steps", Integer.toString(plan.decodeSteps()));
        c.put("--warmup", Integer.toString(warmup));
        c.put("--trace-level", Integer.toString(trace.level().value()));
        c.put("--transport", transport.name());
        return c;
    }
}
