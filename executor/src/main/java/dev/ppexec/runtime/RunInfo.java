package dev.ppexec.runtime;

import dev.ppexec.model.ModelConfig;
import dev.ppexec.model.Partition;
import dev.ppexec.stage.StageProgram;

import java.util.List;

/**
 * What a run is: the model, split, micro-batches, the requests of each micro-batch, and where each
 * rank runs.
 *
 * @param members       [micro-batch] the request indices it carries
 * @param rankDevices   device name per rank ({@code "cpu"}, {@code "cuda:0"})
 * @param computeStreams stream id of each rank's compute stream
 * @param copyStreams   stream id of each rank's copy stream
 * @param transports    how hand-offs into each rank travel ({@link Transport#kind}): pp_recv's and pp_send's
 *                      {@code transport}
 * @param threadIds     JVM id of each rank's scheduler thread ({@code Scheduler [PP r]})
 * @param osThreadIds   the operating system's id of the same thread; each is set by the rank's thread before its
 *                      first action, so a listener reads it once it heard one of the rank's actions
 * @param arrivalNanos  when the requests arrived: the run's start ({@link System#nanoTime()})
 * @param launches      [rank][micro-batch] the launch lists of the rank's program for that slot (empty for a rank in
 *                      another process): a forward's launch count (run_batch_cpu's {@code launches}) and, at trace
 *                      level 5, what its kernel marks time, for the list of the forward that ran (prefill or decode)
 * @param decodeGraphs  whether decode steps replayed one graph per rank and slot (Note [decode graphs] in PipelineRun)
 */
public record RunInfo(ModelConfig model, Partition partition, int microBatches, int promptLength, int decodeSteps,
                      int[][] members, List<String> rankDevices, int[] computeStreams, int[] copyStreams,
                      List<String> transports, long[] threadIds, long[] osThreadIds, long arrivalNanos,
                      List<List<StageProgram.Forwards>> launches, boolean decodeGraphs) {

    /**
     * The host launches of the forward of {@code rank}'s slot {@code microBatch} at {@code step}: setStep and one
     * graph launch for a decode step replayed as a graph, else setStep and the body of the list that ran.
     */
    public int hostLaunches(int rank, int microBatch, int step) {
        return decodeGraphs && step > 0 ? 2 : launches.get(rank).get(microBatch).launchCount(step == 0 ? promptLength : 1);
    }

    public int ranks() {
        return partition.stages();
    }

    public int requests() {
        int n = 0;
        for (int[] m : members) {
            n += m.length;
        }
        return n;
    }
}
