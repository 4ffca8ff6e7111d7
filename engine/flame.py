"""FLAME layer in torch: blendshapes, pose correctives and linear blend skinning.

    v_shaped = v_template + shapedirs @ shape + exprdirs @ expr       [B,V,3]
    J        = J_regressor @ v_shaped                                  [B,5,3]
    v_posed  = v_shaped + posedirs @ (R_1..4 - I)                      [B,V,3]
    G_i      = G_parent(i) @ [R_i | J_i - J_parent(i)]                 [B,5,4,4]
    v        = sum_i w_i (G_i @ [v_posed - J_i ; 1]) + transl

Batched over frames, differentiable, CPU or GPU. Same maths as FLAME / smplx's
lbs(), written here so the engine needs neither smplx nor its licence.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .head import HeadModel, NUM_POSE_FEATURES


def axis_angle_to_matrix(rot: torch.Tensor) -> torch.Tensor:
    """Rodrigues: [...,3] axis-angle -> [...,3,3]; smooth through angle 0."""
    angle = rot.norm(dim=-1, keepdim=True)                       # [...,1]
    # sin(a)/a and (1-cos a)/a^2 on the raw vector avoid dividing by a ~ 0;
    # the Taylor branch keeps gradients finite there.
    small = angle < 1e-4
    a = torch.where(small, torch.ones_like(angle), angle)
    s = torch.where(small, 1 - angle ** 2 / 6, torch.sin(a) / a)
    c = torch.where(small, 0.5 - angle ** 2 / 24, (1 - torch.cos(a)) / a ** 2)
    x, y, z = rot.unbind(-1)
    zero = torch.zeros_like(x)
    K = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=-1).reshape(*rot.shape[:-1], 3, 3)
    eye = torch.eye(3, dtype=rot.dtype, device=rot.device).expand_as(K)
    return eye + s[..., None] * K + c[..., None] * (K @ K)


class FlameLayer(nn.Module):
    """A HeadModel as a torch module: (expr, pose, transl[, shape]) -> vertices."""

    def __init__(self, head: HeadModel, dtype: torch.dtype = torch.float32):
        super().__init__()
        V = head.num_vertices
        t = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=dtype)
        self.register_buffer("v_template", t(head.v_template))                         # [V,3]
        self.register_buffer("shapedirs", t(head.shapedirs))                           # [V,3,S]
        self.register_buffer("exprdirs", t(head.exprdirs))                             # [V,3,K]
        self.register_buffer("posedirs", t(head.posedirs.reshape(V * 3, NUM_POSE_FEATURES).T))  # [36,V*3]
        self.register_buffer("J_regressor", t(head.J_regressor))                       # [5,V]
        self.register_buffer("weights", t(head.weights))                               # [V,5]
        self.register_buffer("faces", torch.as_tensor(head.faces.astype(np.int64)))    # [F,3]
        self.parents = head.parents.tolist()
        self.expr_names = list(head.expr_names)

    @property
    def num_expr(self) -> int:
        return self.exprdirs.shape[2]

    def forward(self, expr: torch.Tensor, pose: torch.Tensor, transl: torch.Tensor | None = None,
                shape: torch.Tensor | None = None, return_joints: bool = False):
        """expr [B,K], pose [B,5,3] axis-angle, transl [B,3], shape [B,S] -> vertices [B,V,3]."""
        B = expr.shape[0]
        if expr.shape[1] != self.num_expr or pose.shape[1:] != (5, 3):
            raise ValueError(f"expected expr [B,{self.num_expr}] and pose [B,5,3], "
                             f"got {list(expr.shape)} and {list(pose.shape)}")
        v = self.v_template + torch.einsum("vck,bk->bvc", self.exprdirs, expr)
        if shape is not None and self.shapedirs.shape[2]:
            v = v + torch.einsum("vck,bk->bvc", self.shapedirs, shape[:, : self.shapedirs.shape[2]])
        J = torch.einsum("jv,bvc->bjc", self.J_regressor, v)                      # [B,5,3]

        R = axis_angle_to_matrix(pose)                                           # [B,5,3,3]
        eye = torch.eye(3, dtype=R.dtype, device=R.device)
        pose_feature = (R[:, 1:] - eye).reshape(B, NUM_POSE_FEATURES)
        v = v + (pose_feature @ self.posedirs).reshape(B, -1, 3)

        # Kinematic chain: world transform of each joint, then remove the rest
        # position so that G @ [v - J_rest] is applied to rest-pose vertices.
        rel = J.clone()
        rel[:, 1:] = J[:, 1:] - J[:, self.parents[1:]]
        local = torch.cat([torch.cat([R, rel[..., None]], dim=-1),
                           torch.tensor([0, 0, 0, 1], dtype=R.dtype, device=R.device).expand(B, 5, 1, 4)], dim=-2)
        world = [local[:, 0]]
        for i in range(1, 5):
            world.append(world[self.parents[i]] @ local[:, i])
        G = torch.stack(world, dim=1)                                            # [B,5,4,4]
        posed_joints = G[:, :, :3, 3]
        G_rot, G_t = G[:, :, :3, :3], posed_joints - (G[:, :, :3, :3] @ J[..., None])[..., 0]

        T_rot = torch.einsum("vj,bjrc->bvrc", self.weights, G_rot)                # [B,V,3,3]
        T_t = torch.einsum("vj,bjc->bvc", self.weights, G_t)                      # [B,V,3]
        verts = (T_rot @ v[..., None])[..., 0] + T_t
        if transl is not None:
            verts = verts + transl[:, None, :]
            posed_joints = posed_joints + transl[:, None, :]
        return (verts, posed_joints) if return_joints else verts
