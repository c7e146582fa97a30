"""texfit's running-text length drops commands and markup as the one regex it replaces did
(fuzzed on strings dense in backslashes, letters, stars, braces and environment markup)."""

from __future__ import annotations

import random
import re

from worksheetgen import texfit

_COMMAND = re.compile(r"\\[A-Za-z]+\*?|[{}$^_&\\]")  # the general rule: one scan, left to right


def _general(para: str) -> str:
    return _COMMAND.sub("", texfit._ENVIRONMENT_MARKUP.sub("", para))


def test_markup_is_dropped_as_by_one_scan() -> None:
    rng = random.Random(11)
    pieces = ["\\", "\\\\", "a", "Z", "*", "{", "}", "$", "^", "_", "&", " ", "\n", "1", ",", "[", "]",
              "\\begin{", "\\end{", "align*}", "[t]", "\\frac", "é", "\\{", "\\,"]
    for _ in range(20000):
        para = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 14)))
        assert texfit._without_markup(para) == _general(para), para
