"""The sidebar panel: View3D > Sidebar (N) > TDMM."""
from __future__ import annotations

import bpy


class VIEW3D_PT_tdmm(bpy.types.Panel):
    bl_label = "TDMM Face"
    bl_idname = "VIEW3D_PT_tdmm"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "TDMM"

    def draw(self, context):
        from . import rig  # cheap once loaded; keeps add-on enabling light

        layout = self.layout
        col = layout.column(align=True)
        col.operator("tdmm.add_head", icon="MONKEY")
        op = col.operator("tdmm.add_head", text="Add Head from File...", icon="FILE_FOLDER")
        op.use_file = True

        parts = rig.head_parts(context.active_object)
        box = layout.box()
        if parts is None:
            box.label(text="Select a TDMM head", icon="INFO")
        else:
            arm, mesh = parts
            box.label(text=arm.name, icon="ARMATURE_DATA")
            box.label(text=f"{len(arm[rig.PROP_EXPR])} expression channels")
            ad = arm.animation_data
            box.label(text=f"Action: {ad.action.name}" if ad and ad.action else "Not animated",
                      icon="ACTION")

        col = layout.column(align=True)
        col.operator("tdmm.import_clip", icon="IMPORT")
        col.operator("tdmm.export_clip", icon="EXPORT")
        # Source = the active head, target = one other selected mesh (see retarget.py).
        col.operator("tdmm.retarget", icon="SHAPEKEY_DATA")
        _draw_engine(layout, context, parts)
        _draw_batch(layout, context)


def _draw_engine(layout, context, parts):
    """A minimal engine section: its state, Generate's settings, Caption / Ask and their text."""
    from . import engine_ops

    box = layout.box()
    state = engine_ops.state_text()
    icon = "ERROR" if state.startswith("error") else "CHECKMARK" if state == "ready" else "TIME"
    _wrapped(box, f"Engine: {state}", icon)
    hint = engine_ops.setup_hint(context)
    if hint:
        _wrapped(box, hint, "INFO")
    s = context.scene.tdmm_engine
    box.prop(s, "prompt", text="")
    row = box.row(align=True)
    row.prop(s, "seconds")
    row.prop(s, "seed")
    row = box.row(align=True)
    row.prop(s, "variations")
    row.prop(s, "guidance")
    box.operator("tdmm.generate", icon="PLAY")
    row = box.row(align=True)
    row.operator("tdmm.continue_action", icon="FF")
    row.operator("tdmm.inbetween", icon="ARROW_LEFTRIGHT")
    if context.scene.use_preview_range:
        box.label(text=f"In-between: frames {context.scene.frame_preview_start}-{context.scene.frame_preview_end}",
                  icon="PREVIEW_RANGE")
    else:
        box.label(text="In-between: set a preview range or select keys", icon="INFO")
    row = box.row(align=True)
    row.operator("tdmm.caption", icon="TEXT")
    row.operator("tdmm.ask", icon="QUESTION")
    box.prop(s, "question", text="")
    action = parts[0].animation_data.action if parts and parts[0].animation_data else None
    if action is not None:
        if engine_ops.PROP_CAPTION in action:
            _wrapped(box, str(action[engine_ops.PROP_CAPTION]), "TEXT")
        if engine_ops.PROP_ANSWER in action:
            _wrapped(box, f"Q: {action[engine_ops.PROP_QUESTION]}", "QUESTION")
            _wrapped(box, f"A: {action[engine_ops.PROP_ANSWER]}", "BLANK1")


def _draw_batch(layout, context):
    """Batch Bake: a prompt file or a Text datablock, and the running batch's progress."""
    from . import batch_ops

    box = layout.box()
    box.label(text="Batch Bake", icon="RENDER_ANIMATION")
    b = context.scene.tdmm_batch
    box.prop(b, "filepath", text="")
    box.prop(b, "text", text="Text")
    progress = batch_ops.progress_text()
    if progress:
        box.label(text=f"{progress} (Esc cancels)", icon="TIME")
    box.operator("tdmm.batch_bake", icon="RENDER_ANIMATION")


def _wrapped(layout, text: str, icon: str, width: int = 42) -> None:
    """Labels do not wrap: split long text into lines of about `width` characters."""
    import textwrap
    for i, line in enumerate(textwrap.wrap(text, width) or [""]):
        layout.label(text=line, icon=icon if i == 0 else "BLANK1")


CLASSES = (VIEW3D_PT_tdmm,)


register, unregister = bpy.utils.register_classes_factory(CLASSES)   # unregisters in reverse order
