"""TeX labels shown without TeX: the SVG picture's reading of the same label the PDF typesets.

A label becomes runs of plain text, each with a level (-1 subscript, 0 baseline, +1
superscript) and a slant: as in TeX's math mode, Latin letters and lower-case Greek letters
are italic; digits, operators, upper-case Greek, function names (``\\tanh``) and the contents
of ``\\text``/``\\mathrm``/``\\operatorname`` are upright. Greek letters and a few operators
become Unicode.
"""

from __future__ import annotations

import re
import unicodedata

from worksheetgen.figures.printer import fixed

_SYMBOLS = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε",
    "eta": "η", "theta": "θ", "lambda": "λ", "mu": "μ", "pi": "π", "sigma": "σ", "tau": "τ",
    "phi": "φ", "varphi": "φ", "omega": "ω", "Delta": "Δ", "Sigma": "Σ", "Phi": "Φ",
    "partial": "∂", "nabla": "∇", "cdot": "·", "times": "×", "approx": "≈", "le": "≤",
    "leq": "≤", "ge": "≥", "geq": "≥", "ne": "≠", "neq": "≠", "infty": "∞", "prime": "′",
    "ldots": "…", "cdots": "⋯", "dots": "…", "to": "→", "rightarrow": "→", "in": "∈",
    "sum": "∑", "pm": "±", "circ": "∘", "odot": "⊙", "quad": " ", "qquad": "  ",
    ",": " ", ";": " ", ":": " ", "!": "", " ": " ", "{": "{", "}": "}", "%": "%", "_": "_",
    "&": "&", "#": "#", "$": "$", "left": "", "right": "", "big": "", "Big": "",
    "displaystyle": "", "textstyle": "", "scriptstyle": "",
}
# TeX sets these italic in math mode, like Latin letters.
_ITALIC_SYMBOLS = {"alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "eta", "theta",
                   "lambda", "mu", "pi", "sigma", "tau", "phi", "varphi", "omega", "partial"}
_ACCENTS = {"hat": "\u0302", "tilde": "\u0303", "bar": "\u0304", "vec": "\u20d7", "dot": "\u0307"}
# command → how its argument is set: "text" upright words, "italic" slanted words
_TEXT_COMMANDS = {"operatorname": "text", "mathrm": "text", "text": "text", "textrm": "text",
                  "mathbf": "text", "mathcal": "text", "textbf": "text", "mbox": "text",
                  "mathit": "italic", "textit": "italic", "emph": "italic",
                  "boldsymbol": "math"}

Run = tuple[str, int, bool]  # (text, level, italic)


def _group(tex: str, i: int) -> tuple[str, int]:
    """The argument starting at tex[i] (a braced group or one character) and the next index."""
    while i < len(tex) and tex[i] == " ":
        i += 1
    if i >= len(tex):
        return "", i
    if tex[i] == "{":
        depth, j = 0, i
        while j < len(tex):
            if tex[j] == "{":
                depth += 1
            elif tex[j] == "}":
                depth -= 1
                if depth == 0:
                    return tex[i + 1:j], j + 1
            j += 1
        return tex[i + 1:], len(tex)
    if tex[i] == "\\":
        m = re.match(r"\\([A-Za-z]+|.)", tex[i:])
        if m is not None:
            return m.group(0), i + len(m.group(0))
    return tex[i], i + 1


def _wrap(tex: str) -> str:
    return tex if len(tex) <= 1 or re.fullmatch(r"[A-Za-z0-9.]+", tex) else f"({tex})"


def runs(tex: str, math: bool = True) -> list[Run]:
    """TeX → [(plain text, level, italic)], neighbours with equal level and slant merged."""
    return _runs(tex, 0, "math" if math else "text")


def _runs(tex: str, level: int, mode: str) -> list[Run]:
    out: list[Run] = []

    def add(text: str, lvl: int, italic: bool) -> None:
        if not text:
            return
        if out and out[-1][1] == lvl and out[-1][2] == italic:
            out[-1] = (out[-1][0] + text, lvl, italic)
        else:
            out.append((text, lvl, italic))

    def add_runs(items: list[Run]) -> None:
        for item in items:
            add(*item)

    def letter_italic(ch: str) -> bool:
        return mode == "italic" or (mode == "math" and ch.isascii() and ch.isalpha())

    i = 0
    while i < len(tex):
        ch = tex[i]
        if ch in "_^":
            arg, i = _group(tex, i + 1)
            shift = -1 if ch == "_" else 1
            add_runs(_runs(arg, level + shift if level == 0 else level, mode))
        elif ch == "\\":
            m = re.match(r"\\([A-Za-z]+|.)", tex[i:])
            name = m.group(1) if m is not None else "\\"
            i += len(m.group(0)) if m is not None else 1
            if name in _ACCENTS:
                arg, i = _group(tex, i)
                for text, lvl, italic in _runs(arg, level, mode):
                    accented = text + _ACCENTS[name] if len(text) == 1 else text
                    add(unicodedata.normalize("NFC", accented), lvl, italic)
            elif name in _TEXT_COMMANDS:
                arg, i = _group(tex, i)
                add_runs(_runs(arg, level, _TEXT_COMMANDS[name]))
            elif name in ("frac", "tfrac", "dfrac"):
                num, i = _group(tex, i)
                den, i = _group(tex, i)
                add_runs(_runs(_wrap(num) + "/" + _wrap(den), level, mode))
            elif name == "sqrt":
                arg, i = _group(tex, i)
                add_runs(_runs("√" + _wrap(arg), level, mode))
            elif name in _SYMBOLS:
                add(_SYMBOLS[name], level, mode != "text" and name in _ITALIC_SYMBOLS)
            else:
                add(name, level, mode == "italic")  # \tanh, \exp, \max: upright names
        elif ch in "{}$":
            i += 1
        elif ch == "-" and mode != "text":
            add("−", level, False)
            i += 1
        elif ch == "~":
            add(" ", level, False)
            i += 1
        else:
            add(ch, level, letter_italic(ch))
            i += 1
    return out


def tex_to_text(tex: str, math: bool = True) -> str:
    """A one-line plain-text reading of a TeX label (sub/superscripts written inline)."""
    parts = []
    for text, lvl, _ in runs(tex, math):
        parts.append(text if lvl == 0 else ("_" if lvl < 0 else "^") + text)
    return "".join(parts)


def plain_text(tex: str, math: bool = True) -> str:
    """The characters an SVG shows for a label (what ``<text>``'s text content reads)."""
    return "".join(text for text, _, _ in runs(tex, math))


def xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def svg_text(tex: str, size: float = 12.0, math: bool = True) -> str:
    """XML content of an SVG <text> element showing a TeX label (sub/superscripts via dy)."""
    pieces = []
    offset = 0.0
    for text, lvl, italic in runs(tex, math):
        target = {-1: 0.3 * size, 0: 0.0, 1: -0.4 * size}[max(-1, min(1, lvl))]
        dy = target - offset
        offset = target
        attrs = f' dy="{fixed(dy, 2)}"' if dy else ""
        if lvl:
            attrs += f' font-size="{fixed(0.7 * size, 2)}"'
        if italic:
            attrs += ' font-style="italic"'
        pieces.append(f"<tspan{attrs}>{xml_escape(text)}</tspan>" if attrs else xml_escape(text))
    return "".join(pieces)
