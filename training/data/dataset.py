"""Read a motion dataset folder, clip by clip: real data or our procedural corpus.

Two layouts (docs/DATASET_FORMAT.md has the full description):

- clip folder (real data, what `tdmm import tracker` writes):
      DIR/clips/<id>.npz       one MotionClip file each (engine/clip.py format)
      DIR/captions.jsonl       {"id", "split"?, "captions", "labels"?, "qa"?} per line
- shards (the procedural corpus of `tdmm synth`):
      DIR/shard-XXXXX.npz      per-clip arrays stacked and padded to the longest
                               clip, plus `num_frames` [N], `expr_names` [K], `fps`
      DIR/labels.jsonl         {"id", "split", "labels", "captions", "qa", "shard", "row"}

`ClipDataset` tells them apart by the files present, checks every JSONL line
on opening (errors name the file and line) but keeps only a small index in
memory (id, split, where the clip lives, where its line starts), and reads a
clip when asked: its line is re-read then, and the shard layout keeps one
shard's arrays cached at a time, so reading in order (the order of `ids`,
shard by shard) loads each shard once. Numpy only.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.clip import ClipError, MotionClip, clip_from_arrays, load_clip
from engine.errors import InputError
from engine.safe_io import input_dir, input_file, read_npz
from training.corpus.labels import SPLITS, check_labels

# Split of a clip whose JSONL line has none: sha256 of the id, first 8 hex
# digits as an integer, modulo 100: 0-89 train, 90-94 val, 95-99 test.
SPLIT_PERCENT = {"train": 90, "val": 5, "test": 5}
CAPTIONS_FILE = "captions.jsonl"
CLIPS_DIR = "clips"
LABELS_FILE = "labels.jsonl"
SHARD_GLOB = "shard-*.npz"
# Shard keys that are not per-clip arrays of shape [N, T_max, ...].
_SHARD_SHARED = ("num_frames", "expr_names", "fps", "clip_id")


class DatasetError(InputError):
    """A dataset folder or one of its index lines is malformed."""


class DatasetWarning(UserWarning):
    """A dataset was opened, but some clips or index lines do not match up."""


def assign_split(clip_id: str) -> str:
    """The split of a clip whose index line names none: deterministic in the id alone."""
    bucket = int(hashlib.sha256(clip_id.encode("utf-8")).hexdigest()[:8], 16) % 100
    if bucket < SPLIT_PERCENT["train"]:
        return "train"
    return "val" if bucket < SPLIT_PERCENT["train"] + SPLIT_PERCENT["val"] else "test"


def natural_key(name: str) -> list:
    """Sort key that puts frame_2 before frame_10."""
    return [int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", name)]


def check_record(rec, where: str, shard: bool = False) -> dict:
    """Check one JSONL index line (already parsed); return it with 'split' filled in.

    `where` names the line in errors ("DIR/captions.jsonl line 3").
    """
    if not isinstance(rec, dict):
        raise DatasetError(f"{where}: expected a JSON object, got {type(rec).__name__}")
    cid = rec.get("id")
    if not isinstance(cid, str) or not cid or "/" in cid or "\\" in cid or cid.startswith("."):
        raise DatasetError(f"{where}: 'id' must be a non-empty string usable as a file name, got {cid!r}")
    split = rec.get("split")
    if split is None:
        rec["split"] = assign_split(cid)
    elif split not in SPLITS:
        raise DatasetError(f"{where}: 'split' is {split!r}, expected one of {', '.join(SPLITS)} or absent")
    caps = rec.get("captions", [])
    if not isinstance(caps, list) or not all(type(c) is str for c in caps):
        raise DatasetError(f"{where}: 'captions' must be a list of strings")
    if not isinstance(rec.get("qa", []), list):
        raise DatasetError(f"{where}: 'qa' must be a list")
    if rec.get("labels") is not None:
        try:
            check_labels(rec["labels"])
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise DatasetError(f"{where}: bad 'labels' (schema in training/corpus/labels.py): {err}") from None
    if shard:
        if not isinstance(rec.get("shard"), (int, str)) or isinstance(rec.get("shard"), bool):
            raise DatasetError(f"{where}: 'shard' must be a shard number or file name, got {rec.get('shard')!r}")
        if not isinstance(rec.get("row"), int) or isinstance(rec["row"], bool) or rec["row"] < 0:
            raise DatasetError(f"{where}: 'row' must be the clip's row >= 0 in its shard, got {rec.get('row')!r}")
    return rec


def read_jsonl_index(path: Path, shard: bool = False):
    """Yield every line of a JSONL index as (checked record, byte offset of the line).

    Raises DatasetError naming the file and line for bad JSON, a bad record or
    an id given twice. Blank lines are allowed.
    """
    seen = {}
    try:
        input_file(path, "index file")
    except InputError as e:
        raise DatasetError(str(e)) from None
    with open(path, "rb") as f:
        offset, lineno = 0, 0
        for raw in f:
            lineno += 1
            start, offset = offset, offset + len(raw)
            if not raw.strip():
                continue
            where = f"{path} line {lineno}"
            try:
                rec = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                raise DatasetError(f"{where}: not valid JSON ({e})") from None
            rec = check_record(rec, where, shard)
            if rec["id"] in seen:
                raise DatasetError(f"{where}: id {rec['id']!r} already given on line {seen[rec['id']]}")
            seen[rec["id"]] = lineno
            yield rec, start


@dataclass(frozen=True)
class _Entry:
    id: str
    split: str
    line: int | None        # byte offset of the JSONL line; None: the clip has no line
    file: str               # clip file name (clip folder) or shard file name
    index: int = 0          # clip's index in its shard


class ClipDataset:
    """A sequence of MotionClips read lazily from a dataset folder (either layout).

    `clip.text` holds the captions of the clip's JSONL line (the clip file's own
    text where the line has none) and `clip.meta` the file's meta plus
    {"id", "split", "labels", "qa"} (labels None and qa [] where absent).
    `split` keeps only the clips of that split. Problems found on opening
    (clips without a captions line, lines without a clip) are in `problems`
    and raised once as a DatasetWarning.
    """

    def __init__(self, root: str | os.PathLike, split: str | None = None):
        self.root = Path(root)
        if split is not None and split not in SPLITS:
            raise DatasetError(f"split must be one of {', '.join(SPLITS)} or None, got {split!r}")
        self.split = split
        self.problems: list[str] = []
        self._shard_name: str | None = None        # the one shard held in memory
        self._shard: dict | None = None
        try:
            input_dir(self.root, "dataset folder")
        except InputError as e:
            raise DatasetError(str(e)) from None
        has_clips = (self.root / CLIPS_DIR).is_dir() or (self.root / CAPTIONS_FILE).is_file()
        has_shards = (self.root / LABELS_FILE).is_file() or any(self.root.glob(SHARD_GLOB))
        if has_clips and has_shards:
            raise DatasetError(f"{self.root} holds both a clip folder ({CLIPS_DIR}/, {CAPTIONS_FILE}) and "
                               f"shards ({SHARD_GLOB}, {LABELS_FILE}); keep one layout per folder")
        if has_clips:
            self.layout, entries = "clips", self._index_clip_folder()
        elif has_shards:
            self.layout, entries = "shards", self._index_shards()
        else:
            found = ", ".join(sorted(p.name for p in self.root.iterdir())[:10]) or "nothing"
            raise DatasetError(f"{self.root} is not a dataset folder: expected {CLIPS_DIR}/<id>.npz + "
                               f"{CAPTIONS_FILE}, or {SHARD_GLOB} + {LABELS_FILE} (found: {found}); "
                               "see docs/DATASET_FORMAT.md")
        self._entries = [e for e in entries if split is None or e.split == split]
        self._by_id = {e.id: i for i, e in enumerate(self._entries)}
        if self.problems:
            shown = "; ".join(self.problems[:5]) + ("; ..." if len(self.problems) > 5 else "")
            warnings.warn(f"{self.root}: {len(self.problems)} problem(s): {shown} (all in .problems)",
                          DatasetWarning, stacklevel=2)

    # -- the sequence ----------------------------------------------------------
    def __len__(self) -> int:
        return len(self._entries)

    @property
    def ids(self) -> list[str]:
        return [e.id for e in self._entries]

    def __getitem__(self, i: int) -> MotionClip:
        if not isinstance(i, (int, np.integer)):
            raise TypeError(f"ClipDataset index must be an int (use .get(id) for ids), got {type(i).__name__}")
        if not -len(self) <= i < len(self):
            raise IndexError(f"clip index {i} out of range for {len(self)} clips")
        return self._read(self._entries[int(i)])

    def get(self, clip_id: str) -> MotionClip:
        if clip_id not in self._by_id:
            raise KeyError(f"no clip {clip_id!r} in {self.root}" + (f" (split {self.split})" if self.split else ""))
        return self._read(self._entries[self._by_id[clip_id]])

    def __iter__(self):
        for e in self._entries:
            yield self._read(e)

    def __repr__(self) -> str:
        return f"ClipDataset({str(self.root)!r}, split={self.split!r}): {len(self)} clips, {self.layout} layout"

    # -- indexing ----------------------------------------------------------------
    def _index_clip_folder(self) -> list[_Entry]:
        clips_dir, cap_path = self.root / CLIPS_DIR, self.root / CAPTIONS_FILE
        files = {}
        if clips_dir.is_dir():
            for p in clips_dir.iterdir():
                if p.name.startswith("."):          # temporaries of an atomic write, OS litter
                    continue
                if p.suffix.lower() == ".npz" and p.is_file():
                    files[p.stem] = p.name
                else:
                    self.problems.append(f"{CLIPS_DIR}/{p.name} is not a clip .npz; ignored")
        lines = read_jsonl_index(cap_path) if cap_path.is_file() else ()
        if not cap_path.is_file():
            self.problems.append(f"no {CAPTIONS_FILE}: all {len(files)} clips have no captions")
        entries, lined = [], set()
        for rec, off in lines:
            lined.add(rec["id"])
            if rec["id"] in files:
                entries.append(_Entry(rec["id"], rec["split"], off, files[rec["id"]]))
            else:
                self.problems.append(f"{CAPTIONS_FILE} names {rec['id']!r} but {CLIPS_DIR}/{rec['id']}.npz is missing")
        unlined = [cid for cid in files if cid not in lined]
        if unlined and cap_path.is_file():
            self.problems.append(f"no {CAPTIONS_FILE} line for {len(unlined)} clip(s): "
                                 + ", ".join(sorted(unlined, key=natural_key)[:10]))
        entries += [_Entry(cid, assign_split(cid), None, files[cid]) for cid in unlined]
        return sorted(entries, key=lambda e: natural_key(e.id))

    def _index_shards(self) -> list[_Entry]:
        lab_path = self.root / LABELS_FILE
        if not lab_path.is_file():
            raise DatasetError(f"{self.root} has shards but no {LABELS_FILE}; the shard layout needs both")
        entries, counts = [], {}            # shard file -> its clip count
        for rec, off in read_jsonl_index(lab_path, shard=True):
            s = rec["shard"]
            name = f"shard-{s:05d}.npz" if isinstance(s, int) else (s if s.endswith(".npz") else s + ".npz")
            where = f"{lab_path} (id {rec['id']!r})"
            if name not in counts:
                if not (self.root / name).is_file():
                    raise DatasetError(f"{where}: shard file {self.root / name} does not exist")
                counts[name] = len(self._shard_lengths(name))
            if rec["row"] >= counts[name]:
                raise DatasetError(f"{where}: row {rec['row']} but {name} holds {counts[name]} clips")
            entries.append(_Entry(rec["id"], rec["split"], off, name, rec["row"]))
        unused = sorted(p.name for p in self.root.glob(SHARD_GLOB) if p.name not in counts)
        if unused:
            self.problems.append(f"{LABELS_FILE} names no clip in {', '.join(unused)}")
        return sorted(entries, key=lambda e: (natural_key(e.file), e.index))

    def _shard_lengths(self, name: str) -> np.ndarray:
        path = self.root / name
        try:
            n = read_npz(path, "shard", keys={"num_frames"}).get("num_frames")
        except InputError as e:
            raise DatasetError(str(e)) from None
        if n is None:
            raise DatasetError(f"{path}: no 'num_frames' array; a shard needs the true length of each clip")
        if n.ndim != 1 or n.dtype.kind not in "iu":
            raise DatasetError(f"{path}: 'num_frames' must be a 1-D integer array, got {n.dtype} {list(n.shape)}")
        return n

    # -- reading -----------------------------------------------------------------
    def _record(self, e: _Entry) -> dict:
        if e.line is None:
            return {"id": e.id, "split": e.split}
        name = CAPTIONS_FILE if self.layout == "clips" else LABELS_FILE
        with open(self.root / name, "rb") as f:
            f.seek(e.line)
            rec = json.loads(f.readline())
        rec["split"] = e.split             # the line's own, or assigned by id when absent
        return rec

    def _read(self, e: _Entry) -> MotionClip:
        rec = self._record(e)
        clip = load_clip(self.root / CLIPS_DIR / e.file) if self.layout == "clips" else self._from_shard(e)
        if rec.get("captions"):
            clip.text = list(rec["captions"])
        clip.meta.update(id=e.id, split=rec["split"], labels=rec.get("labels"), qa=rec.get("qa", []),
                         captions_heldout=rec.get("captions_heldout", []))
        return clip

    def _from_shard(self, e: _Entry) -> MotionClip:
        if self._shard_name != e.file:
            self._shard, self._shard_name = None, None      # free the old shard before loading the next
            path = self.root / e.file
            try:
                self._shard = read_npz(path, "shard")
            except InputError as err:
                raise DatasetError(str(err)) from None
            self._shard_name = e.file
        z, src = self._shard, f"{self.root / e.file}[{e.index}]"
        lengths = z["num_frames"]
        N = len(lengths)
        per_clip = [k for k in z if k not in _SHARD_SHARED]
        t_max = max((z[k].shape[1] for k in per_clip if z[k].ndim >= 2), default=0)
        n = int(lengths[e.index])
        if not 1 <= n <= t_max:
            raise ClipError(f"{src}: num_frames is {n}, expected 1..{t_max} (the padded length)")
        arrays = {}
        for k in per_clip:
            if z[k].ndim < 2 or z[k].shape[:2] != (N, t_max):
                raise ClipError(f"{self.root / e.file}: key '{k}' has shape {list(z[k].shape)}, expected "
                                f"[{N}, {t_max}, ...] (one row per clip, padded to the longest)")
            arrays[k] = z[k][e.index, :n]
        if "expr_names" in z:
            arrays["expr_names"] = z["expr_names"]
        if "fps" in z:
            fps = z["fps"]
            arrays["fps"] = fps[e.index] if fps.ndim == 1 and fps.shape[0] == N else fps
        return clip_from_arrays(arrays, source=src)
