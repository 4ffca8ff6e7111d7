"""The tokenizer's vertex loss, eager against torch.compile: time and agreement.

    .venv/bin/python benchmarks/vertex_loss_compile.py [--batch 16] [--frames 32] [--runs 5] [--device cpu]

Forward + backward of training.train.vq.vertex_terms on the shipped head's loss
vertices (with gaze points), random features; prints medians and the largest
loss and gradient differences between the two.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.flame import FlameLayer  # noqa: E402
from engine.head import load_head  # noqa: E402
from training.train.vq import TrainConfig, loss_vertices, vertex_terms  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    dev = torch.device(args.device)
    head = load_head()
    sub, w = loss_vertices(head, TrainConfig(gaze_weight=50))
    flame = FlameLayer(sub).to(dev)
    w = torch.from_numpy(w / w.sum()).to(dev)
    K = head.num_expr
    g = torch.Generator().manual_seed(0)
    x = (torch.randn(args.batch, args.frames, K + 30, generator=g) * 0.3).to(dev)
    out = (x + 0.05 * torch.randn(x.shape, generator=g).to(dev)).requires_grad_()
    valid = torch.ones(args.batch, args.frames, dtype=torch.bool, device=dev)

    def run(fn):
        times, loss, grad = [], None, None
        for _ in range(args.runs + 1):                      # the first call compiles / warms up
            out.grad = None
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t = time.perf_counter()
            a, b = fn(flame, x, out, valid, w, K)
            (a + b).backward()
            if dev.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t)
            loss, grad = float(a + b), out.grad.clone()
        return float(np.median(times[1:])), loss, grad

    t_eager, l_eager, g_eager = run(vertex_terms)
    t_comp, l_comp, g_comp = run(torch.compile(vertex_terms, dynamic=False))
    print(f"vertex loss fwd+bwd, {args.batch} x {args.frames} frames, {sub.num_vertices} loss vertices, "
          f"{args.device}, median of {args.runs}:")
    print(f"  eager     {t_eager * 1000:8.1f} ms")
    print(f"  compiled  {t_comp * 1000:8.1f} ms  ({t_eager / t_comp:.2f}x)")
    print(f"  loss difference {abs(l_eager - l_comp):.2e} of {l_eager:.3f}; largest gradient difference "
          f"{float((g_eager - g_comp).abs().max()):.2e} of {float(g_eager.abs().max()):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
