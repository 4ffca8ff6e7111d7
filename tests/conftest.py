"""Shared test fixtures: a tiny FLAME-format head that any test can build in ms."""
import numpy as np
import pytest

from engine.head import PARTS, HeadModel


def make_tiny_head(num_expr: int = 4, seed: int = 0, with_posedirs: bool = True) -> HeadModel:
    """A 5-joint head on a small closed mesh (a subdivided box) with random blendshapes."""
    rng = np.random.default_rng(seed)
    # 3x3x3 grid points on a box surface -> 26 vertices, quads split into triangles.
    g = np.linspace(-0.1, 0.1, 3)
    pts = np.array([(x, y, z) for x in g for y in g for z in g if max(abs(x), abs(y), abs(z)) > 0.09])
    V = len(pts)
    idx = {tuple(np.round(p, 4)): i for i, p in enumerate(pts)}
    faces = []
    for axis in range(3):
        for side in (-0.1, 0.1):
            for a in range(2):
                for b in range(2):
                    quad = []
                    for da, db in ((0, 0), (1, 0), (1, 1), (0, 1)):
                        p = [0.0, 0.0, 0.0]
                        p[axis] = side
                        o = [k for k in range(3) if k != axis]
                        p[o[0]], p[o[1]] = g[a + da], g[b + db]
                        quad.append(idx[tuple(np.round(p, 4))])
                    faces += [[quad[0], quad[1], quad[2]], [quad[0], quad[2], quad[3]]]
    joints = np.array([[0, -0.1, 0], [0, -0.05, 0], [0, -0.02, 0.05], [0.04, 0.03, 0.08], [-0.04, 0.03, 0.08]])
    # Each joint regressed from its 4 nearest vertices, weights summing to 1.
    J_reg = np.zeros((5, V), np.float32)
    for j, p in enumerate(joints):
        near = np.argsort(np.linalg.norm(pts - p, axis=1))[:4]
        J_reg[j, near] = 0.25
    w = rng.random((V, 5)) ** 3
    w /= w.sum(1, keepdims=True)
    part = np.zeros(V, np.uint8)
    part[:2] = PARTS.index("eyes")
    return HeadModel(
        v_template=pts.astype(np.float32),
        shapedirs=(rng.standard_normal((V, 3, 3)) * 0.01).astype(np.float32),
        exprdirs=(rng.standard_normal((V, 3, num_expr)) * 0.01).astype(np.float32),
        posedirs=(rng.standard_normal((V, 3, 36)) * 0.005 * with_posedirs).astype(np.float32),
        J_regressor=J_reg,
        weights=w.astype(np.float32),
        faces=np.array(faces, np.int32),
        expr_names=[f"ch{i}" for i in range(num_expr)],
        vertex_part=part,
        meta={"name": "tiny", "units": "m"},
    ).validate()


@pytest.fixture
def tiny_head():
    return make_tiny_head()
