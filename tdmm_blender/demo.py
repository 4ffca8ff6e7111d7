"""`tdmm demo`: the rigged default head keyed from a clip, saved as a .blend.

Also renders the head's contact sheet (`--sheet`): neutral, the six basic
emotions built from ARKit channels, jaw open, gaze left/right, head turned.
The emotion recipes follow FACS prototypes (Ekman & Friesen) mapped to ARKit
channels; the corpus lexicon of a later issue supersedes them.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ._deps import engine

# Channel weights per face; joint rotations in radians (FLAME frame: +x jaw
# rotation opens the mouth / looks down, +y turns towards the character's left).
SHEET = [
    ("neutral", {}, {}),
    ("joy", {"cheekSquintLeft": 0.8, "cheekSquintRight": 0.8, "mouthSmileLeft": 1.0, "mouthSmileRight": 1.0,
             "eyeSquintLeft": 0.3, "eyeSquintRight": 0.3, "mouthUpperUpLeft": 0.25, "mouthUpperUpRight": 0.25},
     {"jaw": (0.08, 0, 0)}),                                                     # AU6 + AU12 (+25)
    ("sadness", {"browInnerUp": 1.0, "browDownLeft": 0.35, "browDownRight": 0.35, "mouthFrownLeft": 1.0,
                 "mouthFrownRight": 1.0, "mouthShrugLower": 0.5, "eyeSquintLeft": 0.2, "eyeSquintRight": 0.2},
     {"eyes": (0.18, 0, 0), "neck": (0.12, 0, 0)}),                              # AU1 + AU4 + AU15 (+17)
    ("surprise", {"browInnerUp": 1.0, "browOuterUpLeft": 1.0, "browOuterUpRight": 1.0, "eyeWideLeft": 1.0,
                  "eyeWideRight": 1.0}, {"jaw": (0.3, 0, 0)}),                    # AU1 + AU2 + AU5 + AU26
    ("anger", {"browDownLeft": 1.0, "browDownRight": 1.0, "eyeWideLeft": 0.35, "eyeWideRight": 0.35,
               "eyeSquintLeft": 0.4, "eyeSquintRight": 0.4, "mouthPressLeft": 0.8, "mouthPressRight": 0.8,
               "noseSneerLeft": 0.35, "noseSneerRight": 0.35, "mouthRollLower": 0.3}, {}),  # AU4 + AU5 + AU7 + AU23
    ("disgust", {"noseSneerLeft": 1.0, "noseSneerRight": 1.0, "mouthUpperUpLeft": 0.9, "mouthUpperUpRight": 0.9,
                 "browDownLeft": 0.5, "browDownRight": 0.5, "cheekSquintLeft": 0.5, "cheekSquintRight": 0.5,
                 "mouthFrownLeft": 0.5, "mouthFrownRight": 0.5, "mouthShrugLower": 0.6},
     {}),                                                                        # AU9 + AU10 + AU15 + AU17
    ("fear", {"browInnerUp": 1.0, "browOuterUpLeft": 0.6, "browOuterUpRight": 0.6, "browDownLeft": 0.3,
              "browDownRight": 0.3, "eyeWideLeft": 1.0, "eyeWideRight": 1.0, "mouthStretchLeft": 0.9,
              "mouthStretchRight": 0.9}, {"jaw": (0.12, 0, 0), "neck": (-0.06, 0, 0)}),  # AU1+2+4+5+20+26
    ("jaw open", {}, {"jaw": (0.36, 0, 0)}),
    ("gaze left", {}, {"eyes": (0, 0.35, 0)}),
    ("gaze right", {}, {"eyes": (0, -0.35, 0)}),
    ("head turned", {}, {"neck": (0, 0.5, 0)}),
]
JOINT = {"global": [0], "neck": [1], "jaw": [2], "eyes": [3, 4]}


def face_frame(expr_names, channels: dict, joints: dict, dropped: set | None = None):
    """One frame (pose [5,3], expr [K]) from a recipe. Channels the head lacks (a FLAME head has
    exp000.. instead of ARKit names) are left out and added to `dropped`; the joints always apply."""
    expr = np.zeros(len(expr_names), np.float32)
    for name, value in channels.items():
        if name not in expr_names:
            if dropped is None:
                raise ValueError(f"recipe channel '{name}' is not a channel of this head")
            dropped.add(name)
            continue
        expr[expr_names.index(name)] = value
    pose = np.zeros((5, 3), np.float32)
    for joint, rot in joints.items():
        pose[JOINT[joint]] = rot
    return pose, expr


def sheet_clip(expr_names, fps: float = 25.0, dropped: set | None = None):
    frames = [face_frame(expr_names, ch, jo, dropped) for _, ch, jo in SHEET]
    return engine.clip.MotionClip(pose=np.stack([f[0] for f in frames]), expr=np.stack([f[1] for f in frames]),
                                  expr_names=list(expr_names), fps=fps, text=[n for n, _, _ in SHEET]).validate()


def _ease(x):
    x = np.clip(x, 0, 1)
    return x * x * (3 - 2 * x)


def demo_clip(expr_names, fps: float = 25.0, seconds: float = 6.0, dropped: set | None = None):
    """Neutral -> joy with a double nod and blinks -> surprise, as a clip (channels the head
    lacks go to `dropped`, see face_frame)."""
    T = int(seconds * fps)
    t = np.arange(T) / fps
    recipes = {n: face_frame(expr_names, ch, jo, dropped) for n, ch, jo in SHEET}
    joy, surprise = recipes["joy"], recipes["surprise"]
    w_joy = _ease((t - 0.5) / 0.8) * (1 - _ease((t - 3.4) / 0.5))
    w_sur = _ease((t - 3.6) / 0.4)
    expr = w_joy[:, None] * joy[1] + w_sur[:, None] * surprise[1]
    pose = w_joy[:, None, None] * joy[0] + w_sur[:, None, None] * surprise[0]
    nod = np.where((t > 1.4) & (t < 3.0), np.sin((t - 1.4) * 2 * np.pi / 0.8), 0.0) * 0.12
    pose[:, 1, 0] += nod
    for start in (1.0, 2.7, 5.2):                       # blinks: 0.25 s close-open
        b = np.clip(1 - np.abs(t - start - 0.125) / 0.125, 0, 1)
        for side in ("eyeBlinkLeft", "eyeBlinkRight"):
            if side not in expr_names:
                if dropped is not None:
                    dropped.add(side)
                continue
            expr[:, expr_names.index(side)] = np.maximum(expr[:, expr_names.index(side)], b)
    return engine.clip.MotionClip(pose=pose.astype(np.float32), expr=expr.astype(np.float32),
                                  expr_names=list(expr_names), fps=fps,
                                  text=["a warm smile with a double nod, then sudden surprise"]).validate()


def run_demo(out_blend: str | None, sheet_png: str | None, head_path: str | None = None) -> None:
    output_path = engine.safe_io.output_path
    # Outputs and the head are checked before Blender starts any work.
    out = output_path(out_blend, "--out", suffixes=(".blend",)) if out_blend else None
    sheet = output_path(sheet_png, "--sheet", suffixes=(".png",)) if sheet_png else None
    head = engine.head.load_head(head_path)
    dropped: set = set()
    sheet_frames = sheet_clip(head.expr_names, dropped=dropped)
    clip = demo_clip(head.expr_names, dropped=dropped)
    if dropped:
        print(f"note: the head has none of the ARKit channels {', '.join(sorted(dropped))}: the demo leaves them "
              f"out and keeps the rest ({head.num_expr} channels of its own, and the jaw, eye and head joints)")

    import bpy

    from . import keys, preview, rig

    if sheet:
        preview.render_head_sheet(head, sheet_frames, [n for n, _, _ in SHEET], str(sheet))
        print(f"wrote {sheet}")
    if out:
        bpy.ops.wm.read_factory_settings(use_empty=True)
        scene = bpy.context.scene
        arm = rig.build_head_object(head)
        scene.render.fps, scene.render.fps_base = int(clip.fps), 1.0
        result = keys.write_clip(arm, clip, name="demo: smile, nod, surprise", frame_start=1, scene=scene)
        scene.frame_start, scene.frame_end = 1, clip.num_frames
        preview.setup_studio(scene, arm, size=720, samples=32)
        _save_blend(bpy, out.resolve())
        print(f"wrote {out}: {result.message()}")


def _save_blend(bpy, out: Path) -> None:
    """Save through a temporary name beside `out`; nothing new is left behind if that fails."""
    made = [d for d in [out.parent, *out.parent.parents] if not d.exists()]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp-{os.getpid()}.blend")
    try:
        bpy.ops.wm.save_as_mainfile(filepath=str(tmp), copy=True)
        if not tmp.is_file():
            raise OSError(f"{out}: Blender did not write the file")
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        for d in made:                               # innermost first, while empty
            try:
                d.rmdir()
            except OSError:
                break
        raise


def _cmd_demo(args) -> int:
    run_demo(args.out, args.sheet, args.head)
    return 0


def add_command(sub) -> None:
    p = sub.add_parser("demo", help="write a demo .blend with the rigged head keyed from a clip")
    p.add_argument("--out", default="out/demo.blend", help="the .blend to write (default out/demo.blend)")
    p.add_argument("--sheet", default=None, help="also render the contact sheet to this PNG")
    p.add_argument("--head", default=None, help="head file (default: the shipped open head)")
    p.set_defaults(func=_cmd_demo)
