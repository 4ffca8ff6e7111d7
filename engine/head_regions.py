"""Regions and sub-heads of a head model: which vertices are the face, and the head restricted
to some of its vertices (exact for them), as the tokenizer's vertex loss and its face-region
metrics need them. These describe the head, not a model, so they live beside it."""
from __future__ import annotations

import numpy as np

from .head import JOINT_NAMES, HeadModel


def face_region(head: HeadModel, min_motion_m: float = 1e-3) -> np.ndarray:
    """[V] bool: the eyes, and the skin that some expression channel moves by more than
    `min_motion_m` at coefficient 1 (brows, lids, cheeks, nose, mouth, chin)."""
    moved = np.linalg.norm(head.exprdirs, axis=1).max(axis=1) > min_motion_m if head.num_expr else \
        np.zeros(head.num_vertices, bool)
    return (moved & head.part_mask("skin")) | head.part_mask("eyes")


def sub_head(head: HeadModel, idx: np.ndarray) -> HeadModel:
    """The head restricted to vertices idx, exact for them: idx must hold every vertex the
    joint regressor reads (FlameLayer regresses joints from the vertices it has)."""
    if not np.isin(joint_vertices(head), idx).all():
        raise ValueError("sub_head: idx misses joint-regressor vertices")
    return HeadModel(v_template=head.v_template[idx], shapedirs=head.shapedirs[idx], exprdirs=head.exprdirs[idx],
                     posedirs=head.posedirs[idx], J_regressor=head.J_regressor[:, idx], weights=head.weights[idx],
                     faces=np.zeros((0, 3), np.int32), expr_names=list(head.expr_names)).validate()


def joint_vertices(head: HeadModel) -> np.ndarray:
    """The vertices the joint regressor reads."""
    return np.flatnonzero(np.abs(head.J_regressor).sum(0) > 0)


def sub_head_with_joints(head: HeadModel, idx: np.ndarray) -> tuple[HeadModel, int]:
    """sub_head of idx followed by the joint-regressor vertices idx lacks -> (head, how many were added)."""
    extra = np.setdiff1d(joint_vertices(head), idx)
    return sub_head(head, np.concatenate([idx, extra])), len(extra)


def with_gaze_points(sub: HeadModel, head: HeadModel, distance: float) -> HeadModel:
    """`sub` plus one vertex `distance` in front (+z) of each eye joint, moved by that eye alone
    (no blendshapes, no correctives, not read by the joint regressor)."""
    J = head.J_regressor @ head.v_template                                  # [5,3] rest joints
    eyes = [JOINT_NAMES.index("eye_left"), JOINT_NAMES.index("eye_right")]
    pts = J[eyes] + np.array([0.0, 0.0, distance], np.float32)
    w = np.zeros((2, 5), np.float32)
    w[0, eyes[0]] = w[1, eyes[1]] = 1.0
    zeros = lambda a: np.zeros((2,) + a.shape[1:], a.dtype)
    return HeadModel(v_template=np.concatenate([sub.v_template, pts.astype(np.float32)]),
                     shapedirs=np.concatenate([sub.shapedirs, zeros(sub.shapedirs)]),
                     exprdirs=np.concatenate([sub.exprdirs, zeros(sub.exprdirs)]),
                     posedirs=np.concatenate([sub.posedirs, zeros(sub.posedirs)]),
                     J_regressor=np.concatenate([sub.J_regressor, np.zeros((5, 2), np.float32)], 1),
                     weights=np.concatenate([sub.weights, w]), faces=sub.faces,
                     expr_names=list(sub.expr_names)).validate()


def face_head(head: HeadModel) -> tuple[HeadModel, int]:
    """(head restricted to the face region + joint vertices, number of face vertices first)."""
    face = np.flatnonzero(face_region(head))
    return sub_head_with_joints(head, face)[0], len(face)
