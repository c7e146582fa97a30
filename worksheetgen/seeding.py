"""Random streams derived from stable hashes.

Every draw of an exercise gets its own generator, seeded from a SHA-256 of (sheet seed, variant,
exercise id, attempt). The exercise id is the spec's ``id`` or the family name with its
occurrence (``backprop``, ``backprop-2``), never the position: inserting or reordering exercises
leaves the others' numbers alone, and so does adding a student. The seed of the draw that was
used is written into key.json, so one exercise can be replayed from the key alone. Python's
``hash()`` is salted per process and must never be used here.
"""

from __future__ import annotations

import hashlib

import numpy as np

STREAM_VERSION = "worksheetgen/v2"


def derive_seed(*parts: object) -> int:
    """A 128-bit integer from the parts' text, identical on every machine and Python version."""
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:16], "big")


def stream(*parts: object) -> np.random.Generator:
    """A NumPy generator (PCG64) seeded from :func:`derive_seed` of the parts."""
    return generator(derive_seed(*parts))


def generator(seed: int) -> np.random.Generator:
    """The generator of a recorded stream seed (what key.json stores)."""
    return np.random.Generator(np.random.PCG64(seed))


def draw_seed(sheet_seed: int, variant: str, exercise_id: str, attempt: int) -> int:
    """The stream seed of one draw (attempt 1, 2, ...) of one exercise of one variant."""
    return derive_seed(STREAM_VERSION, sheet_seed, variant, exercise_id, attempt)
