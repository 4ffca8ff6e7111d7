"""Rotations in numpy: axis-angle <-> unit quaternion, and rotation matrices.

Clips store joint rotations as axis-angle (FLAME's layout); Blender keys
bones as quaternions (w, x, y, z). Everything here is vectorised over leading
dimensions and stays accurate at angle 0 (where axis-angle has no axis) and
near pi (where w -> 0), because both happen in real data: a still head is
exactly zero, and a quaternion round trip must not lose precision there.
"""
from __future__ import annotations

import numpy as np

# Below this angle (or sine) we switch to Taylor series: the exact formulas
# divide by the angle and lose all precision as it goes to zero.
_SMALL = 1e-4


def axis_angle_to_quat(aa) -> np.ndarray:
    """[..., 3] axis-angle (radians) -> [..., 4] unit quaternion (w, x, y, z)."""
    aa = np.asarray(aa, dtype=np.float64)
    angle = np.linalg.norm(aa, axis=-1, keepdims=True)
    small = angle < _SMALL
    safe = np.where(small, 1.0, angle)
    # sin(a/2)/a, with its series 1/2 - a^2/48 where a is tiny.
    k = np.where(small, 0.5 - angle * angle / 48.0, np.sin(safe / 2.0) / safe)
    return np.concatenate([np.cos(angle / 2.0), aa * k], axis=-1)


def quat_to_axis_angle(q) -> np.ndarray:
    """[..., 4] quaternion (w, x, y, z), any norm -> [..., 3] axis-angle, angle in [0, pi]."""
    q = np.asarray(q, dtype=np.float64)
    norm = np.linalg.norm(q, axis=-1, keepdims=True)
    if np.any(norm == 0):
        raise ValueError("a quaternion is all zeros: it does not describe a rotation")
    q = q / norm
    # q and -q are the same rotation; w >= 0 picks the one with angle <= pi.
    q = np.where(q[..., :1] < 0, -q, q)
    w, xyz = q[..., :1], q[..., 1:]
    s = np.linalg.norm(xyz, axis=-1, keepdims=True)        # sin(angle/2)
    angle = 2.0 * np.arctan2(s, w)                          # stable near 0 and pi
    small = s < _SMALL
    # angle / s, with its series 2/w * (1 - s^2 / (3 w^2)) where s is tiny (w ~ 1 there).
    k = np.where(small, 2.0 / np.where(small, w, 1.0) * (1.0 - s * s / 3.0),
                 angle / np.where(small, 1.0, s))
    return xyz * k


def quat_to_matrix(q) -> np.ndarray:
    """[..., 4] quaternion (w, x, y, z), any norm -> [..., 3, 3] rotation matrix."""
    q = np.asarray(q, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    rows = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ]
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def axis_angle_to_matrix(aa) -> np.ndarray:
    """[..., 3] axis-angle -> [..., 3, 3] rotation matrix (Rodrigues, via the quaternion)."""
    return quat_to_matrix(axis_angle_to_quat(aa))


def quat_continuity(q) -> np.ndarray:
    """[T, 4] quaternions with signs flipped so consecutive ones have dot >= 0.

    Blender interpolates keyed quaternions component by component; if q and
    -q (the same rotation) alternate, the in-between frames pass near zero and
    the bone spins the long way round. Flipping never changes a rotation.
    """
    q = np.array(q, dtype=np.float64)
    if q.ndim != 2 or q.shape[1] != 4:
        raise ValueError(f"quat_continuity expects [T, 4] quaternions, got shape {list(q.shape)}")
    if len(q) < 2:
        return q
    dots = np.einsum("ij,ij->i", q[1:], q[:-1])
    step = np.where(dots < 0, -1.0, 1.0)
    # Flipping q[t] flips its dot with q[t+1] too, so the sign of frame t is
    # the product of all sign changes up to t.
    sign = np.concatenate([[1.0], np.cumprod(step)])
    return q * sign[:, None]
