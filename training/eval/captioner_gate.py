"""The shipped captioner's quality gate: greedy captions of fixed held-out clips, parsed against
their labels. Bands sit under what the shipped delta measures (session 7, step 1,500: val family
73.0%, head 95.7% on 256 clips) with room for the small sample."""
from __future__ import annotations

import torch

from training.eval.evaluator_gate import heldout_clips, padded_features
from training.eval.metrics_m2l import caption_scores

GATE = {"family": 55.0, "head": 85.0}
GATE_CLIPS = 48


def gate_codes(motion_tok, n: int = GATE_CLIPS):
    """(codes [n,P,4], -1 past each clip's end, which the captioner's vocabulary stops at; labels)
    of the first n held-out clips of the seed-0 corpus."""
    clips = heldout_clips(n)
    feats, lengths = padded_features(clips)
    with torch.no_grad():
        codes = motion_tok.encode(feats, lengths).numpy()
    return list(codes), [lab for lab, _, _, _ in clips]


def gate_metrics(cap, codes, labels) -> dict:
    return caption_scores(cap.caption(codes, batch_size=16), labels)


def gate_failures(m: dict, gate: dict | None = None) -> list[str]:
    return [f"{k} {m[k]:.1f} < {v}" for k, v in (gate or GATE).items() if not m[k] >= v]
