package dev.ppexec.dist;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Map;

/**
 * Who may join a world: every call presents the world's shared secret ({@code PPEXEC_WORLD_TOKEN}) in its metadata;
 * a server checks it before any message is read, refuses and counts a call without it or with another. The token is
 * never printed, logged or traced: {@link #toString()} hides it.
 */
public final class WorldToken {

    public static final String VARIABLE = "PPEXEC_WORLD_TOKEN";
    static final int MIN_LENGTH = 16;

    private final byte[] secret;

    private WorldToken(String secret) {
        this.secret = secret.getBytes(StandardCharsets.UTF_8);
    }

    /** The token from the environment; a missing or short one is one line naming the variable. */
    public static WorldToken fromEnvironment(Map<String, String> env) {
        String v = env.get(VARIABLE);
        if (v == null || v.length() < MIN_LENGTH || !v.chars().allMatch(c -> c > ' ' && c < 127)) {
            throw new IllegalArgumentException(VARIABLE + " is " + (v == null ? "not set" : "not a valid token")
                    + "; allowed: the same secret of at least " + MIN_LENGTH + " printable ASCII characters in every "
                    + "rank's environment (ppexec launch makes one)");
        }
        return new WorldToken(v);
    }

    /** A fresh random token, for a launcher to hand its ranks. */
    public static String generate() {
        byte[] b = new byte[24];
        new SecureRandom().nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    String value() {
        return new String(secret, StandardCharsets.UTF_8);
    }

    boolean matches(String presented) {
        return presented != null && MessageDigest.isEqual(secret, presented.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public String toString() {
        return VARIABLE + "=<hidden>";
    }
}
