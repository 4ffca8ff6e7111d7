"""Headless preview renders of a TDMM head: a studio scene and contact sheets.

Cycles on the CPU, so it runs on any machine with the bpy wheel. The sheet
is composed in numpy and written through a Blender image, so no imaging
package is needed.
"""
from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import bpy
import numpy as np

from . import keys, rig


def setup_studio(scene, arm_obj, size: int = 320, samples: int = 24) -> bpy.types.Object:
    """Camera on the face, a key/fill/rim light set, neutral grey world; returns the camera."""
    _, mesh = keys.head_objects(arm_obj)
    # Frame the face: the eyes and mouth span in world space (the rig is z-up).
    world_verts = np.array([mesh.matrix_world @ v.co for v in mesh.data.vertices])
    lo, hi = np.percentile(world_verts, 3, axis=0), np.percentile(world_verts, 97, axis=0)
    centre = (lo + hi) / 2
    centre[2] = lo[2] + 0.64 * (hi[2] - lo[2])       # between eyes and mouth: the face fills the frame
    cam = bpy.data.objects.new("TDMM Camera", bpy.data.cameras.new("TDMM Camera"))
    cam.data.lens = 85
    cam.location = (centre[0], lo[1] - 0.85, centre[2])
    cam.rotation_euler = (math.radians(90), 0, 0)
    scene.collection.objects.link(cam)
    scene.camera = cam
    for name, energy, loc, rot in (("Key", 6, (0.35, -0.55, 0.45), (55, 0, 30)),
                                   ("Fill", 2.5, (-0.45, -0.5, 0.2), (75, 0, -40)),
                                   ("Rim", 4, (0.0, 0.5, 0.5), (-50, 0, 180))):
        light = bpy.data.objects.new(f"TDMM {name}", bpy.data.lights.new(f"TDMM {name}", "AREA"))
        light.data.energy, light.data.size = energy, 0.5
        light.location = (centre[0] + loc[0], centre[1] + loc[1], centre[2] + loc[2] - 0.15)
        light.rotation_euler = tuple(math.radians(a) for a in rot)
        scene.collection.objects.link(light)
    world = scene.world or bpy.data.worlds.new("TDMM World")
    scene.world = world
    if world.node_tree is None and hasattr(world, "use_nodes"):
        world.use_nodes = True
    bg = world.node_tree.nodes.get("Background")
    bg.inputs[0].default_value = (0.05, 0.05, 0.055, 1)
    bg.inputs[1].default_value = 1.0
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = samples
    scene.cycles.use_denoising = False
    scene.render.resolution_x = scene.render.resolution_y = size
    scene.render.resolution_percentage = 100
    scene.view_settings.view_transform = "Standard"   # colours as painted, not film-like
    return cam


def _add_label(scene, cam, text: str) -> bpy.types.Object:
    """A small text object fixed under the face in the camera's view."""
    curve = bpy.data.curves.new("TDMM Label", "FONT")
    curve.body, curve.align_x, curve.size = text, "CENTER", 0.012
    label = bpy.data.objects.new("TDMM Label", curve)
    label.parent = cam
    label.location = (0, -0.038, -0.3)            # camera space: below centre, in front
    mat = bpy.data.materials.new("TDMM Label")
    mat.diffuse_color = (1, 1, 1, 1)
    if mat.node_tree is None and hasattr(mat, "use_nodes"):
        mat.use_nodes = True
    out = mat.node_tree.nodes.get("Material Output")
    emit = mat.node_tree.nodes.new("ShaderNodeEmission")
    emit.inputs["Strength"].default_value = 1.0
    mat.node_tree.links.new(emit.outputs[0], out.inputs["Surface"])
    curve.materials.append(mat)
    scene.collection.objects.link(label)
    return label


def _read_png(path: str) -> np.ndarray:
    img = bpy.data.images.load(path)
    w, h = img.size
    px = np.empty(w * h * 4, np.float32)
    img.pixels.foreach_get(px)
    bpy.data.images.remove(img)
    return px.reshape(h, w, 4)


def write_png(pixels: np.ndarray, path: str) -> None:
    """[H,W,4] floats (bottom row first, Blender's order) -> PNG, written atomically."""
    h, w = pixels.shape[:2]
    img = bpy.data.images.new("TDMM Sheet", w, h, alpha=True)
    img.pixels.foreach_set(pixels.astype(np.float32).ravel())
    tmp = f"{path}.tmp.png"
    img.filepath_raw, img.file_format = tmp, "PNG"
    img.save()
    bpy.data.images.remove(img)
    os.replace(tmp, path)


def render_sheet(arm_obj, clip, labels: list[str], out_png: str, columns: int = 4,
                 size: int = 320, samples: int = 24) -> str:
    """Render frame i of `clip` with label i into one grid PNG; returns its path."""
    if len(labels) != clip.num_frames:
        raise ValueError(f"{len(labels)} labels for a clip of {clip.num_frames} frames")
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = int(round(clip.fps)), 1.0
    keys.write_clip(arm_obj, clip, name="contact sheet", frame_start=1, scene=scene)
    cam = setup_studio(scene, arm_obj, size=size, samples=samples)
    cells = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, text in enumerate(labels):
            label = _add_label(scene, cam, text)
            scene.frame_set(1 + i)
            scene.render.filepath = os.path.join(tmp, f"cell{i:03d}.png")
            bpy.ops.render.render(write_still=True)
            cells.append(_read_png(scene.render.filepath))
            bpy.data.objects.remove(label)
    rows = math.ceil(len(cells) / columns)
    blank = np.empty_like(cells[0])
    blank[:] = cells[0][-1, 0]                       # the background colour of a corner
    cells += [blank] * (rows * columns - len(cells))
    # Blender images start at the bottom row: stack the first sheet row last.
    grid = np.concatenate([np.concatenate(cells[r * columns:(r + 1) * columns], axis=1)
                           for r in reversed(range(rows))], axis=0)
    write_png(grid, out_png)
    return out_png


def render_head_sheet(head, clip, labels: list[str], out_png: str, columns: int = 4, size: int = 320,
                      samples: int = 24) -> str:
    """render_sheet in a fresh empty scene with `head` (an engine HeadModel) rigged."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    arm = rig.build_head_object(head)
    Path(out_png).parent.mkdir(parents=True, exist_ok=True)
    return render_sheet(arm, clip, labels, out_png, columns=columns, size=size, samples=samples)
