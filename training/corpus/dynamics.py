"""Motion dynamics people name (corpus v2): which descriptors are performed with which
pattern. The patterns themselves are rendered in training/corpus/motion.py.
(Stub: the table is filled in with the lexicon's names; see issue 11.)"""
from __future__ import annotations

from training.corpus.labels import DYNAMICS

DESCRIPTOR_DYNAMICS: dict[str, str] = {
    "laugh": "laugh_pulses", "chuckle": "laugh_pulses", "belly laugh": "laugh_pulses",
    "lip quiver": "lip_tremble", "eye roll": "eye_roll", "sigh": "sigh_breath", "sigh of relief": "sigh_breath",
}
assert set(DESCRIPTOR_DYNAMICS.values()) <= set(DYNAMICS)


def dynamic_of(descriptor: str) -> str | None:
    """The dynamic a descriptor is performed with (None: a plain onset, apex and offset)."""
    return DESCRIPTOR_DYNAMICS.get(descriptor)
