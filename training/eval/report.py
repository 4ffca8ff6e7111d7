"""`tdmm eval`: the evaluation report of issue 4, written into OUT/RESULTS.md.

    tdmm eval --data DIR [--evaluator assets/eval/evaluator] [--tokenizers NAME=CKPT ...]
        [--generators NAME=CKPT ...] [--captioners NAME=CKPT ...] [--questions 256]
        [--subset 512] [--train-subset 2048] [--splits test,test_heldout_combo] [--out docs/]
        [--seed 0] [--device cpu] [--head PATH] [--tsne-points 2000] [--vertex-frames 4096] [--quiet]

Evaluated sets: per split, `--subset` clips drawn by the seed (the whole split when it is
smaller; 0 = whole split), read as "SPLIT" with the training wording and, where the clips
carry held-out wording (val/test of the synth corpus), again as "SPLIT, held-out wording".
The query caption of a clip is one of its captions drawn by the seed. `--train-subset`
train clips are the nearest-neighbour captioner's pool and give the mean motion. Clips are
cut to the evaluator's max_frames; clips without captions or labels are skipped.

Tables (every number from training/eval/metrics.py; all of them also in OUT/eval_results.json):
1. evaluator self-quality: text->motion and motion->text R@1/3/10 in batches of 32 and over
   the whole set, median rank, classifier accuracies, each beside its chance level;
2. Language2Motion through `l2m_rows(generate_fn, ...)`: ground truth, a random train clip, the train
   mean motion, random tokens of each tokenizer; a generator of a later issue is one call;
3. Motion2Language: nearest train clip by evaluator embedding (its first caption), each
   `--captioners` checkpoint (greedy captions of the same clips), and the clip's own first
   caption against its other captions as the upper bound; label columns (side on sided clips,
   micro-event F1 included) by training/eval/metrics_m2l.caption_scores, the trainer's reading.
   With captioners (training/eval/report_m2l.py): answers to `--questions` checkable questions
   per kind and split (m2l_data's yes/no, when, which, drawn by the seed) beside an
   always-the-majority-answer baseline; the round trip (each set's queries -> the first trained
   generator -> the first captioner: % of captions stating the family) when generators are
   given too; the twelve hand-keyed clips (training/eval/handkeyed.py): pass rate;
4. tokenizers: face-region vertex error, expression MAE, pose error, code usage.
Plots in OUT: eval_tsne_family.png (the paper's Fig. 9), eval_confusion_family.png,
eval_family_accuracy.png, eval_training_curves.png (when logs sit beside the checkpoints).
Only the block between MARK_BEGIN and MARK_END of OUT/RESULTS.md is rewritten (appended
when absent); the rest of the file is left as it is.

A generator of a later issue (e.g. the T2M-GPT-style baseline) adds its rows through the
same code, generate_fn(captions, lengths) -> (pose, expr):

    sets, _ = prepare_sets(evaluator, data, ["test"], 512, seed=0)
    rows = l2m_rows(my_generate, evaluator, sets, "T2M-GPT baseline", "runs/t2m/best.pt")
    # or into the report itself: report(args, generators=[("T2M-GPT", my_generate, "runs/t2m/best.pt")])

Default subsets, timed on this 2-core CPU machine (torch 2.13, other people's jobs running
beside it) with a randomly initialised evaluator of configs/evaluator.json's size and one
random tokenizer of VQConfig's default size, on the 60K-clip synth corpus (`tdmm synth
--clips 60000 --seed 0`): the defaults --subset 512 --train-subset 2048 took 3 min 47 s at
load average ~1 and 5 min 33 s at ~3 (loading + embedding 126 s, Language2Motion 58 s,
Motion2Language 105 s: MiniLM over ~13K reference sentences, tokenizer 33 s, plots with the
t-SNE of 1,024 points 6 s). --subset 1024 took 11 min at load ~2 and 18.5 min at load ~6,
hence the default of 512. On GPU: --subset 0 --device cuda (not run yet). Trained captioners
(--captioners) add greedy captioning of every evaluated clip once per split, --questions answers per
kind and split, the round trip and the 12 hand-keyed clips: not timed yet with the SmolLM2 captioner
(the issue 13 figures, ~70 ms per new token at batch 1 on 2 CPU threads, suggest tens of minutes at the
defaults on this CPU; use a GPU or a smaller --subset / --questions).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.device import pick_device
from engine.features import features_to_params, params_to_features
from engine.safe_io import output_path
from training.baselines.l2m import baseline_generators, random_tokens_generator, trained_generator
from training.baselines.retrieval_captioner import nearest_captions
from training.data.motion_data import EmptySplitError, MotionArrays, pad_clips
from training.eval.metrics import (
    as_numpy,
    bleu,
    channel_mae,
    cider,
    codebook_usage,
    diversity,
    embedding_similarity,
    frechet_distance,
    l2_expr_pose,
    label_accuracy,
    label_value,
    minilm_sentence_encoder,
    mm_dist,
    multimodality,
    pose_error_deg,
    r_precision,
    retrieval_ranks,
    rouge_l,
    vertex_errors,
)
from training.eval.metrics_m2l import WHEN_TOLERANCE_S, caption_scores
from training.eval.report_m2l import (
    DEFAULT_QUESTIONS,
    MAJORITY,
    QA_KINDS,
    MemoGenerator,
    captioner_results,
    clip_seconds,
    eval_questions,
    majority_answers,
    parse_specs,
    qa_row,
    resolve_captioners,
    roundtrip_row,
)
from training.eval.report_plots import plot_confusion, plot_curves, plot_family_bars, plot_tsne, read_curves

MARK_BEGIN, MARK_END = "<!-- tdmm eval: begin -->", "<!-- tdmm eval: end -->"
DEFAULT_SUBSET, DEFAULT_TRAIN_SUBSET, DEFAULT_TSNE = 512, 2048, 2000
R_BATCH = 32                                   # R-precision batches (T2M)
VERTEX_FRAMES = 4096                           # frames (drawn by the seed) for the tokenizer vertex errors
CLS_KEYS = ("family", "intensity", "head_motion", "talking", "micro_f1")
V2_KEYS = ("side", "dynamic")                   # classifier heads of evaluator version 2
L2M_KEYS = ("family", "intensity", "head_motion", "micro_f1")
MM_PROMPTS, MM_TAKES = 32, 10                 # multimodality: prompts x takes per set
M2L_KEYS = ("family", "descriptor", "intensity", "head_motion", "micro")


def _tag(*parts) -> int:
    return zlib.crc32("/".join(map(str, parts)).encode())


def _bar(it, desc: str, quiet: bool, **kw):
    if quiet:
        return it
    from tqdm import tqdm
    return tqdm(it, desc=desc, leave=False, **kw)


# -- data ---------------------------------------------------------------------------------------
@dataclass
class EvalSet:
    name: str                          # as the tables name it: "test", "test, held-out wording", ...
    split: str
    arrays: MotionArrays
    queries: list                      # one caption per clip: the text of retrieval and of L2M
    candidates: list                   # M2L upper bound: the clip's first caption
    references: list                   # M2L references per clip (never holding its candidate)
    motion_emb: np.ndarray | None = None
    text_emb: np.ndarray | None = None
    preds: list | None = None          # classifier labels of the real motion


def load_clips(root, split: str, n: int | None, seed: int, max_frames: int | None = None, quiet: bool = True):
    """`n` clips of `split` drawn by the seed (all when n is None/0 or the split is smaller), in
    dataset order, with captions and labels -> (MotionArrays, held-out captions per clip, split size)."""
    from training.data.dataset import ClipDataset
    ds = ClipDataset(root, split)
    if len(ds) == 0:
        raise EmptySplitError(f"{root} has no clips in split {split!r}")
    idx = np.arange(len(ds))
    if n and n < len(ds):
        idx = np.sort(np.random.default_rng([seed, _tag(split)]).choice(len(ds), n, replace=False))
    clips = [c for c in (ds[int(i)] for i in _bar(idx, f"load {split}", quiet)) if c.text and c.meta.get("labels")]
    if not clips:
        raise ValueError(f"no clip of split {split!r} in {root} has both captions and labels")
    arrays = pad_clips(clips, root, max_frames)
    return arrays, [list(c.meta.get("captions_heldout") or []) for c in clips], len(ds)


def make_sets(arrays: MotionArrays, heldout: list, split: str, seed: int) -> list[EvalSet]:
    rng = np.random.default_rng([seed, _tag(split, "queries")])
    first = [c[0] for c in arrays.captions]
    sets = [EvalSet(split, split, arrays, [c[rng.integers(len(c))] for c in arrays.captions], first,
                    [c[1:] or c for c in arrays.captions])]
    if all(heldout):
        sets.append(EvalSet(f"{split}, held-out wording", split, arrays,
                            [h[rng.integers(len(h))] for h in heldout], first, heldout))
    return sets


# -- the evaluator's outputs ------------------------------------------------------------------------
@torch.no_grad()
def motion_outputs(ev, feats, lengths, quiet: bool = True, chunk: int = 256):
    """One pass of the evaluator: (unit embeddings [N,E] numpy, classifier labels per clip as
    dicts with family / intensity / head_motion / talking / micro, the metrics' schema)."""
    embs, preds = [], []
    for s in _bar(range(0, len(lengths), chunk), "evaluator", quiet):
        z = ev.embed_motion(feats[s:s + chunk], lengths[s:s + chunk], normalize=False)
        embs.append(torch.nn.functional.normalize(z, dim=-1).cpu().numpy())
        lab = ev.labels_from_logits(ev.head_logits(z))
        rows = [{"family": f, "intensity": i, "head_motion": h, "talking": t, "micro": m}
                for f, i, h, t, m in zip(lab["family"], lab["intensity"], lab["head"], lab["talking"], lab["micro"])]
        for k in V2_KEYS:                               # evaluator version 2
            if k in lab:
                for r, v in zip(rows, lab[k]):
                    r[k] = v
        preds += rows
    return np.concatenate(embs), preds


def embed_texts(ev, texts: list, quiet: bool = True, chunk: int = 256) -> np.ndarray:
    """Evaluator text embeddings [N,E], computed in batches of similar length (less padding)."""
    order = np.argsort([len(t) for t in texts], kind="stable")
    z = np.concatenate([ev.embed_text([texts[i] for i in order[s:s + chunk]]).cpu().numpy()
                        for s in _bar(range(0, len(texts), chunk), "texts", quiet)])
    out = np.empty_like(z)
    out[order] = z
    return out


def self_quality(s: EvalSet, seed: int) -> dict:
    """Table 1 row of one set: retrieval both ways (batches of 32 and whole set) and the classifier."""
    n = len(s.queries)
    b = min(R_BATCH, n)
    out = {"set": s.name, "n": n, "batch": b}
    for d, (query, keys) in {"t2m": (s.text_emb, s.motion_emb), "m2t": (s.motion_emb, s.text_emb)}.items():
        rb = r_precision(query, keys, b, min(10, b), rng=seed, metric="cosine")
        rw = r_precision(query, keys, n, min(10, n), metric="cosine")
        out[d] = {"batch": {k: rb.get(f"top{k}", float("nan")) for k in (1, 3, 10)},
                  "whole": {k: rw.get(f"top{k}", float("nan")) for k in (1, 3, 10)},
                  "median_rank": float(np.median(retrieval_ranks(query, keys, "cosine")))}
    out["chance"] = {"batch": {k: min(k, b) / b for k in (1, 3, 10)}, "whole": {k: min(k, n) / n for k in (1, 3, 10)},
                     "median_rank": (n + 1) / 2}
    labels = s.arrays.labels
    keys = CLS_KEYS + tuple(k for k in V2_KEYS if s.preds and k in s.preds[0])
    acc = label_accuracy(s.preds, labels, keys)
    out["classifier"] = {k: acc[k] for k in keys}
    out["classifier_chance"] = label_chance(labels, seed, keys)
    return out


def label_chance(labels: list, seed: int, keys=CLS_KEYS) -> dict:
    """Chance of each classifier key: always answering the most frequent value (categorical keys),
    and for micro F1 the labels of a randomly permuted clip."""
    out = {}
    for k in [k for k in keys if k != "micro_f1"]:
        values = [label_value(t, k) for t in labels]
        out[k] = 100.0 * max(values.count(v) for v in set(values)) / len(values)
    perm = np.random.default_rng(seed).permutation(len(labels))
    out["micro_f1"] = label_accuracy([labels[i] for i in perm], labels, ("micro_f1",))["micro_f1"]
    return out


# -- Language2Motion ------------------------------------------------------------------------------
def _as_batch(pose, expr, lengths: np.ndarray, K: int):
    """Generator output -> (pose [N,T,5,3], expr [N,T,K] float32, lengths [N]); lists of per-clip
    arrays keep their own lengths, padded arrays are read up to the requested lengths."""
    if isinstance(pose, (list, tuple)):
        n = np.array([min(len(p), len(e)) for p, e in zip(pose, expr)], np.int64)
        P = np.zeros((len(n), int(n.max()), 5, 3), np.float32)
        E = np.zeros((len(n), int(n.max()), K), np.float32)
        for i, (p, e) in enumerate(zip(pose, expr)):
            P[i, :n[i]] = as_numpy(p, np.float32)[:n[i]].reshape(n[i], 5, 3)
            E[i, :n[i]] = as_numpy(e, np.float32)[:n[i]]
        return P, E, np.maximum(n, 1)
    P, E = as_numpy(pose, np.float32), as_numpy(expr, np.float32)
    P = P.reshape(P.shape[0], P.shape[1], 5, 3)
    if len(P) != len(lengths) or E.shape[:2] != P.shape[:2] or E.shape[2] != K:
        raise ValueError(f"generator gave pose {list(P.shape)} and expr {list(E.shape)} for {len(lengths)} "
                         f"clips with {K} expression channels")
    return P, E, np.clip(lengths, 1, P.shape[1])


def _multimodality(fn, ev, s, seed: int, quiet: bool) -> float:
    """Multimodality (T2M): MM_PROMPTS of the set's queries, each asked MM_TAKES times in one call
    (a sampling generator gives a different take per row), mean distance between takes."""
    a = s.arrays
    k = min(MM_PROMPTS, len(a))
    caps = [q for q in list(s.queries)[:k] for _ in range(MM_TAKES)]
    lens = np.repeat(a.lengths[:k], MM_TAKES)
    P, E, n = _as_batch(*fn(caps, lens.copy()), lens, len(a.expr_names))
    emb, _ = motion_outputs(ev, params_to_features(P, E), n, quiet)
    return multimodality(emb.reshape(k, MM_TAKES, -1), n_pairs=MM_TAKES, rng=seed)


def l2m_rows(generate_fn, ev, sets: list[EvalSet], name: str, source: str, seed: int = 0,
             quiet: bool = True, cache: dict | None = None, mm_prompts: bool = False) -> list[dict]:
    """Language2Motion rows of one generator, one per evaluated set, through the shared metrics.

    generate_fn(captions: list[str], lengths: int64 [N] frames) -> (pose, expr): axis-angle pose
    [N,T,5,3] (or [N,T,15]) and expression [N,T,K] in the data's channel order at its fps, as
    padded arrays or tensors (read up to lengths[i]) or as lists of per-clip [T_i, ...] arrays
    (their own lengths count). A dict {set name: function} gives one function per set (the
    ground-truth and random-clip baselines). The sets need motion_emb / text_emb (see `report`).
    Each row also holds "_family" (the classifier's family per clip) for the confusion plot.
    `cache` (a dict shared between calls) skips the evaluator for motion it has already seen,
    e.g. a baseline's identical output for the two wordings of a split. mm_prompts: also measure
    multimodality (for generators that sample; NaN otherwise).
    """
    rows, cache = [], {} if cache is None else cache
    for s in sets:
        fn = generate_fn[s.name] if isinstance(generate_fn, dict) else generate_fn
        a, t0 = s.arrays, time.time()
        P, E, n = _as_batch(*fn(list(s.queries), a.lengths.copy()), a.lengths, len(a.expr_names))
        key = hashlib.sha1(P.tobytes() + E.tobytes() + n.tobytes()).hexdigest()
        if key not in cache:
            cache[key] = motion_outputs(ev, params_to_features(P, E), n, quiet)
        emb, preds = cache[key]
        b = min(R_BATCH, len(n))
        rp = r_precision(s.text_emb, emb, b, min(3, b), rng=seed, metric="cosine")
        l2 = l2_expr_pose(P, E, a.pose, a.expr, np.minimum(n, a.lengths))
        acc = label_accuracy(preds, a.labels, L2M_KEYS)
        sided = [i for i, lab in enumerate(a.labels) if label_value(lab, "side") != "both"]
        acc["side"] = (100.0 * float(np.mean([preds[i].get("side") == label_value(a.labels[i], "side") for i in sided]))
                       if sided and "side" in preds[0] else float("nan"))
        mm = _multimodality(fn, ev, s, seed, quiet) if mm_prompts else float("nan")
        rows.append({"model": name, "set": s.name, "source": source, "n": len(n), "batch": b, "mm": mm,
                     "n_sided": len(sided),
                     **{k: rp.get(k, float("nan")) for k in ("top1", "top2", "top3")},
                     "fd": frechet_distance(s.motion_emb, emb) if len(n) > 1 else float("nan"),
                     "mm_dist": mm_dist(s.text_emb, emb), "diversity": diversity(emb, 300, rng=seed),
                     "l2": l2["l2"], "pose_deg": l2["pose_deg"], **{f"acc_{k}": acc[k] for k in L2M_KEYS + ("side",)},
                     "seconds": round(time.time() - t0, 1), "_family": [p["family"] for p in preds]})
    return rows


# -- Motion2Language ---------------------------------------------------------------------------------
class CachedEncoder:
    """The metrics' MiniLM sentence encoder, embedding each distinct sentence once (references
    repeat across rows), in batches of similar length (less padding: 1.7x faster on CPU)."""

    def __init__(self, device: str = "cpu"):
        self.encode, self.cache = minilm_sentence_encoder(device), {}

    def __call__(self, texts):
        new = sorted((t for t in dict.fromkeys(texts) if t not in self.cache), key=len)
        if new:
            self.cache.update(zip(new, self.encode(new)))
        return np.stack([self.cache[t] for t in texts]) if len(texts) else np.zeros((0, 384), np.float32)


def caption_row(name: str, s: EvalSet, candidates: list, encoder, source: str) -> dict:
    """One Motion2Language row: the label columns of metrics_m2l.caption_scores (what the trainer
    validates with; side over the sided clips, n_sided of them) and the text metrics."""
    sc = caption_scores(list(candidates), s.arrays.labels)
    b = bleu(candidates, s.references)
    return {"model": name, "set": s.name, "source": source, "n": len(candidates),
            **{f"acc_{k}": sc["head" if k == "head_motion" else k] for k in M2L_KEYS},
            "acc_side": sc["side"], "n_sided": sc["n_sided"], "acc_micro_f1": sc["micro_f1"],
            "bleu1": b["bleu1"], "bleu4": b["bleu4"],
            "rouge_l": rouge_l(candidates, s.references), "cider": cider(candidates, s.references),
            "minilm_cos": embedding_similarity(candidates, s.references, encoder)["mean_cos"]}


def m2l_rows(sets: list[EvalSet], pool: MotionArrays, pool_emb: np.ndarray, encoder, source: str,
             captioners=()) -> list[dict]:
    """Nearest-neighbour retrieval captioner (training/baselines/retrieval_captioner.py), then each
    of `captioners` [(name, source, {split: one caption per clip of the split}[, {split: seconds}])],
    then the reference-caption upper bound, per set."""
    rows = []
    for s in sets:
        rows.append(caption_row("nearest train clip (evaluator embedding)", s,
                                nearest_captions(s.motion_emb, pool_emb, pool.captions), encoder, source))
        for name, src, by_split, *took in captioners:
            rows.append(caption_row(name, s, by_split[s.split], encoder, src))
            if took:                                    # seconds the split's captions took (both wordings share them)
                rows[-1]["caption_seconds"] = took[0].get(s.split)
        rows.append(caption_row("reference caption (upper bound)", s, s.candidates, encoder, "the clip's 1st caption"))
    return rows


# -- tokenizers -------------------------------------------------------------------------------------
def face_flame(head):
    """(FlameLayer on the face region + joint vertices, number of face vertices first, note)."""
    from engine.flame import FlameLayer
    from engine.head_regions import face_head, face_region
    n_face = int(face_region(head).sum())
    if n_face == 0:
        return FlameLayer(head), head.num_vertices, f"whole head ({head.num_vertices} vertices; no face region)"
    fh, n = face_head(head)
    return FlameLayer(fh), n, (f"face region: {n} of {head.num_vertices} vertices (skin that an expression "
                               "channel moves > 1 mm, and the eyes: training/train_vq.face_region)")


@torch.no_grad()
def tokenizer_row(name: str, tok, s: EvalSet, flame, n_face: int, seed: int, source: str,
                  vertex_frames: int = VERTEX_FRAMES, chunk: int = 64) -> dict:
    a, K, t0 = s.arrays, len(s.arrays.expr_names), time.time()
    if list(tok.cfg.expr_names) != list(a.expr_names) or abs(tok.cfg.fps - a.fps) > 1e-6:
        raise ValueError(f"tokenizer {name} ({source}) has other expression channels or fps than the data")
    feats, dev = a.features(), next(tok.parameters()).device
    rec, codes = np.zeros_like(feats), []
    for i in range(0, len(a), chunk):
        f, n = torch.from_numpy(feats[i:i + chunk]).to(dev), torch.from_numpy(a.lengths[i:i + chunk]).to(dev)
        t = tok.encode(f, n)
        r = tok.decode(t, n).float().cpu().numpy()
        rec[i:i + chunk, :r.shape[1]] = r
        codes.append((t if t.dim() == 2 else t[..., 0]).reshape(-1).cpu().numpy())
    valid = np.arange(feats.shape[1])[None, :] < a.lengths[:, None]
    pose, expr = np.zeros_like(a.pose), np.zeros_like(a.expr)
    pose[valid], expr[valid] = features_to_params(rec[valid], K)
    ci, ti = np.nonzero(valid)
    pick = np.sort(np.random.default_rng(seed).choice(len(ci), min(vertex_frames, len(ci)), replace=False))
    ci, ti = ci[pick], ti[pick]
    fdev = flame.v_template.device
    to = lambda x: torch.from_numpy(x).to(fdev)
    verts = lambda e, p: torch.cat([flame(to(e[j:j + 512]), to(p[j:j + 512]))[:, :n_face].cpu()
                                    for j in range(0, len(e), 512)]).numpy()
    ve = vertex_errors(verts(expr[ci, ti], pose[ci, ti]), verts(a.expr[ci, ti], a.pose[ci, ti]))
    use = codebook_usage(np.concatenate(codes), tok.cfg.codebook_size)
    return {"model": name, "set": s.split, "source": source, "n": len(a), "vertex_frames": len(ci),
            "vertex_mean_mm": ve["mean_mm"], "vertex_p95_mm": ve["p95_mm"],
            "expr_mae": channel_mae(expr, a.expr, a.lengths)["mae"],
            "pose_deg": pose_error_deg(pose, a.pose, a.lengths)["mean_deg"],
            "code_usage": 100 * use["used_fraction"], "perplexity": use["perplexity"],
            "codebook": tok.cfg.codebook_size, "levels": tok.cfg.levels,
            "tokens_per_s": tok.cfg.tokens_per_second, "seconds": round(time.time() - t0, 1)}


# -- markdown ------------------------------------------------------------------------------------------
def _f(x, nd: int = 3) -> str:
    return "n/a" if x is None or (isinstance(x, float) and not np.isfinite(x)) else f"{x:.{nd}f}"


def _table(head: list, rows: list) -> list:
    rule = "|" + "|".join(" --- " if i == 0 else " ---: " for i in range(len(head))) + "|"
    return ["| " + " | ".join(head) + " |", rule] + ["| " + " | ".join(map(str, r)) + " |" for r in rows]


def render(res: dict) -> str:
    """The RESULTS.md block (between the markers) from the results dict."""
    L = [MARK_BEGIN, "## Evaluation (issue 4, `tdmm eval`)", "",
         "Written by the command; do not edit by hand (the next run replaces everything between the markers).",
         f"Every row below comes from `{res['command']}` ({res['device']}, {res['seconds']:.0f} s, seed "
         f"{res['seed']}), evaluator `{res['evaluator']}` (sha256 {res['evaluator_sha']}"
         + (", trained {steps} steps on {n_train} clips of `{data}`".format(**res["evaluator_trained"])
            if res["evaluator_trained"]["steps"] else ", no training record in its config.json") + ").", ""]
    L += ["Sets: " + "; ".join(f"{s['name']}: {s['n']} of {s['of']} clips" for s in res["sets"])
          + f". Train pool (nearest-neighbour captioner, mean motion): {res['train_n']} train clips. "
          "Embeddings are unit length, so cosine and Euclidean rankings agree.", ""]
    L += ["### Evaluator self-quality", "",
          f"Retrieval of each clip's query caption (one of its captions, drawn by the seed) in shuffled batches of "
          f"{R_BATCH} and over the whole set; chance R@k is k/32 and k/n, chance median rank (n+1)/2.", ""]
    rows = []
    for q in res["self"]:
        for d in ("t2m", "m2t"):
            r = q[d]
            rows.append([q["set"], q["n"], "text->motion" if d == "t2m" else "motion->text"]
                        + [_f(r["batch"][k]) for k in (1, 3, 10)] + [_f(r["whole"][k]) for k in (1, 3, 10)]
                        + [_f(r["median_rank"], 1)])
        c = q["chance"]
        rows.append([q["set"], q["n"], "chance"] + [_f(c["batch"][k]) for k in (1, 3, 10)]
                    + [_f(c["whole"][k]) for k in (1, 3, 10)] + [_f(c["median_rank"], 1)])
    L += _table(["set", "n", "direction", "R@1 (32)", "R@3 (32)", "R@10 (32)", "R@1 (all)", "R@3 (all)",
                 "R@10 (all)", "median rank"], rows)
    L += ["", "How far above chance: " + "; ".join(
        f"{q['set']}: text->motion R@1 in batches {_f(q['t2m']['batch'][1])} = "
        f"{q['t2m']['batch'][1] / q['chance']['batch'][1]:.1f}x chance, median rank {_f(q['t2m']['median_rank'], 0)} "
        f"of {q['n']} (chance {_f(q['chance']['median_rank'], 0)})" for q in res["self"]) + ".", ""]
    names = {"family": "family", "intensity": "intensity", "head_motion": "head motion", "talking": "talking",
             "micro_f1": "micro-event F1", "side": "side", "dynamic": "dynamic"}
    cls_keys = list(res["self"][0]["classifier"]) if res["self"] else list(CLS_KEYS)
    L += ["Classifier on real motion, % correct (chance in brackets: the most frequent value of the set; "
          "for micro-event F1, the labels of a randomly permuted clip):", ""]
    L += _table(["set", "n"] + [names[k] for k in cls_keys],
                [[q["set"], q["n"]] + [f"{_f(q['classifier'][k], 1)} ({_f(q['classifier_chance'][k], 1)})"
                                       for k in cls_keys] for q in res["self"] if "held-out wording" not in q["set"]])
    L += ["", "Margins over chance (points): " + "; ".join(
        f"{q['set']}: " + ", ".join(f"{names[k]} {q['classifier'][k] - q['classifier_chance'][k]:+.1f}"
                                    for k in cls_keys)
        for q in res["self"] if "held-out wording" not in q["set"]) + ".", ""]
    L += ["### Language2Motion", "",
          "Motion for each clip's query caption at the clip's length, scored by the evaluator: R-precision in "
          f"batches of {R_BATCH} (chance 0.031 / 0.063 / 0.094), FD against the set's real motion, MM-Dist, "
          "Diversity (300 pairs) on unit embeddings; L2 on [expression, axis-angle pose] against the paired clip; "
          "label columns: % of clips whose classifier label of the motion matches the clip's labels (side: over "
          f"the clips whose labels have a side, their count in brackets). MModality: {MM_PROMPTS} queries x "
          f"{MM_TAKES} takes, mean embedding distance between takes of one prompt (trained generators only). "
          "Ground truth's FD is 0 by construction (same motion on both sides).", ""]
    L += _table(["model", "set", "top-1", "top-2", "top-3", "FD", "MM-Dist", "Diversity", "MModality", "L2",
                 "family %", "intensity %", "head %", "side % (sided)", "micro F1 %", "source"],
                [[r["model"], r["set"], _f(r["top1"]), _f(r["top2"]), _f(r["top3"]), _f(r["fd"]), _f(r["mm_dist"]),
                  _f(r["diversity"]), _f(r.get("mm", float("nan"))), _f(r["l2"]), _f(r["acc_family"], 1),
                  _f(r["acc_intensity"], 1), _f(r["acc_head_motion"], 1),
                  f"{_f(r.get('acc_side', float('nan')), 1)} ({r.get('n_sided', 0)})", _f(r["acc_micro_f1"], 1),
                  r["source"]] for r in res["l2m"]])
    L += ["", "### Motion2Language", "",
          "Label columns: % of captions that state the clip's label (training/corpus/caption_parse.py); BLEU, ROUGE-L, "
          "CIDEr-D (x10) and MiniLM cosine (mean over references) against the references: the clip's captions "
          "2-6 in training wording, or all its held-out-wording captions. The upper bound is the clip's own first "
          "caption (never among its references). Side: over the clips whose labels have a side (their count in "
          "brackets); micro %: the exact set of micro-event types, micro F1: micro-averaged over clips "
          "(training/eval/metrics_m2l.py, the trainer's validation). Trained captioners caption greedily.", ""]
    L += _table(["captioner", "set (references)", "family %", "descriptor %", "intensity %", "head %",
                 "side % (sided)", "micro %", "micro F1 %", "BLEU-1", "BLEU-4", "ROUGE-L", "CIDEr", "MiniLM cos",
                 "source"],
                [[r["model"], r["set"], *(_f(r[f"acc_{k}"], 1) for k in M2L_KEYS[:4]),
                  f"{_f(r.get('acc_side', float('nan')), 1)} ({r.get('n_sided', 0)})", _f(r["acc_micro"], 1),
                  _f(r.get("acc_micro_f1", float("nan")), 1), _f(r["bleu1"]), _f(r["bleu4"]),
                  _f(r["rouge_l"]), _f(r["cider"]), _f(r["minilm_cos"]), r["source"]] for r in res["m2l"]])
    L += render_captioner_tables(res)
    L += ["", "### Tokenizers", ""]
    if res["tokenizers"]:
        L += [f"Encode + decode of each set's clips. Vertex errors over up to {res['vertex_frames']} frames drawn "
              "by the seed, "
              f"{res['vertex_region']}. Expression MAE in coefficient units; pose error: mean geodesic angle "
              "over the 5 joints; code usage and perplexity of level 0.", ""]
        L += _table(["tokenizer", "set", "vertex mean mm", "vertex p95 mm", "expr MAE", "pose deg", "codes used %",
                     "perplexity", "tokens/s", "checkpoint"],
                    [[r["model"], r["set"], _f(r["vertex_mean_mm"]), _f(r["vertex_p95_mm"]), _f(r["expr_mae"], 4),
                      _f(r["pose_deg"]), f"{_f(r['code_usage'], 1)} of {r['codebook']}", _f(r["perplexity"], 1),
                      _f(r["tokens_per_s"], 2), r["source"]] for r in res["tokenizers"]])
    else:
        L += ["No tokenizer given (`--tokenizers NAME=CKPT`)."]
    L += ["", "### Plots", ""] + [f"![{t}]({p})" for t, p in res["plots"]] + ["", MARK_END]
    return "\n".join(L) + "\n"


def render_captioner_tables(res: dict) -> list:
    """The question, round-trip and hand-keyed tables of the Motion2Language block."""
    L = []
    if not res.get("m2l_qa"):
        return ["", "No trained captioner given (`--captioners NAME=CKPT`): no question, round-trip or hand-keyed "
                "table."]
    info = res.get("qa_questions") or {}
    L += ["", "#### Motion2Language: questions", "",
          f"Checkable questions of training/data/m2l_data.py on the evaluated clips (seed {res['seed']}; at most "
          f"{info.get('per_kind') or 'all'} per kind and split, drawn by the seed; \"when\" questions past the end "
          "of a cut clip left out), answered greedily, scored by training/eval/metrics_m2l.qa_scores: yes/no by the "
          f"answer's first word, when within {info.get('tolerance_s', 0.5):g} s of the labelled time, which by the "
          "first left/right (the side of an expression or the way the head turns). Baseline: always the commoner "
          "yes/no answer and the commoner side of the set's questions, and the clip's middle for when. Question "
          "counts in brackets.", ""]
    L += _table(["captioner", "split", "clips", "yes/no %", "when (0.5 s) %", "which side %", "source"],
                [[r["model"], r["split"], r["n_clips"], f"{_f(r['yesno'], 1)} ({r['n_yesno']})",
                  f"{_f(r['when'], 1)} ({r['n_when']})", f"{_f(r['which'], 1)} ({r['n_which']})", r["source"]]
                 for r in res["m2l_qa"]])
    L += ["", "#### Motion2Language: round trip", ""]
    if res.get("m2l_roundtrip"):
        L += ["Each clip's query caption -> the first generator (the motion its Language2Motion rows scored) -> "
              "the first captioner: % of the captions that state the family of the prompt's clip (the family "
              "column's reading); beside it the same reading of the prompts themselves.", ""]
        L += _table(["generator", "captioner", "set", "n", "caption names the family %", "prompt itself %"],
                    [[r["generator"], r["captioner"], r["set"], r["n"], _f(r["family"], 1),
                      _f(r["prompt_family"], 1)] for r in res["m2l_roundtrip"]])
    else:
        L += ["No trained generator given (`--generators NAME=CKPT`): no round trip."]
    L += ["", "#### Motion2Language: hand-keyed clips", "",
          "The twelve clips keyed by hand in training/eval/handkeyed.py (other channel subsets, intensities, "
          "timings and frame rates than the corpus): a caption passes when it holds one word of each of its "
          "clip's word groups.", ""]
    L += _table(["captioner", "passed", "%", "failed clips", "source"],
                [[r["model"], f"{r['passed']} of {r['of']}" if r["passed"] is not None else "n/a",
                  _f(100.0 * r["passed"] / r["of"], 1) if r["passed"] is not None and r["of"] else "n/a",
                  ", ".join(c["name"] for c in r["clips"] if not c["pass"]) or r.get("skipped", "none"),
                  r["source"]] for r in res["m2l_handkeyed"]])
    return L


def splice_block(text: str, block: str, where: str = "RESULTS.md") -> str:
    """`text` with its marked block replaced by `block` (appended when absent); nothing else changes."""
    b, e = text.find(MARK_BEGIN), text.find(MARK_END)
    if (b >= 0) != (e >= 0) or e < b or text.count(MARK_BEGIN) > 1:
        raise ValueError(f"{where}: the markers {MARK_BEGIN} ... {MARK_END} are broken (one missing, twice or "
                         "out of order); repair them by hand, the report will not guess what to replace")
    if b < 0:
        return text + ("" if text.endswith("\n") else "\n") + "\n" + block
    end = e + len(MARK_END) + (1 if text[e + len(MARK_END):e + len(MARK_END) + 1] == "\n" else 0)
    return text[:b] + block + text[end:]


def write_block(path: Path, block: str) -> None:
    """Replace the marked block of the file `path` (atomically; a new file starts with "# Results")."""
    text = splice_block(path.read_text() if path.is_file() else "# Results\n", block, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(text)
    tmp.replace(path)


# -- the command ---------------------------------------------------------------------------------------
def _sha(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:12]


def command_line(args) -> str:
    parts = ["tdmm eval --data", str(args.data), "--evaluator", args.evaluator or "assets/eval/evaluator"]
    parts += ["--tokenizers", *args.tokenizers] if args.tokenizers else []
    parts += ["--generators", *args.generators] if getattr(args, "generators", None) else []
    parts += ["--captioners", *args.captioners] if getattr(args, "captioners", None) else []
    if getattr(args, "captioners", None) and getattr(args, "questions", DEFAULT_QUESTIONS) != DEFAULT_QUESTIONS:
        parts += ["--questions", str(args.questions)]
    parts += ["--subset", str(args.subset), "--train-subset", str(args.train_subset), "--splits", args.splits,
              "--out", str(args.out), "--seed", str(args.seed)]
    parts += ["--tsne-points", str(args.tsne_points)] if args.tsne_points != DEFAULT_TSNE else []
    parts += ["--vertex-frames", str(args.vertex_frames)] if args.vertex_frames != VERTEX_FRAMES else []
    return " ".join(parts)


def prepare_sets(ev, data, splits, subset: int | None, seed: int, quiet: bool = True, say=lambda m: None):
    """Load `subset` clips of each split and run the evaluator on them: (EvalSets with motion_emb,
    text_emb and preds filled in, [{"name", "n", "of"}] per set). What `l2m_rows` needs."""
    sets, info = [], []
    for split in [x.strip() for x in splits if x.strip()]:
        say(f"{split}: loading and embedding")
        a, held, total = load_clips(data, split, subset, seed, ev.cfg.max_frames, quiet)
        if ev.cfg.expr_names and list(ev.cfg.expr_names) != list(a.expr_names) or abs(ev.cfg.fps - a.fps) > 1e-6:
            raise ValueError(f"the evaluator was trained on other expression channels or fps than {data} has")
        emb, preds = motion_outputs(ev, a.features(), a.lengths, quiet)
        for s in make_sets(a, held, split, seed):
            s.motion_emb, s.preds, s.text_emb = emb, preds, embed_texts(ev, s.queries, quiet)
            sets.append(s)
            info.append({"name": s.name, "n": len(a), "of": total})
    return sets, info


def report(args, generators=()) -> dict:
    """Run everything, write OUT/RESULTS.md's block, OUT/eval_results.json and the plots; return the
    results. `generators`: extra Language2Motion rows, [(name, generate_fn, source)] as in l2m_rows."""
    from engine.head import assets_dir, load_head
    from engine.tokenizer import MotionTokenizer
    from training.eval.evaluator import WEIGHTS_FILE, Evaluator
    t_start, seed, quiet = time.time(), args.seed, args.quiet
    say = (lambda m: None) if quiet else \
        (lambda m: print(f"[tdmm eval {time.time() - t_start:5.0f} s] {m}", file=sys.stderr))
    torch.manual_seed(seed)
    device = str(pick_device(args.device))
    ev_path = Path(args.evaluator) if args.evaluator else assets_dir() / "eval" / "evaluator"
    ev = Evaluator.load(ev_path, device)
    tokenizers = []
    for spec in args.tokenizers or []:
        name, _, path = spec.partition("=")
        if not name or not path:
            raise ValueError(f"--tokenizers takes NAME=CKPT, got {spec!r}")
        tokenizers.append((name, path, MotionTokenizer.load(path, device)))
    parse_specs(getattr(args, "generators", None), "--generators")      # malformed: fail now, not after the work
    captioners = resolve_captioners(getattr(args, "captioners", None), [path for _, path, _ in tokenizers])
    per_kind = int(getattr(args, "questions", DEFAULT_QUESTIONS))
    if per_kind < 0:
        raise ValueError(f"--questions must be >= 0 (0 = all), got {per_kind}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if (out / "RESULTS.md").is_file():                  # broken markers: fail now, not after the work
        splice_block((out / "RESULTS.md").read_text(), "", str(out / "RESULTS.md"))

    sets, info = prepare_sets(ev, args.data, args.splits.split(","), args.subset, seed, quiet, say)
    say("train pool")
    pool, _, _ = load_clips(args.data, "train", args.train_subset, seed, ev.cfg.max_frames, quiet)
    pool_emb, _ = motion_outputs(ev, pool.features(), pool.lengths, quiet)
    # Steps actually trained (final validation), not the configured budget: a wall-clock cap may stop early.
    done = ((ev.meta.get("final_val") or {}).get("step") or ev.meta.get("step")
            or (ev.meta.get("train") or {}).get("steps"))
    trained = {"steps": done, "n_train": ev.meta.get("n_train"),
               "data": ev.meta.get("data")}
    res = {"command": command_line(args), "device": device, "seed": seed, "evaluator": str(ev_path),
           "evaluator_sha": _sha(ev_path / WEIGHTS_FILE), "evaluator_trained": trained, "sets": info,
           "train_n": len(pool)}

    say("evaluator self-quality")
    res["self"] = [self_quality(s, seed) for s in sets]
    say("Language2Motion baselines")
    gens = baseline_generators(sets, pool, seed)
    gens += [(f"random tokens ({name})", random_tokens_generator(tok, seed), path) for name, path, tok in tokenizers]
    gens = [(name, fn, src, False) for name, fn, src in gens]
    for spec in args.generators or []:
        name, _, path = spec.partition("=")
        if not name or not path:
            raise ValueError(f"--generators takes NAME=CKPT, got {spec!r}")
        gens.append((name, trained_generator(path, device, seed), path, True))
    gens += [(name, fn, src, True) for name, fn, src in generators]
    first_gen = next((i for i, g in enumerate(gens) if g[3]), None) if captioners else None
    if first_gen is not None:                 # the round trip reads the motion these rows score
        name, fn, src, mm = gens[first_gen]
        gens[first_gen] = (name, {k: MemoGenerator(f) for k, f in fn.items()} if isinstance(fn, dict)
                           else MemoGenerator(fn), src, mm)
    cache = {}
    l2m = [r for name, fn, src, mm in gens for r in l2m_rows(fn, ev, sets, name, src, seed, quiet, cache, mm)]
    del cache
    say("Motion2Language")
    res["m2l_qa"], res["m2l_roundtrip"], res["m2l_handkeyed"], captioned = [], [], [], []
    if captioners:
        questions, res["qa_questions"] = {}, {"per_kind": per_kind, "tolerance_s": WHEN_TOLERANCE_S, "splits": {}}
        for s in sets:
            if s.split not in questions:
                secs = clip_seconds(s.arrays)
                questions[s.split] = eval_questions(s.arrays.labels, secs, s.split, seed, per_kind)
                qs = questions[s.split]
                res["qa_questions"]["splits"][s.split] = {k: sum(q["kind"] == k for _, q in qs) for k in QA_KINDS}
                res["m2l_qa"].append(qa_row(MAJORITY, s.split, majority_answers(qs, secs), qs, len(s.arrays),
                                            "the set's own questions"))
        motion = None
        if first_gen is not None:
            memo = gens[first_gen][1]
            motion = {s.name: _as_batch(*(memo[s.name] if isinstance(memo, dict) else memo).output(
                list(s.queries), s.arrays.lengths.copy()), s.arrays.lengths, len(s.arrays.expr_names)) for s in sets}
        for k, spec in enumerate(captioners):
            out_c = captioner_results(spec, sets, device, seed, questions, motion if k == 0 else None, say)
            captioned.append((spec.name, spec.path, out_c["captions"], out_c["seconds"]))
            res["m2l_qa"] += out_c["qa"]
            res["m2l_handkeyed"].append(out_c["handkeyed"])
            for name, caps in out_c["roundtrip"].items():
                s = next(x for x in sets if x.name == name)
                res["m2l_roundtrip"].append(roundtrip_row(gens[first_gen][0], spec.name, s, caps,
                                                          f"{gens[first_gen][2]} -> {spec.path}"))
        res["m2l_qa"].sort(key=lambda r: [s.split for s in sets].index(r["split"]))   # split by split
    res["m2l"] = m2l_rows(sets, pool, pool_emb, CachedEncoder(device), f"{len(pool)} train clips", captioned)
    res["tokenizers"], res["vertex_region"], res["vertex_frames"] = [], None, args.vertex_frames
    if tokenizers:
        say("tokenizers")
        flame, n_face, res["vertex_region"] = face_flame(load_head(args.head))
        flame = flame.to(device)
        res["tokenizers"] = [tokenizer_row(name, tok, s, flame, n_face, seed, path, args.vertex_frames)
                             for name, path, tok in tokenizers for s in sets if s.name == s.split]

    say("plots")
    first = sets[0]
    true = [lab["family"] for lab in first.arrays.labels]
    families = list(ev.cfg.families) or sorted(set(true))
    panels = [(f"real motion ({first.name})", true, [p["family"] for p in first.preds])]
    panels += [(r["model"], true, r["_family"]) for r in l2m
               if r["set"] == first.name and "ground truth" not in r["model"]]
    res["plots"] = [("family confusion", "eval_confusion_family.png"), ("family accuracy", "eval_family_accuracy.png")]
    plot_confusion(panels, families, out / "eval_confusion_family.png")
    plot_family_bars(panels, families, out / "eval_family_accuracy.png")
    real = [s for s in sets if s.name == s.split]                   # one set per split: its real motion
    emb = np.concatenate([s.motion_emb for s in real])
    fam = [lab["family"] for s in real for lab in s.arrays.labels]
    pick = np.arange(len(fam))
    if len(pick) > args.tsne_points:
        pick = np.sort(np.random.default_rng(seed).choice(len(pick), args.tsne_points, replace=False))
    if len(pick) >= 5:
        plot_tsne(emb[pick], [fam[i] for i in pick], out / "eval_tsne_family.png",
                  f"t-SNE of evaluator motion embeddings by family: {len(pick)} clips of "
                  f"{', '.join(s.name for s in real)}", seed, quiet)
        res["plots"].insert(0, ("t-SNE by family", "eval_tsne_family.png"))
    curves = read_curves(ev_path, [(name, path) for name, path, _ in tokenizers])
    if curves:
        plot_curves(curves, out / "eval_training_curves.png")
        res["plots"].append(("training curves", "eval_training_curves.png"))

    res["l2m"] = [{k: v for k, v in r.items() if not k.startswith("_")} for r in l2m]
    res["seconds"] = round(time.time() - t_start, 1)
    (out / "eval_results.json").write_text(json.dumps(res, indent=1) + "\n")
    write_block(out / "RESULTS.md", render(res))
    say(f"wrote {out / 'RESULTS.md'} (block between the markers), eval_results.json and {len(res['plots'])} plots")
    return res


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="dataset folder (tdmm synth output or a clip folder)")
    p.add_argument("--evaluator", default=None, help="evaluator checkpoint folder (default assets/eval/evaluator)")
    p.add_argument("--tokenizers", nargs="*", default=[], metavar="NAME=CKPT", help="tokenizer checkpoints to score")
    p.add_argument("--generators", nargs="*", default=[], metavar="NAME=CKPT",
                   help="Language2Motion checkpoints to score (ours, the T2M-GPT-style baseline)")
    p.add_argument("--captioners", nargs="*", default=[], metavar="NAME=CKPT",
                   help="Motion2Language checkpoints to score (tdmm train m2l's best; ours, the no-pretraining "
                        "baseline): caption rows, questions, round trip (with --generators), hand-keyed clips")
    p.add_argument("--questions", type=int, default=DEFAULT_QUESTIONS,
                   help=f"checkable questions per kind and split for the captioners, drawn by the seed; 0 = all "
                        f"(default {DEFAULT_QUESTIONS})")
    p.add_argument("--subset", type=int, default=DEFAULT_SUBSET,
                   help=f"clips per split, drawn by the seed; 0 = whole split (default {DEFAULT_SUBSET})")
    p.add_argument("--train-subset", type=int, default=DEFAULT_TRAIN_SUBSET,
                   help=f"train clips for the captioner pool and mean motion (default {DEFAULT_TRAIN_SUBSET})")
    p.add_argument("--splits", default="test,test_heldout_combo", help="comma-separated splits to evaluate")
    p.add_argument("--out", default="docs", help="folder of RESULTS.md and the plots (default docs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto (default cpu)")
    p.add_argument("--head", default=None, help="head model for the vertex errors (default: the shipped head)")
    p.add_argument("--tsne-points", type=int, default=DEFAULT_TSNE, help=f"t-SNE points (default {DEFAULT_TSNE})")
    p.add_argument("--vertex-frames", type=int, default=VERTEX_FRAMES,
                   help=f"frames per set for the tokenizer vertex errors (default {VERTEX_FRAMES})")
    p.add_argument("--quiet", action="store_true", help="no progress output")


def run(args) -> int:
    out = output_path(args.out, "--out", kind="dir")
    fresh = not out.exists()
    try:
        res = report(args)
    except BaseException:
        if fresh and out.exists():                      # a folder we made for a report that never finished
            shutil.rmtree(out, ignore_errors=True)
        raise
    qa = f" ({len(res['m2l_qa'])} question rows)" if res.get("m2l_qa") else ""
    print(f"tdmm eval: {len(res['self'])} sets, {len(res['l2m'])} Language2Motion rows, {len(res['m2l'])} "
          f"Motion2Language rows{qa}, {len(res['tokenizers'])} tokenizer rows in {res['seconds']:.0f} s -> "
          f"{Path(args.out) / 'RESULTS.md'}")
    return 0


def add_command(sub) -> None:
    p = sub.add_parser("eval", help="evaluation report: evaluator, Language2Motion, Motion2Language and tokenizer "
                                    "tables + plots into RESULTS.md")
    add_arguments(p)
    p.set_defaults(func=run)
