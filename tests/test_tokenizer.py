"""Geometry VQ-VAE tokenizer: shapes and masking, determinism, EMA/dead-code reset, residual VQ,
files, fast skinning and gaze points, streamed metrics, a tiny CPU training run with resume, and the
vertex-loss comparison. The shipped model's quality gate is tests/test_shipped_models.py."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.clip import MotionClip
from engine.features import params_to_features
from engine.head import save_head
from engine.tokenizer import EMAQuantizer, MotionTokenizer, VQConfig, resample

from conftest import make_tiny_head

NAMES = [f"ch{i}" for i in range(4)]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These models are tiny: one thread is fastest, and on a busy 2-core machine several threads
    spin against each other (a 0.05 s test took 9 s)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def small_cfg(**kw) -> VQConfig:
    return VQConfig(**{"expr_names": NAMES, "width": 32, "depth": 2, "codebook_size": 64, "code_dim": 16, **kw})


def smooth_motion(rng, T: int, K: int):
    """(pose [T,5,3], expr [T,K]): two slow latent waves (random phase and amplitude per clip)
    mixed into every channel by fixed weights, face-like ranges. Learnable in a few dozen steps."""
    t = np.arange(T)[:, None] / 25.0
    z = rng.uniform(0.3, 1.0, 2) * np.sin(2 * np.pi * np.array([0.5, 1.1]) * t + rng.uniform(0, 6.3, 2))  # [T,2]
    mix = np.random.default_rng(42).standard_normal((2, K + 15))                # the same in every clip
    x = z @ mix                                                                  # [T,K+15]
    expr = np.clip(0.5 + 0.2 * x[:, :K], 0, 1)
    pose = 0.05 * x[:, K:].reshape(T, 5, 3)
    return pose.astype(np.float32), expr.astype(np.float32)


def write_dataset(root: Path, names, n=48, seed=0, lengths=(50, 90)):
    """A clip-folder dataset (docs/DATASET_FORMAT.md): 3/4 train, 1/8 val, 1/8 test."""
    rng = np.random.default_rng(seed)
    (root / "clips").mkdir(parents=True)
    lines = []
    for i in range(n):
        pose, expr = smooth_motion(rng, int(rng.integers(*lengths)), len(names))
        cid = f"clip{i:03d}"
        MotionClip(pose=pose, expr=expr, expr_names=names, fps=25.0).save(root / "clips" / f"{cid}.npz")
        split = "train" if i % 8 < 6 else ("val" if i % 8 == 6 else "test")
        lines.append(json.dumps({"id": cid, "split": split, "captions": ["a face"]}))
    (root / "captions.jsonl").write_text("\n".join(lines) + "\n")
    return root


def batch_features(B=3, lengths=(37, 50, 21), K=4, seed=0):
    rng = np.random.default_rng(seed)
    T = max(lengths)
    f = np.zeros((B, T, K + 30), np.float32)
    for b, n in enumerate(lengths):
        pose, expr = smooth_motion(rng, n, K)
        f[b, :n] = params_to_features(pose, expr)
    return torch.from_numpy(f), torch.tensor(lengths)


# -- shapes, masking, determinism -------------------------------------------------------------
@pytest.mark.parametrize("levels", [1, 3])
def test_shapes_and_masking_odd_lengths(levels):
    torch.manual_seed(0)
    m = MotionTokenizer(small_cfg(levels=levels)).eval()
    f, n = batch_features()
    tok = m.encode(f, n)
    assert tok.shape == ((3, 13) if levels == 1 else (3, 13, levels)) and tok.dtype == torch.int64
    ntok = (n + 3) // 4                                          # 10, 13, 6
    for b in range(3):
        assert (tok[b, ntok[b]:] == -1).all() and (tok[b, :ntok[b]] >= 0).all()
        # A clip alone gives the same tokens and frames as inside the padded batch; its encoder
        # output too (tokens of a tiny random model can hide a difference at the clip's end).
        alone = m.encode(f[b:b + 1, :n[b]])
        assert torch.equal(alone[0], tok[b, :ntok[b]])
        with torch.no_grad():
            xb, lb, _ = m._pad(f, n)
            x1, l1, _ = m._pad(f[b:b + 1, :n[b]], None)
            torch.testing.assert_close(m.encoder(x1, l1)[0], m.encoder(xb, lb)[b, :, :ntok[b]], atol=1e-5, rtol=1e-5)
        y_alone = m.decode(alone, n[b:b + 1])
        assert y_alone.shape == (1, n[b], 34)
    y = m.decode(tok, n)
    assert y.shape == (3, 50, 34)
    assert (y[0, 37:] == 0).all() and (y[2, 21:] == 0).all()
    torch.testing.assert_close(m.decode(tok[2:3, :6], n[2:3])[0], y[2, :21], atol=1e-5, rtol=1e-4)
    # Without lengths: every token is decoded, 4 frames each.
    assert m.decode(tok[:1, :10]).shape == (1, 40, 34)


def test_encode_decode_deterministic_in_eval():
    torch.manual_seed(1)
    m = MotionTokenizer(small_cfg(levels=2)).eval()
    f, n = batch_features(seed=3)
    a, b = m.encode(f, n), m.encode(f, n)
    assert torch.equal(a, b)
    assert torch.equal(m.decode(a, n), m.decode(b, n))
    cb = m.quantizer.levels[0].codebook.clone()
    m.encode(f, n)
    assert torch.equal(cb, m.quantizer.levels[0].codebook)      # eval never touches the codebook


def test_clip_round_trip_and_fps():
    torch.manual_seed(0)
    m = MotionTokenizer(small_cfg()).eval()
    pose, expr = smooth_motion(np.random.default_rng(0), 53, 4)
    clip = MotionClip(pose=pose, expr=expr, expr_names=NAMES, fps=25.0)
    tok = m.encode_clip(clip)
    assert tok.shape == (14,) and tok.dtype == np.int64
    out = m.decode_tokens(tok, num_frames=53)
    assert out.num_frames == 53 and out.fps == 25.0 and out.expr_names == NAMES
    # A 50 fps clip is resampled to the model's 25 fps: ~half the tokens.
    clip50 = MotionClip(pose=np.repeat(pose, 2, 0), expr=np.repeat(expr, 2, 0), expr_names=NAMES, fps=50.0)
    assert m.encode_clip(clip50).shape == (14,)
    assert m.decode_tokens(tok, fps=50.0).num_frames == 112
    # Channels in another order are re-mapped by name; other channels are refused.
    perm = MotionClip(pose=pose, expr=expr[:, ::-1], expr_names=NAMES[::-1], fps=25.0)
    assert np.array_equal(m.encode_clip(perm), tok)
    with pytest.raises(ValueError, match="expression channels"):
        m.encode_clip(MotionClip(pose=pose, expr=expr, expr_names=["a", "b", "c", "d"]))
    np.testing.assert_allclose(resample(np.arange(5.0)[:, None], 25, 50)[:, 0], np.minimum(np.arange(10) / 2, 4))


# -- quantiser ------------------------------------------------------------------------------
def test_ema_and_dead_code_reset_replace_unused_codes():
    torch.manual_seed(0)
    q = EMAQuantizer(num_codes=32, dim=8, decay=0.9, reset_threshold=1.0).train()
    data = torch.randn(512, 8) + 5.0                             # far from anything
    q(data)                                                      # first step seeds codes from the data
    q.codebook.data[:16] = 100.0                                 # half the codes now win nothing
    q.ema_sum.data[:16] = 100.0 * q.ema_count[:16, None]
    reseeded = 0
    for _ in range(60):
        reseeded += q(data + 0.1 * torch.randn_like(data))[2]
    assert reseeded >= 16
    assert (q.codebook[:16] - 5.0).abs().max() < 6.0             # the dead codes moved onto the data
    used = torch.bincount(q.nearest(data), minlength=32)
    assert (used > 0).sum() >= 28                                # and they are used again
    # EMA: a lone cluster pulls its code to the cluster mean.
    q2 = EMAQuantizer(num_codes=1, dim=2, decay=0.5, reset_threshold=0.0).train()
    for _ in range(30):
        q2(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    torch.testing.assert_close(q2.codebook[0], torch.tensor([2.0, 3.0]))


def test_residual_vq_shapes_and_coarse_to_fine():
    torch.manual_seed(0)
    m = MotionTokenizer(small_cfg(levels=4, quantize_dropout=0.5)).train()
    f, n = batch_features(lengths=(40, 40, 40))
    for _ in range(5):
        y, commit, stats = m(f, n)
        assert y.shape == f.shape and stats["idx"].shape == (3, 10, 4) and commit.ndim == 0
    m.eval()
    tok = m.encode(f, n)
    assert tok.shape == (3, 10, 4) and (tok >= 0).all()
    # Dropping fine levels (-1) still decodes; the fine levels change the output.
    coarse = tok.clone()
    coarse[..., 1:] = -1
    a, b = m.decode(tok, n), m.decode(coarse, n)
    assert a.shape == b.shape == f.shape and not torch.equal(a, b)


# -- files ----------------------------------------------------------------------------------
def test_save_load_round_trip(tmp_path):
    torch.manual_seed(0)
    m = MotionTokenizer(small_cfg(levels=2))
    m.set_normalization(torch.randn(34) * 0.1, torch.rand(34) + 0.5)
    m.train()
    f, n = batch_features(lengths=(40, 40, 40))
    m(f, n)                                                      # seed the codebooks
    m.eval()
    m.save(tmp_path / "full", dtype=torch.float32, meta={"note": "x"})
    a = MotionTokenizer.load(tmp_path / "full.safetensors")
    assert a.meta == {"note": "x"} and a.cfg == m.cfg
    assert torch.equal(a.encode(f, n), m.encode(f, n))
    assert torch.equal(a.decode(m.encode(f, n), n), m.decode(m.encode(f, n), n))
    assert torch.equal(a.quantizer.levels[1].ema_sum, m.quantizer.levels[1].ema_sum)
    # fp16 (shipping): no EMA state, weights rounded once; a second round trip is exact.
    m.save(tmp_path / "ship")
    b = MotionTokenizer.load(tmp_path / "ship")
    b.save(tmp_path / "ship2")
    c = MotionTokenizer.load(tmp_path / "ship2")
    tok = b.encode(f, n)
    assert torch.equal(c.encode(f, n), tok) and torch.equal(c.decode(tok, n), b.decode(tok, n))
    torch.testing.assert_close(b.decode(tok, n), m.decode(tok, n), atol=2e-2, rtol=2e-2)
    assert (tmp_path / "ship.safetensors").stat().st_size < (tmp_path / "full.safetensors").stat().st_size / 2
    with pytest.raises(FileNotFoundError):
        MotionTokenizer.load(tmp_path / "nothing")


# -- training ---------------------------------------------------------------------------------
def test_loss_vertices_are_exact_vertices_of_the_head():
    from engine.flame import FlameLayer
    from engine.head import PARTS
    from engine.head_regions import face_region, sub_head
    from training.train.vq import TrainConfig, loss_vertices

    head = make_tiny_head(num_expr=4, seed=3)
    flame = FlameLayer(head).double()
    g = torch.Generator().manual_seed(0)
    expr, pose = torch.randn(16, 4, generator=g).double(), torch.randn(16, 5, 3, generator=g).double() * 0.4
    # A vertex subset (with the joint-regressor vertices) gives exactly those vertices of the full head.
    sub, w = loss_vertices(head, TrainConfig(loss_face_vertices=10, loss_other_vertices=2, eye_weight=3.0,
                                             gaze_weight=0))
    assert len(w) == sub.num_vertices and (w >= 0).all()
    idx = [int(np.flatnonzero((head.v_template == v).all(1))[0]) for v in sub.v_template]
    torch.testing.assert_close(FlameLayer(sub).double()(expr, pose), flame(expr, pose)[:, idx], atol=1e-12, rtol=0)
    eyes = head.vertex_part[idx] == PARTS.index("eyes")
    assert eyes.any() and (w[eyes] == 3.0).all()
    assert face_region(head).sum() > 0
    with pytest.raises(ValueError, match="joint-regressor"):
        sub_head(head, np.arange(3))


def test_loss_vertices_from_6d_match_skinning_and_vertex_terms_mask():
    """The loss skins the decoder's 6D rotations directly; it must give FlameLayer's vertices, and
    frames outside the mask must not count."""
    from engine.features import params_to_features
    from engine.flame import FlameLayer
    from training.train.vq import vertex_terms, vertices_mm

    head = make_tiny_head(num_expr=4, seed=3)
    flame = FlameLayer(head).double()
    g = torch.Generator().manual_seed(1)
    expr, pose = torch.rand(2, 6, 4, generator=g).double(), torch.randn(2, 6, 5, 3, generator=g).double() * 0.4
    x = params_to_features(pose, expr)                                        # [2,6,34]
    ref = flame(expr.reshape(12, 4), pose.reshape(12, 5, 3)).reshape(2, 6, -1, 3) * 1000
    torch.testing.assert_close(vertices_mm(FlameLayer(head), x, 4).double(), ref, atol=1e-3, rtol=0)
    w = torch.full((head.num_vertices,), 1.0 / head.num_vertices)
    valid = torch.ones(2, 6, dtype=torch.bool)
    zero, zero_vel = vertex_terms(flame.float(), x.float(), x.float(), valid, w, 4)
    assert float(zero) == 0 and float(zero_vel) == 0
    bad = x.float().clone()
    bad[1, 4:, :4] += 1.0                                                      # error only in frames 4-5 of clip 1
    valid[1, 4:] = False
    masked, masked_vel = vertex_terms(flame.float(), x.float(), bad, valid, w, 4)
    assert float(masked) == 0 and float(masked_vel) == 0
    valid[1, 4:] = True
    assert float(vertex_terms(flame.float(), x.float(), bad, valid, w, 4)[0]) > 0


def test_gaze_points_follow_the_eyes_only():
    from engine.flame import FlameLayer
    from training.train.vq import TrainConfig, loss_vertices

    head = make_tiny_head(num_expr=4, seed=3)
    sub, w = loss_vertices(head, TrainConfig(loss_face_vertices=10, loss_other_vertices=2, gaze_weight=7.0,
                                             gaze_distance=0.1))
    assert (w[-2:] == 7.0).all()
    flame = FlameLayer(sub).double()
    rest = flame(torch.zeros(1, 4).double(), torch.zeros(1, 5, 3).double())[0, -2:]
    turn = torch.zeros(1, 5, 3).double()
    turn[0, 3, 1] = np.radians(1.0)                                   # left eye yaw by 1 degree
    moved = flame(torch.zeros(1, 4).double(), turn)[0, -2:] - rest
    assert abs(float(moved[0].norm()) - 0.1 * np.radians(1.0)) < 1e-6 and float(moved[1].norm()) == 0
    jaw = torch.zeros(1, 5, 3).double()
    jaw[0, 2, 0] = 0.3
    still = flame(torch.rand(1, 4).double(), jaw)[0, -2:] - rest       # jaw and expressions: not at all
    assert float(still.abs().max()) < 1e-12


def test_streamed_val_metrics_match_shared_metrics():
    from engine.features import features_to_params
    from engine.flame import FlameLayer
    from engine.head_regions import face_head
    from training.eval.metrics import vertex_errors
    from training.eval.tokenizer_eval import evaluate

    torch.manual_seed(0)
    head = make_tiny_head()
    m = MotionTokenizer(small_cfg()).eval()
    f, n = batch_features(lengths=(37, 50, 21))
    fhead, num_face = face_head(head)
    flame = FlameLayer(fhead)
    res = evaluate(m, f, n, flame, num_face, batch=2)
    out = m.decode(m.encode(f, n), n)
    valid = torch.arange(50)[None] < n[:, None]
    pa, ea = features_to_params(f[valid], 4)
    pb, eb = features_to_params(out[valid], 4)
    ref = vertex_errors(flame(eb, pb)[:, :num_face], flame(ea, pa)[:, :num_face])
    assert abs(res["vertex_mean_mm"] - ref["mean_mm"]) < 1e-3 * ref["mean_mm"]
    assert abs(res["vertex_p95_mm"] - ref["p95_mm"]) < (2e-3 if ref["p95_mm"] < 50 else 1.0)   # 1 um / 1 mm bins
    # The fine histogram path (errors under 50 mm), against numpy's percentile.
    from training.eval.tokenizer_eval import _quantile
    err = torch.rand(100000, dtype=torch.float64) ** 2 * 3.0
    q = _quantile(torch.histc(err, bins=50000, min=0, max=50.0), 0.95, 50.0, err.numel())
    assert abs(q - float(np.percentile(err.numpy(), 95))) < 2e-3
    assert abs(res["expr_mae"] - float((ea - eb).abs().mean())) < 1e-5


def _train_args(tmp_path, data, head, *flags, cfg_over=None):
    """Parsed `tdmm train vq` arguments for a tiny CPU run writing tmp_path/run."""
    import argparse

    from training.train.vq import add_arguments
    cfg = {"model": {"width": 32, "depth": 1, "codebook_size": 32, "code_dim": 16},
           "train": {"steps": 60, "batch_size": 16, "crop": 32, "lr": 2e-3, "warmup": 5, "val_every": 30,
                     "log_every": 5, "loss_face_vertices": 20, "loss_other_vertices": 4, **(cfg_over or {})}}
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    p = argparse.ArgumentParser()
    add_arguments(p)
    return p.parse_args(["--data", str(data), "--out", str(tmp_path / "run"), "--config", str(tmp_path / "cfg.json"),
                         "--device", "cpu", "--head", str(head), "--quiet", *map(str, flags)])


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("vqdata")
    head = make_tiny_head()
    save_head(head, root / "head")
    write_dataset(root / "data", head.expr_names)
    return root / "data", root / "head.safetensors"


def _log(run):
    return [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]


def test_tiny_training_run_loss_goes_down(tmp_path, tiny_data):
    from training.train.vq import train

    data, head = tiny_data
    final = train(_train_args(tmp_path, data, head))
    run = tmp_path / "run"
    log = _log(run)
    first, last = np.mean([r["loss"] for r in log[:2]]), np.mean([r["loss"] for r in log[-2:]])
    assert last < 0.7 * first, (first, last)
    assert "vertex" in log[0] and final["vertex_mean_mm"] > 0 and 0 < final["code_usage"] <= 1
    assert final["steps"] == 60 and final["best_step"] in (30, 60) and final["world_size"] == 1
    for name in ("best.safetensors", "best.json", "last.safetensors", "last.json", "last.optim.safetensors",
                 "last.state.json", "final.json", "config.json"):
        assert (run / name).exists(), name
    assert [json.loads(x)["step"] for x in (run / "val.jsonl").read_text().splitlines()] == [30, 60]
    ship = MotionTokenizer.load(run / "best")
    assert ship.cfg.expr_names == make_tiny_head().expr_names


def test_resume_continues_at_the_step_with_the_same_learning_rate(tmp_path, tiny_data):
    """A run stopped at step 30 of 60 and resumed logs steps 31..60 at the learning rates of an
    uninterrupted run, from the saved optimizer and EMA state."""
    from training.train.vq import train

    data, head = tiny_data
    train(_train_args(tmp_path / "full", data, head, cfg_over={"log_every": 1}))
    full = {r["step"]: r["lr"] for r in _log(tmp_path / "full" / "run")}
    args = _train_args(tmp_path / "split", data, head, "--stop-at", 30, cfg_over={"log_every": 1})
    first = train(args)
    run = tmp_path / "split" / "run"
    assert first["steps"] == 30 and first["stopped_at_step_cap"]
    assert [r["step"] for r in _log(run)] == list(range(1, 31))
    assert json.loads((run / "last.state.json").read_text())["step"] == 30
    args.resume, args.stop_at = str(run / "last"), None
    second = train(args)
    log = _log(run)
    assert [r["step"] for r in log] == list(range(1, 61)) and second["steps"] == 60
    assert [r["lr"] for r in log] == [full[s] for s in range(1, 61)]
    assert MotionTokenizer.load(run / "last").meta["step"] == 60


def test_param_only_run(tmp_path, tiny_data):
    from training.train.vq import train

    data, head = tiny_data
    train(_train_args(tmp_path, data, head, "--no-vertex-loss", "--steps", 20))
    log = _log(tmp_path / "run")
    assert "vertex" not in log[0] and "param" in log[0]
    assert json.loads((tmp_path / "run" / "final.json").read_text())["vertex_loss"] is False


# -- vq_compare: agreement on a known answer ------------------------------------------------------
def test_vq_compare_agreement_known_answer(tmp_path):
    """Clips made of 4-frame windows, each one of four still faces plus a little noise. With the pose
    at zero a vertex moves by exprdirs @ expr exactly, so which windows are 'alike' at 1 mm is known
    by construction: the same face in two clips. compare's pairs and each model's agreement (level 0,
    all levels, far-in-parameters half) must equal what the models' own tokens give on those pairs."""
    from engine.head_regions import face_region
    from training.eval.vq_compare import compare

    head = make_tiny_head()
    save_head(head, tmp_path / "head")
    faces = np.array([[0, 0, 0, 0], [1.5, 0, 0, 0], [0, 1.5, 0, 0], [0, 0, 1.5, 1.5]], np.float32)
    N, P, w, noise = 10, 6, 4, 0.002
    rng = np.random.default_rng(0)
    face_id = rng.integers(0, len(faces), (N, P))                        # [clip, window]
    (tmp_path / "data" / "clips").mkdir(parents=True)
    lines, feats = [], []
    for c in range(N):
        expr = (np.repeat(faces[face_id[c]], w, axis=0) + rng.uniform(-noise, noise, (P * w, 4))).astype(np.float32)
        pose = np.zeros((P * w, 5, 3), np.float32)
        MotionClip(pose=pose, expr=expr, expr_names=NAMES, fps=25.0).save(tmp_path / "data" / "clips" / f"c{c}.npz")
        lines.append(json.dumps({"id": f"c{c}", "split": "test", "captions": ["a face"]}))
        feats.append(params_to_features(pose, expr))
    (tmp_path / "data" / "captions.jsonl").write_text("\n".join(lines) + "\n")
    feats, lengths = torch.from_numpy(np.stack(feats).astype(np.float32)), torch.full((N,), P * w)

    # The construction holds: two different faces are >= 40 mm apart somewhere on the face region,
    # two noisy copies of one face stay well within 1 mm everywhere.
    E = head.exprdirs[face_region(head)].astype(np.float64) * 1000.0              # [V,3,K] mm per unit
    apart = min(np.linalg.norm(E @ (faces[a] - faces[b]), axis=1).max() for a in range(4) for b in range(a))
    jitter = np.linalg.norm(E, ord=2, axis=(1, 2)).max() * np.linalg.norm(np.full(4, 2 * noise))
    assert apart > 40 and jitter < 0.5

    ckpts = []
    for seed, levels in ((0, 1), (1, 2)):                               # two different tokenizers
        torch.manual_seed(seed)
        m = MotionTokenizer(small_cfg(codebook_size=16, code_dim=8, levels=levels))
        m.train()
        m(feats, lengths)                                               # seed the codebooks from these faces
        m.eval()
        ckpts.append(m.save(tmp_path / f"vq{seed}"))
    res = compare(ckpts, tmp_path / "data", split="test", head_path=tmp_path / "head.safetensors",
                  threshold_mm=1.0, device="cpu")

    # The known answer: segments in clip-major order; alike = same face, different clips.
    seg_clip, seg_face = np.repeat(np.arange(N), P), face_id.reshape(-1)
    i, j = np.triu_indices(N * P, 1)
    keep = (seg_face[i] == seg_face[j]) & (seg_clip[i] != seg_clip[j])
    i, j = i[keep], j[keep]
    assert res["segments"] == N * P and res["pairs"] == len(i) > 100
    segf = feats.reshape(N * P, -1)
    pdist = (segf[i] - segf[j]).norm(dim=-1).numpy()
    far = pdist >= np.sort(pdist)[(len(pdist) - 1) // 2]                 # upper half (torch's lower median)
    got = []
    for ck, r in zip(ckpts, res["models"]):
        tok = MotionTokenizer.load(ck).encode(feats, lengths).reshape(N * P, -1).numpy()   # [S,R]
        eq = tok[i] == tok[j]
        want = {"agreement": eq[:, 0].mean(), "agreement_all_levels": eq.all(1).mean(),
                "agreement_far_params": eq[far, 0].mean()}
        assert 0.05 < want["agreement"] < 0.95, want                    # neither all nor none: a real test
        for key, value in want.items():
            assert r[key] == pytest.approx(value, abs=1e-6), (ck.name, key, r[key], value)
        got.append(want)
    assert got[0]["agreement"] != got[1]["agreement"]                   # each model is measured on its own tokens
    assert got[1]["agreement_all_levels"] < got[1]["agreement"]         # residual level 2 splits some pairs


# -- side basis: one-sided faces ---------------------------------------------------------------
SIDED = ["smileLeft", "smileRight", "jawOpen", "blinkLeft", "blinkRight"]


def test_side_basis_is_an_exact_inverse_and_makes_one_sided_faces_large():
    from training.data.motion_data import feature_stats

    m = MotionTokenizer(VQConfig(expr_names=SIDED, width=16, depth=1, codebook_size=8, code_dim=8, side_basis=True))
    assert (m._L, m._R) == ([0, 3], [1, 4])
    f = torch.rand(2, 7, len(SIDED) + 30)
    g = m.to_basis(f)
    torch.testing.assert_close(g[..., 0], (f[..., 0] + f[..., 1]) / 2)
    torch.testing.assert_close(g[..., 1], (f[..., 0] - f[..., 1]) / 2)
    torch.testing.assert_close(g[..., 2:3], f[..., 2:3])
    torch.testing.assert_close(m.from_basis(g), f)
    np.testing.assert_allclose(m.from_basis(m.to_basis(f.numpy())), f.numpy(), atol=1e-6)
    # A corpus that is symmetric but for one left smile: the half-difference has a small spread,
    # so in the side basis that smile is many spreads from the mean; per channel it is not.
    feats = np.zeros((50, 10, len(SIDED) + 30), np.float32)
    feats[:, :, [0, 1]] = np.random.default_rng(0).uniform(0, 1, (50, 10, 1))
    feats[0, :, 0], feats[0, :, 1] = 0.9, 0.0
    lengths = np.full(50, 10)
    plain_std = feature_stats(feats, lengths)[1]
    mean, std = feature_stats(feats, lengths, transform=m.to_basis)
    m.set_normalization(mean, std)
    z = m.normalize(torch.from_numpy(feats[0, :1]))[0]
    assert float(z[1]) > 5 and 0.45 / plain_std[0] < 2       # half-difference 0.45 vs per-channel
    plain = MotionTokenizer(VQConfig(expr_names=SIDED, width=16, depth=1, codebook_size=8, code_dim=8))
    assert plain._L == [] and plain.to_basis(f) is f


def test_side_basis_tokenizer_round_trips_through_files(tmp_path):
    torch.manual_seed(0)
    m = MotionTokenizer(VQConfig(expr_names=SIDED, width=16, depth=1, codebook_size=8, code_dim=8, side_basis=True))
    m.set_normalization(torch.randn(35) * 0.1, torch.rand(35) + 0.5)
    m.train()
    f = torch.rand(2, 16, 35)
    m(f)
    m.eval()
    m.save(tmp_path / "t", dtype=torch.float32)
    a = MotionTokenizer.load(tmp_path / "t")
    assert a.cfg.side_basis and torch.equal(a.encode(f), m.encode(f))
    torch.testing.assert_close(a.decode(a.encode(f)), m.decode(m.encode(f)))


def test_one_sided_clips_and_oversampled_batches(tmp_path):
    from training.train.vq import TokenizerTask, TrainConfig, one_sided_clips

    names = ["aLeft", "aRight", "b", "c"]
    f = np.zeros((6, 20, 34), np.float32)
    n = np.array([20, 20, 20, 10, 20, 20])
    f[1, :5, 0] = 0.5                      # 5 of 20 frames one-sided: counts
    f[2, :, 0] = f[2, :, 1] = 0.8          # symmetric: does not
    f[3, 12:, 0] = 0.9                     # one-sided only past its length: does not
    f[4, 0, 1] = 0.05                      # below ASYM_MIN
    f[5, 3, 1] = 0.3                       # 1 of 20 frames: exactly 5%, counts
    assert one_sided_clips(f, n, names).tolist() == [False, True, False, False, False, True]
    assert one_sided_clips(f, n, ["a", "b", "c", "d"]).tolist() == [False] * 6
    f[:, :, 2] = np.arange(6)[:, None] + 1.0          # channel b tells the clips apart

    class RT:
        device, world = torch.device("cpu"), 1
    head = make_tiny_head()
    head.expr_names = names
    model = MotionTokenizer(VQConfig(expr_names=names, width=16, depth=1, codebook_size=8, code_dim=8))
    task = TokenizerTask(model, TrainConfig(batch_size=8, crop=8, sided_fraction=0.5, loss_face_vertices=10,
                                            loss_other_vertices=2),
                         head, (f, n), (f, n), (f, n), RT())
    x, valid = next(task.batches(0))
    assert x.shape == (8, 8, 34) and valid.all()
    # the first half comes from the one-sided clips 1 and 5 only
    clip_of = (x[:, 0, 2] - 1).round().long()
    assert set(clip_of[:4].tolist()) <= {1, 5} and set(clip_of[4:].tolist()) - {1, 5}


def test_asym_head_reads_the_codes_and_keeps_clips_alone_equal_to_batched():
    with pytest.raises(ValueError, match="side_basis"):
        VQConfig(expr_names=SIDED, asym_head=True).validate()
    torch.manual_seed(0)
    m = MotionTokenizer(VQConfig(expr_names=SIDED, width=16, depth=1, codebook_size=8, code_dim=8, levels=2,
                                 side_basis=True, asym_head=True)).eval()
    assert m.decoder.halves == [1, 4]
    with torch.no_grad():                        # zero at init (a fine-tune starts where it was)
        z = torch.randn(1, 8, 5)
        base = m.decoder(z)
        torch.nn.init.normal_(m.decoder.asym.weight)
        moved = m.decoder(z) - base
    assert moved[:, [1, 4]].abs().min() > 0 and moved[:, [0, 2, 3]].abs().max() == 0
    f, n = torch.rand(3, 50, 35), torch.tensor([37, 50, 21])
    tok = m.encode(f, n)
    y = m.decode(tok, n)
    for b in range(3):
        k = int((n[b] + 3) // 4)
        torch.testing.assert_close(m.decode(tok[b:b + 1, :k], n[b:b + 1])[0], y[b, :n[b]], atol=1e-5, rtol=1e-4)
