"""`tdmm import tracker`: per-frame FLAME tracker outputs -> a dataset folder.

    tdmm import tracker SRC_DIR --out DIR [--fps F] [--captions FILE] [--expr-names N1 N2 ... | FILE]

Each entry of SRC_DIR is one clip, its id the entry's name:
- `<id>.npz`: a whole clip, arrays [T, ...] under our or a tracker's key
  spellings (exp, jaw_pose, global_pose, eye_pose [T,6], ...; engine/clip.py).
- `<id>/`: a folder of per-frame `.npz` files (000001.npz, ...), stacked in
  natural sort order; each holds one frame ([D] or [1, D]) under the same
  spellings.
Pickles (.pkl, or .npy/.npz holding Python objects) are never read: they can
run code. Hidden entries (names starting with ".") are ignored.

Every bad file is reported by name with the reason and skipped; the summary
counts what was imported and what was not. The folder is built beside DIR and
renamed into place at the end, so an interrupted import leaves no DIR at all
(never a half-written one). docs/DATASET_FORMAT.md describes the result.
"""
from __future__ import annotations

import json
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.clip import KEY_SPELLINGS, ClipError, ClipWarning, clip_from_arrays
from engine.errors import InputError
from engine.files import staged_dir
from engine.safe_io import input_dir, input_file, output_path, read_npz
from training.data.dataset import CAPTIONS_FILE, CLIPS_DIR, DatasetError, natural_key, read_jsonl_index

# Keys holding one value for the whole clip, not one per frame (all their spellings).
_CONSTANT_SLOTS = ("fps", "expr_names", "text", "meta")
_CONSTANT_KEYS = {k for k, slots in KEY_SPELLINGS.items() if slots[0] in _CONSTANT_SLOTS}
_PICKLE_SUFFIXES = (".pkl", ".pickle")
_CONVERT_HINT = "pickles are never read (they can run code): convert to .npz with numpy.savez(path, **arrays)"
REPORT_FILE = "import.json"


class SourceError(ValueError):
    """One source entry cannot become a clip (the message says why)."""


@dataclass
class ImportReport:
    imported: list[str] = field(default_factory=list)           # clip ids
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source name, reason)
    notes: list[str] = field(default_factory=list)              # things kept but worth knowing

    def summary(self, limit: int = 20) -> str:
        s = f"imported {len(self.imported)} clips, skipped {len(self.skipped)}"
        if self.skipped:
            shown = [f"{name} ({why})" for name, why in self.skipped[:limit]]
            more = f", ... and {len(self.skipped) - limit} more" if len(self.skipped) > limit else ""
            s += ": " + ", ".join(shown) + more
        return s


def import_tracker(src: str | os.PathLike, out: str | os.PathLike, fps: float | None = None,
                   captions: str | os.PathLike | None = None, expr_names: list[str] | None = None,
                   progress: bool = True) -> ImportReport:
    """Import every clip under `src` into a new dataset folder `out`; see the module doc.

    Raises DatasetError when `src` or `captions` cannot be used at all or `out`
    already holds files; per-clip problems are reported, not raised.
    """
    from tqdm import tqdm

    src, out = Path(src), Path(out)
    if src.is_file():
        raise DatasetError(f"source {src}: is a file; give the folder that holds the clips "
                           "(one <id>.npz or <id>/ folder of frames per clip)")
    try:
        input_dir(src, "source folder")
        output_path(out, "--out", kind="dir", must_be_empty=True)
    except InputError as e:
        raise DatasetError(str(e)) from None
    lines = {}
    if captions is not None:
        lines = {rec["id"]: rec for rec, _ in read_jsonl_index(Path(captions))}
    skip_self = Path(captions).resolve() if captions is not None else None
    entries = sorted((p for p in src.iterdir() if not p.name.startswith(".") and p.resolve() != skip_self),
                     key=lambda p: natural_key(p.name))
    if not entries:
        raise DatasetError(f"source folder {src} holds no clip files or frame folders")

    report, done = ImportReport(), set()
    counts, unmapped = {}, {}               # note / ignored key -> how many clips it applies to
    with staged_dir(out) as staged:
        stage = staged.path
        (stage / CLIPS_DIR).mkdir()
        index = []
        for p in tqdm(entries, desc="import", unit="clip", disable=None if progress else True):
            name = p.name + ("/" if p.is_dir() else "")
            try:
                cid = p.name if p.is_dir() else p.stem
                if cid in done:
                    raise SourceError(f"id '{cid}' already imported from another entry")
                arrays, notes = _stack_frames(p) if p.is_dir() else (_read_arrays(p), [])
                _override(arrays, "fps", None if fps is None else np.array(float(fps)))
                _override(arrays, "expr_names", None if expr_names is None else np.array(expr_names, str))
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ClipWarning)    # unmapped keys: summed up below
                    clip = clip_from_arrays(arrays, source=name)
            except (SourceError, ClipError) as e:
                why = str(e).removeprefix(f"{name}: ")
                report.skipped.append((name, why))
                tqdm.write(f"skipped {name}: {why}")
                continue
            for note in clip.meta.get("notes", []):         # e.g. "no fps in the file; assumed 25"
                counts[note] = counts.get(note, 0) + 1
            for k in clip.meta.get("unmapped_keys", []):
                unmapped[k] = unmapped.get(k, 0) + 1
            if notes:                                       # this clip's own, e.g. missing frames
                clip.meta["notes"] = clip.meta.get("notes", []) + notes
                report.notes += [f"{name}: {note}" for note in notes]
            clip.meta["source"] = name
            rec = lines.get(cid, {"id": cid})
            rec = {"id": cid, "split": rec.get("split"), "captions": rec.get("captions") or clip.text,
                   **{k: rec[k] for k in ("labels", "qa") if k in rec}}
            if rec["split"] is None:
                del rec["split"]                # the reader assigns it from the id
            clip.save(stage / CLIPS_DIR / f"{cid}.npz")
            index.append(rec)
            report.imported.append(cid)
            done.add(cid)

        report.notes += [f"{note} ({n} clips)" for note, n in counts.items()]
        if unmapped:
            report.notes.append("ignored keys that are not part of a motion clip: "
                                + ", ".join(f"{k} ({n} clips)" for k, n in sorted(unmapped.items())))
        if captions is not None:
            bare = [r["id"] for r in index if r["id"] not in lines]
            if bare:
                report.notes.append(f"no captions in {captions} for {len(bare)} clip(s): {', '.join(bare[:20])}"
                                    + (", ..." if len(bare) > 20 else ""))
            orphans = [cid for cid in lines if cid not in done]
            if orphans:
                report.notes.append(f"{captions} has {len(orphans)} line(s) with no imported clip: "
                                    f"{', '.join(orphans[:20])}" + (", ..." if len(orphans) > 20 else ""))
        if not report.imported:
            staged.discard()                    # nothing to write
            return report
        with open(stage / CAPTIONS_FILE, "w", encoding="utf-8") as f:
            for rec in index:
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        with open(stage / REPORT_FILE, "w", encoding="utf-8") as f:
            json.dump({"source": str(src), "captions": None if captions is None else str(captions),
                       "imported": len(report.imported),
                       "skipped": [{"source": n, "reason": r} for n, r in report.skipped],
                       "notes": report.notes}, f, indent=1)
    return report


# -- reading sources ---------------------------------------------------------------
def _read_arrays(path: Path) -> dict:
    """An .npz's named arrays; SourceError with the reason for anything else."""
    suffix = path.suffix.lower()
    if suffix in _PICKLE_SUFFIXES:
        raise SourceError(f"a pickle file; {_CONVERT_HINT}")
    if suffix == ".npy":
        raise SourceError("an .npy holds one unnamed array (or, for a saved dict, a pickle); "
                          f"save named arrays as .npz instead; {_CONVERT_HINT}")
    if suffix != ".npz":
        raise SourceError("not a clip: expected <id>.npz or a folder of per-frame .npz files")
    try:
        return read_npz(path, "clip file")
    except InputError as e:
        raise SourceError(str(e).split(": ", 1)[-1] if str(path) in str(e) else str(e)) from None


def _stack_frames(folder: Path) -> tuple[dict, list[str]]:
    """One clip from a folder of per-frame files, in natural sort order; (arrays, notes).

    A gap in the frame numbers (a frame the tracker lost) is kept as a note:
    the frames are stacked without it, which shortens the clip there.
    """
    files = sorted((p for p in folder.iterdir() if not p.name.startswith(".")), key=lambda p: natural_key(p.name))
    if not files:
        raise SourceError("an empty folder (expected one .npz per frame)")
    frames = []
    for p in files:
        try:
            frames.append(_read_arrays(p))
        except SourceError as e:
            raise SourceError(f"frame {p.name}: {e}") from None
    first, keys = files[0].name, set(frames[0])
    stacked = {}
    for k in sorted(keys):
        vals = []
        for p, fr in zip(files, frames):
            if k not in fr:
                raise SourceError(f"frame {p.name} has no key '{k}' (frame {first} has it)")
            a = fr[k]
            if k in _CONSTANT_KEYS:
                if not np.array_equal(a, frames[0][k]):
                    raise SourceError(f"frame {p.name}: key '{k}' differs from frame {first}; it must be one "
                                      "value for the whole clip")
                continue
            a = a[0] if a.ndim >= 2 and a.shape[0] == 1 else a          # a tracker's batch dimension
            if vals and a.shape != vals[0].shape:
                raise SourceError(f"frame {p.name}: key '{k}' has shape {list(a.shape)}, frame {first} "
                                  f"has {list(vals[0].shape)}")
            if a.dtype.kind == "f" and not np.isfinite(a).all():
                raise SourceError(f"frame {p.name}: key '{k}' has NaN or inf")
            vals.append(a)
        stacked[k] = frames[0][k] if k in _CONSTANT_KEYS else np.stack(vals)
    extra = [(p.name, sorted(set(fr) - keys)) for p, fr in zip(files, frames) if set(fr) - keys]
    if extra:
        raise SourceError(f"frame {extra[0][0]} has key(s) {', '.join(extra[0][1])} that frame {first} lacks")
    return stacked, _gaps(files)


def _gaps(files: list[Path]) -> list[str]:
    nums = [re.findall(r"\d+", p.stem) for p in files]
    if not all(nums):
        return []
    nums = [int(n[-1]) for n in nums]
    holes = [(a, b) for a, b in zip(nums, nums[1:]) if b != a + 1]
    if not holes:
        return []
    missing = sum(b - a - 1 for a, b in holes if b > a)
    shown = ", ".join(f"{a}->{b}" for a, b in holes[:5]) + (", ..." if len(holes) > 5 else "")
    return [f"frame numbers jump ({shown}; {missing} frame(s) missing); stacked without them"]


def _override(arrays: dict, slot: str, value) -> None:
    """Fill `slot` (fps or expr_names) from the command line where the file has none."""
    if value is None:
        return
    have = [k for k in arrays if KEY_SPELLINGS.get(k) == (slot,)]
    if not have:
        arrays[slot] = value
        return
    theirs = arrays[have[0]]
    same = (theirs.size == 1 and theirs.dtype.kind in "fiu" and float(theirs.reshape(())) == float(value)) \
        if slot == "fps" else (theirs.shape == value.shape and (theirs.astype(str) == value).all())
    if not same:
        shown = theirs.reshape(-1).tolist()
        raise SourceError(f"the file's '{have[0]}' is {shown[0] if slot == 'fps' else shown} but --"
                          f"{slot.replace('_', '-')} says {value.tolist()}; drop the option or fix the file")


# -- CLI ------------------------------------------------------------------------------
def add_command(sub) -> None:
    p = sub.add_parser("import", help="import real FLAME-parameter data into a dataset folder")
    kinds = p.add_subparsers(dest="import_kind", metavar="KIND")
    t = kinds.add_parser("tracker", help="per-frame FLAME tracker outputs (.npz per clip, or a folder of "
                                         "per-frame .npz files per clip)")
    t.add_argument("src", metavar="SRC_DIR", help="one <id>.npz or <id>/ folder of frames per clip")
    t.add_argument("--out", required=True, help="new dataset folder to write (docs/DATASET_FORMAT.md)")
    t.add_argument("--fps", type=float, default=None,
                   help="frame rate of clips whose files store none (default: 25)")
    t.add_argument("--captions", default=None,
                   help='JSONL, one {"id", "captions", "split"?, "labels"?, "qa"?} per clip, joined by id')
    t.add_argument("--expr-names", nargs="+", default=None,
                   help="expression channel names, in order, for files that store none (or one text file, "
                        "one name per line)")
    t.set_defaults(func=_cmd_tracker)


def _cmd_tracker(args) -> int:
    names = args.expr_names
    if names and len(names) == 1 and (names[0].endswith(".txt") or os.sep in names[0]):
        path = input_file(names[0], "--expr-names file")         # one name per line
        try:
            names = [n.strip() for n in path.read_text(encoding="utf-8").splitlines() if n.strip()]
        except UnicodeDecodeError:
            raise DatasetError(f"--expr-names file {path}: is not UTF-8 text (one channel name per line)") from None
    if args.fps is not None and not 1 <= args.fps <= 240:
        raise DatasetError(f"--fps {args.fps:g}: must be between 1 and 240 frames per second")
    report = import_tracker(args.src, args.out, fps=args.fps, captions=args.captions, expr_names=names)
    for note in report.notes:
        print(f"note: {note}")
    print(report.summary())
    if not report.imported:
        raise DatasetError(f"source folder {args.src}: nothing imported (every entry was skipped, see above); "
                           "no folder written")
    print(f"wrote {args.out} ({len(report.imported)} clips; skipped files listed in {REPORT_FILE})")
    return 0
