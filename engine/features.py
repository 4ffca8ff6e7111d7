"""Per-frame motion features for the models: expression + 6D joint rotations.

    feature[t] = [expr (K) | rot6d of the 5 joints (30)]        -> D = K + 30

The 6D representation (the first two columns of each rotation matrix) is
continuous, unlike axis-angle near pi or quaternions' double cover, which is
why learned models predict it. Works on numpy arrays or torch tensors with any
leading dims; torch stays differentiable.
"""
from __future__ import annotations

import numpy as np

NUM_JOINTS = 5
ROT6D = 6


def feature_dim(num_expr: int) -> int:
    return num_expr + NUM_JOINTS * ROT6D


def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")


def axis_angle_to_rot6d(aa):
    """[...,3] -> [...,6]: columns 0 and 1 of the rotation matrix, interleaved by row."""
    if _is_torch(aa):
        from .flame import axis_angle_to_matrix
        R = axis_angle_to_matrix(aa)
    else:
        from .rotation import axis_angle_to_matrix
        R = axis_angle_to_matrix(np.asarray(aa, np.float64)).astype(np.float32)
    return R[..., :, :2].reshape(*R.shape[:-2], 6)


def rot6d_to_matrix(r6):
    """[...,6] -> [...,3,3] by Gram-Schmidt (any 6 numbers give a rotation)."""
    if _is_torch(r6):
        import torch
        m = r6.reshape(*r6.shape[:-1], 3, 2)
        a, b = m[..., 0], m[..., 1]
        x = torch.nn.functional.normalize(a, dim=-1)
        y = torch.nn.functional.normalize(b - (x * b).sum(-1, keepdim=True) * x, dim=-1)
        return torch.stack([x, y, torch.cross(x, y, dim=-1)], dim=-1)
    m = np.asarray(r6, np.float64).reshape(*np.shape(r6)[:-1], 3, 2)
    a, b = m[..., 0], m[..., 1]
    x = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)
    b = b - (x * b).sum(-1, keepdims=True) * x
    y = b / np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), 1e-12)
    return np.stack([x, y, np.cross(x, y)], axis=-1)


def matrix_to_axis_angle(R):
    """[...,3,3] -> [...,3] (numpy or torch; angle in [0, pi])."""
    if _is_torch(R):
        import torch
        # Through the quaternion: stable for all angles, differentiable away from pi.
        w = torch.sqrt(torch.clamp(1 + R[..., 0, 0] + R[..., 1, 1] + R[..., 2, 2], min=1e-12)) / 2
        v = torch.stack([R[..., 2, 1] - R[..., 1, 2], R[..., 0, 2] - R[..., 2, 0],
                         R[..., 1, 0] - R[..., 0, 1]], dim=-1) / (4 * w[..., None])
        s = v.norm(dim=-1, keepdim=True)
        angle = 2 * torch.atan2(s, w[..., None])
        return v * torch.where(s > 1e-8, angle / s.clamp_min(1e-8), 2.0 / w[..., None].clamp_min(1e-8))
    from .rotation import quat_to_axis_angle
    R = np.asarray(R, np.float64)
    # Shepperd's method via the largest diagonal term keeps angles near pi exact.
    tr = np.trace(R, axis1=-2, axis2=-1)
    q = np.stack([1 + tr, 1 + 2 * R[..., 0, 0] - tr, 1 + 2 * R[..., 1, 1] - tr, 1 + 2 * R[..., 2, 2] - tr], -1)
    k = q.argmax(-1)
    out = np.empty(R.shape[:-2] + (4,))
    d = np.sqrt(np.maximum(np.take_along_axis(q, k[..., None], -1)[..., 0], 1e-12)) / 2
    r = lambda i, j: R[..., i, j]
    cand = [
        np.stack([d, (r(2, 1) - r(1, 2)) / (4 * d), (r(0, 2) - r(2, 0)) / (4 * d), (r(1, 0) - r(0, 1)) / (4 * d)], -1),
        np.stack([(r(2, 1) - r(1, 2)) / (4 * d), d, (r(0, 1) + r(1, 0)) / (4 * d), (r(0, 2) + r(2, 0)) / (4 * d)], -1),
        np.stack([(r(0, 2) - r(2, 0)) / (4 * d), (r(0, 1) + r(1, 0)) / (4 * d), d, (r(1, 2) + r(2, 1)) / (4 * d)], -1),
        np.stack([(r(1, 0) - r(0, 1)) / (4 * d), (r(0, 2) + r(2, 0)) / (4 * d), (r(1, 2) + r(2, 1)) / (4 * d), d], -1),
    ]
    for i in range(4):
        out[k == i] = cand[i][k == i]
    return quat_to_axis_angle(out).astype(np.float32)


def params_to_features(pose, expr):
    """pose [...,5,3], expr [...,K] -> features [..., K+30]."""
    r6 = axis_angle_to_rot6d(pose)
    r6 = r6.reshape(*r6.shape[:-2], NUM_JOINTS * ROT6D)
    if _is_torch(expr):
        import torch
        return torch.cat([expr, r6.to(expr.dtype)], dim=-1)
    return np.concatenate([np.asarray(expr, np.float32), r6.astype(np.float32)], axis=-1)


def features_to_params(feat, num_expr: int):
    """features [..., K+30] -> (pose [...,5,3] axis-angle, expr [...,K])."""
    expr = feat[..., :num_expr]
    r6 = feat[..., num_expr:num_expr + NUM_JOINTS * ROT6D]
    r6 = r6.reshape(*r6.shape[:-1], NUM_JOINTS, ROT6D)
    return matrix_to_axis_angle(rot6d_to_matrix(r6)), expr
