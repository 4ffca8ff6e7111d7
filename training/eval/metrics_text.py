"""Text-side metrics for Motion2Language: label correctness read back from captions,
the COCO caption metrics (BLEU, ROUGE-L, CIDEr-D) and a MiniLM embedding similarity.

Inputs are `candidates` (one generated caption per clip) and `references_list` (for
each clip, its list of reference captions; a plain string counts as a list of one).
All scores are corpus-level floats; BLEU and ROUGE-L lie in [0, 1]; CIDEr-D is x10 as
in the COCO evaluation code (a perfect match scores 10).

The caption metrics follow the definitions of pycocoevalcap (the COCO caption
evaluation) written afresh; the one known difference is tokenisation: COCO runs the
Stanford PTB tokenizer, we lowercase and keep runs of letters/digits (with inner
hyphens and apostrophes), dropping punctuation as COCO does after its tokenizer.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from functools import lru_cache

import numpy as np

from training.eval.metrics_motion import label_accuracy

CAPTION_KEYS = ("family", "descriptor", "intensity", "head_motion", "head_count", "micro", "transition", "side",
                "dynamic")
ROUGE_BETA = 1.2              # COCO's ROUGE-L weights recall 1.2x precision
CIDER_SIGMA = 6.0             # CIDEr-D's Gaussian length penalty width (in tokens)

_WORD = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")


def words(text: str) -> list[str]:
    """Lowercased word tokens without punctuation."""
    return _WORD.findall(text.lower().replace("\u2019", "'"))


def _check(candidates, references_list) -> list[list[str]]:
    if len(candidates) != len(references_list) or not candidates:
        raise ValueError(f"{len(candidates)} candidates for {len(references_list)} reference sets")
    refs = [[r] if isinstance(r, str) else list(r) for r in references_list]
    if any(not r for r in refs):
        raise ValueError("every candidate needs at least one reference")
    return refs


def _ngrams(toks: list[str], n: int) -> Counter:
    return Counter(tuple(toks[i:i + n]) for i in range(len(toks) - n + 1))


# ---------------------------------------------------------------- label correctness
def caption_label_correctness(captions, labels, keys=CAPTION_KEYS) -> dict:
    """Percent of captions that state each label correctly, read with the lexicon parser
    (training.corpus.caption_parse): our measurable stand-in for TDMM-LM's CorE / CorM / CorI,
    which the paper gets as 1-5 scores from a GPT-4 judge.

    Per clip (the clip's subject phrase is masked first so "a happy-go-lucky man" is
    not read as joy): family / descriptor are right when the truth is among the parser's
    candidates for the first emotion phrase (an ambiguous word cannot say more);
    intensity is that of the first emotion phrase; head_motion is the first head motion
    (a caption that never mentions the head is wrong, also for "still"); head_count
    needs the right motion and count, on nod/shake clips only; micro needs exactly the
    labelled set of micro-event types; transition, whether a change of state is stated;
    side, the side of the first emotion phrase ("a smirk on the left side of her mouth";
    "both" when none is said, as for version 1 labels); dynamic, the motion dynamic of the
    first emotion phrase ("laughing in bursts"; None when none is said).
    Returns {key: percent, ..., "n"} as `label_accuracy`."""
    from training.corpus.caption_parse import parse_caption  # lazily: the parser loads the lexicon
    if len(captions) != len(labels):
        raise ValueError(f"{len(captions)} captions for {len(labels)} label sets")
    preds = []
    for text, truth in zip(captions, labels):
        p = parse_caption(text, subject=truth.get("subject"))
        first = p["states"][0] if p.get("states") else {}
        fams = first.get("families") or ([p["family"]] if p.get("family") else [])
        descs = first.get("descriptors") or ([p["descriptor"]] if p.get("descriptor") else [])
        preds.append({
            # Resolve the parser's candidates in favour of the truth when it is among them.
            "family": truth["family"] if truth["family"] in fams else p.get("family"),
            "descriptor": truth["descriptor"] if truth["descriptor"] in descs else p.get("descriptor"),
            "intensity": p.get("intensity"),
            "head": p.get("head") or {},
            "micro": p.get("micro") or (),
            "transition": bool(p.get("transition")),
            "talking": p.get("talking"),
            "tempo": p.get("tempo"),
            "side": p.get("side") or "both",
            "dynamic": p.get("dynamic"),
        })
    return label_accuracy(preds, list(labels), keys)


# ---------------------------------------------------------------- BLEU
def bleu(candidates, references_list, n: int = 4) -> dict:
    """Corpus BLEU-1..n (Papineni et al., 2002), as the COCO evaluation reports it.

    BLEU-k = BP * exp(mean_{j<=k} log p_j), with p_j the modified precision of j-grams
    pooled over the corpus (each candidate n-gram count clipped to its largest count
    in any one reference) and the brevity penalty BP = exp(1 - r/c) when c <= r, where
    c is the total candidate length and r sums, per clip, the reference length closest
    to the candidate's (ties go to the shorter one). No smoothing: a p_j of 0 (or no
    j-grams at all) makes BLEU-k 0. Returns {"bleu1": .., ..., f"bleu{n}": ..}.
    """
    refs = _check(candidates, references_list)
    match, total = np.zeros(n), np.zeros(n)
    c_len = r_len = 0
    for cand, rs in zip(candidates, refs):
        c, rt = words(cand), [words(r) for r in rs]
        c_len += len(c)
        r_len += min((abs(len(r) - len(c)), len(r)) for r in rt)[1]
        for j in range(1, n + 1):
            cg = _ngrams(c, j)
            best = Counter()
            for r in rt:
                best |= _ngrams(r, j)                 # | keeps the max count per n-gram
            match[j - 1] += sum(min(k, best[g]) for g, k in cg.items())
            total[j - 1] += max(len(c) - j + 1, 0)
    bp = 0.0 if c_len == 0 else (1.0 if c_len > r_len else math.exp(1.0 - r_len / c_len))
    out, log_sum = {}, 0.0
    for j in range(1, n + 1):
        if match[j - 1] == 0 or log_sum == -math.inf:
            log_sum = -math.inf
        else:
            log_sum += math.log(match[j - 1] / total[j - 1])
        out[f"bleu{j}"] = 0.0 if log_sum == -math.inf else bp * math.exp(log_sum / j)
    return out


# ---------------------------------------------------------------- ROUGE-L
def _lcs(a: list, b: list) -> int:
    """Length of the longest common subsequence (dynamic programme, one row at a time)."""
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(candidates, references_list, per_item: bool = False):
    """ROUGE-L F-measure (Lin, 2004) as in the COCO evaluation: per clip, precision =
    LCS / candidate length and recall = LCS / reference length, each taken as its
    maximum over the references, F = (1 + b^2) P R / (R + b^2 P) with b = 1.2; the
    corpus score is the mean over clips (and the per-clip array when `per_item`)."""
    refs = _check(candidates, references_list)
    scores = []
    for cand, rs in zip(candidates, refs):
        c = words(cand)
        prec = rec = 0.0
        for r in rs:
            rt = words(r)
            lcs = _lcs(c, rt)
            prec = max(prec, lcs / len(c) if c else 0.0)
            rec = max(rec, lcs / len(rt) if rt else 0.0)
        b2 = ROUGE_BETA ** 2
        scores.append(0.0 if prec == 0 or rec == 0 else (1 + b2) * prec * rec / (rec + b2 * prec))
    scores = np.array(scores)
    return (float(scores.mean()), scores) if per_item else float(scores.mean())


# ---------------------------------------------------------------- CIDEr-D
def cider(candidates, references_list, n: int = 4, sigma: float = CIDER_SIGMA, per_item: bool = False):
    """CIDEr-D (Vedantam et al., CVPR 2015; the COCO "CIDEr" score), x10 as in COCO.

    Each sentence becomes, per n-gram order 1..n, a TF-IDF vector: count of the n-gram
    times log(number of clips / number of clips whose references contain it) (document
    frequencies from the references of the whole evaluated set, so n-grams every clip
    has weigh nothing and at least two clips are needed). Per order, the candidate is
    compared with each reference by a cosine in which the candidate's weights are
    clipped to the reference's (min(c, r) * r, CIDEr-D's guard against repeating words),
    damped by exp(-(len_c - len_r)^2 / (2 sigma^2)) with sigma = 6 tokens; averaged over
    orders and references and multiplied by 10. Corpus score: mean over clips.
    """
    refs = _check(candidates, references_list)

    def counts(text: str):
        toks = words(text)
        c = Counter()
        for j in range(1, n + 1):
            c.update(_ngrams(toks, j))
        return c, len(toks)

    ref_counts = [[counts(r) for r in rs] for rs in refs]
    df = Counter()
    for rs in ref_counts:
        df.update(set().union(*(c.keys() for c, _ in rs)))
    log_docs = math.log(len(candidates))

    def tfidf(c: Counter):
        vec = [dict() for _ in range(n)]
        for g, tf in c.items():
            vec[len(g) - 1][g] = tf * (log_docs - math.log(max(1.0, df[g])))
        return vec, [math.sqrt(sum(w * w for w in v.values())) for v in vec]

    scores = []
    for cand, rs in zip(candidates, ref_counts):
        cv, cn = tfidf(counts(cand)[0])
        c_len = len(words(cand))
        per_ref = []
        for rc, r_len in rs:
            rv, rn = tfidf(rc)
            sims = []
            for k in range(n):
                dot = sum(min(w, rv[k].get(g, 0.0)) * rv[k].get(g, 0.0) for g, w in cv[k].items())
                sims.append(dot / (cn[k] * rn[k]) if cn[k] and rn[k] else 0.0)
            penalty = math.exp(-((c_len - r_len) ** 2) / (2 * sigma ** 2))
            per_ref.append(penalty * float(np.mean(sims)))
        scores.append(10.0 * float(np.mean(per_ref)))
    scores = np.array(scores)
    return (float(scores.mean()), scores) if per_item else float(scores.mean())


# ---------------------------------------------------------------- embedding similarity
@lru_cache(maxsize=4)
def minilm_sentence_encoder(device: str = "cpu", batch_size: int = 64, max_length: int = 256):
    """A callable list[str] -> [N, 384] float32 numpy array: all-MiniLM-L6-v2 sentence
    embeddings (mean-pooled over the attention mask, L2-normalised, 256 word pieces at most:
    its sentence-transformers setting), through the engine's one MiniLM loader
    (engine/text_encoder.py: offline, cached per device)."""
    from engine.text_encoder import TextEncoder

    enc = TextEncoder(device=device, max_length=max_length, batch_size=batch_size)

    def encode(texts) -> np.ndarray:
        if not len(texts):
            return np.zeros((0, 384), np.float32)
        return enc.encode_sentences(list(texts)).float().cpu().numpy()

    return encode


def embedding_similarity(candidates, references_list, encoder=None) -> dict:
    """Sentence-embedding agreement between each caption and its references: cosine of
    `encoder` embeddings (all-MiniLM-L6-v2 when None), averaged over a clip's references
    ("mean_cos") or taking the best reference ("max_cos"), then averaged over clips.
    Embeddings are re-normalised, so any encoder list[str] -> [N, D] will do."""
    refs = _check(candidates, references_list)
    encoder = encoder or minilm_sentence_encoder()

    def unit(x):
        x = np.asarray(x, dtype=np.float64)
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    c = unit(encoder(list(candidates)))
    r = unit(encoder([s for rs in refs for s in rs]))
    mean_cos, max_cos, start = [], [], 0
    for i, rs in enumerate(refs):
        cos = r[start:start + len(rs)] @ c[i]
        start += len(rs)
        mean_cos.append(cos.mean())
        max_cos.append(cos.max())
    return {"mean_cos": float(np.mean(mean_cos)), "max_cos": float(np.mean(max_cos))}
