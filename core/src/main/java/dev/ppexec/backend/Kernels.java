package dev.ppexec.backend;

/**
 * The kernels the model needs, as prepared launches. Shapes use {@code batch} requests per
 * micro-batch; {@code label} names the launch in errors and traces ({@code "layers.3.wq"}); a launch's {@code tokens} argument gives the positions per request, so a pass has
 * {@code rows = batch · tokens} rows, row {@code b·tokens + t} at position {@code startPos + t}.
 */
public interface Kernels {

    /** x[rows, dim] = table[ids[row]] */
    Launch embed(String label, Buffer ids, Buffer table, Buffer x, int batch, int dim);

    /** out[rows, dim] = x / sqrt(mean(x²) + eps) · weight */
    Launch rmsnorm(String label, Buffer x, Buffer weight, Buffer out, int batch, int dim, float eps);

    /** y[rows, out] = x[rows, in] · w */
    Launch matmul(String label, Buffer x, Matrix w, Buffer y, int batch);

    /** out[b, dim] = x[b·tokens + tokens − 1]: the last position of each request. */
    Launch gatherLast(String label, Buffer x, Buffer out, int batch, int dim);

    // ---- Note [fused launches]: the launches a layer is made of since [G] ----
    // A decode pass (one token per request, rows ≤ StageProgram's fused limit) runs a layer as 6 launches:
    // normMatmul(qkv), ropeKvAppend, attention(step), matmulAdd(wo), normGateUp(w1|w3), matmulAdd(w2).
    // Larger passes run 9: rmsnorm, matmul(qkv), ropeKvAppend, attention(step), matmulAdd(wo), rmsnorm,
    // matmul(w1|w3), siluGate, matmulAdd(w2). wq|wk|wv and w1|w3 are packed side by side when a stage is built.
    // Launches that depend on the pass's positions read them from a device-resident step buffer written by
    // setStep, so that a forward captured once (a CUDA graph) replays at any position. The unfused launches they
    // replaced (rope, kvAppend, attention without a step buffer, siluMul, add) remain only on the CPU backend, as the
    // reference the fused launches are tested against (CpuKernels, Note [unfused reference]).

    /**
     * step[0] = tokens, step[1] = startPos (an INT32 buffer of 2): the pass's shape where the launches that take a
     * {@code step} buffer read it. Enqueued before a forward's other launches, and outside a captured graph.
     */
    Launch setStep(String label, Buffer step);

    /**
     * y[rows, out] = (rmsnorm(x)·norm)·w: {@link #rmsnorm} then {@link #matmul} in one launch, for decode-sized
     * passes (a backend reads each weight once for all rows). Equal to the two launches within the backend's matmul
     * tolerance.
     */
    Launch normMatmul(String label, Buffer x, Buffer norm, float eps, Matrix w, Buffer y, int batch);

    /** x[rows, out] += a[rows, in]·w: the residual add folded into the product. */
    Launch matmulAdd(String label, Buffer a, Matrix w, Buffer x, int batch);

    /**
     * out[rows, ffn] = silu(h·w1) ⊙ (h·w3) with h = rmsnorm(x)·norm, for decode-sized passes; {@code w13} is
     * [w1 | w3] packed side by side ([dim, 2·ffn]).
     */
    Launch normGateUp(String label, Buffer x, Buffer norm, float eps, Matrix w13, Buffer out, int batch);

    /** out[rows, n] = silu(upGate[r, 0..n)) ⊙ upGate[r, n..2n): the epilogue of the packed w1|w3 product. */
    Launch siluGate(String label, Buffer upGate, Buffer out, int batch, int n);

    /**
     * From qkv[rows, 3·dim] (q | k | v side by side, dim = heads·headDim): q rotated by RoPE into q[rows, dim]; k
     * rotated and v appended to the caches [batch, capacity, dim] at positions step[1]..; in one launch. Angles for
     * positions 0..capacity−1 are built here; a pass past {@code capacity} fails on the host before it is launched.
     */
    Launch ropeKvAppend(String label, Buffer qkv, Buffer q, Buffer kCache, Buffer vCache, Buffer step, int batch,
                        int heads, int headDim, double theta, int capacity);

    /**
     * Causal attention of q[rows, heads·headDim] over cache positions 0..p of its request; out[rows, dim]; the
     * positions read from {@code step} ({@link #setStep}).
     */
    Launch attention(String label, Buffer q, Buffer kCache, Buffer vCache, Buffer step, Buffer out, int batch,
                     int heads, int headDim, int capacity);

    /** ids[b] = argmax(logits[b, vocab]), lowest index on ties. Uses {@code batch} rows whatever {@code tokens} is. */
    Launch argmax(String label, Buffer logits, Buffer ids, int batch, int vocab);

    /** dst[0, rows·rowLength) = src[0, rows·rowLength); device to device (same or peer device). */
    Launch copy(String label, Buffer src, Buffer dst, int batch, int rowLength);

    /** table[requests[b]][startPos] = ids[b]: next tokens to the host, for step {@code startPos}. */
    Launch tokensToHost(String label, Buffer ids, int[][] table, int[] requests);
}
