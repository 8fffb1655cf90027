package dev.ppexec.backend;

/** A launch failed on a stream: which stream, which launch, why. */
public record StreamFailure(Stream stream, String launch, Throwable cause) {}
