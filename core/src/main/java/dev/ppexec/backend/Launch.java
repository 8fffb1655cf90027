package dev.ppexec.backend;

/**
 * A prepared kernel launch: buffers and shapes are bound once, when a stage is built, so that
 * launching it on a stream allocates nothing. Each launch takes two integers that change per step,
 * {@code tokens} (positions per request in this pass: the prompt length for prefill, 1 for decode)
 * and {@code startPos} (the position of the first of them).
 */
public interface Launch {

    /** A short name for errors and traces ({@code "matmul wq layer 3"}). */
    String name();
}
