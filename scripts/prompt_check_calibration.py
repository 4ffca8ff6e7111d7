"""Calibrate training/eval/prompt_checks.py on procedural corpus clips whose labels are the truth.

    .venv/bin/python scripts/prompt_check_calibration.py [--clips 3000] [--seed 3] [--values]

For every check kind it measures the pass rate on clips whose labels say the behaviour is
there ("present") and on clips whose labels say it is not ("absent"); clips in between
(a recipe that shows a channel only a little, a family whose head tendency half does a tilt)
are left out and counted. The aim is >= 90% present, <= 10% absent. Channel checks are
calibrated on the channel groups the prompt file uses. --values also prints the 5/50/95th
percentiles of each measured value, present and absent, the numbers the thresholds sit between.
"""
from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.clip import MotionClip  # noqa: E402
from training.corpus import motion  # noqa: E402
from training.corpus.dynamics import DESCRIPTOR_DYNAMICS, dynamic_of  # noqa: E402
from training.corpus.labels import check_labels  # noqa: E402
from training.corpus.lexicon import by_name, sided_regions  # noqa: E402
from training.corpus.mirror import on_side  # noqa: E402
from training.corpus.synth import clip_rngs, sample_labels, synth_clip  # noqa: E402
from training.eval import prompt_checks as pc  # noqa: E402

REGION_PREFIXES = {"brow": ["brow"], "eye": ["eye"], "mouth": ["mouth", "cheek", "nose"]}
OTHER = {"left": "right", "right": "left"}
SHOWS, HIDDEN = 0.25, 0.03      # a channel group's apex mean: shows it / does not show it
BLINK_EVENTS = ("blink", "blink_burst", "slow_blink")
# Channels a micro-event holds for a while (motion._micro): a clip with one of >= 0.5 s shows them.
EVENT_CHANNELS = {"eyes_closed": ("eyeBlink",), "yawn": ("eyeBlink", "eyeSquint", "browInnerUp", "mouthStretch"),
                  "slow_blink": ("eyeBlink",), "blink_burst": ("eyeBlink",), "lip_press": ("mouthPress", "mouthRoll"),
                  "cheek_puff": ("cheekPuff", "mouthPress", "mouthPucker"), "tongue_out": ("tongueOut",),
                  "brow_flash": ("brow", "eyeWide")}
EYE_EVENTS = BLINK_EVENTS + ("eyes_closed", "yawn")


def prompt_groups() -> list[tuple[str, ...]]:
    """The channel groups the prompt file's channels_up / channels_low checks name."""
    groups = {tuple(s[k]) for e in pc.load_prompts() for s in e["expect"] for k in ("channels_up", "channels_low")
              if k in s}
    return sorted(groups)


def states(labels: dict) -> list[dict]:
    return [labels] + ([labels["transition"]] if labels["transition"] else [])


def apex(lay, state: dict):
    """(expr [K], jaw, head [3], gaze [2]) of a labelled state at its intensity, on its side."""
    return motion.apex(lay, state["descriptor"], state["intensity"], side=state.get("side"))


def cases(labels: dict, lay, by_group: bool = False) -> list[tuple[str, dict, bool]]:
    """[(row name, check, present?)] that this clip's labels decide."""
    out = []
    ap = [apex(lay, s) for s in states(labels)]
    micro = {e["type"] for e in labels["micro"]}
    plain = labels["transition"] is None
    held = {c for e in labels["micro"] if (e["end"] - e["start"]) / labels["fps"] >= 0.5
            for c in EVENT_CHANNELS.get(e["type"], ())}
    # channels: the group's apex mean in every state shows it, or in none (nor a held micro-event)
    for g in GROUPS:
        idx = lay.ch(*g)
        v = [float(a[0][idx].mean()) for a in ap]
        tag = ":" + "+".join(g) if by_group else ""
        if min(v) >= SHOWS:
            out += [("channels_up" + tag, {"channels_up": list(g)}, True),
                    ("channels_low" + tag, {"channels_low": list(g)}, False)]
        elif max(v) <= HIDDEN and not any(n.startswith(tuple(held)) for n in g):
            out += [("channels_up" + tag, {"channels_up": list(g)}, False),
                    ("channels_low" + tag, {"channels_low": list(g)}, True)]
    # intensity of the descriptor's full-weight core channels (recipe weight >= 0.7)
    if plain:
        d = on_side(by_name(labels["descriptor"]), labels.get("side"))
        core = [n for n, w in d.recipe.items() if w >= 0.7]
        level = labels["intensity"]
        if core:
            if level in ("subtle", "strong", "extreme"):
                out.append(("intensity:faint", {"intensity": "faint", "channels": core}, level == "subtle"))
            if level in ("subtle", "mild", "strong", "extreme"):
                out.append(("intensity:strong", {"intensity": "strong", "channels": core},
                            level in ("strong", "extreme")))
    # sides: each one-sided region on its side (and not on the other); symmetric faces on neither
    if plain and "lip_twitch" not in micro:
        side = labels.get("side", "both")
        if side in OTHER:
            for region, s in sided_regions(labels["descriptor"], side).items():
                ch = REGION_PREFIXES[region]
                out += [("side:part", {"side": s, "channels": ch}, True),
                        ("side:part", {"side": OTHER[s], "channels": ch}, False)]
            out += [("side:face", {"side": side}, True), ("side:face", {"side": OTHER[side]}, False)]
        else:
            out += [("side:face", {"side": "left"}, False), ("side:face", {"side": "right"}, False)]
            for ch in REGION_PREFIXES.values():
                out += [("side:part", {"side": "left", "channels": ch}, False),
                        ("side:part", {"side": "right", "channels": ch}, False)]
    # head motions: the label decides; a held tendency of the face that does it anyway is left out
    hm = labels["head"]["motion"]
    tend = np.max([np.abs(a[2]) for a in ap], axis=0)              # |pitch, yaw, roll| of the neck tendency
    roll = [a[2][2] for a in ap]
    moving = hm in ("nod", "shake", "tilt_left", "tilt_right", "turn_left", "turn_right", "look_up", "look_down",
                    "glance_left", "glance_right")
    out.append(("head:nod", {"head": "nod"}, hm == "nod"))
    out.append(("head:shake", {"head": "shake"}, hm == "shake"))
    if (hm == "still" and tend.max() < 0.05 and not labels["talking"]) or moving:
        out.append(("head:still", {"head": "still"}, hm == "still"))
    for s, sign in (("tilt_left", -1), ("tilt_right", 1)):
        if hm == s or max(sign * r for r in roll) < pc.TILT_MIN / 2:
            out.append((f"head:{s}", {"head": s}, hm == s))
    # where the face looks: turns and glances (and looks up/down); tendencies half way there left out
    gz = [a[2][:2] + a[3] for a in ap]                               # head + eyes tendency (pitch, yaw)
    for where, axis, sign, motions in (("left", 1, 1, ("turn_left", "glance_left")),
                                       ("right", 1, -1, ("turn_right", "glance_right")),
                                       ("up", 0, -1, ("look_up",)), ("down", 0, 1, ("look_down",))):
        if hm in motions or max(sign * g[axis] for g in gz) < (pc.LOOK_MIN_PITCH if axis == 0 else pc.LOOK_MIN_YAW) / 2:
            out.append((f"look:{where}", {"look": where}, hm in motions))
    for where in ("left", "right"):
        if hm in (f"glance_{where}", f"turn_{where}"):
            out.append((f"look:{where}+back", {"look": where, "and_back": True}, hm == f"glance_{where}"))
    # dynamics: the main state's (no transition), or none in either state
    dyns = {s.get("dynamic") for s in states(labels)}
    for dname in pc.DYNAMIC_VALUES:
        if (plain and labels.get("dynamic") == dname) or dname not in dyns:
            out.append((f"dynamic:{dname}", {"dynamic": dname}, dname in dyns))
    # eyes
    lids = max(float(a[0][lay.ch("eyeBlinkLeft", "eyeBlinkRight")].min()) for a in ap)
    n_blinks = sum(e["type"] in BLINK_EVENTS for e in labels["micro"])
    if lids < 0.3:
        if n_blinks:
            out.append(("blinks:min1", {"blinks": {"min": 1}}, True))
        elif not micro & set(EYE_EVENTS):
            out.append(("blinks:min1", {"blinks": {"min": 1}}, False))
            out.append(("blinks:max0", {"blinks": {"max": 0}}, True))
        if n_blinks >= 1 and not micro & {"blink_burst", "eyes_closed", "yawn"}:
            out.append(("blinks:max0", {"blinks": {"max": 0}}, False))
            if not micro & {"slow_blink"}:                # plain blinks only: the count itself
                out.append(("blinks:exact", {"blinks": {"min": n_blinks, "max": n_blinks}}, True))
                out.append(("blinks:exact", {"blinks": {"min": n_blinks + 1, "max": n_blinks + 1}}, False))
    if "eyes_closed" in micro or lids < 0.5:
        out.append(("eyes_closed", {"eyes_closed": True}, "eyes_closed" in micro))
    jaw = [a[1] for a in ap]
    busy = micro & {"yawn", "tongue_out"} or labels["talking"]
    if min(jaw) >= 0.15 or "yawn" in micro:
        out += [("jaw_open:true", {"jaw_open": True}, True), ("jaw_open:false", {"jaw_open": False}, False)]
    elif max(jaw) <= 0.03 and not busy:
        out += [("jaw_open:true", {"jaw_open": True}, False), ("jaw_open:false", {"jaw_open": False}, True)]
    out.append(("darting_eyes", {"darting_eyes": True}, "darting_eyes" in micro))
    return out


def focus_clip(seed: int, i: int):
    """A clip for the rare behaviours (the dynamics, a still head): corpus labels of clip i of
    another build with the descriptor swapped for one performed with a dynamic (every other
    one), or the head kept still (the rest), rendered by the corpus renderer."""
    rngs = clip_rngs(seed + 1000, i)
    labels = sample_labels(seed + 1000, i, rngs=rngs)
    if i % 2 == 0:
        name = sorted(DESCRIPTOR_DYNAMICS)[(i // 2) % len(DESCRIPTOR_DYNAMICS)]
        d = by_name(name)
        side = d.side if d.side == "both" else ("left", "right")[(i // 2) % 2]
        labels = dict(labels, family=d.family, descriptor=name, side=side, dynamic=dynamic_of(name), transition=None)
    else:
        labels = dict(labels, head={"motion": "still", "count": None})
    labels = check_labels(labels)
    pose, expr = motion.render(labels, rngs[1])
    return labels, pose, expr, None


def calibrate(n: int, seed: int, focus: int = 0, by_group: bool = False):
    """{row: {True: [(ok, value)], False: [...]}} over n corpus clips (and `focus` clips for the
    rare behaviours, see focus_clip)."""
    lay = motion.layout()
    rows = defaultdict(lambda: {True: [], False: []})
    for i in range(n + focus):
        labels, pose, expr, _ = synth_clip(seed, i) if i < n else focus_clip(seed, i - n)
        clip = MotionClip(pose=pose, expr=expr, expr_names=list(lay.names), fps=labels["fps"])
        sig = pc.Signals(clip)
        for row, spec, present in cases(labels, lay, by_group):
            (_, ok, value), = pc.check(sig, [spec])
            rows[row][present].append((ok, value))
    return rows


def table(rows) -> list[str]:
    w = max(24, *(len(r) for r in rows))
    head = f"{'check':<{w}} {'present':>8} {'(n)':>6} {'absent':>8} {'(n)':>6}"
    out = [head, "-" * len(head)]
    for row in sorted(rows):
        p, a = rows[row][True], rows[row][False]
        rate = lambda xs: f"{100 * np.mean([ok for ok, _ in xs]):7.1f}%" if xs else "      - "
        out.append(f"{row:<{w}} {rate(p):>8} {len(p):>6} {rate(a):>8} {len(a):>6}")
    return out


def values(rows) -> list[str]:
    w = max(24, *(len(r) for r in rows))
    out = [f"{'check':<{w}} {'present p5/p50/p95':>26} {'absent p5/p50/p95':>26}"]
    for row in sorted(rows):
        q = lambda xs: "/".join(f"{v:.3f}" for v in np.percentile([v for _, v in xs], [5, 50, 95])) if xs else "-"
        out.append(f"{row:<{w}} {q(rows[row][True]):>26} {q(rows[row][False]):>26}")
    return out


GROUPS: list = []


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--focus", type=int, default=600, help="extra clips for the dynamics and a still head")
    ap.add_argument("--values", action="store_true", help="also print percentiles of the measured values")
    ap.add_argument("--groups", action="store_true", help="one row per channel group")
    args = ap.parse_args(argv)
    GROUPS[:] = prompt_groups()
    rows = calibrate(args.clips, args.seed, args.focus, args.groups)
    print(f"corpus clips: {args.clips} (seed {args.seed}) + {args.focus} focus clips; pass rates, present vs absent")
    print("\n".join(table(rows)))
    if args.values:
        print("\n".join(values(rows)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
