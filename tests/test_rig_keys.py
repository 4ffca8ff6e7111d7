"""The Blender rig and keyframe I/O, against real bpy and a numpy FLAME reference.

The key test is test_evaluated_mesh_matches_flame_lbs: Blender's evaluated
mesh under a keyed clip frame equals FLAME's LBS computed here in numpy, which
proves bones, shape keys and corrective drivers mean what the clip means.
"""
import math
import sys
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

# Import tdmm_blender from this checkout as a regular package: an editable
# install made before tdmm_blender/__init__.py existed maps it as a namespace
# package, which hides register() (`pip install -e .` again fixes that too).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine import rotation  # noqa: E402
from engine.clip import MotionClip  # noqa: E402
from engine.head import FLAME_PARENTS, JOINT_NAMES, save_head  # noqa: E402
from tdmm_blender import keys, rig  # noqa: E402

from conftest import make_tiny_head  # noqa: E402


@pytest.fixture(autouse=True)
def empty_scene():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.context.scene.render.fps, bpy.context.scene.render.fps_base = 25, 1.0
    yield


def random_clip(head, T, seed=0, max_angle=1.0, fps=25.0):
    rng = np.random.default_rng(seed)
    axis = rng.standard_normal((T, 5, 3))
    axis /= np.linalg.norm(axis, axis=2, keepdims=True)
    pose = axis * rng.uniform(0, max_angle, (T, 5, 1))
    return MotionClip(pose=pose, expr=rng.uniform(-2, 2, (T, head.num_expr)), expr_names=head.expr_names,
                      fps=fps, transl=rng.normal(0, 0.02, (T, 3)), text=["a test clip"])


# -- numpy FLAME reference (independent of engine.rotation) ----------------------
def rodrigues(aa):
    theta = np.linalg.norm(aa)
    if theta < 1e-12:
        return np.eye(3)
    k = aa / theta
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + math.sin(theta) * K + (1 - math.cos(theta)) * K @ K


def flame_lbs(head, pose, expr, transl):
    """FLAME forward pass for one frame, joints at the rest template's joints."""
    v = head.v_template.astype(np.float64) + head.exprdirs @ expr
    R = np.stack([rodrigues(p) for p in pose])
    v = v + head.posedirs @ (R[1:] - np.eye(3)).reshape(-1)       # pose correctives
    J = head.J_regressor.astype(np.float64) @ head.v_template
    G = np.zeros((5, 4, 4))
    for i, p in enumerate(FLAME_PARENTS):
        local = np.eye(4)
        local[:3, :3] = R[i]
        local[:3, 3] = J[i] - (J[p] if p >= 0 else 0)
        G[i] = local if p < 0 else G[p] @ local
    A = G.copy()
    A[:, :3, 3] -= np.einsum("kij,kj->ki", G[:, :3, :3], J)        # relative to the rest joint
    T = np.einsum("vk,kij->vij", head.weights, A)
    return np.einsum("vij,vj->vi", T[:, :3, :3], v) + T[:, :3, 3] + transl


def evaluated_world_vertices(mesh_obj):
    dg = bpy.context.evaluated_depsgraph_get()
    ev = mesh_obj.evaluated_get(dg)
    me = ev.to_mesh()
    co = np.empty(3 * len(me.vertices), np.float32)
    me.vertices.foreach_get("co", co)
    ev.to_mesh_clear()
    M = np.array(mesh_obj.matrix_world)
    return co.reshape(-1, 3) @ M[:3, :3].T + M[:3, 3]


# -- rig ------------------------------------------------------------------------
def test_rig_structure():
    head = make_tiny_head(num_expr=5)
    arm = rig.build_head_object(head, name="Face")
    mesh = arm[rig.PROP_MESH]
    assert arm.type == "ARMATURE" and mesh.type == "MESH" and mesh.parent == arm
    assert keys.head_objects(mesh) == (arm, mesh)        # the mesh leads to its head too

    J = head.J_regressor @ head.v_template
    bones = arm.data.bones
    assert [b.name for b in bones] == list(JOINT_NAMES)
    for i, b in enumerate(bones):
        parent = FLAME_PARENTS[i]
        assert (b.parent.name if b.parent else None) == (JOINT_NAMES[parent] if parent >= 0 else None)
        np.testing.assert_allclose(b.head_local, J[i], atol=1e-6)
        np.testing.assert_allclose(np.array(b.matrix_local.to_3x3()), np.eye(3), atol=1e-6)
    assert all(pb.rotation_mode == "QUATERNION" for pb in arm.pose.bones)

    assert [g.name for g in mesh.vertex_groups] == list(JOINT_NAMES)
    w = np.zeros((head.num_vertices, 5))
    for v in mesh.data.vertices:
        for g in v.groups:
            w[v.index, g.group] = g.weight
    np.testing.assert_allclose(w, head.weights, atol=1e-7)
    mod = mesh.modifiers["Armature"]
    assert mod.object == arm and mod.use_vertex_groups and not mod.use_deform_preserve_volume

    kb = mesh.data.shape_keys.key_blocks
    n_correctives = int(np.any(head.posedirs != 0, axis=(0, 1)).sum())
    assert [k.name for k in kb][: 1 + head.num_expr] == ["Basis"] + head.expr_names
    assert len(kb) == 1 + head.num_expr + n_correctives == 1 + 5 + 36
    assert kb["ch0"].slider_min == -10 and kb["ch0"].slider_max == 10
    co = np.empty(3 * head.num_vertices, np.float32)
    kb["ch2"].data.foreach_get("co", co)
    np.testing.assert_allclose(co.reshape(-1, 3) - head.v_template, head.exprdirs[:, :, 2], atol=1e-7)
    drivers = mesh.data.shape_keys.animation_data.drivers
    assert len(drivers) == n_correctives and all(d.driver.is_simple_expression for d in drivers)

    assert {m.name.split(".")[0] for m in mesh.data.materials} == {"TDMM skin", "TDMM eyes"}
    assert list(arm[rig.PROP_EXPR]) == head.expr_names and arm[rig.PROP_HEAD] == "tiny"

    # FLAME's frame -> Blender: up (+y) becomes +z, forward (+z, where the face
    # looks) becomes -y (towards the front-view camera), the character's left stays +x.
    M = np.array(arm.matrix_world.to_3x3())
    np.testing.assert_allclose(M @ [0, 1, 0], [0, 0, 1], atol=1e-7)
    np.testing.assert_allclose(M @ [0, 0, 1], [0, -1, 0], atol=1e-7)
    np.testing.assert_allclose(M @ [1, 0, 0], [1, 0, 0], atol=1e-7)


def default_head_or_skip():
    from engine.head import default_head_path, load_head
    if not default_head_path().exists():
        pytest.skip("the default head asset is not built yet")
    return load_head()


@pytest.mark.parametrize("which", ["tiny", "default"])
def test_evaluated_mesh_matches_flame_lbs(which):
    head = make_tiny_head(num_expr=4, seed=3) if which == "tiny" else default_head_or_skip()
    arm = rig.build_head_object(head)
    mesh = arm[rig.PROP_MESH]
    clip = random_clip(head, T=4, seed=7)
    keys.write_clip(arm, clip, frame_start=1)
    to_blender = np.array(arm.matrix_world)
    for t in range(clip.num_frames):
        bpy.context.scene.frame_set(1 + t)
        world = evaluated_world_vertices(mesh)
        # Undo the armature object's FLAME -> Blender conversion.
        flame = (world - to_blender[:3, 3]) @ np.linalg.inv(to_blender[:3, :3]).T
        ref = flame_lbs(head, clip.pose[t].astype(np.float64), clip.expr[t].astype(np.float64),
                        clip.transl[t].astype(np.float64))
        np.testing.assert_allclose(flame, ref, atol=1e-5, err_msg=f"frame {t}")
    # Sanity: the pose moves the mesh far more than the tolerance.
    assert np.abs(ref - head.v_template).max() > 1e-2


# -- keys -----------------------------------------------------------------------
@pytest.mark.parametrize("scene_fps", [25, 24])
def test_round_trip_is_exact(scene_fps):
    bpy.context.scene.render.fps = scene_fps
    head = make_tiny_head(num_expr=6)
    arm = rig.build_head_object(head)
    clip = random_clip(head, T=250, seed=1)
    # The jaw spins steadily through angle pi about one axis. Stored as axis-angle
    # with angle <= pi, the vector wraps from ~pi*axis to ~-pi*axis mid-clip, so the
    # raw quaternions jump hemisphere there (w stays >= 0, xyz flips): without
    # write_clip's sign fix the keyed quaternions would flip from q to about -q.
    angle = np.linspace(np.pi - 0.5, np.pi + 0.5, 250)      # never exactly pi
    axis = np.array([0.6, -0.8, 0.0])
    clip.pose[:, 2] = np.where(angle[:, None] <= np.pi, angle[:, None], angle[:, None] - 2 * np.pi) * axis
    raw = rotation.axis_angle_to_quat(clip.pose[:, 2])
    assert np.einsum("ij,ij->i", raw[1:], raw[:-1]).min() < -0.99   # the motion does flip
    result = keys.write_clip(arm, clip, frame_start=10)
    assert result.frame_range == pytest.approx((10, 10 + 249 * scene_fps / 25))
    assert not result.dropped and not result.missing and not result.kept
    back = keys.read_clip(arm)
    assert back.num_frames == 250 and back.fps == 25 and back.expr_names == head.expr_names
    np.testing.assert_allclose(back.pose, clip.pose, atol=1e-5)
    np.testing.assert_allclose(back.expr, clip.expr, atol=1e-5)
    np.testing.assert_allclose(back.transl, clip.transl, atol=1e-5)
    assert back.text == clip.text

    # The keys themselves: LINEAR, one fcurve per channel, sign-continuous quaternions.
    fcurves = keys._assigned_fcurves(arm)
    assert len(fcurves) == 5 * 4 + 3
    assert len(keys._assigned_fcurves(arm[rig.PROP_MESH].data.shape_keys)) == 6
    fc = fcurves[('pose.bones["jaw"].rotation_quaternion', 0)]
    assert len(fc.keyframe_points) == 250 and {k.interpolation for k in fc.keyframe_points} == {"LINEAR"}
    for bone in JOINT_NAMES:
        q = np.stack([[k.co[1] for k in fcurves[(f'pose.bones["{bone}"].rotation_quaternion', i)].keyframe_points]
                      for i in range(4)], axis=1)
        # Neighbouring keys of the steady spin are 1/249 rad apart: dot = cos(angle/2) ~ 1.
        dots = np.einsum("ij,ij->i", q[1:], q[:-1])
        assert dots.min() >= 0, f"{bone}: keyed quaternions flip sign (min dot {dots.min():.3f})"
        if bone == "jaw":
            assert dots.min() > 0.9999


def test_existing_user_actions_are_kept():
    head = make_tiny_head()
    arm = rig.build_head_object(head)
    shape_keys = arm[rig.PROP_MESH].data.shape_keys
    pb = arm.pose.bones["jaw"]
    pb.rotation_quaternion = (0.9, 0.1, 0.0, 0.0)
    pb.keyframe_insert("rotation_quaternion", frame=5)
    shape_keys.key_blocks["ch1"].value = 0.7
    shape_keys.key_blocks["ch1"].keyframe_insert("value", frame=3)
    user_arm, user_key = arm.animation_data.action, shape_keys.animation_data.action
    user_arm.name, user_key.name = "my jaw", "my shapes"
    before = [tuple(k.co) for fc in keys._assigned_fcurves(arm).values() for k in fc.keyframe_points]

    result = keys.write_clip(arm, random_clip(head, T=20), name="generated")
    assert arm.animation_data.action == result.action != user_arm
    assert shape_keys.animation_data.action == result.shape_action != user_key
    assert sorted(result.kept) == ["my jaw", "my shapes"] and "kept" in result.message()
    for old in (user_arm, user_key):
        assert bpy.data.actions.get(old.name) == old and old.use_fake_user

    arm.animation_data.action = user_arm           # the user's keys are untouched
    after = [tuple(k.co) for fc in keys._assigned_fcurves(arm).values() for k in fc.keyframe_points]
    assert after == before

    # A second clip never overwrites the first: each is a new action.
    second = keys.write_clip(arm, random_clip(head, T=20, seed=2), name="generated")
    assert second.action != result.action and second.action.name != "generated"


def test_hand_edited_bezier_keys_read_as_blender_plays_them():
    head = make_tiny_head()
    arm = rig.build_head_object(head)
    shape_keys = arm[rig.PROP_MESH].data.shape_keys
    pb = arm.pose.bones["neck"]
    kb = shape_keys.key_blocks["ch2"]
    for frame, angle, value in ((1, 0.0, 0.0), (9, 0.8, 1.5), (20, -0.3, -0.5)):
        pb.rotation_quaternion = rotation.axis_angle_to_quat([0.0, angle, 0.0])
        pb.keyframe_insert("rotation_quaternion", frame=frame)
        kb.value = value
        kb.keyframe_insert("value", frame=frame)
    fcurves = list(keys._assigned_fcurves(arm).values()) + list(keys._assigned_fcurves(shape_keys).values())
    assert {k.interpolation for fc in fcurves for k in fc.keyframe_points} == {"BEZIER"}

    clip = keys.read_clip(arm)                   # no fps stored on the action: scene fps, keys' span
    assert clip.num_frames == 20 and clip.fps == 25
    for t in (0, 3, 8, 13, 19):
        bpy.context.scene.frame_set(1 + t)
        want_q = np.array(pb.rotation_quaternion)
        np.testing.assert_allclose(rotation.axis_angle_to_quat(clip.pose[t, 1]),
                                   want_q / np.linalg.norm(want_q) * np.sign(want_q[0]), atol=1e-6)
        assert clip.expr[t, 2] == pytest.approx(kb.value, abs=1e-6)
    # Between keys BEZIER is not linear: the read-back saw the curve, not the keys.
    linear = 0.0 + (1.5 - 0.0) * 3 / 8
    assert abs(clip.expr[3, 2] - linear) > 1e-3

    # A sub-range at another fps samples between frames.
    half = keys.read_clip(arm, fps=50, frame_range=(2, 4))
    assert half.num_frames == 5
    bpy.context.scene.frame_set(3, subframe=0.5)
    assert half.expr[3, 2] == pytest.approx(kb.value, abs=1e-6)


def test_errors_name_the_fix():
    head = make_tiny_head()
    cube = bpy.data.objects.new("Cube", bpy.data.meshes.new("Cube"))
    bpy.context.scene.collection.objects.link(cube)
    clip = random_clip(head, T=5)
    for obj in (cube, None):
        with pytest.raises(keys.KeysError, match="select the head armature built by TDMM"):
            keys.read_clip(obj)
        with pytest.raises(keys.KeysError, match="not a TDMM head"):
            keys.write_clip(obj, clip)
    arm = rig.build_head_object(head)
    with pytest.raises(keys.KeysError, match="has no animation.*Import Motion Clip"):
        keys.read_clip(arm)
    assert isinstance(keys.KeysError("x"), ValueError)


def test_channel_names_are_mapped_and_reported():
    head = make_tiny_head(num_expr=4)        # ch0..ch3
    arm = rig.build_head_object(head)
    rng = np.random.default_rng(0)
    clip = MotionClip(pose=np.zeros((8, 5, 3)), expr=rng.uniform(-1, 1, (8, 4)),
                      expr_names=["ch1", "browUp", "ch0", "smile"])
    result = keys.write_clip(arm, clip)
    assert result.dropped == ["browUp", "smile"] and result.missing == ["ch2", "ch3"]
    assert "browUp" in result.message() and "ch2" in result.message()
    back = keys.read_clip(arm)
    np.testing.assert_allclose(back.expr[:, 0], clip.expr[:, 2], atol=1e-6)   # ch0
    np.testing.assert_allclose(back.expr[:, 1], clip.expr[:, 0], atol=1e-6)   # ch1
    np.testing.assert_allclose(back.expr[:, 2:], 0)


# -- engine.rotation ------------------------------------------------------------
def test_rotation_conversions_are_stable():
    rng = np.random.default_rng(0)
    axis = rng.standard_normal((500, 3))
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    for angles in (rng.uniform(0, np.pi, 500), np.full(500, 1e-9), np.full(500, np.pi - 1e-7), np.zeros(500)):
        aa = axis * angles[:, None]
        q = rotation.axis_angle_to_quat(aa)
        np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1, atol=1e-12)
        np.testing.assert_allclose(rotation.quat_to_axis_angle(q), aa, atol=1e-9)
        np.testing.assert_allclose(rotation.quat_to_axis_angle(-3 * q), aa, atol=1e-9)  # sign, scale
        np.testing.assert_allclose(rotation.axis_angle_to_matrix(aa[:20]),
                                   np.stack([rodrigues(a) for a in aa[:20]]), atol=1e-12)
    q = rotation.axis_angle_to_quat(axis * 2.0)
    q[1::3] *= -1
    fixed = rotation.quat_continuity(q)
    assert (np.einsum("ij,ij->i", fixed[1:], fixed[:-1]) >= 0).all()
    np.testing.assert_allclose(np.abs(fixed), np.abs(q))


# -- the add-on's operators ------------------------------------------------------
def test_operators_add_import_export(tmp_path):
    import tdmm_blender

    head = make_tiny_head(num_expr=4)
    save_head(head, tmp_path / "head")
    clip = random_clip(head, T=30)
    clip.save(tmp_path / "in.npz")
    tdmm_blender.register()
    try:
        assert bpy.ops.tdmm.add_head(filepath=str(tmp_path / "head.safetensors")) == {"FINISHED"}
        arm = bpy.context.view_layer.objects.active
        assert keys.head_objects(arm)[0] == arm
        assert bpy.ops.tdmm.import_clip(filepath=str(tmp_path / "in.npz")) == {"FINISHED"}
        assert bpy.ops.tdmm.export_clip(filepath=str(tmp_path / "out.npz")) == {"FINISHED"}
        out = MotionClip.load(tmp_path / "out.npz")
        np.testing.assert_allclose(out.pose, clip.pose, atol=1e-5)
        np.testing.assert_allclose(out.expr, clip.expr, atol=1e-5)
        # Without a head selected the operators say what to select.
        bpy.context.view_layer.objects.active = None
        with pytest.raises(RuntimeError, match="Select the head armature"):
            bpy.ops.tdmm.export_clip(filepath=str(tmp_path / "none.npz"))
    finally:
        tdmm_blender.unregister()
