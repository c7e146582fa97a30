"""Declared exercise parameters.

A family lists its parameters once (name, kind, default, help). The same declaration validates
a spec, documents ``worksheetgen list`` and parses ``--set key=value``. Numbers given by users
become exact SymPy rationals from their decimal text, so ``0.1`` is 1/10, not a binary float.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import sympy as sp

from worksheetgen.errors import WorksheetError

MISSING: Any = None  # a parameter whose default is None is drawn by the sampler


def exact_number(value: Any) -> sp.Rational:
    """An exact rational from an int, a float's shortest decimal text, or a string like '1/3'."""
    if isinstance(value, bool):
        raise ValueError("a number, not true/false")
    if isinstance(value, int):
        return sp.Integer(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("a finite number")
        return sp.Rational(repr(value))
    if isinstance(value, str):
        try:
            number = sp.Rational(value.strip())
        except (TypeError, ValueError, SyntaxError, sp.SympifyError):
            raise ValueError(f"a number, not {value!r}") from None
        return number
    if isinstance(value, sp.Rational):
        return value
    raise ValueError(f"a number, not {type(value).__name__}")


class Kind:
    """How a parameter's value is written and checked."""

    description = "a value"

    def parse(self, value: Any) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def from_text(self, text: str) -> Any:
        """The raw value of a ``--set`` text: a JSON literal, else the bare string.
        Validation happens afterwards, exactly as for a spec value."""
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text


@dataclass(frozen=True)
class Int(Kind):
    minimum: int | None = None
    maximum: int | None = None

    @property
    def description(self) -> str:  # type: ignore[override]
        return _range_text("an integer", self.minimum, self.maximum)

    def parse(self, value: Any) -> int:
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(self.description)
        _check_range(value, self.minimum, self.maximum, self.description)
        return value


@dataclass(frozen=True)
class Number(Kind):
    minimum: float | None = None
    maximum: float | None = None
    positive: bool = False

    @property
    def description(self) -> str:  # type: ignore[override]
        base = "a positive number" if self.positive else "a number"
        return _range_text(base, self.minimum, self.maximum)

    def parse(self, value: Any) -> sp.Rational:
        number = exact_number(value)
        if self.positive and number <= 0:
            raise ValueError(self.description)
        _check_range(number, self.minimum, self.maximum, self.description)
        return number


@dataclass(frozen=True)
class Bool(Kind):
    description = "true or false"

    def parse(self, value: Any) -> bool:
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise ValueError(self.description)
        return value


@dataclass(frozen=True)
class Choice(Kind):
    options: tuple[str, ...] = ()

    @property
    def description(self) -> str:  # type: ignore[override]
        return "one of " + ", ".join(self.options)

    def parse(self, value: Any) -> str:
        if not isinstance(value, str) or value not in self.options:
            raise ValueError(self.description)
        return value

    def from_text(self, text: str) -> str:
        return text.strip().strip('"')


@dataclass(frozen=True)
class Text(Kind):
    max_length: int = 200
    description = "a short text"

    def parse(self, value: Any) -> str:
        if not isinstance(value, str) or len(value) > self.max_length:
            raise ValueError(f"a text of at most {self.max_length} characters")
        return value

    def from_text(self, text: str) -> str:
        return text


@dataclass(frozen=True)
class ListOf(Kind):
    item: Kind = field(default_factory=Number)
    min_length: int = 0
    max_length: int | None = None

    @property
    def description(self) -> str:  # type: ignore[override]
        size = ""
        if self.max_length is not None and self.min_length == self.max_length:
            size = f" of {self.min_length} items"
        elif self.max_length is not None:
            size = f" of {self.min_length} to {self.max_length} items"
        elif self.min_length:
            size = f" of at least {self.min_length} items"
        return f"a list{size}, each {self.item.description}"

    def parse(self, value: Any) -> list[Any]:
        if isinstance(value, str):
            raise ValueError(self.description)
        if not isinstance(value, (list, tuple)):
            raise ValueError(self.description)
        if len(value) < self.min_length or (
            self.max_length is not None and len(value) > self.max_length
        ):
            raise ValueError(self.description)
        try:
            return [self.item.parse(v) for v in value]
        except ValueError as exc:
            raise ValueError(f"{self.description}; an item is not {exc}") from None


@dataclass(frozen=True)
class Matrix(Kind):
    """A rectangular list of rows of numbers (a column vector may be written as a flat list)."""

    description = "a matrix written as a list of rows of numbers, e.g. [[0.1, 0.2], [0.3, 0.4]]"

    def parse(self, value: Any) -> sp.Matrix:
        if not isinstance(value, (list, tuple)) or not value:
            raise ValueError(self.description)
        if all(not isinstance(v, (list, tuple)) for v in value):
            value = [[v] for v in value]
        rows = []
        for row in value:
            if not isinstance(row, (list, tuple)) or not row:
                raise ValueError(self.description)
            rows.append([exact_number(v) for v in row])
        if len({len(r) for r in rows}) != 1:
            raise ValueError("a matrix whose rows all have the same length")
        return sp.Matrix(rows)


@dataclass(frozen=True)
class Param:
    """One declared parameter. ``default=None`` means: drawn by the sampler unless given."""

    name: str
    kind: Kind
    default: Any = None
    help: str = ""

    def parse(self, value: Any, where: str) -> Any:
        try:
            return self.kind.parse(value)
        except ValueError as exc:
            raise WorksheetError(
                f"invalid value {_short(value)}", field=where, allowed=str(exc)
            ) from None

    def default_text(self) -> str:
        if self.default is None:
            return "random"
        if isinstance(self.default, bool):
            return str(self.default).lower()
        if isinstance(self.default, (list, tuple)):
            return json.dumps([_plain(v) for v in self.default])
        return str(_plain(self.default))


def parse_params(
    declared: Sequence[Param],
    given: dict[str, Any],
    where: str = "params",
    validate: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Validate user parameters against the declaration; fill defaults; reject unknown names."""
    by_name = {p.name: p for p in declared}
    unknown = sorted(set(given) - set(by_name))
    if unknown:
        raise WorksheetError(
            f"unknown parameter {unknown[0]!r}",
            field=f"{where}.{unknown[0]}",
            allowed=", ".join(by_name) or "no parameters",
        )
    values: dict[str, Any] = {}
    for p in declared:
        if p.name in given:
            values[p.name] = p.parse(given[p.name], f"{where}.{p.name}")
        else:
            values[p.name] = p.default
    if validate is not None:
        try:
            validate(values)
        except WorksheetError as exc:
            raise exc.at(field_prefix=where) from None
    return values


def parse_assignments(declared: Sequence[Param], assignments: Sequence[str]) -> dict[str, Any]:
    """``--set key=value`` pairs to raw values (validation happens in :func:`parse_params`)."""
    by_name = {p.name: p for p in declared}
    raw: dict[str, Any] = {}
    for item in assignments:
        if "=" not in item:
            raise WorksheetError(
                f"--set {item!r} has no '='", field="--set", allowed="key=value"
            )
        key, text = item.split("=", 1)
        key = key.strip()
        if key not in by_name:
            raise WorksheetError(
                f"unknown parameter {key!r}", field=f"--set {key}",
                allowed=", ".join(by_name) or "no parameters",
            )
        try:
            raw[key] = by_name[key].kind.from_text(text)
        except ValueError as exc:
            raise WorksheetError(
                f"invalid value {text!r}", field=f"--set {key}", allowed=str(exc)
            ) from None
    return raw


def _plain(value: Any) -> Any:
    if isinstance(value, sp.Integer):
        return int(value)
    if isinstance(value, sp.Rational):
        return float(value) if value.q in (2, 4, 5, 8, 10, 20, 25, 50, 100, 1000) else str(value)
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _range_text(base: str, lo: Any, hi: Any) -> str:
    if lo is not None and hi is not None:
        return f"{base} from {lo} to {hi}"
    if lo is not None:
        return f"{base} of at least {lo}"
    if hi is not None:
        return f"{base} of at most {hi}"
    return base


def _check_range(value: Any, lo: Any, hi: Any, description: str) -> None:
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ValueError(description)
