"""CPU speed of the motion tokenizer: encode and decode one 10 s clip (25 fps).

    .venv/bin/python benchmarks/tokenizer_speed.py                 # shipped model, else a random default-size one
    .venv/bin/python benchmarks/tokenizer_speed.py --random --levels 4   # random residual VQ of the default size

Times the tensor calls (`encode` features -> tokens, `decode` tokens -> features)
and the clip calls the engine uses (`encode_clip` MotionClip -> tokens,
`decode_tokens` tokens -> MotionClip, which add the 6D conversions and
validation). Median over repeated runs after warm-up, torch.set_num_threads(2).
Target (issue 5): under 20 ms each for a 10 s clip.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.clip import MotionClip  # noqa: E402
from engine.features import params_to_features  # noqa: E402
from engine.head import load_head  # noqa: E402
from engine.tokenizer import MotionTokenizer, VQConfig, load_tokenizer  # noqa: E402


def median_ms(fn, runs: int, warmup: int = 5) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", default=None, help="tokenizer .safetensors (default: the shipped one)")
    p.add_argument("--random", action="store_true", help="a randomly initialised default-size model")
    p.add_argument("--levels", type=int, default=1, help="residual levels of the random model")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    if args.random or (args.checkpoint is None and not (Path(__file__).resolve().parent.parent
                                                          / "assets/vq/tokenizer.safetensors").exists()):
        torch.manual_seed(0)
        model = MotionTokenizer(VQConfig(expr_names=load_head().expr_names, levels=args.levels)).eval()
        source = "random"
    else:
        model = load_tokenizer(args.checkpoint)
        source = str(args.checkpoint or "assets/vq/tokenizer")
    cfg = model.cfg
    T = int(round(args.seconds * cfg.fps))
    rng = np.random.default_rng(0)
    t = np.arange(T)[:, None] / cfg.fps
    expr = np.clip(0.3 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.2, 1.0, len(cfg.expr_names)) * t), 0, 1)
    pose = (0.1 * np.sin(2 * np.pi * rng.uniform(0.2, 1.0, 15) * t)).reshape(T, 5, 3)
    clip = MotionClip(pose=pose, expr=expr, expr_names=cfg.expr_names, fps=cfg.fps).validate()
    feats = torch.from_numpy(params_to_features(clip.pose, clip.expr))[None]          # [1,T,D]
    with torch.inference_mode():
        tokens = model.encode(feats)
        res = {
            "encode_ms": median_ms(lambda: model.encode(feats), args.runs),
            "decode_ms": median_ms(lambda: model.decode(tokens, torch.tensor([T])), args.runs),
        }
        tok_np = model.encode_clip(clip)
        res["encode_clip_ms"] = median_ms(lambda: model.encode_clip(clip), args.runs)
        res["decode_tokens_ms"] = median_ms(lambda: model.decode_tokens(tok_np, num_frames=T), args.runs)
    params = sum(p.numel() for p in model.parameters()) + sum(b.numel() for n, b in model.named_buffers()
                                                              if n.endswith("codebook"))
    res.update(model=source, frames=T, tokens=list(tokens.shape[1:]), params_m=round(params / 1e6, 2),
               threads=args.threads, runs=args.runs, cpu=platform.processor() or platform.machine(),
               torch=torch.__version__,
               config={k: getattr(cfg, k)
                       for k in ("width", "depth", "downsample", "codebook_size", "code_dim", "levels")})
    if args.json:
        print(json.dumps(res))
    else:
        print(f"{source} tokenizer ({res['params_m']} M parameters, {res['config']}), {T} frames -> "
              f"{res['tokens']} tokens, {args.threads} threads, median of {args.runs}:")
        for k in ("encode_ms", "decode_ms", "encode_clip_ms", "decode_tokens_ms"):
            print(f"  {k[:-3]:14s} {res[k]:7.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
