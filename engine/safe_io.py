"""Files users hand us, read without surprises, and outputs checked before any work starts.

Inputs: `input_file` refuses what is missing, a folder, or not a regular file (a FIFO would
block a reader forever, a device never ends) before anything opens it; `read_json` and
`read_npz` then read with bounds: a JSON file's size, an .npz member's header and its claimed
shape against the bytes the archive really holds, so a hostile file cannot make us allocate
terabytes. .npz members are parsed here rather than by np.load, which would allocate a
claimed shape before reading it, and which says "allow_pickle" where we mean "never".

Outputs: `output_path` checks that the target's folder exists (or can be made) under a
folder we may write in, and that an existing target is of the kind we would write; the
writers themselves go through a temporary name and a rename (engine/files.py).

Every refusal is an InputError naming the path: `<what> <path>: <problem>. <what to do>`.
"""
from __future__ import annotations

import json
import os
import stat
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .errors import InputError, OutputError

MAX_JSON_BYTES = 256 * 2 ** 20
MAX_NPZ_MEMBER_BYTES = 8 * 2 ** 30          # one array; the largest we write (a corpus shard) is ~20 MB
MAX_DEFLATE_RATIO = 1100                     # deflate cannot expand more than ~1032x
MAX_NPY_HEADER = 10000                       # numpy's own default
PICKLE_HINT = "pickles are never read, since loading one can run code: save plain arrays with numpy.savez"


def _stat(p: Path, what: str) -> os.stat_result:
    try:
        return os.stat(p)
    except FileNotFoundError:
        raise InputError(f"{what} {p}", "does not exist", "check the path") from None
    except OSError as e:                                     # a symlink loop, a name too long ...
        raise InputError(f"{what} {p}", f"cannot be opened ({e.strerror or e})") from None


def input_file(path, what: str = "file") -> Path:
    """`path` as a Path if it is a readable regular file; else InputError saying what it is."""
    p = Path(path)
    mode = _stat(p, what).st_mode
    if stat.S_ISDIR(mode):
        raise InputError(f"{what} {p}", "is a folder, not a file", "give the file inside it")
    if not stat.S_ISREG(mode):
        raise InputError(f"{what} {p}", "is not a regular file (a FIFO, device or socket)",
                         "give a file on disk")
    if not os.access(p, os.R_OK):
        raise InputError(f"{what} {p}", "is not readable (permissions)")
    return p


def input_dir(path, what: str = "folder") -> Path:
    p = Path(path)
    if not stat.S_ISDIR(_stat(p, what).st_mode):
        raise InputError(f"{what} {p}", "is not a folder")
    return p


def read_json(path, what: str = "JSON file", kind: type | None = dict, max_bytes: int = MAX_JSON_BYTES):
    """The parsed JSON document of a file (of type `kind` when given)."""
    p = input_file(path, what)
    if p.stat().st_size > max_bytes:
        raise InputError(f"{what} {p}", f"is {p.stat().st_size} bytes, more than the {max_bytes} a JSON file may be")
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"{what} {p}", "is not UTF-8 text (a binary file?)") from None
    except json.JSONDecodeError as e:
        raise InputError(f"{what} {p}", f"is not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})") from None
    except RecursionError:
        raise InputError(f"{what} {p}", "nests too deeply to be a config") from None
    if kind is not None and not isinstance(doc, kind):
        raise InputError(f"{what} {p}", f"holds a JSON {_json_kind(doc)}, expected a JSON {_json_kind(kind())}")
    return doc


def _json_kind(x) -> str:
    return {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}.get(type(x), "number")


def read_npz(path, what: str = "file", keys=None, max_member_bytes: int = MAX_NPZ_MEMBER_BYTES) -> dict:
    """{key: array} of an .npz archive (only `keys` when given), never unpickling; InputError
    naming the key at fault."""
    p = input_file(path, what)
    where = f"{what} {p}"
    try:
        zf = zipfile.ZipFile(p)
    except (zipfile.BadZipFile, EOFError, ValueError, OSError, NotImplementedError):
        raise InputError(where, _not_npz_reason(p)) from None
    with zf:
        out = {}
        for info in zf.infolist():
            if info.is_dir():
                continue
            key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            if not info.filename.endswith(".npy"):
                raise InputError(where, f"member '{info.filename}' is not an .npy array",
                                 "an .npz holds only arrays saved by numpy.savez")
            if keys is None or key in keys:
                out[key] = _read_member(zf, info, where, key, max_member_bytes)
    return out


def _not_npz_reason(p: Path) -> str:
    try:
        with open(p, "rb") as f:
            head = f.read(8)
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"
    if not head:
        return "is empty (0 bytes)"
    if head[:1] == b"\x80":
        return f"is a Python pickle, not an .npz archive; {PICKLE_HINT}"
    if head[:6] == b"\x93NUMPY":
        return "holds a single unnamed array (.npy data); save named arrays with numpy.savez"
    if head[:2] == b"PK":
        return "is a damaged or truncated .npz (zip) archive"
    return "is not an .npz archive"


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str, key: str, max_bytes: int) -> np.ndarray:
    if info.file_size > max_bytes:
        raise InputError(where, f"key '{key}' claims {info.file_size} bytes, more than the {max_bytes} allowed")
    if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
        raise InputError(where, f"key '{key}' claims {info.file_size} bytes but stores {info.compress_size}: "
                                "the archive is damaged")
    deflated_limit = max(2 ** 20, MAX_DEFLATE_RATIO * info.compress_size)
    if info.compress_type != zipfile.ZIP_STORED and info.file_size > deflated_limit:
        raise InputError(where, f"key '{key}' claims {info.file_size} bytes from {info.compress_size} compressed; "
                                "that is not a real archive")
    try:
        with zf.open(info) as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f, max_header_size=MAX_NPY_HEADER)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f, max_header_size=MAX_NPY_HEADER)
            else:
                raise ValueError(f"npy format version {version} is not supported")
            if dtype.hasobject:
                raise InputError(where, f"key '{key}' is an array of Python objects (a pickle); {PICKLE_HINT}")
            count = int(np.prod(shape, dtype=np.int64)) if len(shape) else 1
            if count < 0 or any(d < 0 for d in shape):
                raise InputError(where, f"key '{key}' claims the impossible shape {shape}")
            nbytes = count * dtype.itemsize
            held = info.file_size - f.tell()
            if nbytes != held:
                raise InputError(where, f"key '{key}' claims shape {list(shape)} of {dtype} ({nbytes} bytes) "
                                        f"but holds {held} bytes: the file is damaged or truncated")
            arr = np.empty(count, dtype=dtype)
            if nbytes and f.readinto(memoryview(arr.view(np.uint8))) != nbytes:
                raise InputError(where, f"key '{key}' is truncated")
    except InputError:
        raise
    except (ValueError, TypeError, SyntaxError, OverflowError, MemoryError) as e:
        raise InputError(where, f"key '{key}' is not a valid .npy array ({e})") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as e:
        raise InputError(where, f"key '{key}' cannot be read: the archive is damaged ({e})") from None
    return arr.reshape(shape, order="F" if fortran else "C")


# -- outputs ----------------------------------------------------------------------------------
def output_path(path, what: str = "output", kind: str = "file", suffixes: tuple = (), force: bool = False,
                must_be_empty: bool = False) -> Path:
    """Check an output target before the work that makes it. kind "file": an existing target
    must be a file with one of `suffixes` (ours) unless force; kind "dir": an existing target
    must be a folder (empty, with must_be_empty, unless force). The nearest existing folder
    above it must be writable. Returns the path; creates nothing."""
    p = Path(path)
    where = f"{what} {p}"
    if suffixes and p.suffix.lower() not in suffixes:
        raise OutputError(where, f"must end in {' or '.join(suffixes)}")
    anc = p.parent if str(p.parent) else Path(".")
    while not anc.exists() and not anc.is_symlink() and anc != anc.parent:
        anc = anc.parent
    if not anc.is_dir():
        raise OutputError(where, f"{anc} is a file, not a folder", "choose a path under a folder")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise OutputError(where, f"cannot write in {anc} (permissions)")
    if p.is_symlink() and not p.exists():
        raise OutputError(where, "is a broken or looping symbolic link", "remove it or choose another path")
    if p.exists():
        if kind == "file":
            if p.is_dir():
                raise OutputError(where, "is a folder", "give a file name")
            if not p.is_file():
                raise OutputError(where, "exists and is not a regular file")
        elif not p.is_dir():
            raise OutputError(where, "exists and is not a folder", "give a new folder")
        elif must_be_empty and not force and any(p.iterdir()):
            raise OutputError(where, "already exists and is not empty", "give a new folder")
    return p
