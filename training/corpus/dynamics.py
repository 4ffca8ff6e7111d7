"""Motion dynamics people name (corpus v2): which descriptors are performed with which
pattern. The patterns themselves are rendered in training/corpus/motion.py (one function
each, `motion.DYNAMIC_RENDERERS`):

- laugh_pulses: rhythmic 'ha-ha' pulses of the jaw, cheeks and head at 4-6 Hz, decaying over
  each burst (laugh, belly laugh: big; chuckle, giggle: small; a suppressed laugh pulses with
  its lips pressed shut, the jaw staying closed);
- lip_tremble: the lower lip and chin tremble at 6-10 Hz (lip quiver, on the verge of tears);
- eye_roll: the eyes travel a circle (side, down, other side, up), hold up, come back;
- sigh_breath: an inhale that lifts the head and opens the eyes, an exhale that drops the
  head and lowers the lids (a sigh, of relief, of exasperation, of tension letting go).

A descriptor not listed is performed as a plain onset, apex and offset.
"""
from __future__ import annotations

from training.corpus.labels import DYNAMICS

DESCRIPTOR_DYNAMICS: dict[str, str] = {
    "laugh": "laugh_pulses", "belly laugh": "laugh_pulses", "chuckle": "laugh_pulses", "giggle": "laugh_pulses",
    "suppressed laugh": "laugh_pulses",
    "lip quiver": "lip_tremble", "tearful": "lip_tremble",
    "eye roll": "eye_roll",
    "sigh": "sigh_breath", "sigh of relief": "sigh_breath", "exasperation": "sigh_breath",
    "easing up": "sigh_breath",
}
assert set(DESCRIPTOR_DYNAMICS.values()) <= set(DYNAMICS)


def dynamic_of(descriptor: str) -> str | None:
    """The dynamic a descriptor is performed with (None: a plain onset, apex and offset)."""
    return DESCRIPTOR_DYNAMICS.get(descriptor)
