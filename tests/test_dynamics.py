"""Corpus v2 dynamics, glances, darting eyes and sides in the motion renderer (issue 11):
each pattern checked by a signature one can measure on the rendered clip."""
import numpy as np
import pytest

from training.corpus import motion
from training.corpus.dynamics import DESCRIPTOR_DYNAMICS, dynamic_of
from training.corpus.labels import DYNAMICS, check_labels
from training.corpus.lexicon import by_name

FPS = 25.0
LAY = motion.layout()


def labels_for(descriptor, intensity="strong", motion_="still", micro=(), transition=None, tempo="normal",
               side=None, T=125, dynamic="auto"):
    d = by_name(descriptor)
    return check_labels({
        "family": d.family, "descriptor": descriptor, "side": side or d.side,
        "dynamic": dynamic_of(descriptor) if dynamic == "auto" else dynamic, "intensity": intensity,
        "tempo": tempo, "head": {"motion": motion_, "count": None}, "micro": list(micro), "transition": transition,
        "talking": False, "subject": "a person", "fps": FPS, "num_frames": T})


def render(labels, seed=0):
    return motion.render(labels, np.random.default_rng(seed))


def spectral_peak(x, fmin=2.0):
    """Frequency (Hz) of the largest spectral peak of x's velocity above fmin (the velocity
    keeps an expression's slow onset and offset from outweighing its rhythm)."""
    v = np.diff(np.asarray(x, float))
    n = 2048                                               # zero-padded: ~0.01 Hz bins
    power = np.abs(np.fft.rfft((v - v.mean()) * np.hanning(len(v)), n)) ** 2
    f = np.fft.rfftfreq(n, 1 / FPS)
    return float(f[f >= fmin][np.argmax(power[f >= fmin])])


def ch(*names):
    return LAY.ch(*names)


def test_table_uses_known_descriptors_and_dynamics():
    assert set(DESCRIPTOR_DYNAMICS.values()) == set(DYNAMICS)        # every dynamic has descriptors
    for name in DESCRIPTOR_DYNAMICS:
        by_name(name)                                                # raises for a name not in the lexicon
    assert tuple(motion.DYNAMIC_RENDERERS) == DYNAMICS


# -- laughter ---------------------------------------------------------------------------------------
def _bursts(jaw):
    """Groups (>= 3) of prominent jaw peaks less than 0.33 s apart: the pulses of one burst."""
    pk = np.flatnonzero((jaw[1:-1] > jaw[:-2]) & (jaw[1:-1] >= jaw[2:])) + 1
    prominence = np.array([jaw[i] - max(jaw[max(0, i - 3):i].min(), jaw[i + 1:i + 4].min()) for i in pk])
    pk = pk[prominence > 0.1 * jaw.max()]
    groups = [[pk[0]]] if len(pk) else []
    for a, b in zip(pk[:-1], pk[1:]):
        groups[-1].append(b) if b - a <= 8 else groups.append([b])
    return [g for g in groups if len(g) >= 3]


@pytest.mark.parametrize("name", ["laugh", "belly laugh", "chuckle", "giggle"])
def test_laugh_jaw_pulses_at_4_to_6_hz_and_decay_within_a_burst(name):
    peaks, ratios = [], []
    for seed in range(6):
        for intensity in ("mild", "strong", "extreme"):
            pose, expr = render(labels_for(name, intensity, T=110 + 5 * seed), seed)
            jaw = pose[:, 2, 0]
            peaks.append(spectral_peak(jaw))
            cheek = expr[:, ch("cheekSquintLeft")[0]]
            assert 4.0 <= spectral_peak(cheek) <= 6.0                # the cheeks pulse with the jaw
            ratios += [jaw[g[-1]] / jaw[g[0]] for g in _bursts(jaw)]
    assert 4.0 <= min(peaks) and max(peaks) <= 6.0, peaks
    assert len(ratios) >= 6 and max(ratios) < 1.0 and np.mean(ratios) < 0.85, ratios   # each burst decays


def test_head_pulses_with_the_laugh_and_chuckles_are_smaller_than_belly_laughs():
    def sizes(name):
        jaw, head = [], []
        for seed in range(5):
            pose, _ = render(labels_for(name, "strong"), seed)
            jaw.append(np.ptp(np.diff(pose[40:, 2, 0])))
            head.append(np.ptp(np.diff(pose[40:, 1, 0])))
            assert 4.0 <= spectral_peak(pose[:, 1, 0]) <= 6.0      # the head bobs at the laugh's rate
        return np.mean(jaw), np.mean(head)
    (jc, hc), (jb, hb) = sizes("chuckle"), sizes("belly laugh")
    assert jc < 0.3 * jb and hc < 0.5 * hb, (jc, jb, hc, hb)


def test_suppressed_laugh_pulses_without_opening_the_jaw():
    pose, expr = render(labels_for("suppressed laugh"), 3)
    assert pose[:, 2, 0].max() < 0.02                                 # lips stay shut
    assert 4.0 <= spectral_peak(expr[:, ch("mouthPressLeft")[0]]) <= 6.0


def test_without_the_dynamic_a_laugh_just_opens():
    pose, _ = render(labels_for("laugh", dynamic=None), 0)
    assert not 4.0 <= spectral_peak(pose[:, 2, 0]) <= 6.0 or np.ptp(np.diff(pose[50:, 2, 0])) < 0.01


# -- lip tremble ------------------------------------------------------------------------------------
def test_lip_tremble_oscillates_faster_than_5_hz_with_a_jittery_amplitude():
    for seed in range(6):
        _, expr = render(labels_for("lip quiver", ("mild", "strong", "extreme")[seed % 3]), seed)
        chin = expr[:, ch("mouthShrugLower")[0]]
        lip = expr[:, ch("mouthLowerDownLeft")[0]]
        assert 6.0 <= spectral_peak(chin) <= 10.5 and 6.0 <= spectral_peak(lip) <= 10.5
        swing = np.abs(np.diff(chin[50:]))
        assert swing.mean() > 0.03                                    # visible, every frame
        per_cycle = swing[: len(swing) // 4 * 4].reshape(-1, 4).max(1)
        assert per_cycle.std() / per_cycle.mean() > 0.1               # not a steady sine
    _, steady = render(labels_for("lip quiver", dynamic=None), 0)
    assert np.abs(np.diff(steady[50:, ch("mouthShrugLower")[0]])).mean() < 0.01


# -- eye roll ---------------------------------------------------------------------------------------
def _roll_sweep(gaze):
    """Degrees the gaze direction turns round the centre during its longest excursion > 0.1 rad."""
    far = np.hypot(gaze[:, 0], gaze[:, 1]) > 0.1
    runs = np.split(np.flatnonzero(far), np.flatnonzero(np.diff(np.flatnonzero(far)) > 1) + 1)
    run = max(runs, key=len)
    return float(np.degrees(np.ptp(np.unwrap(np.arctan2(gaze[run, 1], gaze[run, 0]))))), run


def test_eye_roll_travels_a_circle_ends_up_and_returns():
    for seed in range(12):
        labels = labels_for("eye roll", ("subtle", "strong", "extreme")[seed % 3], T=100 + 4 * seed,
                            tempo=("slow", "normal", "fast")[seed % 3], side=("left", "right")[seed % 2])
        pose, expr = render(labels, seed)
        gaze = pose[:, 3, :2].astype(float)
        sweep, run = _roll_sweep(gaze)
        assert sweep >= 270, (seed, sweep)
        assert gaze[run, 0].max() > 0.1 and gaze[run, 0].min() < -0.15      # below and above the centre
        assert gaze[run, 1].max() > 0.15 and gaze[run, 1].min() < -0.15     # and both sides
        top = run[np.argmin(gaze[run, 0])]                                  # it ends looking up ...
        turned = np.unwrap(np.arctan2(gaze[run[0]:top + 1, 1], gaze[run[0]:top + 1, 0]))
        assert np.degrees(abs(turned[-1] - turned[0])) > 240 and (gaze[top:top + 5, 0] < -0.1).all()
        assert np.hypot(*gaze[-1]) < 0.1                                    # ... and comes back
        assert np.array_equal(pose[:, 3], pose[:, 4])                       # both eyes together


def test_eye_roll_turns_the_other_way_on_the_other_side():
    def turn(side):
        pose, _ = render(labels_for("eye roll", side=side), 4)
        gaze = pose[:, 3, :2].astype(float)
        _, run = _roll_sweep(gaze)
        return np.sign(np.unwrap(np.arctan2(gaze[run, 1], gaze[run, 0]))[-1] -
                       np.arctan2(gaze[run[0], 1], gaze[run[0], 0]))
    assert turn("left") == -turn("right") != 0


# -- sigh -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["sigh", "sigh of relief"])
def test_sigh_lifts_the_head_then_drops_it_and_lowers_the_lids(name):
    for seed in range(5):
        pose, expr = render(labels_for(name, tempo=("slow", "normal", "fast")[seed % 3]), seed)
        pitch = pose[:, 1, 0]
        up, down = int(np.argmin(pitch)), int(np.argmax(pitch))
        assert pitch[up] < -0.04 and pitch[down] > 0.05 and up < down, (seed, pitch[up], pitch[down])
        lids = expr[:, ch("eyeBlinkLeft", "eyeBlinkRight")].mean(1)
        assert lids[down] > lids[up] + 0.15                            # lids lower on the exhale
        assert pitch[-1] > 0.02                                        # the head stays partly down


# -- glances ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("motion_,sign", [("glance_left", 1), ("glance_right", -1)])
def test_glance_goes_to_one_side_eyes_leading_further_and_returns(motion_, sign):
    for seed in range(6):
        pose, _ = render(labels_for("neutral", "moderate", motion_, tempo=("slow", "normal", "fast")[seed % 3]), seed)
        yaw, eyes = sign * pose[:, 1, 1], sign * pose[:, 3, 1]
        assert yaw.max() > 0.12 and abs(yaw[-1]) < 0.05, (seed, yaw.max(), yaw[-1])
        assert eyes.max() > 0.1 and (yaw + eyes).max() > yaw.max() + 0.1   # the eyes look further than the head
        first_eyes, first_head = np.argmax(eyes > 0.1), np.argmax(yaw > 0.06)
        assert first_eyes < first_head                                 # and they go first
        assert abs(eyes[-5:]).max() < 0.2                              # both come back


# -- darting eyes -----------------------------------------------------------------------------------
def test_darting_eyes_saccades_of_10_to_25_degrees_between_fixations():
    amplitudes, fixations = [], []
    for seed in range(12):
        s, e = 20 + seed, 55 + 2 * seed
        labels = labels_for(("neutral", "nervous", "curious")[seed % 3], "moderate",
                            micro=[{"type": "darting_eyes", "start": s, "end": e}])
        pose, _ = render(labels, seed)
        base, _ = render(dict(labels, micro=[]), seed)
        changed = np.flatnonzero(np.abs(pose - base).reshape(len(pose), -1).max(1) > 1e-6)
        assert changed.min() >= s and changed.max() <= e              # only inside its window
        gaze = np.degrees(pose[s - 1:e + 2, 3, :2].astype(float))
        speed = np.hypot(*np.diff(gaze, axis=0).T)                     # degrees a frame
        still = np.flatnonzero(speed < 3.0)
        runs = [r for r in np.split(still, np.flatnonzero(np.diff(still) > 1) + 1) if len(r) >= 2]
        spots = [gaze[r[0] + 1:r[-1] + 2].mean(0) for r in runs]
        amplitudes += [float(np.hypot(*(b - a))) for a, b in zip(spots[:-1], spots[1:])]
        fixations += [(len(r) + 1) / FPS for r in runs[1:-1]]          # the ones fully inside the window
    assert len(amplitudes) >= 40
    assert 10.0 <= min(amplitudes) and max(amplitudes) <= 25.0, (min(amplitudes), max(amplitudes))
    assert 0.12 <= min(fixations) and max(fixations) <= 0.45, (min(fixations), max(fixations))


def test_sample_micro_draws_darting_eyes():
    found = []
    for seed in range(300):
        evs = motion.sample_micro(np.random.default_rng(seed), 125, FPS, "anxiety", False)
        found += [ev for ev in evs if ev["type"] == "darting_eyes"]
    assert len(found) >= 5
    assert all(1.0 <= (ev["end"] - ev["start"]) / FPS <= 2.7 for ev in found)


# -- sides ------------------------------------------------------------------------------------------
def test_render_performs_the_labelled_side():
    for name in ("smirk", "wink", "raised eyebrow"):
        native = by_name(name).side
        other = {"left": "right", "right": "left"}[native]
        _, e_native = render(labels_for(name, side=native), 2)
        _, e_other = render(labels_for(name, side=other), 2)
        left = ch(*[n for n in LAY.names if n.endswith("Left") and n[:-4] + "Right" in LAY.index])
        right = ch(*[LAY.names[i][:-4] + "Right" for i in left])
        lean = lambda e: float((e[60:100, left] - e[60:100, right]).sum())        # noqa: E731
        assert np.sign(lean(e_native)) == (1 if native == "left" else -1) == -np.sign(lean(e_other)), name
    # gaze and head tendencies mirror too: "dismissive" turns its head (+yaw, to the left)
    pose_l, _ = render(labels_for("dismissive", side="left"), 1)
    pose_r, _ = render(labels_for("dismissive", side="right"), 1)
    assert pose_l[60:100, 1, 1].mean() > 0.05 and pose_r[60:100, 1, 1].mean() < -0.05


def test_transition_state_performs_its_side_and_dynamic():
    tr = {"family": "joy", "descriptor": "laugh", "intensity": "strong", "frame": 50, "side": "both",
          "dynamic": "laugh_pulses"}
    pose, _ = render(labels_for("neutral", "moderate", transition=tr, T=150), 0)
    assert 4.0 <= spectral_peak(pose[60:, 2, 0]) <= 6.0
    tr = {"family": "contempt", "descriptor": "smirk", "intensity": "strong", "frame": 50, "side": "left"}
    _, expr = render(labels_for("neutral", "moderate", transition=tr, T=150), 0)
    assert expr[100:, ch("mouthSmileLeft")[0]].mean() > expr[100:, ch("mouthSmileRight")[0]].mean() + 0.3


# -- all of it --------------------------------------------------------------------------------------
def test_patterns_are_deterministic_and_inside_the_limits():
    cases = [labels_for(n, i, m, micro=[{"type": "darting_eyes", "start": 30, "end": 70}], side=s, tempo=tp)
             for n, s in (("laugh", None), ("belly laugh", None), ("lip quiver", None), ("eye roll", "right"),
                          ("sigh of relief", None), ("smirk", "left"))
             for i, m, tp in (("extreme", "glance_left", "fast"), ("subtle", "glance_right", "slow"))]
    for labels in cases:
        a, b = render(labels, 7), render(labels, 7)
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
        pose, expr = a
        assert np.isfinite(pose).all() and expr.min() >= 0 and expr.max() <= 1
        assert (pose >= motion.JOINT_LO - 1e-6).all() and (pose <= motion.JOINT_HI + 1e-6).all()
        assert np.abs(pose).max() <= np.pi
        motion.make_clip(labels, np.random.default_rng(7))          # a valid clip
