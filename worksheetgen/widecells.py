"""A long table's head row that sets every column's final width in the first pass.

longtable sets its rows in chunks and learns each column's width as it goes: a page set before
a wider row came along keeps its narrower columns, so it asks for a second pass, which reads
the widths from the .aux. A ``\\kill`` row at the head (measured, not printed) whose cell in
each column is as wide as that column's widest cell gives the first chunk the final widths, and
the first pass is the last (pdf.py checks that every width was indeed reached there, and runs
the second pass if not: a wrong guess costs a pass, never a misaligned table).

Which cell is widest is estimated (texfit), and estimates of text are close, not exact: each
kill cell measures the few widest candidates and is as wide as the widest of them, to the
scaled point (``\\KeyCand`` and ``\\KeyCell``, defined in the instructor key's preamble).
"""

from __future__ import annotations

from typing import Sequence

from worksheetgen import texfit

CANDIDATES = 6  # per column: a name estimated 2 % narrower than the widest still gets in
SCREENED = 40  # the longest texts of a column, of which the estimate picks the candidates


def cell_width(cell: str) -> float:
    """Estimated width of a cell's TeX (text, with ``$…$`` inline math: fractions in text style)."""
    return texfit.text_width(cell.replace("\\frac", "\\tfrac"))


def kill_row(rows: Sequence[Sequence[str]], fixed: Sequence[bool] = ()) -> list[str]:
    """The cells of a ``\\kill`` row as wide, column by column, as the widest of ``rows``.
    A column whose width the table's preamble fixes (``fixed``, e.g. p{6cm}) gets an empty cell."""
    columns = max((len(row) for row in rows), default=0)
    out = []
    for c in range(columns):
        if c < len(fixed) and fixed[c]:
            out.append("")
            continue
        cells = dict.fromkeys(row[c] for row in rows if c < len(row))
        # The longest texts first (a cheap screen: width grows with length), then the estimate.
        longest = sorted(cells, key=len, reverse=True)[:SCREENED]
        widest = sorted(longest, key=cell_width, reverse=True)[:CANDIDATES]
        out.append(widest[0] if len(widest) == 1 else
                   "\\KeyWidest=0pt" + "".join(f"\\KeyCand{{{cell}}}" for cell in widest) + "\\KeyCell")
    return out
