"""A plain cross-correlation written for the tests of the convolution families (convolution,
conv_backprop), from the givens as the student sees them. It shares nothing with
worksheetgen.convolutions: no size formula (windows are enumerated while the dilated window fits)
and no padded copy (an index outside the input reads 0)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Callable, Sequence

Rows = list[list[Any]]


def channels(mats: Sequence[Any]) -> list[Rows]:
    """SymPy matrices (one per channel) as lists of rows."""
    return [m.tolist() for m in mats]


def correlate(X: Sequence[Rows], K: Sequence[Rows], b: Any, s: int, p: int, d: int = 1,
              number: Callable[[Any], Any] = Fraction) -> Rows:
    """Y[i][j] = b + sum_c sum_{u,v} K[c][u][v] * Xpad[c][s i + d u][s j + d v], every value
    first made a ``number`` (Fraction: exact; float: for finite differences). X: channels of
    rows; K: channels of k × k rows."""
    C, H, W, k = len(X), len(X[0]), len(X[0][0]), len(K[0])
    zero = number(0)

    def at(c: int, r: int, q: int) -> Any:  # the zero-padded input
        r, q = r - p, q - p
        return number(X[c][r][q]) if 0 <= r < H and 0 <= q < W else zero

    rows = []
    top = 0
    while top + d * (k - 1) <= H + 2 * p - 1:
        row, left = [], 0
        while left + d * (k - 1) <= W + 2 * p - 1:
            row.append(number(b) + sum((number(K[c][u][v]) * at(c, top + d * u, left + d * v)
                                        for c in range(C) for u in range(k) for v in range(k)), zero))
            left += s
        rows.append(row)
        top += s
    return rows
