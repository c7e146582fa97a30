"""What an exercise family is, and what one solved instance holds.

A family is a class with four plain steps, named after what they do (PrairieLearn's shape):

- ``sample(rng, options)`` draws the givens (every number already on its printed grid);
- ``solve(given)`` computes exact SymPy values: the answers and whatever the template shows;
- ``rejection(given, solved)`` names the teaching constraint a draw violates, or ``None``;
- ``check(given)`` recomputes every answer by an independent NumPy (or brute-force) path.

Defining a subclass with a ``name`` registers it; nothing central needs editing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
import sympy as sp

from worksheetgen.params import Param

AnswerKind = Literal["number", "matrix", "integer", "choice", "text", "boolean"]


@dataclass
class Answer:
    """One value a student must give, as it is stored in the key."""

    key: str
    label: str  # TeX, e.g. r"\frac{\partial L}{\partial w^{[2]}}"
    value: Any  # SymPy number, SymPy Matrix, int, str or bool
    kind: AnswerKind = "number"
    tolerance: dict[str, Any] | None = None  # overrides the sheet's grading rule


@dataclass
class Solved:
    """The result of ``solve``: the answers (for the key) and the data templates show."""

    answers: list[Answer]
    data: dict[str, Any] = field(default_factory=dict)
    figures: list[Any] = field(default_factory=list)  # worksheetgen.figures.Figure

    def answer(self, key: str) -> Answer:
        for a in self.answers:
            if a.key == key:
                return a
        raise KeyError(key)


class Family:
    """Base class of every exercise family."""

    registry: ClassVar[dict[str, type["Family"]]] = {}

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()
    max_draws: ClassVar[int] = 200

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.name:
            return
        if cls.name in Family.registry and Family.registry[cls.name] is not cls:
            raise RuntimeError(f"two exercise families are named {cls.name!r}")
        Family.registry[cls.name] = cls

    # -- the steps -------------------------------------------------------------------------
    def validate(self, options: dict[str, Any]) -> None:
        """Cross-parameter checks on user options; raise WorksheetError naming the field."""

    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def solve(self, given: dict[str, Any]) -> Solved:
        raise NotImplementedError

    def rejection(self, given: dict[str, Any], solved: Solved) -> str | None:
        return None

    def check(self, given: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    # -- helpers for families --------------------------------------------------------------
    @property
    def template(self) -> str:
        return f"exercises/{self.name}.j2"


def to_float(value: Any) -> Any:
    """A float (or nested list of floats) of an exact answer, evaluated with 30 digits."""
    if isinstance(value, sp.MatrixBase):
        return [[to_float(v) for v in row] for row in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [to_float(v) for v in value]
    if isinstance(value, (bool, str)):
        return value
    return float(sp.N(value, 30))
