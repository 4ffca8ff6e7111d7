"""The engine inside Blender: the worker protocol, the worker process, and the add-on's operators.

The Blender half runs in a bpy subprocess with its own BLENDER_USER_RESOURCES: it installs the
torch-less extension zip, hides torch from Blender's process (a real Blender has none), and
points the add-on's "Engine Python" preference at this venv's Python, which has torch. (A zip
with torch bundled is not installed here: unpacking 190 MB of wheels per run is too slow for
the suite; tests/test_extension.py checks the builder's torch bundling plan instead.)
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from bpy_probe import STEP

from engine import protocol
from engine.clip import MotionClip
from engine.errors import InputError

PROMPT = "a shy smile that turns into a laugh"
SEED = 3


def _clip(T=10, K=3, fps=25.0):
    rng = np.random.default_rng(0)
    return MotionClip(pose=rng.uniform(-0.3, 0.3, (T, 5, 3)), expr=rng.normal(0, 0.5, (T, K)),
                      expr_names=[f"c{i}" for i in range(K)], fps=fps, transl=rng.normal(0, 0.01, (T, 3)),
                      text=["a nod"], meta={"k": [1, 2]}).validate()


# -- the wire format ----------------------------------------------------------------------------
def test_protocol_round_trips_headers_arrays_and_clips():
    buf = io.BytesIO()
    descs, arrays = protocol.pack_clips([_clip(), _clip(T=4, fps=30)])
    protocol.write_message(buf, {"type": "clips", "id": 7, "clips": descs}, arrays)
    protocol.write_message(buf, {"type": "pong", "id": 8}, {"b": np.arange(6, dtype=">i4").reshape(2, 3)})
    buf.seek(0)
    header, got = protocol.read_message(buf)
    assert header["type"] == "clips" and header["id"] == 7
    back = protocol.unpack_clips(header["clips"], got)
    for a, b in zip(back, [_clip(), _clip(T=4, fps=30)]):
        np.testing.assert_array_equal(a.pose, b.pose)
        np.testing.assert_array_equal(a.expr, b.expr)
        assert (a.expr_names, a.fps, a.text, a.meta) == (b.expr_names, b.fps, b.text, b.meta)
    header, got = protocol.read_message(buf)
    np.testing.assert_array_equal(got["b"], np.arange(6).reshape(2, 3))    # big-endian sent as little
    assert protocol.read_message(buf) is None                                 # clean end of stream


@pytest.mark.parametrize("stream, match", [
    (b"PICKLE\x80\x04", "does not start a message"),
    (protocol.MAGIC + (protocol.MAX_HEADER + 1).to_bytes(4, "big"), "at most"),
    (protocol.MAGIC + (5).to_bytes(4, "big") + b"[1,2]", "with a 'type'"),
    (protocol.MAGIC + (40).to_bytes(4, "big") + b'{"type":"x","arrays":[["a","|O",[3]]]}  ', "not allowed"),
    (protocol.MAGIC + (44).to_bytes(4, "big") + b'{"type":"x","arrays":[["a","<f8",[4096]]]}  ' + b"\0" * 8,
     "stream ended"),
])
def test_protocol_refuses_what_is_not_a_message(stream, match):
    with pytest.raises(protocol.ProtocolError, match=match):
        protocol.read_message(io.BytesIO(stream))


def test_protocol_never_sends_objects():
    with pytest.raises(protocol.ProtocolError, match="dtype"):
        protocol.write_message(io.BytesIO(), {"type": "x"}, {"a": np.array([{"x": 1}], dtype=object)})


# -- the worker process, driven by the add-on's client (no bpy) -----------------------------------
@pytest.fixture(scope="module")
def reference():
    """What the engine itself makes for PROMPT / SEED (4 s and, for the restart, 0.5 s)."""
    from engine.engine import Engine
    eng = Engine()
    return {4.0: eng.generate([PROMPT], seconds=4.0, seed=SEED)[0],
            0.5: eng.generate([PROMPT], seconds=0.5, seed=SEED)[0]}


def test_worker_round_trip_matches_the_engine(reference):
    from tdmm_blender.engine_client import EngineClient
    c = EngineClient(python=sys.executable)
    try:
        req = c.submit("generate", {"prompts": [PROMPT], "seconds": 4.0, "seed": SEED})
        assert c.state_text() == "starting"
        c.wait(req, 300)
        assert req.error is None, req.error
        (clip,) = req.clips
        ref = reference[4.0]
        np.testing.assert_array_equal(clip.pose, ref.pose)
        np.testing.assert_array_equal(clip.expr, ref.expr)
        assert clip.expr_names == ref.expr_names and clip.text == [PROMPT] and clip.fps == ref.fps
        assert c.status == "ready" and c.info["torch"]
        # An InputError reaches the add-on verbatim; the worker stays up.
        bad = c.wait(c.submit("generate", {"prompts": [PROMPT], "seconds": 99}))
        with pytest.raises(InputError) as want:
            from engine.engine import _check_number
            _check_number("seconds", 99, 0.5, 20.0)
        assert bad.error == str(want.value)
        # A caption: text once a captioner ships, until then the loader's "not installed" error.
        cap = c.wait(c.submit("caption", {}, clip=clip), 300)
        if os.path.exists(os.path.join(os.path.dirname(protocol.__file__), "..", "assets", "m2l",
                                       "captioner.json")):
            assert cap.error is None and cap.text
        else:
            assert cap.error.startswith("captioner:") and "not trained or installed" in cap.error
        pong = c.wait(c.submit("ping"))
        assert pong.info["loaded"]["generator"] and c.starts == 1
    finally:
        c.stop()
    assert c.proc is None and c.status == "not started"


def test_worker_without_torch_says_how_to_fix_it(tmp_path):
    """A Python without torch (Blender's, from a torch-less zip) gives one clear line, no traceback."""
    from tdmm_blender.engine_client import EngineClient
    (tmp_path / "torch.py").write_text("raise ImportError('No module named torch (hidden by the test)')\n")
    c = EngineClient(python=sys.executable)
    cmd, env = c.command()
    c.command = lambda: (cmd, dict(env, PYTHONPATH=f"{tmp_path}{os.pathsep}{env['PYTHONPATH']}"))
    req = c.wait(c.submit("ping"), 60)
    assert "install torch there, or point the add-on at a Python with torch" in req.error
    assert c.status.startswith("error: ") and c.proc is None


# -- inside Blender (bpy 5.0.1 and 5.3.0, the installed extension) -------------------------------------------
_BLENDER_SCRIPT = textwrap.dedent(r"""
    import importlib.abc, json, os, signal, sys, threading, time, traceback
    zip_path, python, out = sys.argv[1], sys.argv[2], sys.argv[3]
    module = "bl_ext.user_default.tdmm"

    class NoTorch(importlib.abc.MetaPathFinder):        # Blender's Python has no torch
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in {"torch", "transformers"}:
                raise ImportError(f"{name} is hidden by the test")
    sys.meta_path.insert(0, NoTorch())

    import bpy
    {STEP}

    t = time.perf_counter()
    bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True)
    r["install_s"] = time.perf_counter() - t
    for _ in range(2):
        bpy.ops.preferences.addon_disable(module=module)
        bpy.ops.preferences.addon_enable(module=module)
    ec = sys.modules.get(module + ".engine_client")
    r["started_by_register"] = bool(ec and ec.peek() and ec.peek().starts)
    r["torch_after_register"] = "torch" in sys.modules

    bpy.context.preferences.addons[module].preferences.python_path = python
    step("add_head", lambda: sorted(bpy.ops.tdmm.add_head()))
    arm = bpy.context.view_layer.objects.active
    import importlib
    keys = importlib.import_module(module + ".keys")
    def generate(**kw):
        return sorted(bpy.ops.tdmm.generate(**kw))
    step("gen", lambda: generate(prompt=os.environ["P"], seconds=4.0, seed=int(os.environ["S"])))
    first = arm.animation_data.action
    print("GEN", r["gen"], flush=True)
    r["first_action"] = first.name
    keys.read_clip(arm).save(os.path.join(out, "keys.npz"))
    r["first_keys"] = sum(len(fc.keyframe_points) for fc in keys._assigned_fcurves(arm).values())
    step("gen2", lambda: generate(prompt="a slow nod", seconds=1.0, seed=1, variations=2))
    r["actions"] = sorted(a.name for a in bpy.data.actions)
    r["first_kept"] = [first.name in bpy.data.actions, first.use_fake_user]
    arm.animation_data.action = first
    arm.animation_data.action_slot = first.slots[0]
    r["first_keys_after"] = sum(len(fc.keyframe_points) for fc in keys._assigned_fcurves(arm).values())
    step("caption", lambda: sorted(bpy.ops.tdmm.caption()))
    r["caption_prop"] = first.get("tdmm_caption")

    client = sys.modules[module + ".engine_client"].peek()
    pid = client.proc.pid
    def kill_when_busy():
        end = time.monotonic() + 120
        while time.monotonic() < end:
            busy = client.busy()
            if busy is not None and busy.stage == "generating":
                os.kill(pid, signal.SIGKILL)
                return
            time.sleep(0.005)
    threading.Thread(target=kill_when_busy, daemon=True).start()
    step("crash", lambda: generate(prompt="a frown", seconds=20.0, seed=2))
    r["state_after_crash"] = client.state_text()
    step("restart", lambda: generate(prompt=os.environ["P"], seconds=0.5, seed=int(os.environ["S"])))
    keys.read_clip(arm).save(os.path.join(out, "restart.npz"))
    r["starts"] = client.starts
    pid2 = client.proc.pid
    bpy.ops.preferences.addon_disable(module=module)
    time.sleep(0.2)
    r["worker_gone"] = client.proc is None and not os.path.exists(f"/proc/{pid2}")
    print("REPORT " + json.dumps(r))
""").replace("{STEP}\n", STEP)


def _bpy53_python() -> str | None:
    """A Python 3.13 with bpy 5.3.0 (Blender 5.1+ embed 3.13): $TDMM_BPY53_PYTHON, or the .venv313
    that `make test` sets up."""
    from pathlib import Path
    p = os.environ.get("TDMM_BPY53_PYTHON") or str(Path(__file__).resolve().parents[1] / ".venv313" / "bin" / "python")
    return p if os.path.isfile(p) else None


@pytest.fixture(scope="module", params=["bpy-5.0.1", "bpy-5.3.0"])
def blender_run(request, tmp_path_factory):
    """The probe in bpy 5.0.1 (this venv's Python, the cp311 zip) and in bpy 5.3.0 (Python 3.13, the
    cp313 zip); the worker runs on this venv's Python in both."""
    from training.build import extension_build as eb
    if request.param == "bpy-5.0.1":
        blender_python, py = sys.executable, "3.11"
    else:
        blender_python, py = _bpy53_python(), "3.13"
        if blender_python is None:
            pytest.skip("no Python 3.13 with bpy 5.3.0: `make test` sets up .venv313 (or set TDMM_BPY53_PYTHON)")
    tmp = tmp_path_factory.mktemp("engine-in-blender")
    # The zip with its own wheels (safetensors, cached in build/wheels): a real Blender has no
    # safetensors, and this venv's site-packages must not stand in for the zip's.
    try:
        (zpath,) = eb.build(out_dir=tmp / "dist", platform="linux-x64", python=py,
                            wheel_cache=eb.REPO_ROOT / "build" / "wheels")
    except eb.ExtensionBuildError as err:              # as tests/test_extension.py's wheel_build
        if "pip download" in str(err):
            pytest.skip(f"safetensors wheel not cached and PyPI unreachable: {err}")
        raise
    script = tmp / "probe.py"
    script.write_text(_BLENDER_SCRIPT)
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp / "user"), P=PROMPT, S=str(SEED))
    env.pop("PYTHONPATH", None)
    t = time.perf_counter()
    proc = subprocess.run([blender_python, str(script), str(zpath), sys.executable, str(tmp)], cwd=tmp, env=env,
                          capture_output=True, text=True, timeout=600)
    log = proc.stdout + proc.stderr
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("REPORT ")]
    assert proc.returncode == 0 and lines, log[-6000:]
    report = json.loads(lines[-1][len("REPORT "):])
    assert not report["errors"], "\n".join(report["errors"])
    report["wall_s"] = time.perf_counter() - t
    return report, tmp


def test_registering_twice_never_starts_the_engine(blender_run):
    report, _ = blender_run
    assert report["started_by_register"] is False
    assert report["torch_after_register"] is False


def test_generate_operator_writes_new_actions_matching_the_engine(blender_run, reference):
    report, tmp = blender_run
    assert report["add_head"] == ["FINISHED"] and report["gen"] == ["FINISHED"], report
    keyed = MotionClip.load(tmp / "keys.npz")
    ref = reference[4.0]
    ref, _, _ = ref.with_channels(keyed.expr_names)
    assert keyed.num_frames == ref.num_frames == 100
    np.testing.assert_allclose(keyed.pose, ref.pose, atol=1e-5)
    np.testing.assert_allclose(keyed.expr, ref.expr, atol=1e-5)
    assert keyed.text == [PROMPT]
    # Two variations: two more actions; the first one is kept, keys untouched.
    assert report["gen2"] == ["FINISHED"] and len(report["actions"]) == 3, report["actions"]
    assert report["first_kept"] == [True, True]
    assert report["first_keys_after"] == report["first_keys"] > 0


def test_caption_reports_a_missing_captioner_or_stores_its_text(blender_run):
    report, _ = blender_run
    if report["caption"] == ["FINISHED"]:
        assert report["caption_prop"]
    else:
        assert "captioner" in report["caption"] and "not trained or installed" in report["caption"]
        assert "Traceback" not in report["caption"]


def test_a_killed_worker_is_reported_and_the_next_request_restarts_it(blender_run, reference):
    report, tmp = blender_run
    assert report["crash"].startswith("EXC ") and "stopped unexpectedly" in report["crash"], report["crash"]
    assert "restarts on the next request" in report["crash"]
    assert report["state_after_crash"].startswith("error: ")
    assert report["restart"] == ["FINISHED"] and report["starts"] == 2
    keyed = MotionClip.load(tmp / "restart.npz")
    ref, _, _ = reference[0.5].with_channels(keyed.expr_names)
    np.testing.assert_allclose(keyed.expr, ref.expr, atol=1e-5)
    assert report["worker_gone"], "disabling the add-on must stop its worker"
