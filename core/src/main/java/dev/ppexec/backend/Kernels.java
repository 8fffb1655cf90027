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

    /**
     * Rotates interleaved pairs (2i, 2i+1) of each head of x[rows, heads·headDim] by p·theta^(-2i/headDim),
     * for positions p in 0..positions−1: whatever angle table a backend needs is built here, when the stage
     * is built, and a launch past {@code positions} fails.
     */
    Launch rope(String label, Buffer x, int batch, int heads, int headDim, double theta, int positions);

    /** Copies k, v [rows, dim] into the caches [batch, capacity, dim] at positions startPos.. */
    Launch kvAppend(String label, Buffer k, Buffer v, Buffer kCache, Buffer vCache, int batch, int dim, int capacity);

    /** Causal attention of q[rows, heads·headDim] over cache positions 0..p of its request; out[rows, dim]. */
    Launch attention(String label, Buffer q, Buffer kCache, Buffer vCache, Buffer out, int batch, int heads, int headDim,
                     int capacity);

    /** a[rows, n] = silu(a) ⊙ b */
    Launch siluMul(String label, Buffer a, Buffer b, int batch, int n);

    /** x[rows, dim] += delta */
    Launch add(String label, Buffer x, Buffer delta, int batch, int dim);

    /** out[b, dim] = x[b·tokens + tokens − 1]: the last position of each request. */
    Launch gatherLast(String label, Buffer x, Buffer out, int batch, int dim);

    /** ids[b] = argmax(logits[b, vocab]), lowest index on ties. Uses {@code batch} rows whatever {@code tokens} is. */
    Launch argmax(String label, Buffer logits, Buffer ids, int batch, int vocab);

    /** dst[0, rows·rowLength) = src[0, rows·rowLength); device to device (same or peer device). */
    Launch copy(String label, Buffer src, Buffer dst, int batch, int rowLength);

    /** table[requests[b]][startPos] = ids[b]: next tokens to the host, for step {@code startPos}. */
    Launch tokensToHost(String label, Buffer ids, int[][] table, int[] requests);
}
