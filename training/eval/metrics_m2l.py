"""Motion2Language scores: captions read back against the clip's labels, and answers to the
checkable questions of training/data/m2l_data.py against their truth.

    caption_scores(captions, labels) -> {family, descriptor, intensity, head, side, micro_f1, micro, n, n_sided}
    qa_scores(answers, questions)    -> {yesno, when, which, n_yesno, n_when, n_which}

Percentages. Captions are read with the corpus's caption parser through
`caption_label_correctness` (training/eval/metrics_text.py), the same reading `tdmm eval`
uses; `side` is scored on sided clips only (a clip labelled "both" says nothing about sides),
`micro_f1` is the micro-averaged F1 of micro-event types over clips. Answers: a yes/no answer's
first word; a "when" answer's first time in seconds (within WHEN_TOLERANCE_S of the truth); a
"which" answer's first "left" or "right".
"""
from __future__ import annotations

import math
import re

import numpy as np

from training.eval.metrics_text import caption_label_correctness

WHEN_TOLERANCE_S = 0.5
CAPTION_KEYS = ("family", "descriptor", "intensity", "head_motion", "micro", "micro_f1")


def caption_scores(captions: list[str], labels: list[dict]) -> dict:
    acc = caption_label_correctness(captions, labels, CAPTION_KEYS)
    sided = [i for i, lab in enumerate(labels) if (lab.get("side") or "both") != "both"]
    side = (caption_label_correctness([captions[i] for i in sided], [labels[i] for i in sided], ("side",))["side"]
            if sided else float("nan"))
    return {"family": acc["family"], "descriptor": acc["descriptor"], "intensity": acc["intensity"],
            "head": acc["head_motion"], "side": side, "micro_f1": acc["micro_f1"], "micro": acc["micro"],
            "n": len(captions), "n_sided": len(sided)}


_WORD = re.compile(r"[a-z]+")


def yes_no(text: str) -> bool | None:
    for w in _WORD.findall(text.lower()):
        if w in ("yes", "yeah", "yep"):
            return True
        if w in ("no", "nope", "not"):
            return False
        return None
    return None


def seconds_in(text: str) -> float | None:
    """The first time a text states, in seconds ("at about 2.4 seconds", "two and a half seconds in")."""
    from training.corpus.caption_parse import parse_caption
    return parse_caption(text).get("transition_time_s")


def side_in(text: str) -> str | None:
    for w in _WORD.findall(text.lower()):
        if w in ("left", "right"):
            return w
    return None


def answer_correct(answer: str, q: dict) -> bool:
    kind, truth = q["kind"], q.get("truth")
    if kind == "yesno":
        return yes_no(answer) == bool(truth)
    if kind == "when":
        t = seconds_in(answer)
        return t is not None and abs(t - float(truth)) <= WHEN_TOLERANCE_S + 1e-9
    if kind == "which":
        return side_in(answer) == truth
    raise ValueError(f"question kind {kind!r} has no checkable answer")


def qa_scores(answers: list[str], questions: list[dict]) -> dict:
    if len(answers) != len(questions):
        raise ValueError(f"{len(answers)} answers for {len(questions)} questions")
    out = {}
    for kind in ("yesno", "when", "which"):
        ok = [answer_correct(a, q) for a, q in zip(answers, questions) if q["kind"] == kind]
        out[kind] = 100.0 * float(np.mean(ok)) if ok else math.nan
        out[f"n_{kind}"] = len(ok)
    return out
