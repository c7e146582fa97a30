"""Where the templates and data files are: inside the installed package (a wheel puts the
repository's ``templates/`` at ``worksheetgen/templates``), or beside it in a source checkout."""

from __future__ import annotations

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
