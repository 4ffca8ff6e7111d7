"""Quality gates for the shipped checkpoints: each fails if a worse model is shipped.

The fixed sets are clips of the seed-0 corpus recipe (deterministic, made on the
fly, never trained on: only the held-out splits are used). Bands sit a little
above what the shipped models measure on these sets (see docs/RESULTS.md), far
below what an untrained or parameter-loss-only model gives.
"""
import numpy as np
import pytest
import torch

from engine.features import features_to_params, params_to_features
from engine.flame import FlameLayer
from engine.head import load_head
from engine.tokenizer import load_tokenizer
from training.metrics import r_precision, vertex_errors
from training.synth import split_of, synth_clip
from training.train_vq import face_head


def heldout_clips(n, splits=("test", "test_heldout_combo"), seed=0):
    """The first n clips of the seed-0 corpus that fall in held-out splits."""
    out, i = [], 0
    while len(out) < n:
        labels, pose, expr, text_rng = synth_clip(seed, i)
        if split_of(labels) in splits:
            out.append((labels, pose, expr, text_rng))
        i += 1
    return out


@pytest.fixture(scope="module")
def clips():
    return heldout_clips(48)


def face_errors_mm(tok, clips):
    """Face-region vertex errors (mm, every vertex-frame) of tok's reconstruction of clips,
    and the last clip's (reconstructed, ground-truth) face vertices."""
    head = load_head()
    fhead, num_face = face_head(head)            # the face vertices first, then joint support
    layer = FlameLayer(fhead)
    errs = []
    with torch.no_grad():
        for _, pose, expr, _ in clips:
            f = torch.from_numpy(params_to_features(pose, expr))[None]
            n = torch.tensor([len(pose)])
            rec = tok.decode(tok.encode(f, n), n)[0, : len(pose)]
            p2, e2 = features_to_params(rec, head.num_expr)
            gt = layer(torch.from_numpy(expr), torch.from_numpy(pose))[:, :num_face]
            out = layer(e2.float(), p2.float())[:, :num_face]
            errs.append((out - gt).norm(dim=-1).reshape(-1) * 1000)
    return torch.cat(errs).numpy(), (out, gt)


def test_tokenizer_reconstructs_heldout_faces(clips):
    torch.set_num_threads(2)
    e, (out, gt) = face_errors_mm(load_tokenizer(), clips)
    mean, p95 = float(e.mean()), float(np.percentile(e, 95))
    # The bounds are issue 5's floors. Shipped residual VQ: 0.465 mm mean / 1.389 mm p95 on this
    # set; the plain VQs: 1.88 / 6.20 (13.7K steps) and 2.30 / 7.70 (the first one shipped);
    # the parameter-loss-only VQ: 9.05 / 39.7.
    assert mean < 0.5 and p95 < 1.5, f"face vertex error {mean:.2f} mm mean, {p95:.2f} mm p95"
    # The shared metric gives the same number on the last clip.
    m = vertex_errors(out[None], gt[None])
    assert abs(m["mean_mm"] - float(np.linalg.norm((out - gt).numpy(), axis=-1).mean() * 1000)) < 1e-3


def test_evaluator_retrieves_and_classifies_heldout_clips(clips):
    from training.captions import captions_for
    from training.evaluator import load

    torch.set_num_threads(2)
    ev = load("assets/eval/evaluator")
    feats = [params_to_features(p, e) for _, p, e, _ in clips]
    T = max(len(f) for f in feats)
    x = np.zeros((len(feats), T, feats[0].shape[1]), np.float32)
    for i, f in enumerate(feats):
        x[i, : len(f)] = f
    lengths = torch.tensor([len(f) for f in feats])
    texts = [captions_for(lab, rng)[0] for lab, _, _, rng in clips]
    with torch.no_grad():
        zm = ev.embed_motion(torch.from_numpy(x), lengths).numpy()
        zt = ev.embed_text(texts).numpy()
        pred = ev.classify(torch.from_numpy(x), lengths)
    rp = r_precision(zt, zm, batch=16, top_k=3)
    # Shipped: top-1 ~1.0 in batches of 16 here (chance 1/16 = 0.06).
    assert rp["top1"] >= 0.85, rp
    fam = np.mean([p == lab["family"] for p, (lab, *_) in zip(pred["family"], clips)])
    # Shipped: ~0.96 family accuracy on val; chance 1/27.
    assert fam >= 0.8, f"family accuracy {fam:.2f}"
