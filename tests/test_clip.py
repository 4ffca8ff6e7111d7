"""MotionClip: validation, the .npz file, tracker spellings, channel re-mapping."""
import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from engine.clip import FILE_KEYS, ClipError, ClipWarning, MotionClip, load_clip
from engine.head import JOINT_NAMES


def make_clip(T=12, K=4, seed=0, **overrides) -> MotionClip:
    rng = np.random.default_rng(seed)
    kw = dict(
        pose=rng.uniform(-0.5, 0.5, (T, 5, 3)),
        expr=rng.uniform(-2, 2, (T, K)),
        expr_names=[f"ch{i}" for i in range(K)],
        fps=30.0,
        transl=rng.uniform(-0.01, 0.01, (T, 3)),
        text=["a slow smile", "she smiles slowly"],
        meta={"seed": 7, "labels": {"emotion": "joy"}},
    )
    kw.update(overrides)
    return MotionClip(**kw)


def load_quietly(path) -> MotionClip:
    """load_clip, failing the test if it warns about unmapped keys."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ClipWarning)
        return load_clip(path)


# -- the dataclass ----------------------------------------------------------------
def test_post_init_converts():
    pose = np.zeros((3, 3, 5)).transpose(0, 2, 1)      # float64, not contiguous
    clip = MotionClip(pose=pose, expr=[[1, 2]] * 3, expr_names=("a", "b"), text="hello")
    assert clip.pose.dtype == np.float32 and clip.pose.flags.c_contiguous
    assert clip.expr.dtype == np.float32 and clip.expr.shape == (3, 2)
    assert clip.transl.shape == (3, 3) and not clip.transl.any()
    assert clip.text == ["hello"] and clip.expr_names == ["a", "b"] and clip.meta == {}
    assert clip.validate() is clip


def test_zeros_frames_duration():
    clip = MotionClip.zeros(50, ["a", "b"], fps=25.0)
    assert clip.pose.shape == (50, 5, 3) and clip.expr.shape == (50, 2)
    assert clip.num_frames == 50 and clip.duration == pytest.approx(2.0)
    assert not clip.pose.any() and not clip.expr.any() and not clip.transl.any()


def test_non_numeric_array_is_clip_error():
    with pytest.raises(ClipError, match="'expr'"):
        MotionClip(pose=np.zeros((2, 5, 3)), expr=[["x", "y"]] * 2, expr_names=["a", "b"])


def test_axis_angle_of_exactly_pi_is_allowed():
    pose = np.zeros((2, 5, 3), np.float32)
    pose[:, 0, 1] = np.float32(np.pi)
    make_clip(T=2, pose=pose).validate()


# -- validation: every rule names the key ------------------------------------------
def _nan_at(key, t):
    def f(kw):
        kw[key] = np.array(kw[key], np.float64)
        kw[key][t] = np.nan if key != "pose" else np.inf
    return f


def _set(key, value):
    def f(kw):
        kw[key] = value(kw) if callable(value) else value
    return f


def _big_jaw(kw):
    kw["pose"][2, 2] = [0.0, 3.5, 0.0]


def _big_expr(kw):
    kw["expr"][5, 1] = -10.5


INVALID = {
    "nan expr": (_nan_at("expr", 3), ["'expr'", "NaN or inf", "frame 3"]),
    "inf pose": (_nan_at("pose", 4), ["'pose'", "frame 4"]),
    "nan transl": (_nan_at("transl", 0), ["'transl'", "frame 0"]),
    "pose shape": (_set("pose", np.zeros((12, 4, 3))), ["'pose'", "[12, 4, 3]", "[T,5,3]"]),
    "pose flat": (_set("pose", np.zeros((12, 15))), ["'pose'", "[12, 15]"]),
    "expr frames": (_set("expr", np.zeros((11, 4))), ["'expr'", "[11, 4]", "[12,K]"]),
    "transl shape": (_set("transl", np.zeros((12, 2))), ["'transl'", "[12, 2]", "[12,3]"]),
    "axis-angle > pi": (_big_jaw, ["'pose'", "'jaw'", "frame 2", "pi"]),
    "expr > 10": (_big_expr, ["'expr'", "'ch1'", "frame 5"]),
    "fps 0": (_set("fps", 0.0), ["'fps'", "[1, 240]"]),
    "fps 500": (_set("fps", 500), ["'fps'"]),
    "fps nan": (_set("fps", float("nan")), ["'fps'"]),
    "fps inf": (_set("fps", float("inf")), ["'fps'"]),
    "fps text": (_set("fps", "fast"), ["'fps'"]),
    "no frames": (_set("pose", np.zeros((0, 5, 3))), ["'pose'", "0 frames"]),
    "names count": (_set("expr_names", ["a", "b", "c"]), ["'expr_names'", "3 names", "4 channels"]),
    "names repeat": (_set("expr_names", ["a", "b", "a", "c"]), ["'expr_names'", "repeats a"]),
    "meta not json": (_set("meta", {"f": object()}), ["'meta'"]),
}


@pytest.mark.parametrize("mutate,words", INVALID.values(), ids=INVALID.keys())
def test_validation_names_key_and_problem(mutate, words):
    rng = np.random.default_rng(1)
    kw = dict(pose=rng.uniform(-0.5, 0.5, (12, 5, 3)), expr=rng.uniform(-2, 2, (12, 4)),
              expr_names=["ch0", "ch1", "ch2", "ch3"], fps=25.0, transl=np.zeros((12, 3)))
    mutate(kw)
    with pytest.raises(ClipError) as e:
        MotionClip(**kw).validate()
    for w in words:
        assert w in str(e.value), f"{w!r} not in: {e.value}"


# -- our file --------------------------------------------------------------------
def test_save_load_round_trip_exact(tmp_path):
    clip = make_clip()
    path = clip.save(tmp_path / "a.npz")
    with np.load(path, allow_pickle=False) as z:
        assert set(z.files) == set(FILE_KEYS)
        assert json.loads(str(z["meta"])) == clip.meta
    back = load_quietly(path)
    for key in ("pose", "expr", "transl"):
        a, b = getattr(clip, key), getattr(back, key)
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    assert back.expr_names == clip.expr_names and back.fps == clip.fps
    assert back.text == clip.text and back.meta == clip.meta
    assert MotionClip.load(path).expr.tobytes() == clip.expr.tobytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz"]   # no temp files left


def test_round_trip_empty_text_and_no_channels(tmp_path):
    clip = MotionClip.zeros(3, [])
    back = load_clip(clip.save(tmp_path / "z.npz"))
    assert back.expr.shape == (3, 0) and back.expr_names == [] and back.text == [] and back.meta == {}


def test_save_adds_suffix(tmp_path):
    assert make_clip().save(tmp_path / "clip") == tmp_path / "clip.npz"
    assert (tmp_path / "clip.npz").is_file()


def test_failed_save_leaves_no_file_and_keeps_old(tmp_path, monkeypatch):
    bad = make_clip(fps=0.0)
    target = tmp_path / "c.npz"
    with pytest.raises(ClipError, match="'fps'"):
        bad.save(target)
    assert list(tmp_path.iterdir()) == []

    make_clip(seed=3).save(target)
    good = target.read_bytes()
    with pytest.raises(ClipError):
        bad.save(target)
    assert target.read_bytes() == good

    # A failure half way through writing (disk full, ...) also keeps the old file.
    def half_write(f, **arrays):
        f.write(b"PK\x03\x04 half")
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(np, "savez", half_write)
    with pytest.raises(ClipError, match="No space left"):
        make_clip(seed=4).save(target)
    assert target.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]


def test_save_into_missing_folder(tmp_path):
    with pytest.raises(ClipError, match="cannot write"):
        make_clip().save(tmp_path / "nope" / "c.npz")


# -- other people's files ------------------------------------------------------------
def test_tracker_spellings_land_in_right_joints(tmp_path):
    T, rng = 10, np.random.default_rng(2)
    arr = {k: rng.uniform(-0.3, 0.3, (T, n)) for k, n in
           [("exp", 50), ("jaw_pose", 3), ("neck_pose", 3), ("global_pose", 3), ("eye_pose", 6), ("trans", 3)]}
    np.savez(tmp_path / "t.npz", **arr)
    clip = load_quietly(tmp_path / "t.npz")
    f32 = lambda a: a.astype(np.float32)   # noqa: E731
    assert np.array_equal(clip.pose[:, JOINT_NAMES.index("global")], f32(arr["global_pose"]))
    assert np.array_equal(clip.pose[:, JOINT_NAMES.index("neck")], f32(arr["neck_pose"]))
    assert np.array_equal(clip.pose[:, JOINT_NAMES.index("jaw")], f32(arr["jaw_pose"]))
    assert np.array_equal(clip.pose[:, JOINT_NAMES.index("eye_left")], f32(arr["eye_pose"][:, :3]))
    assert np.array_equal(clip.pose[:, JOINT_NAMES.index("eye_right")], f32(arr["eye_pose"][:, 3:]))
    assert np.array_equal(clip.expr, f32(arr["exp"])) and np.array_equal(clip.transl, f32(arr["trans"]))
    assert clip.expr_names[:2] == ["exp000", "exp001"] and len(clip.expr_names) == 50
    assert clip.fps == 25.0 and any("fps" in n for n in clip.meta["notes"])
    assert "unmapped_keys" not in clip.meta


@pytest.mark.parametrize("key,slot", [
    ("exp", "expr"), ("expression", "expr"), ("expr", "expr"),
    ("trans", "transl"), ("transl", "transl"), ("translation", "transl"),
    ("global_pose", 0), ("global_orient", 0), ("rotation", 0), ("root_pose", 0),
    ("neck_pose", 1), ("jaw_pose", 2), ("leye_pose", 3), ("reye_pose", 4),
])
def test_each_spelling(tmp_path, key, slot):
    values = np.full((4, 3), 0.25)
    arrays = {key: values}
    if slot != "expr":   # give the clip some expression so only `key` is under test
        arrays["exp"] = np.zeros((4, 2))
    np.savez(tmp_path / "s.npz", **arrays)
    clip = load_clip(tmp_path / "s.npz")
    got = clip.expr if slot == "expr" else clip.transl if slot == "transl" else clip.pose[:, slot]
    assert np.array_equal(got, values.astype(np.float32))
    if isinstance(slot, int):
        assert not np.delete(clip.pose, slot, axis=1).any()


@pytest.mark.parametrize("shape", [(6, 5, 3), (6, 15)])
@pytest.mark.parametrize("key", ["pose", "poses"])
def test_full_pose_layouts(tmp_path, key, shape):
    pose = np.random.default_rng(3).uniform(-1, 1, (6, 5, 3))
    np.savez(tmp_path / "p.npz", **{key: pose.reshape(shape)}, exp=np.zeros((6, 3)), frame_rate=np.array(50))
    clip = load_clip(tmp_path / "p.npz")
    assert np.array_equal(clip.pose, pose.astype(np.float32)) and clip.fps == 50.0


@pytest.mark.parametrize("key", ["fps", "frame_rate", "framerate"])
def test_fps_spellings(tmp_path, key):
    np.savez(tmp_path / "f.npz", exp=np.zeros((2, 1)), **{key: np.float32(60)})
    assert load_clip(tmp_path / "f.npz").fps == 60.0


def test_expr_names_from_file(tmp_path):
    np.savez(tmp_path / "n.npz", exp=np.zeros((2, 2)), expr_names=np.array(["jawOpen", "mouthSmileLeft"]))
    assert load_clip(tmp_path / "n.npz").expr_names == ["jawOpen", "mouthSmileLeft"]


def test_unmapped_keys_reported(tmp_path):
    np.savez(tmp_path / "u.npz", exp=np.zeros((3, 2)), shape=np.zeros(100), cam=np.zeros((3, 3)))
    with pytest.warns(ClipWarning, match="cam, shape"):
        clip = load_clip(tmp_path / "u.npz")
    assert clip.meta["unmapped_keys"] == ["cam", "shape"]


@pytest.mark.parametrize("a,b", [("exp", "expression"), ("pose", "jaw_pose"),
                                 ("eye_pose", "leye_pose"), ("trans", "transl"), ("fps", "framerate")])
def test_two_keys_for_one_slot(tmp_path, a, b):
    shapes = {"pose": (3, 15), "eye_pose": (3, 6), "fps": (), "framerate": ()}
    np.savez(tmp_path / "d.npz", **{k: np.zeros(shapes.get(k, (3, 3))) for k in (a, b)})
    with pytest.raises(ClipError) as e:
        load_clip(tmp_path / "d.npz")
    assert f"'{a}'" in str(e.value) and f"'{b}'" in str(e.value)


@pytest.mark.parametrize("arrays,words", [
    ({"exp": np.zeros((5, 2)), "jaw_pose": np.zeros((4, 3))}, ["'exp' 5", "'jaw_pose' 4"]),
    ({"pose": np.zeros((5, 6))}, ["'pose'", "[5, 6]", "[T,5,3] or [T,15]"]),
    ({"eye_pose": np.zeros((5, 3))}, ["'eye_pose'", "[T,6]"]),
    ({"exp": np.zeros(5)}, ["'exp'", "[5]", "[T,K]"]),
    ({"exp": np.array([["a"]])}, ["'exp'", "expected numbers"]),
    ({"exp": np.zeros((2, 1)), "fps": np.array([25, 30])}, ["'fps'", "one number"]),
    ({"exp": np.zeros((2, 1)), "meta": np.array("{not json")}, ["'meta'", "JSON"]),
    ({"exp": np.full((2, 1), 20.0)}, ["'expr'", "frame 0"]),
    ({"cam": np.zeros(3)}, ["no expression or pose"]),
])
def test_bad_tracker_files(tmp_path, arrays, words):
    np.savez(tmp_path / "b.npz", **arrays)
    with pytest.raises(ClipError) as e, warnings.catch_warnings():
        warnings.simplefilter("ignore", ClipWarning)
        load_clip(tmp_path / "b.npz")
    assert str(tmp_path / "b.npz") in str(e.value)
    for w in words:
        assert w in str(e.value), f"{w!r} not in: {e.value}"


# -- files we refuse ---------------------------------------------------------------
RAN = []


class Payload:
    """Unpickling this would call RAN.append: it must never happen."""
    def __reduce__(self):
        return (RAN.append, ("unpickled!",))


def test_pickled_object_array_refused(tmp_path):
    np.savez(tmp_path / "o.npz", exp=np.zeros((2, 1)), text=np.array([Payload()], dtype=object))
    with pytest.raises(ClipError, match="'text' is an array of Python objects \\(a pickle\\); pickles are never read"):
        load_clip(tmp_path / "o.npz")
    assert RAN == []


def test_plain_pickle_refused(tmp_path):
    import pickle
    (tmp_path / "p.npz").write_bytes(pickle.dumps({"exp": Payload()}))
    with pytest.raises(ClipError, match="is a Python pickle, not an .npz archive; pickles are never read"):
        load_clip(tmp_path / "p.npz")
    assert RAN == []


def test_missing_npy_and_corrupt_files(tmp_path):
    with pytest.raises(ClipError, match="does not exist") as e:
        load_clip(tmp_path / "gone.npz")
    assert "gone.npz" in str(e.value)
    np.save(tmp_path / "one.npy", np.zeros((2, 5, 3)))
    with pytest.raises(ClipError, match="single unnamed array"):
        load_clip(tmp_path / "one.npy")
    make_clip().save(tmp_path / "cut.npz")
    data = (tmp_path / "cut.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ClipError, match="cut.npz"):
        load_clip(tmp_path / "cut.npz")


# -- channels ----------------------------------------------------------------------
def test_with_channels():
    clip = make_clip(K=3, expr_names=["a", "b", "c"])
    new, dropped, missing = clip.with_channels(["c", "x", "a"])
    assert new.expr_names == ["c", "x", "a"] and dropped == ["b"] and missing == ["x"]
    assert np.array_equal(new.expr[:, 0], clip.expr[:, 2]) and np.array_equal(new.expr[:, 2], clip.expr[:, 0])
    assert not new.expr[:, 1].any()
    assert np.array_equal(new.pose, clip.pose) and new.fps == clip.fps and new.text == clip.text
    assert clip.expr_names == ["a", "b", "c"] and clip.expr.shape == (12, 3)   # original untouched
    new.pose[0, 0, 0] = 1.0
    assert clip.pose[0, 0, 0] != 1.0
    new.validate()
    with pytest.raises(ClipError, match="not unique"):
        clip.with_channels(["a", "a"])


def test_clip_module_does_not_import_torch():
    code = "import sys, engine.clip; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parent.parent)
