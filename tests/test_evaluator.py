"""The text-motion evaluator: MiniLM wrapper, losses on known answers, padding,
checkpoint round trip, and a tiny CPU training run on a synthesised corpus."""
import argparse
import json
import math

import numpy as np
import pytest
import torch

from engine.features import feature_dim
from engine.text_encoder import TextEncoder
from training.corpus.labels import DYNAMICS, HEAD_MOTIONS, MICRO_EVENTS, SIDES
from training.eval.evaluator import Evaluator, EvaluatorConfig, false_negative_mask, info_nce, label_targets, load


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models gain nothing from threads, and on a busy CI machine extra threads make
    every op wait (10x slower here under load)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


TINY = dict(d_model=32, n_layers=1, n_heads=2, d_ff=64, text_layers=1, embed_dim=16, dropout=0.0)


def tiny_model(seed=0, **kw) -> Evaluator:
    torch.manual_seed(seed)
    cfg = EvaluatorConfig(**{**TINY, "feat_dim": 12 + 30, "families": ["joy", "anger", "fear"], **kw})
    m = Evaluator(cfg)
    g = torch.Generator().manual_seed(seed)
    m.set_feature_stats(torch.randn(cfg.feat_dim, generator=g) * 0.1, torch.rand(cfg.feat_dim, generator=g) + 0.5)
    return m.eval()


def random_motion(lengths, T=None, D=42, seed=0, pad_value=0.0):
    rng = np.random.default_rng(seed)
    T = T or max(lengths)
    f = np.full((len(lengths), T, D), pad_value, np.float32)
    for i, n in enumerate(lengths):
        f[i, :n] = rng.normal(size=(n, D))
    return f, np.array(lengths)


# -- text encoder ---------------------------------------------------------------------------
def test_text_encoder_shapes_and_padding():
    enc = TextEncoder()
    texts = ["she grins", "a man slowly nods twice while his brows lift in surprise", ""]
    tok, mask = enc.encode_tokens(texts)
    assert tok.dtype == torch.float32 and tok.shape[0] == 3 and tok.shape[2] == 384
    assert mask.shape == tok.shape[:2] and mask.dtype == torch.bool
    n = mask.sum(1).tolist()
    assert n[0] == 4 and n[2] == 2 and n[1] == tok.shape[1]          # [CLS] she grins [SEP]; "" -> [CLS][SEP]
    assert torch.all(tok[~mask] == 0)                                  # zero past each caption
    alone, m1 = enc.encode_tokens(["she grins"])                       # padding does not change the words
    assert alone.shape == (1, 4, 384) and torch.allclose(alone[0], tok[0, :4], atol=1e-4)
    sent = enc.encode_sentences(["she grins", "she smiles widely", "the invoice is overdue"])
    assert sent.shape == (3, 384)
    assert torch.allclose(sent.norm(dim=-1), torch.ones(3), atol=1e-5)
    sim = sent @ sent.T
    assert sim[0, 1] > 0.5 > sim[0, 2]
    with pytest.raises(TypeError):
        enc.encode_tokens("one string")


# -- losses -----------------------------------------------------------------------------------
def test_false_negative_mask_known_answer():
    e = torch.tensor([[1.0, 0, 0],
                      [0.9, math.sqrt(1 - 0.81), 0],       # cos 0.9 with row 0
                      [0, 1.0, 0],                          # cos 0.436 with row 1, 0 with row 0
                      [2.0, 0, 0],                          # same direction as row 0 (not unit length)
                      [0.7, math.sqrt(1 - 0.49), 0]])       # cos 0.7 with row 0: kept at 0.8
    got = false_negative_mask(e, 0.8)
    # cosines: (0,1) .9, (0,3) 1, (1,3) .9, (1,4) .94 -> excluded; (0,4) .7, (2,4) .71, (1,2) .44, rest 0 -> kept
    want = torch.zeros(5, 5, dtype=torch.bool)
    for i, j in [(0, 1), (0, 3), (1, 3), (1, 4)]:
        want[i, j] = want[j, i] = True
    assert torch.equal(got, want)
    assert not got.diagonal().any()
    assert torch.equal(false_negative_mask(e, 1.01), torch.zeros(5, 5, dtype=torch.bool))


def test_info_nce_known_answer():
    B = 4
    z = torch.eye(B)                                      # cosine 1 on the diagonal, 0 elsewhere
    t = 0.5
    # every row: -log(e^2 / (e^2 + (B-1) e^0))
    want = -math.log(math.exp(2) / (math.exp(2) + B - 1))
    assert info_nce(z, z, t).item() == pytest.approx(want, rel=1e-6)
    ex = torch.zeros(B, B, dtype=torch.bool)
    ex[0, 1] = ex[1, 0] = True                            # rows/cols 0 and 1 lose one negative each
    w01 = -math.log(math.exp(2) / (math.exp(2) + B - 2))
    assert info_nce(z, z, t, ex).item() == pytest.approx((2 * w01 + 2 * want) / 4, rel=1e-6)
    # scale of the embeddings does not matter (cosine)
    assert info_nce(3 * z, z, t).item() == pytest.approx(want, rel=1e-6)


def test_label_targets():
    cfg = EvaluatorConfig(families=["joy", "sadness"])
    lab = {"family": "sadness", "intensity": "strong", "head": {"motion": "nod", "count": 2},
           "micro": [{"type": "blink", "start": 1, "end": 2}, {"type": "yawn", "start": 5, "end": 9}],
           "talking": True}
    t = label_targets([lab, None, {**lab, "family": "unseen", "talking": False, "micro": []}], cfg)
    assert t["family"].tolist() == [1, -100, -100]
    assert t["intensity"].tolist() == [3, -100, 3]
    assert t["head"].tolist() == [HEAD_MOTIONS.index("nod"), -100, HEAD_MOTIONS.index("nod")]
    assert t["talking"].tolist() == [1, 0, 0] and t["has"].tolist() == [1, 0, 1]
    assert t["micro"].shape == (3, len(MICRO_EVENTS))
    assert np.flatnonzero(t["micro"][0]).tolist() == [MICRO_EVENTS.index("blink"), MICRO_EVENTS.index("yawn")]
    assert t["micro"][1:].sum() == 0
    # version 2: side and dynamic; version-1 labels (none of either) read as "both" / "none"
    both = SIDES.index("both")
    assert t["side"].tolist() == [both, -100, both] and t["dynamic"].tolist() == [0, -100, 0]
    t2 = label_targets([{**lab, "side": "left", "dynamic": "eye_roll"}], cfg)
    assert t2["side"].tolist() == [SIDES.index("left")] and t2["dynamic"].tolist() == [1 + DYNAMICS.index("eye_roll")]
    assert "side" not in label_targets([lab], EvaluatorConfig(families=["joy"], sides=[], dynamics=[]))


# -- model ---------------------------------------------------------------------------------------
def test_padding_and_odd_lengths():
    m = tiny_model()
    lengths = [1, 7, 13]
    f, n = random_motion(lengths, T=20, pad_value=np.nan)     # padding may hold anything
    z = m.embed_motion(f, n)
    assert z.shape == (3, 16) and torch.isfinite(z).all()
    assert torch.allclose(z.norm(dim=-1), torch.ones(3), atol=1e-5)
    for i, L in enumerate(lengths):                            # alone, unpadded == in the padded batch
        zi = m.embed_motion(f[i:i + 1, :L], n[i:i + 1])
        assert torch.allclose(zi[0], z[i], atol=1e-5)
    f2 = np.concatenate([f, np.zeros((3, 9, 42), np.float32)], 1)   # more padding: same result
    assert torch.allclose(m.embed_motion(f2, n), z, atol=1e-5)
    assert torch.allclose(m.embed_motion(torch.from_numpy(f), torch.from_numpy(n), batch_size=2), z, atol=1e-5)
    raw = m.embed_motion(f, n, normalize=False)
    assert torch.allclose(torch.nn.functional.normalize(raw, dim=-1), z, atol=1e-6)
    c = m.classify(f, n)
    assert c["family"][0] in ("joy", "anger", "fear") and len(c["family"]) == 3
    assert all(h in HEAD_MOTIONS for h in c["head"]) and len(c["talking"]) == 3
    assert all(set(ev) <= set(MICRO_EVENTS) for ev in c["micro"])
    assert c["probs"]["family"].shape == (3, 3) and c["probs"]["micro"].shape == (3, len(MICRO_EVENTS))
    assert all(x in SIDES for x in c["side"]) and all(x is None or x in DYNAMICS for x in c["dynamic"])
    assert c["probs"]["side"].shape == (3, 3) and c["probs"]["dynamic"].shape == (3, 1 + len(DYNAMICS))
    with pytest.raises(ValueError, match="channels"):
        m.embed_motion(f[:, :, :40], n)
    with pytest.raises(ValueError, match="lengths"):
        m.embed_motion(f, np.array([0, 7, 13]))


def test_save_load_roundtrip(tmp_path):
    m = tiny_model(seed=3)
    f, n = random_motion([5, 11], seed=1)
    texts = ["she grins", "a slow nod"]
    z_m, z_t = m.embed_motion(f, n), m.embed_text(texts)
    assert z_t.shape == (2, 16)

    m.save(tmp_path / "full", half=False)
    m2 = load(tmp_path / "full")
    assert torch.equal(m2.embed_motion(f, n), z_m) and torch.equal(m2.embed_text(texts), z_t)

    m.save(tmp_path / "half")                                 # shipped form: fp16 weights, fp32 stats
    meta = json.loads((tmp_path / "half" / "config.json").read_text())
    assert meta["version"] == "tdmm-evaluator-2" and meta["dtype"] == "float16"
    assert meta["config"]["families"] == ["joy", "anger", "fear"]
    assert meta["config"]["micro_events"] == list(MICRO_EVENTS)
    a, b = load(tmp_path / "half"), Evaluator.load(tmp_path / "half")
    assert torch.equal(a.embed_motion(f, n), b.embed_motion(f, n))          # deterministic load
    assert torch.allclose(a.embed_motion(f, n), z_m, atol=2e-2)              # fp16 rounding only
    assert torch.equal(a.feat_std, m.feat_std)
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nothing")
    # a version-1 checkpoint (no side or dynamic heads) still loads, and predicts neither
    v1 = tiny_model(seed=3, sides=[], dynamics=[])
    v1.save(tmp_path / "v1")
    meta = json.loads((tmp_path / "v1" / "config.json").read_text())
    meta["version"] = "tdmm-evaluator-1"
    for k in ("sides", "dynamics"):
        del meta["config"][k]
    (tmp_path / "v1" / "config.json").write_text(json.dumps(meta))
    old = load(tmp_path / "v1")
    assert "side" not in old.heads and "side" not in old.classify(f, n)


# -- training ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from training.corpus.synth import build
    out = tmp_path_factory.mktemp("evcorpus")
    build(out, clips=64, seed=0, workers=1, progress=False)
    return out


def _args(corpus, out, cfg_path, **kw):
    from training.train.evaluator import add_arguments
    p = argparse.ArgumentParser()
    add_arguments(p)
    argv = ["--data", str(corpus), "--out", str(out), "--config", str(cfg_path), "--device", "cpu", "--quiet"]
    for k, v in kw.items():
        argv += [f"--{k.replace('_', '-')}", str(v)]
    return p.parse_args(argv)


def _rows(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_training_loss_goes_down(corpus, tmp_path):
    from training.train.evaluator import run
    cfg_path = tmp_path / "tiny.json"
    model = {**TINY, "d_model": 48, "d_ff": 96, "n_heads": 4, "embed_dim": 32, "max_frames": 64}
    cfg_path.write_text(json.dumps({"model": model, "train": {"warmup": 3, "log_every": 1, "val_every": 15}}))
    out = tmp_path / "ck"
    assert run(_args(corpus, out, cfg_path, steps=30, batch_size=16, lr=2e-3, seed=0)) == 0
    log, val = _rows(out / "log.jsonl"), _rows(out / "val.jsonl")
    losses = [r["loss"] for r in log]
    assert len(losses) == 30 and all(map(math.isfinite, losses))
    assert np.mean(losses[-5:]) < 0.9 * np.mean(losses[:5]), losses
    assert [v["step"] for v in val] == [15, 30]
    assert {"t2m_R@1", "t2m_R@3", "m2t_R@1", "m2t_R@3", "acc_family"} <= set(val[-1])
    final = json.loads((out / "final.json").read_text())
    assert final["best_metric"] == "score" and 0 < final["score"] <= 1
    assert final["best_step"] in (15, 30) and final["steps"] == 30
    m = load(out / "best")
    assert m.cfg.feat_dim == feature_dim(len(m.cfg.expr_names)) and m.cfg.families
    assert m.meta["step"] == final["best_step"] and m.meta["dtype"] == "float16"
    from training.data.motion_data import load_motion_arrays
    arr = load_motion_arrays(corpus, "train", max_clips=8)
    z = m.embed_motion(arr.features(), arr.lengths)
    assert z.shape == (8, 32) and torch.isfinite(z).all()
    assert len(m.classify(arr.features(), arr.lengths)["family"]) == 8

    # same seed -> same curve (CPU); a wall-clock cap ends a long run early (warm-up lr does not depend on it)
    out2 = tmp_path / "ck2"
    run(_args(corpus, out2, cfg_path, steps=100000, batch_size=16, lr=2e-3, seed=0, max_minutes=0.001))
    final2 = json.loads((out2 / "final.json").read_text())
    assert final2["stopped_by_time"] and 1 <= final2["steps"] < 100000 and (out2 / "best.safetensors").is_file()
    log2 = _rows(out2 / "log.jsonl")
    n = min(3, final2["steps"])
    assert [r["loss"] for r in log2[:n]] == losses[:n]

    # resume: stopped at step 10 of 30, continued to 30 at the uninterrupted run's learning rates
    out3 = tmp_path / "ck3"
    run(_args(corpus, out3, cfg_path, steps=30, batch_size=16, lr=2e-3, seed=0, stop_at=10))
    assert [r["step"] for r in _rows(out3 / "log.jsonl")] == list(range(1, 11))
    run(_args(corpus, out3, cfg_path, steps=30, batch_size=16, lr=2e-3, seed=0, resume=out3 / "last"))
    log3 = _rows(out3 / "log.jsonl")
    assert [r["step"] for r in log3] == list(range(1, 31))
    assert [r["lr"] for r in log3] == [r["lr"] for r in log]
    assert [r["loss"] for r in log3[:10]] == losses[:10]
