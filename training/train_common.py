"""What the trainers (train_vq.py, train_evaluator.py) share: their config files and their
learning-rate schedule."""
from __future__ import annotations

import json
import math
from dataclasses import fields
from pathlib import Path


def read_run_config(path, train_cls) -> tuple[dict, dict]:
    """configs/*.json {"model": {...}, "train": {...}, "comment": "..."} -> (model dict, train
    dict), with the train keys checked against the dataclass train_cls; no path -> ({}, {}).
    The model keys are the model config's own to check (its from_dict)."""
    if not path:
        return {}, {}
    doc = json.loads(Path(path).read_text())
    unknown = sorted(set(doc) - {"model", "train", "comment"})
    if unknown:
        raise ValueError(f"{path}: unknown section(s) {', '.join(unknown)} (expected model, train)")
    known = {f.name for f in fields(train_cls)}
    bad = sorted(set(doc.get("train", {})) - known)
    if bad:
        raise ValueError(f"{path}: unknown train key(s) {', '.join(bad)}; known: {', '.join(sorted(known))}")
    return dict(doc.get("model", {})), dict(doc.get("train", {}))


def warmup_cosine(step: int, progress: float, lr: float, warmup: int, min_lr_ratio: float) -> float:
    """Linear warm-up over `warmup` steps, then cosine from lr down to lr * min_lr_ratio as
    `progress` goes from 0 to 1 (clamped)."""
    if step < warmup:
        return lr * (step + 1) / warmup
    return lr * (min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))
