"""Map a MotionClip onto another character's ARKit-named shape keys (no bpy).

The Blender side (tdmm_blender/retarget.py) reads a clip off our head and keys
the result of `retarget()` onto the target mesh's shape keys. Everything that
decides WHICH value goes on WHICH target key lives here, so it is testable
without Blender.

Name matching (`normalise_name`), kept deliberately simple:
- a side suffix `_L`, `_R`, `.L`, `.R`, `-L`, `-R` (any case) becomes `Left` /
  `Right`: Apple's own ARKit spelling is "eyeBlink_L", ours "eyeBlinkLeft";
- a namespace prefix up to the last `.`, `:` or `|` is dropped: exporters
  write "blendShape1.jawOpen", "head:jawOpen" or "Face|jawOpen";
- then case, `_`, `-` and spaces are ignored.
Two target keys that normalise to the same name: the first (in the target's
order) is used, the others are reported as getting no channel.

Rotations onto shape keys (for a target that has no jaw or eye bones):
- jawOpen = jaw pitch / JAW_FULL_OPEN_RAD, clamped to 0..1;
- eyeLook{Up,Down,In,Out}{Left,Right} = the eye's gaze pitch or yaw /
  EYE_LOOK_FULL_DEG, clamped to 0..1.
A rotation only fills a target key when the clip's own channel of that name
is absent or zero on every frame: a clip that animates jawOpen itself keeps
its own values, and the two are never added (that would open the jaw twice).
A jaw or eye that moves while the target has none of its keys is reported
with the unmatched channels, as "jaw rotation" / "eye_left rotation".
Values of channels copied by name are copied as they are (not clamped): they
are the same quantities on both rigs.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from .head import JOINT_NAMES
from .rotation import axis_angle_to_matrix

# The jaw pitch (radians, about FLAME's +x, which opens the mouth) that counts
# as fully open: the default head's "jaw open" pose (tdmm_blender/demo.py)
# uses 0.36 rad, about 21 degrees, a wide but natural open mouth.
JAW_FULL_OPEN_RAD = 0.36
# The gaze angle (degrees of eye pitch or yaw) that counts as a full eyeLook*:
# 20 degrees is about where the iris reaches the corner of the eye on our head
# (the demo's "gaze left" turns the eyes 0.35 rad, about 20 degrees).
EYE_LOOK_FULL_DEG = 20.0

_JAW = JOINT_NAMES.index("jaw")
_EYES = {"Left": JOINT_NAMES.index("eye_left"), "Right": JOINT_NAMES.index("eye_right")}
JAW_KEY = "jawOpen"
EYE_KEYS = tuple(f"eyeLook{d}{s}" for s in ("Left", "Right") for d in ("Up", "Down", "In", "Out"))

_SIDE = re.compile(r"[._-]([LR])$", re.IGNORECASE)
_NAMESPACE = re.compile(r"^.*[.:|]")


def normalise_name(name: str) -> str:
    """The key two names are matched on (see the module docstring)."""
    name = str(name).strip()
    m = _SIDE.search(name)
    if m:
        name = name[:m.start()] + ("Left" if m.group(1).upper() == "L" else "Right")
    name = _NAMESPACE.sub("", name)
    return re.sub(r"[\s_-]", "", name).lower()


def match_names(channels, targets) -> dict[str, str]:
    """{channel: target key} for every channel whose normalised name a target shares.

    The first target with a given normalised name wins (see the module docstring).
    """
    by_norm: dict[str, str] = {}
    for t in targets:
        by_norm.setdefault(normalise_name(t), t)
    return {c: by_norm[normalise_name(c)] for c in channels if normalise_name(c) in by_norm}


def gaze_angles(pose_aa: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(pitch_down, yaw_left) in radians of a joint's forward axis, from [T,3] axis-angles.

    FLAME's frame: the face looks along +z, y is up, x is the character's left.
    pitch_down > 0 turns the axis down (the jaw opening, the eye looking down);
    yaw_left > 0 turns it towards the character's left. Angles are read off the
    rotated +z axis, so they are exact for any rotation, not only small ones.
    """
    d = axis_angle_to_matrix(np.asarray(pose_aa, np.float64))[..., :, 2]   # R @ (0, 0, 1)
    pitch_down = np.arctan2(-d[..., 1], np.hypot(d[..., 0], d[..., 2]))
    yaw_left = np.arctan2(d[..., 0], d[..., 2])
    return pitch_down, yaw_left


def rotation_channels(clip, jaw: bool = True, eyes: bool = True) -> dict[str, np.ndarray]:
    """{ARKit name: [T] values in 0..1} made from the clip's jaw and eye rotations."""
    out = {}
    if jaw:
        pitch, _ = gaze_angles(clip.pose[:, _JAW])
        out[JAW_KEY] = np.clip(pitch / JAW_FULL_OPEN_RAD, 0.0, 1.0)
    if eyes:
        full = np.radians(EYE_LOOK_FULL_DEG)
        for side, j in _EYES.items():
            pitch, yaw = gaze_angles(clip.pose[:, j])
            # Towards the character's left is outwards for the left eye, inwards for the right.
            outward = yaw if side == "Left" else -yaw
            for d, v in (("Up", -pitch), ("Down", pitch), ("In", -outward), ("Out", outward)):
                out[f"eyeLook{d}{side}"] = np.clip(v / full, 0.0, 1.0)
    return out


@dataclass
class Retarget:
    """What to key on the target: values per target key, and what did not match."""
    values: dict[str, np.ndarray]                  # target key -> [T] values
    source: dict[str, str]                         # target key -> clip channel or "jaw" / "eye_left" / "eye_right"
    # clip channels no target key took, then "<joint> rotation" for a jaw / eye that moves but
    # whose jawOpen / eyeLook* keys are all missing on the target
    unmatched_channels: list[str] = field(default_factory=list)
    unkeyed_targets: list[str] = field(default_factory=list)      # target keys that got nothing

    def message(self, few: int = 5) -> str:
        """One line for the UI."""
        def names(ns):
            return ", ".join(ns[:few]) + (f" and {len(ns) - few} more" if len(ns) > few else "")
        s = f"keyed {len(self.values)} shape key(s)"
        if self.unmatched_channels:
            s += f"; {len(self.unmatched_channels)} channel(s) found no target: {names(self.unmatched_channels)}"
        if self.unkeyed_targets:
            s += f"; {len(self.unkeyed_targets)} target key(s) got no channel: {names(self.unkeyed_targets)}"
        return s


def retarget(clip, target_names, map_jaw: bool = True, map_eyes: bool = True) -> Retarget:
    """Plan the copy of `clip` onto shape keys `target_names` (the rest key left out).

    map_jaw / map_eyes: fill jawOpen / eyeLook* from the rotations (pass False
    for a target that has jaw or eye bones of its own).
    """
    clip.validate()
    targets = [str(t) for t in target_names]
    matched = match_names(clip.expr_names, targets)
    values, source = {}, {}
    for k, ch in enumerate(clip.expr_names):
        if ch in matched:
            values[matched[ch]] = clip.expr[:, k].astype(np.float64)
            source[matched[ch]] = ch
    unmatched = [ch for ch in clip.expr_names if ch not in matched]

    # A rotation fills a key only where no channel of the same name carries motion.
    by_norm = {normalise_name(t): t for t in reversed(targets)}    # first target wins, as in match_names
    moved, landed = {}, {}                      # joint -> any of its keys > 0 / on the target
    for name, v in rotation_channels(clip, jaw=map_jaw, eyes=map_eyes).items():
        joint = "jaw" if name == JAW_KEY else f"eye_{'left' if name.endswith('Left') else 'right'}"
        t = by_norm.get(normalise_name(name))
        moved[joint] = moved.get(joint, False) or bool(np.any(v > 0))
        landed[joint] = landed.get(joint, False) or t is not None
        if t is None:
            continue
        if t in values and np.any(values[t] != 0):
            continue
        values[t] = v
        source[t] = joint
    # A jaw or eye that moves but has no key to land on is motion lost: say so, like a channel.
    unmatched += [f"{j} rotation" for j in moved if moved[j] and not landed[j]]
    unkeyed = [t for t in targets if t not in values]
    return Retarget(values=values, source=source, unmatched_channels=unmatched, unkeyed_targets=unkeyed)
