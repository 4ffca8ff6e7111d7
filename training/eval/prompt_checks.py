"""Geometric checks of a motion clip against the signature a prompt expects.

A prompt's expected signature is a list of small declarative checks (JSON), each a dict
whose first key names its kind, e.g. {"channels_up": ["mouthSmileLeft", "mouthSmileRight"]}
or {"head": "nod"}; `check(clip, expect)` measures each one on the clip's channels and
joint angles and says whether it holds. Nothing here reads captions, labels or a learned
model: a clip passes because its face and head move the way the prompt says.

Conventions (engine/clip.py): ARKit channels are 0 at rest, so "above neutral" means above
0; "left" is always the character's own left (eyeBlinkLeft, +yaw = turn to the left);
+pitch = chin down (looking down), +roll = right ear to the right shoulder (a tilt to the
left is a negative roll). The head is the composition of the global and neck joints; where
the face looks ("gaze") is head and eyes composed.

CHECK_KINDS, each measured as one number (the value `check` reports) against a threshold below:

    channels_up   [names]                        mean of the channels over the clip's middle >= UP_MIN
    channels_low  [names]                        the same mean <= LOW_MAX ("not smiling", "straight face")
    intensity     "faint"|"strong", channels     the channels' apex (95th percentile): <= FAINT_MAX / >= STRONG_MIN
    side          "left"|"right" [, channels]    (L - R) / max(L + R, SIDE_FLOOR) over the middle of the sided
                                                 channel pairs (or those whose names start with the given
                                                 prefixes, e.g. ["mouth"], ["brow"], ["eyeBlink"]) >= SIDE_MIN
    head          nod | shake | still | tilt_left | tilt_right
                                                 nod: the smaller swing of a quick chin-down-and-back pair of
                                                 head pitch; shake: the smallest of three quick alternating
                                                 yaw swings; still: the head's largest swing on any axis
                                                 (<= STILL_MAX); tilt: mean roll to that side over the middle
    look          left | right | up | down [, "and_back": true]
                                                 the gaze (head and eyes) towards there at its 90th percentile;
                                                 and_back (a glance): its excursion from where it usually is,
                                                 ending within BACK_FRACTION of that
    dynamic       laugh_pulses | lip_tremble | eye_roll | sigh_breath
                                                 laugh: share of the cheeks', smile's and lid squint's quick
                                                 motion at 3.5-6.5 Hz; tremble: 6-11 Hz RMS of chin against
                                                 lower lip; eye roll: degrees the eyes sweep round the centre
                                                 on a path that looks up; sigh: a head lift, a drop after it
                                                 and lids lower at the bottom than at the top (the weakest
                                                 of the three in units of SIGH_LIFT, SIGH_DROP, SIGH_LIDS
                                                 >= 1)
    blinks        {"min": n} and/or {"max": n}   blinks of both lids (a wink is not a blink; > BLINK_MAX_S is
                                                 eyes closed)
    eyes_closed   true | false                   longest time both lids stay >= CLOSED_LID, >= CLOSED_S
    jaw_open      true | false                   jaw radians at the 90th percentile >= JAW_OPEN / <= JAW_SHUT
    darting_eyes  true | false                   saccades (quick jumps of >= DART_DEGREES) >= DART_MIN

Calibration (`scripts/prompt_check_calibration.py`, which prints this table): 3000 corpus clips
(seed 3) and 600 more for the rare behaviours (descriptors performed with a dynamic, a still
head), rendered by training/corpus/motion.py. "present": the clip's labels (and the lexicon's
recipe at the labelled intensity and side) say the behaviour is there; "absent": they say it is
not; clips in between (a recipe that shows a channel only a little, a face whose held tendency
half tilts the head, a transition to it) are left out. Rates are the share of clips that pass;
channel rows pool every channel group the prompt file uses (each group alone: --groups), side
rows are whole faces and face parts (brow, eye, mouth), blinks:exact asks for the labelled count
(absent: one more). The aim was >= 90% present and <= 10% absent for every row:

    check                     present    (n)   absent    (n)
    --------------------------------------------------------
    blinks:exact               100.0%   2110     0.0%   2110
    blinks:max0                100.0%    498     0.0%   2251
    blinks:min1                100.0%   2528     0.0%    498
    channels_low               100.0%  69668     0.1%   8701
    channels_up                 99.8%   8701     0.0%  69668
    darting_eyes                98.3%    174     2.2%   3426
    dynamic:eye_roll            93.8%     32     0.6%   3561
    dynamic:laugh_pulses        98.4%    182     0.0%   3381
    dynamic:lip_tremble        100.0%     67     0.3%   3523
    dynamic:sigh_breath         92.7%    150     3.0%   3423
    eyes_closed                100.0%    177     0.0%   3246
    head:nod                    98.3%    240     1.0%   3360
    head:shake                 100.0%    245     0.1%   3355
    head:still                  93.1%    101     0.1%   2351
    head:tilt_left              97.0%    233     0.1%   3270
    head:tilt_right             99.6%    233     0.0%   2096
    intensity:faint             95.6%    204     0.0%    441
    intensity:strong            98.2%    441     2.2%    416
    jaw_open:false              99.0%   2052     0.0%    234
    jaw_open:true              100.0%    234     0.0%   2052
    look:down                   99.6%    235     6.8%   2245
    look:left                   99.4%    466     2.2%   2812
    look:left+back              92.2%    231     3.4%    235
    look:right                  98.5%    464     1.6%   3018
    look:right+back             93.0%    229     2.1%    235
    look:up                     94.5%    235     2.5%   2668
    side:face                   93.4%    227     0.5%   4947
    side:part                   98.3%    288     1.8%  14448

What still fails is mostly two labelled things on top of each other: a sigh or an eye roll during
a look up or a glance, a glance whose face holds its gaze to one side; what passes when absent is
mostly motion that partly does look that way (leaning in, nodding or sighing reads as a look down
in 6.8% of the clips without one).

`run_suite(generate_fn)` runs the prompt file (training/eval/everyday_prompts.json) through a
generator and reports the share passing, per check kind, and the failing prompts. `PAIRS` is
the controllability table (one word changed, the expected change of one measure) and
`check_pair(clip_a, clip_b, pair)` checks one pair.
"""
from __future__ import annotations

import inspect
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from engine.rotation import axis_angle_to_matrix

PROMPTS_FILE = Path(__file__).with_name("everyday_prompts.json")

# -- thresholds ------------------------------------------------------------------------------------
# Each sits between the corpus's "present" and "absent" values of its measure (the 5th percentile of
# one, the 95th of the other: `scripts/prompt_check_calibration.py --values`), where a physical
# meaning puts it: ARKit channels are 0..1, angles radians unless named otherwise.
MIDDLE = (0.2, 0.9)        # the clip's middle: after a typical onset (<= 1.6 s of 4 s), before a release
HELD_S = 0.4               # a channel held at least this long counts towards its level (a blink: 0.1-0.3 s)
UP_MIN = 0.1               # "up": a tenth of the channel's range held over the middle (idle life holds < 0.02)
LOW_MAX = 0.08             # "low": a face that shows the channels holds >= 0.13 of them (the 5th percentile)
FAINT_MAX, STRONG_MIN = 0.4, 0.7   # apex of a full-weight channel: subtle <= 0.39, strong/extreme >= 0.73
SIDE_FLOOR = 0.5           # L + R below this counts as this much: a near-neutral face is not one-sided
SIDE_MIN = 0.07            # (L - R) share: symmetric faces (per-person gains) stay within +-0.05 (p95)
SWING_HYSTERESIS = 0.02    # the head's idle drift and speech bobs make smaller zigzags than this
SWING_MAX_S = 0.8          # s between swings half done: half a nod or a shake (corpus <= 0.6 s); a held pose longer
NOD_MIN, SHAKE_MIN = 0.08, 0.07    # the corpus's smallest nods and shakes swing ~0.12; no-nod clips < 0.045
STILL_MAX = 0.08           # a still head's largest swing: median 0.044; a head motion's >= 0.17
TILT_MIN = 0.06            # mean roll of the middle (3.4 deg): tilts reach >= 0.073, others stay < 0.02
LOOK_MIN_YAW = 0.22        # gaze yaw (13 deg): idle saccades wander twice as far sideways as up or down,
LOOK_MIN_PITCH = 0.12      # so looks to a side need more than looks up or down (7 deg)
BACK_FRACTION = 0.35       # "and back": the gaze ends within this share of the excursion from where it usually is
LAUGH_FLOOR = 0.05         # RMS velocity (a second) of the pulse band: smaller pulses do not show
LAUGH_MIN = 0.8            # share of the quick motion at the 'ha-ha' rate: laughs >= 0.87, twitches/talk < 0.75
TREMBLE_MIN = 0.03         # 6-11 Hz RMS of chin against lower lip: trembles >= 0.16, other clips < 0.02
ROLL_MIN = 200.0           # degrees round the centre: eye rolls sweep 225-410, glances and darts < 65
SIGH_LIFT, SIGH_DROP, SIGH_LIDS = 0.03, 0.06, 0.08   # a sigh: head lift, the drop after it, lids lowered
BLINK_RISE, BLINK_PEAK, BLINK_MAX_S = 0.4, 0.6, 0.8  # a blink closes the lids by 0.4 to >= 0.6 for <= 0.8 s
CLOSED_LID, CLOSED_S = 0.8, 0.6    # eyes closed: lids >= 0.8 for >= 0.6 s (a slow blink holds < 0.2 s)
JAW_OPEN, JAW_SHUT = 0.12, 0.05    # jaw radians at the 90th percentile: open recipes >= 0.15, closed ones < 0.03
DART_DEGREES, DART_SPEED, DART_MIN = 8.0, 60.0, 4    # saccades >= 8 deg at >= 60 deg/s; darting makes >= 4

CHECK_KINDS = ("channels_up", "channels_low", "intensity", "side", "head", "look", "dynamic", "blinks",
               "eyes_closed", "jaw_open", "darting_eyes")
HEAD_VALUES = ("nod", "shake", "still", "tilt_left", "tilt_right")
LOOK_VALUES = ("left", "right", "up", "down")
DYNAMIC_VALUES = ("laugh_pulses", "lip_tremble", "eye_roll", "sigh_breath")


# -- signals ----------------------------------------------------------------------------------------
class Signals:
    """What the checks read from one clip, computed once: channels by name, the head's and the
    gaze's pitch / yaw / roll (radians, conventions above), the eyes in the head, the jaw."""

    def __init__(self, clip):
        self.fps = float(clip.fps)
        self.expr = np.asarray(clip.expr, np.float64)
        self.index = {n: i for i, n in enumerate(clip.expr_names)}
        pose = np.asarray(clip.pose, np.float64)
        self.T = len(pose)
        head = axis_angle_to_matrix(pose[:, 0]) @ axis_angle_to_matrix(pose[:, 1])
        eyes = axis_angle_to_matrix(0.5 * (pose[:, 3] + pose[:, 4]))
        self.head = _angles(head)                        # [T,3] pitch, yaw, roll
        self.gaze = _angles(head @ eyes)
        self.eyes = 0.5 * (pose[:, 3, :2] + pose[:, 4, :2])    # eye-in-head pitch, yaw
        self.jaw = pose[:, 2, 0]

    def ch(self, names) -> np.ndarray:
        """[T, n] of the named channels; KeyError naming the ones the clip's head lacks."""
        missing = [n for n in names if n not in self.index]
        if missing:
            raise KeyError(f"the clip has no channel {', '.join(missing)}; prompt checks need ARKit channel names")
        return self.expr[:, [self.index[n] for n in names]]

    def middle(self, x: np.ndarray) -> np.ndarray:
        a, b = int(MIDDLE[0] * self.T), max(int(MIDDLE[0] * self.T) + 1, int(MIDDLE[1] * self.T))
        return x[a:b]


def _angles(R: np.ndarray) -> np.ndarray:
    """[T,3,3] rotations -> [T,3] (pitch, yaw, roll): where the face's forward axis (+z) points
    (+pitch down, +yaw to the character's left) and how far its up axis leans (+roll: to the right)."""
    fwd, up = R[:, :, 2], R[:, :, 1]
    yaw = np.arctan2(fwd[:, 0], fwd[:, 2])
    pitch = np.arctan2(-fwd[:, 1], np.hypot(fwd[:, 0], fwd[:, 2]))
    roll = np.arctan2(-up[:, 0], up[:, 1])
    return np.stack([pitch, yaw, roll], 1)


def _smooth(x: np.ndarray, n: int = 3) -> np.ndarray:
    if len(x) < n:
        return x
    return np.convolve(np.pad(x, n // 2, mode="edge"), np.ones(n) / n, mode="valid")


def _running_min(x: np.ndarray, w: int) -> np.ndarray:
    """Min over +-w samples: takes out bumps shorter than 2w + 1 samples (blinks, from a lid)."""
    return np.lib.stride_tricks.sliding_window_view(np.pad(x, w, mode="edge"), 2 * w + 1).min(1)


def _swings(x: np.ndarray, fps: float, h: float = SWING_HYSTERESIS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(signed sizes, mid times in seconds, end frames) of the swings between the alternating extrema
    of x that are >= h apart (a zigzag filter); a swing's mid time is when it is half done. A nod is a +
    swing (chin down) then a - swing, a shake three alternating yaw swings, each half done soon
    after the one before (a held pose that comes and goes stays down much longer)."""
    x = _smooth(np.asarray(x, float))
    pts, at, direction, cand, cand_at = [], [], 0, 0.0, 0
    lo = hi = x[0]
    lo_at = hi_at = 0
    for i, v in enumerate(x):
        if direction == 0:                       # until the first swing of h: which way it starts
            if v > hi:
                hi, hi_at = v, i
            if v < lo:
                lo, lo_at = v, i
            if hi - lo >= h:
                first = (lo, lo_at, 1, hi, hi_at) if lo_at < hi_at else (hi, hi_at, -1, lo, lo_at)
                pts, at, direction, cand, cand_at = [first[0]], [first[1]], first[2], first[3], first[4]
        elif direction * (v - cand) > 0:         # the swing goes on
            cand, cand_at = v, i
        elif direction * (cand - v) >= h:        # it turned by h: the candidate was an extremum
            pts.append(cand)
            at.append(cand_at)
            direction, cand, cand_at = -direction, v, i
    if direction:
        pts.append(cand)
        at.append(cand_at)
    mids = [a + int(np.argmax((x[a:b + 1] - p) / (q - p) >= 0.5)) for a, b, p, q in zip(at, at[1:], pts, pts[1:])]
    return np.diff(pts), np.asarray(mids, float) / fps, np.asarray(at[1:], int)


def _band_rms(x: np.ndarray, fps: float, lo: float, hi: float) -> float:
    """RMS of x's part between lo and hi Hz (an FFT mask on the detrended, tapered signal)."""
    x = np.asarray(x, float)
    if len(x) < 8:
        return 0.0
    x = (x - np.linspace(x[0], x[-1], len(x))) * np.hanning(len(x)) * np.sqrt(8 / 3)
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(len(x), 1 / fps)
    spec[(f < lo) | (f > hi)] = 0
    return float(np.sqrt(np.mean(np.fft.irfft(spec, len(x)) ** 2)))


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[(start, end)) of the True runs of a boolean array."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return list(zip(edges[::2], edges[1::2]))


# -- the measures -------------------------------------------------------------------------------------
def channel_level(sig: Signals, names) -> float:
    """Mean over the clip's middle of the channels' held level: their mean with bumps shorter than
    HELD_S taken out (a running min), so that blinks, twitches and flashes do not count as a held
    face, nor a blink as heavy lids."""
    return float(sig.middle(_running_min(sig.ch(names).mean(1), max(1, round(HELD_S * sig.fps / 2)))).mean())


def channel_peak(sig: Signals, names) -> float:
    """The channels' apex: the 95th percentile of their mean over the clip (a blink-long spike does not count)."""
    return float(np.percentile(sig.ch(names).mean(1), 95))


def side_ratio(sig: Signals, prefixes=None) -> float:
    """(L - R) / max(L + R, SIDE_FLOOR) over the middle of the sided channel pairs (all of them, or
    those whose names start with one of `prefixes`): + the character's left, - the right. The floor
    keeps an almost neutral face (a faint uneven twitch) from reading as one-sided."""
    pairs = [(n, n[:-4] + "Right") for n in sig.index if n.endswith("Left") and n[:-4] + "Right" in sig.index]
    if prefixes:
        pairs = [p for p in pairs if p[0].startswith(tuple(prefixes))]
    if not pairs:
        raise KeyError(f"the clip has no Left/Right channel pairs (prefixes {prefixes}); checks need ARKit names")
    left = sig.middle(sig.ch([a for a, _ in pairs])).mean(0).sum()
    right = sig.middle(sig.ch([b for _, b in pairs])).mean(0).sum()
    return float((left - right) / max(left + right, SIDE_FLOOR))


def nod_size(sig: Signals) -> float:
    """The smaller swing of the best chin-down-then-up pair of head pitch (radians)."""
    sw, mid, _ = _swings(sig.head[:, 0], sig.fps)
    quick = np.diff(mid) <= SWING_MAX_S
    pairs = [min(sw[k], -sw[k + 1]) for k in range(len(sw) - 1) if sw[k] > 0 > sw[k + 1] and quick[k]]
    return float(max(pairs, default=0.0))


def shake_size(sig: Signals) -> float:
    """The smallest of the best three alternating swings of head yaw (radians)."""
    sw, mid, _ = _swings(sig.head[:, 1], sig.fps)
    quick = np.diff(mid) <= SWING_MAX_S
    return float(max((np.abs(sw[k:k + 3]).min() for k in range(len(sw) - 2) if quick[k:k + 2].all()), default=0.0))


def head_swing(sig: Signals) -> float:
    """The largest swing of the head on any axis (radians): ~0 for a head that stays put."""
    return float(max((np.abs(_swings(sig.head[:, k], sig.fps)[0]).max(initial=0.0) for k in range(3))))


def tilt(sig: Signals) -> float:
    """Mean roll over the middle, + to the right."""
    return float(sig.middle(sig.head[:, 2]).mean())


_LOOK = {"left": (1, 1.0), "right": (1, -1.0), "up": (0, -1.0), "down": (0, 1.0)}


def look_peak(sig: Signals, where: str) -> tuple[float, float, float]:
    """(how far the gaze goes towards `where` at its 90th percentile, its median, where it ends:
    the last 0.2 s), radians, + towards `where`."""
    axis, sign = _LOOK[where]
    g = sign * sig.gaze[:, axis]
    return float(np.percentile(g, 90)), float(np.median(g)), float(g[-max(1, int(0.2 * sig.fps)):].mean())


def laugh_rhythm(sig: Signals) -> float:
    """How regular the cheeks', smile's and lid squint's quick motion is: the share of their
    velocity's RMS above 1.5 Hz that lies in 3.5-6.5 Hz, the 'ha-ha' rate (0 when that motion
    is too small to see, < LAUGH_FLOOR). A laugh pulses there; a twitch or a blink is broadband."""
    x = sig.ch(["cheekSquintLeft", "cheekSquintRight", "mouthSmileLeft", "mouthSmileRight", "eyeSquintLeft",
                "eyeSquintRight"]).mean(1)
    v = np.diff(x) * sig.fps
    band, total = _band_rms(v, sig.fps, 3.5, 6.5), _band_rms(v, sig.fps, 1.5, 12.5)
    return band / total if band >= LAUGH_FLOOR else 0.0


def tremble_rhythm(sig: Signals) -> float:
    """RMS of the chin (mouthShrugLower) against the lower lip's drop in 6-11 Hz: a trembling lip
    alternates them; speech moves the lip at the syllable rate (3.5-5.5 Hz) and not the chin."""
    x = sig.ch(["mouthShrugLower"])[:, 0] - sig.ch(["mouthLowerDownLeft", "mouthLowerDownRight"]).mean(1)
    return _band_rms(x, sig.fps, 6.0, 11.0)


def roll_sweep(sig: Signals) -> float:
    """Degrees the eyes travel round the centre during an excursion of > 0.1 rad that looks up
    (0 when none does): ~300 for an eye roll, small for a look to one side."""
    g = sig.eyes
    far = np.hypot(g[:, 0], g[:, 1]) > 0.1
    best = 0.0
    for a, b in _runs(far):
        if b - a >= 3 and g[a:b, 0].min() < -0.1:
            ang = np.unwrap(np.arctan2(g[a:b, 1], g[a:b, 0]))
            best = max(best, float(np.degrees(np.abs(ang - ang[0]).max())))
    return best


def sigh_size(sig: Signals) -> float:
    """How well the clip shows a sigh's breath, in units of the thresholds (>= 1 passes): the head
    lifts (chin up, >= SIGH_LIFT), then drops (>= SIGH_DROP), and the lids are lower at the bottom
    than at the top (by >= SIGH_LIDS, blinks ignored). A nod and a laugh's bobs move the head that
    way too, but leave the lids alone; a look down never lifts first."""
    sw, _, end = _swings(sig.head[:, 0], sig.fps)
    lids = _running_min(sig.ch(["eyeBlinkLeft", "eyeBlinkRight"]).mean(1), max(1, int(0.2 * sig.fps)))
    best = 0.0
    for k in range(len(sw) - 1):
        if sw[k] < 0 < sw[k + 1]:
            lower = lids[end[k + 1]] - lids[end[k]]
            best = max(best, min(-sw[k] / SIGH_LIFT, sw[k + 1] / SIGH_DROP, lower / SIGH_LIDS))
    return float(best)


def blink_count(sig: Signals) -> int:
    """Blinks of both lids: the smaller lid closes to >= BLINK_PEAK for at most BLINK_MAX_S (longer
    is eyes closed, not a blink), BLINK_RISE above where it is in the half second either side."""
    lid = sig.ch(["eyeBlinkLeft", "eyeBlinkRight"]).min(1)
    w = max(1, int(0.5 * sig.fps))
    n = 0
    for a, b in _runs(lid >= BLINK_PEAK):
        around = min(lid[max(0, a - w):a].min(initial=np.inf), lid[b:b + w].min(initial=np.inf))
        n += (b - a) / sig.fps <= BLINK_MAX_S and lid[a:b].max() - around >= BLINK_RISE
    return n


def closed_seconds(sig: Signals) -> float:
    """The longest time both lids stay >= CLOSED_LID, seconds."""
    lid = sig.ch(["eyeBlinkLeft", "eyeBlinkRight"]).min(1)
    return max((b - a for a, b in _runs(lid >= CLOSED_LID)), default=0) / sig.fps


def jaw_level(sig: Signals) -> float:
    """Jaw opening (radians) at its 90th percentile: a mouth that opens for a good part of the clip."""
    return float(np.percentile(sig.jaw, 90))


def saccade_count(sig: Signals) -> int:
    """Quick jumps of the eyes (>= DART_SPEED deg/s for at most 0.12 s) that move them >= DART_DEGREES:
    a look or a glance makes one or two, darting eyes many; the smooth sweep of an eye roll and the
    eyes' counter-turn in a head shake last longer than a saccade."""
    deg = np.degrees(sig.eyes)
    speed = np.hypot(*np.diff(deg, axis=0).T) * sig.fps
    longest = max(1, round(0.12 * sig.fps))
    return sum(1 for a, b in _runs(speed >= DART_SPEED)
               if b - a <= longest and np.hypot(*(deg[b] - deg[a])) >= DART_DEGREES)


# -- checks -------------------------------------------------------------------------------------------
_VALUES = {"intensity": ("faint", "strong"), "side": ("left", "right"), "head": HEAD_VALUES, "look": LOOK_VALUES,
           "dynamic": DYNAMIC_VALUES, "eyes_closed": (True, False), "jaw_open": (True, False),
           "darting_eyes": (True, False)}


def _kind(spec: dict) -> str:
    """The check's kind; ValueError for a check this module does not know how to measure."""
    kind = next((k for k in spec if k in CHECK_KINDS), None) if isinstance(spec, dict) else None
    if kind is None:
        raise ValueError(f"check {spec} names no known kind; known: {', '.join(CHECK_KINDS)}")
    v = spec[kind]
    if kind in _VALUES and v not in _VALUES[kind]:
        raise ValueError(f"check {spec}: {kind} must be one of {_VALUES[kind]}")
    names_ok = isinstance(v, list) and v and all(isinstance(n, str) for n in v)
    if kind in ("channels_up", "channels_low") and not names_ok:
        raise ValueError(f"check {spec}: {kind} takes a non-empty list of channel names")
    if kind == "intensity" and not spec.get("channels"):
        raise ValueError(f"check {spec}: intensity needs 'channels'")
    if kind == "blinks" and not (isinstance(v, dict) and v and set(v) <= {"min", "max"}):
        raise ValueError(f"check {spec}: blinks takes {{'min': n}} and/or {{'max': n}}")
    return kind


def check_name(spec: dict) -> str:
    kind = _kind(spec)
    v = spec[kind]
    if kind in ("channels_up", "channels_low"):
        return f"{kind}:{'+'.join(v)}"
    if kind in ("intensity", "side"):
        return f"{kind}:{v}" + (f":{'+'.join(spec['channels'])}" if spec.get("channels") else "")
    if kind == "look" and spec.get("and_back"):
        return f"look:{v}+back"
    if kind == "blinks":
        return "blinks:" + ",".join(f"{k}{v[k]}" for k in ("min", "max") if k in v)
    return f"{kind}:{v}" if not isinstance(v, bool) else f"{kind}:{str(v).lower()}"


def _one(sig: Signals, spec: dict) -> tuple[bool, float]:
    kind = _kind(spec)
    v = spec[kind]
    if kind == "channels_up":
        x = channel_level(sig, v)
        return x >= UP_MIN, x
    if kind == "channels_low":
        x = channel_level(sig, v)
        return x <= LOW_MAX, x
    if kind == "intensity":
        x = channel_peak(sig, spec["channels"])
        return (x <= FAINT_MAX if v == "faint" else x >= STRONG_MIN), x
    if kind == "side":
        x = side_ratio(sig, spec.get("channels")) * (1 if v == "left" else -1)
        return x >= SIDE_MIN, x
    if kind == "head":
        if v == "nod":
            x = nod_size(sig)
            return x >= NOD_MIN, x
        if v == "shake":
            x = shake_size(sig)
            return x >= SHAKE_MIN, x
        if v == "still":
            x = head_swing(sig)
            return x <= STILL_MAX, x
        x = tilt(sig) * (-1 if v == "tilt_left" else 1)
        return x >= TILT_MIN, x
    if kind == "look":
        peak, usual, end = look_peak(sig, v)
        least = LOOK_MIN_YAW if v in ("left", "right") else LOOK_MIN_PITCH
        if not spec.get("and_back"):
            return peak >= least, peak
        # there and back: an excursion from where the gaze usually is, ending back there
        x = peak - usual
        return x >= least and abs(end - usual) <= BACK_FRACTION * x, x
    if kind == "dynamic":
        x, lo = {"laugh_pulses": (laugh_rhythm, LAUGH_MIN), "lip_tremble": (tremble_rhythm, TREMBLE_MIN),
                 "eye_roll": (roll_sweep, ROLL_MIN), "sigh_breath": (sigh_size, 1.0)}[v]
        x = x(sig)
        return x >= lo, x
    if kind == "blinks":
        n = blink_count(sig)
        return v.get("min", 0) <= n <= v.get("max", 1 << 30), float(n)
    if kind == "eyes_closed":
        x = closed_seconds(sig)
        return (x >= CLOSED_S) == bool(v), x
    if kind == "jaw_open":
        x = jaw_level(sig)
        return (x >= JAW_OPEN if v else x <= JAW_SHUT), x
    x = float(saccade_count(sig))                    # darting_eyes
    return (x >= DART_MIN) == bool(v), x


def check(clip, expect) -> list[tuple[str, bool, float]]:
    """[(check name, ok, measured value)] for each check of `expect` on `clip`."""
    sig = clip if isinstance(clip, Signals) else Signals(clip)
    out = []
    for spec in expect:
        ok, value = _one(sig, spec)
        out.append((check_name(spec), bool(ok), float(value)))
    return out


def passes(clip, expect) -> bool:
    return all(ok for _, ok, _ in check(clip, expect))


# -- the prompt suite -----------------------------------------------------------------------------------
def load_prompts(path=PROMPTS_FILE) -> list[dict]:
    """The prompt file's entries; ValueError naming the first bad one."""
    data = json.loads(Path(path).read_text())
    entries = data["prompts"] if isinstance(data, dict) else data
    for k, e in enumerate(entries):
        if not isinstance(e.get("prompt"), str) or not e.get("expect"):
            raise ValueError(f"{path}: entry {k} needs a 'prompt' string and a non-empty 'expect' list")
        for spec in e["expect"]:
            _kind(spec)
    return entries


def _generate(generate_fn, texts, seconds, seed):
    takes_seed = "seed" in inspect.signature(generate_fn).parameters
    return generate_fn(texts, seconds, seed=seed) if takes_seed else generate_fn(texts, seconds)


def run_suite(generate_fn, prompts=None, seed: int = 0) -> dict:
    """Generate every prompt (grouped by length) and check it. generate_fn(texts, seconds[, seed])
    -> list of MotionClip. Returns {"n", "passed", "share", "per_kind": {kind: {"n", "passed",
    "share"}}, "failures": [{"prompt", "failed": [(name, value)]}], "results": [...]}."""
    prompts = load_prompts() if prompts is None else prompts
    by_len = defaultdict(list)
    for k, e in enumerate(prompts):
        by_len[float(e.get("seconds", 4.0))].append(k)
    clips = [None] * len(prompts)
    for seconds, ks in by_len.items():
        out = _generate(generate_fn, [prompts[k]["prompt"] for k in ks], seconds, seed)
        if len(out) != len(ks):
            raise ValueError(f"generate_fn returned {len(out)} clips for {len(ks)} prompts")
        for k, c in zip(ks, out):
            clips[k] = c
    per_kind = defaultdict(lambda: [0, 0])
    results, failures = [], []
    for e, clip in zip(prompts, clips):
        res = check(clip, e["expect"])
        for spec, (_, ok, _) in zip(e["expect"], res):
            per_kind[_kind(spec)][0] += 1
            per_kind[_kind(spec)][1] += ok
        ok = all(r[1] for r in res)
        results.append({"prompt": e["prompt"], "ok": ok, "checks": res})
        if not ok:
            failures.append({"prompt": e["prompt"], "failed": [(n, v) for n, o, v in res if not o]})
    passed = sum(r["ok"] for r in results)
    return {"n": len(results), "passed": passed, "share": passed / max(1, len(results)),
            "per_kind": {k: {"n": n, "passed": p, "share": p / n} for k, (n, p) in sorted(per_kind.items())},
            "failures": failures, "results": results}


# -- controllability: one word changed ----------------------------------------------------------------
# Each pair: two prompts that differ in one word (or phrase), the measure that word controls and
# the sign its change must have (b minus a), by at least `min`, a change one sees: about a check
# threshold, or twice one where the word swaps sides (left to right). Measures: "channels" (their
# level over the middle), "channels_minus" (one group's level minus another's), "side" (side_ratio,
# + left), "nod_minus_shake" (nod_size - shake_size), "tilt" (+ right), "gaze_pitch" (+ down) /
# "gaze_yaw" (+ left), means over the middle, "jaw" (jaw_level), "laugh" (laugh_rhythm).
PAIRS = (
    {"a": "she looks happy", "b": "she looks angry", "measure": "channels_minus",
     "channels": ["browDownLeft", "browDownRight"], "minus": ["mouthSmileLeft", "mouthSmileRight"],
     "sign": 1, "min": 0.2},
    {"a": "slightly smiling", "b": "extremely smiling", "measure": "channels",
     "channels": ["mouthSmileLeft", "mouthSmileRight"], "sign": 1, "min": 0.2},
    {"a": "he nods", "b": "he shakes his head", "measure": "nod_minus_shake", "sign": -1, "min": 0.08},
    {"a": "tilts her head to the left", "b": "tilts her head to the right", "measure": "tilt", "sign": 1,
     "min": 0.12},
    {"a": "a smirk on the left side of his mouth", "b": "a smirk on the right side of his mouth",
     "measure": "side", "channels": ["mouth"], "sign": -1, "min": 0.3},
    {"a": "looks up", "b": "looks down", "measure": "gaze_pitch", "sign": 1, "min": 0.15},
    {"a": "turns to look left", "b": "turns to look right", "measure": "gaze_yaw", "sign": -1, "min": 0.2},
    {"a": "winks with his left eye", "b": "winks with his right eye", "measure": "side", "channels": ["eyeBlink"],
     "sign": -1, "min": 0.3},
    {"a": "eyes open, calm", "b": "eyes closed, calm", "measure": "channels",
     "channels": ["eyeBlinkLeft", "eyeBlinkRight"], "sign": 1, "min": 0.25},
    {"a": "mouth closed, surprised", "b": "mouth wide open, surprised", "measure": "jaw", "sign": 1, "min": 0.05},
    {"a": "sad", "b": "surprised", "measure": "channels", "channels": ["browOuterUpLeft", "browOuterUpRight",
                                                                        "eyeWideLeft", "eyeWideRight"],
     "sign": 1, "min": 0.15},
    {"a": "smiling quietly", "b": "laughing out loud", "measure": "laugh", "sign": 1, "min": 0.3},
)


def pair_measure(clip, pair: dict) -> float:
    sig = clip if isinstance(clip, Signals) else Signals(clip)
    m = pair["measure"]
    if m == "channels":
        return channel_level(sig, pair["channels"])
    if m == "channels_minus":
        return channel_level(sig, pair["channels"]) - channel_level(sig, pair["minus"])
    if m == "side":
        return side_ratio(sig, pair.get("channels"))
    if m == "nod_minus_shake":
        return nod_size(sig) - shake_size(sig)
    if m == "tilt":
        return tilt(sig)
    if m in ("gaze_pitch", "gaze_yaw"):
        return float(sig.middle(sig.gaze[:, 0 if m == "gaze_pitch" else 1]).mean())
    if m == "jaw":
        return jaw_level(sig)
    if m == "laugh":
        return laugh_rhythm(sig)
    raise ValueError(f"pair measure {m!r} is not known")


def check_pair(clip_a, clip_b, pair: dict) -> tuple[bool, float]:
    """(ok, change): the pair's measure on b minus on a, ok when it has the pair's sign and size."""
    change = pair_measure(clip_b, pair) - pair_measure(clip_a, pair)
    return bool(pair["sign"] * change >= pair["min"]), float(change)


def run_pairs(generate_fn, pairs=PAIRS, seconds: float = 4.0, seed: int = 0) -> dict:
    """Generate both prompts of every pair and check it: {"n", "passed", "share", "results":
    [{"a", "b", "ok", "change"}]}."""
    texts = [t for p in pairs for t in (p["a"], p["b"])]
    clips = _generate(generate_fn, texts, seconds, seed)
    results = []
    for k, p in enumerate(pairs):
        ok, change = check_pair(clips[2 * k], clips[2 * k + 1], p)
        results.append({"a": p["a"], "b": p["b"], "ok": ok, "change": change})
    passed = sum(r["ok"] for r in results)
    return {"n": len(results), "passed": passed, "share": passed / max(1, len(results)), "results": results}
