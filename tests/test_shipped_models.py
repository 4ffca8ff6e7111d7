"""Quality gates for the shipped checkpoints: each fails if a worse model is shipped.

The fixed sets are clips of the seed-0 corpus recipe (deterministic, made on the
fly, never trained on: only the held-out splits are used). Bands sit a little
above what the shipped models measure on these sets (see docs/RESULTS.md), far
below what an untrained or parameter-loss-only model gives.
"""
import pytest
import torch

from engine.flame import FlameLayer
from engine.head import load_head
from engine.head_regions import face_head
from engine.tokenizer import load_tokenizer
from training.eval.evaluator_gate import GATE_CLIPS, heldout_clips, padded_features
from training.eval.tokenizer_eval import evaluate


@pytest.fixture(scope="module")
def clips():
    return heldout_clips(48)


def tokenizer_face_errors(tok, clips) -> dict:
    """tok's reconstruction metrics on the clips, through the trainer's own evaluation
    (face-region vertex errors over every vertex-frame, mm)."""
    fhead, num_face = face_head(load_head())     # the face vertices first, then joint support
    x, n = padded_features(clips)
    return evaluate(tok, x, n, FlameLayer(fhead), num_face)


def test_tokenizer_reconstructs_heldout_faces(clips):
    """Face vertex error on 48 held-out clips under issue 5's mean floor and a p95 band just
    above the shipped tokenizer's, and one-sided faces kept one-sided; the same tokenizer with
    noise at 5% of each weight's spread must miss it, and so must the symmetric one it replaced."""
    from training.eval.evaluator_gate import degraded

    torch.set_num_threads(2)
    tok = load_tokenizer()
    m = tokenizer_face_errors(tok, clips)
    mean, p95, asym = m["vertex_mean_mm"], m["vertex_p95_mm"], m["asym_kept"]
    # Shipped residual VQ with the side basis and asym head (session 6, configs/vq_side_head.json):
    # 0.493 mm mean / 1.308 mm p95, asym_kept 0.944 on this set. The mean bound is issue 5's 0.5 mm
    # floor; the p95 bound (1.35) is tighter than the floor (1.5) and fails session 2's tokenizer
    # (0.464 / 1.390); the asym_kept bound (0.8: the share of left-minus-right differences that
    # survive the round trip) fails session 4's symmetric tokenizer (0.459 / 1.243, asym_kept
    # 0.0017). Worse ones: the plain VQs 1.88 / 6.20 and 2.30 / 7.70; the parameter-loss-only VQ
    # 9.05 / 39.7; the 5% noise copy 1.08 / 2.58.
    assert mean < 0.5 and p95 < 1.35 and asym > 0.8, \
        f"face vertex error {mean:.3f} mm mean, {p95:.3f} mm p95, one-sided share kept {asym:.3f}"
    worse = tokenizer_face_errors(degraded(tok, 0.05), clips)
    assert not (worse["vertex_mean_mm"] < 0.5 and worse["vertex_p95_mm"] < 1.35), worse


@pytest.fixture(scope="module")
def gate_clips():
    return heldout_clips(GATE_CLIPS)


def test_evaluator_passes_its_gate_and_a_degraded_copy_does_not(gate_clips):
    """Retrieval both ways and every classifier head on 256 held-out clips with held-out wording
    (training/eval/evaluator_gate.py); the same evaluator with noise at half of each weight
    tensor's spread must miss the gate."""
    from training.eval.evaluator import load
    from training.eval.evaluator_gate import degraded, gate_failures, gate_metrics

    torch.set_num_threads(2)
    ev = load("assets/eval/evaluator")
    assert ev.meta["version"] == "tdmm-evaluator-2" and "side" in ev.heads and "dynamic" in ev.heads
    shipped = gate_metrics(ev, gate_clips)
    assert not gate_failures(shipped), (gate_failures(shipped), shipped)
    worse = gate_metrics(degraded(ev, 0.5), gate_clips)
    assert gate_failures(worse), worse


def test_generator_passes_its_gate_and_an_untrained_copy_does_not(gate_clips):
    """The shipped Language2Motion generator on 256 held-out prompts (training/eval/generator_gate.py):
    evaluator R-precision top-1 and classifier agreement above the floors, which the T2M-GPT-style
    baseline (0.578 / 0.309 / 0.309 / 0.754, docs/RESULTS.md) and an untrained generator miss."""
    from engine.generator import MotionGenerator, load_generator
    from training.eval.evaluator import load
    from training.eval.generator_gate import gate_failures, gate_metrics

    torch.set_num_threads(2)
    tok, ev, gen = load_tokenizer(), load("assets/eval/evaluator"), load_generator()
    shipped = gate_metrics(gen, tok, ev, gate_clips)
    assert not gate_failures(shipped), (gate_failures(shipped), shipped)
    torch.manual_seed(0)
    untrained = gate_metrics(MotionGenerator(gen.cfg).eval(), tok, ev, gate_clips[:64])
    assert gate_failures(untrained), untrained


# One-word changes the shipped generator follows 3 of 3 times (seeds 0-2, scripts/l2m_prompt_suite.py);
# wink left -> right (2 of 3) and mouth closed -> wide open (1 of 3) it does not follow reliably yet.
FOLLOWED_PAIRS = ("she looks happy", "slightly smiling", "he nods", "tilts her head to the left", "looks up",
                  "turns to look left", "sad", "smiling quietly", "a smirk on the left side of his mouth",
                  "eyes open, calm")


def test_generator_follows_one_word_changes():
    from engine.engine import Engine
    from training.eval.prompt_checks import PAIRS, run_pairs

    torch.set_num_threads(2)
    pairs = [p for p in PAIRS if p["a"] in FOLLOWED_PAIRS]
    assert len(pairs) == len(FOLLOWED_PAIRS)
    eng = Engine()
    res = run_pairs(lambda texts, seconds, seed=0: eng.generate(list(texts), seconds=seconds, seed=seed), pairs)
    bad = [(r["a"], r["b"], r["change"]) for r in res["results"] if not r["ok"]]
    assert not bad, bad
