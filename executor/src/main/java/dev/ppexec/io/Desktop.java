package dev.ppexec.io;

/** Whether this Java runtime can draw pictures: the GPU bundle's jlink-ed runtime has no java.desktop. */
public final class Desktop {

    private Desktop() {}

    public static boolean available() {
        return ModuleLayer.boot().findModule("java.desktop").isPresent();
    }
}
