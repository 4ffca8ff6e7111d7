"""Render what corpus v2 added to the procedural corpus, through the Blender rig.

    .venv/bin/python scripts/corpus_v2_sheet.py [--out docs/corpus_v2_sheet.png] [--size 160] [--samples 10]

One row per behaviour, frames picked from one rendered clip by what its signal does
(training/corpus/motion.py renders them; the labels are made here by hand):
  1. a smirk on each side of the mouth, then a trembling lower lip (consecutive frames);
  2. laugh pulses over one burst (jaw open / rest / open ..., decaying), then the rest between bursts;
  3. the eye-roll path: to one side, down, the other side, up, held up, back;
  4. a glance to the left and back: eyes lead, head follows, eyes return first, head follows;
  5. a sigh: before, inhale (head lifts, eyes open), exhale (head drops, lids lower), after;
  6. darting eyes: successive fixations, 10-25 degrees apart.
Each cell is labelled with what it shows and its time in the clip. Cycles on CPU, the
camera closer on the face than tdmm_blender.preview's default so that gaze reads; the
sheet is written as an 8-bit RGB PNG, colours in 64 steps, Paeth-filtered (under 500 KB).
"""
from __future__ import annotations

import argparse
import math
import os
import struct
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.clip import MotionClip  # noqa: E402
from engine.head import load_head  # noqa: E402
from training.corpus import motion  # noqa: E402
from training.corpus.dynamics import dynamic_of  # noqa: E402
from training.corpus.labels import check_labels  # noqa: E402
from training.corpus.lexicon import by_name  # noqa: E402

FPS = 25.0
COLUMNS = 6
CROP = 0.8          # fraction of a cell's width kept (the head is narrower than the square frame)


def labels_for(descriptor, intensity="strong", head="still", micro=(), side=None, tempo="normal", T=125):
    d = by_name(descriptor)
    return check_labels({
        "family": d.family, "descriptor": descriptor, "side": side or d.side, "dynamic": dynamic_of(descriptor),
        "intensity": intensity, "tempo": tempo, "head": {"motion": head, "count": None}, "micro": list(micro),
        "transition": None, "talking": False, "subject": "a person", "fps": FPS, "num_frames": T})


def render(labels, seed):
    return motion.render(labels, np.random.default_rng(seed))


def _peaks(x, lo=0, hi=None, minimum=True):
    """Frames of local maxima (or minima) of x inside [lo, hi)."""
    x = np.asarray(x, float)[lo:hi]
    s = -1 if minimum else 1
    i = np.flatnonzero((s * x[1:-1] > s * x[:-2]) & (s * x[1:-1] >= s * x[2:])) + 1
    return [int(k) + lo for k in i]


# -- rows: (pose [T,5,3], expr [T,K], [(frame, label), ...]) ---------------------------------------
def row_sides_and_tremble(lay):
    cells, poses, exprs = [], [], []
    for side in ("left", "right"):
        p, e = render(labels_for("smirk", "extreme", side=side), 1)
        f = 80
        poses.append(p[f]), exprs.append(e[f]), cells.append(f"smirk, {side} side")
    p, e = render(labels_for("lip quiver", "extreme"), 2)
    chin = e[:, lay.ch("mouthShrugLower")[0]] - e[:, lay.ch("mouthLowerDownLeft")[0]]
    hi = [k for k in _peaks(chin, 60, 110, minimum=False)]
    f0 = hi[0]
    for k, f in enumerate((f0, f0 + 1, f0 + 2, f0 + 3)):
        poses.append(p[f]), exprs.append(e[f]), cells.append(f"lip quiver {f / FPS:.2f}s")
    return poses, exprs, cells


def row_laugh(lay):
    p, e = render(labels_for("laugh", "strong"), 1)
    jaw = p[:, 2, 0]
    tops = [k for k in _peaks(jaw, minimum=False) if jaw[k] > 0.5 * jaw.max()]
    lows = _peaks(jaw)
    first = tops[0]
    trough = min((k for k in lows if k > first), default=first + 2)
    gap = next(k for k in range(len(tops) - 1) if tops[k + 1] - tops[k] > 8)     # the breath after burst 1
    frames = [first - 6, first, trough, tops[1], tops[min(3, gap)], (tops[gap] + tops[gap + 1]) // 2]
    names = ["before", "ha 1", "rest", "ha 2", "ha 4", "breath"]
    return ([p[f] for f in frames], [e[f] for f in frames],
            [f"laugh {n} {f / FPS:.2f}s" for n, f in zip(names, frames)])


def row_eye_roll(lay):
    p, e = render(labels_for("eye roll", "strong", side="left"), 3)
    g = p[:, 3, :2].astype(float)
    r = np.hypot(*g.T)
    on = np.flatnonzero(r > 0.1)
    seg = max(np.split(on, np.flatnonzero(np.diff(on) > 1) + 1), key=len)    # the roll: the longest excursion
    a, b = seg[0], seg[-1]
    side1 = a + 1
    down = seg[np.argmax(g[seg, 0])]
    side2 = seg[np.argmax(np.abs(g[seg, 1]) * (seg > down))]
    up = seg[np.argmin(g[seg, 0])]
    frames = [side1, down, side2, up, min(up + 6, b - 2), min(b + 4, len(r) - 1)]
    names = ["side", "down", "side", "up", "held up", "back"]
    return ([p[f] for f in frames], [e[f] for f in frames],
            [f"eye roll {n} {f / FPS:.2f}s" for n, f in zip(names, frames)])


def row_glance(lay):
    p, e = render(labels_for("neutral", "moderate", "glance_left"), 0)
    head = p[:, 1, 1]
    world = head + p[:, 3, 1]
    go = int(np.argmax(world > 0.5 * world.max()))
    follow = int(np.argmax(head > 0.9 * head.max()))
    eyes_back = follow + int(np.argmax(world[follow:] < 0.5 * world.max()))
    head_back = eyes_back + int(np.argmax(head[eyes_back:] < 0.15 * head.max()))
    frames = [max(go - 4, 0), go + 1, follow, eyes_back + 1, (eyes_back + head_back) // 2 + 1, head_back + 6]
    names = ["before", "eyes go", "head follows", "eyes back", "head back", "after"]
    return ([p[f] for f in frames], [e[f] for f in frames],
            [f"glance L {n} {f / FPS:.2f}s" for n, f in zip(names, frames)])


def row_sigh(lay):
    p, e = render(labels_for("sigh", "extreme", T=150), 1)
    pitch = p[:, 1, 0]
    top, bottom = int(np.argmin(pitch)), int(np.argmax(pitch))
    frames = [2, top, (top + bottom) // 2 - 3, (top + bottom) // 2 + 3, bottom, len(pitch) - 1]
    names = ["before", "inhale", "exhale", "exhale", "exhaled", "after"]
    return ([p[f] for f in frames], [e[f] for f in frames],
            [f"sigh {n} {f / FPS:.2f}s" for n, f in zip(names, frames)])


def row_darting(lay):
    s, t_end = 30, 90
    p, e = render(labels_for("nervous", "mild", micro=[{"type": "darting_eyes", "start": s, "end": t_end}]), 4)
    g = np.degrees(p[:, 3, :2].astype(float))
    speed = np.r_[0.0, np.hypot(*np.diff(g, axis=0).T)]
    still = [f for f in range(s + 1, t_end) if speed[f] < 3 and speed[f + 1] < 3 and speed[f - 1] >= 3]
    frames = [s] + [f + 1 for f in still][:5]               # frame s: just before the first saccade
    while len(frames) < COLUMNS:
        frames.append(t_end + 3)
    cells = [f"darting {f / FPS:.2f}s" + ("" if k == 0 else f" jump {np.hypot(*(g[f] - g[frames[k - 1]])):.0f}\u00b0")
             for k, f in enumerate(frames)]
    return [p[f] for f in frames], [e[f] for f in frames], cells


ROWS = (row_sides_and_tremble, row_laugh, row_eye_roll, row_glance, row_sigh, row_darting)


# -- Blender ----------------------------------------------------------------------------------------
def write_png_rgb(path, rgb: np.ndarray, levels: int = 64) -> None:
    """[H,W,3] uint8 (top row first) -> PNG: colours rounded to `levels` steps a channel (64:
    invisible on these smooth renders, and the file shrinks by half), the Paeth filter on every row."""
    h, w, _ = rgb.shape
    step = 256 // levels
    x = np.minimum(np.round(rgb.astype(np.float64) / step) * step, 255).astype(np.int16).reshape(h, w * 3)
    left = np.hstack([np.zeros((h, 3), np.int16), x[:, :-3]])
    up = np.vstack([np.zeros((1, w * 3), np.int16), x[:-1]])
    up_left = np.vstack([np.zeros((1, w * 3), np.int16), left[:-1]])
    guess = left + up - up_left
    da, db, dc = np.abs(guess - left), np.abs(guess - up), np.abs(guess - up_left)
    paeth = np.where((da <= db) & (da <= dc), left, np.where(db <= dc, up, up_left))
    raw = np.hstack([np.full((h, 1), 4, np.uint8), ((x - paeth) % 256).astype(np.uint8)]).tobytes()

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    tmp = f"{path}.tmp"
    Path(tmp).write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                          + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
    os.replace(tmp, path)


def render_cells(head, clip, labels, size, samples, lens):
    """Render frame i of `clip` with label i; returns [H,W,3] uint8 cells (top row first)."""
    import bpy

    from tdmm_blender import keys, preview, rig

    bpy.ops.wm.read_factory_settings(use_empty=True)
    arm = rig.build_head_object(head)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = int(round(clip.fps)), 1.0
    keys.write_clip(arm, clip, name="corpus v2 sheet", frame_start=1, scene=scene)
    cam = preview.setup_studio(scene, arm, size=size, samples=samples)
    cam.data.lens = lens                                  # closer on the face than the preview's 85 mm
    cam.location.z -= 0.012
    try:
        scene.cycles.use_denoising = True                 # smooth cells: a sharper look and a smaller PNG
        scene.cycles.denoiser = "OPENIMAGEDENOISE"
    except (AttributeError, TypeError):
        pass
    half = 0.3 * 18.0 / lens                              # half the view height at the label's depth
    cells = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, text in enumerate(labels):
            label = preview._add_label(scene, cam, text)
            label.data.size = 0.13 * half
            label.location = (0, -0.86 * half, -0.3)
            scene.frame_set(1 + i)
            scene.render.filepath = os.path.join(tmp, f"cell{i:03d}.png")
            bpy.ops.render.render(write_still=True)
            px = preview._read_png(scene.render.filepath)[::-1, :, :3]
            margin = int(round(size * (1 - CROP) / 2))            # the background beside the head
            cells.append(np.round(np.clip(px[:, margin:size - margin], 0, 1) * 255).astype(np.uint8))
            bpy.data.objects.remove(label)
            print(f"  cell {i + 1}/{len(labels)}: {text}", flush=True)
    return cells


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/corpus_v2_sheet.png")
    ap.add_argument("--size", type=int, default=160, help="pixels of a cell's side")
    ap.add_argument("--samples", type=int, default=10, help="Cycles samples a cell (denoised)")
    ap.add_argument("--lens", type=float, default=120.0, help="camera focal length, mm")
    ap.add_argument("--rows", default="", help="comma-separated row numbers (1-6) to render; default all")
    args = ap.parse_args(argv)

    head = load_head()
    lay = motion.layout(tuple(head.expr_names))
    wanted = [int(r) - 1 for r in args.rows.split(",") if r] or range(len(ROWS))
    poses, exprs, labels = [], [], []
    for r in wanted:
        p, e, cells = ROWS[r](lay)
        assert len(cells) == COLUMNS, (ROWS[r].__name__, len(cells))
        poses += p
        exprs += e
        labels += cells
    clip = MotionClip(pose=np.stack(poses), expr=np.stack(exprs), expr_names=list(head.expr_names),
                      fps=FPS).validate()
    cells = render_cells(head, clip, labels, args.size, args.samples, args.lens)
    rows = math.ceil(len(cells) / COLUMNS)
    grid = np.concatenate([np.concatenate(cells[k * COLUMNS:(k + 1) * COLUMNS], axis=1) for k in range(rows)], axis=0)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_png_rgb(args.out, grid)
    print(f"wrote {args.out} ({Path(args.out).stat().st_size // 1024} KB, {grid.shape[1]}x{grid.shape[0]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
