"""Retarget onto an ARKit-named mesh: the pure mapping (engine.arkit_map) and the add-on (real bpy)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from engine import arkit_map
from engine.clip import MotionClip
from engine.head import JOINT_NAMES

ROOT = Path(__file__).resolve().parents[1]
JAW, EYE_L, EYE_R = (JOINT_NAMES.index(n) for n in ("jaw", "eye_left", "eye_right"))


def _clip(T=3, names=("mouthSmileLeft", "eyeBlinkLeft"), expr=None):
    clip = MotionClip.zeros(T, list(names))
    if expr is not None:
        clip.expr[:] = np.asarray(expr, np.float32)
    return clip


# -- names ------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["jawOpen", "JawOpen", "jaw_open", "blendShape1.jawOpen", "head:jawOpen",
                                  "Face|jawOpen", " jawopen "])
def test_spellings_of_jaw_open_match(name):
    assert arkit_map.normalise_name(name) == "jawopen"


@pytest.mark.parametrize("name", ["eyeBlink_L", "eyeBlink.L", "eyeBlinkLeft", "blendShape1.eyeBlink_L",
                                  "EYEBLINK-l"])
def test_side_suffixes_become_left(name):
    assert arkit_map.normalise_name(name) == "eyeblinkleft"


def test_match_names_first_duplicate_wins_and_others_stay_unmatched():
    m = arkit_map.match_names(["eyeBlinkLeft", "mouthSmileLeft", "cheekPuff"],
                              ["eyeBlink_L", "EyeBlinkLeft", "mouthSmileLeft", "mouthSmileRight"])
    assert m == {"eyeBlinkLeft": "eyeBlink_L", "mouthSmileLeft": "mouthSmileLeft"}


# -- rotations -> shape keys --------------------------------------------------------
def test_jaw_at_full_open_gives_jaw_open_one_and_clamps():
    clip = _clip(T=4)
    clip.pose[:, JAW, 0] = [0.0, arkit_map.JAW_FULL_OPEN_RAD / 2, arkit_map.JAW_FULL_OPEN_RAD, 0.6]
    clip.pose[3, JAW, 0] = 0.6                        # past full open
    v = arkit_map.rotation_channels(clip, eyes=False)["jawOpen"]
    np.testing.assert_allclose(v, [0.0, 0.5, 1.0, 1.0], atol=1e-6)
    clip.pose[:, JAW, 0] = -0.2                        # a jaw pushed shut is not "open" below 0
    np.testing.assert_allclose(arkit_map.rotation_channels(clip, eyes=False)["jawOpen"], 0.0)


def test_gaze_of_the_documented_angle_gives_eye_look_one():
    full = np.radians(arkit_map.EYE_LOOK_FULL_DEG)
    clip = _clip(T=4)
    clip.pose[0, [EYE_L, EYE_R], 1] = full            # both eyes to the character's left
    clip.pose[1, [EYE_L, EYE_R], 1] = -full / 2       # half-way to the right
    clip.pose[2, [EYE_L, EYE_R], 0] = full            # +x pitch: looking down
    clip.pose[3, [EYE_L, EYE_R], 0] = -2 * full       # twice as far up: clamped
    v = arkit_map.rotation_channels(clip, jaw=False)
    np.testing.assert_allclose(v["eyeLookOutLeft"], [1, 0, 0, 0], atol=1e-6)
    np.testing.assert_allclose(v["eyeLookInRight"], [1, 0, 0, 0], atol=1e-6)
    np.testing.assert_allclose(v["eyeLookInLeft"], [0, 0.5, 0, 0], atol=1e-6)
    np.testing.assert_allclose(v["eyeLookOutRight"], [0, 0.5, 0, 0], atol=1e-6)
    for side in ("Left", "Right"):
        np.testing.assert_allclose(v[f"eyeLookDown{side}"], [0, 0, 1, 0], atol=1e-6)
        np.testing.assert_allclose(v[f"eyeLookUp{side}"], [0, 0, 0, 1], atol=1e-6)
    assert set(v) == set(arkit_map.EYE_KEYS)


def test_retarget_copies_matches_reports_and_prefers_the_clips_own_channel():
    clip = _clip(T=2, names=("mouthSmileLeft", "eyeBlinkLeft", "cheekPuff", "jawOpen"),
                 expr=[[0.2, 0.9, 0.1, 0.0], [0.4, -0.3, 0.1, 0.0]])
    clip.pose[:, JAW, 0] = [arkit_map.JAW_FULL_OPEN_RAD, 0.0]
    targets = ["blendShape1.mouthSmileLeft", "eyeBlink_L", "jawOpen", "eyeLookUpLeft", "earWiggle"]
    plan = arkit_map.retarget(clip, targets)
    np.testing.assert_allclose(plan.values["blendShape1.mouthSmileLeft"], [0.2, 0.4], atol=1e-6)
    np.testing.assert_allclose(plan.values["eyeBlink_L"], [0.9, -0.3], atol=1e-6)   # copied, not clamped
    np.testing.assert_allclose(plan.values["jawOpen"], [1.0, 0.0])   # clip's jawOpen is all zero: from the jaw
    np.testing.assert_allclose(plan.values["eyeLookUpLeft"], [0.0, 0.0])
    assert plan.source["jawOpen"] == "jaw" and plan.source["eyeLookUpLeft"] == "eye_left"
    assert plan.unmatched_channels == ["cheekPuff"]
    assert plan.unkeyed_targets == ["earWiggle"]
    assert "cheekPuff" in plan.message() and "earWiggle" in plan.message()

    clip.pose[1, EYE_R, 1] = 0.1                      # the right eye moves but has no eyeLook* key
    assert arkit_map.retarget(clip, targets).unmatched_channels == ["cheekPuff", "eye_right rotation"]
    assert arkit_map.retarget(clip, targets[:2]).unmatched_channels == [
        "cheekPuff", "jawOpen", "jaw rotation", "eye_right rotation"]

    clip.expr[:, 3] = [0.25, 0.5]                     # the clip animates jawOpen itself: keep it
    plan = arkit_map.retarget(clip, targets)
    np.testing.assert_allclose(plan.values["jawOpen"], [0.25, 0.5], atol=1e-6)
    assert plan.source["jawOpen"] == "jawOpen"
    assert "jawOpen" not in arkit_map.retarget(clip.with_channels([])[0], targets, map_jaw=False).values


# -- the add-on in Blender ----------------------------------------------------------
_PROBE = textwrap.dedent(r"""
    import json, sys
    root = sys.argv[1]
    sys.path.insert(0, root)
    import bpy
    import numpy as np
    import tdmm_blender
    from engine.clip import MotionClip
    from engine.head import JOINT_NAMES

    bpy.ops.wm.read_factory_settings(use_empty=True)
    tdmm_blender.register()
    from tdmm_blender import keys, retarget
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 25, 1.0
    r = {}
    bpy.ops.tdmm.add_head()
    arm = bpy.context.active_object
    names = list(arm["tdmm_expr_names"])
    T = 6
    clip = MotionClip.zeros(T, names)
    ch = {n: i for i, n in enumerate(names)}
    clip.expr[:, ch["mouthSmileLeft"]] = np.linspace(0, 0.8, T)
    clip.expr[:, ch["eyeBlinkLeft"]] = np.linspace(1, 0, T)
    clip.pose[:, JOINT_NAMES.index("jaw"), 0] = np.linspace(0, 0.5, T)    # 0.5 > full open: clamps
    res = keys.write_clip(arm, clip, name="Source", frame_start=10)
    src = res.action

    def snap(action):
        return {f"{fc.data_path}[{fc.array_index}]": [tuple(k.co) for k in fc.keyframe_points]
                for layer in action.layers for strip in layer.strips
                for bag in strip.channelbags for fc in bag.fcurves}
    before = snap(src)

    bpy.ops.mesh.primitive_uv_sphere_add(segments=8, ring_count=4)
    tgt = bpy.context.active_object
    tgt.name = "Character"
    for n in ("Basis", "blendShape1.mouthSmileLeft", "eyeBlink_L", "jawOpen", "earWiggle"):
        tgt.shape_key_add(name=n)
    old = bpy.data.actions.new("Old character action")
    tgt.data.shape_keys.animation_data_create().action = old

    # Nothing selected but the head: the operator must refuse, not raise.
    tgt.select_set(False)
    arm.select_set(True)
    bpy.context.view_layer.objects.active = arm
    try:
        bpy.ops.tdmm.retarget()
        r["no_target"] = "ran"
    except RuntimeError as e:
        r["no_target"] = str(e)
    tgt.select_set(True)
    arm.select_set(True)
    bpy.context.view_layer.objects.active = arm
    r["op"] = sorted(bpy.ops.tdmm.retarget())
    ad = tgt.data.shape_keys.animation_data
    new = ad.action
    r["new_name"] = new.name
    r["old_kept"] = old.name in bpy.data.actions and old.use_fake_user and new != old and len(snap(old)) == 0
    r["source_same"] = snap(src) == before and arm.animation_data.action == src
    r["curves"] = {k: v for k, v in snap(new).items()}
    r["slot_ok"] = ad.action_slot is not None and ad.action_slot.target_id_type == "KEY"
    plan = retarget.retarget(arm, tgt, name="again")     # the same plan the operator reported
    r["unmatched"] = plan.plan.unmatched_channels
    r["unkeyed"] = plan.plan.unkeyed_targets
    r["expected"] = {"smile": clip.expr[:, ch["mouthSmileLeft"]].tolist(),
                     "blink": clip.expr[:, ch["eyeBlinkLeft"]].tolist(),
                     "jaw": np.linspace(0, 0.5, T).tolist()}
    tdmm_blender.unregister()
    print("RESULT " + json.dumps(r))
""")


def test_retarget_in_blender(tmp_path):
    pytest.importorskip("bpy")
    from engine.arkit_map import JAW_FULL_OPEN_RAD

    script = tmp_path / "probe.py"
    script.write_text(_PROBE)
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([sys.executable, str(script), str(ROOT)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    r = json.loads(lines[-1][len("RESULT "):])

    assert "select exactly one other mesh" in r["no_target"]
    assert r["op"] == ["FINISHED"]
    assert r["new_name"] == "Source -> Character"
    assert r["old_kept"] and r["source_same"] and r["slot_ok"]
    frames = [10.0 + i for i in range(6)]            # write_clip's frames, same fps
    curves = r["curves"]
    assert set(curves) == {'key_blocks["blendShape1.mouthSmileLeft"].value[0]',
                           'key_blocks["eyeBlink_L"].value[0]', 'key_blocks["jawOpen"].value[0]'}

    def check(path, want):
        got = np.array(curves[f'key_blocks["{path}"].value[0]'])
        np.testing.assert_allclose(got[:, 0], frames)
        np.testing.assert_allclose(got[:, 1], want, atol=1e-5)

    check("blendShape1.mouthSmileLeft", r["expected"]["smile"])
    check("eyeBlink_L", r["expected"]["blink"])
    check("jawOpen", np.clip(np.array(r["expected"]["jaw"]) / JAW_FULL_OPEN_RAD, 0, 1))
    assert "earWiggle" in r["unkeyed"]
    assert "mouthSmileRight" in r["unmatched"] and "mouthSmileLeft" not in r["unmatched"]
    assert "jaw rotation" not in r["unmatched"]       # it landed on jawOpen
