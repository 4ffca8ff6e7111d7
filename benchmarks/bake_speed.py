"""How long `tdmm bake` takes for a list of prompts (issue 15: 100 prompts of 4 s into actions, no
rendering, under 20 s on this machine), and its peak memory.

    .venv/bin/python benchmarks/bake_speed.py [--prompts 100] [--runs 3]

The prompt list is the everyday prompts of training/eval/everyday_prompts.json, repeated to the
count, each line "prompt,4,SEED" with its own seed. Each run is a fresh `tdmm bake` process (so the
figure includes importing torch and bpy and loading the models); its own report of the time spent
generating and keying is printed beside the wall time. Peak memory: the child's ru_maxrss.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def prompt_file(folder: Path, n: int) -> Path:
    doc = json.loads((ROOT / "training" / "eval" / "everyday_prompts.json").read_text())
    items = doc["prompts"] if isinstance(doc, dict) else doc
    texts = [p["prompt"] if isinstance(p, dict) else str(p) for p in items]
    path = folder / "prompts.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        for i in range(n):
            w.writerow([texts[i % len(texts)], 4, i])
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prompts", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    tdmm = str(Path(sys.executable).with_name("tdmm"))
    walls = []
    with tempfile.TemporaryDirectory() as tmp:
        prompts = prompt_file(Path(tmp), args.prompts)
        for r in range(args.runs):
            out = Path(tmp) / f"out{r}"
            t = time.perf_counter()
            proc = subprocess.run([tdmm, "bake", "--prompts", str(prompts), "--out", str(out), "--no-captions"],
                                  capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="2"))
            walls.append(time.perf_counter() - t)
            if proc.returncode != 0:
                print(proc.stdout[-2000:], proc.stderr[-2000:])
                return 1
            tail = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()][-1]
            print(f"run {r + 1}: {walls[-1]:.2f} s wall; its last line: {tail}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"{args.prompts} prompts x 4 s: median {statistics.median(walls):.2f} s wall per fresh `tdmm bake` "
          f"(min {min(walls):.2f}, max {max(walls):.2f}); peak resident {peak:.0f} MiB; "
          f"load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
