package dev.ppexec.otel;

import java.net.InetAddress;
import java.net.UnknownHostException;

/** This host's name, looked up once: the resource's host.name and the thread spans' host_id. */
final class HostName {

    private static final class Holder {
        static final String NAME = lookUp();
    }

    private HostName() {}

    static String get() {
        return Holder.NAME;
    }

    private static String lookUp() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            return "unknown";
        }
    }
}
