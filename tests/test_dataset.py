"""Dataset folders (clip folder + shards), the tracker importer, bad-file reporting."""
import hashlib
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from engine.cli import main as tdmm
from engine.clip import MotionClip
from training.data.dataset import ClipDataset, DatasetError, DatasetWarning, assign_split, natural_key
from training.data.importers import REPORT_FILE, import_tracker


def tracker_arrays(T=20, K=50, seed=0):
    """What a FLAME tracker writes: its own key spellings, eye_pose as [T,6], an unmapped 'shape'."""
    rng = np.random.default_rng(seed)
    return {"exp": rng.uniform(-2, 2, (T, K)).astype(np.float32),
            "jaw_pose": rng.uniform(0, 0.3, (T, 3)).astype(np.float32),
            "global_pose": rng.uniform(-0.4, 0.4, (T, 3)).astype(np.float32),
            "eye_pose": rng.uniform(-0.2, 0.2, (T, 6)).astype(np.float32),
            "shape": np.zeros((T, 100), np.float32)}


def check_mapping(clip, a):
    np.testing.assert_array_equal(clip.expr, a["exp"])
    np.testing.assert_array_equal(clip.pose[:, 0], a["global_pose"])
    np.testing.assert_array_equal(clip.pose[:, 1], 0)
    np.testing.assert_array_equal(clip.pose[:, 2], a["jaw_pose"])
    np.testing.assert_array_equal(clip.pose[:, 3:5].reshape(-1, 6), a["eye_pose"])


def write_frames(folder: Path, a: dict, names=None, batch_dim=True, fps=30.0):
    """One .npz per frame, each [1, D] (a tracker's batch of one) or [D]; fps in every frame or none."""
    folder.mkdir(parents=True)
    T = len(a["exp"])
    names = names or [f"{t + 1:06d}.npz" for t in range(T)]
    for t, name in enumerate(names):
        frame = {k: v[t:t + 1] if batch_dim else v[t] for k, v in a.items()}
        np.savez(folder / name, **frame, **({} if fps is None else {"fps": np.array(fps)}))


# -- importer -------------------------------------------------------------------------
def test_import_round_trip(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    arrays = {f"take{i}": tracker_arrays(T=15 + i, seed=i) for i in range(3)}
    for cid, a in arrays.items():
        np.savez(src / f"{cid}.npz", **a)
    report = import_tracker(src, tmp_path / "ds", fps=25, progress=False)
    assert report.imported == ["take0", "take1", "take2"] and report.skipped == []
    assert report.notes == ["no pose for neck in the file; set to zero (3 clips)",
                            "ignored keys that are not part of a motion clip: shape (3 clips)"]
    ds = ClipDataset(tmp_path / "ds")
    assert ds.layout == "clips" and len(ds) == 3 and ds.ids == ["take0", "take1", "take2"]
    for cid, a in arrays.items():
        clip = ds.get(cid)
        check_mapping(clip, a)
        assert clip.fps == 25 and clip.expr_names == [f"exp{i:03d}" for i in range(50)]
        assert clip.meta["id"] == cid and clip.meta["source"] == f"{cid}.npz"
        assert clip.meta["split"] == assign_split(cid) and clip.meta["labels"] is None
    assert [c.meta["id"] for c in ds] == ds.ids
    assert not list(tmp_path.glob(".ds.importing-*"))


def test_import_frame_folders_natural_order(tmp_path):
    src = tmp_path / "src"
    a = tracker_arrays(T=12)
    # frame_2 must come before frame_10 (a plain string sort would not do that)
    write_frames(src / "talk", a, names=[f"frame_{t}.npz" for t in range(12)])
    write_frames(src / "nod", tracker_arrays(T=4, seed=1), batch_dim=False, fps=None)
    report = import_tracker(src, tmp_path / "ds", progress=False)
    assert report.imported == ["nod", "talk"], report.skipped
    clip = ClipDataset(tmp_path / "ds").get("talk")
    check_mapping(clip, a)
    assert clip.fps == 30 and clip.num_frames == 12 and clip.meta["source"] == "talk/"
    check_mapping(ClipDataset(tmp_path / "ds").get("nod"), tracker_arrays(T=4, seed=1))
    assert "no fps in the file; assumed 25 (1 clips)" in report.notes     # nod's frames store no fps


def test_import_reports_missing_frame_numbers(tmp_path):
    a = tracker_arrays(T=6)
    write_frames(tmp_path / "src" / "blink", a)
    (tmp_path / "src" / "blink" / "000004.npz").unlink()
    report = import_tracker(tmp_path / "src", tmp_path / "ds", progress=False)
    note = "frame numbers jump (3->5; 1 frame(s) missing); stacked without them"
    assert f"blink/: {note}" in report.notes
    clip = ClipDataset(tmp_path / "ds").get("blink")
    assert clip.num_frames == 5 and note in clip.meta["notes"]
    np.testing.assert_array_equal(clip.expr, np.delete(a["exp"], 3, axis=0))


def test_bad_files_reported_by_name_and_counted(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    np.savez(src / "good.npz", **tracker_arrays())
    nan = tracker_arrays()
    nan["exp"][12, 3] = np.nan
    np.savez(src / "nan.npz", **nan)
    wrong = tracker_arrays()
    wrong["jaw_pose"] = np.zeros((20, 4), np.float32)
    np.savez(src / "wrong.npz", **wrong)
    (src / "old.pkl").write_bytes(b"\x80\x04N.")
    np.save(src / "dict.npy", {"exp": np.zeros((3, 50))}, allow_pickle=True)
    frames = tracker_arrays(T=5)
    write_frames(src / "framebad", frames)
    (src / "framebad" / "000003.npz").write_bytes(b"\x80\x04N.")    # a pickle named .npz
    nanframe = tracker_arrays(T=5)
    nanframe["jaw_pose"][2, 0] = np.inf
    write_frames(src / "nanframe", nanframe)
    (src / ".DS_Store").write_bytes(b"junk")                          # hidden: ignored

    rc = tdmm(["import", "tracker", str(src), "--out", str(tmp_path / "ds")])
    out = capsys.readouterr().out
    assert rc == 0
    summary = [line for line in out.splitlines() if line.startswith("imported")][0]
    assert summary.startswith("imported 1 clips, skipped 6: ")
    reasons = dict(json.loads((tmp_path / "ds" / REPORT_FILE).read_text())["skipped"][i].values()
                   for i in range(6))
    assert "'expr' has NaN or inf, first at frame 12" in reasons["nan.npz"]
    assert "'jaw_pose' has shape [20, 4], expected [T,3]" in reasons["wrong.npz"]
    assert "pickle" in reasons["old.pkl"] and "numpy.savez" in reasons["old.pkl"]
    assert "pickle" in reasons["dict.npy"]
    assert reasons["framebad/"].startswith("frame 000003.npz: ") and "pickle" in reasons["framebad/"]
    assert reasons["nanframe/"] == "frame 000003.npz: key 'jaw_pose' has NaN or inf"
    for name in reasons:
        assert f"{name} (" in summary and f"skipped {name}: " in out
    assert ClipDataset(tmp_path / "ds").ids == ["good"]


def test_all_bad_fails_and_writes_nothing(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.pkl").write_bytes(b"\x80\x04N.")
    (src / "notes.txt").write_text("hello")
    assert tdmm(["import", "tracker", str(src), "--out", str(tmp_path / "ds")]) == 1
    captured = capsys.readouterr()
    assert "imported 0 clips, skipped 2: a.pkl (" in captured.out and "notes.txt (not a clip" in captured.out
    assert "nothing imported" in captured.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_interrupted_import_leaves_no_folder(tmp_path, monkeypatch):
    import training.data.importers as imp
    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        np.savez(src / f"c{i}.npz", **tracker_arrays(seed=i))
    calls = []
    real = imp.clip_from_arrays

    def interrupt_on_second(arrays, source):
        calls.append(source)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(arrays, source)
    monkeypatch.setattr(imp, "clip_from_arrays", interrupt_on_second)
    with pytest.raises(KeyboardInterrupt):
        import_tracker(src, tmp_path / "ds", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_refuses_non_empty_out(tmp_path):
    (tmp_path / "src").mkdir()
    np.savez(tmp_path / "src" / "a.npz", **tracker_arrays())
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "x").write_text("")
    with pytest.raises(DatasetError, match="not empty"):
        import_tracker(tmp_path / "src", tmp_path / "ds", progress=False)


def test_fps_and_expr_names_options(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    np.savez(src / "plain.npz", **tracker_arrays(K=3))
    np.savez(src / "says30.npz", **tracker_arrays(K=3), fps=np.array(30.0))
    names = ["jawOpen", "mouthSmileLeft", "mouthSmileRight"]
    report = import_tracker(src, tmp_path / "ds", fps=25, expr_names=names, progress=False)
    assert report.imported == ["plain"]
    assert report.skipped[0][0] == "says30.npz" and "--fps says 25.0" in report.skipped[0][1]
    clip = ClipDataset(tmp_path / "ds").get("plain")
    assert clip.expr_names == names and clip.fps == 25


def test_captions_joined_by_id_and_missing_reported(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    for cid in ("a", "b", "c"):
        np.savez(src / f"{cid}.npz", **tracker_arrays(seed=ord(cid)))
    caps = tmp_path / "caps.jsonl"
    caps.write_text("\n".join(json.dumps(r) for r in [
        {"id": "a", "captions": ["she grins", "a wide grin"], "split": "test",
         "qa": [{"q": "does she smile?", "a": "yes"}]},
        {"id": "c", "captions": ["he nods twice"]},
        {"id": "zz", "captions": ["nobody"]}]) + "\n")
    assert tdmm(["import", "tracker", str(src), "--out", str(tmp_path / "ds"), "--captions", str(caps)]) == 0
    out = capsys.readouterr().out
    assert f"no captions in {caps} for 1 clip(s): b" in out
    assert f"{caps} has 1 line(s) with no imported clip: zz" in out
    ds = ClipDataset(tmp_path / "ds")
    a = ds.get("a")
    assert a.text == ["she grins", "a wide grin"] and a.meta["split"] == "test"
    assert a.meta["qa"] == [{"q": "does she smile?", "a": "yes"}]
    assert ds.get("c").text == ["he nods twice"] and ds.get("b").text == []
    assert ClipDataset(tmp_path / "ds", split="test").ids == ["a"]


def test_bad_captions_line_names_file_and_line(tmp_path):
    (tmp_path / "src").mkdir()
    np.savez(tmp_path / "src" / "a.npz", **tracker_arrays())
    caps = tmp_path / "caps.jsonl"
    caps.write_text('{"id": "a", "captions": ["x"]}\n{"id": "b", "split": "training"}\n')
    with pytest.raises(DatasetError, match=r"caps.jsonl line 2: 'split' is 'training'"):
        import_tracker(tmp_path / "src", tmp_path / "ds", captions=caps, progress=False)
    caps.write_text('{"id": "a"}\n{"id": "a"}\n')
    with pytest.raises(DatasetError, match=r"line 2: id 'a' already given on line 1"):
        import_tracker(tmp_path / "src", tmp_path / "ds", captions=caps, progress=False)


# -- the clip folder, read directly ------------------------------------------------------
def test_split_assignment_deterministic():
    ids = [f"clip{i:05d}" for i in range(4000)]
    first = [assign_split(i) for i in ids]
    assert first == [assign_split(i) for i in ids]
    counts = Counter(first)
    assert set(counts) == {"train", "val", "test"}
    assert 0.87 < counts["train"] / 4000 < 0.93 and 0.03 < counts["val"] / 4000 < 0.07
    # the rule is part of the documented format (docs/DATASET_FORMAT.md): it must not drift
    def documented(cid):
        bucket = int(hashlib.sha256(cid.encode()).hexdigest()[:8], 16) % 100
        return "train" if bucket < 90 else "val" if bucket < 95 else "test"
    assert first == [documented(i) for i in ids]


def test_clip_folder_problems_and_split_filter(tmp_path):
    (tmp_path / "clips").mkdir()
    for cid in ("x1", "x2", "x10"):
        MotionClip.zeros(5, ["a"]).save(tmp_path / "clips" / f"{cid}.npz")
    (tmp_path / "captions.jsonl").write_text(
        '{"id": "x1", "split": "val", "captions": ["hi"]}\n\n{"id": "gone", "captions": []}\n'
        '{"id": "x10", "split": "train", "captions": ["yo"]}\n')
    with pytest.warns(DatasetWarning, match="2 problem"):
        ds = ClipDataset(tmp_path)
    assert ds.ids == ["x1", "x2", "x10"]
    assert any("'gone'" in p for p in ds.problems) and any("x2" in p for p in ds.problems)
    assert ds[1].meta["split"] == assign_split("x2") and ds[-1].text == ["yo"]
    with pytest.warns(DatasetWarning):
        assert ClipDataset(tmp_path, split="val").ids == ["x1"]
    with pytest.raises(DatasetError, match="split must be one of"):
        ClipDataset(tmp_path, split="dev")


def test_neither_layout_is_a_clear_error(tmp_path):
    (tmp_path / "stuff.txt").write_text("")
    with pytest.raises(DatasetError, match=r"not a dataset folder.*clips/<id>.npz.*shard-\*.npz.*stuff.txt"):
        ClipDataset(tmp_path)
    with pytest.raises(DatasetError, match="does not exist"):
        ClipDataset(tmp_path / "nope")
    (tmp_path / "clips").mkdir()
    (tmp_path / "labels.jsonl").write_text("")
    with pytest.raises(DatasetError, match="keep one layout"):
        ClipDataset(tmp_path)


# -- the shard layout ------------------------------------------------------------------------
LABELS = {"family": "joy", "descriptor": "grin", "intensity": "mild", "tempo": "normal",
          "head": {"motion": "nod", "count": 2}, "micro": [], "transition": None, "talking": False,
          "subject": "a child", "fps": 25.0}


def write_shard(root: Path, n: int, lengths, K=4, seed=0):
    """A shard as `tdmm synth` describes it: per-clip arrays padded to the longest, num_frames, names, fps."""
    rng = np.random.default_rng(seed)
    Tmax, N = max(lengths), len(lengths)
    pose = np.full((N, Tmax, 5, 3), 9.0, np.float32)     # padding out of range: must never be read
    expr = np.full((N, Tmax, K), 99.0, np.float32)
    transl = np.full((N, Tmax, 3), 7.0, np.float32)
    for i, T in enumerate(lengths):
        pose[i, :T] = rng.uniform(-0.5, 0.5, (T, 5, 3))
        expr[i, :T] = rng.uniform(0, 1, (T, K))
        transl[i, :T] = 0
    np.savez(root / f"shard-{n:05d}.npz", pose=pose, expr=expr, transl=transl,
             num_frames=np.array(lengths, np.int32), expr_names=np.array([f"c{k}" for k in range(K)]),
             fps=np.array(25.0))
    return pose, expr


def test_shard_layout_removes_padding(tmp_path):
    shards = {0: write_shard(tmp_path, 0, [10, 4, 7]), 1: write_shard(tmp_path, 1, [3, 12], seed=1)}
    lines = []
    for s, lengths in ((1, [3, 12]), (0, [10, 4, 7])):      # index order differs from shard order
        for i, T in enumerate(lengths):
            lines.append({"id": f"s{s}c{i}", "split": "val" if i == 1 else "train",
                          "labels": {**LABELS, "num_frames": T}, "captions": [f"grin {s} {i}"],
                          "qa": [{"q": "emotion?", "a": "joy"}], "shard": s, "row": i})
    (tmp_path / "labels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    ds = ClipDataset(tmp_path)
    assert ds.layout == "shards" and len(ds) == 5
    assert ds.ids == ["s0c0", "s0c1", "s0c2", "s1c0", "s1c1"]          # shard by shard
    for clip in ds:
        s, i = int(clip.meta["id"][1]), int(clip.meta["id"][3])
        pose, expr = shards[s]
        T = clip.meta["labels"]["num_frames"]
        assert clip.num_frames == T
        np.testing.assert_array_equal(clip.pose, pose[i, :T])
        np.testing.assert_array_equal(clip.expr, expr[i, :T])
        assert clip.expr_names == ["c0", "c1", "c2", "c3"] and clip.fps == 25
        assert clip.text == [f"grin {s} {i}"] and clip.meta["qa"][0]["a"] == "joy"
    assert ClipDataset(tmp_path, split="val").ids == ["s0c1", "s1c1"]


def test_shard_layout_errors(tmp_path):
    write_shard(tmp_path, 0, [5, 6])
    (tmp_path / "labels.jsonl").write_text(json.dumps({"id": "a", "shard": 0, "row": 2}) + "\n")
    with pytest.raises(DatasetError, match="row 2 but shard-00000.npz holds 2 clips"):
        ClipDataset(tmp_path)
    (tmp_path / "labels.jsonl").write_text(json.dumps({"id": "a", "shard": 3, "row": 0}) + "\n")
    with pytest.raises(DatasetError, match="shard-00003.npz does not exist"):
        ClipDataset(tmp_path)
    (tmp_path / "labels.jsonl").write_text(json.dumps({"id": "a", "shard": 0, "row": 0,
                                                        "labels": {"family": "joy"}}) + "\n")
    with pytest.raises(DatasetError, match=r"labels.jsonl line 1: bad 'labels'.*labels miss"):
        ClipDataset(tmp_path)


def test_natural_key():
    assert sorted(["f10", "f2", "F1"], key=natural_key) == ["F1", "f2", "f10"]
