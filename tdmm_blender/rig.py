"""Build a rigged FLAME-layout head in the scene: armature + skinned mesh.

Conventions (docs/ARCHITECTURE.md, "The head"):
- Clip values stay in FLAME's frame (metres, y up, face looks +z, x = the
  character's left). The ARMATURE OBJECT carries the conversion to Blender's
  z-up world: rotation_euler = (pi/2, 0, 0) maps FLAME +y (up) to Blender +z
  and FLAME +z (forward) to Blender -y, the direction Blender's front view
  looks from, so Numpad 1 shows the face.
- Armature space == FLAME space. Each bone's head sits at its FLAME joint
  (J = J_regressor @ v_template) and its rest orientation is the identity
  (tail straight up +y, roll 0), so a pose bone's local rotation IS the
  FLAME joint's local rotation: the clip's axis-angle is keyed as a
  quaternion with no change of basis. The mesh object is parented to the
  armature with an identity transform, so its vertices are in FLAME space too.
- Shape keys: "Basis" + one key per expression channel, named exactly as the
  channel. FLAME's pose correctives (posedirs, linear in the entries of
  R - I of the neck, jaw and eyes) become one shape key per non-zero column,
  driven by the bone's quaternion through a simple driver expression, which
  Blender evaluates without Python (no auto-run of scripts needed).

One difference from smplx's FLAME remains: FLAME regresses the joints from the
expression-shaped vertices, Blender bones sit at fixed rest positions. With a
pose, a joint that an expression moves by d shifts the surface by (I - R) d.
On our default head J_regressor @ exprdirs is exactly zero (expressions never
move the joints), so there the rig is exact; other FLAME models may differ.
"""
from __future__ import annotations

import math

import bpy
import numpy as np

from ._deps import engine

JOINT_NAMES = engine.head.JOINT_NAMES
PARTS = engine.head.PARTS

# Custom properties on the armature object that mark "one of our heads".
PROP_HEAD = "tdmm_head"                 # head name (str)
PROP_EXPR = "tdmm_expr_names"           # expression channel names, in the head's order
PROP_MESH = "tdmm_mesh"                 # the skinned mesh object (ID pointer)
PROP_CORRECTIVES = "tdmm_correctives"   # names of the driven pose-corrective shape keys

EXPR_RANGE = (-engine.clip.MAX_EXPR, engine.clip.MAX_EXPR)    # the clip validator's limit on |expr|
CORRECTIVE_RANGE = (-2.0, 2.0)  # entries of R - I lie in [-2, 2]

# Viewport/render colours per part (linear RGBA): a readable preview, not a look.
PART_COLOURS = {
    "skin": (0.80, 0.55, 0.45, 1.0),
    "eyes": (0.90, 0.90, 0.88, 1.0),
    "teeth": (0.95, 0.93, 0.85, 1.0),
    "tongue": (0.70, 0.25, 0.28, 1.0),
}

# Entries of (R - I) from a quaternion (w, x, y, z) of any length n2 = |q|^2:
# Blender normalises bone quaternions before use, and keys interpolated per
# component are not unit length, so the drivers divide by n2 too.
_R_MINUS_I = (
    ("-2*(y*y+z*z)/n2", "2*(x*y-w*z)/n2", "2*(x*z+w*y)/n2"),
    ("2*(x*y+w*z)/n2", "-2*(x*x+z*z)/n2", "2*(y*z-w*x)/n2"),
    ("2*(x*z-w*y)/n2", "2*(y*z+w*x)/n2", "-2*(x*x+y*y)/n2"),
)


class RigError(ValueError):
    """The head cannot be turned into a rig (bad names, wrong mode ...)."""


def corrective_name(joint: str, row: int, col: int) -> str:
    """Shape key name of posedirs column (joint, R row, R column)."""
    return f"pose.{joint}.R{row}{col}"


def build_head_object(head, name: str = "TDMM Head", collection=None) -> bpy.types.Object:
    """Add `head` (an engine HeadModel) to the scene; returns the ARMATURE object.

    The mesh is a child of the armature, deformed by an Armature modifier.
    The new armature ends up the active, selected object.
    """
    head.validate()
    _check_names(head)
    collection = collection or bpy.context.collection or bpy.context.scene.collection
    head_name = str(head.meta.get("name") or head.meta.get("source") or name)

    J = (head.J_regressor @ head.v_template).astype(np.float64)      # [5,3] rest joints
    arm_obj = _build_armature(J, head.v_template, name, collection)
    mesh_obj = _build_mesh(head, name, collection)
    mesh_obj.parent = arm_obj                 # identity parent inverse: mesh space == armature space
    mod = mesh_obj.modifiers.new("Armature", "ARMATURE")
    mod.object = arm_obj
    mod.use_vertex_groups = True
    mod.use_bone_envelopes = False
    mod.use_deform_preserve_volume = False    # plain linear blend skinning, as FLAME
    correctives = _add_correctives(head, mesh_obj, arm_obj)

    arm_obj[PROP_HEAD] = head_name
    arm_obj[PROP_EXPR] = list(head.expr_names)
    arm_obj[PROP_MESH] = mesh_obj
    arm_obj[PROP_CORRECTIVES] = correctives
    return arm_obj


def _check_names(head) -> None:
    for n in head.expr_names:
        if n == "Basis":
            raise RigError("an expression channel is called 'Basis', the name of the rest shape key; rename it")
        if len(n.encode()) > 63:
            raise RigError(f"expression channel name '{n[:20]}...' is longer than Blender's 63-byte name limit")


def _build_armature(J, verts, name, collection) -> bpy.types.Object:
    arm = bpy.data.armatures.new(f"{name} Rig")
    arm.display_type = "STICK"
    arm_obj = bpy.data.objects.new(name, arm)
    collection.objects.link(arm_obj)
    arm_obj.rotation_euler = (math.pi / 2, 0.0, 0.0)   # FLAME y-up -> Blender z-up
    arm_obj.show_in_front = True                        # bones stay visible inside the face

    # Bone lengths only affect display; scale them to the head so they are visible.
    extent = float(np.ptp(verts, axis=0).max()) or 1.0
    lengths = {"global": 0.25, "neck": 0.2, "jaw": 0.15, "eye_left": 0.06, "eye_right": 0.06}

    # Edit bones exist only in edit mode, which needs this object active.
    view_layer = bpy.context.view_layer
    if bpy.context.mode != "OBJECT":
        bpy.ops.object.mode_set(mode="OBJECT")
    for o in view_layer.objects.selected:
        o.select_set(False)
    view_layer.objects.active = arm_obj
    arm_obj.select_set(True)
    bpy.ops.object.mode_set(mode="EDIT")
    try:
        parents = engine.head.FLAME_PARENTS
        bones = []
        for i, jname in enumerate(JOINT_NAMES):
            b = arm.edit_bones.new(jname)
            b.head = J[i]
            # Tail along +y with roll 0 gives the identity rest orientation.
            b.tail = J[i] + np.array([0.0, lengths[jname] * extent, 0.0])
            b.roll = 0.0
            b.use_connect = False
            b.use_deform = True
            if parents[i] >= 0:
                b.parent = bones[parents[i]]
            bones.append(b)
    finally:
        bpy.ops.object.mode_set(mode="OBJECT")
    for pb in arm_obj.pose.bones:
        pb.rotation_mode = "QUATERNION"
    return arm_obj


def _build_mesh(head, name, collection) -> bpy.types.Object:
    V, F = head.num_vertices, len(head.faces)
    me = bpy.data.meshes.new(f"{name} Mesh")
    me.vertices.add(V)
    me.vertices.foreach_set("co", head.v_template.astype(np.float32).ravel())
    me.loops.add(3 * F)
    me.loops.foreach_set("vertex_index", head.faces.astype(np.int32).ravel())
    me.polygons.add(F)
    me.polygons.foreach_set("loop_start", np.arange(0, 3 * F, 3, dtype=np.int32))
    me.update(calc_edges=True)
    me.shade_smooth()

    # One material per part present; a face takes the part of its first vertex.
    part = head.vertex_part if head.vertex_part is not None else np.zeros(V, np.uint8)
    has_paint = head.vertex_color is not None
    if has_paint:
        _add_paint(me, head.vertex_color)
    if (part == PARTS.index("eyes")).any():
        _add_eye_uv(me, head, part)
    present = sorted(set(int(p) for p in np.unique(part)))
    slot_of = {}
    for p in present:
        me.materials.append(_part_material(PARTS[p], painted=has_paint and PARTS[p] == "skin"))
        slot_of[p] = len(me.materials) - 1
    face_part = part[head.faces[:, 0]] if F else np.zeros(0, np.uint8)
    lut = np.zeros(len(PARTS), np.int32)
    for p, s in slot_of.items():
        lut[p] = s
    me.polygons.foreach_set("material_index", lut[face_part].astype(np.int32))

    obj = bpy.data.objects.new(f"{name} Mesh", me)
    collection.objects.link(obj)

    # Vertex groups with the LBS weights. Blender has no bulk setter for
    # weights, so add all vertices sharing one weight value in one call.
    for j, jname in enumerate(JOINT_NAMES):
        vg = obj.vertex_groups.new(name=jname)
        col = head.weights[:, j]
        nz = np.flatnonzero(col)
        values, inverse = np.unique(col[nz], return_inverse=True)
        for k, w in enumerate(values):
            vg.add(nz[inverse == k].tolist(), float(w), "REPLACE")

    # Shape keys: absolute positions (template + blendshape) written in bulk.
    obj.shape_key_add(name="Basis", from_mix=False)
    base = head.v_template.astype(np.float32)
    for k, ename in enumerate(head.expr_names):
        kb = obj.shape_key_add(name=ename, from_mix=False)
        kb.data.foreach_set("co", (base + head.exprdirs[:, :, k]).astype(np.float32).ravel())
        kb.slider_min, kb.slider_max = EXPR_RANGE
    obj.data.shape_keys.name = f"{name} Shapes"
    return obj


PAINT_ATTRIBUTE = "tdmm_paint"   # per-vertex preview colours (brows, lips) from the head
EYE_UV = "tdmm_eye"               # eyeball direction as UV: draws the iris and turns with the bone
IRIS_RADIUS, PUPIL_RADIUS = 0.25, 0.11   # in eye-UV units: sin(half-angle) / 2


def _add_paint(me, rgb_u8: np.ndarray) -> None:
    attr = me.color_attributes.new(PAINT_ATTRIBUTE, "FLOAT_COLOR", "POINT")
    linear = (rgb_u8.astype(np.float32) / 255.0) ** 2.2          # sRGB paint -> linear
    attr.data.foreach_set("color", np.c_[linear, np.ones(len(linear), np.float32)].ravel())


def _add_eye_uv(me, head, part) -> None:
    """UV = 0.5 + 0.5 * (x, y) of the rest direction from the eye centre; the back half
    of the ball maps to a corner. Rest-space values ride along with the eye bone."""
    J = head.J_regressor @ head.v_template
    v = head.v_template
    centre = np.where((v[:, 0] > 0)[:, None], J[3], J[4])
    d = v - centre
    d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-9)
    uv = np.where((d[:, 2] > 0)[:, None], 0.5 + 0.5 * d[:, :2], 0.0)
    uv[part != PARTS.index("eyes")] = 0.0
    layer = me.uv_layers.new(name=EYE_UV)
    loop_vert = np.empty(len(me.loops), np.int32)
    me.loops.foreach_get("vertex_index", loop_vert)
    layer.data.foreach_set("uv", uv[loop_vert].astype(np.float32).ravel())


def _part_material(part: str, painted: bool = False) -> bpy.types.Material:
    mat = bpy.data.materials.new(f"TDMM {part}")
    colour = PART_COLOURS[part]
    mat.diffuse_color = colour                      # solid-mode viewport colour
    if mat.node_tree is None and hasattr(mat, "use_nodes"):
        mat.use_nodes = True                        # Blender 4.x starts without nodes
    nodes = mat.node_tree.nodes if mat.node_tree else None
    bsdf = nodes.get("Principled BSDF") if nodes else None
    if bsdf is None:
        return mat
    bsdf.inputs["Base Color"].default_value = colour
    bsdf.inputs["Roughness"].default_value = 0.15 if part in ("eyes", "teeth") else 0.5
    links = mat.node_tree.links
    if painted:
        attr = nodes.new("ShaderNodeAttribute")
        attr.attribute_name = PAINT_ATTRIBUTE
        links.new(attr.outputs["Color"], bsdf.inputs["Base Color"])
    elif part == "eyes":
        # Distance from the UV centre -> pupil / iris / sclera, with hard steps.
        uv = nodes.new("ShaderNodeUVMap")
        uv.uv_map = EYE_UV
        dist = nodes.new("ShaderNodeVectorMath")
        dist.operation = "DISTANCE"
        dist.inputs[1].default_value = (0.5, 0.5, 0.0)
        ramp = nodes.new("ShaderNodeValToRGB")
        ramp.color_ramp.interpolation = "CONSTANT"
        stops = ramp.color_ramp.elements
        stops[0].position, stops[0].color = 0.0, (0.01, 0.01, 0.01, 1)
        stops[1].position, stops[1].color = PUPIL_RADIUS, (0.12, 0.07, 0.035, 1)
        sclera = stops.new(IRIS_RADIUS)
        sclera.color = colour
        links.new(uv.outputs["UV"], dist.inputs[0])
        links.new(dist.outputs["Value"], ramp.inputs["Fac"])
        links.new(ramp.outputs["Color"], bsdf.inputs["Base Color"])
    return mat


def _add_correctives(head, mesh_obj, arm_obj) -> list[str]:
    """One driven shape key per non-zero posedirs column; returns their names.

    FLAME's pose feature is (R_j - I) of joints 1..4 flattened row-major:
    column 9*(j-1) + 3*row + col. The key's value is that matrix entry.
    """
    base = head.v_template.astype(np.float32)
    names = []
    for c in range(head.posedirs.shape[2]):
        offset = head.posedirs[:, :, c]
        if not np.any(offset):
            continue
        joint = JOINT_NAMES[1 + c // 9]
        row, col = divmod(c % 9, 3)
        kb = mesh_obj.shape_key_add(name=corrective_name(joint, row, col), from_mix=False)
        kb.data.foreach_set("co", (base + offset).astype(np.float32).ravel())
        kb.slider_min, kb.slider_max = CORRECTIVE_RANGE
        _drive_by_rotation(kb, arm_obj, joint, _R_MINUS_I[row][col])
        names.append(kb.name)
    return names


def _drive_by_rotation(key_block, arm_obj, bone: str, entry: str) -> None:
    fc = key_block.driver_add("value")
    drv = fc.driver
    drv.type = "SCRIPTED"
    for i, comp in enumerate("wxyz"):
        var = drv.variables.new()
        var.name = comp
        var.type = "SINGLE_PROP"
        var.targets[0].id_type = "OBJECT"
        var.targets[0].id = arm_obj
        var.targets[0].data_path = f'pose.bones["{bone}"].rotation_quaternion[{i}]'
    drv.expression = entry.replace("n2", "(w*w+x*x+y*y+z*z)")


def head_parts(obj) -> tuple[bpy.types.Object, bpy.types.Object] | None:
    """(armature, mesh) if `obj` is one of our heads (either object), else None."""
    if obj is None:
        return None
    if PROP_HEAD in obj.keys():
        arm = obj
    elif obj.parent is not None and PROP_HEAD in obj.parent.keys():
        arm = obj.parent
    else:
        arm = None
    if arm is None or arm.type != "ARMATURE":
        return None
    mesh = arm.get(PROP_MESH)
    if mesh is None or getattr(mesh, "type", None) != "MESH" or mesh.data.shape_keys is None:
        return None
    return arm, mesh
