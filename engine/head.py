"""The head model: FLAME-layout arrays in numpy, and their files.

A head is what `smplx.FLAME` would load (v_template, shapedirs, posedirs,
J_regressor, weights, kintree_table, f) with two changes that keep our
shipped asset small: identity and expression blendshapes are stored apart
(`shapedirs` [V,3,S], `exprdirs` [V,3,K]) instead of one [V,3,400] array
with expressions from column 300, and every expression channel has a name.
`to_flame_arrays()` gives the exact FLAME layout back.

Files we read:
- our own `.safetensors` + the `.json` beside it (what we ship),
- FLAME-format `.npz` (arrays under FLAME's key names),
- FLAME 2020/2023 `.pkl` through a restricted unpickler (flame_pickle.py)
  that never runs code from the file.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputError
from .files import write_weights_and_config
from .safe_io import input_file, read_json, read_npz

JOINT_NAMES = ("global", "neck", "jaw", "eye_left", "eye_right")
FLAME_PARENTS = np.array([-1, 0, 1, 1, 1], dtype=np.int64)
FLAME_SHAPE_SPACE = 300      # FLAME puts expression columns from this index
FLAME_EXPR_SPACE = 100
NUM_POSE_FEATURES = 4 * 9    # (R - I) of the 4 non-root joints

# Per-vertex part labels (for materials and face-region weighting).
PARTS = ("skin", "eyes", "teeth", "tongue")


class HeadError(InputError):
    """A head file is missing, malformed or not a FLAME-format model."""


@dataclass
class HeadModel:
    v_template: np.ndarray          # [V,3] float32, metres
    shapedirs: np.ndarray           # [V,3,S] identity blendshapes (S may be 0)
    exprdirs: np.ndarray            # [V,3,K] expression blendshapes
    posedirs: np.ndarray            # [V,3,36] pose correctives on (R - I)
    J_regressor: np.ndarray         # [5,V] joints from the shaped vertices
    weights: np.ndarray             # [V,5] LBS weights
    faces: np.ndarray               # [F,3] int32 triangles
    expr_names: list[str]           # K names
    vertex_part: np.ndarray | None = None   # [V] uint8 index into PARTS
    vertex_color: np.ndarray | None = None  # [V,3] uint8 sRGB paint for previews (brows, lips)
    meta: dict = field(default_factory=dict)

    @property
    def num_vertices(self) -> int:
        return int(self.v_template.shape[0])

    @property
    def num_expr(self) -> int:
        return int(self.exprdirs.shape[2])

    @property
    def parents(self) -> np.ndarray:
        return FLAME_PARENTS.copy()

    def part_mask(self, part: str) -> np.ndarray:
        """Boolean [V] mask of one part; all skin for models without parts."""
        if self.vertex_part is None:
            return np.full(self.num_vertices, part == "skin")
        return self.vertex_part == PARTS.index(part)

    def validate(self) -> "HeadModel":
        V = self.v_template.shape[0] if self.v_template.ndim == 2 else -1
        checks = [
            ("v_template", self.v_template, (V, 3)),
            ("shapedirs", self.shapedirs, (V, 3, None)),
            ("exprdirs", self.exprdirs, (V, 3, len(self.expr_names))),
            ("posedirs", self.posedirs, (V, 3, NUM_POSE_FEATURES)),
            ("J_regressor", self.J_regressor, (5, V)),
            ("weights", self.weights, (V, 5)),
            ("faces", self.faces, (None, 3)),
        ]
        if V <= 0:
            raise HeadError(f"v_template must be [V,3], got shape {self.v_template.shape}")
        for name, arr, shape in checks:
            if arr.ndim != len(shape) or any(s is not None and a != s for a, s in zip(arr.shape, shape)):
                want = "[" + ",".join("*" if s is None else str(s) for s in shape) + "]"
                raise HeadError(f"head array '{name}' has shape {list(arr.shape)}, expected {want}")
            if arr.dtype.kind == "f" and not np.isfinite(arr).all():
                raise HeadError(f"head array '{name}' contains NaN or inf")
        if self.faces.size and (self.faces.min() < 0 or self.faces.max() >= V):
            raise HeadError(f"head array 'faces' indexes vertices outside 0..{V - 1}")
        if len(set(self.expr_names)) != len(self.expr_names):
            raise HeadError("head expression names are not unique")
        return self

    # -- FLAME layout -------------------------------------------------------
    def to_flame_arrays(self) -> dict:
        """Arrays under FLAME's own names and layout (what smplx.FLAME loads)."""
        V, K = self.num_vertices, self.num_expr
        if K > FLAME_EXPR_SPACE or self.shapedirs.shape[2] > FLAME_SHAPE_SPACE:
            raise HeadError("too many channels for the FLAME layout (300 shape + 100 expression)")
        shapedirs = np.zeros((V, 3, FLAME_SHAPE_SPACE + FLAME_EXPR_SPACE), np.float32)
        shapedirs[:, :, : self.shapedirs.shape[2]] = self.shapedirs
        shapedirs[:, :, FLAME_SHAPE_SPACE : FLAME_SHAPE_SPACE + K] = self.exprdirs
        kintree = np.stack([FLAME_PARENTS, np.arange(5)]).astype(np.int64)
        kintree[0, 0] = 4294967295  # FLAME files store the root's parent as uint32 -1
        return {
            "v_template": self.v_template.astype(np.float32),
            "shapedirs": shapedirs,
            "posedirs": self.posedirs.astype(np.float32),
            "J_regressor": self.J_regressor.astype(np.float32),
            "weights": self.weights.astype(np.float32),
            "kintree_table": kintree,
            "f": self.faces.astype(np.int64),
        }

    @classmethod
    def from_flame_arrays(cls, arrays: dict, source: str, expr_names=None,
                          num_expr: int = FLAME_EXPR_SPACE) -> "HeadModel":
        """Build from FLAME-named arrays (npz or unpickled pkl contents)."""
        missing = [k for k in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "f")
                   if k not in arrays]
        if missing:
            raise HeadError(f"{source}: not a FLAME-format model, missing {', '.join(missing)}")
        bad = [k for k in ("v_template", "shapedirs", "posedirs", "weights", "f") if not _numeric(arrays[k])]
        if bad:
            raise HeadError(f"{source}: {', '.join(bad)} must be numeric arrays (found "
                            f"{', '.join(type(arrays[k]).__name__ for k in bad)}); not a FLAME-format model")
        v = np.asarray(arrays["v_template"], np.float32)
        if v.ndim != 2 or v.shape[1] != 3 or not len(v):
            raise HeadError(f"{source}: v_template has shape {list(v.shape)}, expected [V,3] vertex positions")
        sd = np.asarray(arrays["shapedirs"], np.float32)
        if sd.ndim != 3 or sd.shape[:2] != v.shape:
            raise HeadError(f"{source}: shapedirs has shape {list(sd.shape)}, expected [{v.shape[0]},3,N]")
        if sd.shape[2] > FLAME_SHAPE_SPACE:
            shape, expr = sd[:, :, :FLAME_SHAPE_SPACE], sd[:, :, FLAME_SHAPE_SPACE:]
        else:  # shape-only model
            shape, expr = sd, sd[:, :, :0]
        expr = expr[:, :, : (len(expr_names) if expr_names is not None else num_expr)]
        if expr_names is None:
            expr_names = [f"exp{i:03d}" for i in range(expr.shape[2])]
        pd = np.asarray(arrays["posedirs"], np.float32)
        if pd.ndim == 2:  # some exports store the [36, V*3] matrix smplx builds
            pd = pd.T.reshape(v.shape[0], 3, -1) if pd.shape[0] == NUM_POSE_FEATURES else pd.reshape(v.shape[0], 3, -1)
        jr = arrays["J_regressor"]
        jr = np.asarray(jr.toarray() if hasattr(jr, "toarray") else jr, np.float32)
        head = cls(
            v_template=v, shapedirs=np.ascontiguousarray(shape), exprdirs=np.ascontiguousarray(expr),
            posedirs=pd, J_regressor=jr, weights=np.asarray(arrays["weights"], np.float32),
            faces=np.asarray(arrays["f"]).astype(np.int32), expr_names=list(expr_names),
            meta={"source": str(source), "units": "m"},
        )
        if "kintree_table" in arrays:
            parents = np.asarray(arrays["kintree_table"]).astype(np.int64)[0].copy()
            parents[0] = -1
            if parents.shape != (5,) or not (parents == FLAME_PARENTS).all():
                raise HeadError(f"{source}: kintree_table parents {parents.tolist()} are not FLAME's [-1,0,1,1,1]")
        return head.validate()


def _numeric(x) -> bool:
    """An array of numbers (not strings, objects or ragged lists); sparse matrices count."""
    if hasattr(x, "toarray"):
        return True
    try:
        return np.asarray(x).dtype.kind in "biuf"
    except (ValueError, TypeError, RecursionError):
        return False


# -- files --------------------------------------------------------------------
_ARRAYS = ("v_template", "shapedirs", "exprdirs", "posedirs", "J_regressor", "weights", "faces")


def save_head(head: HeadModel, path: str | os.PathLike, dtype=np.float32) -> None:
    """Write `<path>.safetensors` + `<path>.json`, atomically (no half files)."""
    from safetensors.numpy import save_file

    head.validate()
    path = Path(path).with_suffix("")
    tensors = {}
    for k in _ARRAYS:
        a = getattr(head, k)
        tensors[k] = np.ascontiguousarray(a.astype(dtype) if a.dtype.kind == "f" else a)
    # The template must stay exact to well below a millimetre: always fp32.
    tensors["v_template"] = head.v_template.astype(np.float32)
    for k in ("vertex_part", "vertex_color"):
        if getattr(head, k) is not None:
            tensors[k] = getattr(head, k).astype(np.uint8)
    config = {"format": "tdmm-head/1", "joint_names": list(JOINT_NAMES), "parents": FLAME_PARENTS.tolist(),
              "expr_names": list(head.expr_names), "parts": list(PARTS), **head.meta}
    write_weights_and_config(path.with_suffix(".safetensors"), path.with_suffix(".json"),
                             lambda f: save_file(tensors, f), config)


MAX_SAFETENSORS_HEADER = 100 * 2 ** 20


def _load_safetensors(path: Path) -> HeadModel:
    from safetensors.numpy import load_file

    cfg_path = path.with_suffix(".json")
    if not cfg_path.exists():
        raise HeadError(f"{path}: the JSON config {cfg_path.name} must sit beside the weights")
    cfg = read_json(cfg_path, "head config")
    names = cfg.get("expr_names")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise HeadError(f"head config {cfg_path}: 'expr_names' must be a list of channel names"
                        + ("" if "expr_names" in cfg else ", and it is missing"))
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
    n = int.from_bytes(head, "little") if len(head) == 8 else -1
    if n < 2 or n > min(size - 8, MAX_SAFETENSORS_HEADER):
        raise HeadError(f"head file {path}: not a safetensors file (its header claims {n} bytes, the file has "
                        f"{size}); rebuild it with `tdmm head build` or give another head")
    try:
        t = load_file(str(path))
    except Exception as e:                  # noqa: BLE001 -- safetensors' own error type is not public
        raise HeadError(f"head file {path}: damaged safetensors file ({e})") from None
    missing = [k for k in _ARRAYS if k not in t]
    if missing:
        raise HeadError(f"{path}: not a tdmm head, missing arrays {', '.join(missing)}")
    K = t["exprdirs"].shape[-1] if t["exprdirs"].ndim == 3 else -1
    if len(names) != K:
        raise HeadError(f"head config {cfg_path}: lists {len(names)} expression names, but {path.name} holds "
                        f"{K} expression channels; the two files do not belong together")
    meta = {k: v for k, v in cfg.items() if k not in ("format", "joint_names", "parents", "expr_names", "parts")}
    return HeadModel(
        v_template=t["v_template"].astype(np.float32), shapedirs=t["shapedirs"].astype(np.float32),
        exprdirs=t["exprdirs"].astype(np.float32), posedirs=t["posedirs"].astype(np.float32),
        J_regressor=t["J_regressor"].astype(np.float32), weights=t["weights"].astype(np.float32),
        faces=t["faces"].astype(np.int32), expr_names=list(names),
        vertex_part=t.get("vertex_part"), vertex_color=t.get("vertex_color"), meta=meta,
    ).validate()


def load_head(path: str | os.PathLike | None = None) -> HeadModel:
    """Load a head: ours (.safetensors), FLAME .npz, or FLAME .pkl. None = default head.
    Every problem is a HeadError that names the file."""
    path = Path(path) if path is not None else default_head_path()
    try:
        return _load_head(input_file(path, "head file"))
    except HeadError as e:
        if str(path) in str(e):
            raise
        raise HeadError(f"head file {path}: {e}") from None
    except InputError as e:                             # from the readers: a HeadError to the caller
        raise HeadError(str(e) if str(path) in str(e) else f"head file {path}: {e}") from None


def _load_head(path: Path) -> HeadModel:
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        return _load_safetensors(path)
    if suffix == ".npz":
        arrays = read_npz(path, "head file")
        names = [str(n) for n in arrays.pop("expr_names")] if "expr_names" in arrays else None
        return HeadModel.from_flame_arrays(arrays, str(path), expr_names=names)
    if suffix == ".pkl":
        from .flame_pickle import load_flame_pickle

        return HeadModel.from_flame_arrays(load_flame_pickle(path), str(path))
    raise HeadError(f"head file {path}: unknown type '{suffix}' (use .safetensors, .npz or .pkl)")


def assets_dir() -> Path:
    """assets/ beside the engine package (repo checkout or extension zip)."""
    return Path(__file__).resolve().parent.parent / "assets"


def default_head_path() -> Path:
    return assets_dir() / "head" / "tdmm_head.safetensors"
