"""How wide a formula or a line of text comes out in the sheets' LaTeX, estimated without TeX.

Templates choose a layout that fits from these estimates (a sum split over lines, matrices one
per display, a shortened running head), so the choice is made once for every format and costs
no TeX run. The estimate follows TeX's math spacing (Computer Modern at 11 pt, display style):
glyph widths by class, thin/medium/thick spaces around operators and relations, scripts at
70 %, fractions as wide as their wider part, matrices column by column. It errs on the wide
side (by a few percent, checked against pdflatex in tests/test_layout.py), so a line it lets
through fits.
"""

from __future__ import annotations

import math
import re
import unicodedata
from functools import lru_cache
from typing import Any, Sequence

PT = 11.0  # the sheets' body size
MU = PT / 18  # one math unit
THIN, MED, THICK = 3 * MU, 4 * MU, 5 * MU

# \linewidth of a display inside a question's parts or a solution's steps (the exam class at
# 11pt, a4paper, margin 2.2cm: 453 pt in a question, 430 in its parts, 425 in solution steps),
# less a margin for what the estimate misses.
DISPLAY_WIDTH = 415.0
TEXT_WIDTH = 472.0
SAFETY = 1.06  # the estimate runs a few percent narrow on tall delimiters; err on the wide side  # \textwidth: the running head and foot

# Roman text (Latin Modern at 10.95 pt, T1), measured with pdflatex.
_ROMAN = {'a': 5.47, 'b': 6.08, 'c': 4.87, 'd': 6.08, 'e': 4.87, 'f': 3.35, 'g': 5.47, 'h': 6.08,
          'i': 3.04, 'j': 3.35, 'k': 5.78, 'l': 3.04, 'm': 9.12, 'n': 6.08, 'o': 5.47, 'p': 6.08,
          'q': 5.78, 'r': 4.29, 's': 4.32, 't': 4.26, 'u': 6.08, 'v': 5.78, 'w': 7.91, 'x': 5.78,
          'y': 5.78, 'z': 4.87, 'A': 8.21, 'B': 7.76, 'C': 7.91, 'D': 8.36, 'E': 7.45, 'F': 7.15,
          'G': 8.59, 'H': 8.21, 'I': 3.95, 'J': 5.63, 'K': 8.52, 'L': 6.84, 'M': 10.04, 'N': 8.21,
          'O': 8.52, 'P': 7.45, 'Q': 8.52, 'R': 8.06, 'S': 6.08, 'T': 7.91, 'U': 8.21, 'V': 8.21,
          'W': 11.25, 'X': 8.21, 'Y': 8.21, 'Z': 6.69, '.': 3.04, ',': 3.04, ':': 3.04, ';': 3.04,
          '(': 4.26, ')': 4.26, '[': 3.04, ']': 3.04, '-': 3.65, '!': 3.04, '?': 5.17, "'": 3.04,
          '/': 5.47, '+': 8.52, '=': 8.52, '*': 5.47, ' ': 3.65, '\u2013': 5.47, '\u2014': 10.95,
          '\u2026': 10.95}
_DIGIT = 5.5
_LETTER = 6.0  # math italic, average
_UPRIGHT = 5.3  # roman text, average of lower case
_CAPITAL = 8.0
_WIDE = {"m": 9.2, "w": 8.0, "M": 10.6, "W": 11.5, "i": 3.8, "j": 4.5, "l": 3.6, "t": 4.0, "f": 5.9}
_BIN = {"+", "-", "*"}
_REL = {"=", "<", ">"}
_PUNCT = {",", ";"}
_OPEN = {"(", "[", "|"}
_CLOSE = {")", "]"}

# Widths of commands, with the class that decides the spacing around them.
_COMMANDS: dict[str, tuple[float, str]] = {
    "cdot": (3.1, "bin"), "times": (8.6, "bin"), "odot": (8.6, "bin"), "pm": (8.6, "bin"),
    "mp": (8.6, "bin"), "circ": (5.5, "bin"), "otimes": (8.6, "bin"), "oplus": (8.6, "bin"),
    "approx": (8.6, "rel"), "le": (8.6, "rel"), "leq": (8.6, "rel"), "ge": (8.6, "rel"),
    "geq": (8.6, "rel"), "neq": (8.6, "rel"), "ne": (8.6, "rel"), "in": (7.3, "rel"),
    "to": (11.0, "rel"), "rightarrow": (11.0, "rel"), "mapsto": (11.0, "rel"),
    "Rightarrow": (11.0, "rel"), "iff": (16.0, "rel"), "sim": (8.6, "rel"), "equiv": (8.6, "rel"),
    "propto": (8.6, "rel"), "coloneqq": (11.0, "rel"),
    "sum": (16.0, "op"), "prod": (14.0, "op"), "int": (8.0, "op"), "max": (16.5, "op"),
    "min": (14.5, "op"), "ln": (9.0, "op"), "log": (13.0, "op"), "exp": (15.0, "op"),
    "tanh": (22.0, "op"), "sin": (12.0, "op"), "cos": (14.0, "op"), "arg": (14.0, "op"),
    "argmax": (40.0, "op"), "lim": (14.0, "op"),
    "quad": (PT, "space"), "qquad": (2 * PT, "space"), ",": (THIN, "space"),
    ":": (MED, "space"), ";": (THICK, "space"), "!": (-THIN, "space"), " ": (3.7, "space"),
    "ldots": (13.5, "inner"), "cdots": (13.5, "inner"), "dots": (13.5, "inner"),
    "vdots": (3.1, "ord"), "ddots": (13.5, "ord"),
    "infty": (11.0, "ord"), "partial": (6.2, "ord"), "nabla": (9.2, "ord"), "top": (8.6, "ord"),
    "prime": (3.0, "ord"), "ell": (4.6, "ord"), "emptyset": (5.5, "ord"), "%": (9.2, "ord"),
    "{": (5.5, "open"), "}": (5.5, "close"), "langle": (4.3, "open"), "rangle": (4.3, "close"),
    "lVert": (5.5, "open"), "rVert": (5.5, "close"), "lvert": (3.1, "open"), "rvert": (3.1, "close"),
    "lfloor": (5.0, "open"), "rfloor": (5.0, "close"), "lceil": (5.0, "open"), "rceil": (5.0, "close"),
    "|": (5.5, "ord"), "_": (5.0, "ord"), "$": (5.5, "ord"), "&": (8.5, "ord"), "#": (9.2, "ord"),
}
_GREEK = {"alpha": 7.1, "beta": 6.2, "gamma": 5.7, "delta": 4.9, "epsilon": 4.5, "varepsilon": 5.1,
          "zeta": 4.9, "eta": 5.4, "theta": 5.2, "iota": 3.6, "kappa": 6.3, "lambda": 6.4, "mu": 6.6,
          "nu": 5.6, "xi": 4.9, "pi": 6.3, "rho": 5.6, "sigma": 6.3, "tau": 4.8, "upsilon": 6.0,
          "phi": 6.3, "varphi": 7.1, "chi": 6.8, "psi": 7.1, "omega": 6.8, "Gamma": 6.8,
          "Delta": 9.2, "Theta": 8.6, "Lambda": 7.6, "Xi": 7.8, "Pi": 8.4, "Sigma": 7.9,
          "Phi": 7.9, "Psi": 8.4, "Omega": 7.9}
# Commands whose argument is drawn as it is (accents, fonts): the argument's width.
_TRANSPARENT = {"hat", "bar", "tilde", "vec", "dot", "ddot", "check", "breve", "widehat", "widetilde",
                "overline", "underline", "mathbf", "boldsymbol", "bm", "mathit", "mathcal",
                "mathbb", "mathsf", "mathrm", "mathnormal", "displaystyle", "textstyle", "mathring"}
_TEXTLIKE = {"text", "textrm", "textbf", "textit", "mbox", "operatorname", "mathrm", "texttt", "textsf"}
_IGNORED = {"left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr",
            "biggl", "biggr", "limits", "nolimits", "nonumber", "notag", "middle", "phantom",
            "strut", "allowbreak", "scriptstyle", "scriptscriptstyle", "mathstrut", "relax",
            "protect", "smash", "vphantom"}
_SPACING = {  # TeX's table of spaces between atom classes (display/text style), in mu
    ("ord", "op"): 3, ("ord", "bin"): 4, ("ord", "rel"): 5, ("ord", "inner"): 3,
    ("op", "ord"): 3, ("op", "op"): 3, ("op", "rel"): 5, ("op", "inner"): 3,
    ("bin", "ord"): 4, ("bin", "op"): 4, ("bin", "open"): 4, ("bin", "inner"): 4,
    ("rel", "ord"): 5, ("rel", "op"): 5, ("rel", "open"): 5, ("rel", "inner"): 5,
    ("close", "op"): 3, ("close", "bin"): 4, ("close", "rel"): 5, ("close", "inner"): 3,
    ("inner", "ord"): 3, ("inner", "op"): 3, ("inner", "bin"): 4, ("inner", "rel"): 5,
    ("inner", "open"): 3, ("inner", "punct"): 3, ("inner", "inner"): 3,
    ("punct", "ord"): 3, ("punct", "op"): 3, ("punct", "rel"): 3, ("punct", "open"): 3,
    ("punct", "close"): 3, ("punct", "punct"): 3, ("punct", "inner"): 3,
}
_ENV = re.compile(r"\\begin\{(\w+\*?)\}")
_MATRIX_ENVS = {"pmatrix": 2 * 7.0, "bmatrix": 2 * 5.0, "vmatrix": 2 * 3.1, "Bmatrix": 2 * 5.5,
                "matrix": 0.0, "smallmatrix": 0.0, "aligned": 0.0, "array": 0.0, "cases": 8.0,
                "gathered": 0.0, "split": 0.0}


class _Reader:
    """Walks a TeX math string: groups, commands, environments."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def done(self) -> bool:
        return self.i >= len(self.s)

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def skip_space(self) -> None:
        while self.i < len(self.s) and self.s[self.i] in " \t\n":
            self.i += 1

    def command(self) -> str:
        """The name after a backslash (at the backslash)."""
        self.i += 1
        start = self.i
        if self.i < len(self.s) and self.s[self.i].isalpha():
            while self.i < len(self.s) and self.s[self.i].isalpha():
                self.i += 1
            return self.s[start:self.i]
        self.i += 1
        return self.s[start:self.i]

    def argument(self) -> str:
        """The next argument: a braced group's inside or one token."""
        self.skip_space()
        if self.peek() == "{":
            depth = 0
            start = self.i
            while self.i < len(self.s):
                c = self.s[self.i]
                if c == "\\":
                    self.i += 2
                    continue
                if c == "{":
                    depth += 1
                elif c == "}":
                    depth -= 1
                    if depth == 0:
                        self.i += 1
                        return self.s[start + 1: self.i - 1]
                self.i += 1
            return self.s[start + 1:]
        if self.peek() == "\\":
            start = self.i
            self.command()
            return self.s[start:self.i]
        c = self.peek()
        self.i += 1
        return c

    def optional(self) -> str:
        self.skip_space()
        if self.peek() != "[":
            return ""
        end = self.s.find("]", self.i)
        end = len(self.s) if end < 0 else end
        text = self.s[self.i + 1: end]
        self.i = end + 1
        return text

    def environment_body(self, name: str) -> str:
        """Up to the matching \\end{name} (nested environments of the same name skipped)."""
        begin, end = f"\\begin{{{name}}}", f"\\end{{{name}}}"
        depth, start = 1, self.i
        while self.i < len(self.s):
            if self.s.startswith(begin, self.i):
                depth += 1
                self.i += len(begin)
            elif self.s.startswith(end, self.i):
                depth -= 1
                if depth == 0:
                    body = self.s[start:self.i]
                    self.i += len(end)
                    return body
                self.i += len(end)
            else:
                self.i += 1
        return self.s[start:]


# What _split_top looks at: environments, row ends, braces, cells; an escaped character is
# skipped (\& is not a cell). A command's letters are never one of them: no token for them.
_SPLIT_TOKENS = re.compile(r"\\(?:begin|end)\{[^}]*\}|\\\\|\\[^A-Za-z\n]|[{}&]")


_NOT_PLAIN_BRACES = ("\\begin", "\\end", "\\{", "\\}", "\\&")


def _split_top(body: str, sep: str) -> list[str]:
    """``body`` cut at ``sep`` (``&`` or ``\\\\``) outside braces and inner environments."""
    if sep not in body:  # most rows and cells: nothing to cut, no need to tokenize
        return [body]
    if sep == "&" and body.count("&") == 1 and not any(t in body for t in _NOT_PLAIN_BRACES):
        # An aligned row ("lhs &= ..."): the one & is at the top level when the braces before
        # it are closed (no environment, escaped brace or \& to tell apart).
        at = body.index("&")
        head = body[:at]
        return [head, body[at + 1:]] if head.count("{") == head.count("}") else [body]
    return _split_tokens(body, sep)


def _split_tokens(body: str, sep: str) -> list[str]:
    """:func:`_split_top` by its tokens (the general case)."""
    parts, depth, env, start = [], 0, 0, 0
    for m in _SPLIT_TOKENS.finditer(body):
        tok = m.group(0)
        if tok == sep:
            if depth == 0 and env == 0:
                parts.append(body[start:m.start()])
                start = m.end()
        elif tok == "{":
            depth += 1
        elif tok == "}":
            depth -= 1
        elif tok.startswith("\\begin{"):
            env += 1
        elif tok.startswith("\\end{"):
            env -= 1
    parts.append(body[start:])
    return parts


def _text_char(c: str) -> float:
    if c in _ROMAN:
        return _ROMAN[c]
    if c.isdigit():
        return 5.47
    base = unicodedata.normalize("NFD", c)[:1]  # an accented letter: its letter
    return _ROMAN.get(base, 8.2 if c.isupper() else 6.0)


def _char(c: str, text: bool) -> tuple[float, str]:
    if text:
        return _text_char(c), "ord"
    if c.isdigit():
        return _DIGIT, "ord"
    if c.isalpha():
        if text:
            return (_CAPITAL - 0.5 if c.isupper() else _WIDE.get(c, _UPRIGHT) * 0.95), "ord"
        return _WIDE.get(c, _CAPITAL if c.isupper() else _LETTER), "ord"
    if c == ".":
        return 3.1, "ord"
    if c in _BIN:
        return 8.6, "bin"
    if c in _REL:
        return 8.6, "rel"
    if c in _PUNCT:
        return 3.1, "punct"
    if c in _OPEN:
        return (3.1 if c != "(" else 4.3), "open"
    if c in _CLOSE:
        return (3.1 if c != ")" else 4.3), "close"
    if c == "/":
        return 5.5, "ord"
    if c == "'":
        return 3.0, "ord"
    if c == "!":
        return 3.1, "close"
    if c == "?":
        return 5.2, "punct"
    if c == ":":
        return 3.1, "rel"
    return 5.5, "ord"


class _Measure:
    """Accumulates atoms with TeX's inter-atom spacing."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self.width = 0.0
        self.last = ""  # class of the previous atom ("" at the start)

    def add(self, width: float, kind: str) -> None:
        if kind == "space":
            self.width += width * self.scale
            return
        if kind == "bin" and self.last in ("", "bin", "op", "rel", "open", "punct"):
            kind = "ord"  # a sign, not an operator (TeX's rule)
        if self.scale == 1.0 or kind in ("punct",):
            gap = _SPACING.get((self.last, kind), 0) if self.last else 0
            if self.scale < 1.0 and kind != "punct":
                gap = 0
            self.width += gap * MU
        self.width += width * self.scale
        self.last = kind


def _matrix_width(body: str, scale: float) -> float:
    rows = [r for r in _split_top(body, "\\\\") if r.strip()]
    cols: list[float] = []
    for row in rows:
        for k, cell in enumerate(_split_top(row, "&")):
            w = _width(cell.strip(), scale)
            if k < len(cols):
                cols[k] = max(cols[k], w)
            else:
                cols.append(w)
    return sum(cols) + 2 * 5.0 * max(len(cols) - 1, 0) * (scale if scale < 1 else 1)


@lru_cache(maxsize=1 << 14)  # groups recur inside different formulas (a matrix, a symbol, a fraction)
def _width(tex: str, scale: float = 1.0, text: bool = False) -> float:
    r = _Reader(tex)
    m = _Measure(scale)
    pending_script = 0.0  # width of a script group waiting for a possible second script
    while not r.done():
        c = r.peek()
        if c in " \t\n~" and not text:
            r.i += 1
            continue
        if c in " \t\n~" and text:
            r.i += 1
            m.add(3.65, "space")
            continue
        if c in "^_":
            r.i += 1
            arg = r.argument()
            w = _width(arg, max(scale * 0.7, 0.5))
            if r.peek() in "^_" and r.peek():
                # a sub- and a superscript stack: the wider counts
                pending_script = max(pending_script, w)
                continue
            w = max(w, pending_script)
            pending_script = 0.0
            m.width += w + 0.5
            continue
        if c == "{":
            w = _width(r.argument(), scale, text)
            m.add(w / scale if scale else w, "ord")
            continue
        if c == "&":
            r.i += 1
            continue
        if c == "\\":
            name = r.command()
            if name == "\\" or name == "newline":
                r.optional()
                continue
            if name == "begin":
                env = r.argument()
                if env == "array":
                    r.argument()
                body = r.environment_body(env)
                if env in ("aligned", "gathered", "split", "align", "align*"):
                    rows = [_width(row, scale) for row in _split_top(body, "\\\\")]
                    m.add(max(rows, default=0.0) / scale, "ord")
                else:
                    w = _matrix_width(body, 0.7 if env == "smallmatrix" else scale)
                    m.add((w + _MATRIX_ENVS.get(env, 8.0) * scale) / scale, "inner" if env != "matrix" else "ord")
                continue
            if name in ("frac", "dfrac", "tfrac", "binom"):
                inner = 1.0 if (name == "dfrac" or (scale == 1.0 and name != "tfrac")) else 0.7
                num = _width(r.argument(), scale * (inner if scale == 1.0 else 0.7))
                den = _width(r.argument(), scale * (inner if scale == 1.0 else 0.7))
                m.add((max(num, den) + 2.4) / scale, "inner" if name == "binom" else "ord")
                continue
            if name == "sqrt":
                r.optional()
                m.add(_width(r.argument(), scale) / scale + 9.2, "ord")
                continue
            if name in _TEXTLIKE:
                arg = r.argument()
                w = _width(arg, scale, text=True) / scale
                m.add(w, "op" if name == "operatorname" else "ord")
                continue
            if name in _TRANSPARENT:
                arg = r.argument()
                factor = 1.1 if name in ("mathbf", "boldsymbol", "bm") else 1.0
                m.add(factor * _width(arg, scale, text) / scale, "ord")
                continue
            if name in ("hspace", "hspace*", "kern", "mkern", "vspace"):
                r.argument()
                continue
            if name in ("textcolor", "color"):
                r.argument()
                continue
            if name in ("underbrace", "overbrace", "boxed", "fbox"):
                m.add(_width(r.argument(), scale) / scale + (6.0 if name in ("boxed", "fbox") else 0), "ord")
                continue
            if name in ("left", "right", "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr", "middle"):
                delim = r.argument()
                if delim != ".":
                    m.add(6.5, "open" if name in ("left", "bigl", "Bigl", "biggl") else "close")
                continue
            if name in _IGNORED:
                continue
            if name in _GREEK:
                m.add(_GREEK[name], "ord")
                continue
            if name in _COMMANDS:
                w, kind = _COMMANDS[name]
                m.add(w, kind)
                continue
            if name in ("neg", "lnot"):
                m.add(6.6, "ord")
                continue
            m.add(8.0, "ord")  # unknown command: a symbol's width
            continue
        r.i += 1
        w, kind = _char(c, text)
        if text:
            kind = "ord" if kind != "space" else kind
            m.width += w * scale
            m.last = "ord"
            continue
        m.add(w, kind)
    if pending_script:
        m.width += pending_script
    return m.width


_DIGITS = re.compile(r"\d")


# math_width by the exact text: templates measure a formula, then the display that holds it
# measures it again (every format lays out the same formulas).
_WIDTHS: dict[str, float] = {}


def math_width(tex: str) -> float:
    """Estimated width in pt of ``tex`` (math, no dollars) in a display of the sheets."""
    width = _WIDTHS.get(tex)
    if width is None:
        # Every digit is as wide as every other: formulas that differ in their digits only (the
        # same step for another student) are measured once.
        width = _math_width(_DIGITS.sub("0", tex))
        if len(_WIDTHS) >= 1 << 14:
            _WIDTHS.clear()
        _WIDTHS[tex] = width
    return width


@lru_cache(maxsize=8192)
def _math_width(tex: str) -> float:
    return SAFETY * _width(tex)


@lru_cache(maxsize=1024)
def text_width(text: str, size: float = PT) -> float:
    """Estimated width in pt of a line of text (TeX text; ``$…$`` pieces as math)."""
    total = 0.0
    for k, piece in enumerate(re.split(r"(?<!\\)\$", text)):
        total += math_width(piece) if k % 2 else _width(piece, 1.0, text=True)
    return total * size / PT


def fits(tex: str, width: float = DISPLAY_WIDTH) -> bool:
    """Whether a display of ``tex`` fits ``width`` pt."""
    return math_width(tex) <= width


def join_terms(terms: Sequence[str]) -> str:
    """A sum's terms as written: joined by " + ", except a term that brings its own operator
    ("- 0.1 G", "+ x")."""
    out = ""
    for k, term in enumerate(terms):
        if k == 0:
            out = term
        elif term[:2] in ("+ ", "- ") or term.startswith("\\cdot "):
            out += " " + term
        else:
            out += " + " + term
    return out


Segment = Sequence[Any]  # (relation, terms) or (relation, terms, opening, closing)


def _segment(seg: Segment) -> tuple[str, list[str], str, str]:
    rel, terms = seg[0], list(seg[1])
    opening, closing = (seg[2], seg[3]) if len(seg) > 2 else ("", "")
    return rel, terms, opening, closing


def _unbreakable(delim: str) -> str:
    """\\left( … \\right) cannot span lines; \\bigl( … \\bigr) can."""
    return delim.replace("\\left", "\\bigl").replace("\\right", "\\bigr")


def _after(piece: str) -> float:
    """Width of a piece that follows something on its line: a leading "+" or "=" is an
    operator or relation with its spaces, not a sign."""
    return math_width("{}" + piece)


def chain(lhs: str, segments: Sequence[Segment], mark: str = "&") -> str:
    """``lhs rel₁ seg₁ rel₂ seg₂ …`` on one line, the alignment point (``mark``) before rel₁."""
    text = lhs + " " + mark
    for k, seg in enumerate(segments):
        rel, terms, opening, closing = _segment(seg)
        body = opening + join_terms(terms) + closing
        text += (rel + " " if rel else "") + body if k == 0 else " " + (rel + " " if rel else "") + body
    return text


def chain_lines(lhs: str, segments: Sequence[Segment], width: float = DISPLAY_WIDTH,
                indent: str = "\\quad") -> list[str]:
    """The lines of an aligned display of ``lhs rel₁ seg₁ rel₂ seg₂ …`` (a segment: a relation
    such as "=", "\\approx" or "" and the terms of a sum, optionally between an opening and a
    closing text, e.g. "g'(z) \\left(" and "\\right)").

    One line (:func:`chain`) when it fits ``width`` pt; otherwise a segment goes on the line
    before when it fits there and starts a line of its own ("&= …") when not, and a segment too
    long for a line of its own is cut between its terms, continued on indented lines
    ("&\\quad {} + …"), its \\left/\\right delimiters made \\bigl/\\bigr (which may be on
    different lines).
    """
    if math_width(chain(lhs, segments, mark="")) <= width:
        return [chain(lhs, segments)]
    room = width - math_width(lhs)  # what the right of the alignment point can take
    lines: list[str] = []
    used = 0.0
    for seg in segments:
        rel, terms, opening, closing = _segment(seg)
        head = (rel + " " if rel else "")
        whole = head + opening + join_terms(terms) + closing
        w = _after(whole)
        if lines and used + w <= room:
            lines[-1] += " " + whole
            used += w
            continue
        if w <= room:
            lines.append(("" if lines else lhs + " ") + "&" + whole)
            used = w
            continue
        opening, closing = _unbreakable(opening), _unbreakable(closing)
        start = ("" if lines else lhs + " ") + "&" + head + opening
        lines.append(start)
        used = _after(head + opening)
        for k, term in enumerate(terms):
            piece = term if k == 0 else (term if term[:2] in ("+ ", "- ") else "+ " + term)
            tail = closing if k == len(terms) - 1 else ""
            pw = _after(piece + tail)
            if k == 0:
                lines[-1] += piece + tail
                used += pw
                continue
            if used + pw <= room:
                lines[-1] += " " + piece + tail
                used += pw
                continue
            lines.append(f"&{indent} {{}} " + piece + tail)
            used = math_width(indent) + pw
    return lines


_RELATIONS = ("\\approx", "\\leq", "\\le", "\\geq", "\\ge", "\\neq", "\\equiv", "\\Rightarrow",
              "\\implies", "=", "<", ">")


_COMMAND_NAME = re.compile(r"\\([A-Za-z]+|.)")


def _top_level(text: str) -> list[tuple[int, str, str]]:
    """Where ``text`` may be cut: (position, "rel" or "bin", the symbol) of every relation and
    binary + or - outside braces, parentheses, environments and \\left … \\right."""
    out: list[tuple[int, str, str]] = []
    depth = env = left = paren = 0
    last = ""  # the previous significant character or command at top level
    i = 0
    while i < len(text):
        c = text[i]
        if text.startswith("\\begin{", i) or text.startswith("\\end{", i):
            env += 1 if text[i + 1] == "b" else -1
            close = text.find("}", i)
            i = len(text) if close < 0 else close + 1
            last = "x"
            continue
        if c == "\\":
            m = _COMMAND_NAME.match(text, i)  # at i: no copy of the rest of the text
            name = m.group(1) if m else ""
            if name == "left":
                left += 1
            elif name == "right":
                left -= 1
            top = depth == 0 and env == 0 and left == 0 and paren == 0
            rel = next((r for r in _RELATIONS if r.startswith("\\") and r[1:] == name), None)
            if top and rel:
                out.append((i, "rel", rel))
                last = "rel"
            elif name not in ("quad", "qquad", ",", ";", " ", "!"):
                last = "op" if name in ("cdot", "times", "odot", "pm") else "x"
            i += 1 + len(name)
            continue
        top = depth == 0 and env == 0 and left == 0 and paren == 0
        if c in "([" and depth == 0:
            paren += 1
        elif c in ")]" and depth == 0:
            paren = max(0, paren - 1)
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            last = "x"
        elif top and c in "=<>":
            out.append((i, "rel", c))
            last = "rel"
        elif top and c in "+-" and last not in ("", "rel", "op", "open"):
            out.append((i, "bin", c))
            last = "op"
        elif c in "([&,":
            last = "open"
        elif not c.isspace():
            last = "x"
        i += 1
    return out


def _split_row(row: str, width: float) -> list[str]:
    """One row of an aligned display (``lhs &rel …``) as rows that fit ``width``: cut at its
    relations and, where a part is still too wide, between the terms of its sums."""
    cuts = _top_level(row)
    amp = _split_top(row, "&")
    if len(amp) > 2:
        return [row]  # several alignment points: a table, left as it is
    if len(amp) == 2:
        lhs, rest = amp[0].rstrip(), amp[1].strip()
    else:
        first = next((p for p, kind, _ in cuts if kind == "rel"), None)
        if first is None or first == 0:
            return [row]
        lhs, rest = row[:first].rstrip(), row[first:].strip()
    segments: list[tuple[str, list[str]]] = []
    rel, start = "", 0
    for pos, kind, sym in _top_level(rest):
        if kind == "rel":
            if rest[start:pos].strip() or segments or rel:
                segments.append((rel, _terms(rest[start:pos])))
            rel, start = sym, pos + len(sym)
    segments.append((rel, _terms(rest[start:])))
    segments = [(r, t) for r, t in segments if r or any(x.strip() for x in t)]
    if len(segments) == 1 and len(segments[0][1]) == 1:
        return [row]  # nothing to cut at
    return chain_lines(lhs, segments, width)


def _terms(text: str) -> list[str]:
    """A sum's terms, the operator kept with each term after the first ("+ b", "- c")."""
    text = text.strip()
    terms, start = [], 0
    for pos, kind, _ in _top_level(text):
        if kind == "bin" and text[start:pos].strip():
            terms.append(text[start:pos].strip())
            start = pos
    terms.append(text[start:].strip())
    return [t if k == 0 else t[0] + " " + t[1:].lstrip() for k, t in enumerate(terms)]


def fit_rows(lines: Sequence[str], width: float = DISPLAY_WIDTH) -> list[str]:
    """The rows of an aligned display with every row too wide for ``width`` pt cut into rows
    that fit (the rest unchanged). Rows a template has already fitted pass through."""
    out: list[str] = []
    for item in lines:
        for row in _split_top(item, "\\\\"):
            row = row.strip()
            if not row or math_width("".join(_split_top(row, "&"))) <= width:
                out.append(row)
            else:
                out.extend(_split_row(row, width))
    return out


def fit_display(math: str, width: float = DISPLAY_WIDTH) -> list[str]:
    """A one-line display as rows of an aligned display when it is too wide for ``width`` pt
    and can be cut; [] when it fits (or cannot be cut)."""
    if math_width(math) <= width:
        return []
    rows = _split_row(math.strip(), width)
    return rows if len(rows) > 1 else []


_DISPLAY = re.compile(r"\\\[(.*?)\\\]|\\begin\{(align\*?|gather\*?|multline\*?|equation\*?)\}(.*?)\\end\{\2\}"
                      r"|\\begin\{tabular\}(.*?)\\end\{tabular\}|\\begin\{tikzpicture\}(.*?)\\end\{tikzpicture\}",
                      re.S)


def lines_of(tex: str) -> float:
    """Estimated height of a piece of the sheets' LaTeX in lines of text (11 pt, 13.6 pt
    baselines): paragraphs at the text width, displays by their rows and matrices. For sizing
    the room left to answer a question on an exam."""
    total = 0.0
    pos = 0
    for match in _DISPLAY.finditer(tex):
        total += _paragraph_lines(tex[pos:match.start()])
        pos = match.end()
        if match.group(1) is not None or match.group(3) is not None:
            body = match.group(1) if match.group(1) is not None else match.group(3)
            total += _display_lines(body)
        elif match.group(4) is not None:
            total += 1.2 * match.group(4).count("\\\\") + 1
        else:
            total += _figure_lines(match.group(5))
    total += _paragraph_lines(tex[pos:])
    return total


# Commands and markup characters are dropped from running text, as one scan left to right
# dropping a command with its star, else one of {}$^_&\\, would drop them: backslashes by the
# regex, then the other characters (dropping one of those never starts or ends a match of the
# regex, so the order does not matter; str.replace is quicker than str.translate here).
_BACKSLASH_COMMAND = re.compile(r"\\(?:[A-Za-z]+\*?)?")
_PARAGRAPHS = re.compile(r"\n\s*\n|\\item\b|\\part\b|\\choice\b|\\par\b")
_ENVIRONMENT_MARKUP = re.compile(r"\\(begin|end)\{[^}]*\}(\[[^\]]*\])?")


def _without_markup(para: str) -> str:
    """``para`` with environment markup, commands and markup characters dropped."""
    if "\\begin" in para or "\\end" in para:
        para = _ENVIRONMENT_MARKUP.sub("", para)
    if "\\" in para:
        para = _BACKSLASH_COMMAND.sub("", para)
    return (para.replace("{", "").replace("}", "").replace("$", "").replace("^", "")
            .replace("_", "").replace("&", ""))


def _paragraph_lines(text: str) -> float:
    """Lines of running text: characters at an average 5.3 pt (commands and markup dropped;
    cheap, as an exam measures every question of every student)."""
    lines = 0.0
    for para in _PARAGRAPHS.split(text):
        chars = len(_without_markup(para).strip())
        if chars:
            lines += max(1.0, math.ceil(chars * 5.3 / 430.0)) + 0.3
    return lines


_MATRIX = re.compile(r"\\begin\{([pbv]?matrix|smallmatrix|cases)\}(.*?)\\end\{\1\}", re.S)
_MATRIX_MARKER = re.compile(r"\x00(\d+)\x00")


def _display_lines(body: str) -> float:
    heights: list[float] = []

    def matrix(m: re.Match[str]) -> str:  # a matrix as a marker holding its height
        n = m.group(2).count("\\\\") + 1
        heights.append(1.05 * n + 0.5 if m.group(1) != "smallmatrix" else 0.6 * n + 0.4)
        return f"\x00{len(heights) - 1}\x00"

    flat = _MATRIX.sub(matrix, body)
    total = 1.6  # the space above and below (display skips, paragraph skip)
    for row in flat.split("\\\\"):
        tallest = 1.2  # a row and the \\jot between rows
        for k in _MATRIX_MARKER.findall(row):
            tallest = max(tallest, heights[int(k)])
        if "\\frac" in row or "\\sum_" in row:
            tallest = max(tallest, 2.2)
        total += tallest
    return total


def _figure_lines(code: str) -> float:
    ys = [float(y) for y in re.findall(r"\(-?[\d.]+,(-?[\d.]+)\)", code)]
    if len(ys) < 2:
        return 10.0
    return (max(ys) - min(ys)) / 0.48 + 2  # 0.48 cm per line of text


# -- the running head --------------------------------------------------------------------------
_GAP = 8.0  # pt between the head's parts
_ELLIPSIS = "\u2026"


def shorten(text: str, width: float, size: float = PT, mono: bool = False) -> str:
    """``text`` cut at a word (or, for one long word, a character) with an ellipsis so that it
    is at most ``width`` pt wide; unchanged when it fits."""
    def w(t: str) -> float:
        return 5.75 * len(t) * size / PT if mono else text_width(t, size)

    if w(text) <= width:
        return text
    words = text.split(" ")
    for k in range(len(words) - 1, 0, -1):
        cut = " ".join(words[:k]).rstrip(",;:.-–—") + _ELLIPSIS
        if w(cut) <= width:
            return cut
    for k in range(len(text) - 1, 0, -1):
        cut = text[:k].rstrip() + _ELLIPSIS
        if w(cut) <= width:
            return cut
    return _ELLIPSIS


def fit_header(left: str, center: str, right: str, width: float = TEXT_WIDTH,
               right_mono: bool = False) -> tuple[str, str, str]:
    """The three parts of a running head (plain text, before TeX escaping), shortened only as
    much as they must be not to overlap: the exam class sets the left part flush left, the right
    flush right and the centre centred on the line, whatever their widths. The centre (a
    sheet's title) gives way first, down to a quarter of the line; then the sides (a student's
    name or id) are cut too."""
    def side_width(text: str, mono: bool) -> float:
        return 5.75 * len(text) if mono else text_width(text)

    lw, rw = side_width(left, False), side_width(right, right_mono)
    if not center:
        if lw + rw + _GAP <= width:
            return left, center, right
        cap = max((width - _GAP) / 2, width - _GAP - min(lw, rw))
        return shorten(left, cap), center, shorten(right, cap, mono=right_mono)
    cw = text_width(center)
    if max(lw, rw) + _GAP + cw / 2 <= width / 2:
        return left, center, right
    keep = min(cw, width / 4)  # the least of the centre kept
    cap = (width - keep) / 2 - _GAP
    if max(lw, rw) > cap:
        left, right = shorten(left, cap), shorten(right, cap, mono=right_mono)
        lw, rw = side_width(left, False), side_width(right, right_mono)
    return left, shorten(center, width - 2 * (max(lw, rw) + _GAP)), right


# -- tables ------------------------------------------------------------------------------------
_TABCOLSEP = 6.0  # pt on each side of a tabular cell


def table_chunks(header: Sequence[str], rows: Sequence[Sequence[str]], align: str | None = None,
                 width: float = DISPLAY_WIDTH) -> list[tuple[list[str], list[list[str]], str]]:
    """A table (cells in TeX text, math in $…$) as one or more tables that fit ``width`` pt: when
    it is too wide its columns are dealt out over several tables, each repeating the first
    column (the row's key: z, i, the layer). A tabular cannot break across the line."""
    align = align or "l" * len(header)
    columns = [[header[k], *(row[k] for row in rows if k < len(row))] for k in range(len(header))]
    widths = [max(text_width(str(c)) for c in col) + 2 * _TABCOLSEP for col in columns]
    whole = (list(header), [list(r) for r in rows], align)
    if sum(widths) <= width or len(header) < 3 or not align.isalpha() or len(align) != len(header):
        return [whole]
    groups: list[list[int]] = [[]]
    used = widths[0]
    for k in range(1, len(header)):
        if groups[-1] and used + widths[k] > width:
            groups.append([])
            used = widths[0]
        groups[-1].append(k)
        used += widths[k]
    return [([header[0], *(header[k] for k in g)], [[r[0], *(r[k] for k in g)] for r in rows],
             align[0] + "".join(align[k] for k in g)) for g in groups]
