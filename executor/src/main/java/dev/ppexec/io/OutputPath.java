package dev.ppexec.io;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** What an output name is on disk, after its symbolic links: see Note [output policy] in {@link AtomicFile}. */
public final class OutputPath {

    /** Links followed before giving up, as Linux's ELOOP does. */
    private static final int MAX_LINKS = 40;

    /** The kinds of file the policy tells apart, by the mode bits of the file a name ends at. */
    public enum Kind {
        MISSING, REGULAR, FIFO, CHARACTER_DEVICE, FOLDER, BLOCK_DEVICE, SOCKET;

        /** Why such a file is not written; null for the kinds that are. */
        String refusal() {
            return switch (this) {
                case FOLDER -> "is a folder; allowed: a file name";
                case BLOCK_DEVICE -> "is a block device (a disk), not written in place; allowed: a file, a FIFO or a character device";
                case SOCKET -> "is a socket; allowed: a file, a FIFO or a character device";
                default -> null;
            };
        }
    }

    private OutputPath() {}

    /** The file {@code path} names once every symbolic link on it is followed (it may not exist yet). */
    public static Path follow(Path path) throws IOException {
        Path p = path.toAbsolutePath().normalize();
        for (int i = 0; i < MAX_LINKS; i++) {
            Path folder = p.getParent();
            Path real = folder == null || !Files.isDirectory(folder) ? p : folder.toRealPath().resolve(p.getFileName());
            if (!Files.isSymbolicLink(real)) {
                return real;
            }
            p = real.resolveSibling(Files.readSymbolicLink(real)).normalize();
        }
        throw new FileSystemException(path.toString(), null, "Too many levels of symbolic links");
    }

    /** The kind of file at {@code resolved} (a result of {@link #follow}). */
    public static Kind kind(Path resolved) throws IOException {
        int mode;
        try {
            mode = (Integer) Files.getAttribute(resolved, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return Kind.MISSING;
        } catch (UnsupportedOperationException e) {
            return !Files.exists(resolved) ? Kind.MISSING : Files.isDirectory(resolved) ? Kind.FOLDER
                    : Files.isRegularFile(resolved) ? Kind.REGULAR : Kind.CHARACTER_DEVICE;
        }
        return switch (mode & 0170000) {
            case 0100000 -> Kind.REGULAR;
            case 0040000 -> Kind.FOLDER;
            case 0010000 -> Kind.FIFO;
            case 0020000 -> Kind.CHARACTER_DEVICE;
            case 0060000 -> Kind.BLOCK_DEVICE;
            case 0140000 -> Kind.SOCKET;
            default -> throw new IOException(resolved + ": unknown file type (mode " + Integer.toOctalString(mode) + ")");
        };
    }
}
