"""From prompt embeddings to motion features with a generator and a tokenizer: the batched core
that the Engine facade, the trainer's validation and `tdmm eval` share.

    feats, codes = synthesize(gen, tok, text, mask, frames, seeds)     # features [B,T,D] at tok fps

Clips longer than one window (gen.cfg.max_positions positions) are made window by window, each
continuing from the last gen.cfg.max_context positions of the one before, under the same prompt.
Every row draws its samples from its own seed, so a clip is the same alone or in a batch.
"""
from __future__ import annotations

import numpy as np
import torch

from .tokenizer import token_lengths


def row_noise(seeds, positions: int, levels: int, device) -> torch.Tensor:
    """[B,positions,levels] uniform draws, row b from torch.Generator seeded with seeds[b]."""
    rows = []
    for s in seeds:
        g = torch.Generator().manual_seed(int(s) & 0x7FFF_FFFF_FFFF_FFFF)
        rows.append(torch.rand(positions, levels, generator=g))
    return torch.stack(rows).to(device)


def variation_seed(seed: int, variation: int) -> int:
    """Variation 0 of a seed is that seed itself; later variations are spread deterministically."""
    if variation == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), int(variation)]).generate_state(1)[0])


@torch.no_grad()
def synthesize(gen, tok, text: torch.Tensor, mask: torch.Tensor, frames, seeds, guidance: float = 0.0,
               temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
               context: torch.Tensor | None = None, goal: torch.Tensor | None = None, decode: bool = True):
    """text [B,L,384] / mask [B,L] (MiniLM word embeddings), frames [B] at the tokenizer's fps,
    seeds [B] -> (features [B,max(frames),D] float32, zero past each clip; codes [B,N,R]).
    decode=False skips the decoder (features None) for a caller that decodes the codes itself.
    context [B,K,R] codes of earlier motion (-1 = none), goal [B,R] codes to lead into."""
    dev = text.device
    frames = torch.as_tensor(np.asarray(frames), dtype=torch.long, device=dev)
    need = token_lengths(frames, tok.cfg.downsample)                           # [B] positions
    total = int(need.max())
    c = gen.cfg
    noise = row_noise(seeds, total, c.levels, dev)
    made = torch.zeros(len(need), 0, c.levels, dtype=torch.long, device=dev)
    ctx = context
    while made.shape[1] < total:
        left = need - made.shape[1]
        n = left.clamp(1, c.max_positions)
        last = bool((left <= c.max_positions).all())
        codes = gen.generate(text, mask, n, noise[:, made.shape[1]:made.shape[1] + int(n.max())], guidance,
                             temperature, top_k, top_p, goal=goal if last else None, context=ctx)
        made = torch.cat([made, codes], 1)
        ctx = made[:, -c.max_context:]
        if context is not None and made.shape[1] < c.max_context:         # keep the caller's motion in view
            ctx = torch.cat([context, made], 1)[:, -c.max_context:]
    codes = made[:, :total]
    feats = tok.decode(codes, frames).float() if decode else None
    return feats, codes
