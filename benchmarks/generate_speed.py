"""CPU speed of Language2Motion: prompt -> motion clip through `Engine.generate`.

    .venv/bin/python benchmarks/generate_speed.py                       # the shipped generator
    .venv/bin/python benchmarks/generate_speed.py --generator out/l2m_gpu1/l2m_words/best --json out/gen_speed.json

In one process, for each thread count of --threads (default: the machine's cores, then 1):
- one prompt -> one 5 s clip at 25 fps, `Engine.generate` end to end (MiniLM text encoding,
  generation with the KV cache, tokenizer decoding, building the clip): median of --runs after
  --warmup calls, with the default guidance (2.0: the conditional and unconditional rows run
  as one batch of 2) and with guidance 0; then its parts, each with its own timer inside another
  --runs calls (so that the parts of one call add up to that call, however busy the machine):
  MiniLM `encode_tokens`, `engine.synthesis.synthesize` minus its tokenizer decode (the generator),
  the tokenizer's `decode` inside synthesize, the decode that Engine.generate makes again of the
  same codes (with any neighbouring motion), and the rest (resampling, building the clip);
- 32 different prompts, 5 s each, in one call: median of --batch-runs;
- seconds of motion made per second of compute.
Once, at the start (first thread count): the first-call cost, i.e. importing torch and the
engine, loading each model, and the first `Engine.generate` after loading (cold kernels).
At the end: the peak resident memory (ru_maxrss, the process's high-water mark) and its increase
over the process before any model loaded.

The machine may be shared: medians are quoted with their min and max and the load average, and
nothing is asserted about wall-clock time. Targets (issue 12): under 100 ms for one 5 s clip and
under 1 s for 32 prompts.
"""
from __future__ import annotations

import time

_T_START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import engine.engine as engine_module  # noqa: E402
from engine.engine import DEFAULTS, Engine  # noqa: E402

_T_IMPORTED = time.perf_counter()

PROMPT = "a shy smile that turns into a laugh"
PROMPTS_32 = [
    "a shy smile that turns into a laugh", "she frowns and looks to the left", "a slow nod of agreement",
    "raises both eyebrows in surprise", "blinks twice, then grins widely", "a quick shake of the head",
    "squints suspiciously at something", "opens the mouth wide in shock", "a sad look, the corners drop",
    "tilts the head and smiles politely", "rolls the eyes in annoyance", "a big yawn",
    "purses the lips, thinking", "looks up and to the right", "a disgusted sneer", "laughs out loud",
    "a tight-lipped, nervous smile", "winks with the left eye", "a furious scowl", "nods three times quickly",
    "looks down, ashamed", "a puzzled frown with one eyebrow up", "smiles, then the smile fades",
    "bites the lower lip", "a relaxed, neutral face", "glances left, then right", "a fearful gasp",
    "the jaw drops slowly", "a smirk on one side", "closes the eyes and sighs", "a bright, open smile",
    "shakes the head while frowning",
]


def timed(fn, runs: int, warmup: int) -> dict:
    """fn() run warmup + runs times -> median, min and max of the timed runs in seconds."""
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return {"median_s": statistics.median(ts), "min_s": min(ts), "max_s": max(ts), "runs": runs}


def rss_mib() -> float:
    """The process's resident memory now (Linux /proc), else nan."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return float("nan")


def peak_rss_mib() -> float:
    """ru_maxrss: the high-water mark of resident memory (KiB on Linux, bytes on macOS)."""
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 2**20 if sys.platform == "darwin" else r / 2**10


def first_call(eng: Engine, seconds: float) -> dict:
    """Load each model in the order Engine.generate does, then the first (cold) call."""
    out = {"import_s": _T_IMPORTED - _T_START}
    t = time.perf_counter()
    eng.generator
    out["load_generator_s"] = time.perf_counter() - t
    t = time.perf_counter()
    eng.tokenizer
    out["load_tokenizer_s"] = time.perf_counter() - t
    t = time.perf_counter()
    eng.text_encoder.encode_tokens([PROMPT])          # MiniLM's tokenizer and weights read, one encode
    out["load_text_encoder_s"] = time.perf_counter() - t
    t = time.perf_counter()
    eng.generate(PROMPT, seconds=seconds, seed=0)
    out["first_generate_s"] = time.perf_counter() - t
    out["first_call_s"] = sum(out[k] for k in ("load_generator_s", "load_tokenizer_s", "load_text_encoder_s",
                                               "first_generate_s"))
    return out


def split(eng: Engine, call, runs: int) -> dict:
    """The parts of `runs` calls of call() (an eng.generate), each part timed inside the call:
    MiniLM encode, synthesize (the generator + its decode) and every tokenizer decode, by wrapping
    them for the duration -> the median of each part over the calls."""
    tok, enc, syn = eng.tokenizer, eng.text_encoder, engine_module.synthesize
    rec: dict = {}
    inside = []                                          # non-empty while synthesize runs

    def timer(name, fn):
        def wrapped(*a, **k):
            if name == "synthesize":
                inside.append(1)
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                rec.setdefault(name if name != "decode" or inside else "decode_again", []).append(
                    time.perf_counter() - t)
                if name == "synthesize":
                    inside.pop()
        return wrapped

    engine_module.synthesize = timer("synthesize", syn)
    enc.encode_tokens = timer("encode", enc.encode_tokens)
    tok.decode = timer("decode", tok.decode)
    rows = []
    try:
        for _ in range(runs):
            rec.clear()
            t = time.perf_counter()
            call()
            total = time.perf_counter() - t
            got = {k: sum(v) for k, v in rec.items()}
            # (since session 5 synthesize no longer decodes inside Engine.generate: "decode" is 0)
            rows.append({"encode": got["encode"], "generator": got["synthesize"] - got.get("decode", 0.0),
                         "decode": got.get("decode", 0.0), "decode_again": got.get("decode_again", 0.0),
                         "rest": total - got["encode"] - got["synthesize"] - got.get("decode_again", 0.0),
                         "total": total})
    finally:
        engine_module.synthesize = syn
        del enc.encode_tokens, tok.decode                 # back to the class's methods
    return {k: statistics.median(r[k] for r in rows) for k in rows[0]} | {"runs": runs}


def one_thread_count(eng: Engine, threads: int, args) -> dict:
    torch.set_num_threads(threads)
    tok = eng.tokenizer
    frames = max(1, math.ceil(max(1, math.floor(args.seconds * args.fps + 0.5)) * tok.cfg.fps / args.fps))
    res = {"threads": threads, "frames": frames,
           "positions": math.ceil(frames / tok.cfg.downsample)}
    for name, g in (("guided", DEFAULTS["guidance"]), ("unguided", 0.0)):
        call = lambda: eng.generate(PROMPT, seconds=args.seconds, seed=0, guidance=g, fps=args.fps)
        r = {"guidance": g, "engine": timed(call, args.runs, args.warmup), "parts": split(eng, call, args.runs)}
        r["realtime_x"] = args.seconds / r["engine"]["median_s"]
        res[name] = r
    prompts = PROMPTS_32[:args.batch]
    b = timed(lambda: eng.generate(prompts, seconds=args.seconds, seed=0, fps=args.fps), args.batch_runs, 1)
    b["prompts"] = len(prompts)
    b["realtime_x"] = len(prompts) * args.seconds / b["median_s"]
    res["batch"] = b
    return res


def ms(x: float) -> str:
    return f"{1000 * x:.1f} ms"


def spread(r: dict) -> str:
    return f"{ms(r['median_s'])} ({1000 * r['min_s']:.0f}-{1000 * r['max_s']:.0f})"


def table(doc: dict) -> str:
    cols = doc["per_threads"]
    head = "| " + " | ".join(["step"] + [f"{c['threads']} thread{'s' if c['threads'] > 1 else ''}" for c in cols])
    lines = [head + " |", "|---" + "|---:" * len(cols) + "|"]
    row = lambda label, f: lines.append("| " + " | ".join([label] + [f(c) for c in cols]) + " |")
    part = lambda label, name, key: row("&nbsp;&nbsp;&nbsp;&nbsp;" + label, lambda c: ms(c[name]["parts"][key]))
    sec, n = doc["seconds"], cols[0]["batch"]["prompts"]
    for name in ("guided", "unguided"):
        r0 = cols[0][name]
        row(f"**one {sec:g} s clip, guidance {r0['guidance']:g}: `Engine.generate`** (median, min-max of "
            f"{r0['engine']['runs']})", lambda c: "**" + spread(c[name]["engine"]) + "**")
        row("&nbsp;&nbsp;motion seconds per compute second", lambda c: f"{c[name]['realtime_x']:.0f}x")
        row(f"&nbsp;&nbsp;its parts, timed inside {r0['parts']['runs']} more calls (medians): the call",
            lambda c: ms(c[name]["parts"]["total"]))
        part("MiniLM `encode_tokens`", name, "encode")
        part("generator (`synthesize` minus its decode)", name, "generator")
        part("tokenizer `decode` (in `synthesize`)", name, "decode")
        part("`decode` again (`Engine._decode_with_neighbours`)", name, "decode_again")
        part("rest (checks, resampling, building the clip)", name, "rest")
    row(f"**{n} prompts x {sec:g} s in one call, guidance {cols[0]['guided']['guidance']:g}** (median, min-max of "
        f"{cols[0]['batch']['runs']})", lambda c: "**" + spread(c["batch"]) + "**")
    row("&nbsp;&nbsp;motion seconds per compute second", lambda c: f"{c['batch']['realtime_x']:.0f}x")
    f, m = doc["first_call"], doc["memory"]
    lines += ["", f"| first call (once, {cols[0]['threads']} thread{'s' if cols[0]['threads'] > 1 else ''}) | |",
              "|---|---:|",
              f"| import torch + engine | {f['import_s']:.2f} s |",
              f"| load generator | {f['load_generator_s']:.2f} s |",
              f"| load tokenizer | {f['load_tokenizer_s']:.2f} s |",
              f"| load MiniLM (read tokenizer and weights) + first encode | {f['load_text_encoder_s']:.2f} s |",
              f"| first `Engine.generate` after loading | {f['first_generate_s']:.2f} s |",
              f"| **first call in all (loads + first generate)** | **{f['first_call_s']:.2f} s** |",
              "", "| memory | MiB |", "|---|---:|",
              f"| resident before any model loaded (imports done) | {m['rss_before_mib']:.0f} |",
              f"| peak resident (ru_maxrss) at the end | {m['peak_rss_mib']:.0f} |",
              f"| increase over the process before loading | {m['increase_mib']:.0f} |"]
    return "\n".join(lines)


def main(argv=None) -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--generator", default=None, help="generator checkpoint (default: assets/l2m/generator)")
    p.add_argument("--tokenizer", default=None, help="tokenizer checkpoint (default: the shipped one)")
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--fps", type=float, default=25.0)
    p.add_argument("--runs", type=int, default=15, help="timed calls of one clip (and as many for its parts)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--batch", type=int, default=32, help=f"prompts in the batched call (at most {len(PROMPTS_32)})")
    p.add_argument("--batch-runs", type=int, default=5)
    p.add_argument("--threads", default=f"{cores},1" if cores > 1 else "1",
                   help="comma-separated torch thread counts, the first also for the first call")
    p.add_argument("--json", default=None, help="also write the figures to this file")
    args = p.parse_args(argv)
    if not 1 <= args.batch <= len(PROMPTS_32):
        p.error(f"--batch must be 1-{len(PROMPTS_32)}")
    threads = [int(t) for t in args.threads.split(",")]
    gen_path = args.generator
    if gen_path is None and not (ROOT / "assets/l2m/generator.safetensors").exists():
        p.error("the shipped generator assets/l2m/generator does not exist yet; pass --generator CKPT")

    torch.set_num_threads(threads[0])
    rss_before, peak_before = rss_mib(), peak_rss_mib()
    load_before = os.getloadavg()
    eng = Engine(generator_path=gen_path, tokenizer_path=args.tokenizer)
    first = first_call(eng, args.seconds)
    per = [one_thread_count(eng, t, args) for t in threads]
    peak = peak_rss_mib()
    gen = eng.generator
    doc = {
        "generator": str(gen_path or "assets/l2m/generator"), "seconds": args.seconds, "fps": args.fps,
        "params_m": round(sum(x.numel() for x in gen.parameters()) / 1e6, 2),
        "config": {k: getattr(gen.cfg, k) for k in ("text_mode", "d_model", "n_layers", "n_heads", "d_ff",
                                                    "levels", "codebook_size", "max_positions")},
        "sampling": DEFAULTS, "first_call": first, "per_threads": per,
        "memory": {"rss_before_mib": rss_before, "peak_rss_before_mib": peak_before, "peak_rss_mib": peak,
                   "increase_mib": peak - rss_before},
        "machine": {"cores": cores, "cpu": platform.processor() or platform.machine(),
                    "python": platform.python_version(), "torch": torch.__version__,
                    "loadavg_start": load_before, "loadavg_end": os.getloadavg()},
    }
    print(f"generator {doc['generator']} ({doc['params_m']} M parameters, {doc['config']}); "
          f"{args.seconds:g} s at {args.fps:g} fps = {per[0]['frames']} frames, {per[0]['positions']} positions; "
          f"sampling {DEFAULTS}; torch {torch.__version__}, {cores} cores; load average "
          f"{load_before[0]:.2f} at the start, {doc['machine']['loadavg_end'][0]:.2f} at the end\n")
    print(table(doc))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(doc, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
