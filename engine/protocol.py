"""The engine worker's wire format: framed messages over a pipe, numpy only (no torch, no pickle).

The Blender add-on talks to `engine/worker.py` through the worker's stdin and stdout. Both
sides use this module, so the format is written down once:

    b"TDM1" | uint32 big-endian n | n bytes of UTF-8 JSON header | array bytes ...

The header is a JSON object with a "type" (generate, caption, ask, cancel, ping, quit;
ready, progress, clips, text, pong, cancelled, error, fatal) and, when arrays follow, an
"arrays" list of [name, dtype, shape]. Each array's raw C-order bytes follow the header in
that order; their lengths come from dtype and shape, so nothing is parsed but the JSON.
Pickle is never used: a message can only ever become dicts, lists, strings, numbers and
plain numeric arrays. Sizes are bounded, so a corrupt stream fails with a ProtocolError
instead of allocating without limit.
"""
from __future__ import annotations

import json
import struct

import numpy as np

from .clip import MotionClip

MAGIC = b"TDM1"
MAX_HEADER = 4 << 20          # 4 MiB of JSON: prompts, captions, clip metadata
MAX_ARRAY = 1 << 30           # 1 GiB per array: far above any clip (20 s x 41 channels is 100 kB)
# Little-endian numeric types only: what clips are made of.
DTYPES = {"<f4", "<f8", "<i4", "<i8", "|u1", "|b1"}


class ProtocolError(RuntimeError):
    """The other side sent something that is not a message of this protocol."""


def write_message(stream, header: dict, arrays: dict[str, np.ndarray] | None = None) -> None:
    """Write one message and flush. Arrays are sent as C-order little-endian bytes."""
    specs, blobs = [], []
    for name, a in (arrays or {}).items():
        a = np.ascontiguousarray(a)
        if a.dtype.byteorder == ">":
            a = a.astype(a.dtype.newbyteorder("<"))
        if a.dtype.str not in DTYPES:
            raise ProtocolError(f"array {name!r} has dtype {a.dtype}, which the protocol does not carry")
        specs.append([name, a.dtype.str, list(a.shape)])
        blobs.append(a.tobytes())
    head = json.dumps({**header, "arrays": specs} if specs else header, separators=(",", ":")).encode()
    if len(head) > MAX_HEADER:
        raise ProtocolError(f"message header is {len(head)} bytes; at most {MAX_HEADER} are allowed")
    stream.write(MAGIC + struct.pack(">I", len(head)) + head)
    for b in blobs:
        stream.write(b)
    stream.flush()


def read_message(stream) -> tuple[dict, dict[str, np.ndarray]] | None:
    """One (header, arrays) from `stream`, or None at a clean end of stream (before a message)."""
    first = stream.read(8)
    if not first:
        return None
    first += _read_exact(stream, 8 - len(first))
    if first[:4] != MAGIC:
        raise ProtocolError(f"stream does not start a message (got {first[:4]!r}, expected {MAGIC!r})")
    (n,) = struct.unpack(">I", first[4:])
    if n > MAX_HEADER:
        raise ProtocolError(f"message header claims {n} bytes; at most {MAX_HEADER} are allowed")
    try:
        header = json.loads(_read_exact(stream, n).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ProtocolError(f"message header is not JSON ({e})") from None
    if not isinstance(header, dict) or not isinstance(header.get("type"), str):
        raise ProtocolError("message header is not an object with a 'type'")
    arrays = {}
    for spec in header.pop("arrays", []) or []:
        try:
            name, dtype, shape = spec
            shape = tuple(int(s) for s in shape)
        except (TypeError, ValueError):
            raise ProtocolError(f"bad array description {spec!r}") from None
        if dtype not in DTYPES or any(s < 0 for s in shape):
            raise ProtocolError(f"array {name!r}: dtype {dtype!r} or shape {shape} is not allowed")
        nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        if nbytes > MAX_ARRAY:
            raise ProtocolError(f"array {name!r} claims {nbytes} bytes; at most {MAX_ARRAY} are allowed")
        arrays[str(name)] = np.frombuffer(_read_exact(stream, nbytes), dtype=dtype).reshape(shape).copy()
    return header, arrays


def _read_exact(stream, n: int) -> bytes:
    parts, left = [], n
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise ProtocolError(f"stream ended {left} bytes before the end of a message")
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


# -- clips as header entries + arrays ----------------------------------------------------------
def pack_clips(clips: list[MotionClip], prefix: str = "clip") -> tuple[list[dict], dict[str, np.ndarray]]:
    """Clips -> (JSON descriptions, arrays named "<prefix><i>.pose" ...)."""
    descs, arrays = [], {}
    for i, c in enumerate(clips):
        descs.append({"expr_names": list(c.expr_names), "fps": float(c.fps), "text": list(c.text),
                      "meta": c.meta})
        for key in ("pose", "expr", "transl"):
            arrays[f"{prefix}{i}.{key}"] = getattr(c, key)
    return descs, arrays


def unpack_clips(descs, arrays: dict[str, np.ndarray], prefix: str = "clip") -> list[MotionClip]:
    """The inverse of pack_clips; every clip is validated (a ClipError names what is wrong)."""
    out = []
    for i, d in enumerate(descs or []):
        try:
            parts = {k: arrays[f"{prefix}{i}.{k}"] for k in ("pose", "expr", "transl")}
        except KeyError as e:
            raise ProtocolError(f"clip {i} lacks its array {e}") from None
        out.append(MotionClip(expr_names=list(d["expr_names"]), fps=float(d["fps"]), text=list(d.get("text", [])),
                              meta=dict(d.get("meta", {})), **parts).validate())
    return out
