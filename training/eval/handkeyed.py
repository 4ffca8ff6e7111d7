"""Twelve face animations keyed by hand, not by the corpus code, with the words their captions
must contain: the captioner's check on motion it has never seen the like of (issue 13).

Each clip is a few keys per channel, eased with smoothstep between keys, the way an animator
blocks a shot: other channel subsets than the corpus recipes use (one clip carries only two
channels, the rest are missing and mapped by name), other intensities, timings and frame rates
(24, 25 and 30 fps). Pose keys follow the corpus's conventions (training/corpus/motion.py):
neck pitch + looks down, yaw + turns to the character's left, roll + tilts to the right.

    for name, clip, groups in handkeyed_clips(expr_names): ...
    caption_passes(caption, groups)   # every group has one of its words in the caption

    .venv/bin/python -m training.eval.handkeyed [--captioner PATH]   # captions them, prints the pass rate
"""
from __future__ import annotations

import argparse
import re

import numpy as np

from engine.clip import MotionClip
from engine.head import JOINT_NAMES

_J = {n: i for i, n in enumerate(JOINT_NAMES)}
_AX = {"pitch": 0, "yaw": 1, "roll": 2}

SMILE = ("smil", "grin", "happy", "joy", "laugh", "delight", "beam")
SAD = ("sad", "sorrow", "unhappy", "downcast", "gloom", "melanchol", "dejected", "frown", "upset")
ANGRY = ("anger", "angry", "furious", "scowl", "frown", "glare", "annoy", "irritat", "rage", "cross")

# name: (seconds, fps, expression keys {channel: [(t, value), ...]}, pose keys
#        {(joint, axis): [(t, radians), ...]}, only these channels in the clip (None = the head's),
#        the words: each group needs one of its stems in the caption)
SPECS = {
    "left_wink": (3.0, 30, {"eyeBlinkLeft": [(0.9, 0), (1.1, 1), (1.35, 1), (1.6, 0)],
                            "mouthSmileLeft": [(0.8, 0), (1.2, 0.3), (2.5, 0.3), (2.9, 0)]}, {},
                  None, [("wink", "blink"), ("left",)]),
    "two_slow_nods": (3.6, 25, {}, {("neck", "pitch"): [(0.4, 0), (0.9, 0.28), (1.4, 0), (1.9, 0.24), (2.5, 0)]},
                      None, [("nod",)]),
    "big_surprise": (3.0, 24, {"browInnerUp": [(0.5, 0), (0.8, 1.0), (2.4, 0.9)],
                               "browOuterUpLeft": [(0.5, 0), (0.8, 0.9), (2.4, 0.8)],
                               "browOuterUpRight": [(0.5, 0), (0.8, 0.9), (2.4, 0.8)],
                               "eyeWideLeft": [(0.5, 0), (0.75, 0.9), (2.4, 0.7)],
                               "eyeWideRight": [(0.5, 0), (0.75, 0.9), (2.4, 0.7)]},
                     {("jaw", "pitch"): [(0.5, 0), (0.85, 0.33), (2.4, 0.28)]},
                     None, [("surpris", "shock", "astonish", "amaz", "stun", "startl", "aston")]),
    "right_smirk": (3.0, 25, {"mouthSmileRight": [(0.6, 0), (1.1, 0.75), (2.6, 0.7)],
                              "mouthDimpleRight": [(0.6, 0), (1.1, 0.45), (2.6, 0.4)],
                              "cheekSquintRight": [(0.6, 0), (1.2, 0.3), (2.6, 0.25)]}, {},
                    None, [("smirk", "smug", "half smile", "half-smile", "lopsided", "one-sided", "crooked"),
                           ("right",)]),
    "low_scowl": (3.0, 30, {"browDownLeft": [(0.4, 0), (1.0, 0.9), (2.8, 0.85)],
                            "browDownRight": [(0.4, 0), (1.0, 0.9), (2.8, 0.85)],
                            "noseSneerLeft": [(0.4, 0), (1.1, 0.35)], "noseSneerRight": [(0.4, 0), (1.1, 0.35)],
                            "mouthPressLeft": [(0.5, 0), (1.2, 0.55)], "mouthPressRight": [(0.5, 0), (1.2, 0.55)],
                            "eyeSquintLeft": [(0.5, 0), (1.1, 0.35)], "eyeSquintRight": [(0.5, 0), (1.1, 0.35)]},
                  {}, None, [ANGRY]),
    "quiet_sadness": (4.0, 25, {"browInnerUp": [(0.5, 0), (1.5, 0.7)],
                                "mouthFrownLeft": [(0.6, 0), (1.6, 0.65)], "mouthFrownRight": [(0.6, 0), (1.6, 0.65)],
                                "mouthShrugLower": [(0.8, 0), (1.8, 0.3)]},
                      {("neck", "pitch"): [(0.8, 0), (2.0, 0.15)]}, None, [SAD]),
    "mild_smile": (3.0, 24, {"mouthSmileLeft": [(0.5, 0), (1.2, 0.35)], "mouthSmileRight": [(0.5, 0), (1.2, 0.35)],
                             "cheekSquintLeft": [(0.6, 0), (1.3, 0.15)], "cheekSquintRight": [(0.6, 0), (1.3, 0.15)]},
                   {}, None, [SMILE]),
    "turn_left": (3.0, 25, {}, {("neck", "yaw"): [(0.8, 0), (1.5, 0.5)], ("eye_left", "yaw"): [(0.7, 0), (0.8, 0.2)],
                                ("eye_right", "yaw"): [(0.7, 0), (0.8, 0.2)]},
                  None, [("turn", "look"), ("left",)]),
    "tilt_right": (3.0, 30, {"mouthSmileLeft": [(0.5, 0), (1.5, 0.2)], "mouthSmileRight": [(0.5, 0), (1.5, 0.2)]},
                   {("neck", "roll"): [(0.6, 0), (1.5, 0.25)]}, None, [("tilt", "cock"), ("right",)]),
    "smile_then_frown": (4.0, 25, {"mouthSmileLeft": [(0.3, 0), (0.8, 0.8), (1.6, 0.8), (2.2, 0)],
                                   "mouthSmileRight": [(0.3, 0), (0.8, 0.8), (1.6, 0.8), (2.2, 0)],
                                   "browDownLeft": [(1.8, 0), (2.5, 0.8)], "browDownRight": [(1.8, 0), (2.5, 0.8)],
                                   "mouthFrownLeft": [(1.8, 0), (2.5, 0.6)], "mouthFrownRight": [(1.8, 0), (2.5, 0.6)]},
                         {}, None, [SMILE, SAD + ANGRY]),
    "two_blinks_only": (3.0, 25, {"eyeBlinkLeft": [(0.8, 0), (0.9, 1), (1.0, 0), (2.0, 0), (2.1, 1), (2.2, 0)],
                                  "eyeBlinkRight": [(0.8, 0), (0.9, 1), (1.0, 0), (2.0, 0), (2.1, 1), (2.2, 0)]}, {},
                        ["eyeBlinkLeft", "eyeBlinkRight"], [("blink",)]),
    "disgust": (3.0, 30, {"noseSneerLeft": [(0.5, 0), (1.0, 0.8)], "noseSneerRight": [(0.5, 0), (1.0, 0.8)],
                          "mouthUpperUpLeft": [(0.5, 0), (1.0, 0.6)], "mouthUpperUpRight": [(0.5, 0), (1.0, 0.6)],
                          "browDownLeft": [(0.5, 0), (1.0, 0.3)], "browDownRight": [(0.5, 0), (1.0, 0.3)]},
                {}, None, [("disgust", "revuls", "gross", "repuls", "sneer", "repel")]),
}


def _curve(keys, t: np.ndarray) -> np.ndarray:
    """Keys [(time, value)] -> values at t: smoothstep between keys, held before the first and after the last."""
    keys = sorted(keys)
    out = np.full(len(t), float(keys[0][1]))
    for (t0, v0), (t1, v1) in zip(keys, keys[1:]):
        u = np.clip((t - t0) / max(t1 - t0, 1e-6), 0, 1)
        out = np.where(t >= t0, v0 + (v1 - v0) * u * u * (3 - 2 * u), out)
    return np.where(t >= keys[-1][0], float(keys[-1][1]), out)


def handkeyed_clips(expr_names) -> list[tuple[str, MotionClip, list[tuple[str, ...]]]]:
    """(name, clip, word groups) of every clip in SPECS, keyed onto a head with `expr_names`."""
    out = []
    for name, (seconds, fps, ekeys, pkeys, only, groups) in SPECS.items():
        names = list(only) if only else list(expr_names)
        unknown = sorted(set(ekeys) - set(names))
        if unknown:
            raise ValueError(f"hand-keyed clip {name!r} keys channels the head lacks: {unknown}")
        t = np.arange(int(round(seconds * fps))) / fps
        expr = np.zeros((len(t), len(names)), np.float32)
        for ch, keys in ekeys.items():
            expr[:, names.index(ch)] = _curve(keys, t)
        pose = np.zeros((len(t), len(JOINT_NAMES), 3), np.float32)
        for (joint, axis), keys in pkeys.items():
            pose[:, _J[joint], _AX[axis]] = _curve(keys, t)
        clip = MotionClip(pose=pose, expr=expr, expr_names=names, fps=float(fps), meta={"id": name}).validate()
        out.append((name, clip, groups))
    return out


def caption_passes(caption: str, groups) -> bool:
    """Every group has one of its stems at the start of a word of the caption (case-insensitive)."""
    text = caption.lower()
    return all(any(re.search(r"\b" + re.escape(w), text) for w in g) for g in groups)


def main(argv=None) -> int:
    from engine.engine import Engine
    from engine.head import load_head

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--captioner", default=None, help="captioner checkpoint (default: the shipped one)")
    args = ap.parse_args(argv)
    eng = Engine(captioner_path=args.captioner)
    passed = 0
    for name, clip, groups in handkeyed_clips(load_head().expr_names):
        cap = eng.caption(clip)
        ok = caption_passes(cap, groups)
        passed += ok
        print(f"{'PASS' if ok else 'fail'}  {name:18s} {cap}")
    print(f"{passed}/{len(SPECS)} hand-keyed clips captioned with their words ({passed / len(SPECS):.0%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
