"""Load a dataset folder (clip folder or synth shards) into padded arrays.

Training wants whole splits as dense arrays (60K clips x 150 frames x 71
features is ~2.5 GB in fp32, or half that in fp16), not a Python object per clip.
ClipDataset knows both folder layouts; this pads what it yields.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.features import params_to_features
from training.data.dataset import ClipDataset


class EmptySplitError(ValueError):
    """The dataset has no clips in the asked split (a trainer may then fall back, e.g. no val split)."""


@dataclass
class MotionArrays:
    pose: np.ndarray          # [N,T,5,3] float32 axis-angle, zero past each length
    expr: np.ndarray          # [N,T,K] float32
    lengths: np.ndarray       # [N] int64 frames
    expr_names: list
    fps: float
    ids: list = field(default_factory=list)
    labels: list = field(default_factory=list)      # dict or None per clip
    captions: list = field(default_factory=list)    # list[str] per clip

    def __len__(self) -> int:
        return len(self.lengths)

    def features(self) -> np.ndarray:
        """[N,T,K+30] float32 model features (engine.features), zero past each length."""
        f = params_to_features(self.pose, self.expr)
        f[np.arange(f.shape[1])[None, :] >= self.lengths[:, None]] = 0
        return f

    def subset(self, index) -> "MotionArrays":
        index = np.asarray(index)
        pick = lambda xs: [xs[i] for i in index]
        return MotionArrays(self.pose[index], self.expr[index], self.lengths[index], self.expr_names, self.fps,
                            pick(self.ids), pick(self.labels), pick(self.captions))


def load_motion_arrays(root, split: str | None = None, max_clips: int | None = None,
                       max_frames: int | None = None, progress: bool = False) -> MotionArrays:
    """All clips of `split` (or every clip) as padded arrays; clips longer than
    max_frames are cut. Channel names must agree across clips (one head)."""
    ds = ClipDataset(root, split=split)
    n = len(ds) if max_clips is None else min(max_clips, len(ds))
    if n == 0:
        raise EmptySplitError(f"dataset {root} has no clips in split {split!r}")
    clips = []
    it = range(n)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, desc=f"loading {split or 'all'}", unit="clip")
    for i in it:
        clips.append(ds[i])
    return pad_clips(clips, root, max_frames)


def load_split_features(root, split: str, max_clips: int | None = None, progress: bool = False):
    """(features [N,T,D] float32, lengths [N] int64, expr_names, fps, ids) of one split."""
    a = load_motion_arrays(root, split, max_clips=max_clips, progress=progress)
    return a.features(), a.lengths, list(a.expr_names), a.fps, list(a.ids)


def pad_clips(clips: list, root, max_frames: int | None = None) -> MotionArrays:
    """MotionClips of one dataset (`root`, named in errors) -> padded arrays; clips longer than
    max_frames are cut. Channel names and frame rate must agree across clips (one head, one rate)."""
    names, fps = list(clips[0].expr_names), clips[0].fps
    bad = next((c.meta.get("id") for c in clips if list(c.expr_names) != names or c.fps != fps), None)
    if bad is not None:
        raise ValueError(f"clip {bad} in {root} has other expression channels or fps than the first clip; "
                         "re-import it with the same --expr-names and --fps")
    T = max(c.num_frames for c in clips)
    if max_frames:
        T = min(T, max_frames)
    n, K = len(clips), len(names)
    pose = np.zeros((n, T, 5, 3), np.float32)
    expr = np.zeros((n, T, K), np.float32)
    lengths = np.zeros(n, np.int64)
    for i, c in enumerate(clips):
        t = min(c.num_frames, T)
        pose[i, :t], expr[i, :t], lengths[i] = c.pose[:t], c.expr[:t], t
    return MotionArrays(pose, expr, lengths, names, float(fps),
                        [c.meta.get("id") for c in clips], [c.meta.get("labels") for c in clips],
                        [list(c.text) for c in clips])


def feature_stats(feats: np.ndarray, lengths: np.ndarray, chunk: int = 4096,
                  transform=None) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean/std over the valid frames of [N,T,D] features (float64 sums, chunk by
    chunk, so a 60K-clip split needs no second copy of its frames); `transform` maps a
    [frames,D] chunk first (the tokenizer's side basis)."""
    D = feats.shape[-1]
    s, s2, n = np.zeros(D), np.zeros(D), 0
    for i in range(0, len(feats), chunk):
        f, L = feats[i:i + chunk], lengths[i:i + chunk]
        x = f[np.arange(f.shape[1])[None, :] < L[:, None]].astype(np.float64)     # [frames,D]
        x = x if transform is None else transform(x)
        s, s2, n = s + x.sum(0), s2 + (x * x).sum(0), n + len(x)
    mean = s / max(n, 1)
    return mean.astype(np.float32), np.sqrt(np.maximum(s2 / max(n, 1) - mean ** 2, 0)).astype(np.float32)
