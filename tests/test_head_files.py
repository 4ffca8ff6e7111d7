"""Head files: FLAME .pkl through the restricted unpickler, FLAME .npz, our .safetensors.

We have no real FLAME model here, so the .pkl tests write FLAME-shaped files
ourselves. Real FLAME pickles name `chumpy.ch.Ch` and `scipy.sparse.csc.csc_matrix`;
to write those names without chumpy or scipy installed we register fake
modules while pickling and remove them again before loading, which also
proves the loader never needs the real packages.
"""
import _compat_pickle
import builtins
import json
import os
import pickle
import struct
import subprocess
import sys
import types
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from engine.flame_pickle import FlamePickleError, load_flame_pickle
from engine.head import FLAME_EXPR_SPACE, HeadError, load_head, save_head

from conftest import make_tiny_head


# -- fakes of the classes FLAME files name -------------------------------------
class FakeCh:
    """Pickles like chumpy.ch.Ch: a plain object whose __dict__ holds the array as 'x'."""

    def __init__(self, x):
        self.x = x
        # Other state real Ch objects carry (the set matters: protocol 2 writes it as __builtin__.set).
        self._dirty_vars = {"x"}
        self._itr = None
        self._depends_on_deps = {}
        self._make_dense = False
        self._make_sparse = False


class FakeReshape:
    """Pickles like chumpy.reordering.Reshape: an expression node without an 'x'."""

    def __init__(self, a, newshape):
        self.a, self.newshape = a, newshape


class FakeSparse:
    """Pickles like a scipy CSC/CSR matrix: data/indices/indptr/_shape in __dict__."""

    layout = "csc"

    def __init__(self, dense):
        # Walk columns for CSC (rows for CSR) and keep the non-zeros of each.
        lines = dense.T if self.layout == "csc" else dense
        self.data = np.concatenate([line[line != 0] for line in lines])
        self.indices = np.concatenate([np.flatnonzero(line) for line in lines]).astype(np.int32)
        self.indptr = np.concatenate([[0], np.cumsum([np.count_nonzero(line) for line in lines])]).astype(np.int32)
        self._shape = dense.shape
        self.maxprint = 50


class FakeCsr(FakeSparse):
    layout = "csr"


def _rename(cls, module, name):
    cls.__module__, cls.__name__, cls.__qualname__ = module, name, name
    return cls


_rename(FakeCh, "chumpy.ch", "Ch")
_rename(FakeReshape, "chumpy.reordering", "Reshape")


@contextmanager
def fake_modules(**classes):
    """Register `module.name` -> class (and parent packages) in sys.modules for pickling only."""
    saved = dict(sys.modules)
    try:
        for qualified, cls in classes.items():
            module, name = qualified.rsplit(".", 1)
            parts = module.split(".")
            for i in range(1, len(parts) + 1):
                sys.modules.setdefault(".".join(parts[:i]), types.ModuleType(".".join(parts[:i])))
            for i in range(1, len(parts)):  # pickle imports the package, then walks attributes
                setattr(sys.modules[".".join(parts[:i])], parts[i], sys.modules[".".join(parts[:i + 1])])
            setattr(sys.modules[module], name, _rename(cls, module, name))
        yield
    finally:
        for name in set(sys.modules) - set(saved):
            del sys.modules[name]
        sys.modules.update(saved)


class Py2StylePickler(pickle._Pickler):
    """Writes bytes as Python 2 `str` (BINSTRING), as FLAME's own files do.

    Python 3 writes bytes as `_codecs.encode(u'...', 'latin1')` at protocol 2,
    so without this we would never exercise the path real files take: numpy
    rebuilding an array from a latin-1 decoded str.
    """

    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2_str(self, obj):
        n = len(obj)
        self.write((pickle.SHORT_BINSTRING + bytes([n]) if n < 256 else pickle.BINSTRING + struct.pack("<i", n)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str


def flame_dict(arrays, sparse_cls=FakeSparse):
    """A FLAME-shaped model dict, with chumpy and scipy objects where FLAME 2020 has them."""
    return {
        "v_template": arrays["v_template"],
        "shapedirs": FakeCh(arrays["shapedirs"]),
        "posedirs": arrays["posedirs"],
        "J_regressor": sparse_cls(arrays["J_regressor"]),
        "weights": arrays["weights"],
        "kintree_table": arrays["kintree_table"],
        "f": arrays["f"],
        "bs_style": "lbs",
        "bs_type": "lrotmin",
    }


def assert_same_arrays(got, want):
    for k, v in want.items():
        assert k in got, k
        assert isinstance(got[k], np.ndarray), k
        assert got[k].dtype == v.dtype and got[k].shape == v.shape, k
        np.testing.assert_array_equal(got[k], v, err_msg=k)


# -- FLAME .pkl -----------------------------------------------------------------
@pytest.mark.parametrize("protocol,sparse_global,sparse_cls,py2_strings", [
    (2, "scipy.sparse.csc.csc_matrix", FakeSparse, True),     # FLAME 2020 as written by Python 2
    (2, "scipy.sparse.csc.csc_matrix", FakeSparse, False),    # the same, re-pickled by Python 3
    (0, "scipy.sparse.csc.csc_matrix", FakeSparse, False),    # text protocol: copy_reg._reconstructor
    (2, "scipy.sparse._csr.csr_matrix", FakeCsr, False),      # newer scipy module names, CSR layout
    (5, "scipy.sparse._csc.csc_matrix", FakeSparse, False),   # pickle.HIGHEST_PROTOCOL re-saves
])
def test_flame_pickle_round_trip(tmp_path, protocol, sparse_global, sparse_cls, py2_strings):
    head = make_tiny_head()
    source = head.to_flame_arrays()
    path = tmp_path / "model.pkl"
    with fake_modules(**{"chumpy.ch.Ch": FakeCh, sparse_global: sparse_cls}):
        model = flame_dict(source, sparse_cls)
        if py2_strings:
            with open(path, "wb") as f:
                Py2StylePickler(f, protocol=protocol).dump(model)
        else:
            path.write_bytes(pickle.dumps(model, protocol=protocol))
    data = path.read_bytes()
    assert b"chumpy.ch" in data and sparse_global.rsplit(".", 1)[0].encode() in data
    assert "chumpy" not in sys.modules and "scipy" not in sys.modules

    arrays = load_flame_pickle(path)
    assert "chumpy" not in sys.modules and "scipy" not in sys.modules
    assert_same_arrays(arrays, source)
    assert arrays["bs_style"] == "lbs"
    assert all(v.flags.writeable for v in arrays.values() if isinstance(v, np.ndarray))

    loaded = load_head(path)
    assert_same_arrays(loaded.to_flame_arrays(), source)
    np.testing.assert_array_equal(loaded.exprdirs[:, :, : head.num_expr], head.exprdirs)
    assert loaded.num_expr == FLAME_EXPR_SPACE  # a .pkl has no names: all 100 FLAME channels


def test_sparse_duplicates_are_summed_like_scipy(tmp_path):
    m = FakeSparse(np.zeros((2, 3), np.float32))
    # Column 1 holds row 0 twice and row 1 once; scipy's toarray() sums duplicates.
    m.data = np.array([1.0, 2.0, 4.0], np.float32)
    m.indices = np.array([0, 0, 1], np.int32)
    m.indptr = np.array([0, 0, 3, 3], np.int32)
    path = tmp_path / "sparse.pkl"
    with fake_modules(**{"scipy.sparse.csc.csc_matrix": FakeSparse}):
        path.write_bytes(pickle.dumps({"J": m}, protocol=2))
    np.testing.assert_array_equal(load_flame_pickle(path)["J"], [[0, 3, 0], [0, 4, 0]])


def test_malformed_sparse_is_refused(tmp_path):
    m = FakeSparse(np.eye(3, dtype=np.float32))
    m.indices = m.indices + 5   # rows outside the 3x3 shape
    path = tmp_path / "sparse.pkl"
    with fake_modules(**{"scipy.sparse.csc.csc_matrix": FakeSparse}):
        path.write_bytes(pickle.dumps({"J_regressor": m}, protocol=2))
    with pytest.raises(FlamePickleError, match="J_regressor.*malformed scipy.sparse.csc.csc_matrix"):
        load_flame_pickle(path)


def test_chumpy_expression_without_x_is_refused(tmp_path):
    arrays = make_tiny_head().to_flame_arrays()
    model = flame_dict(arrays)
    model["shapedirs"] = FakeReshape(FakeCh(arrays["shapedirs"].ravel()), arrays["shapedirs"].shape)
    path = tmp_path / "model.pkl"
    with fake_modules(**{"chumpy.ch.Ch": FakeCh, "chumpy.reordering.Reshape": FakeReshape,
                         "scipy.sparse.csc.csc_matrix": FakeSparse}):
        path.write_bytes(pickle.dumps(model, protocol=2))
    with pytest.raises(FlamePickleError, match=r"'shapedirs' is a chumpy.reordering.Reshape .*no stored array"):
        load_head(path)


# -- malicious pickles ------------------------------------------------------------
class Payload:
    """An object whose unpickling calls `func(*args)`: the classic pickle exploit."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _payloads(sentinel):
    return [
        (os.system, (f"touch {sentinel}",)),
        (builtins.exec, (f"open({str(sentinel)!r}, 'w').close()",)),
        (builtins.eval, (f"open({str(sentinel)!r}, 'w').close()",)),
        (subprocess.Popen, (["touch", str(sentinel)],)),
        (np.load, (str(sentinel),)),   # numpy, but not one of the names FLAME files use
    ]


@pytest.mark.parametrize("protocol", [0, 2, 4])
@pytest.mark.parametrize("which", range(5))
def test_malicious_pickle_is_refused_and_not_run(tmp_path, protocol, which):
    sentinel = tmp_path / "SENTINEL"
    func, args = _payloads(sentinel)[which]
    arrays = make_tiny_head().to_flame_arrays()
    # Hide the payload among real arrays, after the first keys have loaded.
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({**arrays, "weights": Payload(func, *args)}, protocol=protocol))
    # The name as the file spells it: os.system is posix.system, and below
    # protocol 3 pickle writes Python 2 names (builtins.exec is __builtin__.exec,
    # subprocess.Popen is commands.Popen).
    module, name = func.__module__, func.__qualname__
    if protocol < 3:
        module, name = _compat_pickle.REVERSE_NAME_MAPPING.get((module, name), (module, name))
        module = _compat_pickle.REVERSE_IMPORT_MAPPING.get(module, module)
    named = f"{module}.{name}"

    with pytest.raises(FlamePickleError) as err:
        load_head(path)
    message = str(err.value)
    assert f"refusing to load {named} from {path}" in message
    assert "may be malicious" in message
    assert not sentinel.exists()


@pytest.mark.parametrize("data,match", [
    # copy_reg._reconstructor is allowed, but only to create our stand-ins.
    (b"ccopy_reg\n_reconstructor\n(cnumpy\ndtype\nc__builtin__\nobject\nNtR.", "_reconstructor"),
    # _codecs.encode is allowed, but only str -> latin-1 bytes (not zlib, base64...).
    (b"c_codecs\nencode\n(S'x'\nS'base64'\ntR.", "_codecs.encode"),
    # bytes() only makes b''; bytes(10**12) would try to allocate a terabyte.
    (b"c__builtin__\nbytes\n(I1000000000000\ntR.", "bytes"),
    # persistent ids would ask us for external objects.
    (b"P1\n.", "persistent ids"),
])
def test_whitelisted_callables_cannot_be_abused(tmp_path, data, match):
    path = tmp_path / "model.pkl"
    path.write_bytes(data)
    with pytest.raises(FlamePickleError, match=match):
        load_flame_pickle(path)


# -- damaged and wrong files ------------------------------------------------------
def _valid_pickle():
    return pickle.dumps(make_tiny_head().to_flame_arrays(), protocol=2)


@pytest.mark.parametrize("content", [
    b"",                                                  # empty
    bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)),  # garbage
    b"PK\x03\x04 this is a zip, not a pickle",            # another format
    "truncated",                                          # a valid pickle cut in half
])
def test_damaged_pickle_names_the_file(tmp_path, content):
    if content == "truncated":
        full = _valid_pickle()
        content = full[: len(full) // 2]
    path = tmp_path / "broken.pkl"
    path.write_bytes(content)
    with pytest.raises(FlamePickleError, match=f"{path}: not a readable FLAME model pickle"):
        load_flame_pickle(path)
    with pytest.raises(HeadError, match=str(path)):  # FlamePickleError is a HeadError for load_head callers
        load_head(path)


def test_pickle_missing_arrays_is_a_head_error(tmp_path):
    arrays = make_tiny_head().to_flame_arrays()
    del arrays["v_template"]
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(arrays, protocol=2))
    with pytest.raises(HeadError, match="not a FLAME-format model, missing v_template"):
        load_head(path)


def test_pickle_of_something_else_is_refused(tmp_path):
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps([1, 2, 3], protocol=2))
    with pytest.raises(FlamePickleError, match="holds a dict of arrays, this one holds list"):
        load_flame_pickle(path)


# -- FLAME .npz -------------------------------------------------------------------
@pytest.mark.parametrize("with_names", [False, True])
def test_flame_npz_round_trip(tmp_path, with_names):
    head = make_tiny_head()
    source = head.to_flame_arrays()
    # FLAME's layout always has 100 expression columns, so names cover all of them.
    names = head.expr_names + [f"unused{i}" for i in range(FLAME_EXPR_SPACE - head.num_expr)]
    path = tmp_path / "model.npz"
    np.savez(path, **source, **({"expr_names": np.array(names)} if with_names else {}))
    loaded = load_head(path)
    assert_same_arrays(loaded.to_flame_arrays(), source)
    np.testing.assert_array_equal(loaded.shapedirs[:, :, :3], head.shapedirs)
    np.testing.assert_array_equal(loaded.exprdirs[:, :, : head.num_expr], head.exprdirs)
    assert loaded.expr_names == (names if with_names else [f"exp{i:03d}" for i in range(FLAME_EXPR_SPACE)])


# -- our .safetensors ---------------------------------------------------------------
def test_safetensors_round_trip(tmp_path):
    head = make_tiny_head()
    save_head(head, tmp_path / "head")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["head.json", "head.safetensors"]  # no .tmp left
    loaded = load_head(tmp_path / "head.safetensors")
    for k in ("v_template", "shapedirs", "exprdirs", "posedirs", "J_regressor", "weights", "faces", "vertex_part"):
        np.testing.assert_array_equal(getattr(loaded, k), getattr(head, k), err_msg=k)
    assert loaded.faces.dtype == np.int32 and loaded.v_template.dtype == np.float32
    assert loaded.expr_names == head.expr_names
    assert loaded.meta == head.meta


def test_safetensors_without_json_sidecar(tmp_path):
    save_head(make_tiny_head(), tmp_path / "head")
    (tmp_path / "head.json").unlink()
    with pytest.raises(HeadError, match="JSON config head.json must sit beside the weights"):
        load_head(tmp_path / "head.safetensors")


def test_missing_and_unknown_files(tmp_path):
    with pytest.raises(HeadError, match="does not exist"):
        load_head(tmp_path / "nope.pkl")
    (tmp_path / "model.obj").write_text("v 0 0 0\n")
    with pytest.raises(HeadError, match="unknown type '.obj'"):
        load_head(tmp_path / "model.obj")


def test_checkpoint_pair_is_written_whole_or_not_at_all(tmp_path):
    from engine.files import write_weights_and_config

    w, c = tmp_path / "m.safetensors", tmp_path / "m.json"
    write_weights_and_config(w, c, lambda f: Path(f).write_bytes(b"old"), {"v": 1})
    assert w.read_bytes() == b"old" and json.loads(c.read_text()) == {"v": 1}

    def broken(f):
        Path(f).write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_weights_and_config(w, c, broken, {"v": 2})
    assert w.read_bytes() == b"old" and json.loads(c.read_text()) == {"v": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.safetensors"]
