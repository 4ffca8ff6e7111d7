"""Sides (corpus v2, issue 11): exact mirroring, native sides, rendering on the labelled side."""
import numpy as np
import pytest

from engine.clip import MotionClip
from engine.head import JOINT_NAMES, load_head
from training.corpus import motion
from training.corpus.labels import check_labels
from training.corpus.lexicon import LEXICON, by_name, native_side, sided_regions
from training.corpus.mirror import (
    channel_permutation,
    mirror_clip,
    mirror_labels,
    mirror_recipe,
    on_side,
    twin,
)

EYE_L, EYE_R = JOINT_NAMES.index("eye_left"), JOINT_NAMES.index("eye_right")


def labels_for(descriptor, side=None, intensity="strong", motion_="still", transition=None, T=125):
    d = by_name(descriptor)
    return check_labels({
        "family": d.family, "descriptor": descriptor, "side": side or d.side, "dynamic": None,
        "intensity": intensity, "tempo": "normal", "head": {"motion": motion_, "count": None}, "micro": [],
        "transition": transition, "talking": False, "subject": "a person", "fps": 25.0, "num_frames": T})


def sided_sums(expr, names):
    """(sum over ...Left channels, sum over ...Right channels) of expr [T,K]."""
    left = [i for i, n in enumerate(names) if n.endswith("Left")]
    right = [i for i, n in enumerate(names) if n.endswith("Right")]
    return float(expr[:, left].sum()), float(expr[:, right].sum())


# -- the mirror itself ------------------------------------------------------------------------
def test_twin_and_permutation():
    assert twin("mouthSmileLeft") == "mouthSmileRight" and twin("eyeBlinkRight") == "eyeBlinkLeft"
    assert twin("mouthLeft") == "mouthRight" and twin("jawOpen") == "jawOpen"
    names = load_head().expr_names
    perm = channel_permutation(names)
    assert np.array_equal(perm[perm], np.arange(len(names)))            # an involution
    assert all(names[perm[i]] == twin(n) for i, n in enumerate(names) if twin(n) in names)
    assert sum(perm != np.arange(len(names))) >= 24                      # the head has many sided channels


def test_mirroring_twice_gives_the_clip_back_exactly():
    rng = np.random.default_rng(0)
    names = load_head().expr_names
    T = 60
    labels = {"side": "left", "head": {"motion": "tilt_left", "count": None},
              "transition": {"descriptor": "smirk", "side": "right", "frame": 30}, "descriptor": "wink"}
    clip = MotionClip(pose=rng.uniform(-0.4, 0.4, (T, 5, 3)), expr=rng.uniform(0, 1, (T, len(names))),
                      expr_names=names, transl=rng.normal(0, 0.01, (T, 3)), fps=25.0, text=["a wink"],
                      meta={"labels": labels}).validate()
    once = mirror_clip(clip)
    twice = mirror_clip(once)
    assert not np.array_equal(once.expr, clip.expr) and not np.array_equal(once.pose, clip.pose)
    for key in ("pose", "expr", "transl"):
        assert np.array_equal(getattr(twice, key), getattr(clip, key)), key
    assert twice.expr_names == clip.expr_names and twice.meta == clip.meta and twice.text == clip.text
    assert once.meta["labels"]["side"] == "right" and once.meta["labels"]["head"]["motion"] == "tilt_right"
    assert once.meta["labels"]["transition"]["side"] == "left"
    assert mirror_labels(mirror_labels(labels)) == labels


def test_mirror_swaps_a_left_smirk_to_the_right_and_reflects_the_joints():
    lay = motion.layout()
    names = list(lay.names)
    smirk = by_name("smirk")
    left = on_side(smirk, "left")
    T = 10
    pose = np.zeros((T, 5, 3), np.float32)
    pose[:, 1] = (0.1, 0.2, -0.15)                      # neck pitch, yaw, roll
    pose[:, EYE_L] = (0.05, 0.3, 0.0)                   # eyes looking to the character's left...
    pose[:, EYE_R] = (0.06, 0.25, 0.0)                  # ...each its own way
    clip = MotionClip(pose=pose, expr=np.tile(lay.vec(left.recipe), (T, 1)), expr_names=names, fps=25.0)
    L, R = sided_sums(clip.expr, names)
    assert L > 1.0 and R == 0.0                         # the left smirk is all on the left
    m = mirror_clip(clip)
    L2, R2 = sided_sums(m.expr, names)
    assert (L2, R2) == (R, L)
    assert np.array_equal(m.expr[0], lay.vec(smirk.recipe).astype(np.float32))   # the lexicon's right smirk
    assert np.allclose(m.pose[:, 1], (0.1, -0.2, 0.15))       # pitch kept, yaw and roll negated
    assert np.allclose(m.pose[:, EYE_L], (0.06, -0.25, 0.0))  # eyes trade places, yaw negated
    assert np.allclose(m.pose[:, EYE_R], (0.05, -0.3, 0.0))
    assert np.allclose(mirror_clip(MotionClip(pose=pose, expr=clip.expr, expr_names=names,
                                              transl=np.tile([0.01, 0.02, 0.03], (T, 1)))).transl[0],
                       (-0.01, 0.02, 0.03))


# -- native sides -----------------------------------------------------------------------------
def test_every_asymmetric_descriptor_has_a_native_side_and_both_mirror_forms():
    asym = [d for d in LEXICON if d.asymmetric]
    assert len(asym) >= 15
    assert {d.side for d in asym} == {"left", "right"}
    assert all(d.side == "both" for d in LEXICON if not d.asymmetric)
    for d in LEXICON:
        assert native_side(d) == native_side(d.name) == native_side(d.recipe) == d.side, d.name
    assert by_name("wink").side == "left" and by_name("smirk").side == "right"
    for d in asym:
        other = {"left": "right", "right": "left"}[d.side]
        m = on_side(d, other)
        assert m.side == other and native_side(m.recipe) == other and m.recipe == mirror_recipe(d.recipe)
        assert m.recipe != d.recipe and on_side(m, d.side) == d, d.name
        assert on_side(d, d.side) is d and on_side(d, "both") is d and on_side(d, None) is d
    grin = by_name("grin")
    assert on_side(grin, "left") is grin and on_side(grin, "right") is grin
    # tendencies are mirrored with the recipe: dismissive turns the other way
    dis = by_name("dismissive")
    assert dis.head[1] > 0 and on_side(dis, "right").head == (dis.head[0], -dis.head[1], -dis.head[2])


def test_native_side_needs_a_stronger_side_and_regions_name_each_part():
    assert native_side({"mouthSmileLeft": 0.5, "mouthSmileRight": 0.5}) == "both"
    assert native_side({"mouthLeft": 0.4}) == "left"
    with pytest.raises(ValueError, match="tie"):
        native_side({"mouthSmileLeft": 0.5, "browDownRight": 0.5})
    assert sided_regions("skeptical") == {"brow": "left", "mouth": "right"}       # a raised left brow, a right dimple
    assert sided_regions("skeptical", "left") == {"brow": "right", "mouth": "left"}
    assert sided_regions("wink", "right") == {"eye": "right", "mouth": "right"}
    assert sided_regions("grin") == {}


# -- rendering on the labelled side -----------------------------------------------------------
def test_apex_on_the_other_side_is_the_exact_mirror():
    lay = motion.layout()
    perm = channel_permutation(lay.names)
    for name in ("smirk", "wink", "dismissive", "skeptical"):
        d = by_name(name)
        other = {"left": "right", "right": "left"}[d.side]
        e, jaw, head, gaze = motion.apex(lay, name, "extreme")
        e2, jaw2, head2, gaze2 = motion.apex(lay, name, "extreme", side=other)
        assert np.array_equal(e2, e[perm]) and jaw2 == jaw, name
        assert np.array_equal(head2, head * [1, -1, -1]) and np.array_equal(gaze2, gaze * [1, -1]), name
        e3 = motion.apex(lay, name, "extreme", side=d.side)[0]
        assert np.array_equal(e3, e), name


def test_rendered_clip_performs_the_labelled_side():
    names = list(motion.layout().names)
    for name in ("wink", "wry smile", "smirk", "one-sided sneer"):
        d = by_name(name)
        for side in ("left", "right"):
            _, expr = motion.render(labels_for(name, side), np.random.default_rng(3))
            L, R = sided_sums(expr[40:110], names)
            assert (L > 1.3 * R) if side == "left" else (R > 1.3 * L), (name, d.side, side, L, R)


def test_side_does_not_flip_the_head_motion():
    a = labels_for("wink", "left", motion_="tilt_left")
    b = labels_for("wink", "right", motion_="tilt_left")
    pa, _ = motion.render(a, np.random.default_rng(4))
    pb, _ = motion.render(b, np.random.default_rng(4))
    assert pa[-1, 1, 2] < -0.08 and pb[-1, 1, 2] < -0.08          # both tilt to the left (-roll)


def test_a_transition_is_performed_on_its_own_side():
    names = list(motion.layout().names)
    tr = {"family": "flirtation", "descriptor": "wink", "side": "right", "intensity": "strong", "frame": 60}
    _, expr = motion.render(labels_for("grin", transition=tr, T=150), np.random.default_rng(5))
    blink_l, blink_r = names.index("eyeBlinkLeft"), names.index("eyeBlinkRight")
    late = expr[110:150]
    assert late[:, blink_r].mean() > 0.7 and late[:, blink_l].mean() < 0.3


def test_every_asymmetric_descriptor_shows_its_side_at_every_intensity():
    lay = motion.layout()
    perm = channel_permutation(lay.names)
    for d in LEXICON:
        if d.asymmetric:
            for inten in motion.LEVELS:
                e = motion.apex(lay, d.name, inten)[0]
                assert np.abs(e - e[perm]).sum() / 2 >= 0.05, (d.name, inten)     # one-sided weight at apex


def test_sampled_clips_show_their_labelled_side_region_by_region():
    from training.corpus import synth
    names = list(motion.layout().names)
    region_of = {"brow": ("brow",), "eye": ("eye",), "mouth": ("mouth", "cheek", "nose")}
    checked = 0
    for i in range(2000):
        rngs = synth.clip_rngs(0, i)
        labels = synth.sample_labels(0, i, rngs=rngs)
        if labels["side"] == "both" or labels["transition"]:
            continue
        _, expr = motion.render(labels, rngs[1])
        for region, side in sided_regions(labels["descriptor"], labels["side"]).items():
            if region == "eye" and labels["micro"]:
                continue                                  # blinks close both eyes
            cols = [k for k, n in enumerate(names) if n.startswith(region_of[region])]
            L, R = sided_sums(expr[:, cols], [names[k] for k in cols])
            assert (L > R) == (side == "left"), (i, labels["descriptor"], labels["side"], region, L, R)
            checked += 1
    assert checked > 120
