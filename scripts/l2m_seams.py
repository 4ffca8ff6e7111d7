"""Seams of continuation and in-betweening with the shipped generator, against the corpus's own
frame-to-frame face-vertex steps (training/eval/seams.py).

    python scripts/l2m_seams.py [--data DIR] [--pairs 24] [--json OUT]

For each pair of held-out clips (a, b) of the dataset: continue a with b's first caption (3 s),
and bridge a -> b with "a quick change of expression" (1.5 s); the seam steps are a -> continuation,
a -> bridge and bridge -> b. Reported beside the steps inside the dataset's clips."""
from __future__ import annotations

import argparse
import json

import numpy as np

from engine.engine import Engine
from training.data.dataset import ClipDataset
from training.eval.seams import SeamMeter


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None, help="dataset folder (default: held-out clips of the seed-0 recipe)")
    ap.add_argument("--pairs", type=int, default=24)
    ap.add_argument("--generator", default=None)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    if args.data:
        ds = ClipDataset(args.data, split="test")
        clips = [ds[i] for i in range(2 * args.pairs)]
    else:
        from engine.clip import MotionClip
        from training.eval.evaluator_gate import heldout_clips
        names = Engine().tokenizer.cfg.expr_names
        clips = [MotionClip(pose=p, expr=e, expr_names=names, fps=lab["fps"], text=[])
                 for lab, p, e, _ in heldout_clips(2 * args.pairs)]
    eng, sm = Engine(generator_path=args.generator), SeamMeter()
    inside = sm.frame_steps_mm(clips)
    cont, into, out_of = [], [], []
    for k in range(args.pairs):
        a, b = clips[2 * k], clips[2 * k + 1]
        c = eng.generate("then she bursts out laughing", seconds=3, seed=k, continue_from=a)[0]
        br = eng.generate("a quick change of expression", seconds=1.5, seed=k, continue_from=a, until=b)[0]
        cont.append(sm.step_mm(a, c))
        into.append(sm.step_mm(a, br))
        out_of.append(sm.step_mm(br, b))
    p95, med = float(np.percentile(inside, 95)), float(np.median(inside))
    rows = {"continuation seam": cont, "in-between, first seam": into, "in-between, last seam": out_of}
    print(f"corpus frame-to-frame face-vertex step: median {med:.2f} mm, p95 {p95:.2f} mm ({len(inside)} steps)")
    res = {"corpus_median_mm": med, "corpus_p95_mm": p95}
    for name, v in rows.items():
        v = np.array(v)
        share = float((v <= p95).mean())
        print(f"{name}: median {np.median(v):.2f} mm, max {v.max():.2f} mm; {100 * share:.0f}% within the corpus p95")
        res[name] = {"median_mm": float(np.median(v)), "max_mm": float(v.max()), "within_p95": share}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
