"""Procedural face motion: one clip's pose + expression from its labels.

`render(labels, rng)` turns a labels dict (training/corpus/labels.py schema) into
pose [T,5,3] and expr [T,K] arrays. Everything the labels state is rendered
where they say it (the descriptor at its intensity, the head motion, each
micro-event inside its [start, end] frames, the transition half done at its
frame); everything they do not state (exact amplitudes, saccades, idle sway,
per-person variation of the recipe) is drawn from `rng`, so two clips with
the same labels still differ. `subject` is never read: subject words must not
change the motion.

Corpus v2 adds three things, each a small function called from `render`:
- sides: a state (the labels or their transition) whose `side` is not its
  descriptor's native side is performed as the descriptor's mirror image
  (recipe channels swapped with their twins, gaze/head tendencies' yaw and
  roll negated; `mirror.on_side`);
- dynamics (`labels["dynamic"]`, and a transition's own "dynamic"): the
  pattern a descriptor is performed with, one function each: `_laugh_pulses`,
  `_lip_tremble`, `_eye_roll`, `_sigh_breath` (see `DYNAMIC_RENDERERS`);
- the glance head motions (`_glance`) and the darting-eyes micro-event
  (`_darting`).
Every draw comes from the clip's `rng` and only when the labels ask for the
pattern, so clips without them render exactly as before.

Pure numpy and vectorised over frames; the only Python loops run over a
clip's few micro-events, laugh bursts and darting fixations. `sample_micro`
draws the micro-events themselves (natural blink rates and event durations
live here, beside the renderer that has to honour them).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from engine.clip import MotionClip
from training.corpus.labels import DYNAMICS
from training.corpus.lexicon import FAMILIES, by_name
from training.corpus.mirror import on_side

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
                 "yawn": (2.0, 3.2), "darting_eyes": (1.2, 2.6)}
BLINKS_PER_MINUTE = (16.0, 22.0)         # drawn per clip; eye events and clip ends hide ~1 in 8
BLINK_RATE_BY_FAMILY = {"concentration": 0.5, "interest": 0.7, "awe": 0.6, "anxiety": 1.5, "fear": 1.2,
                        "tiredness": 1.3, "embarrassment": 1.3}
EYE_EVENTS = ("blink", "blink_burst", "slow_blink", "eyes_closed", "yawn")
FEATURE_EVENTS = ("blink_burst", "slow_blink", "eyes_closed", "brow_flash", "lip_twitch", "lip_press",
                  "cheek_puff", "tongue_out", "yawn", "darting_eyes")
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

    def descriptor(self, name: str, side: str | None = None):
        """(descriptor, recipe vector, core mask, family recruitment vector), cached; performed
        on `side` (None: its native side; the other side is its mirror image, `mirror.on_side`)."""
        d = on_side(by_name(name), side)
        key = (name, d.side)
        if key not in self._vectors:
            w = self.vec(d.recipe)
            core = w >= 0.5 * w.max() if w.any() else np.zeros(len(w), bool)
            self._vectors[key] = (d, w, core, self.vec(FAMILIES[d.family].recruit))
        return self._vectors[key]


@lru_cache(maxsize=4)
def layout(names: tuple | None = None) -> Layout:
    if names is None:
        from engine.head import load_head
        names = tuple(load_head().expr_names)
    return Layout(names)


def apex(lay: Layout, name: str, intensity: str, effort: float | None = None, gains=None, side: str | None = None):
    """The apex of descriptor `name` at `intensity`: (expr [K], jaw, head [3], gaze [2]).

    `effort` overrides the level's position on the effort scale (the renderer
    jitters it per clip); `gains` [K] multiplies the recipe (per-person variation);
    `side` performs it on that side of the face (None or "both": as written).
    """
    d, w, core, recruit = lay.descriptor(name, side)
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
    elif motion in ("glance_left", "glance_right"):
        neck[:, 1], gaze[:, 1] = _glance(rng, t, t0, dur, slow, 1.0 if motion == "glance_left" else -1.0)
    return neck, root, gaze


def _glance(rng, t, t0, dur, slow, sign):
    """Neck yaw [T] and eye-in-head yaw [T] of a glance to one side and back (+yaw: the character's left).

    The eyes lead: a saccade takes them to the side, the head follows part of the way
    (so the eyes end up turned further than the head), both hold, then the eyes jump
    back first and the head follows while the eyes stay on the partner."""
    head_amp = rng.uniform(0.14, 0.28)                     # radians the head turns
    eye_amp = rng.uniform(0.16, 0.3)                       # how much further the eyes look
    eye_go, eye_back = rng.uniform(0.06, 0.1, 2)           # saccades
    head_go, head_back = rng.uniform(0.25, 0.4) * slow, rng.uniform(0.3, 0.5) * slow
    hold = rng.uniform(0.35, 0.9) * slow
    lag = rng.uniform(0.03, 0.08)                          # the head starts just after the eyes
    room = dur - 0.25 - t0 - (lag + head_go + eye_back + head_back)
    if room < hold:                                        # a short clip: start earlier, then hold less
        t0 = max(0.1, t0 - (hold - room))
        hold = max(0.15, min(hold, dur - 0.25 - t0 - (lag + head_go + eye_back + head_back)))
    back = t0 + lag + head_go + hold                       # the eyes start back
    world = _ease(np.interp(t, [t0, t0 + eye_go, back, back + eye_back], [0, 1, 1, 0]))
    head = _ease(np.interp(t, [t0 + lag, t0 + lag + head_go, back + 0.5 * eye_back,
                               back + 0.5 * eye_back + head_back], [0, 1, 1, 0]))
    neck_yaw = sign * head_amp * head
    return neck_yaw, sign * (head_amp + eye_amp) * world - neck_yaw       # eyes' yaw inside the turned head


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


# -- what render builds, and the states it builds it from ----------------------------------
class _Face:
    """The clip's channels while `render` builds them, over frames: expr [T,K], jaw [T] (radians),
    neck and root [T,3] (pitch, yaw, roll), gaze [T,2] (pitch, yaw of both eyes in the head) and
    `idle_gaze` [T,2], the idle saccades inside gaze (an eye roll or darting eyes replaces them)."""

    def __init__(self, T: int, K: int):
        self.expr, self.jaw = np.zeros((T, K)), np.zeros(T)
        self.neck, self.root = np.zeros((T, 3)), np.zeros((T, 3))
        self.gaze, self.idle_gaze = np.zeros((T, 2)), np.zeros((T, 2))


@dataclass
class _State:
    """One emotional state of a clip (the labels' own, or their transition's) as performed:
    its apex on its side, its weight over time and the dynamic it is performed with."""
    descriptor: str
    effort: float             # position on the 0..1 effort scale (LEVELS, jittered)
    tempo: str
    dynamic: str | None
    sign: float               # +1 on the recipe's native side, -1 mirrored: a dynamic's direction flips too
    expr: np.ndarray          # [K] apex
    jaw: float
    head: np.ndarray          # [3] neck tendency
    gaze: np.ndarray          # [2] gaze tendency
    w: np.ndarray | None = None   # [T] weight over time

    def add_to(self, face: _Face) -> None:
        face.expr += self.w[:, None] * self.expr
        face.jaw += self.w * self.jaw
        face.neck += self.w[:, None] * self.head
        face.gaze += self.w[:, None] * self.gaze


def _perform(lay: Layout, state: dict, tempo: str, effort: float, gains) -> _State:
    """The apex of a labelled state on its side; a dynamic replaces the tendency it performs
    (an eye roll's held upward gaze, a sigh's held head)."""
    name, side, dynamic = state["descriptor"], state.get("side"), state.get("dynamic")
    expr, jaw, head, gaze = apex(lay, name, state["intensity"], effort, gains, side)
    mirrored = side in ("left", "right") and by_name(name).side not in (side, "both")
    if dynamic == "eye_roll":
        gaze = np.zeros(2)
    if dynamic == "sigh_breath":
        head = np.zeros(3)
    return _State(name, effort, tempo, dynamic, -1.0 if mirrored else 1.0, expr, jaw,
                  np.asarray(head, float), np.asarray(gaze, float))


def _apex_window(t, w, thresh: float) -> tuple[float, float]:
    """(first, last) second of the first stretch where a state's weight w [T] is >= thresh;
    the moment of its peak when it never gets there."""
    idx = np.flatnonzero(w >= thresh)
    if not idx.size:
        peak = t[int(np.argmax(w))]
        return peak, peak
    breaks = np.flatnonzero(np.diff(idx) > 1)
    return t[idx[0]], t[idx[breaks[0]] if breaks.size else idx[-1]]


def _fit(start: float, lengths: list[float], end: float, floor: float = 0.5) -> tuple[float, list[float]]:
    """Move a pattern of consecutive `lengths` (seconds) from `start` so that it ends by `end`,
    starting earlier (never before 0.1 s) and then shortening it (down to `floor` of itself)."""
    total = sum(lengths)
    start = max(0.1, min(start, end - total))
    k = min(1.0, max(floor, (end - start) / total))
    return start, [x * k for x in lengths]


# -- dynamics: the motion patterns people name (labels["dynamic"]) ---------------------------
# Per laughing descriptor: jaw, cheek and head pulse gains, pulses a second, pulses a burst.
LAUGH_STYLES = {
    "laugh": (1.0, 1.0, 1.0, (4.5, 5.4), (4, 7)),
    "belly laugh": (1.0, 1.0, 1.8, (4.4, 5.2), (5, 9)),
    "giggle": (0.6, 0.7, 0.6, (4.8, 5.4), (3, 6)),
    "chuckle": (0.5, 0.55, 0.45, (4.5, 5.3), (3, 5)),
    "suppressed laugh": (0.0, 0.8, 0.5, (4.5, 5.3), (3, 5)),   # lips kept shut: cheeks and head pulse
}
ROLL_SECONDS = {"slow": (1.3, 1.7), "normal": (0.9, 1.25), "fast": (0.6, 0.85)}          # the circle
SIGH_SECONDS = {"slow": ((1.1, 1.5), (1.8, 2.5)), "normal": ((0.8, 1.2), (1.2, 1.9)),   # inhale, exhale
                "fast": ((0.5, 0.8), (0.8, 1.2))}


def _pulse_train(rng, t, a: float, b: float, rates, counts) -> np.ndarray:
    """Laugh bursts from second a until b: pulses [T] in 0..1.

    One raised cosine per 'ha' at the burst's rate; each burst starts strong and decays to
    30-50% of its first pulse; short breaths between bursts; later bursts a little smaller."""
    pulses = np.zeros(len(t))
    rate = rng.uniform(*rates)
    start, first = a, 1.0
    while True:
        n = int(rng.integers(counts[0], counts[1] + 1))
        f = rate * rng.uniform(0.97, 1.03)
        amps = first * rng.uniform(0.3, 0.5) ** (np.arange(n) / max(n - 1, 1))
        u = (t - start) * f
        inside = (u >= 0) & (u < n)
        pulses += amps[np.clip(u, 0, n - 1).astype(int)] * (1 - np.cos(2 * np.pi * u)) / 2 * inside
        start, first = start + n / f + rng.uniform(0.25, 0.6), rng.uniform(0.6, 0.95)
        if start > min(b, t[-1]) - 0.3:
            return pulses


def _laugh_pulses(rng, lay, t, st: _State, face: _Face) -> None:
    """Rhythmic laughter: with each 'ha' (4-6 Hz) the jaw opens past the laugh's apex, the cheeks,
    smile and lid squint tighten and the head tips back; between them all rest lower (the face
    rises to that rest at the onset, and keeps it after the last burst); bursts decay and
    breathe between. A chuckle is smaller and shorter than a belly laugh (LAUGH_STYLES); a
    suppressed laugh keeps the jaw shut and presses the lips with each pulse."""
    jaw_g, cheek_g, head_g, rates, counts = LAUGH_STYLES.get(st.descriptor, LAUGH_STYLES["laugh"])
    a, b = _apex_window(t, st.w, 0.8)
    pulses = _pulse_train(rng, t, a, b, rates, counts)
    on = st.w
    face.jaw += on * st.jaw * jaw_g * (0.15 * pulses - 0.6 * (1 - pulses))
    cheeks = lay.ch("cheekSquintLeft", "cheekSquintRight", "mouthSmileLeft", "mouthSmileRight",
                    "eyeSquintLeft", "eyeSquintRight")
    face.expr[:, cheeks] -= (on * cheek_g * 0.3 * (1 - pulses))[:, None] * st.expr[cheeks]
    if jaw_g == 0.0:
        face.expr += (on * 0.35 * pulses)[:, None] * lay.vec({"mouthPressLeft": 1.0, "mouthPressRight": 1.0})
    bob = on * head_g * rng.uniform(0.03, 0.045) * (0.5 + 0.6 * st.effort) * pulses
    face.neck[:, 0] -= bob                                   # -pitch: chin up with each pulse
    face.root[:, 0] -= 0.3 * bob                             # the chest shakes with it


def _lip_tremble(rng, lay, t, st: _State, face: _Face) -> None:
    """A trembling lower lip: the chin raiser and the lower-lip depressor alternate at 6-10 Hz
    (a wavering rate) with a jittery amplitude, and the jaw shivers with them."""
    dt = t[1] - t[0] if len(t) > 1 else 0.04
    rate = rng.uniform(6.5, 9.5) * (1 + 0.08 * _smooth_noise(rng, t, 1, 0.3, 1.0)[:, 0])
    wave = np.sin(2 * np.pi * np.cumsum(rate) * dt + rng.uniform(0, 2 * np.pi))
    jitter = np.clip(0.65 + 0.3 * _smooth_noise(rng, t, 1, 1.0, 3.0)[:, 0], 0.2, 1.2)
    amp = st.w * jitter * (0.55 + 0.55 * st.effort)
    down = amp * (1 - wave) / 2                              # the lip drops, then the chin pushes it up
    lr = rng.uniform(0.85, 1.15, 2)                          # the two halves never quite alike
    face.expr[:, lay.ch("mouthShrugLower")] += (0.4 * amp * wave)[:, None]
    face.expr[:, lay.ch("mouthShrugUpper", "mouthRollLower")] += (amp * (1 + wave) / 2)[:, None] * [0.1, 0.12]
    face.expr[:, lay.ch("mouthLowerDownLeft", "mouthLowerDownRight")] += (0.4 * down)[:, None] * lr
    face.jaw += 0.012 * down


def _eye_roll(rng, lay, t, st: _State, face: _Face) -> None:
    """An eye roll: the eyes travel most of a circle instead of holding the gaze up. From one
    side they sweep down, across to the other side and up (270-315 degrees), hold up a moment,
    then come back while the lids droop; the brows lift when the eyes are up and the head
    follows a little. On the mirrored side the circle turns the other way."""
    a, _ = _apex_window(t, st.w, 0.6)
    start, (sweep, hold, back) = _fit(a + rng.uniform(0.0, 0.3), [rng.uniform(*ROLL_SECONDS[st.tempo]),
                                      rng.uniform(0.25, 0.55), rng.uniform(0.3, 0.5)], t[-1] - 0.1)
    th0, th1 = -np.radians(rng.uniform(95, 115)), np.pi + np.radians(rng.uniform(0, 15))
    size = 0.75 + 0.3 * st.effort
    r_pitch, r_yaw = rng.uniform(0.26, 0.32) * size, rng.uniform(0.3, 0.4) * size
    theta = th0 + (th1 - th0) * _ease((t - start) / sweep)   # 0 = down, pi/2 = one side (sign), pi = up
    home = start + sweep + hold                               # the eyes start back
    r = _ease((t - start) / (0.15 * sweep)) * (1 - _ease((t - home) / back)) * np.clip(st.w / 0.6, 0, 1)
    path = np.stack([r_pitch * (np.cos(theta) - 0.1), st.sign * r_yaw * np.sin(theta)], 1) * r[:, None]
    face.gaze += path - face.idle_gaze * r[:, None]
    face.neck[:, :2] += 0.15 * path
    up = np.clip(-path[:, 0] / r_pitch, 0, 1)
    face.expr += up[:, None] * lay.vec({"browInnerUp": 0.3, "browOuterUpLeft": 0.25, "browOuterUpRight": 0.25,
                                       "eyeWideLeft": 0.25, "eyeWideRight": 0.25})
    lids = lay.ch("eyeBlinkLeft", "eyeBlinkRight")
    face.expr[:, lids] *= (1 - 0.85 * r)[:, None]           # the lids follow the eyes round: the roll shows
    droop = np.sin(np.pi * np.clip((t - home) / (back + 0.5), 0, 1)) * size
    face.expr[:, lids] += (0.15 * droop)[:, None]


def _sigh_breath(rng, lay, t, st: _State, face: _Face) -> None:
    """A sigh's breath instead of a held head pose: the inhale lifts the head (chin up, a little
    of the torso) and opens brows and lids; the exhale lets the air out through parted lips,
    drops the head below where it started and lowers the lids; the head stays partly down."""
    a, _ = _apex_window(t, st.w, 0.1)
    (inhale_r, exhale_r) = SIGH_SECONDS[st.tempo]
    start, (inhale, pause, exhale) = _fit(a, [rng.uniform(*inhale_r), rng.uniform(0.1, 0.3),
                                              rng.uniform(*exhale_r)], t[-1] - 0.2)
    size = 0.6 + 0.5 * st.effort
    lift_a, drop_a = rng.uniform(0.06, 0.1) * size, rng.uniform(0.08, 0.13) * size
    out = start + inhale + pause                             # the exhale starts
    lift = _ease((t - start) / inhale) * (1 - _ease((t - out) / (0.6 * exhale)))
    drop = _ease((t - out) / exhale) * (1 - 0.4 * _ease((t - out - exhale - 0.3) / 1.0))
    air = np.sin(np.pi * np.clip((t - out) / exhale, 0, 1))
    pitch = drop_a * drop - lift_a * lift                   # +pitch: chin down
    face.neck[:, 0] += pitch
    face.root[:, 0] += 0.3 * pitch
    lids = lay.ch("eyeBlinkLeft", "eyeBlinkRight")
    face.expr[:, lids] *= (1 - 0.6 * lift)[:, None]
    face.expr[:, lids] += (0.25 * size * drop)[:, None]
    face.expr += lift[:, None] * lay.vec({"browInnerUp": 0.2, "browOuterUpLeft": 0.15, "browOuterUpRight": 0.15,
                                         "eyeWideLeft": 0.15, "eyeWideRight": 0.15})
    face.expr += air[:, None] * lay.vec({"mouthFunnel": 0.2, "mouthLowerDownLeft": 0.1, "mouthLowerDownRight": 0.1})
    face.jaw += 0.04 * air + 0.02 * lift


DYNAMIC_RENDERERS = {"laugh_pulses": _laugh_pulses, "lip_tremble": _lip_tremble, "eye_roll": _eye_roll,
                     "sigh_breath": _sigh_breath}
assert tuple(DYNAMIC_RENDERERS) == DYNAMICS


# -- micro-events -------------------------------------------------------------------------------
def _darting(rng, t, ts: float, te: float) -> np.ndarray:
    """Gaze [T,2] of darting eyes inside [ts, te] seconds, 0 outside: fixations of 150-400 ms
    joined by saccades of 10-25 degrees taking 30-60 ms (the main sequence: ~21 ms + 2.2 ms a
    degree), each to somewhere new, the last one back to where the eyes started (the partner's
    face). The idle saccades hold still meanwhile (`_micro`)."""
    fixations = []
    now = ts
    while True:
        f = rng.uniform(0.15, 0.4)
        if now + 0.06 + f + 0.06 > te:
            break
        fixations.append(f)
        now += 0.06 + f
    path = np.zeros((len(t), 2))
    pos, now = np.zeros(2), ts
    for k, f in enumerate(fixations):
        target = _dart_target(rng, pos, last=k == len(fixations) - 1)
        now = _saccade(path, t, now, pos, target) + f
        pos = target
    if fixations:
        _saccade(path, t, now, pos, np.zeros(2))
    return path


# Saccade sizes, drawn a degree inside 10-25 so that the rendered ones (idle drift added) stay
# inside; |pitch|, |yaw| radians the fixations stay within.
DART_DEGREES, DART_BOX = (11.0, 24.0), np.array([0.22, 0.38])


def _dart_target(rng, pos, last: bool) -> np.ndarray:
    """A fixation 10-25 degrees from `pos` inside DART_BOX (the last one also 10-25 degrees from
    the centre, so that the way back is a saccade of that size too)."""
    best, best_miss = None, np.inf
    for _ in range(40):
        amp, ang = np.radians(rng.uniform(*DART_DEGREES)), rng.uniform(0, 2 * np.pi)
        cand = pos + amp * np.array([0.6 * np.sin(ang), np.cos(ang)]) / np.hypot(0.6 * np.sin(ang), np.cos(ang))
        miss = np.maximum(np.abs(cand) - DART_BOX, 0).sum()
        if last:
            home = np.degrees(np.hypot(*cand))
            miss += np.radians(max(DART_DEGREES[0] - home, home - DART_DEGREES[1], 0.0))
        if miss == 0.0:
            return cand
        if miss < best_miss:
            best, best_miss = cand, miss
    return best


def _saccade(path, t, now: float, a, b) -> float:
    """Add one saccade from gaze a to b starting at second `now` to path [T,2]; returns its end."""
    dur = float(np.clip(0.021 + 0.0022 * np.degrees(np.hypot(*(b - a))), 0.03, 0.06))
    path += _ease((t - now) / dur)[:, None] * (b - a)
    return now + dur


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


def _micro(rng, lay, frames, fps: float, events, face: _Face):
    """Layer the labelled micro-events onto the face in place (expr, jaw, neck and gaze).

    Returns the eyelid closure [T] that blinks ask for (combined with max, so a
    blink closes even a squinting eye)."""
    expr, jaw, neck = face.expr, face.jaw, face.neck
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
        elif kind == "darting_eyes":                            # from where the idle saccades had the eyes
            inside = ((frames >= s) & (frames <= e))[:, None]
            held = face.idle_gaze - face.idle_gaze[min(int(s), len(frames) - 1)]
            face.gaze += inside * (_darting(rng, frames / fps, s / fps, e / fps) - held)
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
    face = _Face(T, K)

    # The emotional state(s): per-person recipe gains, jittered effort, envelopes, each on its side.
    tr, tempo = labels["transition"], labels["tempo"]
    w_a, w_b = _envelopes(rng, t, dur, tempo, None if tr is None else tr["frame"] / fps)
    gains = rng.uniform(0.88, 1.12, K)
    states = [_perform(lay, labels, tempo, LEVELS[labels["intensity"]] + rng.uniform(-LEVEL_JITTER, LEVEL_JITTER),
                       gains)]
    states[0].w = w_a * (1 + 0.04 * _smooth_noise(rng, t, 1, 0.2, 0.6)[:, 0])   # a held face is never frozen
    if tr is not None:
        states.append(_perform(lay, tr, tempo, LEVELS[tr["intensity"]] + rng.uniform(-LEVEL_JITTER, LEVEL_JITTER),
                               gains))
        states[1].w = w_b
    for st in states:
        st.add_to(face)

    # Head motion, eyes, speech.
    h_neck, face.root, h_gaze = _head_motion(rng, labels["head"]["motion"], labels["head"].get("count"), tempo, t, dur)
    face.neck += h_neck
    face.idle_gaze = _saccades(rng, t, dur, labels["family"])
    face.gaze += h_gaze + face.idle_gaze
    if labels["talking"]:
        talk_jaw, mouth = _talking(rng, lay, t, dur)
        face.jaw += talk_jaw
        face.expr += mouth
        face.neck[:, 0] += 0.15 * talk_jaw                     # small emphasis nods on stressed syllables

    # Idle life: slow sway of the neck and a faint restlessness of the face.
    still = labels["head"]["motion"] == "still"
    face.neck += (0.006 if still else 0.012) * _smooth_noise(rng, t, 3)
    face.gaze += 0.004 * _smooth_noise(rng, t, 2, 0.5, 2.0)
    idle = lay.ch("browInnerUp", "mouthPressLeft", "mouthPressRight", "mouthSmileLeft", "mouthSmileRight",
                  "eyeSquintLeft", "eyeSquintRight")
    face.expr[:, idle] += 0.012 * (1 + _smooth_noise(rng, t, len(idle), 0.1, 0.5))

    # The dynamics the states are performed with, then the micro-events (last: an event changes
    # nothing outside its window).
    for st in states:
        if st.dynamic is not None:
            DYNAMIC_RENDERERS[st.dynamic](rng, lay, t, st, face)
    blink = _micro(rng, lay, frames, fps, labels["micro"], face)
    expr = face.expr
    bl = lay.ch("eyeBlinkLeft", "eyeBlinkRight")
    expr[:, bl] = np.maximum(expr[:, bl], blink[:, None])
    wide = lay.ch("eyeWideLeft", "eyeWideRight")
    expr[:, wide] *= (1 - np.clip(expr[:, bl], 0.0, 1.0))            # a closing lid cannot stay wide open

    pose = np.zeros((T, 5, 3))
    pose[:, 0] = face.root
    pose[:, 1] = face.neck
    pose[:, 2, 0] = face.jaw
    pose[:, 3, :2] = pose[:, 4, :2] = face.gaze
    pose = _soft_limit(pose, JOINT_LO, JOINT_HI)
    np.clip(expr, 0.0, 1.0, out=expr)
    return pose.astype(np.float32), expr.astype(np.float32)


def make_clip(labels: dict, rng: np.random.Generator, expr_names=None) -> MotionClip:
    """render() as a validated MotionClip with the labels in meta['labels']."""
    pose, expr = render(labels, rng, expr_names)
    names = list(layout(tuple(expr_names) if expr_names is not None else None).names)
    return MotionClip(pose=pose, expr=expr, expr_names=names, fps=labels["fps"],
                      meta={"labels": labels}).validate()
