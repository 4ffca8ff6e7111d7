"""`tdmm bake`: a prompt list becomes a .blend with one action per prompt on the default head (headless).

    tdmm bake --prompts prompts.txt --out baked/            # baked/prompts.blend
    tdmm bake --prompts shots.csv --out baked/ --seconds 3 --seed 7 --force
    tdmm bake --prompts prompts.txt --out baked/ --render  # + baked/prompts_sheet.png, a cell per prompt

The list is read by engine/prompt_list.py, as the add-on's Batch Bake reads it: .txt = one
prompt per line, .csv = prompt, seconds, seed. Bad lines are reported with their line numbers
and skipped; the rest are baked (exit 0), and a list with no good line is an error (exit 1).
Generation runs in this process through the Engine facade, batched (one Engine.generate call
per run of lines with the same seconds, each line its own seed, at most --batch prompts); each action is
written by the same code as the add-on's Batch Bake (batch_ops.write_baked), and the prompt
is printed beside the action it became and, when a captioner is installed, the caption the
captioner reads back from the motion (stored on the action as `tdmm_caption`, as the Caption
operator does). The .blend is written whole or not at all.
"""
from __future__ import annotations

import sys
import time
import warnings
from importlib import import_module
from pathlib import Path

from ._deps import engine

FPS = 25


def add_command(sub) -> None:
    pl = engine.prompt_list
    lo, hi = pl.SECONDS_RANGE
    p = sub.add_parser("bake", help="bake a list of prompts into a .blend, one action per prompt",
                       description="Read a prompt list (.txt: one prompt per line; .csv: prompt, seconds, seed) "
                                   "and write OUT/<list name>.blend with the default head and one action per "
                                   "prompt, named from the prompt. Bad lines are reported and skipped.")
    p.add_argument("--prompts", required=True, metavar="FILE", help="the prompt list (.txt or .csv)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the .blend (made if missing)")
    p.add_argument("--seconds", type=float, default=4.0,
                   help=f"duration of lines that give none ({lo:g}-{hi:g} s; default 4)")
    p.add_argument("--seed", type=int, default=0, help="seed of lines that give none (default 0)")
    p.add_argument("--guidance", type=float, default=2.0, help="classifier-free guidance (default 2)")
    p.add_argument("--batch", type=int, default=32, help="prompts per generation batch (default 32)")
    p.add_argument("--head", default=None, help="head file (default: the shipped open head)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--force", action="store_true", help="replace an existing .blend of the same name")
    p.add_argument("--render", action="store_true",
                   help="also render OUT/<list name>_sheet.png: one cell per prompt at its most expressive frame "
                        "(Cycles on CPU, small and few samples: a few seconds per prompt)")
    p.add_argument("--no-captions", action="store_true",
                   help="do not caption the baked clips (by default each is captioned when a captioner is installed)")
    p.set_defaults(func=run)


def run(args) -> int:
    InputError, OutputError = engine.errors.InputError, engine.errors.OutputError
    pl, safe_io = engine.prompt_list, engine.safe_io
    lo, hi = pl.SECONDS_RANGE
    if not lo <= args.seconds <= hi:
        raise InputError("--seconds", f"is {args.seconds:g}, outside {lo:g}-{hi:g}", "give a duration in that range")
    if args.seed < 0:
        raise InputError("--seed", f"is {args.seed}; seeds are whole numbers >= 0", "give 0 or more")
    if not 1 <= args.batch <= 256:
        raise InputError("--batch", f"is {args.batch}, outside 1-256", "give a batch size in that range")
    # Inputs and outputs are checked before anything heavy loads.
    plist = pl.read_prompt_file(args.prompts, args.seconds, args.seed, what="--prompts file")
    out_dir = safe_io.output_path(args.out, "--out", kind="dir")
    blend = out_dir / f"{Path(args.prompts).stem}.blend"
    sheet = out_dir / f"{Path(args.prompts).stem}_sheet.png"
    for target in [blend] + ([sheet] if args.render else []):
        safe_io.output_path(target, "--out", suffixes=(target.suffix,))
        if target.exists() and not args.force:
            raise OutputError(f"--out {target}", "already exists", "give another folder or pass --force to replace it")
    for problem in plist.problems:
        print(f"tdmm bake: warning: {problem}; line skipped", file=sys.stderr)
    if not plist.entries:
        raise InputError(f"--prompts file {args.prompts}", "has no prompt to bake",
                         "write one prompt per line (.txt) or prompt, seconds, seed per line (.csv)")
    head = engine.head.load_head(args.head)

    import bpy

    from . import demo, rig
    from .batch_ops import write_baked
    from .engine_ops import PROP_CAPTION
    Engine = import_module(f"{engine.__name__}.engine").Engine

    t0 = time.perf_counter()
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = FPS, 1.0
    arm = rig.build_head_object(head)
    eng = Engine(args.device)
    last, captions, baked = 1, not args.no_captions, []
    print(f"baking {len(plist.entries)} prompt(s) from {args.prompts}"
          + (f" ({len(plist.problems)} bad line(s) skipped)" if plist.problems else ""))
    for batch in pl.batches(plist.entries, args.batch):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            clips = eng.generate([e.prompt for e in batch], seconds=batch[0].seconds, seed=[e.seed for e in batch],
                                 guidance=args.guidance, fps=FPS)
        for w in caught:
            print(f"tdmm bake: warning: {w.message}", file=sys.stderr)
        for entry, clip in zip(batch, clips):
            result = write_baked(arm, entry, clip, scene, frame_start=1)
            baked.append((entry, clip))
            last = max(last, int(round(result.frame_range[1])))
            line = (f"  line {entry.line}: {entry.prompt!r} -> action {result.action.name!r}, frames "
                    f"{result.frame_range[0]:g}-{result.frame_range[1]:g} ({entry.seconds:g} s, seed {entry.seed})")
            if captions:
                try:                                   # prompt -> motion -> caption, read back by Motion2Language
                    text = eng.caption(clip)
                    result.action[PROP_CAPTION] = text
                    line += f" -> {text!r}"
                except (InputError, RuntimeError) as e:   # e.g. no captioner installed: say so once, bake on
                    print(f"tdmm bake: note: no captions ({e})", file=sys.stderr)
                    captions = False
            print(line)
    scene.frame_start, scene.frame_end = 1, last
    demo._save_blend(bpy, blend.resolve())
    print(f"wrote {blend}: {len(plist.entries)} action(s) in {time.perf_counter() - t0:.1f} s")
    if args.render:
        _render_sheet(head, baked, sheet)
        print(f"wrote {sheet}")
    return 0


def _render_sheet(head, baked, out_png: Path) -> None:
    """One cell per baked prompt, at the frame where its face is furthest from rest (the apex a
    reader checks against the prompt), labelled with the prompt's line and text."""
    import numpy as np

    from . import preview
    frames = []
    for _, clip in baked:
        away = np.abs(clip.expr).sum(1) + np.linalg.norm(clip.pose.reshape(clip.num_frames, -1), axis=1)
        i = int(np.argmax(away))
        frames.append((clip.pose[i], clip.expr[i]))
    first = baked[0][1]
    sheet = engine.clip.MotionClip(pose=np.stack([f[0] for f in frames]), expr=np.stack([f[1] for f in frames]),
                                   expr_names=list(first.expr_names), fps=first.fps).validate()
    # A cell fits about 23 characters of label at this size: longer ones spill into the next cell.
    labels = [_fit(f"{e.line}: {e.prompt}", 23) for e, _ in baked]
    preview.render_head_sheet(head, sheet, labels, str(out_png), columns=min(4, len(baked)), size=256, samples=12)


def _fit(text: str, n: int) -> str:
    return text if len(text) <= n else text[:n - 1].rstrip() + "\u2026"
