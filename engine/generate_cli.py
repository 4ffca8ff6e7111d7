"""`tdmm generate`: a typed prompt becomes a motion clip file, through the Engine facade.

    tdmm generate "a shy smile that turns into a laugh, head tilting left" --seconds 4 --seed 3 --out smile.npz
    tdmm generate "nods, then laughs" --variations 3 --out takes/nod.npz     # takes/nod_0.npz .. nod_2.npz
    tdmm generate "then she bursts out laughing" --continue-from smile.npz --out laugh.npz
    tdmm generate "a quick frown" --seconds 1.5 --continue-from a.npz --until b.npz --out bridge.npz
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

from .engine import DEFAULTS, SECONDS_RANGE, Engine, GenerationWarning
from .errors import OutputError
from .safe_io import input_file, output_path


def add_command(sub) -> None:
    p = sub.add_parser("generate", help="make face animation from a text prompt (Language2Motion)",
                       description="Make FLAME-layout face animation from a text prompt and write it as a clip "
                                   "file (.npz, docs/DATASET_FORMAT.md) with the prompt stored as its text. Any "
                                   "text gives a valid clip; prompts in English, in the corpus's vocabulary of "
                                   "expressions, head motions and timing, give what they ask for.",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("prompt", help="what the face does, e.g. \"a shy smile that turns into a laugh\"")
    p.add_argument("--seconds", type=float, default=4.0,
                   help=f"duration ({SECONDS_RANGE[0]:g}-{SECONDS_RANGE[1]:g} s); the clip has exactly "
                        "seconds * fps frames (halves round up)")
    p.add_argument("--seed", type=int, default=0, help="same prompt, seed and settings: the same clip")
    p.add_argument("--variations", type=int, default=1,
                   help="how many different takes; written as NAME_0.npz, NAME_1.npz, ...")
    p.add_argument("--guidance", type=float, default=DEFAULTS["guidance"],
                   help="classifier-free guidance: 0 = none, higher follows the prompt more closely")
    p.add_argument("--temperature", type=float, default=DEFAULTS["temperature"],
                   help="sampling temperature: 0 = always the most likely motion, higher = more varied")
    p.add_argument("--top-k", type=int, default=DEFAULTS["top_k"], help="sample among the k likeliest codes (0 = all)")
    p.add_argument("--top-p", type=float, default=DEFAULTS["top_p"],
                   help="sample among the likeliest codes that together reach this probability")
    p.add_argument("--fps", type=float, default=None,
                   help="frame rate of the clip (default: the --continue-from clip's, else 25)")
    p.add_argument("--continue-from", metavar="CLIP.npz", default=None,
                   help="an existing clip (e.g. your keys): the new motion carries on from its last frame")
    p.add_argument("--until", metavar="CLIP.npz", default=None,
                   help="a clip that follows: the new motion leads into its first frame (in-betweening)")
    p.add_argument("--out", required=True, help="the clip file to write (.npz)")
    p.add_argument("--force", action="store_true", help="replace existing output files")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--generator", default=None, metavar="CKPT", help="generator checkpoint (default: the shipped one)")
    p.set_defaults(func=run)


def out_paths(out: str, n: int) -> list[Path]:
    base = Path(out)
    if base.suffix.lower() != ".npz":
        base = base.with_name(base.name + ".npz")
    if n == 1:
        return [base]
    return [base.with_name(f"{base.stem}_{i}.npz") for i in range(n)]


def run(args) -> int:
    from .clip import load_clip
    before = load_clip(input_file(args.continue_from, "--continue-from clip")) if args.continue_from else None
    after = load_clip(input_file(args.until, "--until clip")) if args.until else None
    paths = out_paths(args.out, max(1, args.variations))
    for p in paths:
        output_path(p, "--out", suffixes=(".npz",))
        if p.exists() and not args.force:
            raise OutputError(f"--out {p}", "already exists", "give a new name or pass --force to replace it")
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", GenerationWarning)
        clips = Engine(args.device, generator_path=args.generator).generate(
            [args.prompt], seconds=args.seconds, seed=args.seed, variations=args.variations,
            guidance=args.guidance, temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
            fps=args.fps, continue_from=before, until=after)
    for w in caught:
        print(f"tdmm generate: warning: {w.message}", file=sys.stderr)
    for clip, p in zip(clips, paths):
        clip.save(p)
    c = clips[0]
    where = paths[0] if len(paths) == 1 else f"{paths[0].parent / (paths[0].stem[:-2] + '_*.npz')}"
    print(f"wrote {len(clips)} clip(s) of {c.num_frames} frames at {c.fps:g} fps ({c.duration:.2f} s) to {where} "
          f"in {time.perf_counter() - t0:.2f} s")
    return 0
