"""Render what the tokenizer does to faces: ground truth beside its reconstruction.

    .venv/bin/python scripts/tokenizer_sheet.py [--checkpoint assets/vq/tokenizer] [--out docs/tokenizer_sheet.png]

Four held-out clips of the seed-0 corpus (test split, one per family asked for).
Per clip, one row: the apex frame (largest sum of expression channels, blinks left out) as
ground truth and as encoded + decoded by the tokenizer, then the frame where the
reconstruction is worst, both ways. The tokenizer's cells carry that frame's
face-region vertex error (mean / max, mm). Cycles on CPU through the Blender rig (tdmm_blender).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.clip import MotionClip  # noqa: E402
from engine.features import features_to_params, params_to_features  # noqa: E402
from engine.flame import FlameLayer  # noqa: E402
from engine.head import load_head  # noqa: E402
from engine.head_regions import face_head  # noqa: E402
from engine.tokenizer import load_tokenizer  # noqa: E402
from training.corpus.synth import split_of, synth_clip  # noqa: E402


def pick_clips(families: list[str], seed: int = 0, sided: bool = False):
    """The first test-split clip of each family, in the order asked (one-sided ones with `sided`)."""
    found, i = {}, 0
    while len(found) < len(families):
        labels, pose, expr, _ = synth_clip(seed, i)
        ok = not sided or labels.get("side") in ("left", "right")
        if ok and split_of(labels) == "test" and labels["family"] in families and labels["family"] not in found:
            found[labels["family"]] = (labels, pose, expr)
        i += 1
    return [found[f] for f in families]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default=None, help="tokenizer (default: the shipped one)")
    ap.add_argument("--out", default="docs/tokenizer_sheet.png")
    ap.add_argument("--families", default="joy,sadness,surprise,anger")
    ap.add_argument("--samples", type=int, default=24)
    ap.add_argument("--sided", action="store_true",
                    help="one-sided clips only (a smirk, a wink): does the side survive?")
    args = ap.parse_args(argv)

    head = load_head()
    tok = load_tokenizer(args.checkpoint)
    fhead, num_face = face_head(head)
    layer = FlameLayer(fhead)
    kind = "RVQ" if tok.cfg.levels > 1 else "VQ"
    # Blinks would win the apex search; the apex should show the emotion.
    no_blink = np.array([not n.startswith("eyeBlink") for n in head.expr_names])
    poses, exprs, labels = [], [], []
    for lab, pose, expr in pick_clips(args.families.split(","), sided=args.sided):
        n = torch.tensor([len(pose)])
        with torch.no_grad():
            rec = tok.decode(tok.encode(torch.from_numpy(params_to_features(pose, expr))[None], n), n)[0, :len(pose)]
            p2, e2 = features_to_params(rec, head.num_expr)
            gt = layer(torch.from_numpy(expr), torch.from_numpy(pose))[:, :num_face]
            out = layer(e2.float(), p2.float())[:, :num_face]
        err = (out - gt).norm(dim=-1).numpy() * 1000                       # [T,Vf] mm
        apex = int(expr[:, no_blink].sum(1).argmax())                       # strongest expression
        worst = int(err.mean(-1).argmax())
        for f, tag in ((apex, "apex"), (worst, "worst")):
            poses += [pose[f], p2[f].numpy()]
            exprs += [expr[f], e2[f].numpy()]
            labels += [f"{lab['descriptor']} {tag}", f"{kind} {err[f].mean():.2f}/{err[f].max():.1f} mm"]
    clip = MotionClip(pose=np.stack(poses).astype(np.float32), expr=np.clip(np.stack(exprs), 0, 1).astype(np.float32),
                      expr_names=list(head.expr_names), fps=25.0).validate()

    from tdmm_blender import preview
    preview.render_head_sheet(head, clip, labels, args.out, columns=4, samples=args.samples)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
