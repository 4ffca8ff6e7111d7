"""Read FLAME 2020/2023 `.pkl` model files without running code from them.

A pickle is a small program: its GLOBAL opcodes import any name and its
REDUCE opcodes call it, so `pickle.load` on a downloaded file can run
`os.system`. FLAME files only ever need a handful of names (numpy's array
rebuilders, chumpy's `Ch`, scipy's sparse matrices), so our unpickler's
`find_class` hands out exactly those and refuses every other name.

chumpy and scipy are not installed here (and chumpy no longer imports on
modern numpy), so their classes are replaced by stand-ins that only record
what the file stored in them. After loading we turn them into numpy arrays:
a `chumpy.ch.Ch` into its stored `x`, a CSC/CSR matrix into a dense array.

The files were written by Python 2, so strings are decoded as latin-1: that
is what lets numpy rebuild arrays whose raw bytes were pickled as `str`.
"""
from __future__ import annotations

import os
import pickle

import numpy as np

from .head import HeadError


class FlamePickleError(HeadError):
    """A .pkl that is not a readable FLAME model, or that asks for code to run.

    A HeadError (so a ValueError) so that callers of `load_head` catch one type.
    """


# numpy's private rebuild functions moved from numpy.core to numpy._core in
# numpy 2. Taking them from what numpy itself pickles with gets the right
# objects on either version without importing the deprecated module.
_np_reconstruct = np.zeros(1).__reduce__()[0]          # _reconstruct(ndarray, shape, dtype)
_np_scalar = np.float64(0).__reduce__()[0]             # scalar(dtype, raw bytes)
_np_frombuffer = np.zeros(1).__reduce_ex__(5)[0]       # _frombuffer(buf, dtype, shape, order)

# These are safe to call with anything a pickle can build: they make arrays,
# dtypes and containers, never touch files or run code.
_SAFE_GLOBALS = {
    **{f"{m}.multiarray._reconstruct": _np_reconstruct for m in ("numpy.core", "numpy._core")},
    **{f"{m}.multiarray.scalar": _np_scalar for m in ("numpy.core", "numpy._core")},
    "numpy.ndarray": np.ndarray,
    "numpy.dtype": np.dtype,
    # Python 2 names (what the files say) and Python 3 names of the same types.
    # set appears in chumpy's state (Ch._dirty_vars); object is the `base`
    # argument of copy_reg._reconstructor below.
    **{f"{m}.{t.__name__}": t for m in ("__builtin__", "builtins") for t in (set, frozenset, object)},
}

# scipy moved the classes to private modules (scipy.sparse._csc) in 1.8.
_SPARSE_LAYOUTS = {
    f"scipy.sparse.{mod}.{layout}_{kind}": layout
    for layout in ("csc", "csr") for mod in (layout, f"_{layout}") for kind in ("matrix", "array")
}

# Refuse to densify a sparse matrix bigger than this (FLAME's J_regressor is 5 x 5023).
_MAX_DENSE_ELEMENTS = 100_000_000


class _StandIn:
    """Placeholder for a chumpy/scipy class: remembers the pickled state, runs nothing."""

    origin = "?"      # the global the file named, e.g. "chumpy.ch.Ch"
    state = None

    def __setstate__(self, state):
        # The BUILD opcode: for these classes the state is the object's __dict__.
        self.state = state


class _ChumpyObject(_StandIn):
    pass


class _SparseMatrix(_StandIn):
    layout = "csc"    # "csc" compresses columns, "csr" rows


class _FlameUnpickler(pickle.Unpickler):
    def __init__(self, file, where: str):
        # latin-1 maps every Python 2 str byte to one character, so numpy's
        # array state (raw bytes pickled as str) survives the round trip.
        super().__init__(file, encoding="latin1")
        self.where = where
        self._classes: dict[str, type] = {}   # one stand-in class per global, per file

    def find_class(self, module: str, name: str):
        # Called for every GLOBAL/STACK_GLOBAL/INST/OBJ/EXT opcode, with the
        # name as written in the file (Python 2 spellings like copy_reg are not
        # translated before they reach us, so both spellings are listed).
        qualified = f"{module}.{name}"
        if qualified in _SAFE_GLOBALS:
            return _SAFE_GLOBALS[qualified]
        if qualified in ("numpy.core.numeric._frombuffer", "numpy._core.numeric._frombuffer"):
            return self._frombuffer
        if qualified == "_codecs.encode":
            return self._latin1_bytes
        if qualified in ("__builtin__.bytes", "builtins.bytes"):
            return self._empty_bytes
        if qualified in ("copy_reg._reconstructor", "copyreg._reconstructor"):
            return self._reconstructor
        if (module == "chumpy" or module.startswith("chumpy.")) and name.isidentifier():
            return self._stand_in(qualified, _ChumpyObject, {})
        if qualified in _SPARSE_LAYOUTS:
            return self._stand_in(qualified, _SparseMatrix, {"layout": _SPARSE_LAYOUTS[qualified]})
        raise FlamePickleError(
            f"refusing to load {qualified} from {self.where}: FLAME model files contain only arrays; "
            "this file may be malicious")

    def persistent_load(self, pid):
        raise FlamePickleError(f"{self.where}: uses persistent ids, which FLAME model files never do")

    def _stand_in(self, qualified: str, base: type, extra: dict) -> type:
        if qualified not in self._classes:
            self._classes[qualified] = type(qualified.rsplit(".", 1)[1], (base,), {"origin": qualified, **extra})
        return self._classes[qualified]

    # Safe versions of the few callables Python's own pickler emits. They are
    # bound methods so their errors can name the file, and because a BUILD
    # opcode aimed at a bound method cannot set __defaults__ or __code__ (on a
    # plain function it could); all it can add is attributes that nothing reads.
    def _latin1_bytes(self, text, encoding):
        # Python 3 writes bytes as _codecs.encode(str, 'latin1') in protocols
        # 0-2. Other codecs (zlib, base64, ...) have no business in a model file.
        if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
            raise FlamePickleError(f"{self.where}: refusing _codecs.encode with {encoding!r}")
        return text.encode("latin1")

    def _empty_bytes(self, *args):
        # ... and b'' (an empty array's data) as bytes() with no arguments.
        if args:
            raise FlamePickleError(f"{self.where}: refusing bytes{args!r}; only bytes() is expected")
        return b""

    def _reconstructor(self, cls, base, state):
        # Protocols 0/1 create plain objects with copy_reg._reconstructor(cls,
        # object, None); with any other class or base it can call arbitrary
        # constructors, so we only allow it to create our own stand-ins.
        if not (isinstance(cls, type) and issubclass(cls, _StandIn)) or base is not object or state is not None:
            raise FlamePickleError(f"{self.where}: refusing copy_reg._reconstructor for {cls!r}")
        return cls()

    def _frombuffer(self, buf, dtype, shape, order):
        # Protocol 5 (pickle.HIGHEST_PROTOCOL) arrays. Copy: an array over the
        # pickle's own bytes would be read-only.
        return np.array(_np_frombuffer(buf, dtype, shape, order), copy=True, order="K")


def load_flame_pickle(path: str | os.PathLike) -> dict:
    """The arrays of a FLAME .pkl under their FLAME names, as plain numpy."""
    where = str(path)
    try:
        with open(path, "rb") as f:
            data = _FlameUnpickler(f, where).load()
    except FlamePickleError:
        raise
    except OSError as e:
        raise FlamePickleError(f"{where}: cannot read the file ({e})") from e
    except Exception as e:  # noqa: BLE001 -- damaged pickles fail in many ways (EOF, bad opcode, bad args...)
        raise FlamePickleError(
            f"{where}: not a readable FLAME model pickle; it is damaged, truncated or not a pickle "
            f"({type(e).__name__}: {e})") from e
    if not isinstance(data, dict):
        raise FlamePickleError(
            f"{where}: a FLAME model pickle holds a dict of arrays, this one holds {type(data).__name__}")
    try:
        return {str(k): _plain(v, str(k), where) for k, v in data.items()}
    except RecursionError:
        raise FlamePickleError(f"{where}: its values nest too deeply to be a FLAME model's arrays") from None


def _plain(value, key: str, where: str):
    """Replace stand-ins (also inside lists and dicts) by numpy arrays."""
    if isinstance(value, _ChumpyObject):
        state = value.state
        if not isinstance(state, dict) or "x" not in state:
            # chumpy expression nodes (reordering, ch_ops) store their inputs,
            # not their value; computing it would mean reimplementing chumpy.
            raise FlamePickleError(
                f"{where}: '{key}' is a {value.origin} expression with no stored array ('x'); "
                "only plain chumpy.ch.Ch arrays can be read. Re-save the model with numpy arrays.")
        x = np.asarray(_plain(state["x"], key, where))
        if x.dtype.kind not in "biuf":
            raise FlamePickleError(f"{where}: '{key}' ({value.origin}) does not hold a numeric array")
        return x
    if isinstance(value, _SparseMatrix):
        return _sparse_to_dense(value, key, where)
    if isinstance(value, dict):
        return {k: _plain(v, key, where) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return type(value)(_plain(v, key, where) for v in value)
    if isinstance(value, (np.ndarray, np.generic, str, bytes, int, float, complex, type(None))):
        return value
    # A class, a function or a bare stand-in: nothing a model file should hold,
    # and we hand none of our loader's internals back to the caller.
    raise FlamePickleError(f"{where}: '{key}' holds a {type(value).__name__}, not an array")


def _sparse_to_dense(m: _SparseMatrix, key: str, where: str) -> np.ndarray:
    """Dense array of a pickled scipy CSC/CSR matrix (duplicates summed, as scipy does)."""
    def bad(why: str) -> FlamePickleError:
        return FlamePickleError(f"{where}: '{key}' is a malformed {m.origin}: {why}")

    state = m.state if isinstance(m.state, dict) else {}
    shape = state.get("_shape", state.get("shape"))   # older scipy pickled `shape`
    if any(k not in state for k in ("data", "indices", "indptr")) or shape is None:
        raise bad("data, indices, indptr and shape are required")
    try:
        n_rows, n_cols = (int(n) for n in shape)
    except (TypeError, ValueError):
        raise bad(f"shape {shape!r} is not two integers") from None
    data = np.asarray(state["data"]).ravel()
    indices = np.asarray(state["indices"]).ravel()
    indptr = np.asarray(state["indptr"]).ravel()
    if min(n_rows, n_cols) < 0 or n_rows * n_cols > _MAX_DENSE_ELEMENTS:
        raise bad(f"shape {n_rows}x{n_cols} is not a plausible model array")
    if data.dtype.kind not in "biuf" or indices.dtype.kind not in "iu" or indptr.dtype.kind not in "iu":
        raise bad("data must be numeric and indices/indptr integer")
    # CSC: indptr[j]:indptr[j+1] slices the entries of column j, indices are
    # their rows. CSR is the same with rows and columns swapped.
    n_major, n_minor = (n_cols, n_rows) if m.layout == "csc" else (n_rows, n_cols)
    if indptr.shape != (n_major + 1,) or indptr[0] != 0 or (np.diff(indptr) < 0).any():
        raise bad(f"indptr must be {n_major + 1} non-decreasing offsets from 0")
    nnz = int(indptr[-1])
    if nnz > min(len(indices), len(data)):
        raise bad(f"indptr promises {nnz} entries, the arrays hold {min(len(indices), len(data))}")
    minor = indices[:nnz].astype(np.int64)
    if nnz and (minor.min() < 0 or minor.max() >= n_minor):
        raise bad(f"indices outside 0..{n_minor - 1}")
    major = np.repeat(np.arange(n_major), np.diff(indptr))
    rows, cols = (minor, major) if m.layout == "csc" else (major, minor)
    dense = np.zeros((n_rows, n_cols), data.dtype)
    np.add.at(dense, (rows, cols), data[:nnz])
    return dense
