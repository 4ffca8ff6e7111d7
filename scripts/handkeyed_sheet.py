"""Render the strongest frame of each hand-keyed clip (training/eval/handkeyed.py), to check by
eye that each shows what its words say.

    .venv/bin/python scripts/handkeyed_sheet.py [--out /tmp/hk_sheet.png]

docs/handkeyed_sheet.png is that picture scaled to 3/5. Cycles on CPU through tdmm_blender.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.clip import MotionClip  # noqa: E402
from engine.head import load_head  # noqa: E402
from training.eval.handkeyed import handkeyed_clips  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="/tmp/hk_sheet.png")
    ap.add_argument("--samples", type=int, default=16)
    args = ap.parse_args(argv)
    head = load_head()
    poses, exprs, labels = [], [], []
    for name, clip, _ in handkeyed_clips(head.expr_names):
        c, _, _ = clip.with_channels(list(head.expr_names))
        # the frame of the strongest keyed activity; the two-beat clip shows its second beat
        f = int((np.abs(c.expr).sum(1) + 3 * np.abs(c.pose).sum((1, 2))).argmax())
        if name == "smile_then_frown":
            f = int(3.0 * c.fps)
        poses.append(c.pose[f])
        exprs.append(c.expr[f])
        labels.append(f"{name} @{f / c.fps:.1f}s")
    sheet = MotionClip(pose=np.stack(poses), expr=np.stack(exprs), expr_names=list(head.expr_names),
                       fps=25.0).validate()
    from tdmm_blender import preview
    preview.render_head_sheet(head, sheet, labels, args.out, columns=4, samples=args.samples)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
