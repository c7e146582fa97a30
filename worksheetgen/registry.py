"""Finds every exercise family: importing each module of ``worksheetgen.exercises`` registers it."""

from __future__ import annotations

import importlib
import pkgutil

from worksheetgen import exercises
from worksheetgen.errors import WorksheetError
from worksheetgen.family import Family

_loaded = False


def load_families() -> dict[str, type[Family]]:
    global _loaded
    if not _loaded:
        for module in sorted(pkgutil.iter_modules(exercises.__path__), key=lambda m: m.name):
            importlib.import_module(f"{exercises.__name__}.{module.name}")
        _loaded = True
    return dict(sorted(Family.registry.items()))


def get_family(name: str, where: str = "family") -> Family:
    families = load_families()
    if name not in families:
        raise WorksheetError(
            f"unknown exercise family {name!r}", field=where, allowed=", ".join(families)
        )
    return families[name]()
