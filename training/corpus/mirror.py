"""Mirror images of faces, exactly: the same expression performed on the character's other side.

A mirror is the reflection x -> -x of FLAME's frame (x points to the character's left):
- expression channels: every ...Left channel trades values with its ...Right twin (ARKit
  names); unsided channels stay;
- joint rotations: for an axis-angle r = (pitch, yaw, roll) the reflected rotation is
  (pitch, -yaw, -roll) (a rotation axis is a pseudo-vector: M r det M with M = diag(-1, 1, 1));
- the left and right eye joints trade places (then reflect as above);
- translation: x negated;
- labels: side left <-> right, head motions *_left <-> *_right (in the transition too).
Mirroring twice gives back the input exactly (a test holds it to that).

`on_side` is the same reflection applied to one lexicon descriptor: the corpus performs an
asymmetric descriptor on the labelled side by rendering the mirror image of its recipe (and
of its gaze and head tendencies) when the label's side is not the recipe's native side; the
clip's head-motion label is never flipped by it.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from engine.clip import MotionClip
from engine.head import JOINT_NAMES

_REFLECT = np.array([1.0, -1.0, -1.0], np.float32)        # (pitch, yaw, roll) -> (pitch, -yaw, -roll)
_EYES = (JOINT_NAMES.index("eye_left"), JOINT_NAMES.index("eye_right"))
_SIDE_SWAP = {"left": "right", "right": "left", "both": "both"}


def twin(name: str) -> str:
    """mouthSmileLeft <-> mouthSmileRight; a name without a side is its own twin."""
    for a, b in (("Left", "Right"), ("Right", "Left")):
        if name.endswith(a):
            return name[: -len(a)] + b
    return name


def channel_permutation(names) -> np.ndarray:
    """[K] index: mirrored[..., i] = original[..., perm[i]]; a sided channel whose twin the head
    lacks keeps its own value (so the mirror stays an involution)."""
    index = {n: i for i, n in enumerate(names)}
    return np.array([index.get(twin(n), i) for i, n in enumerate(names)], np.int64)


def mirror_recipe(recipe: dict) -> dict:
    """{channel: weight} of the mirrored expression."""
    return {twin(k): v for k, v in recipe.items()}


def mirror_rotation(r):
    """(pitch, yaw, roll) or (pitch, yaw) radians, or arrays [..., 3] of axis-angles, mirrored."""
    if r is None:
        return None
    a = np.asarray(r, np.float32)
    return (a * _REFLECT[: a.shape[-1]]).astype(np.float32) if a.ndim else a


def _reflect_tuple(r):
    """(pitch, yaw[, roll]) floats mirrored exactly (no float32 round trip): yaw and roll negated."""
    return None if r is None else tuple(x if k == 0 else -x for k, x in enumerate(r))


def on_side(descriptor, side: str | None):
    """The lexicon descriptor performed on `side` (a labels' "left"/"right"): itself when `side`
    is its native side (`descriptor.side`), "both" or None, or when it is symmetric; otherwise
    its mirror image: recipe channels swapped with their twins, gaze and head tendencies'
    yaw and roll negated, `side` set. on_side(on_side(d, s), d.side) == d."""
    if side not in ("left", "right") or descriptor.side in (side, "both"):
        return descriptor
    return dataclasses.replace(descriptor, recipe=mirror_recipe(descriptor.recipe), side=side,
                               gaze=_reflect_tuple(descriptor.gaze), head=_reflect_tuple(descriptor.head))


def mirror_pose(pose: np.ndarray) -> np.ndarray:
    """pose [T,5,3] axis-angle in FLAME joint order -> the mirrored pose."""
    out = np.asarray(pose, np.float32) * _REFLECT
    out[:, list(_EYES)] = out[:, list(_EYES[::-1])]
    return out


def mirror_clip(clip: MotionClip) -> MotionClip:
    """The clip performed on the other side (labels in meta mirrored too)."""
    perm = channel_permutation(clip.expr_names)
    meta = dict(clip.meta)
    if isinstance(meta.get("labels"), dict):
        meta["labels"] = mirror_labels(meta["labels"])
    return MotionClip(pose=mirror_pose(clip.pose), expr=clip.expr[:, perm].copy(), expr_names=list(clip.expr_names),
                      transl=clip.transl * np.array([-1.0, 1.0, 1.0], np.float32), fps=clip.fps,
                      text=list(clip.text), meta=meta).validate()


def _swap_lr(word):
    if not isinstance(word, str):
        return word
    for a, b in (("_left", "_right"), ("_right", "_left")):
        if word.endswith(a):
            return word[: -len(a)] + b
    return word


def mirror_labels(labels: dict) -> dict:
    """Labels of the mirrored clip: sides and left/right head motions swapped."""
    out = dict(labels)
    if "side" in out:
        out["side"] = _SIDE_SWAP[out["side"]]
    if isinstance(out.get("head"), dict):
        out["head"] = {**out["head"], "motion": _swap_lr(out["head"].get("motion"))}
    if isinstance(out.get("transition"), dict):
        tr = dict(out["transition"])
        if "side" in tr:
            tr["side"] = _SIDE_SWAP[tr["side"]]
        out["transition"] = tr
    return out
