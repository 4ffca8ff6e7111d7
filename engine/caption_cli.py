"""`tdmm caption`: say in words what the face in a clip file does, or answer a question about it,
through the Engine facade (Motion2Language).

    tdmm caption take.npz                                   # prints the caption
    tdmm caption take.npz --question "when does the frown start?"
    tdmm caption tracker_output.npz --captioner runs/m2l/best --sample --seed 3

Any clip in the DESIGN.md format is read, including FLAME trackers' key spellings, partial channel
sets (mapped by name; a warning says what was missing) and other frame rates (resampled).
"""
from __future__ import annotations

import argparse
import sys
import warnings

from .engine import CAPTION_DEFAULTS, Engine, GenerationWarning
from .safe_io import input_file


def add_command(sub) -> None:
    p = sub.add_parser("caption", help="describe the face motion of a clip in words (Motion2Language)",
                       description="Read a clip file (.npz, docs/DATASET_FORMAT.md, or a FLAME tracker's output) "
                                   "and print what the face does: emotion, intensity, side, small facial actions, "
                                   "head motion and timing; or the answer to --question.",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("clip", help="the clip file (.npz)")
    p.add_argument("--question", default=None, help="a question about the clip, e.g. \"does she blink?\"")
    p.add_argument("--captioner", default=None, metavar="CKPT",
                   help="captioner checkpoint (NAME for NAME.safetensors + NAME.json; default: the shipped one)")
    p.add_argument("--tokenizer", default=None, metavar="CKPT", help="motion tokenizer (default: the shipped one)")
    p.add_argument("--sample", action="store_true", help="sample the words instead of taking the likeliest")
    p.add_argument("--temperature", type=float, default=CAPTION_DEFAULTS["temperature"], help="with --sample")
    p.add_argument("--top-p", type=float, default=CAPTION_DEFAULTS["top_p"], help="with --sample")
    p.add_argument("--seed", type=int, default=0, help="with --sample: the same seed gives the same text")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.set_defaults(func=run)


def run(args) -> int:
    from .clip import ClipWarning, load_clip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", GenerationWarning)
        warnings.simplefilter("always", ClipWarning)
        clip = load_clip(input_file(args.clip, "clip"))
        eng = Engine(args.device, tokenizer_path=args.tokenizer, captioner_path=args.captioner)
        text = eng.caption(clip, question=args.question, greedy=not args.sample, temperature=args.temperature,
                           top_p=args.top_p, seed=args.seed)
    for w in caught:
        if issubclass(w.category, (GenerationWarning, ClipWarning)):
            print(f"tdmm caption: warning: {w.message}", file=sys.stderr)
    if not text:
        raise RuntimeError(f"{args.clip}: the captioner wrote no words for this clip (is {args.captioner or 'it'} "
                           "trained?)")
    print(text)
    return 0
