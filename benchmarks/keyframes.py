"""Benchmark: writing a motion clip as keyframes, bulk writer vs keyframe_insert.

    .venv/bin/python benchmarks/keyframes.py [--frames 250] [--repeats 7] [--synthetic]

Builds a head (the default head if assets/head/tdmm_head.safetensors exists,
else, or with --synthetic, a 52-channel synthetic head of ~5k vertices), then
keys the same 250-frame clip on every channel (all expression channels, the 5
joints' quaternions and the root translation) two ways:
- bulk: tdmm_blender.keys.write_clip (keyframe_points.add + foreach_set),
- naive: set each property and call keyframe_insert, frame by frame,
and prints the median seconds of each, their ratio and a markdown table.
Both results are read back and compared, so the two ways key the same thing.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bpy  # noqa: E402

from engine.clip import MotionClip  # noqa: E402
from engine.head import JOINT_NAMES, HeadModel, default_head_path, load_head  # noqa: E402
from engine.rotation import axis_angle_to_quat, quat_continuity  # noqa: E402
from tdmm_blender import keys, rig  # noqa: E402


def synthetic_head(num_expr: int = 52, rings: int = 70, segments: int = 70, seed: int = 0) -> HeadModel:
    """A UV sphere of ~5k vertices with random blendshapes, weights and correctives."""
    rng = np.random.default_rng(seed)
    theta = np.linspace(0, np.pi, rings + 2)[1:-1]
    phi = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    v = 0.1 * np.stack([np.sin(t) * np.cos(p), np.cos(t), np.sin(t) * np.sin(p)], -1).reshape(-1, 3)
    v = np.vstack([v, [[0, 0.1, 0], [0, -0.1, 0]]]) + [0, 0.15, 0]
    V, top, bottom = len(v), len(v) - 2, len(v) - 1
    faces = []
    for r in range(rings - 1):
        for s in range(segments):
            a, b = r * segments + s, r * segments + (s + 1) % segments
            faces += [[a, b + segments, b], [a, a + segments, b + segments]]
    for s in range(segments):
        faces += [[top, s, (s + 1) % segments]]
        last = (rings - 1) * segments
        faces += [[bottom, last + (s + 1) % segments, last + s]]
    w = rng.random((V, 5)) ** 4
    w /= w.sum(1, keepdims=True)
    J_reg = np.zeros((5, V), np.float32)
    for j in range(5):
        J_reg[j, rng.choice(V, 8, replace=False)] = 1 / 8
    return HeadModel(
        v_template=v.astype(np.float32), shapedirs=np.zeros((V, 3, 0), np.float32),
        exprdirs=(rng.standard_normal((V, 3, num_expr)) * 0.003).astype(np.float32),
        posedirs=(rng.standard_normal((V, 3, 36)) * 0.001).astype(np.float32),
        J_regressor=J_reg, weights=w.astype(np.float32), faces=np.array(faces, np.int32),
        expr_names=[f"exp{k:02d}" for k in range(num_expr)], meta={"name": "synthetic"},
    ).validate()


def random_clip(head: HeadModel, T: int, seed: int = 0) -> MotionClip:
    rng = np.random.default_rng(seed)
    axis = rng.standard_normal((T, 5, 3))
    axis /= np.linalg.norm(axis, axis=2, keepdims=True)
    return MotionClip(pose=axis * rng.uniform(0, 1, (T, 5, 1)), expr=rng.uniform(-1, 1, (T, head.num_expr)),
                      expr_names=head.expr_names, fps=25.0, transl=rng.normal(0, 0.01, (T, 3)))


def naive_write(arm, clip: MotionClip) -> bpy.types.Action:
    """What a straightforward add-on does: one keyframe_insert per channel per frame."""
    mesh = arm[rig.PROP_MESH]
    key_blocks = mesh.data.shape_keys.key_blocks
    # Fresh actions, as write_clip makes, so both start from empty curves.
    arm.animation_data_create().action = None
    mesh.data.shape_keys.animation_data_create().action = None
    quats = axis_angle_to_quat(clip.pose)
    quats = np.stack([quat_continuity(quats[:, j]) for j in range(5)], axis=1)
    bones = [arm.pose.bones[b] for b in JOINT_NAMES]
    root = bones[0]
    blocks = [key_blocks[n] for n in clip.expr_names]
    for t in range(clip.num_frames):
        frame = 1 + t
        for j, pb in enumerate(bones):
            pb.rotation_quaternion = quats[t, j]
            pb.keyframe_insert("rotation_quaternion", frame=frame, group=pb.name)
        root.location = clip.transl[t]
        root.keyframe_insert("location", frame=frame, group=root.name)
        for k, kb in enumerate(blocks):
            kb.value = clip.expr[t, k]
            kb.keyframe_insert("value", frame=frame)
    return arm.animation_data.action


def remove_actions():
    for a in list(bpy.data.actions):
        bpy.data.actions.remove(a)


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        remove_actions()                     # same starting state every run
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=250)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--naive-repeats", type=int, default=5, help="the naive loop is slow; fewer runs")
    ap.add_argument("--synthetic", action="store_true", help="use the 52-channel synthetic head")
    args = ap.parse_args(argv)

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 25, 1.0
    # Sampled data wants LINEAR keys; make the naive path produce the same.
    bpy.context.preferences.edit.keyframe_new_interpolation_type = "LINEAR"

    use_default = default_head_path().exists() and not args.synthetic
    head = load_head() if use_default else synthetic_head()
    head_desc = (f"{'default head' if use_default else 'synthetic head'}: {head.num_vertices} vertices, "
                 f"{head.num_expr} expression channels")
    t0 = time.perf_counter()
    arm = rig.build_head_object(head)
    build_s = time.perf_counter() - t0
    clip = random_clip(head, args.frames)
    n_curves = head.num_expr + 5 * 4 + 3
    n_keys = n_curves * args.frames

    bulk = timed(lambda: keys.write_clip(arm, clip), args.repeats)
    bulk_clip = keys.read_clip(arm)
    read = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        keys.read_clip(arm)
        read.append(time.perf_counter() - t0)
    naive = timed(lambda: naive_write(arm, clip), args.naive_repeats)
    naive_clip = keys.read_clip(arm, fps=25.0)
    for name in ("pose", "expr", "transl"):
        diff = np.abs(getattr(bulk_clip, name) - getattr(naive_clip, name)).max()
        assert diff < 1e-5, f"bulk and naive keys differ on {name} by {diff}"

    mb, mn, mr = statistics.median(bulk), statistics.median(naive), statistics.median(read)
    print(f"{head_desc}; rig built in {build_s:.3f} s")
    print(f"{n_curves} F-curves x {args.frames} frames = {n_keys} keys")
    print(f"bulk  write_clip     median {mb:.4f} s over {len(bulk)} runs")
    print(f"naive keyframe_insert median {mn:.4f} s over {len(naive)} runs")
    print(f"read_clip            median {mr:.4f} s over {len(read)} runs")
    print(f"speed-up {mn / mb:.0f}x\n")
    machine = f"{platform.machine()}, bpy {bpy.app.version_string}, Python {platform.python_version()}"
    print(f"| {head_desc} | median s | runs |\n|---|---:|---:|")
    print(f"| bulk `keys.write_clip`, {n_curves} curves x {args.frames} frames | {mb:.4f} | {len(bulk)} |")
    print(f"| naive `keyframe_insert` loop, same data | {mn:.4f} | {len(naive)} |")
    print(f"| `keys.read_clip` of the bulk keys | {mr:.4f} | {len(read)} |")
    print(f"| speed-up bulk vs naive | {mn / mb:.0f}x | |")
    print(f"\n({machine})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
