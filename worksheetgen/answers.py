"""Answer kinds: what a student must give, how it is stored in the key, and how it is graded.

Each kind is a class that knows its key entry (``entry``), its tolerance, whether the
independent recomputation agrees with it (``agrees``), and how to grade a response from the key
entry alone (``grade``, a classmethod, so a grader needs nothing but key.json). Kinds register
themselves by their ``kind`` name, like families: an exporter or grader looks a kind up with
:func:`kind_of` and never switches on names.

Choices store their options in order with their text in TeX, and the correct one(s); a
multi-select answer is a JSON list of letters; a Boolean is a JSON Boolean.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from typing import Any, ClassVar, Sequence

import mpmath
import numpy as np
import sympy as sp
from sympy.core.numbers import mpf_norm as _sympy_mpf_norm
from sympy.polys.domains import EXRAW
from sympy.printing.str import StrPrinter

from worksheetgen import mathfmt, sympyfast

sympyfast.install()  # the printer of exact values asks the sign of every coefficient

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

# The exact solver against the independent path: both are exact to ~1e-15 in double precision,
# so these catch a real disagreement and never a rounding artefact.
CHECK_RTOL = 1e-9
CHECK_ATOL = 1e-12


@dataclass(frozen=True)
class Rule:
    """The sheet's rule for numbers: how they are rounded (``rounding`` decimals or significant,
    with the sheet's ``digits``) and, when the spec states one (``explicit``), the tolerance
    ``{relative, absolute}`` that overrides the tolerance derived from the rounding."""

    relative: float = 0.01
    absolute: float = 1e-4
    rounding: str = mathfmt.DECIMALS
    explicit: bool = False


@dataclass(frozen=True)
class Rounding:
    """How one answer is asked when its exercise states its own precision (a relative error in
    scientific notation with 2 significant digits, losses carried with 12 significant digits):
    ``mode`` decimals or significant, and ``digits``."""

    mode: str
    digits: int | None = None  # None: the sheet's digits, counted in this mode

    def __post_init__(self) -> None:
        if self.mode not in mathfmt.MODES or (self.digits is not None and self.digits < 1):
            raise ValueError(f"rounding {self.mode!r} to {self.digits} digits")


def to_float(value: Any) -> Any:
    """A float (or nested list of floats) of an exact value, evaluated with 30 digits."""
    if isinstance(value, sp.MatrixBase):
        return _matrix_float(value)
    if isinstance(value, (list, tuple)):
        return [to_float(v) for v in value]
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, sp.Basic):
        return _scalar_float(value)
    return float(sp.N(value, 30))


# Below this denominator, p/q rounded once to a double (Python's int division is correctly
# rounded) is the double of p/q rounded first to SymPy's 30 digits (103 bits): p/q differs from
# every midpoint between two doubles by at least 2^-54/q of its size, more than 2^-103.
_EXACT_FLOAT_Q = 1 << 49


def _matrix_float(m: sp.MatrixBase) -> list[list[float]]:
    """Rows of floats. A matrix of rationals is read off SymPy's own fractions (``tolist``
    would make a new SymPy number of each entry first), by the rule of :func:`_scalar_float`."""
    rows = sympyfast.rational_rows(m)
    if rows is not None:
        return [[_fraction_float(p, q) for p, q in row] for row in rows]
    rep = getattr(m, "_rep", None)
    if rep is not None and rep.domain == EXRAW:  # SymPy values already: tolist() would copy them first
        return [[to_float(v) for v in row] for row in rep.to_list()]
    return [[to_float(v) for v in row] for row in m.tolist()]


def _fraction_float(p: int, q: int) -> float:
    if q < _EXACT_FLOAT_Q:
        try:
            return p / q
        except OverflowError:
            pass
    return _scalar_float(sp.Rational(p, q))


@lru_cache(maxsize=65536)
def _scalar_float(value: sp.Basic) -> float:
    if isinstance(value, sp.Rational) and value.q < _EXACT_FLOAT_Q:
        try:
            return int(value.p) / int(value.q)
        except OverflowError:
            pass
    known = mathfmt.known_value(value)  # see mathfmt.remember_value
    if known is not None:
        return float(known)
    if isinstance(value, sp.Float) and value._mpf_[1]:
        return _float_of_float(value._mpf_)
    evaluated = mathfmt.evalf_rounded(value, _PREC_30)  # a sum of logs: see there
    if evaluated is not None:
        return _float_of_float(evaluated)
    return float(sp.N(value, 30))


_PREC_30 = mpmath.libmp.dps_to_prec(30)


def _float_of_float(mpf: tuple[int, int, int, int]) -> float:
    """``float(sp.N(Float, 30))`` of a finite non-zero Float, as SymPy works it out: rounded to
    30 digits' bits (evalf), then to a double's 53 (Number.__float__)."""
    return mpmath.libmp.to_float(_sympy_mpf_norm(_sympy_mpf_norm(mpf, _PREC_30), 53))


def exact_text(value: Any) -> str:
    """``str(value)``: SymPy's text of an exact value, written directly for integers and
    rationals (most values), where SymPy's printer is slow."""
    if isinstance(value, sp.Rational):
        return str(value.p) if value.q == 1 else f"{value.p}/{value.q}"
    if isinstance(value, sp.Basic):
        with mathfmt.fast_ordering():
            return _STR.doprint(value)
    return str(value)


class _MemoStrPrinter(StrPrinter):
    """The printer behind ``str()`` of a SymPy value, remembering the text of sub-expressions:
    closed forms share them (σ(z) of a hidden unit reappears in every later value, grid points
    recur from student to student; an answer is often part of the next), and ordering the terms
    of each is the printer's cost. The text of a sub-expression is a function of it alone, at
    every level but for Floats: a Float prints stripped below the top level (its precision is
    part of its hash). So a value printed at the top level is remembered only when no Float is
    in it, and a remembered text holding one is not given for a value printed at the top."""

    MAX = 1 << 16

    def __init__(self) -> None:
        super().__init__({"order": None})  # the settings str() uses
        self._memo: dict[sp.Basic, tuple[str, bool]] = {}  # text, and whether a Float is in it
        self._floats = 0  # Floats printed (or remembered texts holding one given) so far

    def _as_ordered_terms(self, expr: Any, order: Any = None) -> list[Any]:
        order = order or self.order
        if order in ("old", "none"):
            return super()._as_ordered_terms(expr, order=order)
        return mathfmt.positive_first(mathfmt.ordered_terms(expr, order))

    def _print_Float(self, expr: sp.Float) -> str:  # noqa: N802 - SymPy's naming
        self._floats += 1
        return super()._print_Float(expr)

    def _print(self, expr: Any, **kwargs: Any) -> str:
        if kwargs or not isinstance(expr, sp.Basic):
            return super()._print(expr, **kwargs)
        top = self._print_level < 1
        known = self._memo.get(expr)
        if known is not None and not (top and known[1]):
            self._floats += known[1]
            return known[0]
        before = self._floats
        text = super()._print(expr)
        floats = self._floats != before
        if not (top and floats):
            if len(self._memo) >= self.MAX:
                self._memo.clear()
            self._memo[expr] = (text, floats)
        return text


_STR = _MemoStrPrinter()


@dataclass
class Answer:
    """Base of the answer kinds: a key, a TeX label and the exact value."""

    key: str
    label: str  # TeX, e.g. r"\frac{\partial L}{\partial w^{[2]}}"
    value: Any
    tolerance: dict[str, Any] | None = field(default=None, kw_only=True)  # overrides the rule
    part: int | None = field(default=None, kw_only=True)  # the part (a)=1, (b)=2, ... it answers
    # The precision the exercise's text asks for this answer, when not the sheet's rule.
    rounding: Rounding | None = field(default=None, kw_only=True)

    kind: ClassVar[str] = ""
    kinds: ClassVar[dict[str, type["Answer"]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            if cls.kind in Answer.kinds:
                raise TypeError(f"two answer kinds are named {cls.kind!r}")
            Answer.kinds[cls.kind] = cls

    # -- the key ----------------------------------------------------------------------------
    def entry(self, digits: int, rule: Rule | None) -> dict[str, Any]:
        """This answer's entry in key.json (JSON values only)."""
        rule = rule or Rule()
        asked = self.asked(digits, rule.rounding)
        entry = {"key": self.key, "label": self.label, "kind": self.kind,
                 **self.payload(asked.digits, asked.mode),
                 "tolerance": self.tolerance or self.default_tolerance(rule, asked)}
        if self.part is not None:
            entry["part"] = self.part
        return entry

    def asked(self, digits: int, mode: str | None = None) -> Rounding:
        """The precision this answer is asked to: its own, else the sheet's."""
        if self.rounding is not None:
            return Rounding(self.rounding.mode, self.rounding.digits or digits)
        return Rounding(mathfmt.current_mode() if mode is None else mode, digits)

    def payload(self, digits: int, mode: str | None = None) -> dict[str, Any]:
        raise NotImplementedError

    def default_tolerance(self, rule: Rule, asked: Rounding) -> dict[str, Any]:
        return {"kind": "exact"}

    def shown(self, digits: int) -> str:
        """The value as one line of plain text (CSV cells, reports)."""
        return str(self.value)

    def shown_from(self, entry: dict[str, Any]) -> str:
        """``shown(digits)`` read off this answer's key entry (made with those digits, in the
        current rounding mode), where it is already written."""
        return entry["shown"]

    def floats(self) -> Any:
        """``to_float(self.value)``, worked out once per value: the teaching rules, the
        cross-check and the key read it (callers must not change it, nor the value in place)."""
        known = self.__dict__.get("_floats")
        if known is None or known[0] is not self.value:  # a value replaced is worked out again
            known = self.__dict__["_floats"] = (self.value, to_float(self.value))
        return known[1]

    def __getstate__(self) -> dict[str, Any]:
        # Worked out again where it is needed, not sent between processes.
        state = dict(self.__dict__)
        state.pop("_floats", None)
        state.pop("_rows", None)
        return state

    # -- the cross-check --------------------------------------------------------------------
    def agrees(self, independent: Any) -> bool:
        return self.value == independent

    # -- grading ----------------------------------------------------------------------------
    @classmethod
    def grade(cls, entry: dict[str, Any], response: str) -> float | None:
        """Credit in [0, 1] for a response (text as typed) against a key entry; None when a
        person must read it."""
        raise NotImplementedError


def kind_of(entry_or_kind: dict[str, Any] | str) -> type[Answer]:
    name = entry_or_kind if isinstance(entry_or_kind, str) else entry_or_kind["kind"]
    try:
        return Answer.kinds[name]
    except KeyError:
        raise ValueError(f"unknown answer kind {name!r}") from None


def grade_entry(entry: dict[str, Any], response: str) -> float | None:
    return kind_of(entry).grade(entry, response)


# -- numbers ------------------------------------------------------------------------------------

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_FRACTION = re.compile(r"^[+-]?\d+\s*/\s*\d+$")


def parse_number(text: str) -> float:
    """A typed number: decimals, scientific notation, a fraction ``-9/10``, a decimal comma,
    a Unicode minus. ValueError for anything else."""
    t = str(text).strip().replace("\u2212", "-").replace(" ", "")
    if "," in t and "." not in t and t.count(",") == 1:
        t = t.replace(",", ".")
    if _NUMBER.match(t):
        return float(t)
    if _FRACTION.match(t):
        num, den = t.split("/")
        if int(den) == 0:
            raise ValueError(f"not a number: {text!r}")
        return float(Fraction(int(num), int(den)))
    raise ValueError(f"not a number: {text!r}")


def margin(tolerance: dict[str, Any], expected: float) -> float:
    """The tolerance around ``expected`` as one absolute margin (0: exact). Kinds:

    - ``decimals`` (``digits``): one unit of the last asked decimal, 10^-digits. The value
      rounded as asked lies within half a unit; a value two units off in that digit lies 1.5
      units away or more.
    - ``significant`` (``digits``): one unit of the digits-th significant digit of the exact
      value, entry by entry (0 for an exact 0).
    - ``either`` (``relative``, ``absolute``, a spec's explicit tolerance): max(absolute,
      relative·|x|), entry by entry.
    - ``absolute`` (``value``); ``relative`` (``value``, relative to |x|): as in keys of earlier
      versions, still read.
    - ``exact``.
    """
    kind = tolerance.get("kind", "exact")
    if kind == "decimals":
        return 10.0 ** -int(tolerance["digits"])
    if kind == "significant":
        return _unit(expected, int(tolerance["digits"]))
    if kind == "either":
        return max(float(tolerance["absolute"]), float(tolerance["relative"]) * abs(expected))
    if kind == "absolute":
        return float(tolerance["value"])
    if kind == "relative":
        return float(tolerance["value"]) * abs(expected)
    if kind == "exact":
        return 0.0
    raise ValueError(f"a tolerance of unknown kind {kind!r}")


def _unit(expected: float, digits: int) -> float:
    """One unit of the digits-th significant digit of ``expected`` (read from its shortest
    decimal, so a power of ten is not taken for the number below it)."""
    if expected == 0 or not math.isfinite(expected):
        return 0.0
    from decimal import Decimal

    return 10.0 ** (Decimal(repr(abs(expected))).adjusted() - digits + 1)


def within(value: float, expected: float, tolerance: dict[str, Any]) -> bool:
    if tolerance.get("kind", "exact") == "exact":
        return value == expected
    # 1e-9 of the margin: a value exactly one unit away is inside, whatever the binary rounding.
    allowed = margin(tolerance, expected)
    return abs(value - expected) <= allowed * (1 + 1e-9) + 1e-15


def rounding_tolerance(asked: Rounding, values: Sequence[Any] = ()) -> dict[str, Any]:
    """The tolerance of a number asked to ``asked`` (see :func:`margin`). Values that print in
    scientific notation under decimals (not exact, 10^12 and beyond) are asked, and graded, in
    significant digits."""
    if asked.mode == mathfmt.DECIMALS and values and all(
            not mathfmt.is_exact_decimal(v, asked.digits) and abs(to_float(v)) >= 1e12 for v in values):
        return {"kind": mathfmt.SIGNIFICANT, "digits": asked.digits}
    return {"kind": asked.mode, "digits": asked.digits}


def number_tolerance(rule: Rule, asked: Rounding, own: bool = False, values: Sequence[Any] = ()) -> dict[str, Any]:
    """An asked number's tolerance: the spec's explicit tolerance when it states one (unless the
    answer states its own precision), else the one its rounding implies."""
    if rule.explicit and not own:
        return {"kind": "either", "relative": rule.relative, "absolute": rule.absolute}
    return rounding_tolerance(asked, values)


def _allclose(exact: Any, independent: Any, floats: Any = None) -> bool:
    """``exact`` agrees with ``independent`` (``floats``: to_float(exact), if the caller has it)."""
    floats = to_float(exact) if floats is None else floats
    if (isinstance(exact, sp.Basic) and isinstance(independent, (float, int, np.floating, np.integer))
            and not isinstance(exact, sp.MatrixBase)):
        # One number: np.isclose's test, |a - b| <= atol + rtol |b| for finite b, else a == b.
        a, b = float(floats), float(independent)
        return (abs(a - b) <= CHECK_ATOL + CHECK_RTOL * abs(b) and math.isfinite(b)) or a == b
    if (isinstance(exact, sp.MatrixBase) and isinstance(independent, np.ndarray)
            and independent.dtype == np.float64 and exact.rows and exact.cols):
        return _matrix_close(exact, independent, floats)
    a = np.asarray(floats, dtype=float)
    try:
        b = np.asarray(independent, dtype=float)
    except (TypeError, ValueError):
        return False
    if a.size != b.size:
        return False
    if b.ndim == a.ndim and b.shape != a.shape:  # a transposed matrix is a different answer
        return False
    return bool(np.allclose(a, b.reshape(a.shape), rtol=CHECK_RTOL, atol=CHECK_ATOL))


def _matrix_close(exact: sp.MatrixBase, independent: np.ndarray, floats: list[list[float]]) -> bool:
    """The test below of a matrix against a float array, entry by entry in Python: np.allclose
    costs more than the comparisons on a few entries. The same IEEE operations in the same
    order as np.isclose: |a - b| <= atol + rtol |b| for finite b, else a == b."""
    if independent.size != exact.rows * exact.cols:
        return False
    if independent.ndim == 2 and independent.shape != exact.shape:  # a transposed matrix
        return False
    a = [x for row in floats for x in row]
    b = independent.ravel().tolist()
    return all((abs(x - y) <= CHECK_ATOL + CHECK_RTOL * abs(y) and math.isfinite(y)) or x == y
               for x, y in zip(a, b))


@dataclass
class NumberAnswer(Answer):
    """One real number, exact (SymPy)."""

    kind: ClassVar[str] = "number"

    def payload(self, digits: int, mode: str | None = None) -> dict[str, Any]:
        return {"exact": exact_text(self.value), "float": self.floats(),
                "shown": self.text(digits, mode, tex=False)}

    def default_tolerance(self, rule: Rule, asked: Rounding) -> dict[str, Any]:
        return number_tolerance(rule, asked, own=self.rounding is not None, values=[self.value])

    def shown(self, digits: int) -> str:
        return self.text(digits, tex=False)

    def text(self, digits: int, mode: str | None = None, tex: bool = True) -> str:
        """The value as asked (TeX, or plain text for keys)."""
        asked = self.asked(digits, mode)
        text = mathfmt.num(self.value, asked.digits, asked.mode)
        return text if tex else mathfmt.plain(text)

    def agrees(self, independent: Any) -> bool:
        return _allclose(self.value, independent, self.floats())

    @classmethod
    def grade(cls, entry: dict[str, Any], response: str) -> float | None:
        return 1.0 if within(parse_number(response), entry["float"], entry["tolerance"]) else 0.0


@dataclass
class MatrixAnswer(Answer):
    """A vector or matrix (a SymPy Matrix); graded entry by entry."""

    kind: ClassVar[str] = "matrix"

    def payload(self, digits: int, mode: str | None = None) -> dict[str, Any]:
        rows = self.value.tolist()
        asked = self.asked(digits, mode)
        return {"exact": [[exact_text(v) for v in row] for row in rows], "float": self.floats(),
                "shown": [[mathfmt.rounded(v, asked.digits, asked.mode) for v in row] for row in rows]}

    def default_tolerance(self, rule: Rule, asked: Rounding) -> dict[str, Any]:
        # One rule for every entry, applied entry by entry (margin() of each entry's value).
        return number_tolerance(rule, asked, own=self.rounding is not None, values=list(self.value))

    def shown(self, digits: int) -> str:
        asked = self.asked(digits)
        return "[" + "; ".join(", ".join(mathfmt.rounded(v, asked.digits, asked.mode) for v in row)
                               for row in self.rows()) + "]"

    def shown_from(self, entry: dict[str, Any]) -> str:
        return "[" + "; ".join(", ".join(row) for row in entry["shown"]) + "]"

    def text(self, digits: int, mode: str | None = None, env: str = "bmatrix") -> str:
        """The matrix as asked, as TeX (instructor keys)."""
        asked = self.asked(digits, mode)
        return mathfmt.matrix(self.rows(), asked.digits, env=env, mode=asked.mode)

    def rows(self) -> list[list[Any]]:
        """``self.value.tolist()``, worked out once per value (the instructor key prints each
        matrix in every format; SymPy converts its entries anew on every call)."""
        known = self.__dict__.get("_rows")
        if known is None or known[0] is not self.value:
            known = self.__dict__["_rows"] = (self.value, self.value.tolist())
        return known[1]

    def agrees(self, independent: Any) -> bool:
        return _allclose(self.value, independent, self.floats())

    @staticmethod
    def parse(response: str) -> list[float]:
        """Entries row by row: separated by ';', ',' or spaces, optional brackets."""
        text = str(response).strip().strip("[]()")
        parts = [p for p in re.split(r"[;\s]+|,(?=\s|-|\d|\.)", text.replace("],[", ";")) if p.strip("[](), ")]
        return [parse_number(p.strip("[](), ")) for p in parts]

    @classmethod
    def grade(cls, entry: dict[str, Any], response: str) -> float | None:
        expected = [v for row in entry["float"] for v in row]
        given = cls.parse(response)
        if len(given) != len(expected):
            return 0.0
        tol = entry["tolerance"]
        return sum(within(g, e, tol) for g, e in zip(given, expected)) / len(expected)


@dataclass
class IntegerAnswer(Answer):
    """An integer (a count, a size): exact."""

    kind: ClassVar[str] = "integer"

    def payload(self, digits: int, mode: str | None = None) -> dict[str, Any]:
        n = int(self.value)
        return {"exact": str(n), "float": float(n), "shown": str(n)}

    def shown(self, digits: int) -> str:
        return str(int(self.value))

    def agrees(self, independent: Any) -> bool:
        try:
            return int(self.value) == int(independent) and float(independent) == int(independent)
        except (TypeError, ValueError, OverflowError):
            return False

    @classmethod
    def grade(cls, entry: dict[str, Any], response: str) -> float | None:
        value = parse_number(str(response).replace("_", "").replace("\u2009", ""))
        return 1.0 if value == float(entry["exact"]) and int(value) == int(entry["exact"]) else 0.0


@dataclass
class ChoiceAnswer(Answer):
    """One of several options. ``options`` are TeX texts in printed order; ``correct`` is the
    0-based index of the right one; ``value`` is its letter."""

    options: tuple[str, ...] = ()
    correct: int = 0
    value: Any = None

    kind: ClassVar[str] = "choice"

    def __post_init__(self) -> None:
        self.options = tuple(self.options)
        if not 0 <= self.correct < len(self.options):
            raise ValueError(f"choice {self.key!r}: correct index {self.correct} outside the options")
        self.value = LETTERS[self.correct]

    def payload(self, digits: int, mode: str | None = None) -> dict[str, Any]:
        return {"exact": self.value, "shown": self.value, "correct_index": self.correct,
                "options": [{"letter": LETTERS[i], "text": t} for i, t in enumerate(self.options)]}

    def agrees(self, independent: Any) -> bool:
        return independent in (self.value, self.correct, self.options[self.correct])

    @classmethod
    def grade(cls, entry: dict[str, Any], response: str) -> float | None:
        return 1.0 if str(response).strip().strip("().").upper() == entry["exact"] else 0.0


@dataclass
class MultiChoiceAnswer(Answer):
    """Every option that applies. ``correct`` holds the 0-based indices; ``value`` the letters."""

    options: tuple[str, ...] = ()
    correct: tuple[int, ...] = ()
    value: Any = None

    kind: ClassVar[str] = "multi"

    def __post_init__(self) -> None:
        self.options = tuple(self.options)
        self.correct = tuple(sorted(self.correct))
        if any(not 0 <= i < len(self.options) for i in self.correct):
            raise ValueError(f"choice {self.key!r}: a correct index lies outside the options")
        self.value = [LETTERS[i] for i in self.correct]

    def payload(self, digits: int, mode: str | None = None) -> dict[str, Any]:
        return {"exact": list(self.value), "shown": ", ".join(self.value) or "none",
                "correct_index": list(self.correct),
                "options": [{"letter": LETTERS[i], "text": t} for i, t in enumerate(self.options)]}

    def shown(self, digits: int) -> str:
        return ", ".join(self.value) or "none"

    def agrees(self, independent: Any) -> bool:
        return sorted(independent) in (sorted(self.value), sorted(self.correct))

    @classmethod
    def grade(cls, entry: dict[str, Any], response: str) -> float | None:
        """All-or-nothing per option: credit = options classified right / options."""
        chosen = {c for c in re.split(r"[\s,;]+", str(response).upper()) if c}
        n = len(entry["options"])
        right = set(entry["exact"])
        return sum((LETTERS[i] in chosen) == (LETTERS[i] in right) for i in range(n)) / n


@dataclass
class BooleanAnswer(Answer):
    """True or false."""

    kind: ClassVar[str] = "boolean"

    def __post_init__(self) -> None:
        if not isinstance(self.value, (bool, np.bool_)):
            raise TypeError(f"boolean answer {self.key!r} holds {self.value!r}")
        self.value = bool(self.value)

    def payload(self, digits: int, mode: str | None = None) -> dict[str, Any]:
        return {"exact": self.value, "shown": "true" if self.value else "false"}

    def shown(self, digits: int) -> str:
        return "true" if self.value else "false"

    def agrees(self, independent: Any) -> bool:
        return isinstance(independent, (bool, np.bool_)) and bool(independent) == self.value

    @classmethod
    def grade(cls, entry: dict[str, Any], response: str) -> float | None:
        text = str(response).strip().lower()
        if text in ("true", "t", "yes", "y", "1", "wahr", "ja"):
            return 1.0 if entry["exact"] else 0.0
        if text in ("false", "f", "no", "n", "0", "falsch", "nein"):
            return 0.0 if entry["exact"] else 1.0
        raise ValueError(f"not true/false: {response!r}")


@dataclass
class TextAnswer(Answer):
    """A model answer in words (or a formula as TeX): a person grades it."""

    kind: ClassVar[str] = "text"

    def payload(self, digits: int, mode: str | None = None) -> dict[str, Any]:
        return {"exact": str(self.value), "shown": str(self.value)}

    @classmethod
    def grade(cls, entry: dict[str, Any], response: str) -> float | None:
        return None


@dataclass
class ExpressionAnswer(TextAnswer):
    """A symbolic result (TeX); shown as the model answer, graded by a person."""

    kind: ClassVar[str] = "expression"


def make_answer(key: str, label: str, value: Any, kind: str = "number",
                tolerance: dict[str, Any] | None = None) -> Answer:
    """The answer of a value whose kind is decided at run time (a matrix or one entry of it)."""
    if kind == "number" and isinstance(value, sp.MatrixBase):
        kind = "matrix"
    cls = kind_of(kind)
    if cls in (ChoiceAnswer, MultiChoiceAnswer):
        raise TypeError("choices need their options: build ChoiceAnswer/MultiChoiceAnswer directly")
    return cls(key, label, value, tolerance=tolerance)
