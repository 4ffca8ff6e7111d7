"""The tokenizer's reconstruction metrics: encode + decode whole clips and measure, on the face
region of the head, vertex errors (mean and 95th percentile), expression MAE, pose error and
code usage. The trainer validates with it, `tdmm train vq --eval` reports it, and the shipped
tokenizer's quality gate (tests/test_shipped_models.py) holds it to its floors."""
from __future__ import annotations

import numpy as np
import torch

from engine.features import features_to_params
from engine.flame import FlameLayer
from engine.tokenizer import MotionTokenizer, side_pairs, token_lengths
from training.eval.metrics import channel_mae, codebook_usage, pose_error_deg

ASYM_MIN = 0.1       # a Left/Right pair counts as one-sided in a frame past this difference
# Why asym_kept is measured: one-sided faces (a smirk, a wink) are ~5% of the corpus and move only
# a few mouth-corner or eyelid vertices. The session-4 tokenizer (per-channel normalisation)
# decoded a left-only smile as a symmetric half smile (asym_kept 0.001); VQConfig.side_basis +
# asym_head are the fix (docs/TRAINING.md, session 5).


def _quantile(hist: torch.Tensor, q: float, top: float, total: float) -> float | None:
    """The q-quantile from a histogram of [0, top) (upper bin edge); None if it lies above top."""
    cdf = torch.cumsum(hist, 0) / max(total, 1)
    i = int(torch.searchsorted(cdf, torch.tensor([q], dtype=cdf.dtype, device=cdf.device))[0])
    return None if i >= hist.numel() else (i + 1) * top / hist.numel()


def token_stats(tokens: np.ndarray, codebook_size: int) -> dict:
    """tokens [M] or [M,R] (no padding) -> usage fraction and perplexity (level 0 first, per level),
    through training.eval.metrics.codebook_usage."""
    tokens = tokens.reshape(len(tokens), -1)
    per = [codebook_usage(tokens[:, r], codebook_size) for r in range(tokens.shape[1])]
    usage, ppl = [u["used_fraction"] for u in per], [u["perplexity"] for u in per]
    return {"code_usage": usage[0], "perplexity": ppl[0], "code_usage_levels": usage, "perplexity_levels": ppl}


@torch.no_grad()
def evaluate(model: MotionTokenizer, feats: torch.Tensor, lengths: torch.Tensor, flame_face: FlameLayer,
             num_face: int, batch: int = 256, frame_chunk: int = 4096) -> dict:
    """Encode + decode whole clips; face-region vertex errors (mm, mean and 95th percentile over
    vertex-frames), expression MAE, pose error (degrees, mean over joints), code usage + perplexity.

    Expression MAE, pose error and code usage are training.eval.metrics' channel_mae, pose_error_deg and
    codebook_usage, weighted over batches by frames. The vertex errors are metrics.vertex_errors'
    numbers (Euclidean, mm, over vertices x frames) computed in a stream on the device: a val set
    holds ~1e9 vertex-frames, so the 95th percentile comes from a 1 um histogram instead of a sort.

    asym_kept: how much of the clips' one-sidedness survives, the projection of the reconstructed
    left-minus-right channel differences on the true ones, over the frames and pairs where the
    truth differs by more than ASYM_MIN (1 = kept, 0 = made symmetric; NaN if none is one-sided)."""
    was_training = model.training
    model.eval()
    K = len(model.cfg.expr_names)
    dev = feats.device
    # Vertex error histograms: 0..50 mm in 1 um bins, and 0..10 m in 1 mm bins for bad models.
    hist = torch.zeros(50000, dtype=torch.float64, device=dev)
    coarse = torch.zeros(10000, dtype=torch.float64, device=dev)
    vsum = vcount = esum = ecount = 0.0
    psum = torch.zeros(5, dtype=torch.float64, device=dev)
    pcount, all_tokens = 0, []
    L, R = side_pairs(model.cfg.expr_names)
    asym_dot = asym_sq = 0.0
    for s in range(0, feats.shape[0], batch):
        f, n = feats[s:s + batch], lengths[s:s + batch]
        T = int(n.max())
        f = f[:, :T]
        tok = model.encode(f, n)
        out = model.decode(tok, n)                                          # [b,T,D]
        ntok = token_lengths(n, model.cfg.downsample)
        tv = torch.arange(tok.shape[1], device=dev)[None, :] < ntok[:, None]
        all_tokens.append(tok[tv].cpu().numpy())
        valid = torch.arange(T, device=dev)[None, :] < n[:, None]
        pa, ea = features_to_params(f[valid], K)
        pb, eb = features_to_params(out[valid].float(), K)
        F_ = pa.shape[0]
        dt, dr = ea[:, L] - ea[:, R], eb[:, L] - eb[:, R]                    # [F,pairs] left minus right
        big = dt.abs() > ASYM_MIN
        asym_dot += float((dt * dr * big).sum())
        asym_sq += float((dt * dt * big).sum())
        esum += channel_mae(eb[None].cpu(), ea[None].cpu())["mae"] * F_
        ecount += F_
        psum += torch.as_tensor(pose_error_deg(pb[None].cpu(), pa[None].cpu())["per_joint_deg"], device=dev) * F_
        pcount += F_
        for c in range(0, pa.shape[0], frame_chunk):
            va = flame_face(ea[c:c + frame_chunk], pa[c:c + frame_chunk])[:, :num_face]
            vb = flame_face(eb[c:c + frame_chunk], pb[c:c + frame_chunk])[:, :num_face]
            err = (va - vb).norm(dim=-1).reshape(-1) * 1000.0              # mm per vertex-frame
            vsum += float(err.double().sum())
            vcount += err.numel()
            hist += torch.histc(err, bins=hist.numel(), min=0, max=50.0).double()
            coarse += torch.histc(err.clamp_max(1e4 - 1e-3), bins=coarse.numel(), min=0, max=1e4).double()
    p95 = _quantile(hist, 0.95, 50.0, vcount)
    p95 = p95 if p95 is not None else _quantile(coarse, 0.95, 1e4, vcount)
    pose = (psum / max(pcount, 1)).tolist()
    model.train(was_training)
    return {"vertex_mean_mm": vsum / max(vcount, 1), "vertex_p95_mm": p95, "expr_mae": esum / max(ecount, 1),
            "pose_err_deg": float(np.mean(pose)), "pose_err_deg_joints": pose, "clips": int(feats.shape[0]),
            "asym_kept": asym_dot / asym_sq if asym_sq > 0 else float("nan"),
            **token_stats(np.concatenate(all_tokens), model.cfg.codebook_size)}
