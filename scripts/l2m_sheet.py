"""Render what the shipped Language2Motion generator makes of everyday prompts, through the Blender rig.

    .venv/bin/python scripts/l2m_sheet.py [--out docs/l2m_sheet.png] [--size 200] [--samples 6]

Engine().generate on the CPU (assets/l2m/generator, seed 0), then one row per clip:
  rows 1-8   one prompt each, 4 s: frames spread evenly across the clip, up to two of them swapped
             for the moments the head or the eyes move furthest (a shake or a nod can be over in
             half a second, between two evenly spread frames); those cells name the move;
  row 9      a continuation: "a calm neutral face" 3 s, then continue_from it "then she bursts out
             laughing" 3 s: frames of the first clip up to its last, then of the second from its first;
  row 10     an in-between: before = "a big happy smile" 2 s, after = "an angry frown" 2 s,
             bridge = "a quick look of surprise" 2 s from before until after: before's last frame,
             bridge frames (its first and last included), after's first frame.
Each row carries its prompt(s) in a strip above it, each cell what it shows and its time in its
clip. Per row the script also prints the channels that peak highest and the head's range of
motion, to read beside the pictures. Cycles on CPU (denoised, few samples), the camera of
scripts/corpus_v2_sheet.py; the PNG is written the same way (64 colour steps, Paeth-filtered).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.clip import MotionClip  # noqa: E402
from engine.engine import Engine  # noqa: E402
from engine.head import load_head  # noqa: E402
from scripts.corpus_v2_sheet import write_png_rgb  # noqa: E402

COLUMNS = 5
CROP = 0.8          # fraction of a cell's width kept (the head is narrower than the square frame)
STRIP = 26          # pixels of the prompt strip above each row

PROMPTS = (
    "she's grinning from ear to ear",
    "furious, shaking his head",
    "a sad, tired face looking down",
    "surprised, mouth wide open",
    "a smug smirk on the left side of her mouth",
    "disgusted, nose wrinkled",
    "a shy smile that turns into a laugh, head tilting left",
    "eyes darting around nervously",
)


MOVES = ((1, 0, "head pitch"), (1, 1, "head yaw"), (1, 2, "head roll"), (3, 0, "gaze pitch"), (3, 1, "gaze yaw"))


def spread(n: int, k: int = COLUMNS) -> list[int]:
    """k frames evenly across a clip of n frames (cell centres)."""
    return [min(n - 1, int((i + 0.5) * n / k)) for i in range(k)]


def pick_frames(clip: MotionClip, k: int = COLUMNS, events: int = 2, least_deg: float = 6.0, gap: int = 6):
    """-> [(frame, label)]: k frames spread evenly, up to `events` of them replaced by the frames
    where a head or gaze angle is furthest from the clip's first frame (at least least_deg, frames
    at least `gap` apart), each in place of the nearest evenly spread frame."""
    ang = np.degrees(clip.pose - clip.pose[:1])                             # [T,5,3] from the start
    cands = []
    for j, a, name in MOVES:
        x = ang[:, j, a]
        for f in (int(x.argmax()), int(x.argmin())):
            if abs(x[f]) >= least_deg:
                cands.append((abs(x[f]), f, f"{name} {x[f]:+.0f}\u00b0"))
    picked = {}
    for _, f, text in sorted(cands, reverse=True):
        if len(picked) < events and all(abs(f - g) >= gap for g in picked):
            picked[f] = text
    frames = {f: "" for f in spread(clip.num_frames, k)}
    for f, text in picked.items():
        del frames[min((g for g in frames if not frames[g]), key=lambda g: abs(g - f))]
        frames[f] = text
    return [(f, f"{f / clip.fps:.2f}s {text}".strip()) for f, text in sorted(frames.items())]


def build_rows(eng: Engine, seed: int):
    """-> [(strip text, [(clip, frame, cell label), ...]), ...] and {name: clip} for the printout."""
    rows, clips = [], {}
    for prompt, clip in zip(PROMPTS, eng.generate(list(PROMPTS), seconds=4, seed=seed)):
        clips[prompt] = clip
        rows.append((f'"{prompt}"', [(clip, f, text) for f, text in pick_frames(clip)]))

    calm = eng.generate("a calm neutral face", seconds=3, seed=seed)[0]
    laugh = eng.generate("then she bursts out laughing", seconds=3, seed=seed, continue_from=calm)[0]
    clips["continuation: calm"], clips["continuation: laugh"] = calm, laugh
    n, m = calm.num_frames, laugh.num_frames
    cells = [(calm, f, f"calm {f / calm.fps:.2f}s") for f in (n // 2, n - 1)]
    cells += [(laugh, f, f"laugh {f / laugh.fps:.2f}s") for f in (0, m // 3, m - 1)]
    rows.append(('continue: "a calm neutral face" 3 s | then "then she bursts out laughing" 3 s', cells))

    before = eng.generate("a big happy smile", seconds=2, seed=seed)[0]
    after = eng.generate("an angry frown", seconds=2, seed=seed)[0]
    bridge = eng.generate("a quick look of surprise", seconds=2, seed=seed, continue_from=before, until=after)[0]
    clips["in-between: before"], clips["in-between: bridge"], clips["in-between: after"] = before, bridge, after
    b = bridge.num_frames
    cells = [(before, before.num_frames - 1, f"before {(before.num_frames - 1) / before.fps:.2f}s")]
    cells += [(bridge, f, f"bridge {f / bridge.fps:.2f}s") for f in (0, b // 2, b - 1)]
    cells += [(after, 0, "after 0.00s")]
    rows.append(('between "a big happy smile" and "an angry frown": "a quick look of surprise" 2 s', cells))
    return rows, clips


def describe(name: str, clip: MotionClip) -> str:
    """The channels that peak highest and the head's range (degrees), to read beside the sheet."""
    peak = clip.expr.max(0)
    top = ", ".join(f"{clip.expr_names[i]} {peak[i]:.2f}" for i in np.argsort(-peak)[:6])
    neck = np.degrees(clip.pose[:, 1])                                     # pitch, yaw, roll
    rng = " ".join(f"{a} {lo:+.0f}..{hi:+.0f}" for a, lo, hi in zip(("pitch", "yaw", "roll"), neck.min(0), neck.max(0)))
    gaze = np.degrees(np.abs(clip.pose[:, 3, :2])).max()
    jaw = np.degrees(clip.pose[:, 2, 0]).max()
    return f"{name}\n    peaks: {top}\n    neck {rng}; jaw max {jaw:.0f}; gaze max {gaze:.0f}"


def render(head, rows, size: int, samples: int, lens: float):
    """-> [H,W,3] uint8: per row a strip with its text above its cells."""
    import bpy

    from tdmm_blender import keys, preview, rig

    cells_all = [c for _, cells in rows for c in cells]
    names = list(head.expr_names)
    frames = [clip.with_channels(names)[0] for clip, _, _ in cells_all]
    clip = MotionClip(pose=np.stack([c.pose[f] for c, (_, f, _) in zip(frames, cells_all)]).astype(np.float32),
                      expr=np.clip(np.stack([c.expr[f] for c, (_, f, _) in zip(frames, cells_all)]), 0, 1)
                      .astype(np.float32), expr_names=names, fps=25.0).validate()

    bpy.ops.wm.read_factory_settings(use_empty=True)
    arm = rig.build_head_object(head)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 25, 1.0
    keys.write_clip(arm, clip, name="l2m sheet", frame_start=1, scene=scene)
    cam = preview.setup_studio(scene, arm, size=size, samples=samples)
    cam.data.lens = lens                                  # closer on the face than the preview's 85 mm
    cam.location.z -= 0.012
    try:
        scene.cycles.use_denoising = True                 # few samples, smooth cells, a smaller PNG
        scene.cycles.denoiser = "OPENIMAGEDENOISE"
    except (AttributeError, TypeError):
        pass
    half = 0.3 * 18.0 / lens                              # half the view height at the label's depth
    margin = int(round(size * (1 - CROP) / 2))            # the background beside the head
    cells = []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "cell.png")
        scene.render.filepath = path
        for i, (_, _, text) in enumerate(cells_all):
            label = preview._add_label(scene, cam, text)
            label.data.size = 0.12 * half
            label.location = (0, -0.86 * half, -0.3)
            scene.frame_set(1 + i)
            bpy.ops.render.render(write_still=True)
            px = preview._read_png(path)[::-1, :, :3]
            cells.append(np.round(np.clip(px[:, margin:size - margin], 0, 1) * 255).astype(np.uint8))
            bpy.data.objects.remove(label)
            print(f"  cell {i + 1}/{len(cells_all)}: {text}", flush=True)

        # The strips: the head hidden, an orthographic camera on a line of text.
        width = COLUMNS * cells[0].shape[1]
        for obj in scene.objects:
            if obj.type in ("ARMATURE", "MESH"):
                obj.hide_render = True
        scene.render.resolution_x, scene.render.resolution_y = width, STRIP
        scene.cycles.samples = 4
        cam.data.type, cam.data.ortho_scale = "ORTHO", 1.0     # the view is 1 unit wide, STRIP/width high
        h = STRIP / width
        strips = []
        for text, _ in rows:
            label = preview._add_label(scene, cam, text)
            label.data.align_x, label.data.size = "LEFT", 0.5 * h
            label.location = (-0.5 + 0.3 * h, -0.22 * h, -0.3)
            bpy.ops.render.render(write_still=True)
            px = preview._read_png(path)[::-1, :, :3]
            strips.append(np.round(np.clip(px, 0, 1) * 255).astype(np.uint8))
            bpy.data.objects.remove(label)

    out, k = [], 0
    for (_, row_cells), strip in zip(rows, strips):
        row = cells[k:k + len(row_cells)]
        k += len(row_cells)
        row += [np.zeros_like(cells[0])] * (COLUMNS - len(row))
        out += [strip, np.concatenate(row, axis=1)]
    return np.concatenate(out, axis=0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/l2m_sheet.png")
    ap.add_argument("--size", type=int, default=200, help="pixels of a cell's side")
    ap.add_argument("--samples", type=int, default=6, help="Cycles samples a cell (denoised)")
    ap.add_argument("--lens", type=float, default=120.0, help="camera focal length, mm")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2, help="torch threads for generation")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    rows, clips = build_rows(Engine(threads=args.threads), args.seed)
    t1 = time.perf_counter()
    for name, clip in clips.items():
        print(describe(name, clip))
    print(f"generated {len(clips)} clips in {t1 - t0:.0f} s", flush=True)
    grid = render(load_head(), rows, args.size, args.samples, args.lens)
    t2 = time.perf_counter()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_png_rgb(args.out, grid)
    print(f"wrote {args.out} ({Path(args.out).stat().st_size // 1024} KB, {grid.shape[1]}x{grid.shape[0]}); "
          f"generation {t1 - t0:.0f} s, rendering {t2 - t1:.0f} s, total {t2 - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
