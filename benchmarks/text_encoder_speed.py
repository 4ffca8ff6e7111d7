"""CPU speed of the MiniLM text encoder (engine/text_encoder.py): its first encode and warm ones.

    .venv/bin/python benchmarks/text_encoder_speed.py                     # 5 fresh processes, then warm timings
    .venv/bin/python benchmarks/text_encoder_speed.py --fresh 9 --json out/text_encoder_speed.json

- first encode, in --fresh new processes (median, min, max): `import torch`, then from
  `import engine.text_encoder` to the first `encode_tokens` result (folder lookup, reading the
  tokenizer and the weights, one prompt through the model), and the two together. That sum is
  what the add-on's first request pays for text before any generator runs. Each child also says
  whether `transformers` ended up imported.
- warm `encode_tokens` in this process: one prompt and 32 different prompts, median of --runs
  after --warmup calls.

The machine may be shared: medians are quoted with their min and max and the load average, and
nothing is asserted about wall-clock time. MiniLM's folder: $TDMM_MINILM_PATH or the package's.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROMPT = "a shy smile that turns into a laugh"   # the fresh-process probe's one prompt

# What one fresh process runs: its timings go to stdout as one JSON line.
CHILD = f"""
import json, sys, time
t0 = time.perf_counter()
import torch
t1 = time.perf_counter()
import engine.text_encoder as te
tok, mask = te.TextEncoder().encode_tokens([{PROMPT!r}])
t2 = time.perf_counter()
print(json.dumps({{"import_torch_s": t1 - t0, "first_encode_s": t2 - t1, "total_s": t2 - t0,
                  "shape": list(tok.shape), "transformers_imported": "transformers" in sys.modules}}))
"""


def stats(xs: list[float]) -> dict:
    return {"median_s": statistics.median(xs), "min_s": min(xs), "max_s": max(xs), "n": len(xs)}


def fresh_runs(n: int) -> dict:
    """n new Python processes, each importing torch and the encoder and encoding one prompt."""
    rows = []
    for _ in range(n):
        out = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    res = {k: stats([r[k] for r in rows]) for k in ("import_torch_s", "first_encode_s", "total_s")}
    res["transformers_imported"] = any(r["transformers_imported"] for r in rows)
    res["shape"] = rows[0]["shape"]
    return res


def warm_runs(runs: int, warmup: int) -> dict:
    sys.path.insert(0, str(ROOT))
    from benchmarks.generate_speed import PROMPTS_32  # the same 32 prompts as the generator's benchmark
    from engine.text_encoder import TextEncoder
    enc = TextEncoder()
    out = {}
    for name, texts in (("encode_1", [PROMPT]), ("encode_32", PROMPTS_32)):
        for _ in range(warmup):
            enc.encode_tokens(texts)
        ts = []
        for _ in range(runs):
            t = time.perf_counter()
            enc.encode_tokens(texts)
            ts.append(time.perf_counter() - t)
        out[name] = stats(ts)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fresh", type=int, default=5, help="fresh processes for the first-encode timing")
    ap.add_argument("--runs", type=int, default=30, help="timed warm calls per case")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--json", help="also write the figures here")
    a = ap.parse_args(argv)

    import torch
    res = {"fresh": fresh_runs(a.fresh), "warm": warm_runs(a.runs, a.warmup),
           "threads": torch.get_num_threads(), "loadavg": os.getloadavg(), "python": sys.version.split()[0],
           "torch": torch.__version__}
    f, w = res["fresh"], res["warm"]
    ms = lambda d: f"{d['median_s'] * 1e3:.1f} ms (min {d['min_s'] * 1e3:.1f}, max {d['max_s'] * 1e3:.1f})"
    s = lambda d: f"{d['median_s']:.2f} s (min {d['min_s']:.2f}, max {d['max_s']:.2f})"
    print(f"fresh processes: {f['total_s']['n']}, torch threads {res['threads']}, "
          f"load average {' '.join(f'{x:.2f}' for x in res['loadavg'])}")
    print(f"| import torch | {s(f['import_torch_s'])} |")
    print(f"| import engine.text_encoder -> first encode_tokens | {s(f['first_encode_s'])} |")
    print(f"| both (fresh process to first tokens) | {s(f['total_s'])} |")
    print(f"| warm encode_tokens, 1 prompt | {ms(w['encode_1'])} |")
    print(f"| warm encode_tokens, 32 prompts | {ms(w['encode_32'])} |")
    print(f"transformers imported: {f['transformers_imported']}")
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
