"""Seams of continuation and in-betweening, measured as the face moves: the largest face-vertex
step (mm) from the last frame of one clip to the first frame of the next, read against the
corpus's own frame-to-frame steps (its median and 95th percentile).

    sm = SeamMeter()                              # the shipped head's face region
    sm.step_mm(a, b)                              # the jump from clip a's last frame to b's first
    sm.frame_steps_mm(clips)                      # every frame-to-frame step inside the clips

A seam "does not jump" when its step is within the corpus's 95th-percentile step.
"""
from __future__ import annotations

import numpy as np
import torch

from engine.flame import FlameLayer
from engine.head import load_head
from engine.head_regions import face_head


class SeamMeter:
    def __init__(self, head=None):
        fhead, self.num_face = face_head(head or load_head(None))
        self.flame = FlameLayer(fhead).eval()
        self.expr_names = list(fhead.expr_names)

    @torch.no_grad()
    def vertices_mm(self, clip) -> np.ndarray:
        """clip -> face vertices [T,V,3] in mm."""
        c = clip if list(clip.expr_names) == self.expr_names else clip.with_channels(self.expr_names)[0]
        expr = torch.from_numpy(np.ascontiguousarray(c.expr, np.float32))
        pose = torch.from_numpy(np.ascontiguousarray(c.pose, np.float32))
        v = self.flame(expr, pose)[:, :self.num_face]
        return v.numpy() * 1000.0

    def frame_steps_mm(self, clips) -> np.ndarray:
        """Max face-vertex displacement between consecutive frames, for every frame pair of every clip."""
        out = []
        for c in clips:
            v = self.vertices_mm(c)
            out.append(np.linalg.norm(np.diff(v, axis=0), axis=-1).max(-1))
        return np.concatenate(out) if out else np.zeros(0)

    def step_mm(self, a, b) -> float:
        """Max face-vertex displacement from a's last frame to b's first (the seam); both clips
        at the same fps."""
        if abs(a.fps - b.fps) > 1e-6:
            raise ValueError(f"seam between clips at {a.fps:g} and {b.fps:g} fps")
        va = self.vertices_mm(_frames(a, -1))
        vb = self.vertices_mm(_frames(b, 0))
        return float(np.linalg.norm(vb[0] - va[0], axis=-1).max())


def _frames(clip, i: int):
    from dataclasses import replace
    sl = slice(i, None if i == -1 else i + 1)
    return replace(clip, pose=clip.pose[sl], expr=clip.expr[sl], transl=clip.transl[sl])
