"""Geometric prompt checks (training/eval/prompt_checks.py): known answers on hand-built clips,
on corpus renders of known labels, the controllability pairs, and the everyday prompt file."""
import re

import numpy as np
import pytest

from engine.clip import MotionClip
from training.corpus import motion
from training.corpus.captions import captions_for
from training.corpus.dynamics import dynamic_of
from training.corpus.labels import check_labels
from training.corpus.lexicon import FAMILIES, by_name
from training.corpus.synth import sample_labels
from training.eval import prompt_checks as pc

FPS, T = 25.0, 100
NAMES = list(motion.layout().names)
t = np.arange(T) / FPS
SMILE = ["mouthSmileLeft", "mouthSmileRight"]
LIDS = ["eyeBlinkLeft", "eyeBlinkRight"]


def clip(expr=None, pose=None):
    """A 4 s clip: expr {channel: value or [T] array}, pose {(joint, axis): [T] array}."""
    e = np.zeros((T, len(NAMES)), np.float32)
    for name, v in (expr or {}).items():
        e[:, NAMES.index(name)] = v
    p = np.zeros((T, 5, 3), np.float32)
    for (j, k), v in (pose or {}).items():
        p[:, j, k] = v
    return MotionClip(pose=p, expr=e, expr_names=NAMES, fps=FPS).validate()


def ok(c, spec) -> bool:
    (_, passed, _), = pc.check(c, [spec])
    return passed


def bump(a, b):
    """0 before second a, 1 from a to b, eased both ways (0.1 s)."""
    return np.clip((t - a) / 0.1, 0, 1) * np.clip((b - t) / 0.1, 0, 1)


def blinks(*at):
    return np.maximum.reduce([np.clip(1 - np.abs(t - s) / 0.08, 0, 1) for s in at]) if at else np.zeros(T)


# -- hand-built clips, one check kind at a time ---------------------------------------------------
def test_channels_up_and_low_read_the_held_level_not_blinks_or_twitches():
    smile = clip({"mouthSmileLeft": 0.4, "mouthSmileRight": 0.4})
    assert ok(smile, {"channels_up": SMILE}) and not ok(smile, {"channels_low": SMILE})
    blinky = clip({"eyeBlinkLeft": blinks(1.0, 2.0, 3.0), "eyeBlinkRight": blinks(1.0, 2.0, 3.0)})
    assert ok(blinky, {"channels_low": LIDS}) and not ok(blinky, {"channels_up": LIDS})
    twitch = clip({"mouthSmileLeft": bump(1.5, 1.7), "mouthSmileRight": bump(1.5, 1.7)})
    assert ok(twitch, {"channels_low": SMILE})
    heavy = clip({"eyeBlinkLeft": 0.5, "eyeBlinkRight": 0.5})
    assert ok(heavy, {"channels_up": LIDS})


def test_intensity_faint_and_strong():
    brows = ["browDownLeft", "browDownRight"]
    faint, strong = clip({n: 0.25 for n in brows}), clip({n: 0.9 for n in brows})
    is_faint, is_strong = {"intensity": "faint", "channels": brows}, {"intensity": "strong", "channels": brows}
    assert ok(faint, is_faint) and not ok(faint, is_strong)
    assert ok(strong, is_strong) and not ok(strong, is_faint)


def test_side_is_the_characters_own_side_and_a_symmetric_face_has_none():
    left = clip({"mouthSmileLeft": 0.6, "mouthDimpleLeft": 0.4, "browOuterUpRight": 0.3})
    assert ok(left, {"side": "left", "channels": ["mouth"]}) and not ok(left, {"side": "right", "channels": ["mouth"]})
    assert ok(left, {"side": "right", "channels": ["brow"]})             # a part can be on the other side
    both = clip({"mouthSmileLeft": 0.6, "mouthSmileRight": 0.6})
    assert not ok(both, {"side": "left"}) and not ok(both, {"side": "right"})
    assert not ok(clip({"mouthSmileLeft": 0.03}), {"side": "left"})       # too faint to be one-sided


def test_nod_shake_still_and_tilt():
    nod = clip(pose={(1, 0): 0.2 * (1 - np.cos(2 * np.pi * (t - 1.0) / 0.7)) / 2 * bump(1.0, 2.4)})
    shake = clip(pose={(1, 1): 0.2 * np.sin(2 * np.pi * (t - 1.0) / 0.6) * bump(1.0, 2.8)})
    still = clip()
    assert ok(nod, {"head": "nod"}) and not ok(nod, {"head": "shake"}) and not ok(nod, {"head": "still"})
    assert ok(shake, {"head": "shake"}) and not ok(shake, {"head": "nod"})
    assert ok(still, {"head": "still"}) and not ok(still, {"head": "nod"})
    held_down = clip(pose={(1, 0): 0.25 * bump(0.8, 3.2)})                # a held pose that comes and goes: no nod
    assert not ok(held_down, {"head": "nod"})
    tilt_left = clip(pose={(1, 2): -0.2 * np.clip(t / 0.5, 0, 1)})        # -roll: left ear down
    assert ok(tilt_left, {"head": "tilt_left"}) and not ok(tilt_left, {"head": "tilt_right"})
    # the global joint counts as head too: a root nod is a nod
    assert ok(clip(pose={(0, 0): 0.2 * (1 - np.cos(2 * np.pi * (t - 1.0) / 0.7)) / 2 * bump(1.0, 2.4)}),
              {"head": "nod"})


def test_look_composes_head_and_eyes_and_and_back_wants_the_return():
    eyes_left = clip(pose={(3, 1): 0.35, (4, 1): 0.35})                  # +yaw: the character's left
    assert ok(eyes_left, {"look": "left"}) and not ok(eyes_left, {"look": "right"})
    cancel = clip(pose={(1, 1): 0.4, (3, 1): -0.4, (4, 1): -0.4})        # head left, eyes back to the camera
    assert not ok(cancel, {"look": "left"})
    turned = clip(pose={(1, 1): -0.5 * np.clip((t - 1) / 0.4, 0, 1)})
    glance = clip(pose={(1, 1): -0.4 * bump(1.0, 2.0)})
    assert ok(turned, {"look": "right"}) and not ok(turned, {"look": "right", "and_back": True})
    assert ok(glance, {"look": "right", "and_back": True})
    down = clip(pose={(1, 0): 0.3})                                       # +pitch: chin down
    assert ok(down, {"look": "down"}) and not ok(down, {"look": "up"})


def test_dynamics_known_answers():
    pulses = 0.3 + 0.2 * np.sin(2 * np.pi * 5.0 * t) * bump(1.0, 3.0)
    laugh = clip({n: pulses for n in ("cheekSquintLeft", "cheekSquintRight", *SMILE)})
    twitch = clip({"mouthSmileLeft": 0.5 * bump(1.5, 1.8)})
    assert ok(laugh, {"dynamic": "laugh_pulses"}) and not ok(twitch, {"dynamic": "laugh_pulses"})
    tremble = clip({"mouthShrugLower": 0.3 + 0.2 * np.sin(2 * np.pi * 8.0 * t)})
    slow = clip({"mouthShrugLower": 0.3 + 0.2 * np.sin(2 * np.pi * 2.0 * t)})
    assert ok(tremble, {"dynamic": "lip_tremble"}) and not ok(slow, {"dynamic": "lip_tremble"})
    th = np.radians(-100 + 380 * np.clip((t - 1.0) / 1.2, 0, 1))          # down, one side, up and over
    r = 0.3 * bump(0.9, 3.0)
    roll = clip(pose={(j, k): v for j in (3, 4) for k, v in ((0, r * np.cos(th)), (1, r * np.sin(th)))})
    side = clip(pose={(3, 1): 0.3 * bump(1.0, 2.5), (4, 1): 0.3 * bump(1.0, 2.5)})
    assert ok(roll, {"dynamic": "eye_roll"}) and not ok(side, {"dynamic": "eye_roll"})
    ease = lambda a, b: np.clip((t - a) / (b - a), 0, 1)
    pitch = -0.08 * ease(0.8, 1.6) + 0.2 * ease(1.8, 3.0)                 # chin up on the inhale, then down
    sigh = clip({"eyeBlinkLeft": 0.3 * ease(1.8, 3.0), "eyeBlinkRight": 0.3 * ease(1.8, 3.0)}, {(1, 0): pitch})
    nod = clip(pose={(1, 0): 0.2 * (1 - np.cos(2 * np.pi * (t - 1.0) / 0.7)) / 2 * bump(1.0, 2.4)})
    assert ok(sigh, {"dynamic": "sigh_breath"}) and not ok(nod, {"dynamic": "sigh_breath"})


def test_blinks_eyes_closed_jaw_and_darting():
    two = clip({n: blinks(1.0, 2.5) for n in LIDS})
    assert ok(two, {"blinks": {"min": 2, "max": 2}}) and not ok(two, {"blinks": {"max": 0}})
    wink = clip({"eyeBlinkLeft": blinks(1.0)})                            # one lid: a wink, not a blink
    assert ok(wink, {"blinks": {"max": 0}})
    shut = clip({n: bump(1.0, 2.6) for n in LIDS})
    assert ok(shut, {"eyes_closed": True}) and not ok(two, {"eyes_closed": True})
    assert ok(shut, {"blinks": {"max": 0}})                               # held shut is not a blink
    jaw = clip(pose={(2, 0): 0.3 * bump(0.8, 3.5)})
    assert ok(jaw, {"jaw_open": True}) and ok(clip(), {"jaw_open": False}) and not ok(jaw, {"jaw_open": False})
    spots = np.radians([[0, 0], [0, 12], [8, -4], [-6, 10], [4, -10], [0, 6], [0, 0]])
    k = np.clip(((t - 1.0) / 0.3).astype(int) + 1, 0, len(spots) - 1) * (t >= 1.0)
    dart = clip(pose={(j, a): spots[k, a] for j in (3, 4) for a in (0, 1)})
    assert ok(dart, {"darting_eyes": True}) and not ok(side_look(), {"darting_eyes": True})


def side_look():
    return clip(pose={(3, 1): 0.3 * (t > 1.5), (4, 1): 0.3 * (t > 1.5)})


def test_unknown_checks_are_refused():
    for bad in ({"wiggle": 1}, {"head": "spin"}, {"channels_up": []}, {"blinks": 2}, {"intensity": "faint"}):
        with pytest.raises(ValueError):
            pc.check(clip(), [bad])
    with pytest.raises(KeyError, match="no channel"):
        pc.check(clip(), [{"channels_up": ["exp000"]}])


# -- corpus clips of known labels: their own signature passes, an opposite one fails ---------------
def render(descriptor, intensity="strong", head="still", side=None, micro=(), seed=0):
    d = by_name(descriptor)
    labels = check_labels({
        "family": d.family, "descriptor": descriptor, "side": side or d.side, "dynamic": dynamic_of(descriptor),
        "intensity": intensity, "tempo": "normal",
        "head": {"motion": head, "count": 2 if head in ("nod", "shake") else None},
        "micro": [{"type": m, "start": 30, "end": 70} for m in micro], "transition": None, "talking": False,
        "subject": "a person", "fps": FPS, "num_frames": T})
    pose, expr = motion.render(labels, np.random.default_rng(seed))
    return MotionClip(pose=pose, expr=expr, expr_names=NAMES, fps=FPS)


@pytest.mark.parametrize("labels,own,opposite", [
    (("grin",), {"channels_up": SMILE}, {"channels_low": SMILE}),
    (("fury",), {"channels_up": ["browDownLeft", "browDownRight"]}, {"channels_up": SMILE}),
    (("smirk", "strong", "still", "left"), {"side": "left", "channels": ["mouth"]}, {"side": "right"}),
    (("smirk", "strong", "still", "right"), {"side": "right", "channels": ["mouth"]}, {"side": "left"}),
    (("neutral", "moderate", "nod"), {"head": "nod"}, {"head": "shake"}),
    (("neutral", "moderate", "shake"), {"head": "shake"}, {"head": "nod"}),
    (("neutral", "moderate", "tilt_left"), {"head": "tilt_left"}, {"head": "tilt_right"}),
    (("neutral", "moderate", "look_up"), {"look": "up"}, {"look": "down"}),
    (("neutral", "moderate", "glance_left"), {"look": "left", "and_back": True}, {"look": "right"}),
    (("belly laugh",), {"dynamic": "laugh_pulses"}, {"dynamic": "lip_tremble"}),
    (("lip quiver",), {"dynamic": "lip_tremble"}, {"dynamic": "laugh_pulses"}),
    (("eye roll",), {"dynamic": "eye_roll"}, {"darting_eyes": True}),
    (("sigh",), {"dynamic": "sigh_breath"}, {"head": "nod"}),
    (("calm", "moderate", "still", None, ("eyes_closed",)), {"eyes_closed": True}, {"channels_low": LIDS}),
    (("jaw drop",), {"jaw_open": True}, {"jaw_open": False}),
    (("nervous", "moderate", "still", None, ("darting_eyes",)), {"darting_eyes": True}, {"dynamic": "eye_roll"}),
])
def test_corpus_clip_passes_its_own_signature_and_fails_an_opposite_one(labels, own, opposite):
    c = render(*labels)
    assert ok(c, own), pc.check(c, [own])
    assert not ok(c, opposite), pc.check(c, [opposite])


# -- controllability pairs ------------------------------------------------------------------------
def test_pairs_table_and_check_pair_direction():
    assert len(pc.PAIRS) >= 8
    zero = clip()
    for pair in pc.PAIRS:
        assert {"a", "b", "measure", "sign", "min"} <= set(pair) and pair["a"] != pair["b"]
        pc.pair_measure(zero, pair)                                       # every measure is known
    happy, angry = render("happy"), render("angry")
    pair = pc.PAIRS[0]
    assert pc.check_pair(happy, angry, pair)[0] and not pc.check_pair(angry, happy, pair)[0]
    tilt = next(p for p in pc.PAIRS if p["measure"] == "tilt")
    left, right = render("neutral", "moderate", "tilt_left"), render("neutral", "moderate", "tilt_right")
    good, change = pc.check_pair(left, right, tilt)
    assert good and change > 0 and not pc.check_pair(right, left, tilt)[0]
    nod_shake = next(p for p in pc.PAIRS if p["measure"] == "nod_minus_shake")
    nod, shake = render("neutral", "moderate", "nod"), render("neutral", "moderate", "shake")
    assert pc.check_pair(nod, shake, nod_shake)[0] and not pc.check_pair(shake, nod, nod_shake)[0]
    assert not pc.check_pair(nod, nod, nod_shake)[0]                      # no change is no control


def test_run_suite_and_run_pairs_report_shares_kinds_and_failures():
    prompts = [{"prompt": "smiling", "expect": [{"channels_up": SMILE}]},
               {"prompt": "still", "expect": [{"head": "still"}, {"channels_low": SMILE}]}]
    seen = {}

    def gen(texts, seconds, seed=None):
        seen["seed"], seen["seconds"] = seed, seconds
        return [clip({n: 0.5 for n in SMILE}) if "smil" in x else clip() for x in texts]

    rep = pc.run_suite(gen, prompts, seed=7)
    assert (rep["n"], rep["passed"], rep["share"]) == (2, 2, 1.0) and seen == {"seed": 7, "seconds": 4.0}
    rep = pc.run_suite(lambda texts, seconds: [clip() for _ in texts], prompts)
    assert rep["passed"] == 1 and rep["failures"][0]["prompt"] == "smiling"
    assert rep["per_kind"]["channels_up"] == {"n": 1, "passed": 0, "share": 0.0}
    assert rep["per_kind"]["head"]["share"] == 1.0
    pairs = pc.run_pairs(lambda texts, seconds: [clip() for _ in texts])
    assert pairs["n"] == len(pc.PAIRS) and pairs["passed"] == 0           # a generator that ignores the words


# -- the prompt file ----------------------------------------------------------------------------------
def test_prompt_file_loads_covers_the_corpus_and_uses_known_checks():
    entries = pc.load_prompts()                                           # validates every check
    assert len(entries) >= 60
    assert len({e["prompt"].lower() for e in entries}) == len(entries)
    specs = [s for e in entries for s in e["expect"]]
    kinds = {next(k for k in s if k in pc.CHECK_KINDS) for s in specs}
    assert kinds == set(pc.CHECK_KINDS)                                   # every kind is used
    assert set(FAMILIES) - {"neutral"} <= {e.get("family") for e in entries}
    assert {s["head"] for s in specs if "head" in s} == set(pc.HEAD_VALUES)
    assert {s["look"] for s in specs if "look" in s} == set(pc.LOOK_VALUES)
    assert {s["dynamic"] for s in specs if "dynamic" in s} == set(pc.DYNAMIC_VALUES)
    assert {s["side"] for s in specs if "side" in s} == {"left", "right"}
    assert {s["intensity"] for s in specs if "intensity" in s} == {"faint", "strong"}
    for e in entries:
        pc.check(clip(), e["expect"])                                     # every check runs on the default head


def test_no_prompt_is_a_corpus_caption():
    norm = lambda s: " ".join(re.sub(r"[^a-z0-9' ]", " ", s.lower()).split())
    captions = set()
    for i in range(1500):
        labels = sample_labels(11, i)
        for heldout in (False, True):
            captions.update(norm(c) for c in captions_for(labels, np.random.default_rng([i, heldout]), heldout))
    assert len(captions) > 10000
    same = [e["prompt"] for e in pc.load_prompts() if norm(e["prompt"]) in captions]
    assert not same, same
