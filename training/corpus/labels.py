"""The structured labels of a corpus clip: the truth that captions, QA pairs,
the evaluator and the label metrics all read. One schema, shared by everyone.

A clip's labels are a plain JSON-able dict (stored in the clip's `meta["labels"]`
and in the shard's JSONL) with exactly these keys:

    family       str   emotion / state family, e.g. "joy", "sadness", "contempt"
    descriptor   str   lexicon entry, e.g. "grin", "smirk", "pout"
    intensity    str   one of INTENSITIES
    tempo        str   one of TEMPOS
    head         dict  {"motion": one of HEAD_MOTIONS, "count": int or None}
                       (count for nod/shake: how many; None otherwise)
    micro        list  [{"type": one of MICRO_EVENTS, "start": frame, "end": frame}, ...]
                       sorted by start
    transition   dict or None
                       {"family": str, "descriptor": str, "intensity": str,
                        "frame": int}  (the frame where the change is half done)
    talking      bool  talking-like jaw motion present
    subject      str   subject words used in captions ("a young woman"); never
                       changes the motion
    fps          float
    num_frames   int
    side         str   one of SIDES (corpus v2): the character's own side of an
                       asymmetric descriptor (a smirk on the left side of the mouth,
                       a right wink); "both" for a symmetric one. The transition dict
                       carries its own "side" (and "dynamic") the same way.
    dynamic      str or None
                       one of DYNAMICS (corpus v2): the motion pattern the descriptor
                       is performed with (laughter's pulses, a trembling lip, an eye
                       roll's path, a sigh's breath), None for a plain onset/apex/offset

Version 1 corpora have no side and no dynamic: readers take "both" and None
(`label_value`), and `check_labels` accepts their absence.
"""
from __future__ import annotations

INTENSITIES = ("subtle", "mild", "moderate", "strong", "extreme")
TEMPOS = ("slow", "normal", "fast")
HEAD_MOTIONS = ("still", "nod", "shake", "tilt_left", "tilt_right", "turn_left", "turn_right",
                "look_up", "look_down", "lean_in", "lean_back", "sway",
                "glance_left", "glance_right")      # v2: head and eyes go to one side and come back
MICRO_EVENTS = ("blink", "blink_burst", "slow_blink", "eyes_closed", "brow_flash", "lip_twitch",
                "lip_press", "cheek_puff", "tongue_out", "yawn",
                "darting_eyes")                     # v2: 10-25 degree saccades with fixations
SIDES = ("left", "right", "both")
DYNAMICS = ("laugh_pulses", "lip_tremble", "eye_roll", "sigh_breath")
# Dataset splits. test_heldout_combo: descriptor x head-motion pairs never seen in
# training (the corpus chooses them); real datasets use the first three.
SPLITS = ("train", "val", "test", "test_heldout_combo")
LABEL_KEYS = ("family", "descriptor", "intensity", "tempo", "head", "micro", "transition",
              "talking", "subject", "fps", "num_frames")


def check_labels(labels: dict) -> dict:
    """Raise ValueError naming the first key that breaks the schema; return labels."""
    missing = [k for k in LABEL_KEYS if k not in labels]
    if missing:
        raise ValueError(f"labels miss {', '.join(missing)}")
    if labels["intensity"] not in INTENSITIES:
        raise ValueError(f"labels 'intensity' is {labels['intensity']!r}, expected one of {INTENSITIES}")
    if labels["tempo"] not in TEMPOS:
        raise ValueError(f"labels 'tempo' is {labels['tempo']!r}, expected one of {TEMPOS}")
    if labels["head"].get("motion") not in HEAD_MOTIONS:
        raise ValueError(f"labels 'head.motion' is {labels['head'].get('motion')!r}, expected one of {HEAD_MOTIONS}")
    for ev in labels["micro"]:
        if ev.get("type") not in MICRO_EVENTS or not 0 <= ev["start"] <= ev["end"] < labels["num_frames"]:
            raise ValueError(f"labels 'micro' event {ev} is not a known type within the clip's frames")
    tr = labels["transition"]
    if tr is not None and (tr.get("intensity") not in INTENSITIES or not 0 <= tr["frame"] < labels["num_frames"]):
        raise ValueError(f"labels 'transition' {tr} has a bad intensity or frame")
    for where, d in (("", labels), ("transition.", tr or {})):
        if d.get("side", "both") not in SIDES:
            raise ValueError(f"labels '{where}side' is {d.get('side')!r}, expected one of {SIDES}")
    if labels.get("dynamic") is not None and labels["dynamic"] not in DYNAMICS:
        raise ValueError(f"labels 'dynamic' is {labels['dynamic']!r}, expected one of {DYNAMICS} or None")
    return labels
