"""One self-contained web page per sheet or exam variant: formulas typeset by KaTeX in the
browser, figures as inline SVG, nothing fetched at view time.

KaTeX (npm ``katex``, MIT) is vendored in ``worksheetgen/vendor/katex``: its script, its
stylesheet and its WOFF2 fonts are inlined into every page (the fonts as data: URLs), so a page
is one file that opens offline, from an LMS's file area or an e-mail attachment alike.

How text becomes HTML. A family template writes prose with math as TeX in ``$…$`` and layout
through the ``m.*`` macros. The macros here emit their HTML *protected* (between two private-use
characters), and so do the ``t`` filter (user text, escaped) and the figure printer; after
rendering, :func:`finish` turns every unprotected ``$…$`` into a ``<span class="math">`` holding
the escaped TeX, escapes the remaining prose, and drops the markers. So a ``<`` or ``&`` in a
formula or a sentence can never open a tag, and a ``$`` in a name or a script is never math.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from worksheetgen.figures import to_svg
from worksheetgen.formats import Format

if TYPE_CHECKING:
    from worksheetgen.documents import Document
    from worksheetgen.instance import Instance

KATEX_VERSION = "0.19.1"
KATEX_DIR = Path(__file__).resolve().parent.parent / "vendor" / "katex"

OPEN, CLOSE = "\ue000", "\ue001"  # around finished HTML that finish() must leave alone
ASSETS = "<!--worksheetgen:katex-->"  # where the page's <head> gets KaTeX, after finish()

_PROTECTED = re.compile(f"{OPEN}(.*?){CLOSE}", re.S)
_INLINE_MATH = re.compile(r"(?<!\\)\$(.+?)(?<!\\)\$", re.S)
_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_FONT_SRC = re.compile(r"src:url\(fonts/([A-Za-z0-9_-]+)\.woff2\)[^;}]*")


def protect(text: Any) -> str:
    """Finished HTML: :func:`finish` passes it through untouched."""
    return OPEN + str(text).replace(OPEN, "").replace(CLOSE, "") + CLOSE


def unprotect(text: str) -> str:
    return str(text).replace(OPEN, "").replace(CLOSE, "")


def math_block(tex: Any, display: bool = True) -> str:
    """TeX as a math element KaTeX renders (its text escaped for HTML)."""
    element, cls = ("div", "math display") if display else ("span", "math")
    return protect(f'<{element} class="{cls}">{html.escape(unprotect(tex).strip(), quote=False)}</{element}>')


def _prose(text: str) -> str:
    text = html.escape(text.replace("\\$", "$"), quote=False)
    return _PARAGRAPH.sub('\n<div class="gap"></div>\n', text)


def _unprotected(text: str) -> str:
    out, pos = [], 0
    for m in _INLINE_MATH.finditer(text):
        out += [_prose(text[pos:m.start()]), unprotect(math_block(m.group(1), display=False))]
        pos = m.end()
    out.append(_prose(text[pos:]))
    return "".join(out)


def finish(text: str) -> str:
    """Template output → HTML: inline ``$…$`` becomes a math element, prose is escaped,
    protected HTML is kept as it is."""
    out, pos = [], 0
    for m in _PROTECTED.finditer(text):
        out += [_unprotected(text[pos:m.start()]), m.group(1)]
        pos = m.end()
    out.append(_unprotected(text[pos:]))
    return "".join(out).replace(OPEN, "").replace(CLOSE, "")


# -- KaTeX, inlined ------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def katex_css() -> str:
    """KaTeX's stylesheet with each font as a data: URL of its WOFF2 file (the only source)."""
    css = (KATEX_DIR / "katex.min.css").read_text(encoding="utf-8")

    def inline(m: re.Match[str]) -> str:
        data = base64.b64encode((KATEX_DIR / "fonts" / f"{m.group(1)}.woff2").read_bytes()).decode("ascii")
        return f'src:url(data:font/woff2;base64,{data}) format("woff2")'

    css = _FONT_SRC.sub(inline, css)
    if "url(fonts/" in css:
        raise RuntimeError("worksheetgen/vendor/katex: a font the stylesheet names is not inlined")
    return css


@lru_cache(maxsize=1)
def katex_js() -> str:
    js = (KATEX_DIR / "katex.min.js").read_text(encoding="utf-8")
    return re.sub(r"</(script)", r"<\\/\1", js, flags=re.I)


# Renders every math element; a formula KaTeX cannot parse shows its source in red (class
# katex-error), any other failure marks the element math-error: the tests look for both.
RENDER_SCRIPT = """
(function () {
  var options = {throwOnError: false, output: "htmlAndMathml"};
  document.querySelectorAll(".math").forEach(function (el) {
    try {
      options.displayMode = el.classList.contains("display");
      katex.render(el.textContent, el, options);
    } catch (e) {
      el.classList.add("math-error");
      el.title = String(e);
    }
  });
  document.documentElement.setAttribute("data-math", "rendered");
})();
"""


def katex_head() -> str:
    return (f"<style>/* KaTeX {KATEX_VERSION}, MIT licence, (c) Khan Academy and other contributors */\n"
            f"{katex_css()}</style>\n<script>{katex_js()}</script>")


def render_script() -> str:
    return f"<script>{RENDER_SCRIPT}</script>"


# -- figures -------------------------------------------------------------------------------------

_SVG_ID = re.compile(r'\bid="([^"]+)"')
_SVG_SIZE = re.compile(r'\b(width|height)="([0-9.]+)"')
# The SVG's labels are 12 user units high; the page's text is 17 px: drawn at 1.4 user units
# a pixel the labels match the text around them (the viewBox keeps the drawing's coordinates).
FIGURE_SCALE = 1.4


def inline_svg(figure: Any) -> str:
    """The figure's SVG for an HTML page: no XML prologue, ids made unique to the picture (two
    figures on one page must not share a marker id)."""
    svg = to_svg(figure)
    svg = svg[svg.index("<svg"):].strip()
    prefix = "f" + hashlib.sha256(svg.encode("utf-8")).hexdigest()[:8] + "-"
    for name in dict.fromkeys(_SVG_ID.findall(svg)):
        svg = (svg.replace(f'id="{name}"', f'id="{prefix}{name}"')
               .replace(f"url(#{name})", f"url(#{prefix}{name})")
               .replace(f'href="#{name}"', f'href="#{prefix}{name}"'))
    head_end = svg.index(">")
    head = _SVG_SIZE.sub(lambda m: f'{m.group(1)}="{float(m.group(2)) * FIGURE_SCALE:.2f}"', svg[:head_end])
    label = html.escape(getattr(figure, "caption", "") or getattr(figure, "name", "figure"))
    return head.replace("<svg ", f'<svg role="img" aria-label="{label}" ', 1) + svg[head_end:]


class Html(Format):
    name = "html"
    description = "one self-contained web page per sheet or variant (KaTeX math, SVG figures inline)"
    suffix = "html"
    folder = "html"
    shares_recording = True
    default = False  # ~0.7 MB a page (KaTeX inlined): built when asked for

    def escape(self, text: str) -> str:
        return protect(html.escape(_CONTROL.sub(" ", str(text)), quote=True))

    def print_figure(self, figure: Any) -> str:
        return protect(inline_svg(figure))

    def build_environment(self) -> jinja2.Environment:
        env = super().build_environment()
        env.filters.update(h=protect, display_math=math_block,
                           inline_math=lambda tex: math_block(tex, display=False))
        env.globals.update(katex_assets=protect(ASSETS), render_script=lambda: protect(render_script()))
        return env

    def render_exercise(self, instance: "Instance", layout: Any = None) -> tuple[str, str]:
        problem, solution = super().render_exercise(instance, layout)
        return finish(problem), finish(solution)

    def render_document(self, document: "Document", context: dict[str, Any]) -> dict[str, str]:
        files = super().render_document(document, context)
        return {name: finish(text).replace(ASSETS, katex_head(), 1) for name, text in files.items()}
