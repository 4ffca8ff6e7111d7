"""Checkpoint files that appear whole or not at all: a weights file and its JSON config,
each written to a temporary name beside its target and renamed into place."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable


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
