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


CLASSES = (VIEW3D_PT_tdmm,)


register, unregister = bpy.utils.register_classes_factory(CLASSES)   # unregisters in reverse order
