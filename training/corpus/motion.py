"""Procedural face motion: one clip's pose + expression from its labels.

`render(labels, rng)` turns a labels dict (training/corpus/labels.py schema) into
pose [T,5,3] and expr [T,K] arrays. Everything the labels state is rendered
where they say it (the descriptor at its intensity, the head motion, each
micro-event inside its [start, end] frames, the transition half done at its
frame); everything they do not state (exact amplitudes, saccades, idle sway,
per-person variation of the recipe) is drawn from `rng`, so two clips with
the same labels still differ. `subject` is never read: subject words must not
change the motion.

Pure numpy and vectorised over frames; the only Python loops run over a
clip's few micro-events. `sample_micro` draws the micro-events themselves
(natural blink rates and event durations live here, beside the renderer that
has to honour them).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from engine.clip import MotionClip
from training.corpus.lexicon import FAMILIES, by_name

# Intensity -> a position on one 0..1 effort scale; recipes are written at 'strong'.
LEVELS = {"subtle": 0.15, "mild": 0.35, "moderate": 0.575, "strong": 0.8, "extreme": 1.0}
LEVEL_JITTER = 0.04          # per clip; keeps neighbouring levels apart (gaps >= 0.2)
# Per-channel saturating response: core AUs engage at once and saturate (k=1.5),
# secondary AUs (< half the recipe's largest weight) only join from 'mild' on
# and keep growing (k=1), so 'subtle' is the core alone and 'extreme' is more
# than a louder 'strong'. Extreme also recruits the family's extra AUs.
CORE_K, SECONDARY_K, SECONDARY_FROM = 1.5, 1.0, 0.3
RECRUIT_FROM = 0.88          # effort above which family recruitment fades in (only 'extreme' gets there)

# Joint limits in radians, per axis-angle component (x = pitch, y = yaw, z = roll).
# Within these a small-angle axis-angle is close to Euler angles, and they stay
# inside comfortable human range: neck flexion/extension ~35 deg each way,
# rotation ~50 deg, lateral bend ~30 deg; the root (torso lean carried to the
# head) less; jaw opens 0..0.5 rad (~29 deg, a wide yawn) with a little side
# play; eyes +-26 deg vertically, +-34 deg horizontally, no torsion.
JOINT_LO = np.array([[-0.35, -0.5, -0.3],      # global (lean / torso turn)
                     [-0.6, -0.9, -0.5],       # neck
                     [0.0, -0.05, -0.05],      # jaw
                     [-0.45, -0.6, 0.0],       # eye_left
                     [-0.45, -0.6, 0.0]])      # eye_right
JOINT_HI = np.array([[0.35, 0.5, 0.3],
                     [0.6, 0.9, 0.5],
                     [0.5, 0.05, 0.05],
                     [0.45, 0.6, 0.0],
                     [0.45, 0.6, 0.0]])

# Seconds for an onset (and transition cross-fade, head turn...) per tempo.
TEMPO_ONSET = {"slow": (0.9, 1.5), "normal": (0.45, 0.8), "fast": (0.15, 0.35)}
TEMPO_FADE = {"slow": (1.0, 1.6), "normal": (0.5, 0.9), "fast": (0.2, 0.4)}
TEMPO_NOD = {"slow": (0.9, 1.2), "normal": (0.55, 0.75), "fast": (0.32, 0.42)}   # seconds per nod
TEMPO_SHAKE = {"slow": (0.9, 1.2), "normal": (0.5, 0.7), "fast": (0.3, 0.4)}     # seconds per left-right cycle

# Micro-events: duration range in seconds. Blinks last 0.1-0.3 s and come
# 15-20 times a minute at rest (fewer when concentrating, more when anxious).
MICRO_SECONDS = {"blink": (0.12, 0.3), "blink_burst": (0.6, 1.2), "slow_blink": (0.4, 0.9),
                 "eyes_closed": (1.0, 2.2), "brow_flash": (0.25, 0.5), "lip_twitch": (0.15, 0.4),
                 "lip_press": (0.4, 1.2), "cheek_puff": (0.6, 1.6), "tongue_out": (0.5, 1.5),
                 "yawn": (2.0, 3.2)}
BLINKS_PER_MINUTE = (16.0, 22.0)         # drawn per clip; eye events and clip ends hide ~1 in 8
BLINK_RATE_BY_FAMILY = {"concentration": 0.5, "interest": 0.7, "awe": 0.6, "anxiety": 1.5, "fear": 1.2,
                        "tiredness": 1.3, "embarrassment": 1.3}
EYE_EVENTS = ("blink", "blink_burst", "slow_blink", "eyes_closed", "yawn")
FEATURE_EVENTS = ("blink_burst", "slow_blink", "eyes_closed", "brow_flash", "lip_twitch", "lip_press",
                  "cheek_puff", "tongue_out", "yawn")
MOUTH_BUSY = ("yawn", "tongue_out", "cheek_puff")        # not while talking


def _ease(x):
    """Smootherstep on [0,1]: zero velocity and acceleration at both ends."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * x * (x * (6 * x - 15) + 10)


def _sat(x: float, start: float, k: float) -> float:
    """Saturating response of an AU to effort x, 0 below `start`, 1 at 'strong'."""
    if x <= start:
        return 0.0
    return (1 - np.exp(-k * (x - start))) / (1 - np.exp(-k * (LEVELS["strong"] - start)))


class Layout:
    """The channel order of a head, with each descriptor's recipe as a vector in it."""

    def __init__(self, names):
        self.names = tuple(names)
        self.index = {n: i for i, n in enumerate(self.names)}
        self._vectors: dict = {}

    def ch(self, *names) -> np.ndarray:
        try:
            return np.array([self.index[n] for n in names], dtype=np.intp)
        except KeyError as e:
            raise KeyError(f"channel {e.args[0]!r} is not an expression channel of this head; the corpus "
                           "needs a head with ARKit channel names (the default head)") from None

    def vec(self, recipe: dict) -> np.ndarray:
        v = np.zeros(len(self.names))
        if recipe:
            v[self.ch(*recipe)] = list(recipe.values())
        return v

    def descriptor(self, name: str):
        """(descriptor, recipe vector, core mask, family recruitment vector), cached."""
        if name not in self._vectors:
            d = by_name(name)
            w = self.vec(d.recipe)
            core = w >= 0.5 * w.max() if w.any() else np.zeros(len(w), bool)
            self._vectors[name] = (d, w, core, self.vec(FAMILIES[d.family].recruit))
        return self._vectors[name]


@lru_cache(maxsize=4)
def layout(names: tuple | None = None) -> Layout:
    if names is None:
        from engine.head import load_head
        names = tuple(load_head().expr_names)
    return Layout(names)


def apex(lay: Layout, name: str, intensity: str, effort: float | None = None, gains=None):
    """The apex of descriptor `name` at `intensity`: (expr [K], jaw, head [3], gaze [2]).

    `effort` overrides the level's position on the effort scale (the renderer
    jitters it per clip); `gains` [K] multiplies the recipe (per-person variation).
    """
    d, w, core, recruit = lay.descriptor(name)
    x = LEVELS[intensity] if effort is None else effort
    r_core, r_sec = _sat(x, 0.0, CORE_K), _sat(x, SECONDARY_FROM, SECONDARY_K)
    if gains is not None:
        w = w * gains
    rec = float(np.clip((x - RECRUIT_FROM) / (1.0 - RECRUIT_FROM), 0.0, 1.0))
    expr = np.minimum(w * np.where(core, r_core, r_sec) + rec * recruit, 1.0)
    jaw = d.jaw * r_core + rec * FAMILIES[d.family].recruit_jaw
    # Gaze and head tendencies show a little even when subtle.
    tend = 0.3 + 0.7 * min(r_core, 1.1)
    head = np.asarray(d.head if d.head else (0.0, 0.0, 0.0)) * tend
    gaze = np.asarray(d.gaze if d.gaze else (0.0, 0.0)) * tend
    return expr, jaw, head, gaze


# -- building blocks (all [T] or [T,n] arrays over time t in seconds) -----------------
def _smooth_noise(rng, t, n: int, fmin=0.1, fmax=0.7):
    """n channels of smooth noise (sum of 3 random sinusoids), about unit std."""
    f = rng.uniform(fmin, fmax, (3, n))
    ph = rng.uniform(0, 2 * np.pi, (3, n))
    return np.sin(2 * np.pi * f[None] * t[:, None, None] + ph[None]).sum(1) * (1 / np.sqrt(1.5))


def _soft_limit(x, lo, hi):
    """Identity up to 80% of a joint limit, then a tanh knee that never reaches past it.

    Tendencies, head motions and micro-events add up (shame looks down, then a
    look_down, then a nod); a hard clip would leave a flat, kinked plateau."""
    lim = np.where(x >= 0, hi, -lo)
    a, knee = np.abs(x), 0.8 * lim
    soft = knee + (lim - knee) * np.tanh((a - knee) / np.maximum(lim - knee, 1e-9))
    return np.clip(np.sign(x) * np.where(a > knee, soft, a), lo, hi)


def _trapezoid(frames, s, p1, p2, e):
    """0 at frame s, eased up to 1 at p1, held to p2, eased down to 0 at e (s < p1 <= p2 < e)."""
    return _ease(np.interp(frames, [s, p1, p2, e], [0.0, 1.0, 1.0, 0.0]))


def _shape(frames, s, e, rise, hold):
    """A trapezoid inside [s, e] with the given rise/hold fractions; the peak lands on a frame."""
    p1 = min(max(s + 1, s + round(rise * (e - s))), e - 1)
    p2 = min(max(p1, p1 + round(hold * (e - s))), e - 1)
    return _trapezoid(frames, s, p1, p2, e)


def _envelopes(rng, t, dur, tempo, transition_time):
    """Weights of state A and (if any) state B over time: onset, apex, hold/decay, cross-fade."""
    on0 = rng.uniform(0.1, 0.8)
    on_d = rng.uniform(*TEMPO_ONSET[tempo])
    if transition_time is None:
        w = _ease((t - on0) / on_d)
        mode = rng.choice(3, p=(0.5, 0.3, 0.2))      # hold, partial decay, full release
        off_d = 1.5 * rng.uniform(*TEMPO_ONSET[tempo])
        apex_end = on0 + on_d + max(1.5, rng.uniform(0.4, 0.7) * dur)
        if mode == 2:                                 # finish before the end, but never skip the apex
            apex_end = max(on0 + on_d + 1.0, min(apex_end, dur - off_d - 0.1))
        drop = (rng.uniform(0.0, 0.12), rng.uniform(0.3, 0.6), 1.0)[mode]
        return w * (1 - drop * _ease((t - apex_end) / off_d)), None
    fade = rng.uniform(*TEMPO_FADE[tempo])
    room = max(0.3, transition_time - fade / 2 - 0.2)       # A must be up before the change starts
    on_d = min(on_d, 0.6 * room)
    on0 = min(on0, room - on_d)
    s = _ease((t - transition_time) / fade + 0.5)           # half done at the labelled frame
    return _ease((t - on0) / on_d) * (1 - s), s


def _head_motion(rng, motion, count, tempo, t, dur):
    """Neck [T,3], root [T,3] and gaze [T,2] of the labelled head motion."""
    T = len(t)
    neck, root, gaze = np.zeros((T, 3)), np.zeros((T, 3)), np.zeros((T, 2))
    t0 = rng.uniform(0.3, 1.2)
    slow = {"slow": 1.2, "normal": 1.0, "fast": 0.8}[tempo]
    if motion in ("nod", "shake"):
        n = int(count or 1)
        period = rng.uniform(*(TEMPO_NOD if motion == "nod" else TEMPO_SHAKE)[tempo])
        period = min(period, (dur - 0.4) / n)                # all n fit in the clip
        t0 = min(t0, dur - 0.2 - n * period)
        u = (t - t0) / period
        inside = (u >= 0) & (u < n)
        k = np.clip(u.astype(int), 0, n - 1)
        amps = rng.uniform(0.9, 1.1, n) * 0.85 ** np.arange(n)   # later repetitions a bit smaller
        a = rng.uniform(0.15, 0.3) * slow
        if motion == "nod":                                   # down and back up, n times
            neck[:, 0] = a * amps[k] * (1 - np.cos(2 * np.pi * u)) / 2 * inside
        else:                                                 # left-right cycles, tapered ends
            neck[:, 1] = a * amps[k] * np.sin(2 * np.pi * u) * np.sin(np.pi * np.clip(u / n, 0, 1)) ** 0.5 * inside
        gaze -= 0.6 * neck[:, :2]                             # eyes stay on the listener (VOR)
    elif motion in ("tilt_left", "tilt_right"):
        e = _ease((t - t0) / rng.uniform(*TEMPO_ONSET[tempo]))
        neck[:, 2] = (-1 if motion == "tilt_left" else 1) * rng.uniform(0.12, 0.3) * e   # -roll = left ear down
    elif motion in ("turn_left", "turn_right", "look_up", "look_down"):
        sign = 1 if motion in ("turn_left", "look_down") else -1
        axis = 1 if motion.startswith("turn") else 0
        big = rng.uniform(0.3, 0.65) if axis == 1 else rng.uniform(0.15, 0.35)
        e_head = _ease((t - t0) / (1.2 * rng.uniform(*TEMPO_ONSET[tempo])))
        e_eyes = _ease((t - t0 + 0.05) / 0.1)               # the eyes lead the head by a saccade
        g = rng.uniform(0.12, 0.25)
        neck[:, axis] = sign * big * e_head
        keep = 0.1 if axis == 1 else 0.5                      # looking up/down the eyes stay partly turned
        gaze[:, axis] = sign * g * (e_eyes - (1 - keep) * e_head)      # neck x/y and gaze pitch/yaw share signs
    elif motion in ("lean_in", "lean_back"):
        e = _ease((t - t0) / (1.5 * rng.uniform(*TEMPO_ONSET[tempo])))
        a = rng.uniform(0.08, 0.18) if motion == "lean_in" else -rng.uniform(0.06, 0.15)
        root[:, 0] = a * e                                    # the whole head moves forward/back
        neck[:, 0] = -0.6 * a * e                             # and the neck keeps the face level
    elif motion == "sway":
        amp = rng.uniform([0.02, 0.04, 0.03], [0.04, 0.08, 0.06])
        neck += amp * _smooth_noise(rng, t, 3, 0.12, 0.4)
        root[:, 1:] += 0.3 * amp[1:] * _smooth_noise(rng, t, 2, 0.08, 0.25)
    return neck, root, gaze


def _saccades(rng, t, dur, family):
    """Fixations with quick jumps between them: gaze [T,2] (pitch, yaw)."""
    lo, hi = (0.8, 2.5) if family in ("concentration", "awe", "interest") else (0.3, 1.8)
    n = int(dur / lo) + 2
    times = np.cumsum(rng.uniform(lo, hi, n)) - rng.uniform(0, lo)
    targets = np.stack([rng.normal(0, 0.035, n), rng.normal(0, 0.07, n)], 1)
    targets[rng.random(n) < 0.35] = 0.0                       # often back to the partner's face
    g = targets[np.clip(np.searchsorted(times, t), 0, n - 1)]
    g[1:-1] = 0.25 * g[:-2] + 0.5 * g[1:-1] + 0.25 * g[2:]    # a saccade takes ~2 frames
    return g


_VISEMES = ("open", "round", "closed", "wide")


def _talking(rng, lay, t, dur):
    """Syllable-rate jaw (radians, [T]) and mouth shapes ([T,K]) of speech-like motion."""
    start, end = rng.uniform(0.1, 0.8), dur - rng.uniform(0.0, 0.6)
    rate = rng.uniform(3.5, 5.5)                              # syllables per second
    n = int((end - start) * rate * 1.5) + 4
    d = rng.uniform(0.6, 1.4, n) / rate
    starts = start + np.cumsum(d) - d
    amp = rng.uniform(0.06, 0.16) * rng.uniform(0.3, 1.0, n)
    for p in rng.integers(0, n, rng.integers(0, 3)):          # phrase pauses: 2-3 silent syllables
        amp[p:p + rng.integers(2, 4)] = 0.0
    k = np.clip(np.searchsorted(starts, t, "right") - 1, 0, n - 1)
    u = (t - starts[k]) / d[k]
    prof = np.sin(np.pi * np.clip(u, 0, 1)) ** 2 * ((t >= start) & (t < end))
    jaw = amp[k] * prof
    shapes = np.stack([lay.vec({"mouthLowerDownLeft": 0.3, "mouthLowerDownRight": 0.3}),
                       lay.vec({"mouthFunnel": 0.4, "mouthPucker": 0.3}),
                       lay.vec({"mouthPressLeft": 0.3, "mouthPressRight": 0.3, "mouthClose": 0.2}),
                       lay.vec({"mouthStretchLeft": 0.25, "mouthStretchRight": 0.25})])
    vis = rng.integers(0, len(_VISEMES), n)
    mouth = shapes[vis[k]] * (rng.uniform(0.5, 1.0, n)[k] * prof)[:, None]
    return jaw, mouth


def sample_micro(rng, num_frames: int, fps: float, family: str, talking: bool,
                 feature_prob: float = 0.45) -> list[dict]:
    """Micro-events for a clip: natural blinks plus, often, one other event; sorted by start."""
    dur = num_frames / fps
    events = []
    if rng.random() < feature_prob:
        choices = [e for e in FEATURE_EVENTS if not (talking and e in MOUTH_BUSY)]
        kind = choices[rng.integers(len(choices))]
        length = max(3, round(rng.uniform(*MICRO_SECONDS[kind]) * fps))
        start = int(rng.integers(int(0.1 * num_frames), max(int(0.1 * num_frames) + 1, num_frames - length - 2)))
        events.append({"type": kind, "start": start, "end": min(start + length, num_frames - 1)})
    busy = [(e["start"] - round(0.2 * fps), e["end"] + round(0.2 * fps)) for e in events if e["type"] in EYE_EVENTS]
    # A Poisson process with a 0.5 s dead time (no blink right after a blink),
    # its mean interval kept at 1/rate, started at a random phase.
    rate = rng.uniform(*BLINKS_PER_MINUTE) * BLINK_RATE_BY_FAMILY.get(family, 1.0) / 60.0
    gap = min(0.5, 0.5 / rate)
    n = int(dur * rate * 3) + 3
    tb = np.cumsum(gap + rng.exponential(1 / rate - gap, n)) - rng.uniform(0, 1 / rate)
    for tt in tb[(tb >= 0) & (tb < dur)]:
        s = int(tt * fps)
        e = s + max(3, round(rng.uniform(*MICRO_SECONDS["blink"]) * fps))
        if e < num_frames and not any(a <= e and s <= b for a, b in busy):
            events.append({"type": "blink", "start": s, "end": e})
    return sorted(events, key=lambda ev: (ev["start"], ev["type"]))


def _micro(rng, lay, frames, events, expr, jaw, neck):
    """Layer the labelled micro-events onto expr [T,K], jaw [T] and neck [T,3] in place.

    Returns the eyelid closure [T] that blinks ask for (combined with max, so a
    blink closes even a squinting eye)."""
    blink = np.zeros(len(frames))
    for ev in events:
        kind, s, e = ev["type"], ev["start"], ev["end"]
        if kind == "blink":
            blink = np.maximum(blink, rng.uniform(0.92, 1.0) * _shape(frames, s, e, 0.4, 0.0))
        elif kind == "blink_burst":
            edges = np.round(np.linspace(s, e, rng.integers(2, 5) + 1)).astype(int)
            for a, b in zip(edges[:-1], edges[1:]):
                blink = np.maximum(blink, _shape(frames, a, b, 0.4, 0.0))
        elif kind == "slow_blink":
            blink = np.maximum(blink, _shape(frames, s, e, 0.35, 0.2))
        elif kind == "eyes_closed":
            blink = np.maximum(blink, _shape(frames, s, e, 0.12, 0.7))
        elif kind == "brow_flash":
            p = _shape(frames, s, e, 0.25, 0.35)
            expr += p[:, None] * lay.vec({"browInnerUp": 0.7, "browOuterUpLeft": 0.8, "browOuterUpRight": 0.8,
                                          "eyeWideLeft": 0.2, "eyeWideRight": 0.2})
        elif kind == "lip_twitch":
            side = ("Left", "Right")[rng.integers(2)]
            p = _shape(frames, s, e, 0.4, 0.0)
            expr += p[:, None] * lay.vec({f"mouthSmile{side}": 0.45, f"mouthUpperUp{side}": 0.3,
                                          f"cheekSquint{side}": 0.15})
        elif kind in ("lip_press", "cheek_puff"):
            p = _shape(frames, s, e, 0.2, 0.6)
            jaw *= 1 - p                                           # lips sealed: the jaw closes
            open_mouth = lay.ch("mouthLowerDownLeft", "mouthLowerDownRight", "mouthFunnel", "mouthStretchLeft",
                                "mouthStretchRight")
            expr[:, open_mouth] *= (1 - p)[:, None]
            shape = ({"mouthPressLeft": 0.8, "mouthPressRight": 0.8, "mouthRollLower": 0.3} if kind == "lip_press"
                     else {"cheekPuff": 1.0, "mouthPressLeft": 0.2, "mouthPressRight": 0.2, "mouthPucker": 0.2})
            expr += p[:, None] * lay.vec(shape)
        elif kind == "tongue_out":
            p = _shape(frames, s, e, 0.25, 0.5)
            jaw += 0.12 * p
            expr += p[:, None] * lay.vec({"tongueOut": 1.0, "mouthLowerDownLeft": 0.25, "mouthLowerDownRight": 0.25})
        elif kind == "yawn":
            p = _shape(frames, s, e, 0.4, 0.25)
            expr *= (1 - 0.6 * p)[:, None]                          # a yawn takes over the face
            jaw[:] = np.maximum(jaw, rng.uniform(0.38, 0.46) * p)
            expr += p[:, None] * lay.vec({"eyeSquintLeft": 0.4, "eyeSquintRight": 0.4, "browInnerUp": 0.3,
                                          "mouthStretchLeft": 0.3, "mouthStretchRight": 0.3, "mouthFunnel": 0.15})
            blink = np.maximum(blink, 0.6 * p)
            neck[:, 0] -= 0.12 * p                                  # the head tips back
    return blink


# -- the clip -------------------------------------------------------------------------------
def render(labels: dict, rng: np.random.Generator, expr_names=None) -> tuple[np.ndarray, np.ndarray]:
    """labels (training.corpus.labels schema) + rng -> (pose [T,5,3] float32, expr [T,K] float32)."""
    lay = layout(tuple(expr_names) if expr_names is not None else None)
    T, fps = int(labels["num_frames"]), float(labels["fps"])
    t = np.arange(T) / fps
    frames = np.arange(T, dtype=float)
    dur = T / fps
    K = len(lay.names)

    # The emotional state(s): per-person recipe gains, jittered effort, envelopes.
    tr = labels["transition"]
    w_a, w_b = _envelopes(rng, t, dur, labels["tempo"], None if tr is None else tr["frame"] / fps)
    gains = rng.uniform(0.88, 1.12, K)
    e_a, jaw_a, head_a, gaze_a = apex(lay, labels["descriptor"], labels["intensity"],
                                      LEVELS[labels["intensity"]] + rng.uniform(-LEVEL_JITTER, LEVEL_JITTER), gains)
    w_a = w_a * (1 + 0.04 * _smooth_noise(rng, t, 1, 0.2, 0.6)[:, 0])   # a held face is never frozen
    expr = w_a[:, None] * e_a
    jaw = w_a * jaw_a
    neck = w_a[:, None] * head_a
    gaze = w_a[:, None] * gaze_a
    if tr is not None:
        e_b, jaw_b, head_b, gaze_b = apex(lay, tr["descriptor"], tr["intensity"],
                                          LEVELS[tr["intensity"]] + rng.uniform(-LEVEL_JITTER, LEVEL_JITTER), gains)
        expr += w_b[:, None] * e_b
        jaw += w_b * jaw_b
        neck += w_b[:, None] * head_b
        gaze += w_b[:, None] * gaze_b

    # Head motion, eyes, speech.
    h_neck, root, h_gaze = _head_motion(rng, labels["head"]["motion"], labels["head"].get("count"),
                                        labels["tempo"], t, dur)
    neck += h_neck
    gaze += h_gaze + _saccades(rng, t, dur, labels["family"])
    if labels["talking"]:
        talk_jaw, mouth = _talking(rng, lay, t, dur)
        jaw += talk_jaw
        expr += mouth
        neck[:, 0] += 0.15 * talk_jaw                          # small emphasis nods on stressed syllables

    # Idle life: slow sway of the neck and a faint restlessness of the face.
    still = labels["head"]["motion"] == "still"
    neck += (0.006 if still else 0.012) * _smooth_noise(rng, t, 3)
    gaze += 0.004 * _smooth_noise(rng, t, 2, 0.5, 2.0)
    idle = lay.ch("browInnerUp", "mouthPressLeft", "mouthPressRight", "mouthSmileLeft", "mouthSmileRight",
                  "eyeSquintLeft", "eyeSquintRight")
    expr[:, idle] += 0.012 * (1 + _smooth_noise(rng, t, len(idle), 0.1, 0.5))

    blink = _micro(rng, lay, frames, labels["micro"], expr, jaw, neck)
    bl = lay.ch("eyeBlinkLeft", "eyeBlinkRight")
    expr[:, bl] = np.maximum(expr[:, bl], blink[:, None])
    wide = lay.ch("eyeWideLeft", "eyeWideRight")
    expr[:, wide] *= (1 - expr[:, bl])                                # a closing lid cannot stay wide open

    pose = np.zeros((T, 5, 3))
    pose[:, 0] = root
    pose[:, 1] = neck
    pose[:, 2, 0] = jaw
    pose[:, 3, :2] = pose[:, 4, :2] = gaze
    pose = _soft_limit(pose, JOINT_LO, JOINT_HI)
    np.clip(expr, 0.0, 1.0, out=expr)
    return pose.astype(np.float32), expr.astype(np.float32)


def make_clip(labels: dict, rng: np.random.Generator, expr_names=None) -> MotionClip:
    """render() as a validated MotionClip with the labels in meta['labels']."""
    pose, expr = render(labels, rng, expr_names)
    names = list(layout(tuple(expr_names) if expr_names is not None else None).names)
    return MotionClip(pose=pose, expr=expr, expr_names=names, fps=labels["fps"],
                      meta={"labels": labels}).validate()
