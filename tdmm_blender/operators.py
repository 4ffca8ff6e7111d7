"""Operators: add a head, import a motion clip onto it, export its animation.

Heavy imports (numpy, engine, rig, keys) happen inside execute(), so that
enabling the add-on costs nothing until a button is pressed. Every failure the
user can fix is reported with self.report and the operator is cancelled
(which also leaves nothing half-done on the undo stack). Import and export
poll for a selected head and say why through poll_message_set: the UI shows it
on the greyed button, and bpy.ops puts it in the RuntimeError scripts see.
"""
from __future__ import annotations

import os
import warnings

import bpy
from bpy.props import BoolProperty, IntProperty, StringProperty
from bpy_extras.io_utils import ExportHelper, ImportHelper

SELECT_HEAD = "Select the head armature built by TDMM (or its mesh)"


def _active_head(context):
    """(armature, mesh) of the active object's head, or None."""
    from . import rig
    return rig.head_parts(context.active_object)


def _head_poll(cls, context) -> bool:
    if context.mode.startswith("EDIT"):    # edit data is not written back until Edit Mode ends
        cls.poll_message_set("Leave Edit Mode first")
        return False
    if _active_head(context) is None:
        cls.poll_message_set(SELECT_HEAD)
        return False
    return True


class TDMM_OT_add_head(bpy.types.Operator):
    """Add a rigged FLAME-layout head (the bundled default head, or a FLAME model file)"""
    bl_idname = "tdmm.add_head"
    bl_label = "Add TDMM Head"
    bl_options = {"REGISTER", "UNDO"}

    filepath: StringProperty(name="Head File", subtype="FILE_PATH", default="",
                             description="FLAME-format head (.safetensors, .npz or .pkl); empty = the default head")
    filter_glob: StringProperty(default="*.safetensors;*.npz;*.pkl", options={"HIDDEN"})
    use_file: BoolProperty(name="Choose File", default=False, options={"HIDDEN", "SKIP_SAVE"},
                           description="Open the file browser to pick a head file")

    def invoke(self, context, event):
        if self.use_file:
            context.window_manager.fileselect_add(self)
            return {"RUNNING_MODAL"}
        return self.execute(context)

    def execute(self, context):
        from . import rig
        from ._deps import engine

        path = bpy.path.abspath(self.filepath) if self.filepath else None
        if path is None and not engine.head.default_head_path().exists():
            self.report({"ERROR"}, f"The default head is not installed ({engine.head.default_head_path()}): "
                                   "use 'Add Head from File' with a FLAME model file")
            return {"CANCELLED"}
        try:
            head = engine.head.load_head(path)
            name = "TDMM Head" if path is None else os.path.splitext(os.path.basename(path))[0]
            arm = rig.build_head_object(head, name=name)
        except (engine.head.HeadError, rig.RigError, OSError) as e:
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        arm.location = context.scene.cursor.location
        self.report({"INFO"}, f"Added '{arm.name}' with {head.num_expr} expression channels")
        return {"FINISHED"}


class TDMM_OT_import_clip(bpy.types.Operator, ImportHelper):
    """Key a motion clip (.npz) onto the selected TDMM head as a new action"""
    bl_idname = "tdmm.import_clip"
    bl_label = "Import Motion Clip"
    bl_options = {"REGISTER", "UNDO"}

    filename_ext = ".npz"
    filter_glob: StringProperty(default="*.npz", options={"HIDDEN"})
    frame_start: IntProperty(name="Start Frame", default=1, description="Scene frame of the clip's first frame")
    fit_scene_range: BoolProperty(name="Fit Scene Range", default=True,
                                  description="Set the scene's start/end frames to the clip")

    @classmethod
    def poll(cls, context):
        return _head_poll(cls, context)

    def invoke(self, context, event):
        self.frame_start = context.scene.frame_start
        return ImportHelper.invoke(self, context, event)

    def execute(self, context):
        from . import keys
        from ._deps import engine

        arm, _mesh = _active_head(context)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", engine.clip.ClipWarning)
                clip = engine.clip.MotionClip.load(self.filepath)
            name = clip.text[0][:50] if clip.text else os.path.splitext(os.path.basename(self.filepath))[0]
            result = keys.write_clip(arm, clip, name=name, frame_start=self.frame_start, scene=context.scene)
        except (engine.clip.ClipError, keys.KeysError) as e:
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        for w in caught:
            self.report({"WARNING"}, str(w.message))
        if self.fit_scene_range:
            context.scene.frame_start = int(result.frame_range[0])
            context.scene.frame_end = int(-(-result.frame_range[1] // 1))   # ceil
        level = "WARNING" if result.dropped or result.missing else "INFO"
        self.report({level}, result.message())
        return {"FINISHED"}


class TDMM_OT_export_clip(bpy.types.Operator, ExportHelper):
    """Save the selected TDMM head's animation as a motion clip (.npz) at the scene frame rate"""
    bl_idname = "tdmm.export_clip"
    bl_label = "Export Motion Clip"
    bl_options = {"REGISTER", "UNDO"}

    filename_ext = ".npz"
    filter_glob: StringProperty(default="*.npz", options={"HIDDEN"})
    use_scene_range: BoolProperty(name="Scene Frame Range", default=False,
                                  description="Export the scene's start..end frames instead of the keyed span")

    @classmethod
    def poll(cls, context):
        return _head_poll(cls, context)

    def execute(self, context):
        from . import keys
        from ._deps import engine

        scene = context.scene
        try:
            arm, _mesh = keys.head_objects(context.active_object)
            rng = (scene.frame_start, scene.frame_end) if self.use_scene_range else None
            clip = keys.read_clip(arm, fps=keys.scene_fps(scene), frame_range=rng, scene=scene)
            path = clip.save(bpy.path.abspath(self.filepath))
        except (engine.clip.ClipError, keys.KeysError) as e:
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        self.report({"INFO"}, f"Saved {clip.num_frames} frames at {clip.fps:g} fps to {path}")
        return {"FINISHED"}


CLASSES = (TDMM_OT_add_head, TDMM_OT_import_clip, TDMM_OT_export_clip)


register, unregister = bpy.utils.register_classes_factory(CLASSES)   # unregisters in reverse order
