package dev.ppexec.dist;

import java.nio.file.Path;
import java.util.Map;

/**
 * Which rank of which world this process is, as the launchers people use say it (Note [launch contract]).
 *
 * @param rank       this process's rank: it runs stage {@code rank}
 * @param worldSize  ranks in the world, one process each
 * @param localRank  rank among the processes of this host (picks the device once GPUs join, [H2])
 * @param masterHost where rank 0 serves the rendezvous store
 * @param masterPort its port
 * @param source     where the values came from, for messages: {@code torchrun}, {@code slurm}, {@code indexed-job},
 *                   {@code options}
 * @param portFile   where rank 0 publishes the port it bound when {@code masterPort} is 0, or null (Note [rank 0
 *                   binds first] in World)
 */
public record LaunchContract(int rank, int worldSize, int localRank, String masterHost, int masterPort, String source,
                             Path portFile) {

    /** torch's default MASTER_PORT, used under Slurm when none is given. */
    public static final int DEFAULT_MASTER_PORT = 29500;

    /**
     * Set by {@code launch} beside {@code MASTER_PORT=0} when it picks no port itself: rank 0 binds a free one and
     * writes it to this file; the other ranks read it there.
     */
    public static final String PORT_FILE = "PPEXEC_MASTER_PORT_FILE";

    public LaunchContract(int rank, int worldSize, int localRank, String masterHost, int masterPort, String source) {
        this(rank, worldSize, localRank, masterHost, masterPort, source, null);
    }

    public LaunchContract {
        if (worldSize < 1) {
            throw new IllegalArgumentException("world size " + worldSize + " (from " + source + ") is not positive; "
                    + "allowed: an integer >= 1");
        }
        if (rank < 0 || rank >= worldSize) {
            throw new IllegalArgumentException("rank " + rank + " (from " + source + ") is out of range; allowed: 0.."
                    + (worldSize - 1) + " (world size " + worldSize + ")");
        }
        if (masterPort == 0 && portFile == null) {
            throw new IllegalArgumentException("rank 0's port 0 (from " + source + ") without " + PORT_FILE
                    + "; allowed: a port 1..65535");
        }
    }

    /** This contract once rank 0's port is known. */
    public LaunchContract withMasterPort(int port) {
        return new LaunchContract(rank, worldSize, localRank, masterHost, port, source, portFile);
    }

    /** What the options say; null where an option was not given. */
    public record Overrides(Integer rank, Integer worldSize, String master) {
        public static final Overrides NONE = new Overrides(null, null, null);
    }

    /*
     * Note [launch contract]
     * Every rank process runs the same command line; the environment says which rank it is. In order:
     *   1. torchrun and Kubeflow's PyTorchJob: RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT;
     *   2. srun: SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, rank 0 on the first host of SLURM_NODELIST,
     *      MASTER_PORT if set, else 29500;
     *   3. a Kubernetes Indexed Job: JOB_COMPLETION_INDEX, with --world-size and MASTER_ADDR/MASTER_PORT
     *      (or --master) given, since the Job does not say them.
     * --rank, --world-size and --master override whatever the environment says. A world of one rank is no world:
     * the run stays in one process and opens no socket.
     */

    /**
     * The contract this process runs under, or null when it is a single-process run. Bad values throw an
     * {@link IllegalArgumentException} whose message is one line naming the variable or option, the value and what
     * is allowed.
     */
    public static LaunchContract resolve(Map<String, String> env, Overrides options) {
        String source;
        Integer rank = null;
        Integer worldSize = null;
        Integer localRank = null;
        String host = null;
        Integer port = null;
        Path portFile = env.containsKey(PORT_FILE) ? Path.of(env.get(PORT_FILE)) : null;
        if (env.containsKey("RANK") || env.containsKey("WORLD_SIZE")) {
            source = "torchrun";
            rank = integer(env, "RANK");
            worldSize = integer(env, "WORLD_SIZE");
            localRank = integer(env, "LOCAL_RANK");
            host = env.get("MASTER_ADDR");
            port = port(env, portFile != null);
        } else if (env.containsKey("SLURM_PROCID")) {
            source = "slurm";
            rank = integer(env, "SLURM_PROCID");
            worldSize = integer(env, "SLURM_NTASKS");
            localRank = integer(env, "SLURM_LOCALID");
            String nodes = env.get("SLURM_NODELIST");
            host = env.containsKey("MASTER_ADDR") ? env.get("MASTER_ADDR")
                    : nodes == null ? null : firstHost(nodes);
            port = env.containsKey("MASTER_PORT") ? port(env, false) : Integer.valueOf(DEFAULT_MASTER_PORT);
        } else if (env.containsKey("JOB_COMPLETION_INDEX")) {
            source = "indexed-job";
            rank = integer(env, "JOB_COMPLETION_INDEX");
            host = env.get("MASTER_ADDR");
            port = port(env, false);
        } else {
            source = "options";
        }
        if (options.rank() != null) {
            rank = options.rank();
        }
        if (options.worldSize() != null) {
            worldSize = options.worldSize();
            if (worldSize < 1) {
                throw new IllegalArgumentException("--world-size " + worldSize + " is not positive; allowed: an integer >= 1");
            }
        }
        if (options.master() != null) {
            int colon = options.master().lastIndexOf(':');
            if (colon <= 0) {
                throw new IllegalArgumentException("--master '" + options.master() + "' has no port; allowed: HOST:PORT "
                        + "(e.g. 127.0.0.1:29500)");
            }
            host = options.master().substring(0, colon);
            port = portValue("--master", options.master().substring(colon + 1), options.master(), false);
        }
        if (worldSize == null) {
            if (rank == null && options.master() == null) {
                return null;
            }
            throw new IllegalArgumentException("world size not given (rank " + rank + " from " + source + "); allowed: "
                    + "--world-size N, or WORLD_SIZE / SLURM_NTASKS in the environment");
        }
        if (worldSize == 1 && (rank == null || rank == 0)) {
            return null;
        }
        if (rank == null) {
            throw new IllegalArgumentException("--world-size " + worldSize + " without a rank; allowed: --rank 0.."
                    + (worldSize - 1) + ", or RANK / SLURM_PROCID / JOB_COMPLETION_INDEX in the environment");
        }
        if (host == null || host.isBlank()) {
            throw new IllegalArgumentException("rank 0's address not given (world of " + worldSize + " from " + source
                    + "); allowed: --master HOST:PORT, or MASTER_ADDR and MASTER_PORT in the environment");
        }
        if (port == null) {
            throw new IllegalArgumentException("rank 0's port not given (world of " + worldSize + " from " + source
                    + "); allowed: --master HOST:PORT, or MASTER_PORT in the environment");
        }
        return new LaunchContract(rank, worldSize, localRank == null ? rank : localRank, host, port, source,
                port == 0 ? portFile : null);
    }

    private static Integer integer(Map<String, String> env, String name) {
        String v = env.get(name);
        if (v == null) {
            return null;
        }
        try {
            int n = Integer.parseInt(v.trim());
            if (n >= 0) {
                return n;
            }
        } catch (NumberFormatException e) {
            // Reported below.
        }
        throw new IllegalArgumentException(name + " '" + v + "' is not a non-negative integer; allowed: 0, 1, 2, ...");
    }

    private static Integer port(Map<String, String> env, boolean zeroAllowed) {
        String v = env.get("MASTER_PORT");
        return v == null ? null : portValue("MASTER_PORT", v, v, zeroAllowed);
    }

    /** A port 1..65535; 0 too where {@code zeroAllowed} (launch's MASTER_PORT=0 beside {@link #PORT_FILE}). */
    private static int portValue(String name, String v, String shown, boolean zeroAllowed) {
        try {
            int p = Integer.parseInt(v.trim());
            if (p >= (zeroAllowed ? 0 : 1) && p <= 65535) {
                return p;
            }
        } catch (NumberFormatException e) {
            // Reported below.
        }
        throw new IllegalArgumentException(name + " '" + shown + "' has no valid port; allowed: a port 1..65535"
                + (zeroAllowed ? ", or 0 beside " + PORT_FILE : ""));
    }

    /**
     * The first host of a Slurm node list: {@code node[01-04],other} gives {@code node01}, {@code a,b} gives
     * {@code a}, {@code gpu[3,5-7]} gives {@code gpu3}.
     */
    static String firstHost(String nodeList) {
        String list = nodeList.trim();
        int depth = 0;
        int end = list.length();
        for (int i = 0; i < list.length(); i++) {
            char c = list.charAt(i);
            if (c == '[') {
                depth++;
            } else if (c == ']') {
                depth--;
            } else if (c == ',' && depth == 0) {
                end = i;
                break;
            }
        }
        String first = list.substring(0, end);
        int open = first.indexOf('[');
        int close = first.indexOf(']', open + 1);
        if (open < 0) {
            if (first.isEmpty() || first.indexOf(']') >= 0) {
                throw badNodeList(nodeList);
            }
            return first;
        }
        if (open == 0 || close < 0) {
            throw badNodeList(nodeList);
        }
        String range = first.substring(open + 1, close).split(",", 2)[0];
        String low = range.split("-", 2)[0];
        if (low.isEmpty() || !low.chars().allMatch(Character::isDigit)) {
            throw badNodeList(nodeList);
        }
        return first.substring(0, open) + low + first.substring(close + 1);
    }

    private static IllegalArgumentException badNodeList(String nodeList) {
        return new IllegalArgumentException("SLURM_NODELIST '" + nodeList + "' is not a node list; allowed: e.g. "
                + "node[01-04],other or a,b (or set MASTER_ADDR)");
    }

    /** Whether this process serves the rendezvous store. */
    public boolean isMaster() {
        return rank == 0;
    }

    public String master() {
        return masterHost + ":" + masterPort;
    }
}
