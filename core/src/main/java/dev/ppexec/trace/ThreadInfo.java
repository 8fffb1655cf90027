package dev.ppexec.trace;

/**
 * Who handled a request: one rank's scheduler thread, as sglang's {@code TraceThreadInfo}. Each rank
 * that handled a request gets one thread span named {@link #spanName()} under the request's root.
 *
 * @param hostId   the first 8 characters of the host name
 * @param threadId the JVM id of the rank's scheduler thread
 * @param label    {@code "Scheduler [PP r]"}
 */
public record ThreadInfo(String hostId, long threadId, String label, int ppRank, int tpRank, int dpRank) {

    private static final int HOST_ID_LENGTH = 8;

    /** The scheduler thread of PP rank {@code ppRank} (no tensor or data parallelism: their ranks are 0). */
    public static ThreadInfo scheduler(int ppRank, long threadId, String hostName) {
        String hostId = hostName.length() > HOST_ID_LENGTH ? hostName.substring(0, HOST_ID_LENGTH) : hostName;
        return new ThreadInfo(hostId, threadId, SpanContract.THREAD_PREFIX + ppRank + "]", ppRank, 0, 0);
    }

    /** {@code "Scheduler [PP 1] (host:a1b2c3d4 | tid:42)"}. */
    public String spanName() {
        return label + " (host:" + hostId + " | tid:" + threadId + ")";
    }
}
