"""Every command and loader against a few hundred bad inputs made at test time (tests/fuzz_inputs.py):
no traceback, no hang, the right exit code, a message naming the input, nothing left behind,
no code run from a file. Also: Ctrl-C and a killed run's leftovers."""
import os

import fuzz_inputs as fz
import numpy as np
import pytest

from engine.cli import main


def test_every_bad_input_gets_a_named_error(tmp_path):
    results, counts = fz.run_all(tmp_path / "ws")
    failed = [f"{r.case.name}: {'; '.join(r.problems)} | {r.out.strip()[-300:]}" for r in results if r.problems]
    print(counts)
    assert counts["cases"] >= 200
    assert not failed, f"{len(failed)} of {counts['cases']} cases broke the error policy:\n" + "\n".join(failed)


def test_the_harness_sees_a_traceback_a_leftover_and_code_run(tmp_path, monkeypatch):
    """The checks above can fail: a loader that raises a library error, leaves a file and runs a
    pickle is caught on all three counts."""
    import pickle

    from training.data import importers
    ws = tmp_path / "ws"
    good = fz.make_workspace(ws)

    def broken(path):
        (ws / "left_behind.tmp").write_text("x")
        pickle.loads(pickle.dumps(fz.Payload(ws / "MARKER_CODE_RAN")))
        raise KeyError("expr")
    monkeypatch.setattr(importers, "_read_arrays", broken)
    r = fz.run_case(fz.Case("broken", ["import", "tracker", str(ws / "src"), "--out", str(ws / "o" / "x")],
                            names="c1"), ws)
    assert "traceback" in r.problems and "code executed" in r.problems
    assert any(p.startswith("leftovers") for p in r.problems)
    assert good["clip"].exists()


def test_ctrl_c_exits_130_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    from training.data import importers
    ws = tmp_path / "ws"
    fz.make_workspace(ws)
    before = fz._snapshot(ws)

    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(importers, "clip_from_arrays", interrupted)
    assert main(["import", "tracker", str(ws / "src"), "--out", str(ws / "o" / "ds")]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "Traceback" not in err
    assert fz._snapshot(ws) == before


def test_a_killed_runs_stage_is_removed_by_the_next(tmp_path):
    """A stage named for a process that no longer exists is cleaned up; a live one is not."""
    ws = tmp_path / "ws"
    fz.make_workspace(ws)
    dead = 2 ** 22 + 12345                        # above Linux's default pid_max: no such process
    stale = ws / f".ds.staging-{dead}-abcd1234"
    live = ws / f".ds.staging-{os.getpid()}-live0000"
    for d in (stale, live):
        (d / "clips").mkdir(parents=True)
    assert main(["import", "tracker", str(ws / "src"), "--out", str(ws / "ds")]) == 0
    assert not stale.exists() and live.exists() and (ws / "ds" / "clips" / "c1.npz").is_file()


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(Exception):
        main(["head", "info", str(tmp_path / "missing.safetensors"), "--debug"])


def test_npz_reader_agrees_with_numpy_on_good_files(tmp_path):
    from engine.safe_io import read_npz
    arrays = {"a": np.arange(12, dtype=np.float32).reshape(3, 4), "f": np.asfortranarray(np.eye(3)),
              "s": np.array(["x", "yz"]), "e": np.zeros((0, 5), np.int16), "z": np.array(3.5)}
    for compressed in (False, True):
        p = tmp_path / f"g{compressed}.npz"
        (np.savez_compressed if compressed else np.savez)(p, **arrays)
        got = read_npz(p)
        assert set(got) == set(arrays)
        for k, v in arrays.items():
            assert got[k].dtype == v.dtype and got[k].shape == v.shape and np.array_equal(got[k], v), k
    assert list(read_npz(p, keys={"s"})) == ["s"]
