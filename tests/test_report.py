"""`tdmm eval` (training/eval/report.py): end to end on a tiny corpus with tiny random models,
the marker block of RESULTS.md, the Language2Motion plumbing on a known answer, t-SNE."""
import json

import numpy as np
import pytest
import torch

from engine.features import feature_dim
from training.baselines.l2m import baseline_generators
from training.eval.report import MARK_BEGIN, MARK_END, l2m_rows, load_clips, make_sets, motion_outputs, write_block

TINY = dict(d_model=32, n_layers=1, n_heads=2, d_ff=64, text_layers=1, embed_dim=16, dropout=0.0)
OTHER = "# Results\n\nHand-written head section.\n\n| a | b |\n| --- | --- |\n| 1 | 2 |\n"
TAIL = "\n## Corpus\n\nMore hand-written text, kept byte for byte.\n"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from training.corpus.synth import build
    out = tmp_path_factory.mktemp("report_corpus")
    build(out, clips=160, seed=0, workers=1, progress=False)
    return out


@pytest.fixture(scope="module")
def models(corpus, tmp_path_factory):
    """A tiny random evaluator (with a training log beside it) and a tiny random tokenizer."""
    from engine.tokenizer import MotionTokenizer, VQConfig
    from training.eval.evaluator import Evaluator, EvaluatorConfig
    out = tmp_path_factory.mktemp("report_models")
    a, _, _ = load_clips(corpus, "train", 32, 0)
    families = sorted({lab["family"] for lab in a.labels})
    torch.manual_seed(0)
    ev = Evaluator(EvaluatorConfig(**TINY, feat_dim=feature_dim(len(a.expr_names)), expr_names=a.expr_names,
                                   fps=a.fps, families=families))
    f = a.features()[np.arange(a.features().shape[1])[None, :] < a.lengths[:, None]]
    ev.set_feature_stats(f.mean(0), f.std(0))
    ev.save(out / "evaluator")
    log = {"curve": [{"step": s, "loss": 3.0 / s, "nce": 2.0 / s, "cls": 1.0 / s} for s in (1, 2, 3)],
           "val": [{"step": 3, "t2m_R@1": 0.1, "m2t_R@1": 0.2, "acc_family": 0.3}]}
    (out / "evaluator" / "train_log.json").write_text(json.dumps(log))
    tok = MotionTokenizer(VQConfig(expr_names=list(a.expr_names), fps=a.fps, width=16, depth=1,
                                   codebook_size=16, code_dim=8))
    tok.set_normalization(f.mean(0), f.std(0))
    tok.save(out / "vq" / "tiny")
    (out / "vq" / "log.jsonl").write_text("".join(json.dumps({"step": s, "loss": 1.0 / s, "vertex": 2.0 / s}) + "\n"
                                                  for s in (1, 2, 3)))
    (out / "vq" / "val.jsonl").write_text(json.dumps({"step": 2, "vertex_mean_mm": 1.5, "vertex_p95_mm": 3.0}) + "\n")
    return out


def test_eval_command_end_to_end(corpus, models, tmp_path):
    from engine.cli import main
    out = tmp_path / "docs"
    out.mkdir()
    old_block = f"{MARK_BEGIN}\nstale numbers\n{MARK_END}\n"
    (out / "RESULTS.md").write_text(OTHER + "\n" + old_block + TAIL)
    argv = ["eval", "--data", str(corpus), "--evaluator", str(models / "evaluator"),
            "--tokenizers", f"tiny={models / 'vq' / 'tiny'}", "--subset", "16", "--train-subset", "32",
            "--splits", "test_heldout_combo,test", "--out", str(out), "--tsne-points", "40", "--vertex-frames", "256",
            "--quiet"]
    assert main(argv) == 0

    text = (out / "RESULTS.md").read_text()
    assert text.startswith(OTHER + "\n" + MARK_BEGIN) and text.endswith(MARK_END + "\n" + TAIL)
    assert "stale numbers" not in text and text.count(MARK_BEGIN) == 1
    for title in ("Evaluator self-quality", "Language2Motion", "Motion2Language", "Tokenizers"):
        assert f"### {title}" in text
    for png in ("eval_tsne_family.png", "eval_confusion_family.png", "eval_family_accuracy.png",
                "eval_training_curves.png"):
        assert (out / png).stat().st_size > 1000 and f"({png})" in text

    from training.eval.report import read_curves
    curves = read_curves(models / "evaluator", [("tiny", models / "vq" / "tiny")])
    assert [len(c[1]) for c in curves] == [3, 3] and [len(c[2]) for c in curves] == [1, 1]
    res = json.loads((out / "eval_results.json").read_text())
    names = [s["name"] for s in res["sets"]]
    assert names[0] == "test_heldout_combo" and "test, held-out wording" in names
    for q in res["self"]:
        for d in ("t2m", "m2t"):
            assert all(0 <= v <= 1 for v in q[d]["batch"].values() if v == v)
            assert 1 <= q[d]["median_rank"] <= q["n"]
        assert set(q["classifier"]) == {"family", "intensity", "head_motion", "talking", "micro_f1", "side", "dynamic"}
    models_seen = {r["model"] for r in res["l2m"]}
    assert {"ground truth (upper bound)", "random train clip (lower bound)", "train mean motion (lower bound)",
            "random tokens (tiny)"} <= models_seen and len(res["l2m"]) == 4 * len(names)
    for r in res["l2m"]:
        assert all(0 <= r[k] <= 1 for k in ("top1", "top2", "top3"))
        assert np.isfinite(r["fd"]) and r["fd"] >= 0          # FD's own known answers: test_l2m_rows_known_answer
        assert all(0 <= r[f"acc_{k}"] <= 100 for k in ("family", "intensity", "head_motion"))
        assert r["set"] in names and r["source"]
        if r["model"].startswith("ground truth"):
            assert r["l2"] == 0 and r["fd"] < 1e-6
    assert len(res["m2l"]) == 2 * len(names)
    upper = [r for r in res["m2l"] if r["model"].startswith("reference")]
    assert all(r["acc_family"] == 100 and 0 < r["bleu1"] <= 1 for r in upper)     # synth captions state the family
    assert [r["set"] for r in res["tokenizers"]] == ["test_heldout_combo", "test"]
    for r in res["tokenizers"]:
        assert r["vertex_mean_mm"] > 0 and r["vertex_p95_mm"] >= r["vertex_mean_mm"] * 0.5
        assert 0 < r["code_usage"] <= 100 and 1 <= r["perplexity"] <= 16 and r["tokens_per_s"] == 25 / 4


class MirrorEvaluator:
    """Stand-in evaluator with a known answer: a clip's embedding is its mean feature vector and
    the text side is given the very same vectors, so ground truth must retrieve perfectly."""

    def __init__(self, families):
        from training.eval.evaluator import EvaluatorConfig
        self.cfg = EvaluatorConfig(families=families)

    def embed_motion(self, feats, lengths, normalize=False):
        f, n = torch.as_tensor(np.asarray(feats)), torch.as_tensor(np.asarray(lengths))
        m = (torch.arange(f.shape[1])[None, :] < n[:, None]).float()[..., None]
        return (f * m).sum(1) / n[:, None]

    def labels_from_logits(self, logits):
        from training.eval.evaluator import Evaluator
        return Evaluator.labels_from_logits(self, logits)

    def head_logits(self, z):
        c = self.cfg
        return {"family": z[:, :len(c.families)], "intensity": z[:, :len(c.intensities)],
                "head": z[:, :len(c.head_motions)], "talking": z[:, 0], "micro": z[:, :len(c.micro_events)]}


def test_l2m_rows_known_answer(corpus):
    a, held, _ = load_clips(corpus, "test_heldout_combo", 32, 0)
    pool, _, _ = load_clips(corpus, "train", 64, 0)
    ev = MirrorEvaluator(sorted({lab["family"] for lab in pool.labels}))
    sets = make_sets(a, held, "test_heldout_combo", 0)
    emb, preds = motion_outputs(ev, a.features(), a.lengths)
    for s in sets:
        s.motion_emb, s.text_emb, s.preds = emb, emb, preds            # text maps exactly onto its motion
    (gt_name, gt, _), (rnd_name, rnd, _), (mean_name, mean, _) = baseline_generators(sets, pool, 0)
    gt_row = l2m_rows(gt, ev, sets[:1], gt_name, "test")[0]
    assert gt_row["top1"] == 1.0 and gt_row["fd"] < 1e-6 and gt_row["mm_dist"] < 1e-5 and gt_row["l2"] == 0
    # FD's known answer with its trace terms at work: every query gets the set's first clip, so the
    # generated embeddings are one point (no spread) and FD = |mean - that point|^2 + total variance.
    s = sets[0]
    one = lambda caps, lens: ([s.arrays.pose[0, :s.arrays.lengths[0]]] * len(lens),
                              [s.arrays.expr[0, :s.arrays.lengths[0]]] * len(lens))
    fd = l2m_rows(one, ev, sets[:1], "one clip", "test")[0]["fd"]
    real = s.motion_emb.astype(np.float64)
    want = ((real.mean(0) - real[0]) ** 2).sum() + real.var(0, ddof=1).sum()
    assert np.isfinite(fd) and want > 0.01 and fd == pytest.approx(want, rel=1e-4)
    rnd_row = l2m_rows(rnd, ev, sets[:1], rnd_name, "test")[0]
    assert rnd_row["top1"] < 0.5 and rnd_row["mm_dist"] > 0.1 and rnd_row["l2"] > 0
    mean_row = l2m_rows(mean, ev, sets[:1], mean_name, "test")[0]
    assert mean_row["diversity"] < 0.5 * gt_row["diversity"]          # one motion (cut to each length) for all
    drop = lambda r: {k: ("nan" if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items() if k != "seconds"}
    assert drop(l2m_rows(gt, ev, sets[:1], gt_name, "test")[0]) == drop(gt_row)     # deterministic
    # multimodality: one motion for every take is 0; a random clip per row is not
    assert l2m_rows(one, ev, sets[:1], "one clip", "test", mm_prompts=True)[0]["mm"] == pytest.approx(0, abs=1e-6)
    assert l2m_rows(rnd, ev, sets[:1], rnd_name, "test", mm_prompts=True)[0]["mm"] > 0.1
    # a generator may return padded arrays at the requested lengths as well as lists
    padded = lambda caps, lens: (torch.from_numpy(a.pose.reshape(len(a), -1, 15)), a.expr)
    row = l2m_rows(padded, ev, sets[:1], "padded", "test")[0]
    assert row["top1"] == 1.0 and row["l2"] == 0
    with pytest.raises(ValueError, match="expression channels"):
        l2m_rows(lambda c, n: (a.pose, a.expr[..., :3]), ev, sets[:1], "bad", "test")


def test_write_block(tmp_path):
    p = tmp_path / "RESULTS.md"
    p.write_text(OTHER)                                                 # no block yet: appended
    write_block(p, f"{MARK_BEGIN}\none\n{MARK_END}\n")
    assert p.read_text() == OTHER + f"\n{MARK_BEGIN}\none\n{MARK_END}\n"
    p.write_text(OTHER + f"\n{MARK_BEGIN}\none\n{MARK_END}\n" + TAIL)  # block in the middle: replaced in place
    write_block(p, f"{MARK_BEGIN}\ntwo\n{MARK_END}\n")
    assert p.read_text() == OTHER + f"\n{MARK_BEGIN}\ntwo\n{MARK_END}\n" + TAIL
    p.write_text(OTHER + f"\n{MARK_BEGIN}\nhalf a block\n" + TAIL)       # broken markers: refuse, touch nothing
    with pytest.raises(ValueError, match="markers"):
        write_block(p, f"{MARK_BEGIN}\nthree\n{MARK_END}\n")
    assert p.read_text() == OTHER + f"\n{MARK_BEGIN}\nhalf a block\n" + TAIL
    write_block(tmp_path / "new" / "RESULTS.md", f"{MARK_BEGIN}\nx\n{MARK_END}\n")
    assert (tmp_path / "new" / "RESULTS.md").read_text().startswith("# Results\n")


def test_tsne_separates_clusters_and_is_deterministic():
    from training.eval.tsne import tsne
    rng = np.random.default_rng(0)
    lab = rng.integers(0, 4, 160)
    x = rng.normal(size=(4, 20))[lab] * 4 + rng.normal(size=(160, 20))
    y = tsne(x, perplexity=20, iters=400, seed=0)
    assert y.shape == (160, 2) and np.isfinite(y).all()
    d = ((y[:, None] - y[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    assert (lab[d.argsort(1)[:, :5]] == lab[:, None]).mean() > 0.95
    assert np.array_equal(y, tsne(x, perplexity=20, iters=400, seed=0))
