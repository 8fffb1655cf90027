package dev.ppexec.dist;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Note [launch contract]: which variables win, what options override, and one-line errors for bad values. */
class LaunchContractTest {

    private static Map<String, String> env(String... pairs) {
        Map<String, String> m = new HashMap<>();
        for (int i = 0; i < pairs.length; i += 2) {
            m.put(pairs[i], pairs[i + 1]);
        }
        return m;
    }

    private static final LaunchContract.Overrides NONE = LaunchContract.Overrides.NONE;

    static Stream<Arguments> precedence() {
        return Stream.of(
                // torchrun and PyTorchJob
                Arguments.of(env("RANK", "1", "WORLD_SIZE", "4", "LOCAL_RANK", "1", "MASTER_ADDR", "10.0.0.5",
                        "MASTER_PORT", "29400"), NONE, new LaunchContract(1, 4, 1, "10.0.0.5", 29400, "torchrun")),
                // torchrun wins over Slurm when both are set (torchrun under srun)
                Arguments.of(env("RANK", "2", "WORLD_SIZE", "4", "LOCAL_RANK", "0", "MASTER_ADDR", "a", "MASTER_PORT",
                        "1234", "SLURM_PROCID", "0", "SLURM_NTASKS", "1", "SLURM_NODELIST", "n1"), NONE,
                        new LaunchContract(2, 4, 0, "a", 1234, "torchrun")),
                // srun: the first host of the node list, the default port
                Arguments.of(env("SLURM_PROCID", "3", "SLURM_NTASKS", "4", "SLURM_LOCALID", "1", "SLURM_NODELIST",
                        "node[01-04],login"), NONE, new LaunchContract(3, 4, 1, "node01", 29500, "slurm")),
                // srun with MASTER_PORT and MASTER_ADDR given
                Arguments.of(env("SLURM_PROCID", "0", "SLURM_NTASKS", "2", "SLURM_LOCALID", "0", "SLURM_NODELIST",
                        "gpu[3,5-7]", "MASTER_PORT", "31000", "MASTER_ADDR", "head"), NONE,
                        new LaunchContract(0, 2, 0, "head", 31000, "slurm")),
                // Slurm wins over an Indexed Job's index
                Arguments.of(env("SLURM_PROCID", "1", "SLURM_NTASKS", "2", "SLURM_NODELIST", "a,b",
                        "JOB_COMPLETION_INDEX", "0"), NONE, new LaunchContract(1, 2, 1, "a", 29500, "slurm")),
                // Kubernetes Indexed Job: the world size is given as an option
                Arguments.of(env("JOB_COMPLETION_INDEX", "1", "MASTER_ADDR", "ppexec-0.ppexec", "MASTER_PORT", "29500"),
                        new LaunchContract.Overrides(null, 2, null),
                        new LaunchContract(1, 2, 1, "ppexec-0.ppexec", 29500, "indexed-job")),
                // options override every variable; LOCAL_RANK unset means the rank itself
                Arguments.of(env("RANK", "1", "WORLD_SIZE", "4", "MASTER_ADDR", "x", "MASTER_PORT", "1"),
                        new LaunchContract.Overrides(0, 2, "127.0.0.1:40000"),
                        new LaunchContract(0, 2, 0, "127.0.0.1", 40000, "torchrun")),
                // options alone
                Arguments.of(env(), new LaunchContract.Overrides(1, 3, "[::1]:29500"),
                        new LaunchContract(1, 3, 1, "[::1]", 29500, "options")),
                // ppexec launch: MASTER_PORT=0 beside the file where rank 0 publishes the port it bound
                Arguments.of(env("RANK", "1", "WORLD_SIZE", "2", "MASTER_ADDR", "127.0.0.1", "MASTER_PORT", "0",
                        LaunchContract.PORT_FILE, "launch/master-port"), NONE,
                        new LaunchContract(1, 2, 1, "127.0.0.1", 0, "torchrun", Path.of("launch/master-port"))),
                // a port given wins over the file: there is nothing to publish
                Arguments.of(env("RANK", "0", "WORLD_SIZE", "2", "MASTER_ADDR", "127.0.0.1", "MASTER_PORT", "29400",
                        LaunchContract.PORT_FILE, "launch/master-port"), NONE,
                        new LaunchContract(0, 2, 0, "127.0.0.1", 29400, "torchrun")));
    }

    @ParameterizedTest
    @MethodSource("precedence")
    void resolve_followsThePrecedence(Map<String, String> env, LaunchContract.Overrides options, LaunchContract expected) {
        assertThat(LaunchContract.resolve(env, options)).isEqualTo(expected);
    }

    @Test
    void resolve_isNullForASingleProcessRun() {
        assertThat(LaunchContract.resolve(env(), NONE)).isNull();
        assertThat(LaunchContract.resolve(env("RANK", "0", "WORLD_SIZE", "1"), NONE)).isNull();
        assertThat(LaunchContract.resolve(env("PATH", "/bin"), NONE)).isNull();
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', textBlock = """
            node[01-04],other      | node01
            a,b                    | a
            gpu[3,5-7]             | gpu3
            single                 | single
            rack[2-3]-gpu[1-2],x   | rack2-gpu[1-2]
            """)
    void firstHost_takesTheFirstNodeOfASlurmList(String list, String first) {
        assertThat(LaunchContract.firstHost(list)).isEqualTo(first);
    }

    static Stream<Arguments> badValues() {
        return Stream.of(
                Arguments.of(env("RANK", "x", "WORLD_SIZE", "2", "MASTER_ADDR", "a", "MASTER_PORT", "1"), NONE,
                        "RANK 'x' is not a non-negative integer"),
                Arguments.of(env("RANK", "2", "WORLD_SIZE", "2", "MASTER_ADDR", "a", "MASTER_PORT", "1"), NONE,
                        "rank 2 (from torchrun) is out of range; allowed: 0..1"),
                Arguments.of(env("RANK", "1", "WORLD_SIZE", "2", "MASTER_ADDR", "a", "MASTER_PORT", "70000"), NONE,
                        "MASTER_PORT '70000' has no valid port; allowed: a port 1..65535"),
                Arguments.of(env("RANK", "1", "WORLD_SIZE", "2", "MASTER_ADDR", "a", "MASTER_PORT", "0"), NONE,
                        "MASTER_PORT '0' has no valid port; allowed: a port 1..65535"),
                Arguments.of(env("RANK", "1", "WORLD_SIZE", "2", "MASTER_ADDR", "a", "MASTER_PORT", "-1",
                        LaunchContract.PORT_FILE, "f"), NONE,
                        "MASTER_PORT '-1' has no valid port; allowed: a port 1..65535, or 0 beside PPEXEC_MASTER_PORT_FILE"),
                Arguments.of(env("SLURM_PROCID", "0", "SLURM_NTASKS", "2", "SLURM_NODELIST", "a", "MASTER_PORT", "0",
                        LaunchContract.PORT_FILE, "f"), NONE,
                        "MASTER_PORT '0' has no valid port; allowed: a port 1..65535"),
                Arguments.of(env("RANK", "1", "WORLD_SIZE", "2", "MASTER_PORT", "1"), NONE,
                        "rank 0's address not given"),
                Arguments.of(env("JOB_COMPLETION_INDEX", "1", "MASTER_ADDR", "a", "MASTER_PORT", "1"), NONE,
                        "world size not given (rank 1 from indexed-job); allowed: --world-size N"),
                Arguments.of(env("SLURM_PROCID", "0", "SLURM_NTASKS", "2", "SLURM_NODELIST", "[01-02]"), NONE,
                        "SLURM_NODELIST '[01-02]' is not a node list"),
                Arguments.of(env(), new LaunchContract.Overrides(null, 2, "h:1"),
                        "--world-size 2 without a rank; allowed: --rank 0..1"),
                Arguments.of(env(), new LaunchContract.Overrides(0, 2, "nohost"),
                        "--master 'nohost' has no port; allowed: HOST:PORT"),
                Arguments.of(env(), new LaunchContract.Overrides(0, 0, "h:1"),
                        "--world-size 0 is not positive"));
    }

    @ParameterizedTest
    @MethodSource("badValues")
    void resolve_badValue_isOneLineNamingItAndWhatIsAllowed(Map<String, String> env, LaunchContract.Overrides options,
                                                            String message) {
        assertThatThrownBy(() -> LaunchContract.resolve(env, options))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(message)
                .hasMessageContaining("allowed")
                .message().doesNotContain("\n");
    }
}
