"""Prompt lists for batch baking: a .txt (one prompt per line) or .csv (prompt, seconds, seed) file.

No torch (it runs inside Blender), so the Blender add-on's Batch Bake operator and `tdmm bake`
read lists the same way:

    plist = read_prompt_file("prompts.csv", seconds=4.0, seed=0)
    plist.entries        # [PromptEntry(line=1, prompt="a shy smile", seconds=4.0, seed=0), ...]
    plist.problems       # ["prompts.csv line 3: seconds is 45, outside 0.5-20. ...", ...]

Formats. In a .txt file every line is a prompt. In a .csv file a line is `prompt, seconds, seed`
with seconds and seed optional (the caller's defaults fill them); prompts that contain commas
are quoted as CSV quotes them ("a smile, then a laugh",3,1). A first line that reads
`prompt,seconds,seed` is a header and is skipped. In both, blank lines and lines starting
with `#` are skipped without a word: they are how people lay a list out.

A bad line (an empty prompt, seconds outside 0.5-20 or not a number, a seed that is not a
whole number >= 0, too many fields) does not stop the list: it is reported in `problems` with
its line number and skipped, and the good lines are baked. Only a file that cannot be read at
all (missing, not UTF-8, too big) raises an InputError.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field

from .errors import InputError
from .safe_io import input_file

SECONDS_RANGE = (0.5, 20.0)       # what Engine.generate accepts (engine/engine.py imports it from here)
MAX_FILE_BYTES = 4 << 20          # 4 MiB: tens of thousands of prompts
MAX_PROMPTS = 10000
MAX_PROMPT_CHARS = 1000           # the generator reads far fewer word pieces; this only bounds junk
MAX_NAME_BYTES = 63               # Blender's ID names hold 63 bytes of UTF-8
HEADER = ("prompt", "seconds", "seed")


@dataclass(frozen=True)
class PromptEntry:
    line: int                     # 1-based line number in the source, for messages
    prompt: str
    seconds: float
    seed: int


@dataclass
class PromptList:
    entries: list[PromptEntry] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def kind_of(name: str) -> str:
    """"csv" for names ending in .csv (any case), else "txt"."""
    return "csv" if str(name).lower().endswith(".csv") else "txt"


def read_prompt_file(path, seconds: float = 4.0, seed: int = 0, what: str = "prompt file") -> PromptList:
    """Parse a .txt or .csv prompt file (the suffix decides); see the module's docstring."""
    p = input_file(path, what)
    size = p.stat().st_size
    if size > MAX_FILE_BYTES:
        raise InputError(f"{what} {p}", f"is {size} bytes; a prompt list may be at most {MAX_FILE_BYTES}",
                         "split it into several files")
    try:
        text = p.read_bytes().decode("utf-8-sig")           # -sig: a BOM from a spreadsheet export
    except UnicodeDecodeError as e:
        raise InputError(f"{what} {p}", f"is not UTF-8 text (byte {e.start})",
                         "save it as UTF-8 (plain text or CSV UTF-8)") from None
    return parse_prompts(text, kind_of(p.name), source=str(p), seconds=seconds, seed=seed)


def parse_prompts(text: str, kind: str = "txt", source: str = "prompt list", seconds: float = 4.0,
                  seed: int = 0) -> PromptList:
    """Entries and problems of a prompt list given as text. kind: "txt" or "csv". seconds and
    seed are the defaults for lines that do not give their own."""
    if kind not in ("txt", "csv"):
        raise InputError("kind", f"is {kind!r}, expected 'txt' or 'csv'")
    out = PromptList()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            if kind == "txt":
                entry = PromptEntry(number, _prompt(line), float(seconds), int(seed))
            else:
                entry = _csv_entry(number, line, seconds, seed, first=not out.entries and not out.problems)
        except ValueError as e:
            out.problems.append(f"{source} line {number}: {e}")
            continue
        if entry is None:                                   # the header row
            continue
        if len(out.entries) == MAX_PROMPTS:
            out.problems.append(f"{source} line {number}: more than {MAX_PROMPTS} prompts; the rest are "
                                "skipped. Split the list into several files")
            break
        out.entries.append(entry)
    return out


def _csv_entry(number: int, line: str, seconds: float, seed: int, first: bool) -> PromptEntry | None:
    try:
        (row,) = list(csv.reader([line], skipinitialspace=True))
    except (csv.Error, ValueError) as e:
        raise ValueError(f"is not a CSV line ({e}). Write: prompt, seconds, seed") from None
    row = [c.strip() for c in row]
    while row and row[-1] == "":                             # "a smile,4," : trailing empty fields
        row.pop()
    if first and row and tuple(c.lower() for c in row) == HEADER[:len(row)]:
        return None
    if len(row) > 3:
        raise ValueError(f"has {len(row)} fields; a line is: prompt, seconds, seed. Quote a prompt that "
                         "contains commas: \"a smile, then a laugh\", 4, 0")
    prompt = _prompt(row[0] if row else "")
    secs = _seconds(row[1]) if len(row) > 1 and row[1] != "" else float(seconds)
    sd = _seed(row[2]) if len(row) > 2 and row[2] != "" else int(seed)
    return PromptEntry(number, prompt, secs, sd)


def _prompt(text: str) -> str:
    p = " ".join(text.split())
    if not p:
        raise ValueError("the prompt is empty. Write what the face should do, e.g. \"a shy smile\"")
    if len(p) > MAX_PROMPT_CHARS:
        raise ValueError(f"the prompt is {len(p)} characters long; at most {MAX_PROMPT_CHARS} are allowed. "
                         "Shorten it")
    return p


def _seconds(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise ValueError(f"seconds {text!r} is not a number. Write the duration in seconds, e.g. 4 or 2.5; "
                         "quote a prompt that contains commas") from None
    lo, hi = SECONDS_RANGE
    if not math.isfinite(x) or not lo <= x <= hi:
        raise ValueError(f"seconds is {text}, outside {lo:g}-{hi:g}. Give a duration in that range")
    return x


def _seed(text: str) -> int:
    try:
        s = int(text)
    except ValueError:
        raise ValueError(f"seed {text!r} is not a whole number. Give a seed such as 0 or 42") from None
    if s < 0:
        raise ValueError(f"seed is {s}; seeds are whole numbers >= 0")
    return s


# -- what the bakers share ----------------------------------------------------------------------
def action_name(prompt: str) -> str:
    """The action name for a prompt: the prompt itself, cut to what a Blender name holds (63 bytes
    of UTF-8, cut on a character boundary). Blender adds .001, .002 ... to repeated names."""
    name = " ".join(prompt.split())
    raw = name.encode("utf-8")
    if len(raw) <= MAX_NAME_BYTES:
        return name
    return raw[:MAX_NAME_BYTES].decode("utf-8", "ignore").rstrip()


def batches(entries: list[PromptEntry], size: int) -> list[list[PromptEntry]]:
    """Runs of consecutive entries that share seconds, at most `size` long: one Engine.generate
    call each (one duration for all its prompts, each prompt its own seed), in the list's order,
    so actions appear in the order of the file."""
    out: list[list[PromptEntry]] = []
    for e in entries:
        if out and len(out[-1]) < size and out[-1][0].seconds == e.seconds:
            out[-1].append(e)
        else:
            out.append([e])
    return out

