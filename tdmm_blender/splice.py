"""In-betweening into a copy: the animator's action(s) with a generated bridge spliced between two frames.

    result = splice_clip(arm, bridge, frame_from=10, frame_to=40, name="smile bridge")

`bridge` holds the frames strictly between `frame_from` and `frame_to` (one per scene frame:
frame_from + 1 ... ), as Engine.generate(continue_from=<up to frame_from>, until=<from
frame_to>) makes them. The head's assigned action(s) are COPIED and only the copies change,
so the animator's original action is never touched (it stays in the file with a fake user):

- every key of the animator's outside the range stays as it was, with its handles,
  interpolation and the curve's modifiers and extrapolation;
- keys strictly inside the range are replaced by the bridge (LINEAR keys, one per frame);
- where a channel has no key exactly at frame_from or frame_to, one is added there with the
  value Blender plays at that frame, so both ends show the animator's poses exactly;
- channels the animator never keyed get keys too (their resting value at both ends, the bridge
  in between), because the generated motion moves them.

Rotations are keyed in each bone's own rotation mode (quaternion signs chosen to continue
the animator's key at frame_from; Euler angles kept compatible with it). The model makes no
root translation and may lack some of the head's channels: those are blended linearly from the
value at frame_from to the one at frame_to instead of jumping to zero.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import bpy
import numpy as np

from . import keys, rig
from ._deps import engine

_EPS = 1e-4                     # frames: two times this close are the same frame


@dataclass
class SpliceResult:
    action: bpy.types.Action                    # the copy now on the armature
    shape_action: bpy.types.Action              # the copy on the shape keys (the same one when shared)
    frame_range: tuple[float, float]            # the bridge's first and last frame
    kept: list[str] = field(default_factory=list)       # the originals, un-assigned and kept
    missing: list[str] = field(default_factory=list)    # head channels the bridge lacked (blended)


def selected_key_span(arm_obj) -> tuple[float, float] | None:
    """(first, last) frame of the selected keys on the head's assigned curves, when they span
    two frames or more; else None."""
    arm, mesh = keys.head_objects(arm_obj)
    times = []
    for curves in (keys._assigned_fcurves(arm), keys._assigned_fcurves(mesh.data.shape_keys)):
        for fc in curves.values():
            kp = fc.keyframe_points
            if len(kp) == 0:
                continue
            co = np.empty(2 * len(kp), np.float32)
            sel = np.empty(len(kp), bool)
            kp.foreach_get("co", co)
            kp.foreach_get("select_control_point", sel)
            times.extend(co[0::2][sel].tolist())
    if not times or max(times) - min(times) < 1 - _EPS:
        return None
    return float(min(times)), float(max(times))


def assigned(arm_obj) -> list[tuple[str | None, str | None]]:
    """(action name, slot identifier) on the head's armature and on its shape keys, each None
    when nothing is assigned: what to copy later, even after other actions were assigned."""
    arm, mesh = keys.head_objects(arm_obj)
    out = []
    for idb in (arm, mesh.data.shape_keys):
        ad = idb.animation_data
        act = ad.action if ad else None
        slot = getattr(ad, "action_slot", None) if act else None
        out.append((act.name if act else None, slot.identifier if slot else None))
    return out


def splice_clip(arm_obj, bridge, frame_from: float, frame_to: float, name: str, sources=None) -> SpliceResult:
    """See the module's docstring. `sources` (from assigned()) names the actions to copy;
    default: what is assigned now."""
    arm, mesh = keys.head_objects(arm_obj)
    key = mesh.data.shape_keys
    n = bridge.num_frames
    frames = frame_from + 1 + np.arange(n, dtype=np.float64)
    if frames[-1] > frame_to - 1 + _EPS:
        raise keys.KeysError(f"the bridge has {n} frames; only {int(frame_to - frame_from - 1)} fit between "
                             f"frames {frame_from:g} and {frame_to:g}")
    bridge, _dropped, missing = bridge.with_channels(list(arm[rig.PROP_EXPR]))

    # Copy what is assigned (one copy per distinct action): the originals stay as they are.
    copies: dict = {}
    targets = []                                  # (id, original action or None, original slot)
    for idb, (act_name, slot_id) in zip((arm, key), sources or assigned(arm)):
        act = bpy.data.actions.get(act_name) if act_name else None
        if act_name and act is None:
            raise keys.KeysError(f"the action '{act_name}' was deleted while the engine worked: try again")
        slot = next((s for s in getattr(act, "slots", ()) if s.identifier == slot_id), None) if act else None
        targets.append((idb, act, slot))
        if act is not None and act.name not in copies:
            c = act.copy()
            c.name = name if not copies else f"{name} Shapes"
            c.use_fake_user = False               # the copy is in use; the original keeps its fake user
            copies[act.name] = c
    if not copies:
        raise keys.KeysError(f"'{arm.name}' has no animation to in-between: key the poses at both ends first")
    first_copy = next(iter(copies.values()))
    plan = []                                     # (id, copied action, slot in the copy)
    for idb, act, slot in targets:
        if act is None:                           # e.g. only bones keyed: the shape keys get a slot too
            plan.append((idb, first_copy, _new_slot(first_copy, idb)))
        else:
            copy = copies[act.name]
            same = _same_slot(copy, slot)
            # an action assigned without a slot animates nothing of this ID yet: give it one
            plan.append((idb, copy, same if same is not None or not hasattr(copy, "slots") else _new_slot(copy, idb)))

    (arm_id, arm_act, arm_slot), (key_id, key_act, key_slot) = plan
    arm_curves, key_curves = _Curves(arm_act, arm_slot), _Curves(key_act, key_slot)
    t_blend = (np.arange(1, n + 1) / (n + 1))     # 0..1 strictly inside, for the blended channels
    for j, bone in enumerate(keys.JOINT_NAMES):
        pb = arm.pose.bones[bone]
        for path, index, values, static in _rotation_channels(pb, bridge.pose[:, j], arm_curves, frame_from):
            arm_curves.splice(path, index, bone, frames, values, frame_from, frame_to, static)
    for i in range(3):
        path = f'pose.bones["{keys.ROOT}"].location'
        static = arm.pose.bones[keys.ROOT].location[i]
        va, vb = (arm_curves.value(path, i, f, static) for f in (frame_from, frame_to))
        arm_curves.splice(path, i, keys.ROOT, frames, va + (vb - va) * t_blend, frame_from, frame_to, static)
    lacking = set(missing)
    for k, ch in enumerate(bridge.expr_names):
        kb = key.key_blocks.get(ch)
        if kb is None:
            continue                              # the user deleted that shape key
        path = f'key_blocks["{ch}"].value'
        values = bridge.expr[:, k].astype(np.float64)
        if ch in lacking:
            va, vb = (key_curves.value(path, 0, f, kb.value) for f in (frame_from, frame_to))
            values = va + (vb - va) * t_blend
        key_curves.splice(path, 0, "Expression", frames, values, frame_from, frame_to, kb.value)

    for act in {arm_act, key_act}:
        act["tdmm_inbetween"] = [float(frame_from), float(frame_to)]
        act["tdmm_source"] = [a.name for _, a, _ in targets if a is not None]
    kept = keys._assign(arm_id, arm_act, arm_slot) + keys._assign(key_id, key_act, key_slot)
    return SpliceResult(action=arm_act, shape_action=key_act, frame_range=(float(frames[0]), float(frames[-1])),
                        kept=sorted(set(kept)), missing=missing)


# -- slots --------------------------------------------------------------------------------------
def _same_slot(copy, slot):
    """The copy's slot that corresponds to `slot` of the original (slots keep their identifiers)."""
    if slot is None or not hasattr(copy, "slots"):
        return None
    return next((s for s in copy.slots if s.identifier == slot.identifier), None)


def _new_slot(action, idb):
    if not hasattr(action, "slots"):
        raise keys.KeysError(f"'{idb.name}' has no action of its own; on this Blender version key it once first")
    return action.slots.new(idb.id_type, idb.name)


# -- curves -------------------------------------------------------------------------------------
class _Curves:
    """The F-curves of one slot of a (copied) action: find, create, evaluate, splice."""

    def __init__(self, action, slot):
        self.action, self.slot = action, slot
        self._bag = None

    def find(self, path: str, index: int):
        if self.slot is None:                                       # legacy action
            return self.action.fcurves.find(path, index=index)
        for layer in self.action.layers:
            for strip in layer.strips:
                bag = strip.channelbag(self.slot)
                fc = bag.fcurves.find(path, index=index) if bag is not None else None
                if fc is not None:
                    return fc
        return None

    def create(self, path: str, index: int, group: str):
        if self.slot is None:
            return self.action.fcurves.new(path, index=index, action_group=group)
        if self._bag is None:
            layer = self.action.layers[0] if len(self.action.layers) else self.action.layers.new("Layer")
            strip = layer.strips[0] if len(layer.strips) else layer.strips.new(type="KEYFRAME")
            self._bag = strip.channelbag(self.slot, ensure=True)
        fc = self._bag.fcurves.new(path, index=index)
        fc.group = self._bag.groups.get(group) or self._bag.groups.new(group)
        return fc

    def value(self, path: str, index: int, frame: float, static: float) -> float:
        """What Blender plays for this channel at `frame` (its resting value when not keyed)."""
        fc = self.find(path, index)
        return float(fc.evaluate(frame)) if fc is not None and not fc.mute else float(static)

    def splice(self, path, index, group, frames, values, frame_from, frame_to, static) -> None:
        """Replace the keys strictly inside (frame_from, frame_to) by LINEAR keys at `frames`,
        first pinning both ends to the values played there."""
        fc = self.find(path, index)
        if fc is None:
            fc = self.create(path, index, group)
            ends = [(frame_from, static), (frame_to, static)]
            after_interp, frozen = None, []
        else:
            kp = fc.keyframe_points
            times = np.array([k.co[0] for k in kp])
            ends = [(f, fc.evaluate(f)) for f in (frame_from, frame_to)
                    if not np.any(np.abs(times - f) < _EPS)]
            frozen = [_freeze(kp[int(i)]) for i in np.nonzero((np.abs(times - frame_from) < _EPS)
                                                              | (np.abs(times - frame_to) < _EPS))[0]]
            # An added key at frame_to takes over the stretch after it: give it the interpolation
            # of the animator's key that governed that stretch.
            before_to = np.nonzero(times < frame_to - _EPS)[0]
            after_interp = kp[int(before_to[-1])].interpolation if len(before_to) else None
            for i in sorted(np.nonzero((times > frame_from + _EPS) & (times < frame_to - _EPS))[0], reverse=True):
                kp.remove(kp[int(i)], fast=True)
        kp = fc.keyframe_points
        old = len(kp)
        new = [(float(f), float(v)) for f, v in zip(frames, values)] + [(float(f), float(v)) for f, v in ends]
        kp.add(len(new))
        for k, (f, v) in zip(list(kp)[old:], new):
            k.co = (f, v)
            k.handle_left = (f - 0.3, v)
            k.handle_right = (f + 0.3, v)
            k.interpolation = "LINEAR"
            # unselected: a selection stays the animator's (In-between reads it as its range)
            k.select_control_point = k.select_left_handle = k.select_right_handle = False
            if after_interp is not None and abs(f - frame_to) < _EPS:
                k.interpolation = after_interp
        fc.update()                                                  # sorts the keys, sets auto handles
        for f, restore in frozen:
            restore(next(k for k in fc.keyframe_points if abs(k.co[0] - f) < _EPS))


def _freeze(k):
    """(frame, restore) for the animator's key at a range end. Automatic and vector handles
    follow the neighbouring keys, and the neighbour inside the range is now the bridge: made
    FREE at their old positions, the handles keep the curve outside the range as it was."""
    types, left, right = (k.handle_left_type, k.handle_right_type), tuple(k.handle_left), tuple(k.handle_right)

    def restore(key):
        key.handle_left_type, key.handle_right_type = (
            "FREE" if t in ("AUTO", "AUTO_CLAMPED", "VECTOR") else t for t in types)
        key.handle_left, key.handle_right = left, right
    return float(k.co[0]), restore


def _rotation_channels(pb, axis_angle: np.ndarray, curves: _Curves, frame_from: float):
    """(data path, index, values, resting value) of a bone's rotation over the bridge, in the
    bone's rotation mode, continuing its rotation at frame_from (quaternion sign, Euler branch)."""
    base = f'pose.bones["{pb.name}"]'
    mode = pb.rotation_mode
    q = engine.rotation.quat_continuity(engine.rotation.axis_angle_to_quat(axis_angle))     # [n,4] wxyz
    if mode == "QUATERNION":
        path = f"{base}.rotation_quaternion"
        at = np.array([curves.value(path, i, frame_from, pb.rotation_quaternion[i]) for i in range(4)])
        if float(q[0] @ at) < 0:              # q and -q are the same rotation: keep the short way round
            q = -q
        return [(path, i, q[:, i], pb.rotation_quaternion[i]) for i in range(4)]
    if mode == "AXIS_ANGLE":                  # (angle, x, y, z)
        path = f"{base}.rotation_axis_angle"
        aa = np.asarray(engine.rotation.quat_to_axis_angle(q), np.float64)
        angle = np.linalg.norm(aa, axis=1)
        axis = np.where(angle[:, None] > 1e-8, aa / np.maximum(angle, 1e-12)[:, None], [0.0, 1.0, 0.0])
        vals = np.concatenate([angle[:, None], axis], axis=1)
        return [(path, i, vals[:, i], pb.rotation_axis_angle[i]) for i in range(4)]
    from mathutils import Euler, Quaternion
    path = f"{base}.rotation_euler"
    prev = Euler([curves.value(path, i, frame_from, pb.rotation_euler[i]) for i in range(3)], mode)
    rows = []
    for row in q:
        prev = Quaternion(row).to_euler(mode, prev)         # compatible with the previous angles
        rows.append(tuple(prev))
    vals = np.array(rows)
    return [(path, i, vals[:, i], pb.rotation_euler[i]) for i in range(3)]
