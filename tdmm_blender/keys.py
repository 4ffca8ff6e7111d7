"""Motion clips <-> keyframes on a TDMM head, fast.

What gets keyed (all values in FLAME's frame = armature space, see rig.py):
- pose bones `global`, `neck`, `jaw`, `eye_left`, `eye_right`:
  rotation_quaternion (w, x, y, z) from the clip's axis-angle, signs made
  continuous so per-component interpolation does not spin the long way;
- the `global` bone's location = the clip's transl. Its rest orientation is
  the identity and it has no parent, so its location is a translation in
  armature space, exactly FLAME's transl (applied after the global rotation);
- the mesh's shape-key values `key_blocks["<channel>"].value`.

Where the keys go: on Blender 4.4+ (layered actions) ONE new action per
clip with two slots, one for the armature object and one for the mesh's
shape-key datablock, so a clip is one item in the action list. Blender
4.2/4.3 (legacy actions, one ID type per action) get two actions, "<name>"
and "<name> Shapes"; that branch is small and kept, but only 5.0 is tested.

Nothing the user made is overwritten: every clip goes into new action(s);
an action previously assigned to the armature or shape keys is un-assigned,
but kept in the file with a fake user, and its name is reported.

Keys are written in bulk (keyframe_points.add + foreach_set), never with a
keyframe_insert loop: 250 frames of every channel take milliseconds.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import bpy
import numpy as np

from . import rig
from ._deps import engine

MotionClip = engine.clip.MotionClip
JOINT_NAMES = engine.head.JOINT_NAMES
ROOT = JOINT_NAMES[0]

# Custom properties on actions we write, so read_clip can find the clip's timing.
PROP_FPS = "tdmm_fps"
PROP_START = "tdmm_frame_start"
PROP_FRAMES = "tdmm_num_frames"
PROP_TEXT = "tdmm_text"

# Two sample times closer than this (in frames) are the same frame.
_FRAME_EPS = 1e-4
_LINEAR = None      # enum value of LINEAR interpolation, looked up once


class KeysError(ValueError):
    """The object is not a TDMM head, or has nothing to read or write."""


@dataclass
class WriteResult:
    action: bpy.types.Action            # holds the armature's keys
    shape_action: bpy.types.Action      # holds the shape keys' keys (the same action on Blender 4.4+)
    frame_range: tuple[float, float]
    dropped: list[str] = field(default_factory=list)   # clip channels the head lacks (not keyed)
    missing: list[str] = field(default_factory=list)   # head channels the clip lacks (keyed at 0)
    kept: list[str] = field(default_factory=list)      # actions un-assigned, kept with a fake user

    def message(self) -> str:
        """One line for the UI."""
        s = f"Keyed '{self.action.name}' on frames {self.frame_range[0]:g}-{self.frame_range[1]:g}"
        if self.dropped:
            s += f"; dropped {len(self.dropped)} channel(s) the head lacks: {_few(self.dropped)}"
        if self.missing:
            s += f"; {len(self.missing)} head channel(s) not in the clip, keyed at 0: {_few(self.missing)}"
        if self.kept:
            s += f"; previous action(s) kept (fake user): {', '.join(self.kept)}"
        return s


def _few(names, n=5) -> str:
    return ", ".join(names[:n]) + (f" and {len(names) - n} more" if len(names) > n else "")


# -- finding the head ---------------------------------------------------------
def head_objects(obj) -> tuple[bpy.types.Object, bpy.types.Object]:
    """(armature, mesh) of the TDMM head `obj` belongs to, or KeysError."""
    parts = rig.head_parts(obj)
    if parts is None:
        what = f"'{obj.name}'" if obj is not None else "nothing"
        raise KeysError(f"{what} is not a TDMM head: select the head armature built by TDMM "
                        "(View3D > Sidebar > TDMM > Add TDMM Head)")
    return parts


def scene_fps(scene) -> float:
    return scene.render.fps / scene.render.fps_base


# -- writing --------------------------------------------------------------------
def write_clip(arm_obj, clip, name: str | None = None, frame_start: float = 1, scene=None) -> WriteResult:
    """Key `clip` onto the head as new action(s); returns what was written.

    Frame i lands on frame_start + i * scene_fps / clip.fps, so the motion
    plays at its own speed whatever the scene's frame rate (one key per scene
    frame when the two agree).
    """
    scene = scene or bpy.context.scene
    arm, mesh = head_objects(arm_obj)
    clip.validate()
    clip, dropped, missing = clip.with_channels(list(arm[rig.PROP_EXPR]))
    key = mesh.data.shape_keys
    T = clip.num_frames
    frames = frame_start + np.arange(T, dtype=np.float64) * (scene_fps(scene) / clip.fps)

    title = name or (clip.text[0][:50] if clip.text else "") or "TDMM clip"
    action = bpy.data.actions.new(title)
    layered = hasattr(action, "layers")
    if layered:
        arm_slot = action.slots.new("OBJECT", arm.name)
        key_slot = action.slots.new("KEY", key.name)
        strip = action.layers.new("Layer").strips.new(type="KEYFRAME")
        arm_curves = strip.channelbag(arm_slot, ensure=True)
        key_curves = strip.channelbag(key_slot, ensure=True)
        shape_action = action
    else:   # Blender 4.2/4.3: one ID type per action
        action.id_root = "OBJECT"
        shape_action = bpy.data.actions.new(f"{title} Shapes")
        shape_action.id_root = "KEY"
        arm_slot = key_slot = None
        arm_curves, key_curves = action, shape_action

    # Armature: quaternions per joint (sign-continuous), then the root's location.
    quats = engine.rotation.axis_angle_to_quat(clip.pose)                  # [T,5,4]
    for j, bone in enumerate(JOINT_NAMES):
        arm.pose.bones[bone].rotation_mode = "QUATERNION"  # keys on quaternions only act in this mode
        q = engine.rotation.quat_continuity(quats[:, j])
        path = f'pose.bones["{bone}"].rotation_quaternion'
        for i in range(4):
            _new_fcurve(arm_curves, path, i, bone, frames, q[:, i])
    for i in range(3):
        _new_fcurve(arm_curves, f'pose.bones["{ROOT}"].location', i, ROOT, frames, clip.transl[:, i])
    # Shape keys, one curve per head channel (missing ones are zeros from with_channels).
    for k, ch in enumerate(clip.expr_names):
        _new_fcurve(key_curves, f'key_blocks["{ch}"].value', 0, "Expression", frames, clip.expr[:, k])

    for act in {action, shape_action}:
        act[PROP_FPS] = clip.fps
        act[PROP_START] = float(frame_start)
        act[PROP_FRAMES] = T
        act[PROP_TEXT] = list(clip.text)
    kept = _assign(arm, action, arm_slot) + _assign(key, shape_action, key_slot)
    return WriteResult(action=action, shape_action=shape_action,
                       frame_range=(float(frames[0]), float(frames[-1])),
                       dropped=dropped, missing=missing, kept=kept)


def _new_fcurve(curves, data_path, index, group, frames, values):
    """One F-curve with T LINEAR keys, written in bulk.

    `curves` is a Blender 4.4+ channelbag or a legacy action: both have
    .fcurves.new(data_path, index) and groups; only legacy takes the group
    name in fcurves.new.
    """
    if hasattr(curves, "slot"):        # channelbag
        fc = curves.fcurves.new(data_path, index=index)
        grp = curves.groups.get(group) or curves.groups.new(group)
        fc.group = grp
    else:
        fc = curves.fcurves.new(data_path, index=index, action_group=group)
    n = len(frames)
    kp = fc.keyframe_points
    kp.add(n)
    co = np.empty((n, 2), np.float32)
    co[:, 0], co[:, 1] = frames, values
    kp.foreach_set("co", co.ravel())
    # Sampled data is meant to be joined by straight lines; BEZIER (the
    # default) would overshoot between samples.
    kp.foreach_set("interpolation", np.full(n, _linear_enum(kp), np.int32))
    fc.update()
    return fc


def _linear_enum(keyframe_points) -> int:
    """The integer foreach_set wants for interpolation='LINEAR' (RNA enum index)."""
    global _LINEAR
    if _LINEAR is None:
        items = keyframe_points[0].bl_rna.properties["interpolation"].enum_items
        _LINEAR = items["LINEAR"].value
    return _LINEAR


def _assign(id_data, action, slot) -> list[str]:
    """Point `id_data` at `action` (and slot); keep a previous action alive. Returns its name."""
    ad = id_data.animation_data or id_data.animation_data_create()
    old = ad.action
    kept = []
    if old is not None and old != action:
        old.use_fake_user = True        # not lost on save even with no users left
        kept.append(old.name)
    ad.action = action
    if slot is not None:
        ad.action_slot = slot
    return kept


# -- reading --------------------------------------------------------------------
def _assigned_fcurves(id_data) -> dict:
    """{(data_path, index): fcurve} of the action (and slot) assigned to `id_data`."""
    ad = id_data.animation_data
    if ad is None or ad.action is None:
        return {}
    action = ad.action
    if hasattr(action, "layers"):
        slot = ad.action_slot
        if slot is None:
            return {}
        curves = []
        for layer in action.layers:
            for strip in layer.strips:
                bag = strip.channelbag(slot)
                if bag is not None:
                    curves.extend(bag.fcurves)
    else:
        curves = list(action.fcurves)
    return {(fc.data_path, fc.array_index): fc for fc in curves if not fc.mute}


def key_span(arm_obj) -> tuple[float, float]:
    """(first, last) frame of all keys on the head's assigned action(s), or KeysError."""
    arm, mesh = head_objects(arm_obj)
    curves = [*_assigned_fcurves(arm).values(), *_assigned_fcurves(mesh.data.shape_keys).values()]
    if not curves:
        raise KeysError(f"'{arm.name}' has no animation to read: import a motion clip "
                        "(TDMM > Import Motion Clip) or key its bones or shape keys first")
    ranges = np.array([fc.range() for fc in curves])
    return float(ranges[:, 0].min()), float(ranges[:, 1].max())


def _sample(fc, frames: np.ndarray) -> np.ndarray:
    """Values of F-curve `fc` at `frames`, as Blender evaluates them."""
    kp = fc.keyframe_points
    if len(kp) == len(frames) and len(fc.modifiers) == 0:
        co = np.empty(2 * len(kp), np.float32)
        kp.foreach_get("co", co)
        # Keys exactly on the sample frames (what write_clip makes): an
        # F-curve evaluated at a key returns that key's value whatever the
        # interpolation, so read them in bulk.
        if np.allclose(co[0::2], frames, rtol=0, atol=_FRAME_EPS):
            return co[1::2].astype(np.float64)
    return np.array([fc.evaluate(f) for f in frames], np.float64)


def read_clip(arm_obj, fps: float | None = None, frame_range=None, scene=None):
    """Sample the head's animation into a MotionClip.

    fps: default = the fps of the clip that made the action (if written by
    write_clip), else the scene's. frame_range: (first, last) scene frames,
    inclusive; default = the span of all keys. Any interpolation, and keys
    edited by hand, read back as Blender plays them.
    """
    scene = scene or bpy.context.scene
    arm, mesh = head_objects(arm_obj)
    key = mesh.data.shape_keys
    arm_curves, key_curves = _assigned_fcurves(arm), _assigned_fcurves(key)
    if not arm_curves and not key_curves:
        raise KeysError(f"'{arm.name}' has no animation to read: import a motion clip "
                        "(TDMM > Import Motion Clip) or key its bones or shape keys first")
    actions = []
    for o in (arm, key):
        if o.animation_data and o.animation_data.action and o.animation_data.action not in actions:
            actions.append(o.animation_data.action)

    if fps is None:
        fps = next((float(a[PROP_FPS]) for a in actions if PROP_FPS in a), None) or scene_fps(scene)
    if frame_range is None:
        ranges = np.array([fc.range() for fc in (*arm_curves.values(), *key_curves.values())])
        frame_range = (float(ranges[:, 0].min()), float(ranges[:, 1].max()))
    first, last = map(float, frame_range)
    if last < first:
        raise KeysError(f"frame range {first:g}-{last:g} is empty: the last frame must not come before the first")
    step = scene_fps(scene) / fps                     # scene frames per clip frame
    T = int(np.floor((last - first) / step + _FRAME_EPS)) + 1
    frames = first + np.arange(T) * step

    def channel(curves, path, index, static):
        fc = curves.get((path, index))
        return _sample(fc, frames) if fc is not None else np.full(T, float(static))

    pose = np.zeros((T, len(JOINT_NAMES), 3))
    for j, bone in enumerate(JOINT_NAMES):
        pose[:, j] = _bone_axis_angle(arm.pose.bones[bone], arm_curves, channel)
    pb = arm.pose.bones[ROOT]
    transl = np.stack([channel(arm_curves, f'pose.bones["{ROOT}"].location', i, pb.location[i])
                       for i in range(3)], axis=1)

    names = list(arm[rig.PROP_EXPR])
    expr = np.zeros((T, len(names)))
    for k, ch in enumerate(names):
        kb = key.key_blocks.get(ch)
        if kb is None:
            continue    # the user deleted the shape key: the channel is neutral
        # Blender clamps shape-key values to the slider range when it applies them.
        expr[:, k] = np.clip(channel(key_curves, f'key_blocks["{ch}"].value', 0, kb.value),
                             kb.slider_min, kb.slider_max)

    text = next((list(a[PROP_TEXT]) for a in actions if PROP_TEXT in a), [])
    meta = {"source": "blender", "actions": [a.name for a in actions],
            "frame_range": [float(frames[0]), float(frames[-1])]}
    return MotionClip(pose=pose, expr=expr, expr_names=names, fps=fps, transl=transl,
                      text=text, meta=meta).validate()


def _bone_axis_angle(pb, curves, channel) -> np.ndarray:
    """[T,3] axis-angle of one pose bone from its keyed rotation, in whatever mode it is in."""
    base = f'pose.bones["{pb.name}"]'
    mode = pb.rotation_mode
    if mode == "QUATERNION":
        q = np.stack([channel(curves, f"{base}.rotation_quaternion", i, pb.rotation_quaternion[i])
                      for i in range(4)], axis=1)
    elif mode == "AXIS_ANGLE":      # (angle, x, y, z)
        a = np.stack([channel(curves, f"{base}.rotation_axis_angle", i, pb.rotation_axis_angle[i])
                      for i in range(4)], axis=1)
        axis = a[:, 1:] / np.maximum(np.linalg.norm(a[:, 1:], axis=1, keepdims=True), 1e-12)
        q = engine.rotation.axis_angle_to_quat(axis * a[:, :1])
    else:                           # an Euler order such as 'XYZ': let Blender's maths define it
        from mathutils import Euler
        e = np.stack([channel(curves, f"{base}.rotation_euler", i, pb.rotation_euler[i])
                      for i in range(3)], axis=1)
        q = np.array([tuple(Euler(row, mode).to_quaternion()) for row in e])
    if np.any(np.linalg.norm(q, axis=1) < 1e-12):
        raise KeysError(f"bone '{pb.name}' has an all-zero quaternion key; it is not a rotation: "
                        "fix or delete that key")
    return engine.rotation.quat_to_axis_angle(q)
