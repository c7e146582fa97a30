"""What the two printers share: dispatch by element class and fixed-precision numbers."""

from __future__ import annotations

from typing import Any, Callable, TypeVar

S = TypeVar("S")

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


# A scene's text depends on its content alone, and the same scene recurs across students (a
# network diagram of the same shape and labels): its text is remembered, keyed by the scene.
# Scenes are frozen dataclasses, compared field by field; the only values that compare equal
# and are written differently are 0.0 and -0.0, and :func:`fixed` writes both as 0 (a
# printer divides only by an axis' span, never 0, so a zero's sign reaches nothing else).
_MAX_REMEMBERED = 512


def remembered_print(texts: dict[Any, str], scene: S, print_scene: Callable[[S], str]) -> str:
    """``print_scene(scene)``, remembered in ``texts`` by the scene."""
    text = texts.get(scene)
    if text is None:
        text = print_scene(scene)
        if len(texts) >= _MAX_REMEMBERED:
            texts.clear()
        texts[scene] = text
    return text
