package dev.ppexec.io;

import javax.imageio.ImageIO;
import java.awt.image.RenderedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Path;

/**
 * A picture written as a PNG file by Note [output policy]. The image is encoded in memory first:
 * ImageIO's writer then never touches the file, so a full disk is one {@link IOException} here,
 * not a stack trace from ImageIO's own threads, and no cache file is made in the system's temp folder.
 */
public final class PngFile {

    private PngFile() {}

    public static void write(Path target, RenderedImage image) throws IOException {
        ByteArrayOutputStream png = new ByteArrayOutputStream(1 << 16);
        ImageIO.setUseCache(false);
        if (!ImageIO.write(image, "png", png)) {
            throw new IOException("no PNG writer in this Java runtime");
        }
        AtomicFile.write(target, png::writeTo);
    }
}
