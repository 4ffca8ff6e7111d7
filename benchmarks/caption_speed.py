"""CPU speed of Motion2Language: loading the captioner and captioning a 5 s clip.

    .venv/bin/python benchmarks/caption_speed.py                          # the shipped captioner
    .venv/bin/python benchmarks/caption_speed.py --captioner runs/m2l/best --threads 2 1
    .venv/bin/python benchmarks/caption_speed.py --untrained --first-load  # no captioner yet: an untrained delta

Measures, each in a fresh process where it says so:
- first load (--first-load): the base read from the GGUF and dequantized into an empty $TDMM_CACHE,
  then the captioner loaded (fresh process);
- cached load: import torch + transformers, then `load_captioner` (the cached fp16 base as fp32,
  the delta merged) (fresh process);
- per thread count: the prompt's prefill (one forward over the system line and 32 positions =
  5.1 s of motion), a caption of exactly N new tokens (`min_new_tokens = max_new_tokens = N`, the
  model's own generate with its KV cache; median of --runs), and the per-token decode cost;
- the peak resident memory.
The machine may be shared: medians come with min and max and the load average; nothing is asserted.
Targets (issue 13): caption of a 5 s clip < 1.5 s median, first load < 10 s, cached load < 3 s.
"""
from __future__ import annotations

import argparse
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
sys.path.insert(0, str(ROOT))

LOAD = ("import time; t0 = time.perf_counter(); import torch, transformers; t1 = time.perf_counter(); "
        "from engine.captioner import load_captioner; load_captioner({path!r}); t2 = time.perf_counter(); "
        "print(round(t1 - t0, 2), round(t2 - t1, 2))")


def fresh_load(path: str, env: dict | None = None) -> tuple[float, float]:
    r = subprocess.run([sys.executable, "-c", LOAD.format(path=path)], cwd=ROOT, capture_output=True, text=True,
                       env={**os.environ, **(env or {})})
    if r.returncode:
        raise SystemExit(r.stderr[-2000:])
    imp, load = r.stdout.split()[-2:]
    return float(imp), float(load)


def untrained(folder: Path) -> str:
    """A LoRA delta at the default config with B = 0 (the base's own behaviour) to time the machinery."""
    from engine import lm_base
    from engine.captioner import Captioner, CaptionerConfig, add_lora
    model, tok, info = lm_base.load_base("smollm2")
    cfg = CaptionerConfig(base_sha=info["sha"])
    add_lora(model, cfg.lora_targets, cfg.lora_rank, cfg.lora_alpha)
    Captioner(model, tok, cfg).save(folder / "untrained")
    return str(folder / "untrained")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--captioner", default=None, help="captioner stem (default: assets/m2l/captioner)")
    ap.add_argument("--untrained", action="store_true", help="time an untrained delta on the installed base")
    ap.add_argument("--first-load", action="store_true", help="also time a load into an empty cache (~40 s)")
    ap.add_argument("--threads", type=int, nargs="+", default=[os.cpu_count() or 1, 1])
    ap.add_argument("--new-tokens", type=int, default=35, help="caption length (the corpus's mean is ~32)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", default=None, help="also write the figures here")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tdmm_capbench_"))
    from engine.captioner import default_path
    path = untrained(tmp) if args.untrained else str(args.captioner or default_path())
    res = {"captioner": path, "load_avg_start": os.getloadavg()}
    if args.first_load:
        res["first_load_import_s"], res["first_load_s"] = fresh_load(path, {"TDMM_CACHE": str(tmp / "cache")})
    res["cached_load_import_s"], res["cached_load_s"] = fresh_load(path)

    import numpy as np
    import torch
    from transformers import GenerationConfig

    from engine.captioner import load_captioner
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cap = load_captioner(path)
    codes = np.random.default_rng(0).integers(0, cap.cfg.codebook_size, (32, cap.cfg.levels))
    ids = torch.tensor([cap.prompt_ids(codes)])
    n = args.new_tokens
    gc = GenerationConfig(max_new_tokens=n, min_new_tokens=n, do_sample=False, eos_token_id=cap.eos_id,
                          pad_token_id=cap.pad_id, use_cache=True)
    res["prompt_tokens"], res["threads"] = int(ids.shape[1]), {}
    for th in args.threads:
        torch.set_num_threads(th)
        with torch.inference_mode():
            cap.model(input_ids=ids)                                       # warm-up
            pre, full = [], []
            for _ in range(args.runs):
                t = time.perf_counter()
                cap.model(input_ids=ids)
                pre.append(time.perf_counter() - t)
                t = time.perf_counter()
                cap.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), generation_config=gc)
                full.append(time.perf_counter() - t)
        med = statistics.median(full)
        res["threads"][th] = {"prefill_s": round(statistics.median(pre), 3), "caption_s": round(med, 3),
                              "caption_min_s": round(min(full), 3), "caption_max_s": round(max(full), 3),
                              "per_token_ms": round(1000 * (med - statistics.median(pre)) / max(1, n - 1), 1)}
    res["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    res["model_rss_mb"] = round((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024, 1)
    res["load_avg_end"] = os.getloadavg()
    print(json.dumps(res, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
