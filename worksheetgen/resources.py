"""Where the templates and data files are: inside the installed package (a wheel puts the
repository's ``templates/`` at ``worksheetgen/templates``), or beside it in a source checkout;
and where what is kept between builds goes (the user's cache folder)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


@lru_cache(maxsize=None)
def template_dir() -> Path:
    for candidate in (PACKAGE / "templates", PACKAGE.parent / "templates"):
        if (candidate / "formats").is_dir():
            return candidate
    raise FileNotFoundError(f"the templates are missing (looked in {PACKAGE / 'templates'} "
                            f"and {PACKAGE.parent / 'templates'}): reinstall the package")


def data_dir() -> Path:
    return PACKAGE / "data"


def cache_folder(name: str) -> Path | None:
    """``worksheetgen/<name>`` under $XDG_CACHE_HOME or ~/.cache, made if missing; None when it
    cannot be made or written (a cache that cannot be kept is no cache, never an error)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    folder = Path(base) / "worksheetgen" / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return folder if os.access(folder, os.W_OK) else None
