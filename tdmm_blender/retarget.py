"""Retarget: copy the TDMM head's animation onto another mesh's ARKit-named shape keys.

The head's assigned action(s) are sampled with keys.read_clip (so hand edits
and any interpolation come across as Blender plays them), engine.arkit_map
decides which value goes on which target shape key (names matched loosely,
jaw and eye rotations turned into jawOpen / eyeLook*), and the result is
keyed as ONE NEW action on the target's shape-key datablock, on the same
frames the head's keys play on. Nothing existing is modified: the source
action is only read, and an action already on the target's shape keys is
un-assigned but kept with a fake user (keys._assign), as write_clip does.

As in operators.py, numpy, the engine and keys load on first use, not when
the add-on is enabled.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module

import bpy


def _arkit_map():
    # _deps loads only the engine modules every part needs; this one is ours alone.
    from ._deps import engine
    return import_module(f"{engine.__name__}.arkit_map")


class RetargetError(ValueError):
    """The source is not an animated TDMM head, or the target has no shape keys to key."""


@dataclass
class RetargetResult:
    action: bpy.types.Action
    plan: object                                  # engine.arkit_map.Retarget
    frame_range: tuple[float, float]
    kept: list[str] = field(default_factory=list)  # actions un-assigned from the target, kept with a fake user

    def message(self) -> str:
        s = f"Retargeted onto '{self.action.name}' ({self.plan.message()})"
        if self.kept:
            s += f"; previous action(s) kept (fake user): {', '.join(self.kept)}"
        return s


def target_key_names(mesh_obj) -> list[str]:
    """The target's shape keys, without its rest ('Basis') key, or RetargetError."""
    if mesh_obj is None or mesh_obj.type != "MESH":
        what = f"'{mesh_obj.name}'" if mesh_obj is not None else "nothing"
        raise RetargetError(f"target {what} is not a mesh: select a mesh with ARKit-named shape keys")
    key = mesh_obj.data.shape_keys
    names = [kb.name for kb in key.key_blocks if kb != key.reference_key] if key else []
    if not names:
        raise RetargetError(f"target '{mesh_obj.name}' has no shape keys besides its rest key: "
                            "give it ARKit-named shape keys (jawOpen, eyeBlinkLeft ...)")
    return names


def retarget(arm_obj, target_obj, name: str | None = None, map_jaw: bool = True, map_eyes: bool = True,
             scene=None) -> RetargetResult:
    """Key the head's animation onto `target_obj`'s shape keys as a new action."""
    import numpy as np

    from . import keys, rig
    arkit_map = _arkit_map()
    scene = scene or bpy.context.scene
    arm, _mesh = keys.head_objects(arm_obj)
    if rig.head_parts(target_obj) is not None:
        raise RetargetError(f"target '{target_obj.name}' is a TDMM head: select another character's mesh")
    names = target_key_names(target_obj)
    clip = keys.read_clip(arm, scene=scene)      # KeysError (a ValueError) when nothing is animated
    plan = arkit_map.retarget(clip, names, map_jaw=map_jaw, map_eyes=map_eyes)
    if not plan.values:
        raise RetargetError(f"no shape key of '{target_obj.name}' matches a channel of '{arm.name}' "
                            f"(tried {len(names)} keys, e.g. {', '.join(names[:3])}): "
                            "rename them to ARKit names such as jawOpen or eyeBlinkLeft")

    # The keys land where the head's sampled frames are, so both play in step.
    first = clip.meta["frame_range"][0]
    frames = first + np.arange(clip.num_frames, dtype=np.float64) * (keys.scene_fps(scene) / clip.fps)

    key = target_obj.data.shape_keys
    src = arm.animation_data.action if arm.animation_data and arm.animation_data.action else None
    title = name or f"{src.name if src else arm.name} -> {target_obj.name}"
    action = bpy.data.actions.new(title)
    if hasattr(action, "layers"):               # Blender 4.4+: a slot for the shape-key datablock
        slot = action.slots.new("KEY", key.name)
        curves = action.layers.new("Layer").strips.new(type="KEYFRAME").channelbag(slot, ensure=True)
    else:                                       # legacy actions: one ID type per action
        action.id_root = "KEY"
        slot, curves = None, action
    for kb_name in names:                       # the target's own order, for a tidy channel list
        if kb_name in plan.values:
            keys._new_fcurve(curves, f'key_blocks["{kb_name}"].value', 0, "Retarget", frames,
                             plan.values[kb_name])
    action[keys.PROP_FPS] = clip.fps
    action[keys.PROP_START] = float(frames[0])
    action[keys.PROP_FRAMES] = clip.num_frames
    action[keys.PROP_TEXT] = list(clip.text)
    kept = keys._assign(key, action, slot)
    return RetargetResult(action=action, plan=plan, frame_range=(float(frames[0]), float(frames[-1])),
                          kept=kept)


def _split_selection(context):
    """(head armature, target mesh) from the selection, or RetargetError saying what to select."""
    from . import rig
    heads, targets = [], []
    for o in context.selected_objects:
        parts = rig.head_parts(o)
        if parts is not None:
            if parts[0] not in heads:
                heads.append(parts[0])
        elif o.type == "MESH":
            targets.append(o)
    active = rig.head_parts(context.active_object)
    if active is not None:
        heads = [active[0]]
    if len(heads) != 1:
        raise RetargetError(f"select exactly one TDMM head as the source ({len(heads)} selected)")
    if len(targets) != 1:
        raise RetargetError(f"select exactly one other mesh with ARKit shape keys as the target "
                            f"({len(targets)} selected)")
    return heads[0], targets[0]


class TDMM_OT_retarget(bpy.types.Operator):
    """Copy the selected TDMM head's animation onto another selected mesh's ARKit-named shape keys, as a new action"""
    bl_idname = "tdmm.retarget"
    bl_label = "Retarget to ARKit Mesh"
    bl_options = {"REGISTER", "UNDO"}

    map_jaw: bpy.props.BoolProperty(
        name="Jaw to jawOpen", default=True,
        description="Key jawOpen from the jaw rotation where the clip has no jawOpen motion of its own")
    map_eyes: bpy.props.BoolProperty(
        name="Eyes to eyeLook*", default=True,
        description="Key eyeLookUp/Down/In/Out from the eye rotations where the clip has none of its own")

    @classmethod
    def poll(cls, context):
        if context.mode != "OBJECT":
            cls.poll_message_set("Switch to Object Mode first")
            return False
        return True

    def execute(self, context):
        from . import keys
        from ._deps import engine
        try:
            arm, target = _split_selection(context)
            result = retarget(arm, target, map_jaw=self.map_jaw, map_eyes=self.map_eyes, scene=context.scene)
        except (RetargetError, keys.KeysError, engine.errors.InputError) as e:
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        unmatched = result.plan.unmatched_channels or result.plan.unkeyed_targets
        self.report({"WARNING"} if unmatched else {"INFO"}, result.message())
        return {"FINISHED"}


CLASSES = (TDMM_OT_retarget,)

register, unregister = bpy.utils.register_classes_factory(CLASSES)
