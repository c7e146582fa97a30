"""Exact derivations that depend on code alone, kept between builds.

Some results are derived from the package's own definitions with SymPy (the properties of an
activation: limits, one-sided difference quotients, simplifications) and cost a good part of a
second each, yet never depend on drawn numbers. They are pickled under the user's cache folder,
in one folder per (what they are, the SymPy, mpmath and Python versions, the source files they
derive from): a changed definition or a new SymPy finds an empty folder and derives again.
A folder that cannot be written, or a file that cannot be read, is no cache: the value is
derived as if there were none.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import sys
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

import mpmath
import sympy as sp

from worksheetgen import resources

T = TypeVar("T")


def remembered(namespace: str, sources: Sequence[str], name: str, make: Callable[[], T]) -> T:
    """``make()``, read from the cache when an earlier build kept it (``sources``: the files
    whose text the value derives from; ``name``: the value's file name, unique in the
    namespace)."""
    folder = cache_folder(namespace, tuple(sources))
    if folder is None:
        return make()
    path = folder / f"{name}.pickle"
    try:
        return pickle.loads(path.read_bytes())
    except Exception:  # none kept yet, or a damaged or foreign file: derived (again)
        pass
    value = make()
    _keep(path, value)
    return value


def _keep(path: Path, value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    # SymPy rebuilds an expression from its arguments when it unpickles it: kept only if that
    # gives back the very same tree, so a cached value prints exactly as a derived one.
    if structure(pickle.loads(data)) != structure(value):
        return
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(data)
        os.replace(temporary, path)  # readers see the whole file or none
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary)


def structure(value: Any) -> Any:
    """A comparable form of a value that tells SymPy trees apart by their exact structure
    (``srepr``), through dicts, lists and tuples."""
    if isinstance(value, sp.Basic):
        return ("sympy", sp.srepr(value))
    if isinstance(value, dict):
        return ("dict", [(structure(k), structure(v)) for k, v in value.items()])
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [structure(v) for v in value])
    return ("value", type(value).__name__, repr(value))


@lru_cache(maxsize=None)
def cache_folder(namespace: str, sources: tuple[str, ...]) -> Path | None:
    """The writable folder of this namespace and these sources, or None."""
    digest = hashlib.sha256(f"{sp.__version__}\n{mpmath.__version__}\n{sys.version}\n".encode("utf-8"))
    for source in sources:
        try:
            digest.update(Path(source).read_bytes())
        except OSError:
            return None
    return resources.cache_folder(f"{namespace}-{digest.hexdigest()[:16]}")
