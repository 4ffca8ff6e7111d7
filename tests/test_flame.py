"""The engine's FLAME layer against smplx.FLAME loading the same arrays."""
import pickle

import numpy as np
import pytest
import torch

from engine.flame import FlameLayer, axis_angle_to_matrix
from engine.head import default_head_path, load_head

from conftest import make_tiny_head

smplx = pytest.importorskip("smplx")


def smplx_flame(head, folder):
    """Write the head as FLAME_NEUTRAL.pkl (+ the landmark file smplx insists on) and load it."""
    with open(folder / "FLAME_NEUTRAL.pkl", "wb") as fh:
        pickle.dump(head.to_flame_arrays(), fh)
    with open(folder / "flame_static_embedding.pkl", "wb") as fh:
        pickle.dump({"lmk_face_idx": np.zeros(1, np.int64), "lmk_b_coords": np.full((1, 3), 1 / 3)}, fh)
    return smplx.FLAME(model_path=str(folder), num_expression_coeffs=head.num_expr, num_betas=10,
                       ext="pkl", batch_size=1)


def random_params(head, B, seed):
    g = torch.Generator().manual_seed(seed)
    expr = torch.rand(B, head.num_expr, generator=g) * 2 - 0.5
    pose = (torch.rand(B, 5, 3, generator=g) * 2 - 1) * 0.6
    transl = torch.randn(B, 3, generator=g) * 0.05
    return expr, pose, transl


@pytest.mark.parametrize("which", ["tiny", "default"])
def test_matches_smplx_flame(which, tmp_path):
    head = make_tiny_head(num_expr=5) if which == "tiny" else load_head(default_head_path())
    B = 16
    expr, pose, transl = random_params(head, B, seed=1)
    ours = FlameLayer(head)(expr, pose, transl)
    ref_model = smplx_flame(head, tmp_path)
    ref = ref_model(betas=torch.zeros(B, 10), expression=expr, global_orient=pose[:, 0], neck_pose=pose[:, 1],
                    jaw_pose=pose[:, 2], leye_pose=pose[:, 3], reye_pose=pose[:, 4], transl=transl).vertices
    diff = (ours - ref).abs().max().item()
    assert diff < 1e-5, f"max vertex difference {diff:.2e} m"
    # The comparison means something only if the pose actually moved the mesh.
    assert (ours - FlameLayer(head)(expr, torch.zeros_like(pose), transl)).abs().max() > 1e-3


def test_shape_blendshapes_match_smplx(tmp_path):
    head = make_tiny_head(num_expr=3)
    expr, pose, transl = random_params(head, 4, seed=2)
    shape = torch.randn(4, 10)
    shape[:, head.shapedirs.shape[2]:] = 0
    ours = FlameLayer(head)(expr, pose, transl, shape=shape)
    ref = smplx_flame(head, tmp_path)(betas=shape, expression=expr, global_orient=pose[:, 0], neck_pose=pose[:, 1],
                                      jaw_pose=pose[:, 2], leye_pose=pose[:, 3], reye_pose=pose[:, 4],
                                      transl=transl).vertices
    assert (ours - ref).abs().max().item() < 1e-5


def test_rest_pose_is_template():
    head = make_tiny_head()
    v = FlameLayer(head)(torch.zeros(2, head.num_expr), torch.zeros(2, 5, 3))
    assert torch.allclose(v, torch.as_tensor(head.v_template).expand(2, -1, -1), atol=1e-7)


def test_rodrigues_small_angles_and_gradients():
    rv = torch.tensor([[0.0, 0.0, 0.0], [1e-6, 0, 0], [0.3, -0.2, 0.1], [0, 3.1, 0]], requires_grad=True)
    R = axis_angle_to_matrix(rv)
    assert torch.allclose(R @ R.transpose(-1, -2), torch.eye(3).expand(4, 3, 3), atol=1e-6)
    assert torch.allclose(torch.det(R), torch.ones(4), atol=1e-6)
    R.sum().backward()
    assert torch.isfinite(rv.grad).all()


def test_differentiable_wrt_parameters():
    head = make_tiny_head()
    layer = FlameLayer(head)
    expr = torch.zeros(1, head.num_expr, requires_grad=True)
    pose = torch.full((1, 5, 3), 0.1, requires_grad=True)
    layer(expr, pose).square().sum().backward()
    assert expr.grad.abs().sum() > 0 and pose.grad.abs().sum() > 0


def test_wrong_shapes_rejected():
    layer = FlameLayer(make_tiny_head(num_expr=4))
    with pytest.raises(ValueError, match="expected expr"):
        layer(torch.zeros(1, 3), torch.zeros(1, 5, 3))
