package dev.ppexec.runtime;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The operating system's id of the calling thread, as sglang records a thread ({@code threading.get_native_id()}). */
final class OsThread {

    private static final Path THREAD_SELF = Path.of("/proc/thread-self");

    private OsThread() {}

    /**
     * Linux's thread id, read from {@code /proc/thread-self} (a link to {@code PID/task/TID}); where
     * there is no such link, the JVM's id of the thread.
     */
    static long currentId() {
        try {
            String target = Files.readSymbolicLink(THREAD_SELF).toString();
            return Long.parseLong(target.substring(target.lastIndexOf('/') + 1));
        } catch (IOException | UnsupportedOperationException | NumberFormatException e) {
            return Thread.currentThread().threadId();
        }
    }
}
