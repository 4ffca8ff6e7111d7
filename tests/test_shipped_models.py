"""Quality gates for the shipped checkpoints: each fails if a worse model is shipped.

The fixed sets are clips of the seed-0 corpus recipe (deterministic, made on the
fly, never trained on: only the held-out splits are used). Bands sit a little
above what the shipped models measure on these sets (see docs/RESULTS.md), far
below what an untrained or parameter-loss-only model gives.
"""
import numpy as np
import pytest
import torch

from engine.features import params_to_features
from engine.flame import FlameLayer
from engine.head import load_head
from engine.head_regions import face_head
from engine.tokenizer import load_tokenizer
from training.corpus.synth import split_of, synth_clip
from training.eval.metrics import r_precision
from training.eval.tokenizer_eval import evaluate


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


def padded_features(clips):
    """(features [N,T,D] zero past each clip's end, lengths [N]) of the clips."""
    feats = [params_to_features(p, e) for _, p, e, _ in clips]
    x = np.zeros((len(feats), max(len(f) for f in feats), feats[0].shape[1]), np.float32)
    for i, f in enumerate(feats):
        x[i, : len(f)] = f
    return torch.from_numpy(x), torch.tensor([len(f) for f in feats])


def tokenizer_face_errors(tok, clips) -> dict:
    """tok's reconstruction metrics on the clips, through the trainer's own evaluation
    (face-region vertex errors over every vertex-frame, mm)."""
    fhead, num_face = face_head(load_head())     # the face vertices first, then joint support
    x, n = padded_features(clips)
    return evaluate(tok, x, n, FlameLayer(fhead), num_face)


def test_tokenizer_reconstructs_heldout_faces(clips):
    torch.set_num_threads(2)
    m = tokenizer_face_errors(load_tokenizer(), clips)
    mean, p95 = m["vertex_mean_mm"], m["vertex_p95_mm"]
    # The bounds are issue 5's floors. Shipped residual VQ: 0.465 mm mean / 1.390 mm p95 on this
    # set; the plain VQs: 1.88 / 6.20 (13.7K steps) and 2.30 / 7.70 (the first one shipped);
    # the parameter-loss-only VQ: 9.05 / 39.7.
    assert mean < 0.5 and p95 < 1.5, f"face vertex error {mean:.2f} mm mean, {p95:.2f} mm p95"


def test_evaluator_retrieves_and_classifies_heldout_clips(clips):
    from training.corpus.captions import captions_for
    from training.eval.evaluator import load

    torch.set_num_threads(2)
    ev = load("assets/eval/evaluator")
    x, lengths = padded_features(clips)
    texts = [captions_for(lab, rng)[0] for lab, _, _, rng in clips]
    with torch.no_grad():
        zm = ev.embed_motion(x, lengths).numpy()
        zt = ev.embed_text(texts).numpy()
        pred = ev.classify(x, lengths)
    rp = r_precision(zt, zm, batch=16, top_k=3)
    # Shipped: top-1 ~1.0 in batches of 16 here (chance 1/16 = 0.06).
    assert rp["top1"] >= 0.85, rp
    fam = np.mean([p == lab["family"] for p, (lab, *_) in zip(pred["family"], clips)])
    # Shipped: ~0.96 family accuracy on val; chance 1/27.
    assert fam >= 0.8, f"family accuracy {fam:.2f}"
