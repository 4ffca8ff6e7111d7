"""`tdmm synth`: the procedural corpus, balanced, split, sharded, with a card.

    tdmm synth --clips 60000 --seed 0 --out /tmp/corpus [--workers 2] [--shard-size 500]

What it writes in OUT:
- `shard-00000.npz` ...: clips [k*M, (k+1)*M) of the build, stacked and padded
  to the shard's longest clip: `pose` [M,Tmax,5,3] and `expr` [M,Tmax,K] as
  float16 (steps of ~5e-4 at 1.0; far below what a face shows), `num_frames`
  [M] int32 (frames past it are zero padding), `clip_id` [M], `expr_names` [K],
  `fps` []. Read with `np.load(path)` (no pickle).
- `labels.jsonl`: one line per clip in clip order: `id`, `split`, `shard`,
  `row`, `labels` (training/corpus/labels.py schema), and `captions` + `qa` when the
  caption module (training/corpus/captions.py) is installed.
- `CARD.md`, `card.json`, `histograms.png`: counts, hours, channel statistics.

Determinism: every clip's random streams come from (seed, clip index) alone
(and the balanced plans it reads, from (seed, block)), and a shard's content
from its clip range alone, so the same seed gives the same bytes whatever the
number of workers (npz members carry a fixed timestamp). Labels, motion and text use three separate streams, so changing
the caption module never changes a clip's motion.

Splits are by recipe combination (see `split_of`): every descriptor has one
head motion it is never trained with (`test_heldout_combo`), and val/test
take whole (descriptor, intensity, head motion) combinations, never clips of
a combination that train also has. A clip's side is not part of it: both mirror
forms of a combination land in the same split.

Balance (see `sample_labels`): every block of `_CELLS` clips visits each family x
intensity x head motion cell once; a family's descriptors are dealt from a shuffle
bag (each once per round of the family's visits), and an asymmetric descriptor's
side alternates left/right from one of its rounds to the next, so sides are
balanced per descriptor to within one clip. Transitions are drawn per block too
(`_transition_plan`), and a transition to an asymmetric descriptor alternates sides
over that descriptor's transitions in build order.
"""
from __future__ import annotations

import hashlib
import importlib
import io
import json
import multiprocessing
import os
import struct
import sys
import time
import zipfile
import zlib
from collections import Counter
from functools import lru_cache
from pathlib import Path

import numpy as np

from engine.files import staged_dir
from engine.safe_io import output_path
from training.corpus.dynamics import dynamic_of
from training.corpus.labels import (
    DYNAMICS,
    HEAD_MOTIONS,
    INTENSITIES,
    MICRO_EVENTS,
    SIDES,
    SPLITS,
    TEMPOS,
    check_labels,
)
from training.corpus.lexicon import BY_FAMILY, FAMILIES, LEXICON
from training.corpus.motion import layout, render, sample_micro

SUBJECTS = ("a young woman", "an old man", "a child", "a teenage boy", "a middle-aged woman", "an elderly woman",
            "a young man", "a man with a beard", "a woman with glasses", "a little girl", "a little boy",
            "an older gentleman", "a college student", "a teenage girl", "a woman in her thirties",
            "a man in his forties", "a grandmother", "a grandfather", "a businesswoman", "a bald man",
            "a person", "someone", "the character", "a girl with curly hair")
SECONDS = (4.0, 6.0)
TRANSITION_P, TALKING_P = 0.25, 0.20
NOD_COUNTS, NOD_P = (1, 2, 3, 4), (0.3, 0.35, 0.2, 0.15)
SHAKE_COUNTS, SHAKE_P = (1, 2, 3), (0.35, 0.4, 0.25)
VAL_FRACTION = TEST_FRACTION = 0.05          # of (descriptor, intensity, head motion) combinations
_FAMILY_NAMES = tuple(FAMILIES)
_PER_FAMILY = len(INTENSITIES) * len(HEAD_MOTIONS)                 # a family's visits per block
_CELLS = len(_FAMILY_NAMES) * _PER_FAMILY                          # one balanced block
# Asymmetric descriptors start on alternate sides (in lexicon order), so that a short build
# is balanced too, not only one whose rounds are complete.
_SIDE_PHASE = {d.name: k % 2 for k, d in enumerate(d for d in LEXICON if d.asymmetric)}
_ASYMMETRIC_FAMILIES = tuple(f for f in _FAMILY_NAMES if any(d.asymmetric for d in BY_FAMILY[f]))
_ASYMMETRIC_NAMES = tuple(_SIDE_PHASE)
_FAMILY_SIZES = np.array([len(BY_FAMILY[f]) for f in _FAMILY_NAMES])
# [family, slot] -> index of the descriptor in _ASYMMETRIC_NAMES, -1 for a symmetric one.
_ASYMMETRIC_ID = np.full((len(_FAMILY_NAMES), _FAMILY_SIZES.max()), -1, np.int64)
for _f, _name in enumerate(_FAMILY_NAMES):
    for _k, _d in enumerate(BY_FAMILY[_name]):
        if _d.asymmetric:
            _ASYMMETRIC_ID[_f, _k] = _ASYMMETRIC_NAMES.index(_d.name)
_TRANSITIONS_BEFORE: dict = {}               # seed -> [asymmetric targets per descriptor in blocks < b, for each b]
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)            # fixed member timestamp: same bytes on every build


class SynthError(ValueError):
    """The build cannot start (bad arguments, an output folder in the way)."""


# -- splits ---------------------------------------------------------------------------------
def _hash01(*parts) -> float:
    """A stable uniform number in [0,1) from strings (Python's hash() is salted per process)."""
    return int(hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:13], 16) / 16 ** 13


def heldout_motion(descriptor: str) -> str:
    """The one head motion that `descriptor` is never trained with."""
    return HEAD_MOTIONS[int(_hash01("heldout", descriptor) * len(HEAD_MOTIONS))]


HELDOUT_COMBOS = frozenset((d.name, heldout_motion(d.name)) for d in LEXICON)


def split_of(labels: dict) -> str:
    """test_heldout_combo if any (descriptor, head motion) pair of the clip (its
    transition's included) is held out; else val/test/train by a hash of the
    (descriptor, intensity, head motion) combination. The side (v2) is not part of it: both
    mirror forms of a combination share its split, and the held-out pairs are as in v1."""
    motion = labels["head"]["motion"]
    states = [labels] + ([labels["transition"]] if labels["transition"] else [])
    if any((s["descriptor"], motion) in HELDOUT_COMBOS for s in states):
        return "test_heldout_combo"
    u = _hash01("split", labels["descriptor"], labels["intensity"], motion)
    return "val" if u < VAL_FRACTION else "test" if u < VAL_FRACTION + TEST_FRACTION else "train"


# -- sampling -------------------------------------------------------------------------------
def clip_rngs(seed: int, index: int):
    """(labels, motion, text) generators of clip `index`: independent of workers and of each other."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence([seed, index]).spawn(3)]


@lru_cache(maxsize=4)
def _block(seed: int, block: int) -> np.ndarray:
    # Each run of _CELLS clips visits every family x intensity x head motion once, in shuffled order.
    return np.random.default_rng([seed, block, 7]).permutation(_CELLS)


@lru_cache(maxsize=4)
def _family_visit(seed: int, block: int) -> np.ndarray:
    # [_CELLS]: how many earlier positions of the block belong to the same family.
    fam = _block(seed, block) // _PER_FAMILY
    rank = np.empty(_CELLS, np.int64)
    for f in range(len(_FAMILY_NAMES)):
        at = np.flatnonzero(fam == f)
        rank[at] = np.arange(len(at))
    return rank


@lru_cache(maxsize=1024)
def _bag(seed: int, f: int, round_: int) -> tuple:
    # The order of family f's descriptors in its visits [round*n, (round+1)*n): each once.
    n = len(BY_FAMILY[_FAMILY_NAMES[f]])
    return tuple(int(x) for x in np.random.default_rng([seed, f, round_, 11]).permutation(n))


def _side(seed: int, descriptor, visit: int) -> str:
    """"both" for a symmetric descriptor; an asymmetric one alternates left/right per visit."""
    if not descriptor.asymmetric:
        return "both"
    return ("left", "right")[(visit + _SIDE_PHASE[descriptor.name] + seed) % 2]


@lru_cache(maxsize=4)
def _transition_plan(seed: int, block: int):
    """The block's transitions, drawn per block so that their sides can alternate too:
    (has [C] bool, target family [C], slot in that family [C], asymmetric id [C] or -1,
    rank [C]: how many earlier positions of the block have the same asymmetric target)."""
    rng = np.random.default_rng([seed, block, 13])
    fam_a = _block(seed, block) // _PER_FAMILY
    has = rng.random(_CELLS) < TRANSITION_P
    k = rng.integers(0, len(_FAMILY_NAMES) - 1, _CELLS)
    fam_b = k + (k >= fam_a)                                  # any family but the clip's own
    slot = np.minimum((rng.random(_CELLS) * _FAMILY_SIZES[fam_b]).astype(np.int64), _FAMILY_SIZES[fam_b] - 1)
    asym = np.where(has, _ASYMMETRIC_ID[fam_b, slot], -1)
    rank = np.zeros(_CELLS, np.int64)
    for a in np.unique(asym[asym >= 0]):
        at = np.flatnonzero(asym == a)
        rank[at] = np.arange(len(at))
    return has, fam_b, slot, asym, rank


def _transitions_before(seed: int, block: int) -> np.ndarray:
    """[len(_ASYMMETRIC_NAMES)]: transitions to each asymmetric descriptor in blocks 0 .. block-1."""
    cum = _TRANSITIONS_BEFORE.setdefault(seed, [np.zeros(len(_ASYMMETRIC_NAMES), np.int64)])
    while len(cum) <= block:
        asym = _transition_plan(seed, len(cum) - 1)[3]
        cum.append(cum[-1] + np.bincount(asym[asym >= 0], minlength=len(_ASYMMETRIC_NAMES)))
    return cum[block]


def sample_labels(seed: int, index: int, fps: float = 25.0, rngs=None) -> dict:
    """The labels of clip `index` of a build: balanced over family x intensity x head motion
    (one visit of each cell per block), descriptors within a family (a shuffle bag) and the
    two sides of each asymmetric descriptor, main state and transition target alike
    (alternating); from (seed, index) alone, whatever else was sampled before."""
    rng, _, text_rng = rngs or clip_rngs(seed, index)
    block, pos = divmod(index, _CELLS)
    cell = int(_block(seed, block)[pos])
    f, rest = divmod(cell, _PER_FAMILY)
    i, m = divmod(rest, len(HEAD_MOTIONS))
    family, intensity, motion = _FAMILY_NAMES[f], INTENSITIES[i], HEAD_MOTIONS[m]
    choices = BY_FAMILY[family]
    round_, slot = divmod(block * _PER_FAMILY + int(_family_visit(seed, block)[pos]), len(choices))
    desc = choices[_bag(seed, f, round_)[slot]]
    descriptor = desc.name
    T = int(round(rng.uniform(*SECONDS) * fps))
    count = (int(rng.choice(NOD_COUNTS, p=NOD_P)) if motion == "nod" else
             int(rng.choice(SHAKE_COUNTS, p=SHAKE_P)) if motion == "shake" else None)
    transition = None
    tr_has, tr_family, tr_slot, tr_asym, tr_rank = _transition_plan(seed, block)
    if tr_has[pos]:
        fam_b = _FAMILY_NAMES[int(tr_family[pos])]
        desc_b = BY_FAMILY[fam_b][int(tr_slot[pos])]
        a = int(tr_asym[pos])
        visit_b = int(_transitions_before(seed, block)[a] + tr_rank[pos]) if a >= 0 else 0
        transition = {"family": fam_b, "descriptor": desc_b.name, "side": _side(seed, desc_b, visit_b + 1),
                      "dynamic": dynamic_of(desc_b.name), "intensity": INTENSITIES[rng.integers(len(INTENSITIES))],
                      "frame": int(round(rng.uniform(0.4, 0.7) * T))}
    talking = bool(rng.random() < TALKING_P)
    labels = {"family": family, "descriptor": descriptor, "side": _side(seed, desc, round_),
              "dynamic": dynamic_of(descriptor), "intensity": intensity,
              "tempo": TEMPOS[rng.integers(len(TEMPOS))], "head": {"motion": motion, "count": count},
              "micro": sample_micro(rng, T, fps, family, talking), "transition": transition,
              "talking": talking, "subject": SUBJECTS[text_rng.integers(len(SUBJECTS))],
              "fps": float(fps), "num_frames": T}
    return check_labels(labels)


def synth_clip(seed: int, index: int, fps: float = 25.0):
    """(labels, pose [T,5,3], expr [T,K], text rng) of clip `index`."""
    rngs = clip_rngs(seed, index)
    labels = sample_labels(seed, index, fps, rngs)
    pose, expr = render(labels, rngs[1])
    return labels, pose, expr, rngs[2]


def _captions_module():
    # Captions are another module's job; build without them until it exists.
    try:
        return importlib.import_module(f"{__package__}.captions")
    except ModuleNotFoundError as err:
        if err.name != f"{__package__}.captions":      # a missing dependency *of* captions is a real error
            raise
        return None


# -- files ----------------------------------------------------------------------------------
def _save_npz(path: Path, arrays: dict, compress: bool) -> None:
    """np.savez with fixed member timestamps (so equal arrays give equal bytes), written atomically."""
    tmp = path.with_name(path.name + ".tmp")
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(tmp, "w", method, compresslevel=1 if compress else None) as zf:
        for name, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asanyarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=_ZIP_TIME)
            info.compress_type = method
            zf.writestr(info, buf.getvalue())
    os.replace(tmp, path)


def write_png(path, rgb: np.ndarray) -> None:
    """[H,W,3] uint8 -> PNG (8-bit RGB, one zlib stream, filter 'none' on every row)."""
    h, w, _ = rgb.shape
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rgb.reshape(h, w * 3)], axis=1).tobytes()

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                           + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def _write_shard(job) -> dict:
    """Synthesise clips [start, stop) into shard k; return its counts and channel sums."""
    out, seed, k, start, stop, fps, compress = job
    out = Path(out)
    cap = _captions_module()
    names = layout().names
    C = len(names) + 15                       # expression channels, then the 5 joints' x/y/z
    acc = {"sum": np.zeros(C), "sq": np.zeros(C), "min": np.full(C, np.inf), "max": np.full(C, -np.inf)}
    counts = {key: Counter() for key in ("family", "descriptor", "intensity", "head", "split", "tempo",
                                         "micro", "transition", "talking", "seconds", "side", "family_side",
                                         "descriptor_side", "transition_side", "dynamic")}
    poses, exprs, lines, frames = [], [], [], 0
    for j, index in enumerate(range(start, stop)):
        labels, pose, expr, text_rng = synth_clip(seed, index, fps)
        split = split_of(labels)
        line = {"id": f"c{index:07d}", "split": split, "shard": f"shard-{k:05d}.npz", "row": j, "labels": labels}
        if cap is not None:
            line["captions"] = cap.captions_for(labels, text_rng)
            line["qa"] = cap.qa_pairs(labels, text_rng)
            if split != "train":
                # Same clips, unseen templates and synonyms: measures generalisation to new wording.
                line["captions_heldout"] = cap.captions_for(labels, text_rng, heldout=True)
        lines.append(json.dumps(line, separators=(",", ":")))
        poses.append(pose)
        exprs.append(expr)
        flat = np.concatenate([expr, pose.reshape(len(pose), 15)], axis=1).astype(np.float64)
        acc["sum"] += flat.sum(0)
        acc["sq"] += (flat * flat).sum(0)
        np.minimum(acc["min"], flat.min(0), out=acc["min"])
        np.maximum(acc["max"], flat.max(0), out=acc["max"])
        frames += len(pose)
        for key in ("family", "descriptor", "intensity", "tempo"):
            counts[key][labels[key]] += 1
        counts["head"][labels["head"]["motion"]] += 1
        counts["split"][split] += 1
        counts["micro"].update(ev["type"] for ev in labels["micro"])
        counts["transition"][str(labels["transition"] is not None)] += 1
        counts["talking"][str(labels["talking"])] += 1
        counts["side"][labels["side"]] += 1
        counts["dynamic"][labels["dynamic"] or "none"] += 1
        if labels["side"] != "both":
            counts["family_side"][f"{labels['family']} {labels['side']}"] += 1
            counts["descriptor_side"][f"{labels['descriptor']} {labels['side']}"] += 1
        if labels["transition"] is not None:
            counts["transition_side"][labels["transition"]["side"]] += 1
        counts["seconds"][f"{np.floor(2 * len(pose) / fps) / 2:.1f}"] += 1     # half-second bins
    n, tmax = len(poses), max(len(p) for p in poses)
    pose_arr = np.zeros((n, tmax, 5, 3), np.float16)
    expr_arr = np.zeros((n, tmax, len(names)), np.float16)
    for j, (p, e) in enumerate(zip(poses, exprs)):
        pose_arr[j, :len(p)], expr_arr[j, :len(e)] = p, e
    _save_npz(out / f"shard-{k:05d}.npz", {
        "pose": pose_arr, "expr": expr_arr, "num_frames": np.array([len(p) for p in poses], np.int32),
        "clip_id": np.array([f"c{i:07d}" for i in range(start, stop)]), "expr_names": np.array(names),
        "fps": np.float32(fps)}, compress)
    (out / f"shard-{k:05d}.jsonl.part").write_text("\n".join(lines) + "\n")
    return {"shard": k, "clips": n, "frames": frames, "acc": acc, "counts": counts,
            "captions": cap is not None}


def _our_files(out: Path) -> list[Path]:
    return (sorted(out.glob("shard-*.npz")) + sorted(out.glob("shard-*.jsonl.part")) + sorted(out.glob("*.tmp"))
            + [p for p in (out / "labels.jsonl", out / "CARD.md", out / "card.json", out / "histograms.png")
               if p.exists()])


def build(out, clips: int, seed: int = 0, workers: int = 1, shard_size: int = 500, fps: float = 25.0,
          compress: bool = False, force: bool = False, progress: bool = True) -> dict:
    """Synthesise `clips` clips into `out`; returns the card (also written as card.json)."""
    if clips < 1 or shard_size < 1 or workers < 1:
        raise SynthError("--clips, --shard-size and --workers must be at least 1")
    if not 1.0 <= fps <= 240.0:
        raise SynthError(f"--fps {fps} is outside [1, 240]")
    out = output_path(out, "--out", kind="dir")
    old = _our_files(out) if out.is_dir() else []
    if old and not force:
        raise SynthError(f"{out} already holds a corpus ({old[0].name}, ...); pass --force to replace it "
                         "or choose another --out")
    # Built in a hidden stage and moved into place at the end: a failed or killed build leaves
    # no half corpus (and the next build removes a killed one's stage).
    if not out.exists() or not any(out.iterdir()):
        with staged_dir(out) as stage:
            return _build_into(stage.path, clips, seed, workers, shard_size, fps, compress, progress)
    with staged_dir(out / ".synth-new") as stage:
        card = _build_into(stage.path, clips, seed, workers, shard_size, fps, compress, progress)
    new = out / ".synth-new"
    for p in old:
        p.unlink()
    for p in sorted(new.iterdir()):
        os.replace(p, out / p.name)
    new.rmdir()
    return card


def _build_into(out: Path, clips: int, seed: int, workers: int, shard_size: int, fps: float, compress: bool,
                progress: bool) -> dict:
    jobs = [(str(out), seed, k, s, min(s + shard_size, clips), fps, compress)
            for k, s in enumerate(range(0, clips, shard_size))]
    results = {}
    from tqdm import tqdm
    bar = tqdm(total=clips, unit="clip", disable=not progress, desc="synth")
    if workers == 1 or len(jobs) == 1:
        for job in jobs:
            r = _write_shard(job)
            results[r["shard"]] = r
            bar.update(r["clips"])
    else:
        # spawn: safe on every platform and with torch loaded in the parent.
        with multiprocessing.get_context("spawn").Pool(min(workers, len(jobs))) as pool:
            for r in pool.imap_unordered(_write_shard, jobs):
                results[r["shard"]] = r
                bar.update(r["clips"])
    bar.close()
    with open(out / "labels.jsonl", "wb") as dst:     # stream the parts together, in clip order
        for k in range(len(jobs)):
            part = out / f"shard-{k:05d}.jsonl.part"
            dst.write(part.read_bytes())
            part.unlink()
    card = _card([results[k] for k in range(len(jobs))], clips, seed, fps, shard_size, compress)
    (out / "card.json").write_text(json.dumps(card, indent=1) + "\n")
    (out / "CARD.md").write_text(_card_markdown(card))
    write_png(out / "histograms.png", _histograms(card))
    return card


# -- the dataset card -----------------------------------------------------------------------
def _card(results: list, clips: int, seed: int, fps: float, shard_size: int, compress: bool) -> dict:
    acc = {k: np.zeros_like(results[0]["acc"][k]) for k in ("sum", "sq")}
    lo, hi = np.full_like(acc["sum"], np.inf), np.full_like(acc["sum"], -np.inf)
    counts = {k: Counter() for k in results[0]["counts"]}
    frames = 0
    for r in results:                               # in shard order: the same floats on every build
        acc["sum"] += r["acc"]["sum"]
        acc["sq"] += r["acc"]["sq"]
        lo, hi = np.minimum(lo, r["acc"]["min"]), np.maximum(hi, r["acc"]["max"])
        frames += r["frames"]
        for k, c in r["counts"].items():
            counts[k].update(c)
    mean = acc["sum"] / frames
    std = np.sqrt(np.maximum(acc["sq"] / frames - mean ** 2, 0))
    channels = list(layout().names) + [f"{j}.{a}" for j in ("global", "neck", "jaw", "eye_left", "eye_right")
                                       for a in "xyz"]
    order = {"family": _FAMILY_NAMES, "intensity": INTENSITIES, "head": HEAD_MOTIONS, "split": SPLITS,
             "tempo": TEMPOS, "micro": MICRO_EVENTS, "side": SIDES, "transition_side": SIDES,
             "dynamic": (*DYNAMICS, "none"),
             "family_side": tuple(f"{f} {s}" for f in _ASYMMETRIC_FAMILIES for s in ("left", "right")),
             "descriptor_side": tuple(f"{d} {s}" for d in _ASYMMETRIC_NAMES for s in ("left", "right"))}

    def ordered(key):
        keys = order.get(key) or sorted(counts[key])
        return {k: counts[key].get(k, 0) for k in keys}

    return {"clips": clips, "seed": seed, "fps": fps, "shard_size": shard_size, "compressed": compress,
            "frames": frames, "hours": round(frames / fps / 3600, 3),
            "captions": all(r["captions"] for r in results),
            "descriptors": len(LEXICON), "families": len(FAMILIES),
            "heldout_combos": sorted(f"{d} x {m}" for d, m in HELDOUT_COMBOS),
            "counts": {k: ordered(k) for k in counts},
            "channels": {n: {"mean": round(float(m), 5), "std": round(float(s), 5), "min": round(float(a), 5),
                             "max": round(float(b), 5)} for n, m, s, a, b in zip(channels, mean, std, lo, hi)}}


def _histograms(card: dict) -> np.ndarray:
    """Bar charts of family, intensity, head motion, split, micro-event, duration and side counts, one row each."""
    panels = [("family", (70, 110, 180)), ("intensity", (200, 120, 50)), ("head", (60, 150, 90)),
              ("split", (150, 80, 160)), ("micro", (190, 70, 70)), ("seconds", (90, 90, 90)),
              ("family_side", (40, 140, 160)), ("descriptor_side", (120, 120, 40))]
    width, height, pad = 900, 110, 14
    img = np.full((len(panels) * (height + pad) + pad, width, 3), 255, np.uint8)
    for p, (key, colour) in enumerate(panels):
        values = np.array(list(card["counts"][key].values()), float)
        top = pad + p * (height + pad)
        img[top + height, 10:width - 10] = 120                         # baseline
        step = (width - 20) / max(len(values), 1)
        for i, v in enumerate(values):
            h = int(round((height - 4) * v / max(values.max(), 1)))
            x0 = 10 + int(i * step) + 1
            img[top + height - h:top + height, x0:x0 + max(1, int(step) - 2)] = colour
    return img


def _card_markdown(card: dict) -> str:
    c = card["counts"]

    def table(key, title):
        total = sum(c[key].values()) or 1
        rows = "\n".join(f"| {k} | {v} | {100 * v / total:.1f}% |" for k, v in c[key].items())
        return f"### {title}\n\n| {key} | clips | share |\n|---|---:|---:|\n{rows}\n"

    def sides(key, names, title):
        # one row per family / descriptor: its left and right clips
        rows = []
        for n in names:
            left, right = c[key].get(f"{n} left", 0), c[key].get(f"{n} right", 0)
            rows.append(f"| {n} | {left} | {right} | {100 * left / max(left + right, 1):.1f}% |")
        what = key.split("_")[0]
        return (f"### {title}\n\n| {what} | left | right | left share |\n|---|---:|---:|---:|\n"
                + "\n".join(rows) + "\n")

    side_title = "Side (the character's own side of an asymmetric descriptor; both: a symmetric one)"
    ch = "\n".join(f"| {n} | {s['mean']:.4f} | {s['std']:.4f} | {s['min']:.4f} | {s['max']:.4f} |"
                   for n, s in card["channels"].items())
    return f"""# Procedural face-motion corpus

{card['clips']} clips, {card['hours']} hours at {card['fps']:g} fps (seed {card['seed']}), {card['descriptors']}
descriptors in {card['families']} families. Built by `tdmm synth` (training/corpus/synth.py); the same
seed gives the same bytes. Captions: {'yes' if card['captions'] else 'not yet (training/corpus/captions.py missing)'}.

Files: `shard-*.npz` (`pose` [M,Tmax,5,3] and `expr` [M,Tmax,K] float16, padded;
`num_frames`, `clip_id`, `expr_names`, `fps`), `labels.jsonl` (one line per clip: id, split,
shard, row, labels{', captions, qa' if card['captions'] else ''}).

## Splits

By recipe combination. Each descriptor has one head motion it never appears with in
train/val/test (chosen by a hash of its name; {len(card['heldout_combos'])} pairs, listed in
card.json `heldout_combos`): clips with such a pair, as main state or transition target, form
`test_heldout_combo`. Of the other (descriptor, intensity, head motion) combinations,
{VAL_FRACTION:.0%} go to val and {TEST_FRACTION:.0%} to test, whole. The side is not part of a
combination: a left and a right smirk of one combination are in the same split. Captions of the test splits
also carry `captions_heldout`: the caption module's held-out templates and synonyms, for measuring \
generalisation to unseen wording.

{table('split', 'Split')}
![histograms](histograms.png)

Histogram rows, top to bottom, bars in the order of the tables: family, intensity, head motion,
split, micro-event, duration (seconds), side per asymmetric family and per asymmetric descriptor
(left, right, left, right, ...).

{table('family', 'Family')}
{table('intensity', 'Intensity')}
{table('head', 'Head motion')}
{table('tempo', 'Tempo')}
{table('micro', 'Micro-events (events, not clips)')}
{table('side', side_title)}
Asymmetric descriptors ({len(_ASYMMETRIC_NAMES)} of {card['descriptors']}) are performed on either side, the other
one as the exact mirror image of the recipe; each alternates sides from one visit to the next.

{sides('family_side', _ASYMMETRIC_FAMILIES, 'Side per family (asymmetric clips)')}
{sides('descriptor_side', _ASYMMETRIC_NAMES, 'Side per asymmetric descriptor')}
{table('dynamic', 'Dynamic (motion pattern of the descriptor)')}
{table('transition', 'With a transition')}
{table('transition_side', 'Transition side (clips with a transition)')}
{table('talking', 'Talking')}
{table('seconds', 'Duration (s)')}
## Channel statistics (all frames)

| channel | mean | std | min | max |
|---|---:|---:|---:|---:|
{ch}
"""


# -- command line ---------------------------------------------------------------------------
def _cmd_synth(args) -> int:
    t0 = time.perf_counter()
    # SynthError is a ValueError: the CLI prints its message without a traceback.
    card = build(args.out, args.clips, args.seed, args.workers, args.shard_size, args.fps,
                 compress=args.compress, force=args.force, progress=not args.quiet)
    dt = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in Path(args.out).iterdir() if p.is_file())
    print(f"wrote {card['clips']} clips ({card['hours']} h) to {args.out} in {dt:.1f} s "
          f"({card['clips'] / dt:.0f} clips/s, {size / 2**20:.0f} MiB)"
          + ("" if card["captions"] else "; no captions (training/corpus/captions.py not found)"), file=sys.stderr)
    return 0


def add_command(sub) -> None:
    p = sub.add_parser("synth", help="synthesise the procedural labelled face-motion corpus")
    p.add_argument("--clips", type=int, required=True, help="number of clips")
    p.add_argument("--seed", type=int, default=0, help="build seed (same seed, same bytes)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: all cores)")
    p.add_argument("--shard-size", type=int, default=500, help="clips per .npz shard (default 500)")
    p.add_argument("--fps", type=float, default=25.0, help="frames per second (default 25)")
    p.add_argument("--compress", action="store_true", help="deflate the shards (smaller, slower)")
    p.add_argument("--force", action="store_true", help="replace a corpus already in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_synth)
