package dev.ppexec.backend.cpu;

import dev.ppexec.backend.Launch;

/** A prepared CPU kernel: runs on the stream's worker thread. */
abstract class CpuLaunch implements Launch {

    private final String name;

    CpuLaunch(String name) {
        this.name = name;
    }

    @Override
    public final String name() {
        return name;
    }

    abstract void run(int tokens, int startPos);

    @Override
    public String toString() {
        return name;
    }
}
