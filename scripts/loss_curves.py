"""Short fixed-seed CPU runs of every trainer, their loss curves in one JSON file, and a
comparison of two such files: the proof that a change to the training code left training
as it was (docs/TRAINING.md, "Loss curves before and after").

    python scripts/loss_curves.py --out /tmp/after.json             # run every case with this checkout
    python scripts/loss_curves.py --compare /tmp/before.json /tmp/after.json

Each case runs `tdmm train <model>` in a fresh process (PYTHONPATH picks the code; torch
is seeded before the command, so a trainer that does not seed its model's initialisation
itself is still repeatable) on a 64-clip corpus from `tdmm synth --seed 0`, with one log
row per step. Logs are read in either layout: log.jsonl (step = steps done, or 0-based
step index in the layout before the shared loop) or the evaluator's train_log.json.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

TINY_EVALUATOR = {"max_frames": 64, "d_model": 48, "n_layers": 1, "n_heads": 4, "d_ff": 96, "text_layers": 1,
                  "embed_dim": 32, "text_max_tokens": 32}
CASES = {
    # name: (model, config, extra CLI flags)
    "vq": ("vq", {"model": {"width": 32, "depth": 1, "codebook_size": 32, "code_dim": 16},
                  "train": {"steps": 40, "batch_size": 16, "crop": 32, "lr": 2e-3, "warmup": 5, "val_every": 20,
                            "log_every": 1, "loss_face_vertices": 200, "loss_other_vertices": 20}}, []),
    "vq_param_only": ("vq", {"model": {"width": 32, "depth": 1, "codebook_size": 32, "code_dim": 16},
                             "train": {"steps": 40, "batch_size": 16, "crop": 32, "lr": 2e-3, "warmup": 5,
                                       "val_every": 20, "log_every": 1}}, ["--no-vertex-loss"]),
    # dropout 0 and warm-up 0: the two places where the shared loop is meant to differ (see the doc)
    "evaluator_nodrop_nowarmup": ("evaluator", {"model": {**TINY_EVALUATOR, "dropout": 0.0},
                                                "train": {"steps": 30, "batch_size": 16, "lr": 2e-3, "warmup": 0,
                                                          "log_every": 1, "val_every": 15}}, []),
    "evaluator_nodrop": ("evaluator", {"model": {**TINY_EVALUATOR, "dropout": 0.0},
                                       "train": {"steps": 30, "batch_size": 16, "lr": 2e-3, "warmup": 3,
                                                 "log_every": 1, "val_every": 15}}, []),
    "evaluator_default": ("evaluator", {"model": TINY_EVALUATOR,
                                        "train": {"steps": 30, "batch_size": 16, "lr": 2e-3, "warmup": 3,
                                                  "log_every": 1, "val_every": 15}}, []),
}


def _tdmm(argv: list, env: dict) -> None:
    code = "import sys, torch; torch.manual_seed(0); from engine.cli import main; sys.exit(main(sys.argv[1:]))"
    subprocess.run([sys.executable, "-c", code, *argv], check=True, env=env)


def _rows(run: Path) -> list:
    """Training log rows [{"step": steps done, "loss": ...}] of a run folder, either layout."""
    if (run / "train_log.json").is_file():                     # the evaluator before the shared loop
        curve = json.loads((run / "train_log.json").read_text())["curve"]
        return [{"step": r["step"], "loss": r["loss"]} for r in curve]
    rows = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines() if x.strip()]
    zero_based = rows[0]["step"] == 0
    return [{"step": r["step"] + zero_based, "loss": r["loss"]} for r in rows]


def run_all(out: Path) -> dict:
    env = dict(os.environ, TQDM_DISABLE="1")
    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        _tdmm(["synth", "--clips", "64", "--seed", "0", "--out", str(tmp / "corpus"), "--workers", "1"], env)
        for name, (model, cfg, flags) in CASES.items():
            (tmp / f"{name}.json").write_text(json.dumps(cfg))
            run = tmp / f"run_{name}"
            argv = ["train", model, "--data", str(tmp / "corpus"), "--out", str(run),
                    "--config", str(tmp / f"{name}.json"), "--device", "cpu", *flags]
            _tdmm(argv + (["--quiet"] if model == "evaluator" else []), env)
            res[name] = _rows(run)
    out.write_text(json.dumps(res, indent=1) + "\n")
    return res


def compare(a: dict, b: dict) -> dict:
    """Per case: steps in both, largest |loss difference| and relative difference."""
    report = {}
    for name in sorted(set(a) | set(b)):
        la = {r["step"]: r["loss"] for r in a.get(name, [])}
        lb = {r["step"]: r["loss"] for r in b.get(name, [])}
        common = sorted(set(la) & set(lb))
        diff = [abs(la[s] - lb[s]) for s in common]
        rel = [abs(la[s] - lb[s]) / max(abs(la[s]), 1e-12) for s in common]
        report[name] = {"steps": len(common), "only_in_one": len(set(la) ^ set(lb)),
                        "max_abs_diff": max(diff, default=None), "max_rel_diff": max(rel, default=None),
                        "first_loss": [la.get(common[0]), lb.get(common[0])] if common else None,
                        "last_loss": [la.get(common[-1]), lb.get(common[-1])] if common else None}
    return report


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, help="run every case and write the curves here")
    p.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    a = p.parse_args()
    if a.out:
        run_all(a.out)
    if a.compare:
        print(json.dumps(compare(*(json.loads(f.read_text()) for f in a.compare)), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
