"""Outputs that appear whole or not at all: a weights file and its JSON config, each written
to a temporary name beside its target and renamed into place; a folder built as a hidden
stage beside its target and renamed into place."""
from __future__ import annotations

import json
import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from .errors import OutputError


def write_weights_and_config(weights: Path, config: Path, save_weights: Callable[[str], None], doc: dict) -> None:
    """save_weights(tmp_path) writes the tensors (e.g. safetensors' save_file); doc becomes the
    JSON config. An error before the renames leaves the old files as they were."""
    weights, config = Path(weights), Path(config)
    tmp_w, tmp_c = weights.with_name(weights.name + ".tmp"), config.with_name(config.name + ".tmp")
    try:
        save_weights(str(tmp_w))
        tmp_c.write_text(json.dumps(doc, indent=1) + "\n")
        os.replace(tmp_w, weights)
        os.replace(tmp_c, config)
    finally:
        for t in (tmp_w, tmp_c):
            t.unlink(missing_ok=True)


STAGE_TAG = ".staging-"


class Stage:
    """The folder being filled (`path`); `discard()` drops it instead of renaming it into place."""

    def __init__(self, path: Path):
        self.path, self.keep = path, True

    def discard(self) -> None:
        self.keep = False


@contextmanager
def staged_dir(target) -> Iterator[Stage]:
    """A folder that appears whole or not at all: yields a Stage, a new hidden folder beside
    `target` to fill, renamed to `target` when the block ends normally (an existing empty
    `target` is replaced). On an error, Ctrl-C or discard() the stage goes, and so do the
    parent folders this call had to create. Stages that killed runs left behind (their process
    gone) are removed first."""
    target = Path(target)
    made = []
    parent = target.parent
    while not parent.exists():
        made.append(parent)
        parent = parent.parent
    for d in reversed(made):
        d.mkdir()
    _remove_stale_stages(target)
    stage = target.with_name(f".{target.name}{STAGE_TAG}{os.getpid()}-{uuid.uuid4().hex[:8]}")
    handle, done = Stage(stage), False
    try:
        try:
            stage.mkdir()
        except OSError as e:
            raise OutputError(f"output {target}", f"cannot create a folder in {target.parent} "
                                                  f"({e.strerror or e})") from None
        yield handle
        if handle.keep:
            if target.is_dir() and not any(target.iterdir()):
                target.rmdir()
            os.replace(stage, target)
            done = True
    finally:
        if not done:
            shutil.rmtree(stage, ignore_errors=True)
            for d in made:                   # innermost first; only while still empty
                try:
                    d.rmdir()
                except OSError:
                    break


def _remove_stale_stages(target: Path) -> None:
    prefix = f".{target.name}{STAGE_TAG}"
    for p in target.parent.glob(prefix + "*"):
        pid = p.name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(p, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
