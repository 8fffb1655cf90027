#!/usr/bin/env python3
"""The toy transformer of DESIGN.md ("The model"), re-implemented with numpy on the CPU.

Recomputes, from the seed alone, the weights, the prompts, the logits and the greedy tokens of a
ppexec run, so the CPU backend (and through it every other backend) can be checked against an
implementation that shares no code with it. Float64 by default: the weights are drawn exactly as
ppexec draws them (rounded once to float32), then every operation runs in float64.

    scripts/reference_numpy.py --model tiny --requests 2 --prompt-len 8 --decode-steps 4 --out ref.json

Output JSON:
  tokens    [request][step]         generated ids, step 0 from prefill (as ppexec's --report)
  logits    [request][step][vocab]  logits of the position that produced each token
  top2_gap  [request][step]         top logit minus the runner-up, in logit units
scripts/reference_torch.py imports the generator and the presets from this file.
"""

import argparse
import json
import math
import os
import sys
import tempfile

try:
    import numpy as np
except ImportError:
    print("reference_numpy: numpy is not installed (pip install numpy)", file=sys.stderr)
    sys.exit(2)

MASK64 = (1 << 64) - 1
GOLDEN_GAMMA = 0x9E3779B97F4A7C15
NORM_EPS = 1e-5
ROPE_THETA = 10000.0

# name: (vocab, dim, heads, layers, ffn, maxSeq), as ModelConfig.preset
PRESETS = {
    "tiny": (256, 64, 4, 4, 256, 128),
    "toy": (4096, 512, 8, 8, 2048, 512),
    "small": (8192, 1024, 16, 16, 4096, 1024),
}


class Config:
    """One preset's shape and seed."""

    def __init__(self, name, seed):
        self.name = name
        self.vocab, self.dim, self.heads, self.layers, self.ffn, self.max_seq = PRESETS[name]
        self.seed = seed
        self.head_dim = self.dim // self.heads


# ---- generators (DESIGN.md, "Weight init" and "Prompts") ----

def fnv1a64(text):
    """FNV-1a 64-bit over the UTF-8 bytes of text."""
    h = 0xCBF29CE484222325
    for b in text.encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) & MASK64
    return h


def splitmix64(seed, count):
    """The first `count` outputs of SplitMix64 seeded with `seed`, as uint64 (vectorised:
    the state after k+1 steps is seed + (k+1)·gamma mod 2^64)."""
    with np.errstate(over="ignore"):
        z = np.arange(1, count + 1, dtype=np.uint64) * np.uint64(GOLDEN_GAMMA) + np.uint64(seed & MASK64)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def stream(seed, name, count):
    """The named stream: SplitMix64 seeded with seed XOR fnv1a64(name)."""
    return splitmix64((seed & MASK64) ^ fnv1a64(name), count)


def draw(seed, name, count, scale):
    """(2u − 1)·scale with u = (x >> 40)·2^-24, in double, rounded once to float32."""
    u = (stream(seed, name, count) >> np.uint64(40)).astype(np.float64) * 2.0 ** -24
    return ((2.0 * u - 1.0) * scale).astype(np.float32)


def matrix(seed, name, rows, cols):
    """A weight matrix [in, out], row-major, scale 1/sqrt(in)."""
    return draw(seed, name, rows * cols, 1.0 / math.sqrt(rows)).reshape(rows, cols)


def weights(cfg):
    """All tensors by DESIGN.md name, float32; norm weights are all ones."""
    w = {"embed": draw(cfg.seed, "embed", cfg.vocab * cfg.dim, 1.0).reshape(cfg.vocab, cfg.dim)}
    for i in range(cfg.layers):
        p = "layers.%d." % i
        w[p + "attn_norm"] = np.ones(cfg.dim, dtype=np.float32)
        w[p + "mlp_norm"] = np.ones(cfg.dim, dtype=np.float32)
        for t in ("wq", "wk", "wv", "wo"):
            w[p + t] = matrix(cfg.seed, p + t, cfg.dim, cfg.dim)
        w[p + "w1"] = matrix(cfg.seed, p + "w1", cfg.dim, cfg.ffn)
        w[p + "w3"] = matrix(cfg.seed, p + "w3", cfg.dim, cfg.ffn)
        w[p + "w2"] = matrix(cfg.seed, p + "w2", cfg.ffn, cfg.dim)
    w["final_norm"] = np.ones(cfg.dim, dtype=np.float32)
    w["lm_head"] = matrix(cfg.seed, "lm_head", cfg.dim, cfg.vocab)
    return w


def prompts(cfg, requests, length):
    """[requests, length] ids: request i from stream "prompt.i", each (x >> 33) mod vocab."""
    return np.stack([(stream(cfg.seed, "prompt.%d" % i, length) >> np.uint64(33)) % np.uint64(cfg.vocab)
                     for i in range(requests)]).astype(np.int64)


def rope_tables(cfg, positions, dtype):
    """cos, sin [positions, head_dim/2] of angle p·theta^(-2i/head_dim), computed in float64."""
    half = cfg.head_dim // 2
    inv = ROPE_THETA ** (-2.0 * np.arange(half, dtype=np.float64) / cfg.head_dim)
    angle = np.arange(positions, dtype=np.float64)[:, None] * inv[None, :]
    return np.cos(angle).astype(dtype), np.sin(angle).astype(dtype)


# ---- the forward ----

class Model:
    """The model in one dtype, with a KV cache per layer for a batch of requests."""

    def __init__(self, cfg, w, dtype, batch, capacity):
        self.cfg = cfg
        self.dtype = dtype
        self.w = {k: v.astype(dtype) for k, v in w.items()}
        self.cos, self.sin = rope_tables(cfg, capacity, dtype)
        shape = (batch, capacity, cfg.heads, cfg.head_dim)
        self.k_cache = [np.zeros(shape, dtype) for _ in range(cfg.layers)]
        self.v_cache = [np.zeros(shape, dtype) for _ in range(cfg.layers)]

    def rmsnorm(self, x, weight):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.dtype(NORM_EPS)) * weight

    def rope(self, x, start):
        # x (B, T, H, hd): rotate interleaved pairs (2i, 2i+1) by the angle of each position
        t = x.shape[1]
        c = self.cos[start:start + t][None, :, None, :]
        s = self.sin[start:start + t][None, :, None, :]
        x0, x1 = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = x0 * c - x1 * s
        out[..., 1::2] = x0 * s + x1 * c
        return out

    def attention(self, q, layer, start):
        # q (B, T, H, hd) at positions start..start+T-1; keys and values 0..start+T-1
        cfg = self.cfg
        t = q.shape[1]
        end = start + t
        k = self.k_cache[layer][:, :end]                                   # (B, P, H, hd)
        v = self.v_cache[layer][:, :end]
        scores = np.einsum("bthd,bphd->bhtp", q, k) * self.dtype(1.0 / math.sqrt(cfg.head_dim))
        query_pos = np.arange(start, end)[:, None]
        key_pos = np.arange(end)[None, :]
        scores = np.where(key_pos <= query_pos, scores, -np.inf)           # causal: 0..p inclusive
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        probs = scores / scores.sum(axis=-1, keepdims=True)
        return np.einsum("bhtp,bphd->bthd", probs, v)                      # (B, T, H, hd)

    def forward(self, ids, start):
        """Logits (B, vocab) of the last of the T positions ids (B, T) at start..start+T-1."""
        cfg, w = self.cfg, self.w
        b, t = ids.shape
        x = w["embed"][ids]                                                # (B, T, dim)
        for i in range(cfg.layers):
            p = "layers.%d." % i
            h = self.rmsnorm(x, w[p + "attn_norm"])
            q = self.rope((h @ w[p + "wq"]).reshape(b, t, cfg.heads, cfg.head_dim), start)
            k = self.rope((h @ w[p + "wk"]).reshape(b, t, cfg.heads, cfg.head_dim), start)
            v = (h @ w[p + "wv"]).reshape(b, t, cfg.heads, cfg.head_dim)
            self.k_cache[i][:, start:start + t] = k
            self.v_cache[i][:, start:start + t] = v
            att = self.attention(q, i, start).reshape(b, t, cfg.dim)
            x = x + att @ w[p + "wo"]
            h = self.rmsnorm(x, w[p + "mlp_norm"])
            up = h @ w[p + "w1"]
            x = x + (up / (1 + np.exp(-up)) * (h @ w[p + "w3"])) @ w[p + "w2"]
        last = self.rmsnorm(x[:, -1], w["final_norm"])                     # (B, dim)
        return last @ w["lm_head"]                                         # (B, vocab)


def top2_gap(logits):
    """Top logit minus the runner-up, per row."""
    part = np.partition(logits, -2, axis=-1)
    return part[..., -1] - part[..., -2]


def generate(cfg, requests, prompt_len, decode_steps, dtype=np.float64, w=None):
    """Prefill then greedy decode: tokens (R, S+1), logits (R, S+1, vocab). Argmax takes the lowest
    index on ties (numpy's argmax returns the first maximum)."""
    ids = prompts(cfg, requests, prompt_len)
    model = Model(cfg, weights(cfg) if w is None else w, dtype, requests, prompt_len + decode_steps)
    tokens = np.zeros((requests, decode_steps + 1), dtype=np.int64)
    logits = np.zeros((requests, decode_steps + 1, cfg.vocab), dtype=np.float64)
    step_logits = model.forward(ids, 0)
    for step in range(decode_steps + 1):
        logits[:, step] = step_logits
        tokens[:, step] = np.argmax(step_logits, axis=-1)
        if step < decode_steps:
            step_logits = model.forward(tokens[:, step:step + 1], prompt_len + step)
    return tokens, logits


# ---- command line (shared with reference_torch.py) ----

class OneLineParser(argparse.ArgumentParser):
    """Bad input: exit status 2 and one line naming the option, the value and what is allowed."""

    def error(self, message):
        print("%s: %s" % (self.prog, message), file=sys.stderr)
        sys.exit(2)


def int_at_least(low):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low:
            raise argparse.ArgumentTypeError("'%s'; allowed: an integer >= %d" % (text, low))
        return value
    return parse


def seed_value(text):
    try:
        value = int(text, 0)
    except ValueError:
        value = None
    if value is None or not -(1 << 63) <= value < (1 << 63):
        raise argparse.ArgumentTypeError("'%s'; allowed: a 64-bit signed integer" % text)
    return value


def run_parser(prog, description):
    """The options both references share, spelled as ppexec run spells them."""
    p = OneLineParser(prog=prog, description=description)
    p.add_argument("--model", default="tiny", choices=list(PRESETS), help="preset (default tiny)")
    p.add_argument("--requests", type=int_at_least(1), default=2, help="requests (default 2)")
    p.add_argument("--prompt-len", type=int_at_least(1), default=8, help="prompt tokens per request (default 8)")
    p.add_argument("--decode-steps", type=int_at_least(0), default=4, help="greedy decode steps (default 4)")
    p.add_argument("--seed", type=seed_value, default=42, help="seed of weights and prompts (default 42)")
    p.add_argument("--out", help="write the results as JSON to this file")
    return p


def checked_config(parser, args):
    """The preset, after checking that prompt + decode steps fit its maxSeq."""
    cfg = Config(args.model, args.seed)
    if args.prompt_len + args.decode_steps > cfg.max_seq:
        parser.error("--prompt-len %d + --decode-steps %d = %d positions; allowed: at most maxSeq %d of model %s"
                     % (args.prompt_len, args.decode_steps, args.prompt_len + args.decode_steps, cfg.max_seq,
                        cfg.name))
    return cfg


def write_json(path, document):
    """Writes to a temporary file in the target's folder, then renames it over the target."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path), suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(document, f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main(argv=None):
    parser = run_parser("reference_numpy", "Logits and greedy tokens of the toy transformer, with numpy.")
    parser.add_argument("--dtype", default="float64", choices=["float32", "float64"],
                        help="arithmetic of the forward (default float64; weights are float32 either way)")
    args = parser.parse_args(argv)
    cfg = checked_config(parser, args)
    tokens, logits = generate(cfg, args.requests, args.prompt_len, args.decode_steps, np.dtype(args.dtype).type)
    document = {
        "model": cfg.name, "seed": cfg.seed, "dtype": args.dtype, "requests": args.requests,
        "promptLength": args.prompt_len, "decodeSteps": args.decode_steps,
        "tokens": tokens.tolist(),
        "logits": logits.tolist(),
        "top2_gap": top2_gap(logits).tolist(),
    }
    if args.out:
        try:
            write_json(args.out, document)
        except OSError as e:
            print("reference_numpy: --out '%s': cannot write: %s" % (args.out, e.strerror), file=sys.stderr)
            return 2
    for r, row in enumerate(tokens.tolist()):
        print("request %d: %s" % (r, " ".join(map(str, row))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
