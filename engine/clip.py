"""The motion clip: T frames of FLAME-layout pose + expression, and its file.

A clip is what the generator writes, what the captioner reads and what the
Blender side keys onto a rig. Values stay in FLAME's frame (metres, y up, face
along +z); the rig object carries any conversion to Blender's z-up world.

On disk a clip is an `.npz` with exactly the keys pose, expr, transl,
expr_names, fps, text and meta (meta as a JSON string), readable with
`np.load(allow_pickle=False)`. The loader also reads the key spellings that
common FLAME trackers write (see `KEY_SPELLINGS`) and reports what it could not
map instead of silently dropping it. This module is numpy only: Blender's side
imports it without torch.
"""
from __future__ import annotations

import json
import os
import uuid
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .errors import InputError
from .head import JOINT_NAMES
from .safe_io import read_npz

NUM_JOINTS = len(JOINT_NAMES)
MAX_EXPR = 10.0          # |expr| above this is a broken fit, not a face
FPS_RANGE = (1.0, 240.0)
DEFAULT_FPS = 25.0       # the paper's clips (and most trackers) run at 25 fps
# A 180-degree turn written in float32 can land a hair above pi; do not reject it.
_PI_TOLERANCE = 1e-5
FILE_KEYS = ("pose", "expr", "transl", "expr_names", "fps", "text", "meta")


class ClipError(InputError):
    """A clip is malformed, or a clip file cannot be read or written."""


class ClipWarning(UserWarning):
    """A clip file was read, but some of its keys were not understood."""


@dataclass
class MotionClip:
    pose: np.ndarray                # [T,5,3] axis-angle, joints in JOINT_NAMES order
    expr: np.ndarray                # [T,K] expression coefficients
    expr_names: list[str]           # K channel names (those of the head in use)
    fps: float = DEFAULT_FPS
    transl: np.ndarray | None = None    # [T,3] metres; None -> zeros
    text: list[str] = field(default_factory=list)   # captions
    meta: dict = field(default_factory=dict)        # anything JSON

    def __post_init__(self):
        # Convert only; shape and value checks live in validate(), so that a
        # clip can be built piecewise and checked once.
        self.pose = _as_float32("pose", self.pose)
        self.expr = _as_float32("expr", self.expr)
        if self.transl is None:
            self.transl = np.zeros((self.num_frames, 3), np.float32)
        else:
            self.transl = _as_float32("transl", self.transl)
        try:
            self.fps = float(self.fps)
        except (TypeError, ValueError):
            raise ClipError(f"clip key 'fps' must be a number, got {self.fps!r}") from None
        self.expr_names = [str(n) for n in self.expr_names]
        self.text = [self.text] if isinstance(self.text, str) else [str(t) for t in self.text]
        self.meta = dict(self.meta)

    @property
    def num_frames(self) -> int:
        return int(self.pose.shape[0]) if self.pose.ndim else 0

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.num_frames / self.fps

    @classmethod
    def zeros(cls, num_frames: int, expr_names, fps: float = DEFAULT_FPS) -> "MotionClip":
        """A neutral clip: rest pose, zero expression."""
        K = len(expr_names)
        return cls(pose=np.zeros((num_frames, NUM_JOINTS, 3), np.float32),
                   expr=np.zeros((num_frames, K), np.float32),
                   expr_names=list(expr_names), fps=fps).validate()

    def validate(self) -> "MotionClip":
        """Return self, or raise ClipError naming the key and what is wrong."""
        for key in ("pose", "expr", "transl"):
            if not isinstance(getattr(self, key), np.ndarray):
                raise ClipError(f"clip key '{key}' must be a numpy array, got {type(getattr(self, key)).__name__}")
        T = self.num_frames
        _check_shape("pose", self.pose, (None, NUM_JOINTS, 3), "[T,5,3] (global, neck, jaw, eye_left, eye_right)")
        if T == 0:
            raise ClipError("clip key 'pose' has 0 frames; a clip needs at least one frame")
        _check_shape("expr", self.expr, (T, None), f"[{T},K] (T from pose)")
        _check_shape("transl", self.transl, (T, 3), f"[{T},3] (T from pose)")
        K = self.expr.shape[1]
        if len(self.expr_names) != K:
            raise ClipError(f"clip key 'expr_names' has {len(self.expr_names)} names but 'expr' has {K} channels")
        dupes = sorted(n for n in set(self.expr_names) if self.expr_names.count(n) > 1)
        if dupes:
            raise ClipError(f"clip key 'expr_names' repeats {', '.join(dupes)}; channel names must be unique")
        if not (np.isfinite(self.fps) and FPS_RANGE[0] <= self.fps <= FPS_RANGE[1]):
            raise ClipError(f"clip key 'fps' is {self.fps}, expected a number in [{FPS_RANGE[0]:g}, {FPS_RANGE[1]:g}]")
        for key in ("pose", "expr", "transl"):
            bad = ~np.isfinite(getattr(self, key).reshape(T, -1)).all(axis=1)
            if bad.any():
                raise ClipError(f"clip key '{key}' has NaN or inf, first at frame {int(np.argmax(bad))}")
        norms = np.linalg.norm(self.pose, axis=2)                  # [T,5]
        if (norms > np.pi + _PI_TOLERANCE).any():
            t, j = np.unravel_index(int(np.argmax(norms > np.pi + _PI_TOLERANCE)), norms.shape)
            raise ClipError(f"clip key 'pose': joint '{JOINT_NAMES[j]}' at frame {t} has an axis-angle of "
                            f"length {norms[t, j]:.4f} > pi; wrap it to length <= pi (the same rotation)")
        if K and (np.abs(self.expr) > MAX_EXPR).any():
            t, k = np.unravel_index(int(np.argmax(np.abs(self.expr) > MAX_EXPR)), self.expr.shape)
            raise ClipError(f"clip key 'expr': channel '{self.expr_names[k]}' at frame {t} is "
                            f"{self.expr[t, k]:.4g}, outside [-{MAX_EXPR:g}, {MAX_EXPR:g}]")
        _meta_json(self.meta)
        return self

    def with_channels(self, names) -> tuple["MotionClip", list[str], list[str]]:
        """Re-map expression channels by name onto `names` (in that order).

        Returns (clip, dropped, missing): dropped = our channels not in
        `names`, missing = `names` we do not have (filled with 0). Used when a
        clip was made for a head with other channels than the one in use.
        """
        names = [str(n) for n in names]
        if len(set(names)) != len(names):
            raise ClipError("with_channels: the target channel names are not unique")
        ours = {n: i for i, n in enumerate(self.expr_names)}
        expr = np.zeros((self.num_frames, len(names)), np.float32)
        for j, n in enumerate(names):
            if n in ours:
                expr[:, j] = self.expr[:, ours[n]]
        wanted = set(names)
        dropped = [n for n in self.expr_names if n not in wanted]
        missing = [n for n in names if n not in ours]
        clip = replace(self, pose=self.pose.copy(), expr=expr, expr_names=names,
                       transl=self.transl.copy(), text=list(self.text), meta=json.loads(_meta_json(self.meta)))
        return clip, dropped, missing

    # -- files ----------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write an .npz atomically; returns the path written.

        A name without the .npz suffix gets it (as numpy.savez does). The file
        appears whole or not at all: we write a temporary file beside it and
        rename it over the target, so a failure keeps any older file intact.
        """
        self.validate()
        path = Path(path)
        if path.suffix.lower() != ".npz":
            path = path.with_name(path.name + ".npz")
        arrays = {
            "pose": self.pose, "expr": self.expr, "transl": self.transl,
            # An empty list would make a float array; force a string dtype.
            "expr_names": np.array(self.expr_names, dtype=str).reshape(-1),
            "fps": np.array(self.fps, dtype=np.float64),
            "text": np.array(self.text, dtype=str).reshape(-1),
            "meta": np.array(_meta_json(self.meta)),
        }
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except OSError as e:
            raise ClipError(f"cannot write clip file {path}: {e.strerror or e}") from e
        finally:
            if tmp.exists():
                tmp.unlink()
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "MotionClip":
        return load_clip(path)


def load_clip(path: str | os.PathLike) -> MotionClip:
    """Read a clip .npz: ours, or a FLAME tracker's (see `KEY_SPELLINGS`). Never unpickles."""
    path = Path(path)
    return clip_from_arrays(_read_npz(path), source=str(path))


# -- reading other people's files ----------------------------------------------
# Which clip slot each known key fills. Joints are slots of their own so that
# `pose` plus `jaw_pose` in one file is caught as a clash, not silently merged.
_ALL_JOINTS = tuple(f"joint:{n}" for n in JOINT_NAMES)
KEY_SPELLINGS = {
    "expr": ("expr",), "exp": ("expr",), "expression": ("expr",),
    "transl": ("transl",), "trans": ("transl",), "translation": ("transl",),
    "fps": ("fps",), "frame_rate": ("fps",), "framerate": ("fps",),
    "expr_names": ("expr_names",), "text": ("text",), "meta": ("meta",),
    "pose": _ALL_JOINTS, "poses": _ALL_JOINTS,
    "global_pose": ("joint:global",), "global_orient": ("joint:global",),
    "rotation": ("joint:global",), "root_pose": ("joint:global",),
    "neck_pose": ("joint:neck",), "jaw_pose": ("joint:jaw",),
    "leye_pose": ("joint:eye_left",), "reye_pose": ("joint:eye_right",),
    # [T,6] = left eye (FLAME joint 3) then right eye (joint 4): the order in
    # which smplx's FLAME concatenates leye_pose, reye_pose, and in which
    # DECA/EMOCA-style trackers write their eye_pose.
    "eye_pose": ("joint:eye_left", "joint:eye_right"),
}


def clip_from_arrays(arrays: dict, source: str = "clip") -> MotionClip:
    """Build a validated clip from named arrays (an npz's contents)."""
    claimed: dict[str, str] = {}            # slot -> the key that filled it
    unmapped = []
    for key in sorted(arrays):
        slots = KEY_SPELLINGS.get(key)
        if slots is None:
            unmapped.append(key)
            continue
        for slot in slots:
            if slot in claimed:
                raise ClipError(f"{source}: keys '{claimed[slot]}' and '{key}' both give the "
                                f"{slot.replace('joint:', 'joint ')}; remove one of them")
            claimed[slot] = key

    notes = []
    frames = {}                             # key -> its number of frames, to compare
    def per_frame(key, a, width=None, want=None):
        if a.dtype.kind not in "fiu":
            raise ClipError(f"{source}: key '{key}' holds {a.dtype} values, expected numbers")
        if a.ndim != 2 or (width is not None and a.shape[1] != width):
            want = want or f"[T,{width or 'K'}]"
            raise ClipError(f"{source}: key '{key}' has shape {list(a.shape)}, expected {want}")
        frames[key] = a.shape[0]
        return a.astype(np.float32)

    joints = {}                             # joint index -> [T,3]
    for key in sorted(set(k for s, k in claimed.items() if s.startswith("joint:"))):
        a = arrays[key]
        idx = [JOINT_NAMES.index(s[6:]) for s in KEY_SPELLINGS[key]]
        if len(idx) == NUM_JOINTS and a.ndim == 3 and a.shape[1:] == (NUM_JOINTS, 3):
            a = a.reshape(a.shape[0], -1)   # full pose [T,5,3] -> [T,15]
        a = per_frame(key, a, 3 * len(idx), "[T,5,3] or [T,15]" if len(idx) == NUM_JOINTS else None)
        for i, j in enumerate(idx):
            joints[j] = a[:, 3 * i: 3 * i + 3]
    expr = per_frame(claimed["expr"], arrays[claimed["expr"]]) if "expr" in claimed else None
    transl = per_frame(claimed["transl"], arrays[claimed["transl"]], 3) if "transl" in claimed else None

    if len(set(frames.values())) > 1:
        counts = ", ".join(f"'{k}' {n}" for k, n in frames.items())
        raise ClipError(f"{source}: arrays disagree on the number of frames ({counts})")
    if not frames:
        raise ClipError(f"{source}: no expression or pose arrays found (keys: {', '.join(sorted(arrays)) or 'none'})")
    T = next(iter(frames.values()))

    pose = np.zeros((T, NUM_JOINTS, 3), np.float32)
    for j, a in joints.items():
        pose[:, j] = a
    absent = [JOINT_NAMES[j] for j in range(NUM_JOINTS) if j not in joints]
    if absent:
        notes.append(f"no pose for {', '.join(absent)} in the file; set to zero")

    if expr is None:
        expr = np.zeros((T, 0), np.float32)
        notes.append("no expression in the file; the clip has 0 channels")
    if "expr_names" in claimed:
        expr_names = [str(n) for n in _strings(arrays, claimed["expr_names"], source)]
    else:
        expr_names = [f"exp{i:03d}" for i in range(expr.shape[1])]

    if "fps" in claimed:
        a = arrays[claimed["fps"]]
        if a.size != 1 or a.dtype.kind not in "fiu":
            raise ClipError(f"{source}: key '{claimed['fps']}' must be one number, got {a.dtype} shape {list(a.shape)}")
        fps = float(a.reshape(()))
    else:
        fps = DEFAULT_FPS
        notes.append(f"no fps in the file; assumed {DEFAULT_FPS:g}")

    text = _strings(arrays, "text", source) if "text" in claimed else []
    meta = {}
    if "meta" in claimed:
        try:
            meta = json.loads(str(_strings(arrays, "meta", source)[0]))
        except (json.JSONDecodeError, IndexError):
            meta = None
        if not isinstance(meta, dict):
            raise ClipError(f"{source}: key 'meta' must be a JSON object string")
    if notes:
        old = meta.get("notes", [])
        meta["notes"] = (old if isinstance(old, list) else [old]) + notes
    if unmapped:
        meta["unmapped_keys"] = unmapped
        warnings.warn(f"{source}: ignored keys that are not part of a motion clip: {', '.join(unmapped)} "
                      "(listed in meta['unmapped_keys'])", ClipWarning, stacklevel=3)
    try:
        clip = MotionClip(pose=pose, expr=expr, expr_names=expr_names, fps=fps, transl=transl,
                          text=text, meta=meta).validate()
    except ClipError as e:
        raise ClipError(f"{source}: {e}") from None
    return clip


def _read_npz(path: Path) -> dict:
    try:
        return read_npz(path, "clip file")
    except ClipError:
        raise
    except InputError as e:
        raise ClipError(str(e)) from None


# -- small helpers ----------------------------------------------------------------
def _as_float32(key: str, value) -> np.ndarray:
    try:
        return np.ascontiguousarray(value, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise ClipError(f"clip key '{key}' must be an array of numbers: {e}") from None


def _check_shape(key: str, arr: np.ndarray, shape: tuple, want: str) -> None:
    if arr.ndim != len(shape) or any(s is not None and a != s for a, s in zip(arr.shape, shape)):
        raise ClipError(f"clip key '{key}' has shape {list(arr.shape)}, expected {want}")


def _strings(arrays: dict, key: str, source: str) -> list[str]:
    a = arrays[key]
    if a.dtype.kind not in "US":
        raise ClipError(f"{source}: key '{key}' holds {a.dtype} values, expected strings")
    return [x.decode() if isinstance(x, bytes) else str(x) for x in a.reshape(-1).tolist()]


def _meta_json(meta: dict) -> str:
    # numpy scalars and arrays are turned into plain lists/numbers; anything
    # else that JSON cannot hold is the caller's to fix.
    def plain(o):
        if hasattr(o, "tolist"):
            return o.tolist()
        raise TypeError(f"{type(o).__name__} is not JSON-serialisable")
    try:
        return json.dumps(meta, default=plain)
    except (TypeError, ValueError) as e:
        raise ClipError(f"clip key 'meta' must hold JSON values only: {e}") from None
