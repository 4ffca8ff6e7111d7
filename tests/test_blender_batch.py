"""Batch Bake, Continue, In-between (the add-on, real bpy 5.0.1 in background mode) and `tdmm bake`.

One bpy subprocess runs every scene step and reports what it saw as JSON; the engine worker it
starts (the add-on's client, on this venv's Python, which has torch) is the real one. `tdmm
bake` runs once as its own command, and the probe opens the .blend it wrote at the end.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from bpy_probe import STEP

pytest.importorskip("bpy")
ROOT = Path(__file__).resolve().parents[1]

BATCH_CSV = textwrap.dedent("""\
    prompt,seconds,seed
    a shy smile,1.0,1
    "a slow nod, then a blink",1.0,1

    ,2,3
    a frown,2.0,2
    a wink,45,1
    looks left,1.5,four
    a yawn,0.5,2
    # a comment
    raises both brows,1.5,
    """)
# (line, prompt, frames at 25 fps): the five good lines of BATCH_CSV
BATCH_GOOD = [(2, "a shy smile", 25), (3, "a slow nod, then a blink", 25), (6, "a frown", 50),
              (9, "a yawn", 13), (11, "raises both brows", 38)]
BATCH_BAD = {5: "prompt is empty", 7: "seconds is 45", 8: "seed 'four' is not a whole number"}

_PROBE = textwrap.dedent(r"""
    import json, os, sys, time, traceback
    root, work, blend, sheet = sys.argv[1:5]
    sys.path.insert(0, root)
    import bpy
    import numpy as np
    import tdmm_blender
    {STEP}

    def snapshot(action):
        # every key of every curve: frame, value, both handles, interpolation
        out = {}
        for layer in action.layers:
            for strip in layer.strips:
                for bag in strip.channelbags:
                    for fc in bag.fcurves:
                        out[f"{fc.data_path}[{fc.array_index}]"] = [
                            [k.co[0], k.co[1], *k.handle_left, *k.handle_right, k.interpolation]
                            for k in fc.keyframe_points]
        return out

    def curves(idb):
        from tdmm_blender import keys
        return {f"{p}[{i}]": fc for (p, i), fc in keys._assigned_fcurves(idb).items()}

    bpy.ops.wm.read_factory_settings(use_empty=True)
    tdmm_blender.register()
    tdmm_blender.unregister()
    tdmm_blender.register()
    from tdmm_blender import batch_ops, keys
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 25, 1.0
    step("add_head", lambda: sorted(bpy.ops.tdmm.add_head()))
    arm = bpy.context.view_layer.objects.active
    mesh = arm["tdmm_mesh"]
    key = mesh.data.shape_keys

    # -- batch bake from a .csv file: 5 good lines, 3 bad ones -----------------------------------
    step("batch", lambda: sorted(bpy.ops.tdmm.batch_bake(filepath=os.path.join(work, "shots.csv"))))
    run = batch_ops._running
    r["batch_problems"] = run.problems
    r["batch_actions"] = [[a.name, list(a.frame_range), a["tdmm_line"], a["tdmm_prompt"], a.use_fake_user]
                          for a in (bpy.data.actions[n] for n in run.actions)]
    # -- from a Text datablock (one prompt per line), and a list with nothing good in it -------------
    t = bpy.data.texts.new("takes")
    t.from_string("a big grin\n\nlooks up\n")
    step("text", lambda: sorted(bpy.ops.tdmm.batch_bake(text="takes", seconds=0.5, seed=4)))
    r["text_actions"] = list(batch_ops._running.actions)
    bpy.data.texts.new("bad.csv").from_string(",4,1\na smile,99\n")
    step("all_bad", lambda: sorted(bpy.ops.tdmm.batch_bake(text="bad.csv")))

    # -- cancel mid-batch: the finished actions stay ---------------------------------------------------
    from engine.prompt_list import parse_prompts
    batch_ops.BATCH = 1
    entries = parse_prompts("one\ntwo\nthree\nfour\n", seconds=0.5).entries
    before = set(bpy.data.actions.keys())
    c = batch_ops.BatchRun(batch_ops._running.client, arm.name, entries, 2.0, scene, "test")
    while len(c.actions) < 1:
        c.step()
        if c.req is not None:
            c.client.wait(c.req)
    c.step()                                   # the second request is in flight now
    c.cancel()
    while not c.finished:
        c.step()
        time.sleep(0.005)
    r["cancel"] = {"actions": c.actions, "cancelled": c.cancelled, "error": c.error,
                   "in_file": [n in bpy.data.actions for n in c.actions],
                   "new": sorted(set(bpy.data.actions.keys()) - before)}

    # -- the animator's own keys: bones on one action, shape keys on another -------------------------
    arm.animation_data.action = None
    key.animation_data.action = None
    jaw = arm.pose.bones["jaw"]
    smile = key.key_blocks["mouthSmileLeft"]
    for frame, angle, value in [(1, 0.0, 0.0), (10, 0.15, 0.8), (40, 0.05, 0.2), (50, 0.2, 0.6)]:
        jaw.rotation_quaternion = (np.cos(angle / 2), np.sin(angle / 2), 0, 0)
        jaw.keyframe_insert("rotation_quaternion", frame=frame)
        smile.value = value
        smile.keyframe_insert("value", frame=frame)
    hand_arm, hand_key = arm.animation_data.action, key.animation_data.action
    hand = {"arm": snapshot(hand_arm), "key": snapshot(hand_key)}
    r["hand_names"] = [hand_arm.name, hand_key.name]
    sample = [1, 4, 8, 10, 40, 42, 47, 50]
    orig = {n: [fc.evaluate(f) for f in sample] for idb in (arm, key) for n, fc in curves(idb).items()}

    # -- continue ---------------------------------------------------------------------------------------
    step("continue", lambda: sorted(bpy.ops.tdmm.continue_action(prompt="then she laughs", seconds=1.0,
                                                                  seed=1, variations=1)))
    cont = arm.animation_data.action
    r["continue_action"] = [cont.name, list(cont.frame_range), cont["tdmm_continues"], key.animation_data.action.name]
    jaw_w = curves(arm)['pose.bones["jaw"].rotation_quaternion[0]']
    r["continue_seam"] = [jaw_w.evaluate(51), float(np.cos(0.1))]
    r["hand_after_continue"] = [snapshot(bpy.data.actions[hand_arm.name]) == hand["arm"],
                                snapshot(bpy.data.actions[hand_key.name]) == hand["key"],
                                bpy.data.actions[hand_arm.name].use_fake_user]

    # -- in-between frames 10 and 40 of the hand-keyed actions ---------------------------------------------
    arm.animation_data.action, arm.animation_data.action_slot = hand_arm, hand_arm.slots[0]
    key.animation_data.action, key.animation_data.action_slot = hand_key, hand_key.slots[0]
    key.key_blocks["browInnerUp"].value = 0.0        # its resting value (a baked action may have left another)
    step("inbetween", lambda: sorted(bpy.ops.tdmm.inbetween(prompt="a quick surprised look", frame_from=10,
                                                            frame_to=40, seed=2)))
    new_arm, new_key = arm.animation_data.action, key.animation_data.action
    got = {n: [fc.evaluate(f) for f in sample] for idb in (arm, key) for n, fc in curves(idb).items()}
    jaw_new = curves(arm)['pose.bones["jaw"].rotation_quaternion[0]']
    r["inbetween"] = {
        "actions": [new_arm.name, new_key.name], "orig": orig, "got": got,
        "bridge_frames": sorted({k.co[0] for k in jaw_new.keyframe_points}),
        "bridge_jaw_w": [jaw_new.evaluate(f) for f in range(10, 41)],
        "unkeyed_brow": [curves(key)['key_blocks["browInnerUp"].value[0]'].evaluate(f) for f in (1, 10, 25, 40, 50)],
        "hand_untouched": [snapshot(bpy.data.actions[hand_arm.name]) == hand["arm"],
                           snapshot(bpy.data.actions[hand_key.name]) == hand["key"]],
        "hand_kept": [bpy.data.actions[hand_arm.name].use_fake_user, bpy.data.actions[hand_key.name].use_fake_user],
    }
    step("inbetween_short", lambda: sorted(bpy.ops.tdmm.inbetween(prompt="x", frame_from=10, frame_to=14)))
    scene.use_preview_range = False
    for idb in (arm, key):
        for fc in curves(idb).values():
            for k in fc.keyframe_points:
                k.select_control_point = False
    step("inbetween_no_range", lambda: sorted(bpy.ops.tdmm.inbetween(prompt="x")))

    # -- splicing into Euler-keyed bones (no engine: a made-up bridge) ------------------------------------
    from engine.clip import MotionClip
    from tdmm_blender import splice
    bpy.ops.tdmm.add_head()
    arm2 = bpy.context.view_layer.objects.active
    neck = arm2.pose.bones["neck"]
    neck.rotation_mode = "XYZ"
    for frame, angle in [(1, 0.0), (10, 0.1), (30, 0.3)]:
        neck.rotation_euler = (angle, 0, 0)
        neck.keyframe_insert("rotation_euler", frame=frame)
    n = 19
    pose = np.zeros((n, 5, 3))
    pose[:, 1, 0] = np.linspace(0.1, 0.3, n + 2)[1:-1] + 0.05 * np.sin(np.linspace(0, np.pi, n))
    names = list(arm2["tdmm_expr_names"])
    bridge = MotionClip(pose=pose, expr=np.zeros((n, len(names))), expr_names=names, fps=25.0).validate()
    res = splice.splice_clip(arm2, bridge, 10, 30, name="euler bridge")
    fc = curves(arm2)['pose.bones["neck"].rotation_euler[0]']
    r["euler"] = {"action": res.action.name, "kept": res.kept,
                  "ends": [fc.evaluate(f) for f in (1, 10, 30)],
                  "inside": [fc.evaluate(f) for f in range(11, 30)], "want": pose[:, 1, 0].tolist(),
                  "quat_curves": sum(1 for k in curves(arm2) if "neck" in k and "quaternion" in k)}
    tdmm_blender.unregister()

    # -- what `tdmm bake` wrote ---------------------------------------------------------------------------------
    bpy.ops.wm.open_mainfile(filepath=blend)
    r["baked"] = sorted([a.name, list(a.frame_range), a["tdmm_line"]] for a in bpy.data.actions)
    r["baked_heads"] = [o.name for o in bpy.data.objects if "tdmm_head" in o.keys()]
    img = bpy.data.images.load(sheet)
    w, h = img.size
    px = np.empty(w * h * 4, np.float32)
    img.pixels.foreach_get(px)
    px = px.reshape(h, w, 4)[..., :3]
    cells = [px[:, i * (w // 3):(i + 1) * (w // 3)] for i in range(3)]
    r["sheet"] = {"size": [w, h], "cell_diff": [float(np.abs(cells[i] - cells[i + 1]).mean()) for i in range(2)]}
    print("REPORT " + json.dumps(r))
""").replace("{STEP}\n", STEP)


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    work = tmp_path_factory.mktemp("batch")
    (work / "shots.csv").write_text(BATCH_CSV)
    (work / "list.txt").write_text("a shy smile\n\nnods twice\n   \nlooks left\n")
    t = time.perf_counter()
    cli = subprocess.run([sys.executable, "-m", "engine.cli", "bake", "--prompts", str(work / "list.txt"),
                          "--out", str(work / "out"), "--seconds", "1.0", "--seed", "3", "--render"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    cli_s = time.perf_counter() - t
    assert cli.returncode == 0, cli.stdout + cli.stderr
    script = work / "probe.py"
    script.write_text(_PROBE)
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([sys.executable, str(script), str(ROOT), str(work), str(work / "out" / "list.blend"),
                           str(work / "out" / "list_sheet.png")],
                          cwd=work, env=env, capture_output=True, text=True, timeout=600)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("REPORT ")]
    assert proc.returncode == 0 and lines, (proc.stdout + proc.stderr)[-6000:]
    report = json.loads(lines[-1][len("REPORT "):])
    assert not report["errors"], "\n".join(report["errors"])
    return report, proc.stdout + proc.stderr, cli, cli_s


def test_a_batch_of_five_prompts_gives_five_named_actions_with_their_frame_ranges(probe):
    r, _, _, _ = probe
    assert r["add_head"] == ["FINISHED"] and r["batch"] == ["FINISHED"], r
    got = r["batch_actions"]
    assert [(line, prompt) for _, _, line, prompt, _ in got] == [(line, p) for line, p, _ in BATCH_GOOD]
    assert [name for name, *_ in got] == [p for _, p, _ in BATCH_GOOD]
    assert [rng for _, rng, *_ in got] == [[1.0, float(n)] for _, _, n in BATCH_GOOD]
    assert all(fake for *_, fake in got)
    # From a Text datablock: one prompt per line, the operator's seconds.
    assert r["text"] == ["FINISHED"] and r["text_actions"] == ["a big grin", "looks up"]


def test_bad_prompt_lines_are_reported_with_their_numbers_and_skipped(probe):
    r, log, _, _ = probe
    problems = r["batch_problems"]
    assert len(problems) == len(BATCH_BAD)
    for p, (line, says) in zip(problems, sorted(BATCH_BAD.items())):
        assert f"shots.csv line {line}: " in p and says in p, p
        assert f"line {line}: " in log                            # the operator reported it too
    assert r["all_bad"].startswith("EXC ") and "has no prompt to bake" in r["all_bad"]
    assert "Traceback" not in r["all_bad"]


def test_cancelling_mid_batch_keeps_the_finished_actions(probe):
    c = probe[0]["cancel"]
    assert c["cancelled"] and c["error"] is None
    assert c["actions"][:1] == ["one"] and len(c["actions"]) in (1, 2)     # the second may have been done
    assert all(c["in_file"]) and c["new"] == sorted(c["actions"])


def test_continue_writes_a_new_action_after_the_last_key_and_leaves_the_original_untouched(probe):
    r = probe[0]
    assert r["continue"] == ["FINISHED"], r["continue"]
    name, frame_range, continues, key_action = r["continue_action"]
    assert name not in r["hand_names"] and name.startswith("then she laughs")
    assert frame_range == [51.0, 75.0]                       # 1 s at 25 fps, from the frame after the last key
    assert continues == r["hand_names"] and key_action == name
    assert r["hand_after_continue"] == [True, True, True]
    w, w_last_key = r["continue_seam"]                       # the jaw carries on from its last pose
    assert abs(w - w_last_key) < 0.02


def test_inbetween_matches_the_keys_at_both_ends_and_leaves_the_original_untouched(probe):
    r = probe[0]
    assert r["inbetween"] and r["inbetween"]["actions"][0] not in r["hand_names"], r
    ib = r["inbetween"]
    assert ib["hand_untouched"] == [True, True] and ib["hand_kept"] == [True, True]
    # Outside the range (and on both key poses) the new actions play exactly the animator's keys.
    for name, values in ib["orig"].items():
        assert ib["got"][name] == pytest.approx(values, abs=1e-6), name
    # Inside, a bridge keyed on every frame 11..39 that leaves and reaches the poses smoothly.
    assert ib["bridge_frames"] == [1.0, 10.0] + [float(f) for f in range(11, 40)] + [40.0, 50.0]
    w = ib["bridge_jaw_w"]
    assert max(abs(a - b) for a, b in zip(w, w[1:])) < 0.02
    # A channel the animator never keyed: at rest at both ends and outside the range.
    brow = ib["unkeyed_brow"]
    assert brow[0] == brow[1] == brow[3] == brow[4] == 0.0
    assert r["inbetween_short"].startswith("EXC ") and "0.12 s" in r["inbetween_short"]
    assert r["inbetween_no_range"].startswith("EXC ") and "preview range" in r["inbetween_no_range"]


def test_splicing_keys_euler_bones_in_their_own_mode(probe):
    e = probe[0]["euler"]
    assert e["action"] == "euler bridge" and e["kept"] and e["quat_curves"] == 0
    assert e["ends"] == pytest.approx([0.0, 0.1, 0.3], abs=1e-6)
    assert e["inside"] == pytest.approx(e["want"], abs=1e-5)


def test_tdmm_bake_writes_one_action_per_prompt_and_prints_them(probe):
    r, _, cli, cli_s = probe
    assert r["baked"] == [["a shy smile", [1.0, 25.0], 1], ["looks left", [1.0, 25.0], 5],
                          ["nods twice", [1.0, 25.0], 3]]
    assert r["baked_heads"] == ["TDMM Head"]
    for line, prompt in [(1, "a shy smile"), (3, "nods twice"), (5, "looks left")]:
        assert f"line {line}: '{prompt}' -> action '{prompt}', frames 1-25" in cli.stdout, cli.stdout
    assert "wrote " in cli.stdout and "3 action(s)" in cli.stdout
    # --render: a contact sheet, one 256 px cell per prompt, the cells not all alike
    assert r["sheet"]["size"] == [3 * 256, 256]
    assert min(r["sheet"]["cell_diff"]) > 0.002, r["sheet"]


def test_tdmm_bake_reports_a_list_without_good_lines(tmp_path):
    (tmp_path / "bad.csv").write_text(",4\nx,99\n")
    p = subprocess.run([sys.executable, "-m", "engine.cli", "bake", "--prompts", str(tmp_path / "bad.csv"),
                        "--out", str(tmp_path / "o")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "bad.csv line 1: the prompt is empty" in p.stderr and "bad.csv line 2: seconds is 99" in p.stderr
    assert "has no prompt to bake" in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / "o").exists()
