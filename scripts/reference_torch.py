#!/usr/bin/env python3
"""The toy transformer of DESIGN.md with PyTorch on a GPU: greedy tokens and timings, eager or with
a CUDA graph per decode step. The baseline ppexec's CUDA backend is compared with.

    scripts/reference_torch.py --model small --requests 8 --prompt-len 32 --decode-steps 32 --mode graph --out t.json
    scripts/reference_torch.py --model toy --batches 1,8,64 --modes eager,graph --prompt-len 32 --decode-steps 32 --out t.json

Same model, weights and prompts as scripts/reference_numpy.py (imported from it), in float32 with
TF32 off. Prefill runs eagerly; each decode step runs on static buffers (a KV cache of
prompt + decode-steps positions, the position as a device tensor), so `--mode graph` captures one
step once and replays it, with no host synchronisation between steps. Both modes run the whole
generation once untimed first, then time it --repeats times with CUDA events and report the medians.

Output JSON (--out): tokens [request][step] (as ppexec's --report), prefill_ms, decode_step_ms
(mean over the steps), tokens_per_second (generated tokens / (prefill + decode) time), device,
mode, torch, and the run's shape. `--batches` and `--modes` (comma lists) run every batch size in
every mode on weights drawn once (scripts/gpu-check's decode rows); `runs` lists each run's
requests, mode, tokens, prefill_ms, decode_step_ms and tokens_per_second (one run without them),
and the top-level fields are the first run's. Exit status 2: a bad option, or PyTorch (or CUDA) missing here.
`--torch-device cpu` runs the eager path on the CPU, to check this script where no GPU is present.
"""

import statistics
import sys
import time

import reference_numpy as ref


def parse(argv):
    parser = ref.run_parser("reference_torch", "Greedy tokens and timings of the toy transformer with PyTorch.")
    parser.add_argument("--mode", default="graph", choices=["eager", "graph"],
                        help="decode steps launched eagerly or replayed from one CUDA graph (default graph)")
    parser.add_argument("--torch-device", default="cuda", choices=["cuda", "cpu"],
                        help="where to run (default cuda; cpu allows only --mode eager)")
    parser.add_argument("--repeats", type=ref.int_at_least(1), default=3,
                        help="timed runs after the warm-up run; the medians are reported (default 3)")
    parser.add_argument("--batches", type=int_list,
                        help="comma list of batch sizes, each run on the same weights (default: --requests)")
    parser.add_argument("--modes", type=mode_list,
                        help="comma list of eager and graph, each run for every batch (default: --mode)")
    args = parser.parse_args(argv)
    args.batches = args.batches or [args.requests]
    args.modes = args.modes or [args.mode]
    if "graph" in args.modes and args.torch_device == "cpu":
        parser.error("--mode/--modes graph with --torch-device cpu; allowed: eager on the CPU (CUDA graphs need a GPU)")
    return args, ref.checked_config(parser, args)


def int_list(text):
    parse = ref.int_at_least(1)
    return [parse(part) for part in text.split(",")]


def mode_list(text):
    modes = text.split(",")
    for m in modes:
        if m not in ("eager", "graph"):
            raise ref.argparse.ArgumentTypeError("'%s' has mode '%s'; allowed: eager, graph (comma-separated)" % (text, m))
    return modes


class TorchModel:
    """Weights on the device and the static state of one batch: KV caches, position, next ids, tokens."""

    def __init__(self, torch, cfg, weights, device, batch, prompt_len, decode_steps):
        self.torch = torch
        self.cfg = cfg
        self.batch = batch
        self.prompt_len = prompt_len
        capacity = prompt_len + decode_steps

        def put(array):
            return torch.from_numpy(array).to(device)

        self.embed = put(weights["embed"])                                          # (vocab, dim)
        self.layers = []
        for i in range(cfg.layers):
            p = "layers.%d." % i
            self.layers.append({
                "attn_norm": put(weights[p + "attn_norm"]),
                "wqkv": torch.cat([put(weights[p + t]) for t in ("wq", "wk", "wv")], dim=1),  # (dim, 3·dim)
                "wo": put(weights[p + "wo"]),
                "mlp_norm": put(weights[p + "mlp_norm"]),
                "w13": torch.cat([put(weights[p + "w1"]), put(weights[p + "w3"])], dim=1),     # (dim, 2·ffn)
                "w2": put(weights[p + "w2"]),
            })
        self.final_norm = put(weights["final_norm"])
        self.lm_head = put(weights["lm_head"])                                      # (dim, vocab)
        cos, sin = ref.rope_tables(cfg, capacity, ref.np.float32)                   # (capacity, head_dim/2)
        self.cos, self.sin = put(cos), put(sin)
        self.scale = 1.0 / (cfg.head_dim ** 0.5)
        shape = (batch, capacity, cfg.heads, cfg.head_dim)
        self.k_cache = [torch.zeros(shape, device=device) for _ in range(cfg.layers)]
        self.v_cache = [torch.zeros(shape, device=device) for _ in range(cfg.layers)]
        self.key_pos = torch.arange(capacity, device=device)
        self.zero = torch.zeros((), dtype=torch.int64, device=device)
        self.pos = torch.zeros((), dtype=torch.int64, device=device)                # position of the next step
        self.next_ids = torch.zeros(batch, dtype=torch.int64, device=device)        # (B,)
        self.tokens = torch.zeros((batch, decode_steps + 1), dtype=torch.int64, device=device)

    def rmsnorm(self, x, weight):
        return x * self.torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + ref.NORM_EPS) * weight

    @staticmethod
    def rope(torch, x, cos, sin):
        # x (B, n, H, hd): rotate interleaved pairs (2i, 2i+1); cos, sin (1, n, 1, hd/2)
        x0, x1 = x[..., 0::2], x[..., 1::2]
        return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1).flatten(-2)

    def forward(self, ids, start):
        """Logits (B, vocab) of the last of the n positions ids (B, n) at start..start+n-1, where
        start is a 0-dim device tensor: no host synchronisation, so a CUDA graph can capture it."""
        torch, cfg = self.torch, self.cfg
        b, n = ids.shape
        pos = start + self.key_pos[:n]                                              # (n,)
        cos = self.cos[pos][None, :, None, :]
        sin = self.sin[pos][None, :, None, :]
        visible = self.key_pos[None, :] <= pos[:, None]                             # (n, capacity): causal
        x = self.embed[ids]                                                         # (B, n, dim)
        for i, layer in enumerate(self.layers):
            h = self.rmsnorm(x, layer["attn_norm"])
            q, k, v = (h @ layer["wqkv"]).split(cfg.dim, dim=-1)
            q = self.rope(torch, q.view(b, n, cfg.heads, cfg.head_dim), cos, sin)
            k = self.rope(torch, k.view(b, n, cfg.heads, cfg.head_dim), cos, sin)
            self.k_cache[i].index_copy_(1, pos, k)
            self.v_cache[i].index_copy_(1, pos, v.view(b, n, cfg.heads, cfg.head_dim))
            scores = torch.einsum("bthd,bphd->bhtp", q, self.k_cache[i]) * self.scale  # (B, H, n, capacity)
            probs = torch.softmax(scores.masked_fill(~visible, float("-inf")), dim=-1)
            att = torch.einsum("bhtp,bphd->bthd", probs, self.v_cache[i]).reshape(b, n, cfg.dim)
            x = x + att @ layer["wo"]
            h = self.rmsnorm(x, layer["mlp_norm"])
            up, gate = (h @ layer["w13"]).split(cfg.ffn, dim=-1)
            x = x + (torch.nn.functional.silu(up) * gate) @ layer["w2"]
        return self.rmsnorm(x[:, -1], self.final_norm) @ self.lm_head               # (B, vocab)

    def prefill(self, prompt_ids):
        """Step 0: the prompts (B, T) at positions 0..T-1; resets the position and the next ids."""
        first = self.torch.argmax(self.forward(prompt_ids, self.zero), dim=-1)      # lowest index on ties
        self.tokens[:, 0] = first
        self.next_ids.copy_(first)
        self.pos.fill_(self.prompt_len)

    def decode_step(self):
        """One greedy step on static buffers (what a CUDA graph captures): feeds next_ids at pos."""
        nxt = self.torch.argmax(self.forward(self.next_ids.view(self.batch, 1), self.pos), dim=-1)
        column = (self.pos - (self.prompt_len - 1)).view(1)
        self.tokens.index_copy_(1, column, nxt.view(self.batch, 1))
        self.next_ids.copy_(nxt)
        self.pos.add_(1)


class Clock:
    """Elapsed milliseconds between marks: CUDA events on a GPU, the host clock on the CPU."""

    def __init__(self, torch, cuda):
        self.torch = torch
        self.cuda = cuda
        self.marks = []

    def mark(self):
        if self.cuda:
            e = self.torch.cuda.Event(enable_timing=True)
            e.record()
            self.marks.append(e)
        else:
            self.marks.append(time.perf_counter())

    def elapsed_ms(self, i, j):
        if self.cuda:
            self.torch.cuda.synchronize()
            return self.marks[i].elapsed_time(self.marks[j])
        return (self.marks[j] - self.marks[i]) * 1e3


def capture_decode_step(torch, model, prompt_ids, decode_steps):
    """Warms the decode step up on a side stream (as torch.cuda.graphs requires), then captures it."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        model.prefill(prompt_ids)
        for _ in range(min(decode_steps, 3)):
            model.decode_step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        model.decode_step()
    return graph


def run_all(torch, args, cfg):
    """Every batch in every mode on weights drawn once; the runs in order, batch by batch."""
    started = time.perf_counter()
    weights = ref.weights(cfg)
    print("reference_torch: drew the %s weights in %.1f s" % (cfg.name, time.perf_counter() - started), file=sys.stderr)
    runs = []
    for batch in args.batches:
        for mode in args.modes:
            runs.append(run(torch, args, cfg, weights, batch, mode))
            print("reference_torch: %s batch %d %s: decode step %.3f ms" % (cfg.name, batch, mode,
                                                                         runs[-1]["decode_step_ms"]), file=sys.stderr)
            if args.torch_device == "cuda":
                torch.cuda.empty_cache()
    return runs


def run(torch, args, cfg, weights, batch, mode):
    cuda = args.torch_device == "cuda"
    device = torch.device(args.torch_device)
    model = TorchModel(torch, cfg, weights, device, batch, args.prompt_len, args.decode_steps)
    prompt_ids = torch.from_numpy(ref.prompts(cfg, batch, args.prompt_len)).to(device)

    step = model.decode_step
    model.prefill(prompt_ids)                                                       # untimed warm-up run
    for _ in range(args.decode_steps):
        model.decode_step()
    if mode == "graph" and args.decode_steps > 0:
        graph = capture_decode_step(torch, model, prompt_ids, args.decode_steps)
        step = graph.replay
    prefill_runs, decode_runs = [], []
    for _ in range(args.repeats):
        clock = Clock(torch, cuda)
        clock.mark()
        model.prefill(prompt_ids)
        clock.mark()
        for _ in range(args.decode_steps):
            step()
        clock.mark()
        prefill_runs.append(clock.elapsed_ms(0, 1))
        decode_runs.append(clock.elapsed_ms(1, 2))
    prefill_ms = statistics.median(prefill_runs)
    decode_ms = statistics.median(decode_runs)
    tokens = model.tokens.cpu().tolist()
    generated = batch * (args.decode_steps + 1)
    return {
        "model": cfg.name, "seed": cfg.seed, "requests": batch, "promptLength": args.prompt_len,
        "decodeSteps": args.decode_steps, "mode": mode, "repeats": args.repeats,
        "device": torch.cuda.get_device_name(device) if cuda else "cpu",
        "torch": torch.__version__, "float32_matmul_precision": torch.get_float32_matmul_precision(),
        "tokens": tokens,
        "prefill_ms": prefill_ms,
        "decode_step_ms": decode_ms / args.decode_steps if args.decode_steps > 0 else 0.0,
        "tokens_per_second": generated / ((prefill_ms + decode_ms) / 1e3),
    }


def main(argv=None):
    args, cfg = parse(argv)
    try:
        import torch
    except ImportError:
        print("reference_torch: PyTorch is not installed", file=sys.stderr)
        return 2
    if args.torch_device == "cuda" and not torch.cuda.is_available():
        print("reference_torch: --torch-device cuda: PyTorch %s sees no CUDA device; allowed: a machine with a GPU, "
              "or --torch-device cpu --mode eager" % torch.__version__, file=sys.stderr)
        return 2
    torch.set_float32_matmul_precision("highest")                                  # TF32 off: true fp32 GEMMs
    with torch.inference_mode():
        runs = run_all(torch, args, cfg)
    result = dict(runs[0], runs=runs)
    if args.out:
        try:
            ref.write_json(args.out, result)
        except OSError as e:
            print("reference_torch: --out '%s': cannot write: %s" % (args.out, e.strerror), file=sys.stderr)
            return 2
    print("reference_torch: %s %s on %s: prefill %.3f ms, decode step %.3f ms, %.1f tokens/s"
          % (cfg.name, result["mode"], result["device"], result["prefill_ms"], result["decode_step_ms"],
             result["tokens_per_second"]))
    for r, row in enumerate(result["tokens"][:8]):
        print("request %d: %s" % (r, " ".join(map(str, row))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
