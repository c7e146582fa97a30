"""Random streams derived from stable hashes.

Every (sheet seed, variant, exercise position, family) gets its own generator, so adding an
exercise or a student never shifts the numbers of the others. Python's ``hash()`` is salted per
process and must never be used here.
"""

from __future__ import annotations

import hashlib

import numpy as np


def derive_seed(*parts: object) -> int:
    """A 128-bit integer from the parts' text, identical on every machine and Python version."""
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:16], "big")


def stream(*parts: object) -> np.random.Generator:
    """A NumPy generator (PCG64) seeded from :func:`derive_seed` of the parts."""
    return np.random.Generator(np.random.PCG64(derive_seed(*parts)))


def exercise_stream(
    sheet_seed: int, variant: str, position: int, family: str, attempt: int = 0
) -> np.random.Generator:
    return stream("worksheetgen/v1", sheet_seed, variant, position, family, attempt)
