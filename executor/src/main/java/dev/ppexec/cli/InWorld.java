package dev.ppexec.cli;

import dev.ppexec.dist.LaunchContract;
import dev.ppexec.dist.Launcher;
import dev.ppexec.dist.Results;
import dev.ppexec.dist.World;
import dev.ppexec.dist.WorldToken;
import dev.ppexec.failure.Failures;
import dev.ppexec.model.ModelConfig;
import dev.ppexec.model.Partition;
import dev.ppexec.otel.TraceOptions;
import dev.ppexec.runtime.Pipeline;
import dev.ppexec.runtime.RunResult;
import dev.ppexec.runtime.Workload;

import java.io.IOException;
import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * {@code ppexec run} as one rank of a world of rank processes (Note [launch contract] in LaunchContract): rank r runs
 * stage r on the CPU, rank 0 owns the workload's results, the summary and {@code --report}.
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
        TraceOptions trace = plan.traceOptions();
        if (!trace.level().isOff()) {
            throw new UsageException("tracing (--trace-file, --perfetto, --otlp-endpoint, OTEL_EXPORTER_OTLP_"
                    + "ENDPOINT) with ranks as processes is not built yet; allowed: none of them (or --trace-level 0) in a world "
                    + "of " + world + " ranks");
        }
        if (cmd.device == DeviceChoice.cuda) {
            throw new UsageException("--device cuda with ranks as processes: the GPU data plane between "
                    + "processes is not built yet (issue [H2]); allowed: --device cpu or auto (which takes the CPU here)");
        }
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
        Workload workload = Workload.generated(config, plan.requests(), plan.promptLength(), plan.decodeSteps());
        long timeoutMillis = (long) (cmd.rendezvousTimeoutSeconds * 1000);
        World w;
        try {
            w = World.join(contract, token, timeoutMillis, plan.microBatches(),
                    configuration(config, partition, plan, cmd.warmup, trace));
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage()); // a configuration that differs from rank 0's
        }
        try (w) {
            Launcher.followLauncher(w, launcher);
            err.printf(Locale.ROOT, "world: rank %d of %d joined (rank 0 at %s, from %s)%n", contract.rank(), world,
                    contract.master(), contract.source());
            err.flush();
            RunResult result;
            try (Pipeline pipeline = Pipeline.builder().model(config).split(plan.split()).stages(stageCount)
                    .microBatches(plan.microBatches()).process(contract.rank(), w.transports()).build()) {
                try {
                    Workload warm = Workload.generated(config, plan.requests(), plan.promptLength(),
                            Math.min(plan.decodeSteps(), 4));
                    for (int i = 0; i < cmd.warmup; i++) {
                        pipeline.generate(warm);
                    }
                    result = Results.gather(w, pipeline.generate(workload), timeoutMillis);
                } catch (RuntimeException e) {
                    throw failed(w, contract, e);
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
            }
            out.printf(Locale.ROOT, "world: %d ranks (%s), rank 0 at %s; %d call(s) refused for a missing or wrong %s%n",
                    world, contract.source(), contract.master(), w.refusedCalls(), WorldToken.VARIABLE);
        }
        return 0;
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
                                                     TraceOptions trace) {
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
        return c;
    }
}
