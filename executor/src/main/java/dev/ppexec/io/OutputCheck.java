package dev.ppexec.io;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Checks a command's outputs and inputs before anything runs (before a device is chosen): every
 * output can be written by Note [output policy] (its folder is created, a file can be made in it,
 * it is not a folder, a disk or a socket), no two options name one file, and no output is an
 * input. A problem throws {@link OutputRefusedException} with one line: the option, the path as
 * given, and the operating system's reason or what is allowed.
 */
public final class OutputCheck {

    private record Use(String option, Path path, boolean output) {}

    private final List<Use> uses = new ArrayList<>();

    /** An output option; a null path (option not given) is skipped. */
    public OutputCheck output(String option, Path path) {
        if (path != null) {
            uses.add(new Use(Objects.requireNonNull(option, "option"), path, true));
        }
        return this;
    }

    /** An input option; a null path is skipped. Inputs are only compared with outputs here. */
    public OutputCheck input(String option, Path path) {
        if (path != null) {
            uses.add(new Use(Objects.requireNonNull(option, "option"), path, false));
        }
        return this;
    }

    /** Runs every check; throws {@link OutputRefusedException} on the first problem. */
    public void check() {
        Map<Object, Use> seen = new HashMap<>();
        for (Use u : uses) {
            Object identity = u.output() ? checkOutput(u) : identity(u);
            if (identity == null) {
                continue;
            }
            Use first = seen.putIfAbsent(identity, u);
            if (first != null) {
                throw new OutputRefusedException(describe(first) + " and " + describe(u) + " name one file"
                        + (u.output() && first.output() ? "; allowed: a different file for each output"
                        : "; allowed: an output that is not an input"));
            }
        }
    }

    private static String describe(Use u) {
        return u.option() + " " + u.path();
    }

    /** Checks that {@code u} can be written; returns what identifies its file. */
    private static Object checkOutput(Use u) {
        if (u.path().toString().isEmpty()) {
            throw new OutputRefusedException(u.option() + " '' is empty; allowed: a file name");
        }
        try {
            Path resolved = OutputPath.follow(u.path());
            OutputPath.Kind kind = OutputPath.kind(resolved);
            String refusal = kind.refusal();
            if (refusal != null) {
                throw new OutputRefusedException(describe(u) + " " + refusal);
            }
            if (kind == OutputPath.Kind.FIFO || kind == OutputPath.Kind.CHARACTER_DEVICE) {
                if (!Files.isWritable(resolved)) {
                    throw new OutputRefusedException(describe(u) + ": cannot write: Permission denied");
                }
                return Files.readAttributes(resolved, "unix:dev,ino");
            }
            Path folder = resolved.getParent();
            Files.createDirectories(folder);
            AtomicFile.removeStrays(folder);
            Path probe = AtomicFile.tempBeside(resolved, "probe");
            try {
                Files.createFile(probe);
            } catch (IOException e) { // procfs says ENOENT for a new file in a folder that is there
                throw new FileSystemException(folder.toString(), null, e instanceof NoSuchFileException
                        && Files.isDirectory(folder) ? "this folder takes no new files" : why(e));
            }
            Files.delete(probe);
            return kind == OutputPath.Kind.REGULAR ? Files.readAttributes(resolved, "unix:dev,ino") : resolved;
        } catch (IOException e) {
            throw new OutputRefusedException(describe(u) + ": cannot write: " + reason(e)
                    + "; allowed: a file in a folder this user can write", e);
        } catch (UnsupportedOperationException e) {
            return u.path().toAbsolutePath().normalize();
        }
    }

    /** An input's file, when it exists (a missing input is the command's own check). */
    private static Object identity(Use u) {
        try {
            return Files.readAttributes(u.path(), "unix:dev,ino");
        } catch (IOException | UnsupportedOperationException e) {
            return null;
        }
    }

    /** The operating system's reason, as {@code strerror} says it, with the path it concerns. */
    static String reason(IOException e) {
        return e instanceof FileSystemException f && f.getFile() != null ? f.getFile() + ": " + why(e) : why(e);
    }

    /** The reason alone, as {@code strerror} says it: Java's exceptions for ENOENT, EACCES, ENOTDIR carry only the path. */
    static String why(IOException e) {
        return switch (e) {
            case NoSuchFileException x -> "No such file or directory";
            case AccessDeniedException x -> "Permission denied";
            case NotDirectoryException x -> "Not a directory";
            case FileAlreadyExistsException x -> "Not a directory";
            case FileSystemException x when x.getReason() != null -> x.getReason();
            default -> e.getMessage();
        };
    }
}
