import numpy as np
import pytest
import torch

from engine.features import feature_dim, features_to_params, params_to_features


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_round_trip_all_angles(backend):
    rng = np.random.default_rng(0)
    axis = rng.standard_normal((200, 5, 3))
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    angle = rng.uniform(0, np.pi - 1e-3, (200, 5, 1))
    angle[:10] = 0.0                                  # the identity too
    pose = (axis * angle).astype(np.float32)
    expr = rng.random((200, 7)).astype(np.float32)
    if backend == "torch":
        pose, expr = torch.from_numpy(pose).double(), torch.from_numpy(expr).double()
    f = params_to_features(pose, expr)
    assert f.shape[-1] == feature_dim(7)
    pose2, expr2 = features_to_params(f, 7)
    pose, pose2 = np.asarray(pose), np.asarray(pose2)
    np.testing.assert_allclose(np.asarray(expr2), np.asarray(expr), atol=1e-6)
    np.testing.assert_allclose(pose2, pose, atol=2e-4)


def test_any_six_numbers_give_a_rotation():
    f = torch.randn(64, 7 + 30)
    pose, _ = features_to_params(f, 7)
    assert torch.isfinite(pose).all() and (pose.norm(dim=-1) <= np.pi + 1e-4).all()
