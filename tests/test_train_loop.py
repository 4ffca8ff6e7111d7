"""The shared training loop (training/train/loop.py): schedule, caps, resume and several processes."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from training.train import loop

ROOT = Path(__file__).resolve().parents[1]


def test_schedule_known_answers():
    cfg = loop.LoopConfig(steps=110, lr=1.0, warmup=10, min_lr_ratio=0.1)
    assert loop.lr_at(0, cfg) == pytest.approx(0.1) and loop.lr_at(9, cfg) == pytest.approx(1.0)
    assert loop.lr_at(10, cfg) == pytest.approx(1.0)                           # cosine starts at the peak
    assert loop.lr_at(60, cfg) == pytest.approx(0.1 + 0.9 * 0.5)               # half way: the mean
    assert loop.lr_at(110, cfg) == pytest.approx(0.1)                          # the floor
    # under a wall-clock cap the schedule follows the clock when it runs ahead of the steps
    assert loop.lr_at(20, cfg, time_frac=60 / 110) == pytest.approx(loop.lr_at(60, cfg))
    assert loop.lr_at(80, cfg, time_frac=0.1) == loop.lr_at(80, cfg)


def test_read_run_config_names_the_bad_key(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"train": {"stepz": 3}}))
    with pytest.raises(ValueError, match="unknown train key.*stepz"):
        loop.read_run_config(path, loop.LoopConfig)
    path.write_text(json.dumps({"trian": {}}))
    with pytest.raises(ValueError, match="unknown section.*trian"):
        loop.read_run_config(path, loop.LoopConfig)


def _toy(out, nproc=1, steps=20):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    script = str(ROOT / "tests" / "loop_toy_task.py")
    cmd = [sys.executable, script, str(out), str(steps)] if nproc == 1 else \
        [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", script,
         str(out), str(steps)]
    subprocess.run(cmd, check=True, env=env, cwd=ROOT, capture_output=True, timeout=300)
    return load_file(str(out / "last.safetensors")), json.loads((out / "final.json").read_text())


def test_loop_files_and_loss_going_down(tmp_path):
    w, final = _toy(tmp_path / "one")
    run = tmp_path / "one"
    log = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == list(range(1, 21)) and log[-1]["loss"] < 0.5 * log[0]["loss"]
    assert {"step", "s", "lr", "loss", "grad_norm", "mse"} <= set(log[0])
    val = [json.loads(x) for x in (run / "val.jsonl").read_text().splitlines()]
    assert [v["step"] for v in val] == [10, 20] and final["best_step"] == 20 and final["world_size"] == 1
    state = json.loads((run / "last.state.json").read_text())
    assert state["step"] == 20 and state["train"]["lr"] == 0.2
    assert json.loads((run / "config.json").read_text())["toy"] is True
    assert not list(run.glob("*.tmp"))


def test_two_processes_average_gradients_like_one_process(tmp_path):
    """gloo on CPU: 2 ranks with 4 rows each end where 1 process with all 8 rows ends."""
    one, _ = _toy(tmp_path / "one")
    two, final = _toy(tmp_path / "two", nproc=2)
    assert final["world_size"] == 2
    for k in one:
        torch.testing.assert_close(two[k], one[k], atol=1e-6, rtol=1e-5)
    # and the averaging is needed: a rank's own half alone ends elsewhere
    assert not torch.allclose(one["weight"], torch.zeros_like(one["weight"]))


def _spawn_trainer(argv, nproc=2):
    env = dict(os.environ, OMP_NUM_THREADS="1", TQDM_DISABLE="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "engine.cli", *argv]
    r = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]


def test_two_process_vq_training(tmp_path):
    from engine.head import save_head

    from conftest import make_tiny_head
    from test_tokenizer import write_dataset
    head = make_tiny_head()
    save_head(head, tmp_path / "head")
    write_dataset(tmp_path / "data", head.expr_names)
    cfg = {"model": {"width": 32, "depth": 1, "codebook_size": 32, "code_dim": 16},
           "train": {"steps": 60, "batch_size": 16, "crop": 32, "lr": 2e-3, "warmup": 5, "val_every": 30,
                     "log_every": 10, "loss_face_vertices": 20, "loss_other_vertices": 4}}
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    _spawn_trainer(["train", "vq", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "run"), "--config",
                    str(tmp_path / "cfg.json"), "--head", str(tmp_path / "head.safetensors"), "--device", "cpu",
                    "--quiet"])
    final = json.loads((tmp_path / "run" / "final.json").read_text())
    log = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert final["world_size"] == 2 and final["steps"] == 60 and math.isfinite(final["vertex_mean_mm"])
    assert log[-1]["loss"] < 0.8 * log[0]["loss"], log


def test_two_process_evaluator_training(tmp_path):
    from training.corpus.synth import build
    build(tmp_path / "corpus", clips=64, seed=0, workers=1, progress=False)
    model = {"max_frames": 64, "d_model": 32, "n_layers": 1, "n_heads": 2, "d_ff": 64, "text_layers": 1,
             "embed_dim": 16, "text_max_tokens": 32}
    train = {"steps": 20, "batch_size": 16, "lr": 2e-3, "warmup": 2, "val_every": 10, "log_every": 2}
    (tmp_path / "cfg.json").write_text(json.dumps({"model": model, "train": train}))
    _spawn_trainer(["train", "evaluator", "--data", str(tmp_path / "corpus"), "--out", str(tmp_path / "run"),
                    "--config", str(tmp_path / "cfg.json"), "--device", "cpu", "--quiet"])
    final = json.loads((tmp_path / "run" / "final.json").read_text())
    log = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert final["world_size"] == 2 and final["steps"] == 20 and 0 <= final["t2m_R@3"] <= 1
    assert np.mean([r["loss"] for r in log[-2:]]) < np.mean([r["loss"] for r in log[:2]])


def test_pause_keeps_the_step_schedule_and_resumes(tmp_path):
    """--pause-minutes stops by the clock without compressing the learning-rate schedule (unlike
    --max-minutes), skips the end-of-run re-validation, and the run resumes where it paused."""
    sys.path.insert(0, str(ROOT / "tests"))
    from loop_toy_task import LeastSquares

    class Slow(LeastSquares):
        finals = 0

        def batches(self, seed):
            import time
            while True:
                time.sleep(0.05)                 # ~20 steps a second: the 1 s pause lands mid-run
                yield self.xr, self.yr

        def final(self, best):
            Slow.finals += 1
            return super().final(best)

    rt = loop.runtime("cpu")
    cfg = loop.LoopConfig(steps=100_000, lr=0.2, warmup=2, val_every=5, log_every=1, pause_minutes=1 / 60)
    loop.seed_everything(0)
    final = loop.fit(Slow(rt), cfg, tmp_path, rt, progress=False)
    assert final["paused"] and not final["stopped_by_time"] and 0 < final["steps"] < cfg.steps
    assert Slow.finals == 0
    log = [json.loads(x) for x in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["lr"] for r in log] == [loop.lr_at(r["step"] - 1, cfg) for r in log]   # the step schedule
    state = loop.read_state(tmp_path / "last")
    assert state["step"] == final["steps"] and state["train"]["pause_minutes"] == cfg.pause_minutes

    resumed = loop.LoopConfig(**{**state["train"], "pause_minutes": 0.0, "steps": final["steps"] + 3})
    task = Slow(rt)
    task.model.load_state_dict(load_file(str(tmp_path / "last.safetensors")))
    again = loop.fit(task, resumed, tmp_path, rt, resume=tmp_path / "last", progress=False)
    assert again["steps"] == final["steps"] + 3 and not again["paused"] and Slow.finals == 1
