"""Which torch device a command runs on: the one place that reads --device."""
from __future__ import annotations

import torch


def pick_device(arg: str | None = "auto") -> torch.device:
    """auto (a CUDA GPU when there is one, else the CPU), cpu, cuda or cuda:N."""
    arg = arg or "auto"
    if arg == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(arg)
    except RuntimeError:
        raise ValueError(f"--device {arg!r}: not a device; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {arg}: this machine has no CUDA GPU; use --device cpu")
    return dev
