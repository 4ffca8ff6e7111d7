"""Who may import whom (docs/ARCHITECTURE.md), checked on the sources with `ast`.

    tdmm_blender/  the only package that imports Blender's modules (bpy, bmesh, mathutils ...);
                   of ours it imports engine only (training does not ship in the extension)
    engine/        imports nothing of ours but itself, and never smplx (its licence forbids
                   redistribution; smplx is a reference for tests and training only)
    training/      imports engine, never tdmm_blender

scripts/ and benchmarks/ are held to the Blender rule only; tests/ is not checked (the bpy
tests run against the bpy wheel on purpose). Imports are read from `import` / `from ... import`
statements (relative ones resolved against the file's package) and from literal module names
given to importlib.import_module / __import__, including f-strings built only from
`__package__` / `__name__` and constants (tdmm_blender/_deps.py imports the vendored engine
that way). A failure lists `file:line: <rule broken>` for every violation.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Modules that exist only inside Blender (or its bpy wheel).
BLENDER_MODULES = frozenset({
    "bpy", "bmesh", "mathutils", "gpu", "bl_math", "bpy_extras", "addon_utils",
    "blf", "bgl", "aud", "bl_ui", "bl_operators", "bl_ext", "bpy_types", "idprop",
})
PACKAGES = ("engine", "training", "tdmm_blender")     # every rule applies
BLENDER_RULE_ONLY = ("scripts", "benchmarks")          # only the Blender rule applies

# Known, deliberate exceptions: (file, imported top-level module) -> why. Each entry must still
# be needed (test_allowed_exceptions_are_still_needed), so the list cannot rot.
ALLOWED = {
    ("benchmarks/keyframes.py", "bpy"): "measures tdmm_blender.keys against a keyframe_insert loop, "
                                        "which needs bpy itself; runs under the bpy wheel like the tests",
    ("scripts/corpus_v2_sheet.py", "bpy"): "renders docs/corpus_v2_sheet.png (labels and a camera per frame) "
                                           "through the rig; a maintainer script run under the bpy wheel",
    ("scripts/l2m_sheet.py", "bpy"): "renders docs/l2m_sheet.png (generated clips, a camera and labels per frame) "
                                     "through the rig; a maintainer script run under the bpy wheel",
    ("benchmarks/blender_runtime.py", "bpy"): "times the add-on's Generate operator and its main-thread steps "
                                              "inside bpy (issue 14's targets); runs under the bpy wheel",
}


# -- reading the imports of one file ----------------------------------------------------------
def module_name(rel: Path) -> tuple[str, str]:
    """(module, package) of a file given relative to the root: engine/x.py -> ("engine.x", "engine");
    engine/__init__.py -> ("engine", "engine"); scripts/a.py -> ("scripts.a", "scripts")."""
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
        return ".".join(parts), ".".join(parts)
    return ".".join(parts), ".".join(parts[:-1])


def _resolve_relative(name: str | None, level: int, package: str) -> str | None:
    """`from ..x import y` seen in `package` -> absolute "a.x"; None if it climbs above the root."""
    base = package.split(".") if package else []
    if level - 1 > len(base) - 1:
        return None
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def _literal_module(node: ast.expr, module: str, package: str) -> str | None:
    """A module name an import_module call names literally: a str constant, or an f-string of
    constants and `__package__` / `__name__`; None when it depends on anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        out = []
        for v in node.values:
            if isinstance(v, ast.Constant) and isinstance(v.value, str):
                out.append(v.value)
            elif (isinstance(v, ast.FormattedValue) and isinstance(v.value, ast.Name)
                  and v.value.id in ("__package__", "__name__") and v.format_spec is None):
                out.append(package if v.value.id == "__package__" else module)
            else:
                return None
        return "".join(out)
    return None


def _is_import_call(func: ast.expr) -> bool:
    """importlib.import_module(...), import_module(...) or __import__(...)."""
    if isinstance(func, ast.Attribute):
        return func.attr == "import_module" and isinstance(func.value, ast.Name) and func.value.id == "importlib"
    return isinstance(func, ast.Name) and func.id in ("import_module", "__import__")


def imports_of(source: str, module: str, package: str, filename: str = "<src>") -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the source. `from a import b` gives both
    "a" and "a.b" (b may be a submodule); an unresolvable relative import gives "." + its text."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module if node.level == 0 else _resolve_relative(node.module, node.level, package)
            if base is None:
                found.append((node.lineno, "." * node.level + (node.module or "")))
                continue
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{a.name}" if base else a.name) for a in node.names if a.name != "*"]
        elif isinstance(node, ast.Call) and _is_import_call(node.func) and node.args:
            name = _literal_module(node.args[0], module, package)
            if name is None:
                continue
            if name.startswith("."):                    # import_module(".x", package)
                pkg = package
                if len(node.args) > 1:
                    pkg = _literal_module(node.args[1], module, package)
                for kw in node.keywords:
                    if kw.arg == "package":
                        pkg = _literal_module(kw.value, module, package)
                if pkg is None:
                    continue
                level = len(name) - len(name.lstrip("."))
                name = _resolve_relative(name[level:] or None, level, pkg) or name
            found.append((node.lineno, name))
    return found


# -- the rules --------------------------------------------------------------------------------
def part_of(name: str) -> str:
    """Which of our parts (or which third-party top-level module) an imported name is. The
    add-on's vendored engine (`tdmm_blender.engine`, see tdmm_blender/_deps.py) is engine."""
    if name == "tdmm_blender.engine" or name.startswith("tdmm_blender.engine."):
        return "engine"
    return name.split(".")[0]


def broken_rules(importer: str, name: str) -> list[tuple[str, str]]:
    """[(rule, message)] of the rules that `importer` (a top folder: engine, training,
    tdmm_blender, scripts ...) breaks by importing `name`."""
    if name.startswith("."):
        return [("relative", f"relative import '{name}' climbs above the top-level package")]
    target, top = part_of(name), name.split(".")[0]
    out = []
    if top in BLENDER_MODULES and importer != "tdmm_blender":
        out.append(("blender", f"imports {name}: only tdmm_blender/ may import Blender modules"))
    if importer == "engine" and target in ("training", "tdmm_blender"):
        out.append(("engine", f"imports {name}: engine imports nothing of ours but itself"))
    if importer in ("engine", "tdmm_blender") and top == "smplx":
        out.append(("smplx", f"imports {name}: smplx is for tests and training only "
                             "(its licence forbids shipping it)"))
    if importer == "training" and target == "tdmm_blender":
        out.append(("training", f"imports {name}: training imports engine, never tdmm_blender"))
    if importer == "tdmm_blender" and target == "training":
        out.append(("addon", f"imports {name}: tdmm_blender imports engine only "
                             "(training does not ship in the extension)"))
    return out


def check_file(path: Path, root: Path) -> list[tuple[str, str]]:
    """[(imported top-level module, "file:line: rule broken")] for one file under root."""
    rel = path.relative_to(root)
    importer = rel.parts[0]
    module, package = module_name(rel)
    shown = rel.as_posix()
    try:
        found = imports_of(path.read_text(encoding="utf-8"), module, package, shown)
    except SyntaxError as err:
        return [("", f"{shown}:{err.lineno}: cannot be parsed ({err.msg})")]
    out, seen = [], set()
    for line, name in found:            # `from a import b` yields a before a.b: the message names a
        for rule, message in broken_rules(importer, name):
            if (line, rule) not in seen:
                seen.add((line, rule))
                out.append((name.split(".")[0], f"{shown}:{line}: {message}"))
    return out


def check_tree(root: Path, allowed: dict | None = None) -> tuple[list[str], set]:
    """(violations as "file:line: rule broken", the `allowed` entries that were used) for the
    .py files of every checked folder under root."""
    allowed = {} if allowed is None else allowed
    problems, used = [], set()
    for folder in PACKAGES + BLENDER_RULE_ONLY:
        for path in sorted((root / folder).rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            rel = path.relative_to(root).as_posix()
            for top, message in check_file(path, root):
                if (rel, top) in allowed:
                    used.add((rel, top))
                else:
                    problems.append(message)
    return problems, used


# -- the tree ---------------------------------------------------------------------------------
def test_import_rules_hold():
    problems, _ = check_tree(ROOT, ALLOWED)
    assert not problems, "import rules broken (docs/ARCHITECTURE.md):\n" + "\n".join(problems)


def test_allowed_exceptions_are_still_needed():
    _, used = check_tree(ROOT, ALLOWED)
    stale = sorted(set(ALLOWED) - used)
    assert not stale, f"ALLOWED lists exceptions the tree no longer needs; remove them: {stale}"


def test_the_checker_sees_every_package():
    """A guard against a checker that passes because it read nothing."""
    for folder in PACKAGES:
        files = [p for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts]
        assert files, f"no .py files under {folder}/"
        assert any(imports_of(p.read_text(), *module_name(p.relative_to(ROOT))) for p in files), folder


# -- the checker itself -----------------------------------------------------------------------
def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_checker_reports_bpy_in_engine(tmp_path):
    _write(tmp_path, "engine/__init__.py", "")
    _write(tmp_path, "engine/bad.py", '"""A module that must not touch Blender."""\nimport os\nimport bpy\n')
    problems, _ = check_tree(tmp_path)
    assert problems == ["engine/bad.py:3: imports bpy: only tdmm_blender/ may import Blender modules"]


@pytest.mark.parametrize("rel, source, expected", [
    # engine reaching training, absolutely, lazily inside a function, or through importlib
    ("engine/a.py", "from training.train import loop\n", "engine/a.py:1: imports training.train"),
    ("engine/a.py", "def f():\n    import tdmm_blender.rig\n", "engine/a.py:2: imports tdmm_blender.rig"),
    ("engine/a.py", "import importlib\nimportlib.import_module('training.eval.metrics')\n",
     "engine/a.py:2: imports training.eval.metrics"),
    ("engine/a.py", "from mathutils import Euler\n", "engine/a.py:1: imports mathutils"),
    ("engine/a.py", "import smplx\n", "engine/a.py:1: imports smplx"),
    # training reaching the add-on (a relative import cannot leave training/: Python refuses it)
    ("training/eval/a.py", "from ...tdmm_blender import keys\n",
     "training/eval/a.py:1: relative import '...tdmm_blender' climbs above"),
    ("training/eval/a.py", "from importlib import import_module\nimport_module('tdmm_blender.demo')\n",
     "training/eval/a.py:2: imports tdmm_blender.demo"),
    ("tdmm_blender/a.py", "from training.corpus import synth\n", "tdmm_blender/a.py:1: imports training.corpus"),
    ("scripts/a.py", "import bmesh\n", "scripts/a.py:1: imports bmesh"),
])
def test_checker_reports(tmp_path, rel, source, expected):
    _write(tmp_path, rel, source)
    problems, _ = check_tree(tmp_path)
    assert any(p.startswith(expected) for p in problems), problems


@pytest.mark.parametrize("rel, source", [
    # the add-on: bpy, and engine through its vendored-deps module (tdmm_blender/_deps.py)
    ("tdmm_blender/a.py", "import bpy\nfrom bpy_extras.io_utils import ImportHelper\nfrom ._deps import engine\n"),
    ("tdmm_blender/_deps.py", "from importlib import import_module\n"
                              "engine = import_module(f'{__package__}.engine')\nimport engine\n"),
    ("tdmm_blender/a.py", "from . import engine\n"),
    # training importing engine and itself, relatively and through importlib
    ("training/corpus/a.py", "import importlib\nfrom engine.head import load_head\nfrom ..data import dataset\n"
                             "importlib.import_module(f'{__package__}.captions')\n"),
    # scripts and benchmarks may use training and the add-on; only Blender's modules are barred
    ("scripts/a.py", "from training.train.vq import face_head\nfrom tdmm_blender import preview\n"),
    # a name that only looks like ours
    ("engine/a.py", "import trainingwheels\nimport bpython\n"),
])
def test_checker_allows(tmp_path, rel, source):
    _write(tmp_path, rel, source)
    problems, _ = check_tree(tmp_path)
    assert problems == []
