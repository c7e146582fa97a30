"""What the two printers share: dispatch by element class and fixed-precision numbers."""

from __future__ import annotations

from typing import Any


def fixed(value: float, places: int = 3) -> str:
    """A number at fixed precision, never '-0.000' (the same value always prints the same)."""
    text = f"{value:.{places}f}"
    if text.startswith("-") and set(text[1:]) <= {"0", "."}:
        text = text[1:]
    return text


class Printer:
    """Prints a scene element by calling ``_print_<ClassName>``, like SymPy's printers.

    Every scene element kind has its own method in each printer, so adding a kind means adding
    one method per printer, and a printer that lacks one says so instead of drawing nothing.
    """

    def doprint(self, element: Any) -> list[str]:
        method = getattr(self, "_print_" + type(element).__name__, None)
        if method is None:
            raise TypeError(f"{type(self).__name__} cannot print a {type(element).__name__}")
        return method(element)
