"""Dataclass configs read from JSON dicts: a key the dataclass does not have is an error, named
with the keys it does have (a typo in a config file must not pass silently as a default)."""
from __future__ import annotations

from dataclasses import fields


def config_from_dict(cls, d: dict, what: str):
    """cls(**d), refusing unknown keys; `what` names the config in the error."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ValueError(f"unknown {what} key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return cls(**d)
