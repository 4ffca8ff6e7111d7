"""Motion-side metrics: Language2Motion (T2M-style, on evaluator embeddings and on
FLAME parameters), label accuracy, and the tokenizer's reconstruction metrics.

Every function takes numpy arrays (torch tensors are converted, nothing here imports
torch) and returns plain floats or small dicts of floats, so the report, the training
loops and the tests all read the same numbers. Randomised metrics take `rng` (a seed
or a numpy Generator) and are deterministic given it.

Units and scales, chosen to match the papers they come from:
- R-precision: fractions in [0, 1] (T2M tables); label accuracies: percent (0-100).
- FD / MM-Dist / Diversity / Multimodality: Euclidean units of the embedding space.
- L2: parameter units (radians for axis-angle pose); pose angles in degrees.
- Vertex errors: millimetres, from metres (the head model's unit).
"""
from __future__ import annotations

import numpy as np

from engine.rotation import axis_angle_to_quat

# Label keys the Language2Motion classifier predicts (issue 4: family, intensity,
# head motion, micro-events); other keys of `label_value` can be asked for.
CLASSIFIER_KEYS = ("family", "intensity", "head_motion", "micro")


# ---------------------------------------------------------------- input handling
def as_numpy(x, dtype=np.float64) -> np.ndarray:
    """numpy array from an array, list or torch tensor (duck-typed: no torch import)."""
    if hasattr(x, "detach"):
        x = x.detach().cpu()
        if x.is_floating_point():          # bfloat16 has no numpy dtype
            x = x.double()
        x = x.numpy()
    return np.asarray(x, dtype=dtype)


def _rng(rng) -> np.random.Generator:
    # default_rng passes a Generator through unchanged and seeds from an int.
    return np.random.default_rng(0 if rng is None else rng)


def _pairs_2d(a, b, what: str):
    a, b = as_numpy(a), as_numpy(b)
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"{what} expects two [N, D] arrays of the same shape, got "
                         f"{list(a.shape)} and {list(b.shape)}")
    return a, b


def _paired_frames(pred, gt, lengths=None, dtype=np.float64):
    """Stack the frames a prediction and its ground truth both have.

    `pred`/`gt` are padded batches [B, T, ...] or lists of [T_i, ...] sequences
    (generated clips need not be as long as their ground truth). Clip i
    contributes its first min(len(pred_i), len(gt_i), lengths[i]) frames.
    Returns two arrays [F, ...] with F the total number of compared frames.
    """
    seq_p = list(pred) if isinstance(pred, (list, tuple)) else as_numpy(pred, dtype)
    seq_g = list(gt) if isinstance(gt, (list, tuple)) else as_numpy(gt, dtype)
    if len(seq_p) != len(seq_g):
        raise ValueError(f"{len(seq_p)} predicted clips but {len(seq_g)} ground-truth clips")
    lens = None if lengths is None else as_numpy(lengths, np.int64).reshape(-1)
    out_p, out_g = [], []
    for i, (p, g) in enumerate(zip(seq_p, seq_g)):
        p, g = as_numpy(p, dtype), as_numpy(g, dtype)
        n = min(len(p), len(g)) if lens is None else min(int(lens[i]), len(p), len(g))
        out_p.append(p[:n])
        out_g.append(g[:n])
    return np.concatenate(out_p), np.concatenate(out_g)


# ---------------------------------------------------------------- Language2Motion: embeddings
def _distances(a: np.ndarray, b: np.ndarray, metric: str) -> np.ndarray:
    """[n, m] distances between rows of a and rows of b."""
    if metric == "euclidean":
        return np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1)
    if metric == "cosine":
        an = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
        bn = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
        return 1.0 - an @ bn.T
    raise ValueError(f"metric must be 'euclidean' or 'cosine', not {metric!r}")


def retrieval_ranks(query, keys, metric: str = "euclidean") -> np.ndarray:
    """[n] 1-based rank of each query's own key (row i of keys) among all keys, nearest first
    (metric as in r_precision); ties count against the true key."""
    q, k = _pairs_2d(query, keys, "retrieval_ranks")
    d = _distances(q, k, metric)
    return (d <= np.diag(d)[:, None]).sum(axis=1)


def r_precision(text_emb, motion_emb, batch: int = 32, top_k: int = 3, rng=None,
                metric: str = "euclidean") -> dict:
    """R-precision top-1..top-k of text->motion retrieval, as in T2M (Guo et al., CVPR 2022).

    Pair i is (text_emb[i], motion_emb[i]). Pairs are grouped into batches of `batch`
    (shuffled first when `rng` is given; T2M's loader is shuffled); within a batch each
    text ranks the batch's motions by distance (Euclidean in T2M; "cosine" = 1 - cos
    for TMR-style normalised embeddings), and a hit at k means its own motion is among
    the k nearest. The last incomplete batch is dropped, as in T2M. Ties count against
    the true pair, so degenerate (all equal) embeddings score 0, not 1.
    Chance level is k / batch. Returns {"top1": .., "top2": .., ...} as fractions.
    """
    t, m = _pairs_2d(text_emb, motion_emb, "r_precision")
    n_batches = len(t) // batch
    if n_batches == 0:
        raise ValueError(f"r_precision needs at least one full batch of {batch} pairs, got {len(t)}")
    order = np.arange(len(t)) if rng is None else _rng(rng).permutation(len(t))
    hits = np.zeros(top_k)
    for b in range(n_batches):
        sel = order[b * batch:(b + 1) * batch]
        rank = retrieval_ranks(t[sel], m[sel], metric) - 1          # 0-based: others at least as close
        hits += [(rank < k).mean() for k in range(1, top_k + 1)]
    return {f"top{k}": float(hits[k - 1] / n_batches) for k in range(1, top_k + 1)}


def _sqrt_psd(c: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix via eigh, with the
    small negative eigenvalues that rounding produces clipped to 0."""
    w, v = np.linalg.eigh((c + c.T) / 2.0)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def gaussian_frechet(mu1, cov1, mu2, cov2) -> float:
    """Fréchet (2-Wasserstein squared) distance between N(mu1, cov1) and N(mu2, cov2):
    |mu1 - mu2|^2 + tr(cov1 + cov2 - 2 (cov1 cov2)^(1/2)).

    tr((cov1 cov2)^(1/2)) is computed as the sum of square roots of the eigenvalues of
    the symmetric PSD matrix cov1^(1/2) cov2 cov1^(1/2) (same spectrum as cov1 cov2), so
    no non-symmetric matrix square root (scipy.linalg.sqrtm) and no complex parts.
    """
    mu1, mu2 = as_numpy(mu1).reshape(-1), as_numpy(mu2).reshape(-1)
    cov1, cov2 = np.atleast_2d(as_numpy(cov1)), np.atleast_2d(as_numpy(cov2))
    s1 = _sqrt_psd(cov1)
    inner = s1 @ cov2 @ s1
    ev = np.linalg.eigvalsh((inner + inner.T) / 2.0)
    cross = np.sqrt(np.clip(ev, 0.0, None)).sum()
    diff = mu1 - mu2
    fd = diff @ diff + np.trace(cov1) + np.trace(cov2) - 2.0 * cross
    return float(max(fd, 0.0))              # rounding can leave -1e-12 for identical sets


def frechet_distance(real, gen) -> float:
    """FD between two sets of embeddings [N, D] and [M, D] (FID's formula, used as "FID"
    by T2M and as "FD" by TDMM-LM): fit a Gaussian to each set (mean, unbiased covariance
    as np.cov) and return `gaussian_frechet` of the two. Needs >= 2 rows per set."""
    real, gen = np.atleast_2d(as_numpy(real)), np.atleast_2d(as_numpy(gen))
    if min(len(real), len(gen)) < 2 or real.shape[1] != gen.shape[1]:
        raise ValueError(f"frechet_distance needs [N>=2, D] sets of equal D, got "
                         f"{list(real.shape)} and {list(gen.shape)}")
    return gaussian_frechet(real.mean(0), np.cov(real, rowvar=False),
                            gen.mean(0), np.cov(gen, rowvar=False))


def mm_dist(text_emb, motion_emb) -> float:
    """MM-Dist (T2M): mean Euclidean distance between each text embedding and the
    embedding of the motion generated from it (row i with row i)."""
    t, m = _pairs_2d(text_emb, motion_emb, "mm_dist")
    return float(np.linalg.norm(t - m, axis=1).mean())


def diversity(emb, n_pairs: int = 300, rng=None) -> float:
    """Diversity (T2M): draw two index sets of `n_pairs` (each without replacement) and
    average the Euclidean distance between the paired embeddings. Uses all N rows when
    N < n_pairs (T2M would refuse; small test subsets should still report a number)."""
    e = np.atleast_2d(as_numpy(emb))
    g = _rng(rng)
    n = min(n_pairs, len(e))
    a, b = g.choice(len(e), n, replace=False), g.choice(len(e), n, replace=False)
    return float(np.linalg.norm(e[a] - e[b], axis=1).mean())


def multimodality(emb_groups, n_pairs: int = 10, rng=None) -> float:
    """Multimodality (T2M): for each prompt, R generations embedded as [R, D]; draw two
    index sets of `n_pairs` (without replacement, capped at R) and average the distance
    between paired generations; then average over prompts. `emb_groups` is [P, R, D]
    or a list of [R_p, D] arrays. 0 when every generation of a prompt is the same."""
    g = _rng(rng)
    dists = []
    for grp in emb_groups:
        e = np.atleast_2d(as_numpy(grp))
        n = min(n_pairs, len(e))
        a, b = g.choice(len(e), n, replace=False), g.choice(len(e), n, replace=False)
        dists.append(np.linalg.norm(e[a] - e[b], axis=1))
    return float(np.concatenate(dists).mean())


# ---------------------------------------------------------------- rotations
def rotation_angle(aa_a, aa_b) -> np.ndarray:
    """Angle (radians, in [0, pi]) of the relative rotation between two axis-angle
    arrays [..., 3], i.e. the geodesic distance on SO(3). Computed through quaternions,
    2 * atan2(|v|, |w|) of q_a^-1 q_b, which stays accurate near 0 and pi where
    arccos((trace(R) - 1) / 2) loses precision."""
    qa, qb = axis_angle_to_quat(as_numpy(aa_a)), axis_angle_to_quat(as_numpy(aa_b))
    wa, va, wb, vb = qa[..., 0], qa[..., 1:], qb[..., 0], qb[..., 1:]
    w = wa * wb + (va * vb).sum(-1)                       # real part of conj(qa) * qb
    v = wa[..., None] * vb - wb[..., None] * va - np.cross(va, vb)
    return 2.0 * np.arctan2(np.linalg.norm(v, axis=-1), np.abs(w))


def pose_error_deg(pred_pose, gt_pose, lengths=None) -> dict:
    """Pose error in degrees: the geodesic angle between predicted and true rotation
    of every joint (FLAME order: global, neck, jaw, left eye, right eye), averaged over
    valid frames. Poses are [B, T, J, 3] or [B, T, J*3] axis-angle, or lists of [T_i, ...].
    Returns {"mean_deg", "p95_deg", "max_deg", "per_joint_deg": [J] array}."""
    p, g = _paired_frames(pred_pose, gt_pose, lengths)
    ang = np.degrees(rotation_angle(p.reshape(len(p), -1, 3), g.reshape(len(g), -1, 3)))  # [F, J]
    return {"mean_deg": float(ang.mean()), "p95_deg": float(np.percentile(ang, 95)),
            "max_deg": float(ang.max()), "per_joint_deg": ang.mean(axis=0)}


def l2_expr_pose(gen_pose, gen_expr, gt_pose, gt_expr, lengths=None) -> dict:
    """L2 of Language2Motion against the paired ground truth (TDMM-LM Tab. 3, "L2 on
    expression and pose"): per frame, the Euclidean norm of the parameter difference,
    averaged over all compared frames of all clips (frames beyond the shorter of the two
    clips, or beyond `lengths`, are not compared).
    Returns {"l2": on [expr, pose] concatenated (the paper's single number),
             "expr_l2", "pose_l2" (axis-angle radians, flattened), "pose_deg" (mean
             geodesic angle per joint, in degrees)}."""
    pe, ge = _paired_frames(gen_expr, gt_expr, lengths)
    pp, gp = _paired_frames(gen_pose, gt_pose, lengths)
    if len(pe) != len(pp):
        raise ValueError("expression and pose clips have different lengths")
    de, dp = (pe - ge).reshape(len(pe), -1), (pp - gp).reshape(len(pp), -1)
    deg = np.degrees(rotation_angle(pp.reshape(len(pp), -1, 3), gp.reshape(len(gp), -1, 3)))
    return {"l2": float(np.linalg.norm(np.concatenate([de, dp], 1), axis=1).mean()),
            "expr_l2": float(np.linalg.norm(de, axis=1).mean()),
            "pose_l2": float(np.linalg.norm(dp, axis=1).mean()),
            "pose_deg": float(deg.mean())}


# ---------------------------------------------------------------- tokens
def token_accuracy(pred_tokens, gt_tokens, mask=None, ignore_index: int | None = None) -> float:
    """Teacher-forced token accuracy (TDMM-LM's "Tok"): the fraction of scored positions
    where the predicted code equals the true code. `pred_tokens` may be logits with one
    more (last) axis than `gt_tokens`; they are arg-maxed. Positions are scored where
    `mask` is true (all when None) and, if given, gt != ignore_index (e.g. padding -100)."""
    p = as_numpy(pred_tokens, None)
    g = as_numpy(gt_tokens, np.int64)
    if p.ndim == g.ndim + 1:
        p = p.argmax(-1)
    if p.shape != g.shape:
        raise ValueError(f"token_accuracy: predictions {list(p.shape)} vs targets {list(g.shape)}")
    keep = np.ones(g.shape, bool) if mask is None else as_numpy(mask, bool)
    if ignore_index is not None:
        keep = keep & (g != ignore_index)
    if not keep.any():
        raise ValueError("token_accuracy: no position is scored")
    return float((p.astype(np.int64) == g)[keep].mean())


def codebook_usage(tokens, codebook_size: int) -> dict:
    """Codebook usage of a VQ tokenizer over a set of token sequences: the fraction of
    the K codes used at least once, and the perplexity exp(H) of the empirical code
    distribution (K when all codes are equally used, 1 when a single code is). Negative
    entries are padding and are skipped; `tokens` is any array or a list of sequences."""
    if isinstance(tokens, (list, tuple)):
        flat = np.concatenate([as_numpy(t, np.int64).reshape(-1) for t in tokens] or [np.zeros(0, np.int64)])
    else:
        flat = as_numpy(tokens, np.int64).reshape(-1)
    flat = flat[flat >= 0]
    if len(flat) == 0 or flat.max() >= codebook_size:
        raise ValueError(f"codebook_usage needs tokens in [0, {codebook_size}), got "
                         f"{'none' if len(flat) == 0 else flat.max()}")
    p = np.bincount(flat, minlength=codebook_size) / len(flat)
    nz = p[p > 0]
    return {"used_fraction": float(len(nz) / codebook_size),
            "perplexity": float(np.exp(-(nz * np.log(nz)).sum()))}


# ---------------------------------------------------------------- tokenizer reconstruction
def vertex_errors(pred_verts, gt_verts, mask=None, scale: float = 1000.0) -> dict:
    """Per-vertex Euclidean error of decoded meshes [..., V, 3] (metres) against the
    truth, in millimetres (`scale`=1000). `mask` restricts to a region: a [V] boolean
    array or an index array. Mean, 95th percentile and max over all vertices x frames."""
    p, g = as_numpy(pred_verts), as_numpy(gt_verts)
    if p.shape != g.shape or p.shape[-1] != 3:
        raise ValueError(f"vertex_errors expects equal [..., V, 3] arrays, got {list(p.shape)}, {list(g.shape)}")
    err = np.linalg.norm(p - g, axis=-1).reshape(-1, p.shape[-2]) * scale     # [N, V]
    if mask is not None:
        err = err[:, as_numpy(mask, None)]
    return {"mean_mm": float(err.mean()), "p95_mm": float(np.percentile(err, 95)),
            "max_mm": float(err.max())}


def channel_mae(pred_expr, gt_expr, lengths=None) -> dict:
    """Mean absolute error of expression channels over valid frames: overall and per
    channel ([C] array). Inputs as `_paired_frames`: [B, T, C] or lists of [T_i, C]."""
    p, g = _paired_frames(pred_expr, gt_expr, lengths)
    err = np.abs(p - g).reshape(len(p), -1)
    return {"mae": float(err.mean()), "per_channel": err.mean(axis=0)}


# ---------------------------------------------------------------- labels
def label_value(labels: dict, key: str):
    """One comparable field of a labels dict (schema in training.corpus.labels) or of a flat
    prediction dict. Derived keys: "head_motion"/"head_count" (from labels["head"] unless
    given flat), "micro" (the set of event types, from event dicts or plain type names),
    "transition" (whether there is one: a dict/None in labels, a bool in predictions)."""
    if key in ("head_motion", "head_count"):
        if key in labels:
            return labels[key]
        return (labels.get("head") or {}).get("motion" if key == "head_motion" else "count")
    if key == "side":
        return labels.get("side") or "both"                  # version 1 labels have none
    value = labels.get(key)
    if key == "micro":
        return frozenset(e["type"] if isinstance(e, dict) else e for e in value or ())
    if key == "transition":
        return bool(value)
    return value


def label_accuracy(pred_labels, true_labels, keys=CLASSIFIER_KEYS) -> dict:
    """Percent of clips whose predicted field equals the true one, per key: the analogue
    of TDMM-LM's CorE / CorM / CorI (emotion / motion / intensity correctness, there a 1-5
    GPT-4 score) as plain classification accuracy. "micro" needs the exact set of event
    types; "micro_f1" is the micro-averaged F1 (percent) of event types over clips;
    "head_count" is scored only on clips whose true head motion has a count (nod/shake)
    (motion and count must both match) and is NaN when there are none. `pred_labels` is a list
    of dicts or a dict of columns.
    Returns {key: percent, ..., "n": number of clips}."""
    if isinstance(pred_labels, dict):                 # columns -> rows
        cols = {k: list(v) for k, v in pred_labels.items()}
        pred_labels = [dict(zip(cols, row)) for row in zip(*cols.values())]
    if len(pred_labels) != len(true_labels) or not true_labels:
        raise ValueError(f"label_accuracy: {len(pred_labels)} predictions for {len(true_labels)} clips")
    out = {}
    for key in keys:
        if key == "micro_f1":
            tp = fp = fn = 0
            for p, t in zip(pred_labels, true_labels):
                ps, ts = label_value(p, "micro"), label_value(t, "micro")
                tp, fp, fn = tp + len(ps & ts), fp + len(ps - ts), fn + len(ts - ps)
            # No events predicted or present anywhere: nothing was missed, call it perfect.
            out[key] = 100.0 if tp + fp + fn == 0 else 100.0 * 2 * tp / (2 * tp + fp + fn)
            continue
        if key == "head_count":                       # the count only means something with the right motion
            pairs = [((label_value(p, "head_motion"), label_value(p, key)),
                      (label_value(t, "head_motion"), label_value(t, key)))
                     for p, t in zip(pred_labels, true_labels) if label_value(t, key) is not None]
        else:
            pairs = [(label_value(p, key), label_value(t, key)) for p, t in zip(pred_labels, true_labels)]
        out[key] = 100.0 * float(np.mean([pv == tv for pv, tv in pairs])) if pairs else float("nan")
    out["n"] = len(true_labels)
    return out


def classifier_accuracy(logits: dict, targets: dict) -> dict:
    """Accuracy of classifier heads from raw logits against integer targets (the evaluator's
    training targets, training.eval.evaluator.label_targets): family / intensity / head (and side
    / dynamic where both have them) by argmax
    where the target is known (>= 0); talking and every micro-event by logit > 0 on the clips
    that carry those labels (targets["has"] > 0). Fractions keyed acc_*; a task with no
    labelled clip is left out. label_accuracy scores predicted label dicts instead."""
    lg = {k: as_numpy(v) for k, v in logits.items()}
    tg = {k: as_numpy(v) for k, v in targets.items()}
    out = {}
    for key in ("family", "intensity", "head", "side", "dynamic"):
        if key not in lg or key not in tg:              # side / dynamic: evaluator version 2
            continue
        ok = tg[key] >= 0
        if ok.any():
            out[f"acc_{key}"] = float((lg[key].argmax(-1) == tg[key])[ok].mean())
    has = tg["has"] > 0
    if has.any():
        out["acc_talking"] = float(((lg["talking"] > 0) == (tg["talking"] > 0.5))[has].mean())
        hit = (lg["micro"] > 0) == (tg["micro"] > 0.5)                        # [N,M]
        out["acc_micro_per_event"] = float(hit[has].mean())
        out["acc_micro_exact"] = float(hit[has].all(-1).mean())
    return out
