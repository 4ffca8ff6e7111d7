"""Do faces that look alike get the same tokens? Vertex-loss VQ vs parameter-loss VQ.

    python -m training.eval.vq_compare --a runs/vq/best.safetensors [more vertex-loss checkpoints] \
        --b runs/vq_param/best.safetensors [more] --data DIR [--split test] [--threshold-mm 1.0]

The paper's argument for supervising the tokenizer in mesh space: expression
coefficients are many-to-one (different coefficient patterns give nearly the same
face), so a tokenizer that reconstructs coefficients may split one look over
several codes. Measured here on held-out clips:

1. Segments = the frame windows of one token (4 frames) of every held-out clip.
2. Alike pairs = segments of two different clips whose face vertices (a fixed
   sample of the face region, every frame of the window) are all within
   `threshold_mm` of each other. Pairs are found on the ground-truth motion, so
   both models are judged on the same pairs.
3. Per model: agreement = share of alike pairs whose tokens are equal (level 0;
   all levels too for residual VQ), beside `chance` = the agreement of random
   cross-clip pairs (sum of squared code frequencies), which a model that uses
   fewer codes would win trivially. `agreement_far_params` restricts to the alike
   pairs whose parameters differ most (upper half of feature distance): the
   many-to-one cases the vertex loss is meant for.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from engine.features import features_to_params
from engine.flame import FlameLayer
from engine.head import load_head
from engine.head_regions import face_region, sub_head_with_joints
from engine.tokenizer import MotionTokenizer
from training.data.motion_data import load_split_features


def segment_geometry(feats: torch.Tensor, lengths: torch.Tensor, flame: FlameLayer, num_pts: int, window: int,
                     num_expr: int, chunk: int = 4096):
    """Every full token window of every clip -> (vertices [S, window*num_pts*3] mm,
    features [S, window*D], clip index [S], token position [S])."""
    N, T, D = feats.shape
    P = T // window
    pos = torch.arange(P, device=feats.device)
    full = (pos[None, :] + 1) * window <= lengths[:, None]                 # [N,P]
    clip, p = full.nonzero(as_tuple=True)
    frames = (p[:, None] * window + torch.arange(window, device=feats.device)[None, :])   # [S,w]
    seg = feats[clip[:, None], frames]                                      # [S,w,D]
    flat = seg.reshape(-1, D)
    verts = []
    for c in range(0, flat.shape[0], chunk):
        pose, expr = features_to_params(flat[c:c + chunk], num_expr)
        verts.append(flame(expr, pose)[:, :num_pts] * 1000.0)
    v = torch.cat(verts).reshape(len(clip), -1)
    return v, seg.reshape(len(clip), -1), clip, p


def alike_pairs(v: torch.Tensor, clip: torch.Tensor, threshold_mm: float, max_pairs: int, seed: int = 0,
                chunk: int = 1024):
    """Pairs (i < j, different clips) whose every vertex-frame is within threshold_mm: [P], [P]."""
    n_pts = v.shape[1] // 3
    ii, jj = [], []
    for a in range(0, v.shape[0], chunk):
        # RMS over points <= thr is necessary for max <= thr: a cheap filter before the exact check.
        d2 = torch.cdist(v[a:a + chunk], v[a:]).pow(2) / n_pts             # [c, S-a]
        i, j = (d2 <= threshold_mm ** 2).nonzero(as_tuple=True)
        i, j = i + a, j + a
        keep = (j > i) & (clip[i] != clip[j])
        i, j = i[keep], j[keep]
        for s in range(0, len(i), 65536):
            ci, cj = i[s:s + 65536], j[s:s + 65536]
            dmax = (v[ci] - v[cj]).reshape(len(ci), n_pts, 3).norm(dim=-1).amax(-1)
            ok = dmax <= threshold_mm
            ii.append(ci[ok])
            jj.append(cj[ok])
    i, j = (torch.cat(ii), torch.cat(jj)) if ii else (v.new_zeros(0, dtype=torch.long),) * 2
    if len(i) > max_pairs:
        g = torch.Generator().manual_seed(seed)
        pick = torch.randperm(len(i), generator=g)[:max_pairs].to(i.device)
        i, j = i[pick], j[pick]
    return i, j


def tokens_at(model: MotionTokenizer, feats, lengths, clip, pos, batch: int = 256) -> torch.Tensor:
    """Tokens of every segment: [S, R]."""
    toks = []
    for s in range(0, feats.shape[0], batch):
        t = model.encode(feats[s:s + batch], lengths[s:s + batch])
        toks.append(t.reshape(t.shape[0], t.shape[1], -1))
    R = toks[0].shape[-1]
    P = max(t.shape[1] for t in toks)
    allt = torch.cat([torch.nn.functional.pad(t, (0, 0, 0, P - t.shape[1]), value=-1) for t in toks])
    return allt[clip, pos].reshape(-1, R)


def compare(checkpoints, data, split: str = "test", head_path=None, threshold_mm: float = 1.0,
            max_clips: int | None = 2000, max_segments: int = 20000, max_pairs: int = 200000,
            num_points: int = 400, device: str = "auto", seed: int = 0) -> dict:
    dev = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                       ("cpu" if device == "auto" else device))
    models = [MotionTokenizer.load(c, dev) for c in checkpoints]
    feats, lengths, names, fps, _ = load_split_features(data, split, max_clips)
    for c, m in zip(checkpoints, models):
        if list(m.cfg.expr_names) != names:
            raise ValueError(f"{c} was trained on other expression channels than {data} has")
    window = models[0].cfg.downsample
    if any(m.cfg.downsample != window for m in models):
        raise ValueError("the models tokenize windows of different lengths; compare models of one downsampling")
    head = load_head(head_path)
    rng = np.random.default_rng(seed)
    face = np.flatnonzero(face_region(head))
    pts = np.sort(rng.choice(face, min(num_points, len(face)), replace=False))
    flame = FlameLayer(sub_head_with_joints(head, pts)[0]).to(dev)

    f, n = torch.from_numpy(feats).to(dev), torch.from_numpy(lengths).to(dev)
    with torch.no_grad():
        v, segf, clip, pos = segment_geometry(f, n, flame, len(pts), window, len(names))
    if v.shape[0] > max_segments:
        keep = torch.from_numpy(np.sort(rng.choice(v.shape[0], max_segments, replace=False))).to(dev)
        v, segf, clip, pos = v[keep], segf[keep], clip[keep], pos[keep]
    i, j = alike_pairs(v, clip, threshold_mm, max_pairs, seed)
    pdist = (segf[i] - segf[j]).norm(dim=-1)
    far = pdist >= pdist.median() if len(pdist) else pdist.bool()
    # Random cross-clip pairs: the chance level of each model's code distribution.
    g = torch.Generator().manual_seed(seed + 1)
    ri, rj = (torch.randint(0, v.shape[0], (100000,), generator=g).to(dev) for _ in range(2))
    rkeep = clip[ri] != clip[rj]
    ri, rj = ri[rkeep], rj[rkeep]
    out = {"split": split, "clips": int(len(lengths)), "segments": int(v.shape[0]), "pairs": int(len(i)),
           "threshold_mm": threshold_mm, "window_frames": window, "points": int(len(pts)),
           "param_dist_median": float(pdist.median()) if len(pdist) else None, "models": []}
    for c, m in zip(checkpoints, models):
        tok = tokens_at(m, f, n, clip, pos)                                  # [S,R]
        eq0 = (tok[i, 0] == tok[j, 0]).float()
        eqall = (tok[i] == tok[j]).all(-1).float()
        mean = lambda x: float(x.mean()) if len(x) else float("nan")
        out["models"].append({
            "checkpoint": str(c), "levels": m.cfg.levels,
            "vertex_loss": (getattr(m, "meta", {}).get("train") or {}).get("vertex_loss"),
            "agreement": mean(eq0), "agreement_all_levels": mean(eqall), "agreement_far_params": mean(eq0[far]),
            "chance": mean((tok[ri, 0] == tok[rj, 0]).float()),
            "chance_all_levels": mean((tok[ri] == tok[rj]).all(-1).float()),
        })
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.eval.vq_compare", description=__doc__.split("\n\n")[0])
    p.add_argument("--a", required=True, nargs="+", help="checkpoint(s) trained with the vertex loss")
    p.add_argument("--b", required=True, nargs="+", help="checkpoint(s) trained with the parameter loss only")
    p.add_argument("--data", required=True)
    p.add_argument("--split", default="test")
    p.add_argument("--head", default=None)
    p.add_argument("--threshold-mm", type=float, default=1.0)
    p.add_argument("--max-clips", type=int, default=2000)
    p.add_argument("--max-segments", type=int, default=20000)
    p.add_argument("--device", default="auto")
    p.add_argument("--out", default=None, help="also write the result as JSON here")
    args = p.parse_args(argv)
    res = compare(args.a + args.b, args.data, args.split, args.head, args.threshold_mm, args.max_clips,
                  args.max_segments, device=args.device)
    text = json.dumps(res, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    for name, m in zip(["vertex loss"] * len(args.a) + ["param loss"] * len(args.b), res["models"]):
        print(f"{m['checkpoint']} ({name}, {m['levels']} level(s)): agreement {m['agreement']:.3f} on "
              f"{res['pairs']} alike pairs (far-in-parameters half {m['agreement_far_params']:.3f}; chance "
              f"{m['chance']:.3f}; all levels {m['agreement_all_levels']:.3f}, chance {m['chance_all_levels']:.4f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
