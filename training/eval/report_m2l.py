"""Trained captioners in `tdmm eval` (issue 13): `--captioners NAME=CKPT ...` of training/eval/report.py.

Per captioner, on the report's own evaluated clips (the `--subset` of each split, cut to the
evaluator's max_frames, the same clips and references as the nearest-neighbour baseline):

- Motion2Language rows: one greedy caption per clip (one captioning per split, read against both
  wordings' references), scored by `report.caption_row`: training/eval/metrics_m2l.caption_scores
  (the trainer's validation) + BLEU / ROUGE-L / CIDEr / MiniLM cosine;
- questions: `eval_questions` draws training/data/m2l_data.checkable_questions of every evaluated
  clip with a fixed seed, at most `--questions` per kind (yes/no, when, which) and split, answered
  greedily and scored by metrics_m2l.qa_scores; `majority_answers` is the trivial baseline on the
  very same questions (the commoner of yes / no, the commoner of left / right, the clip's middle);
- round trip (with a generator): each set's query captions -> the first trained generator (the
  motion its Language2Motion rows scored) -> the first captioner -> % of captions that state the
  prompt's clip's family (caption_parse, as the family column);
- the twelve hand-keyed clips of training/eval/handkeyed.py: pass rate of `caption_passes`.

A captioner reads the codes of the motion tokenizer it was trained with (its config holds that
file's sha256 prefix): it is looked up among the `--tokenizers` given, the file its training run
recorded (meta.tokenizer_file) and the shipped tokenizer; none matching is an error, never a
silent mismatch.
"""
from __future__ import annotations

import gc
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import InputError
from engine.features import params_to_features

CAPTION_BATCH = 32                   # clips per batched generate call
ANSWER_TOKENS = 32                   # new tokens of an answer (the trainer's validation uses 32 too)
DEFAULT_QUESTIONS = 256              # questions per kind and split (0 = all)
QA_KINDS = ("yesno", "when", "which")
MAJORITY = "majority answer (baseline)"


@dataclass
class CaptionerSpec:
    name: str
    path: str                        # as given on the command line
    stem: Path
    tokenizer: Path                  # the motion tokenizer checkpoint whose codes it reads
    doc: dict


def parse_specs(specs, flag: str) -> list[tuple[str, str]]:
    """NAME=CKPT strings -> [(name, ckpt)]; a malformed or repeated one is an InputError."""
    out = []
    for spec in specs or []:
        name, _, path = str(spec).partition("=")
        name, path = name.strip(), path.strip()
        if not name or not path:
            raise InputError(flag, f"takes NAME=CKPT, got {spec!r}", f"e.g. {flag} ours=runs/m2l/best")
        if name in [n for n, _ in out]:
            raise InputError(flag, f"names {name!r} twice", "give each checkpoint its own name")
        out.append((name, path))
    return out


def _tokenizer_file(path) -> Path:
    p = Path(path)
    return p if p.suffix == ".safetensors" else Path(str(p.with_suffix("")) + ".safetensors")


def resolve_captioners(specs, tokenizer_paths=(), shipped=None) -> list[CaptionerSpec]:
    """--captioners NAME=CKPT -> CaptionerSpecs, checked before any work: the checkpoint files
    exist and are a captioner's, and the motion tokenizer it was trained on is at hand."""
    from engine.captioner import FORMAT
    from engine.lm_base import sha256_file
    from engine.safe_io import read_json
    if shipped is None:
        from engine.head import assets_dir
        shipped = assets_dir() / "vq" / "tokenizer"
    shas: dict = {}

    def sha(p: Path) -> str | None:
        f = _tokenizer_file(p)
        if f not in shas:
            shas[f] = sha256_file(f) if f.is_file() else None
        return shas[f]

    out = []
    for name, path in parse_specs(specs, "--captioners"):
        p = Path(path)
        stem = p.with_suffix("") if p.suffix in (".safetensors", ".json") else p
        for f in (stem.with_suffix(".safetensors"), stem.with_suffix(".json")):
            if not f.is_file():
                raise InputError(f"--captioners {name}={path}", f"{f} does not exist",
                                 "a captioner is NAME.safetensors + NAME.json written by `tdmm train m2l` "
                                 "(e.g. runs/m2l/best)")
        doc = read_json(stem.with_suffix(".json"), "captioner config")
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise InputError(f"--captioners {name}={path}", f"{stem}.json is not a captioner config "
                             f"(format {doc.get('format') if isinstance(doc, dict) else None!r}, expected {FORMAT!r})")
        want = str((doc.get("config") or {}).get("motion_tokenizer") or "")
        recorded = (doc.get("meta") or {}).get("tokenizer_file")
        candidates = [Path(t) for t in tokenizer_paths] + ([Path(recorded)] if recorded else []) + [Path(shipped)]
        found = None
        if want:
            found = next((c for c in candidates if sha(c) == want), None)
            if found is None:
                raise InputError(f"--captioners {name}={path}", f"reads the codes of the motion tokenizer with "
                                 f"sha256 {want}, and none of {', '.join(str(_tokenizer_file(c)) for c in candidates)} "
                                 "is that file", "pass the tokenizer it was trained with in --tokenizers NAME=CKPT")
        else:                                             # an old config without the tokenizer's sha
            found = next((c for c in candidates[len(tokenizer_paths):] if sha(c)), None)
            if found is None:
                raise InputError(f"--captioners {name}={path}", "names no motion tokenizer and the shipped one "
                                 "is not installed", "pass one in --tokenizers NAME=CKPT")
        stem_of = _tokenizer_file(found).with_suffix("")
        out.append(CaptionerSpec(name, path, stem, stem_of, doc))
    return out


# -- codes ------------------------------------------------------------------------------------------------
def motion_codes(tok, pose, expr, lengths, expr_names, fps: float) -> list[np.ndarray]:
    """Padded motion (pose [N,T,5,3], expr [N,T,K] in `expr_names`, lengths at `fps`) -> codes
    [P_i,R] per clip of the motion tokenizer `tok`: channels mapped by name (missing ones 0),
    other frame rates resampled to the tokenizer's, as training/data/m2l_data.load_m2l_split does."""
    from training.data.m2l_data import encode_at_rate
    names, have = list(tok.cfg.expr_names), list(expr_names)
    expr = np.asarray(expr, np.float32)
    if names != have:
        idx = {n: i for i, n in enumerate(have)}
        if not set(names) & set(idx):
            raise ValueError(f"the captioner's motion tokenizer reads none of the data's {len(have)} expression "
                             "channels")
        mapped = np.zeros(expr.shape[:2] + (len(names),), np.float32)
        for j, n in enumerate(names):
            if n in idx:
                mapped[..., j] = expr[..., idx[n]]
        expr = mapped
    feats = params_to_features(np.asarray(pose, np.float32), expr)
    codes, lengths = encode_at_rate(feats, np.asarray(lengths, np.int64), fps, tok)
    positions = -(-lengths // tok.cfg.downsample)
    return [codes[i, :positions[i]].astype(np.int64) for i in range(len(codes))]


def caption_batched(cap, codes: list, questions: list | None = None, max_new_tokens: int | None = None,
                    batch: int = CAPTION_BATCH) -> list[str]:
    """Greedy captions (or answers) of many clips in batches of similar length (less padding), in order."""
    order = np.argsort([len(c) for c in codes], kind="stable")
    got = cap.caption([codes[i] for i in order], question=None if questions is None else [questions[i] for i in order],
                      batch_size=batch, max_new_tokens=max_new_tokens)
    out = [""] * len(codes)
    for j, i in enumerate(order):
        out[i] = got[j]
    return out


# -- questions ----------------------------------------------------------------------------------------------
def eval_questions(labels: list, seconds, split: str, seed: int, per_kind: int = DEFAULT_QUESTIONS) -> list:
    """Checkable questions of training/data/m2l_data.py on the clips of one split: clip i's from
    a Generator seeded by (seed, the split's tag, i); "when" questions past the (cut) clip's end
    are left out; at most `per_kind` of each kind drawn by the seed (0 = all). -> [(clip, question)]
    in clip order."""
    from training.data.m2l_data import checkable_questions
    from training.eval.report import _tag
    by_kind = {k: [] for k in QA_KINDS}
    for i, lab in enumerate(labels):
        if not lab:
            continue
        rng = np.random.default_rng([int(seed), _tag(split, "qa"), i])
        for q in checkable_questions(lab, rng):
            if q["kind"] == "when" and float(q["truth"]) > float(seconds[i]) + 1e-6:
                continue
            by_kind[q["kind"]].append((i, q))
    out = []
    for k in QA_KINDS:
        qs = by_kind[k]
        if per_kind and len(qs) > per_kind:
            pick = np.random.default_rng([int(seed), _tag(split, "qa", k)]).choice(len(qs), per_kind, replace=False)
            qs = [qs[j] for j in sorted(pick)]
        out += qs
    return sorted(out, key=lambda x: x[0])


def majority_answers(questions: list, seconds) -> list[str]:
    """The trivial baseline of the question table, one answer per (clip, question): yes/no, the
    commoner truth of the set's yes/no questions ("Yes." on a tie); which, the commoner side
    ("left" on a tie); when, the middle of the clip (`seconds[clip] / 2`)."""
    yes = [bool(q["truth"]) for _, q in questions if q["kind"] == "yesno"]
    yn = "Yes." if sum(yes) * 2 >= len(yes) else "No."
    sides = [q["truth"] for _, q in questions if q["kind"] == "which"]
    side = "left" if sides.count("left") >= sides.count("right") else "right"
    out = []
    for i, q in questions:
        if q["kind"] == "yesno":
            out.append(yn)
        elif q["kind"] == "which":
            out.append(f"The {side} side.")
        elif q["kind"] == "when":
            out.append(f"At about {float(seconds[i]) / 2:.1f} seconds.")
        else:
            raise ValueError(f"question kind {q['kind']!r} has no checkable answer")
    return out


def qa_row(name: str, split: str, answers: list, questions: list, n_clips: int, source: str, t0=None) -> dict:
    from training.eval.metrics_m2l import qa_scores
    sc = qa_scores(answers, [q for _, q in questions])
    row = {"model": name, "split": split, "source": source, "n_clips": n_clips, **sc}
    if t0 is not None:
        row["seconds"] = round(time.time() - t0, 1)
    return row


def clip_seconds(a) -> np.ndarray:
    """Seconds of each (cut) clip of MotionArrays `a`."""
    return np.asarray(a.lengths, np.float64) / float(a.fps)


# -- one captioner ----------------------------------------------------------------------------------------------
def handkeyed_row(name: str, cap, tok, source: str) -> dict:
    """Captions of the twelve hand-keyed clips (training/eval/handkeyed.py) and the pass rate."""
    from training.eval.handkeyed import caption_passes, handkeyed_clips
    names = list(tok.cfg.expr_names)
    try:
        clips = handkeyed_clips(names)
    except ValueError as e:                               # a head without the ARKit-named channels
        return {"model": name, "source": source, "passed": None, "of": 0, "skipped": str(e), "clips": []}
    codes = []
    for _, clip, _ in clips:
        if list(clip.expr_names) != names:
            clip = clip.with_channels(names)[0]
        codes.append(np.asarray(tok.encode_clip(clip)).reshape(-1, tok.cfg.levels))
    texts = caption_batched(cap, codes)
    rows = [{"name": n, "caption": t, "pass": bool(caption_passes(t, g))} for (n, _, g), t in zip(clips, texts)]
    return {"model": name, "source": source, "passed": sum(r["pass"] for r in rows), "of": len(rows), "clips": rows}


def captioner_results(spec: CaptionerSpec, sets: list, device: str, seed: int, questions: dict,
                      roundtrip: dict | None = None, say=lambda m: None) -> dict:
    """Everything one captioner is scored on; the model is loaded here and let go at the end.

    sets: the report's EvalSets (clips shared by the wordings of a split are captioned once);
    questions: {split: [(clip, question)]} of `eval_questions`; roundtrip: {set name: (pose, expr,
    lengths)} of the first generator, or None. -> {"captions": {split: [...]}, "seconds": {split: s},
    "qa": [rows], "roundtrip": {set name: captions}, "handkeyed": row}."""
    from engine.captioner import load_captioner
    from engine.tokenizer import MotionTokenizer
    tok = MotionTokenizer.load(spec.tokenizer, device)
    cap = load_captioner(spec.stem, device)
    if (cap.cfg.codebook_size, cap.cfg.levels) != (tok.cfg.codebook_size, tok.cfg.levels):
        raise InputError(f"--captioners {spec.name}={spec.path}", f"reads {cap.cfg.levels} x {cap.cfg.codebook_size} "
                         f"codes, the tokenizer {spec.tokenizer} writes {tok.cfg.levels} x {tok.cfg.codebook_size}")
    res = {"captions": {}, "seconds": {}, "qa": [], "roundtrip": {}}
    answer_tokens = min(ANSWER_TOKENS, cap.cfg.max_new_tokens)
    for s in sets:
        if s.split in res["captions"]:
            continue
        a, t0 = s.arrays, time.time()
        say(f"{spec.name}: captioning {len(a)} clips of {s.split}")
        codes = motion_codes(tok, a.pose, a.expr, a.lengths, a.expr_names, a.fps)
        res["captions"][s.split] = caption_batched(cap, codes)
        res["seconds"][s.split] = round(time.time() - t0, 1)
        qs = questions.get(s.split) or []
        if qs:
            t0 = time.time()
            say(f"{spec.name}: {len(qs)} questions on {s.split}")
            answers = caption_batched(cap, [codes[i] for i, _ in qs], [q["q"] for _, q in qs], answer_tokens)
            row = qa_row(spec.name, s.split, answers, qs, len(a), spec.path, t0)
            row["examples"] = [{"q": q["q"], "truth": q["truth"], "answer": ans} for (_, q), ans in
                               list(zip(qs, answers))[:6]]
            res["qa"].append(row)
    for name, (P, E, n) in (roundtrip or {}).items():
        s = next(x for x in sets if x.name == name)
        say(f"{spec.name}: round trip of {name}")
        res["roundtrip"][name] = caption_batched(cap, motion_codes(tok, P, E, n, s.arrays.expr_names, s.arrays.fps))
    say(f"{spec.name}: hand-keyed clips")
    res["handkeyed"] = handkeyed_row(spec.name, cap, tok, spec.path)
    del cap, tok
    gc.collect()
    return res


def roundtrip_row(gen: str, cap: str, s, captions: list, source: str) -> dict:
    """% of the captions of the generated motion that state the family of the prompt's clip (the
    family column's reading); beside it the same reading of the prompts themselves."""
    from training.eval.metrics_text import caption_label_correctness
    labels = s.arrays.labels
    return {"generator": gen, "captioner": cap, "set": s.name, "n": len(captions), "source": source,
            "family": caption_label_correctness(captions, labels, ("family",))["family"],
            "prompt_family": caption_label_correctness(list(s.queries), labels, ("family",))["family"],
            "examples": [{"prompt": p, "caption": c} for p, c in list(zip(s.queries, captions))[:4]]}


class MemoGenerator:
    """A generate_fn that remembers its outputs by (captions, lengths): the round trip reads the
    very motion the generator's Language2Motion rows scored, without generating it twice."""

    def __init__(self, fn):
        self.fn, self.seen = fn, {}

    @staticmethod
    def key(caps, lens):
        return (tuple(caps), np.asarray(lens, np.int64).tobytes())

    def __call__(self, caps, lens):
        k = self.key(caps, lens)
        if k not in self.seen:
            self.seen[k] = self.fn(caps, lens)
        return self.seen[k]

    def output(self, caps, lens):
        k = self.key(caps, lens)
        return self.seen[k] if k in self.seen else self(caps, lens)
