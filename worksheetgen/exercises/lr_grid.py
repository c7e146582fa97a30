"""Is this a good learning-rate search? (seed 002 Q1.3)

A grid of learning rates between 10^a and 10^b; the student says whether it is a good search
and why. The answer follows from counting values per decade. The rule, stated in the solution:
a learning rate acts by its order of magnitude, so a search over D decades with n values should
give every decade about the same share, n / D; we call the grid good when every decade holds
floor(n / D) or ceil(n / D) values (equivalently: the counts differ by at most one). Drawn grids
are either stratified on a log scale (one draw per 1/n of the exponent range: good) or uniform on
the linear scale (bad, as in the seed); a draw whose counts contradict the way it was drawn is
redrawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import sympy as sp

from worksheetgen.answers import BooleanAnswer, IntegerAnswer
from worksheetgen.errors import CheckError, WorksheetError
from worksheetgen.family import Constraint, Family, Record, Solved
from worksheetgen.mathfmt import num
from worksheetgen.texfit import DISPLAY_WIDTH, math_width
from worksheetgen.params import Bool, Int, ListOf, Number, Param

LOW_RANGE = (-6, 0)  # low_exponent
HIGH_RANGE = (-5, 1)  # high_exponent


def round_sig(value: float, digits: int = 2) -> sp.Rational:
    """A positive float rounded to ``digits`` significant digits, as an exact rational."""
    return sp.Rational(f"{value:.{digits - 1}e}")


def floor_log10(v: sp.Rational) -> int:
    """floor(log10 v) of a positive rational, exactly: from the digit counts of p and q
    (p/q lies in (10^(dp-dq-1), 10^(dp-dq+1)), so one comparison settles it)."""
    v = sp.Rational(v)
    if v <= 0:
        raise ValueError(f"floor_log10 of a non-positive number {v}")
    k = len(str(v.p)) - len(str(v.q))
    return k - 1 if sp.Rational(10) ** k > v else k


def ceil_log10(v: sp.Rational) -> int:
    k = floor_log10(v)
    return k if sp.Rational(10) ** k == v else k + 1


def decade_of(v: sp.Rational, low: int, high: int) -> int:
    """The k with v in [10^k, 10^(k+1)), k = low .. high - 1; 10^high belongs to the last."""
    return min(max(floor_log10(v), low), high - 1)


def decade_counts(values: list[sp.Rational], low: int, high: int) -> list[int]:
    """How many values fall in [10^k, 10^(k+1)) for k = low .. high - 1 (10^high in the last)."""
    counts = [0] * (high - low)
    for v in values:
        counts[decade_of(v, low, high) - low] += 1
    return counts


def is_good(counts: list[int], n: int) -> bool:
    d = len(counts)
    return all(n // d <= c <= -(-n // d) for c in counts)


def on_inner_boundary(values: list[sp.Rational], low: int, high: int) -> bool:
    """A value exactly at 10^k strictly inside the range: the rule puts it in the upper decade,
    but a student cannot tell from the problem which side the sheet counts it on."""
    bounds = {sp.Rational(10) ** k for k in range(low + 1, high)}
    return any(v in bounds for v in values)


def value_tex(v: sp.Rational) -> str:
    """A rate as printed: its exact decimal from 0.001 on (the seed writes 0.01, 0.16), a
    mantissa times a power of ten below that (0.000034 → 3.4 × 10^{-5}). Never rounded to the
    sheet's decimal places, which would print small rates as 0.0000."""
    v = sp.Rational(v)
    if v >= sp.Rational(1, 1000):
        return num(v, 12)
    exponent = floor_log10(v)
    mantissa = num(v / sp.Rational(10) ** exponent, 12)
    return f"10^{{{exponent}}}" if mantissa == "1" else f"{mantissa} \\times 10^{{{exponent}}}"


CELL_WIDTH = 230.0  # pt: the table's values column, beside the decade and count columns


def packed(texts: list[str], width: float, lead: str = "") -> list[list[str]]:
    """The texts in order, in groups whose comma-separated list fits ``width`` pt (after
    ``lead`` on the first line); one text per group at least."""
    groups: list[list[str]] = [[]]
    for text in texts:
        trial = groups[-1] + [text]
        prefix = lead if len(groups) == 1 else ""
        if groups[-1] and math_width(prefix + ",\\ ".join(trial) + ",") > width:
            groups.append([text])
        else:
            groups[-1] = trial
    return groups


def decade_tex(k: int) -> str:
    return f"10^{{{k}}}"


@dataclass(frozen=True)
class Decade:
    k: int  # the decade [10^k, 10^(k+1))
    count: int
    values: tuple[sp.Rational, ...]
    closed: bool  # the last decade includes 10^high

    @property
    def tex(self) -> str:
        return f"[{decade_tex(self.k)}, {decade_tex(self.k + 1)}{']' if self.closed else ')'}"


@dataclass(frozen=True)
class LrGridGiven(Record):
    low: int  # a: the search starts at 10^a
    high: int  # b: it ends at 10^b
    values: list[sp.Rational]  # sorted
    log_uniform: bool | None  # how the grid was drawn; None when the spec gives the values


@dataclass(frozen=True)
class LrGridData(Record):
    rows: list[list[str]]  # the table: decade, its values, count
    crowded: Decade
    sparse: Decade
    crowded_top: bool  # the most crowded decade is the top one (a linear grid's signature)
    counts_text: str
    good: bool
    n: int
    span: int
    fair_low: int
    fair_high: int
    exact_share: sp.Rational
    lo_value: sp.Rational
    hi_value: sp.Rational
    values_tex: list[str]  # value_tex() of each value, in order
    set_lines: list[str]  # the displayed set α ∈ {…}, cut into lines that fit a display
    lo_tex: str
    hi_tex: str


def _widest_span(low: int | None, high: int | None) -> int:
    """The most decades a drawn grid can span with these exponents (see sample())."""
    if low is not None and high is not None:
        return high - low
    if low is not None:
        return min(3, HIGH_RANGE[1] - low)
    if high is not None:
        return min(3, high - LOW_RANGE[0])
    return 3


def _count_key(k: int) -> str:
    return f"count_{k}".replace("-", "m")


class LrGrid(Family):
    name = "lr_grid"
    title = "Searching for a learning rate"
    summary = ("A grid of learning rates between 10^a and 10^b that is or is not spread evenly "
               "over the decades; is it a good search? (counts per decade)")
    params = (
        Param("low_exponent", Int(*LOW_RANGE), None, "a: the search starts at 10^a"),
        Param("high_exponent", Int(*HIGH_RANGE), None, "b: the search ends at 10^b"),
        Param("count", Int(2, 12), 5, "number of rates in the grid"),
        Param("log_uniform", Bool(), None,
              "true: drawn at random on a log scale (a good grid); false: uniform on the linear "
              "scale (a bad one; needs a range of at least two decades)"),
        Param("values", ListOf(Number(positive=True), min_length=2, max_length=12), None,
              "the grid itself (then count and log_uniform are not used)"),
    )
    Given = LrGridGiven
    Data = LrGridData
    # An empty decade is what a bad grid shows (the seed's linear grid leaves [0.01, 0.1) almost
    # empty): a count of 0 is an answer worth asking.
    zero_ok = frozenset({"count_*"})
    constraints = (
        # Rounding to two significant digits can merge two draws.
        Constraint("distinct values", ("values",),
                   lambda g, s: len(set(g.values)) == len(g.values)),
        # The verdict must be the lesson the draw was made for; rounding (or a lucky linear
        # draw) can move a value across a decade boundary.
        Constraint("a log-scale grid that covers the decades evenly, a linear one that does not",
                   ("values", "log_uniform"),
                   lambda g, s: g.log_uniform is None or s.data.good == g.log_uniform),
        Constraint("no value exactly on a decade boundary inside the range", ("values",),
                   lambda g, s: not on_inner_boundary(g.values, g.low, g.high)),
    )

    def quality(self, given: LrGridGiven, solved: Solved) -> dict[str, bool]:
        return {
            "value on an inner decade boundary": on_inner_boundary(given.values, given.low, given.high),
            "verdict not the one the grid was drawn for":
                given.log_uniform is not None and solved.data.good != given.log_uniform,
            "repeated value": len(set(given.values)) != len(given.values),
        }

    def validate(self, options: dict[str, Any]) -> None:
        low, high = options["low_exponent"], options["high_exponent"]
        if low is not None and high is not None and high <= low:
            raise WorksheetError("the grid must span at least one decade", field="high_exponent",
                                 allowed=f"an integer above low_exponent = {low}")
        values = options["values"]
        if values is not None:
            if len(set(values)) != len(values):
                raise WorksheetError("the grid repeats a value", field="values",
                                     allowed="distinct positive numbers")
            lo = sp.Rational(10) ** low if low is not None else None
            hi = sp.Rational(10) ** high if high is not None else None
            if (lo is not None and min(values) < lo) or (hi is not None and max(values) > hi):
                raise WorksheetError("a value lies outside [10^a, 10^b]", field="values",
                                     allowed="values between 10^low_exponent and 10^high_exponent")
            return
        span = (high - low) if low is not None and high is not None else 2
        if options["count"] < span:
            raise WorksheetError(
                f"{options['count']} values cannot cover {span} decades", field="count",
                allowed=f"at least {span} (one value per decade)")
        if options["log_uniform"] is False and _widest_span(low, high) < 2:
            raise WorksheetError(
                "a grid inside one decade is always spread evenly, so it cannot be a bad one",
                field="log_uniform",
                allowed="true, or exponents at least two decades apart")

    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> LrGridGiven:
        values = options["values"]
        low, high = options["low_exponent"], options["high_exponent"]
        if values is not None:
            values = sorted(values)
            if low is None:
                low = floor_log10(values[0])
            if high is None:
                high = max(low + 1, ceil_log10(values[-1]))
            return LrGridGiven(low, high, values, None)
        n = options["count"]
        if low is None or high is None:
            # Two or three decades (never more than n), kept inside the exponents' ranges.
            span = int(rng.integers(2, min(3, n) + 1))
            if low is None and high is None:
                low = int(rng.integers(-4, -span + 1))  # so 10^high <= 1
                high = low + span
            elif low is None:
                low = max(high - span, LOW_RANGE[0])
            else:
                high = max(min(low + span, HIGH_RANGE[1]), low + 1)
        log_uniform = options["log_uniform"]
        if log_uniform is None:
            log_uniform = bool(rng.integers(0, 2))
        if log_uniform:
            edges = np.linspace(low, high, n + 1)
            draws = [10 ** rng.uniform(edges[k], edges[k + 1]) for k in range(n)]
        else:
            draws = list(rng.uniform(10.0 ** low, 10.0 ** high, size=n))
        values = sorted(round_sig(v) for v in draws)
        return LrGridGiven(low, high, values, log_uniform)

    def solve(self, given: LrGridGiven) -> Solved:
        low, high, values = given.low, given.high, given.values
        lo_value, hi_value = sp.Rational(10) ** low, sp.Rational(10) ** high
        if not (lo_value <= values[0] and values[-1] <= hi_value):
            # validate() and sample() keep every value inside; rounding up stops at 10^high.
            raise CheckError(f"lr_grid: values {[str(v) for v in values]} leave "
                             f"[10^{low}, 10^{high}]")
        counts = decade_counts(values, low, high)
        n, span = len(values), high - low
        good = is_good(counts, n)
        decades = [Decade(k, counts[k - low], tuple(v for v in values if decade_of(v, low, high) == k),
                          k == high - 1)
                   for k in range(low, high)]
        # A decade holding many rates written as 3.4 × 10^{-5} continues on rows of its own
        # (empty decade and count cells) instead of widening the table beyond the page.
        rows = []
        for d in decades:
            groups = packed([value_tex(v) for v in d.values], CELL_WIDTH) if d.values else [[]]
            for k, group in enumerate(groups):
                cell = "$" + (",\\ ".join(group) or "\\text{none}") + ("," if k < len(groups) - 1 else "") + "$"
                rows.append([f"${d.tex}$" if k == 0 else "", cell, str(d.count) if k == 0 else ""])
        texts = [value_tex(v) for v in values]
        lead = "\\alpha \\in \\{"
        groups = packed(texts, DISPLAY_WIDTH - 20, lead)
        if len(groups) == 1:
            set_lines = [lead + ",\\ ".join(texts) + "\\}"]
        else:
            set_lines = ["\\alpha &\\in \\bigl\\{" + ",\\ ".join(groups[0]) + ","]
            set_lines += ["&\\quad " + ",\\ ".join(g) + ("," if k < len(groups) - 2 else "\\bigr\\}")
                          for k, g in enumerate(groups[1:])]
        answers = [BooleanAnswer("good", r"\text{good search?}", good)]
        answers += [IntegerAnswer(_count_key(d.k), rf"\#{d.tex}", sp.Integer(d.count)) for d in decades]
        crowded = max(decades, key=lambda d: d.count)
        sparse = min(decades, key=lambda d: d.count)
        data = LrGridData(
            rows=rows, crowded=crowded, sparse=sparse, crowded_top=crowded.k == high - 1,
            counts_text=", ".join(str(c) for c in counts), good=good, n=n, span=span,
            fair_low=n // span, fair_high=-(-n // span), exact_share=sp.Rational(n, span),
            lo_value=lo_value, hi_value=hi_value, values_tex=texts, set_lines=set_lines,
            # bounds as powers of ten when the rates below 0.001 are written that way
            lo_tex=value_tex(lo_value) if low >= -3 else decade_tex(low),
            hi_tex=value_tex(hi_value) if low >= -3 else decade_tex(high))
        return Solved(answers, data)

    def check(self, given: LrGridGiven) -> dict[str, Any]:
        # Count by the position of the leading digit in the decimal expansion (Decimal's
        # adjusted exponent is floor(log10 v) exactly), and call the grid good when the
        # largest and smallest counts differ by at most one.
        low, high = given.low, given.high
        counts = {k: 0 for k in range(low, high)}
        for v in given.values:
            exponent = (Decimal(int(v.p)) / Decimal(int(v.q))).adjusted()
            counts[min(exponent, high - 1)] += 1
        out: dict[str, Any] = {_count_key(k): c for k, c in counts.items()}
        out["good"] = max(counts.values()) - min(counts.values()) <= 1
        return out
