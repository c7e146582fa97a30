"""What an exercise family is, and what one solved instance holds.

A family is a class with plain steps, named after what they do (PrairieLearn's shape):

- ``sample(rng, options)`` draws the givens (every number already on its printed grid) and
  returns the family's ``Given`` record;
- ``solve(given)`` computes exact SymPy values: the answers and the family's ``Data`` record,
  which is what the template shows;
- ``constraints`` name the teaching rules a draw must meet, with the options each one reads;
- ``check(given)`` recomputes every answer by an independent NumPy (or brute-force) path.

``Given`` and ``Data`` are dataclasses deriving from :class:`Record`: what a family draws and
what its template reads is declared, and a template that reads an undeclared name fails when the
family first solves (:func:`worksheetgen.templatecheck.check_family_template`), not at render.

Defining a subclass with a ``name`` registers it; nothing central needs editing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterator

import numpy as np

from worksheetgen.params import Param

if TYPE_CHECKING:
    from worksheetgen import answers


class Record:
    """Base of a family's ``Given`` and ``Data`` dataclasses.

    Fields are read as attributes (``given.w1``; templates write ``g.w1``/``d.z1``). Item access
    and iteration over (name, value) pairs are kept for code that treats givens generically
    (the key's JSON, fingerprints, the report)."""

    def __getitem__(self, key: str) -> Any:
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in self.field_names()

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]

    def keys(self) -> tuple[str, ...]:
        return self.field_names()

    def items(self) -> Iterator[tuple[str, Any]]:
        return ((name, getattr(self, name)) for name in self.field_names())

    def as_dict(self) -> dict[str, Any]:
        return dict(self.items())

    def replace(self, **changes: Any) -> "Record":
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


@dataclass(frozen=True)
class Constraint:
    """A teaching rule a random draw must meet.

    ``reads`` names the options whose values the rule depends on. A rule is applied only when
    at least one of them is drawn: a rule that reads only values the instructor fixed is the
    instructor's decision (seed 004 Ex2 uses an all-dead ReLU layer as its lesson).
    """

    rule: str  # what a good draw has, e.g. "non-zero gradients"
    reads: tuple[str, ...]
    holds: Callable[[Any, "Solved"], bool]
    # Optional: True when the givens plainly break the rule, judged before solving (in float64,
    # with slack: never for a draw ``holds`` accepts), so such a draw is not solved exactly.
    plainly_broken: Callable[[Any], bool] | None = None


@dataclass
class Solved:
    """The result of ``solve``: the answers (for the key) and the data templates show."""

    answers: list[answers.Answer]
    data: Any = None  # the family's Data record
    figures: list[Any] = field(default_factory=list)  # worksheetgen.figures.Figure

    def answer(self, key: str) -> answers.Answer:
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
    Given: ClassVar[type[Record] | None] = None
    Data: ClassVar[type[Record] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.name:
            return
        if cls.name in Family.registry and Family.registry[cls.name] is not cls:
            raise TypeError(f"two exercise families are named {cls.name!r}")
        declared = {p.name for p in cls.params}
        for c in cls.constraints:
            unknown = set(c.reads) - declared
            if not c.reads or unknown:
                raise TypeError(f"{cls.name}: constraint {c.rule!r} reads {sorted(unknown) or 'nothing'}; "
                                f"it must read declared parameters")
        Family.registry[cls.name] = cls

    constraints: ClassVar[tuple[Constraint, ...]] = ()

    # -- what the quality gate (``worksheetgen stress F --quality``) reads --------------------
    # Answer keys for which an exact 0 is a fine thing to ask (a Boolean output, ReLU(-2) in a
    # table): everywhere else an asked value of exactly 0 teaches nothing and is flagged.
    zero_ok: ClassVar[frozenset[str]] = frozenset()
    # Bounds on the rates of flags that may occur but not too often, e.g. {"none of these": 0.25}.
    quality_bounds: ClassVar[dict[str, float]] = {}

    def quality(self, given: Any, solved: "Solved") -> dict[str, bool]:
        """Family-specific defects of this draw, by name (True = the draw has it), e.g.
        {"saturated unit": ..., "non-Boolean output": ...}. Each should have a constraint that
        rejects it when the parameters it depends on are drawn, so the gate reports 0."""
        return {}

    # -- the steps -------------------------------------------------------------------------
    def validate(self, options: dict[str, Any]) -> None:
        """Cross-parameter checks on user options; raise WorksheetError naming the field."""

    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> Any:
        raise NotImplementedError

    def solve(self, given: Any) -> Solved:
        raise NotImplementedError

    def check(self, given: Any) -> dict[str, Any]:
        raise NotImplementedError

    # -- derived ---------------------------------------------------------------------------
    def drawn(self, options: dict[str, Any]) -> frozenset[str]:
        """The parameters the sampler draws for these options (declared default None, not
        given): everything else is fixed by the spec."""
        return frozenset(p.name for p in self.params if p.default is None and options.get(p.name) is None)

    def violated(self, given: Any, solved: Solved, drawn: frozenset[str]) -> Constraint | None:
        """The first applicable teaching rule this draw breaks, or None."""
        for c in self.constraints:
            if drawn.intersection(c.reads) and not c.holds(given, solved):
                return c
        return None

    def plainly_violated(self, given: Any, drawn: frozenset[str]) -> Constraint | None:
        """An applicable rule these givens plainly break before any solving, or None (the
        exact rules then decide)."""
        for c in self.constraints:
            if c.plainly_broken is not None and drawn.intersection(c.reads) and c.plainly_broken(given):
                return c
        return None

    @property
    def template(self) -> str:
        return f"exercises/{self.name}.j2"
