"""Exact t-SNE (van der Maaten & Hinton, JMLR 2008) in torch, for a few thousand points.

    tsne(x [N,D], perplexity=30, seed=0) -> [N,2] numpy

Exact means O(N^2) memory and time per iteration (no Barnes-Hut): 2,000 points take
16 MB per [N,N] fp32 matrix and ~18 s for the 1,000 iterations on one CPU core.
Recipe as in the paper and sklearn's exact method: Gaussian affinities whose widths
are found by bisection to match the perplexity, symmetrised P, early exaggeration
12 for the first 250 iterations with momentum 0.5 (then 0.8), delta-bar-delta gains,
learning rate max(N / 12 / 4, 50) (sklearn's "auto"), 1,000 iterations. The start is
a seeded N(0, 1e-4) draw, so the same input and seed give the same picture.
"""
from __future__ import annotations

import numpy as np
import torch


def _affinities(x: torch.Tensor, perplexity: float, iters: int = 64) -> torch.Tensor:
    """Symmetric joint probabilities P [N,N] with each row's entropy = log(perplexity)."""
    n = len(x)
    d = torch.cdist(x, x).pow(2)
    d.fill_diagonal_(float("inf"))
    lo = torch.full((n, 1), 1e-20, dtype=x.dtype)
    hi = torch.full((n, 1), 1e20, dtype=x.dtype)
    beta = torch.ones(n, 1, dtype=x.dtype) / d[torch.isfinite(d)].median()   # 1 / (2 sigma^2)
    target = np.log(min(perplexity, (n - 1) / 3))
    for _ in range(iters):                                  # bisection on beta, all rows at once
        logits = -d * beta
        p = torch.softmax(logits, 1)
        entropy = -(p * torch.log_softmax(logits, 1).nan_to_num(0.0, neginf=0.0)).sum(1, keepdim=True)
        too_flat = entropy > target                         # too wide: increase beta
        lo = torch.where(too_flat, beta, lo)
        hi = torch.where(too_flat, hi, beta)
        beta = torch.where(hi < 1e19, (lo + hi) / 2, beta * 2)
    p = torch.softmax(-d * beta, 1)
    return ((p + p.T) / (2 * n)).clamp_min(1e-12)


def tsne(x, perplexity: float = 30.0, iters: int = 1000, seed: int = 0, progress: bool = False) -> np.ndarray:
    """[N,D] array or tensor -> [N,2] float32 t-SNE embedding (deterministic for a seed).
    Runs on one thread: the same numbers everywhere, and no stalls when other processes
    hold the cores (two threads on a busy 2-core machine ran 100x slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _tsne(x, perplexity, iters, seed, progress)
    finally:
        torch.set_num_threads(threads)


def _tsne(x, perplexity: float, iters: int, seed: int, progress: bool) -> np.ndarray:
    x = torch.as_tensor(np.asarray(x, np.float64) if not torch.is_tensor(x) else x).double().cpu()
    n = len(x)
    if n < 5:
        raise ValueError(f"t-SNE needs at least 5 points, got {n}")
    p = _affinities(x, perplexity).float()                 # affinities in fp64, the descent in fp32
    g = torch.Generator().manual_seed(seed)
    y = torch.randn(n, 2, generator=g) * 1e-2
    step, gains = torch.zeros_like(y), torch.ones_like(y)
    lr = max(n / 12.0 / 4.0, 50.0)
    it = range(iters)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, desc="t-SNE", unit="it", leave=False)
    for i in it:
        if i in (0, 250):                                   # early exaggeration, then the plain P
            exaggeration, momentum = (12.0, 0.5) if i == 0 else (1.0, 0.8)
            pe = p * exaggeration
        sq = (y * y).sum(1)
        num = torch.addmm(sq[:, None] + sq[None, :], y, y.T, alpha=-2).add_(1).reciprocal_()
        num.fill_diagonal_(0.0)                             # Student-t kernel 1 / (1 + |yi - yj|^2)
        w = (pe - num / num.sum()).mul_(num)                # (P - Q) * kernel
        grad = 4.0 * (w.sum(1, keepdim=True) * y - w @ y)   # 4 sum_j w_ij (y_i - y_j)
        same = (grad > 0) == (step > 0)                     # delta-bar-delta gains
        gains = torch.where(same, gains * 0.8, gains + 0.2).clamp_min(0.01)
        step = momentum * step - lr * gains * grad
        y = y + step
    return (y - y.mean(0)).float().numpy()
