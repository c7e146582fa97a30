"""Jinja2 rendering: one environment per output format, one template body per family.

A family's template (``templates/exercises/<family>.j2``) defines two macros, ``problem()`` and
``solution()``. It writes math as TeX between dollar signs, which LaTeX and Markdown share, and
everything format-specific (bold, display math, parts, tables, choices) through the macros of
``templates/formats/<format>/macros.j2``, which have the same names in every format - as SymPy's
printers have parallel ``_print_`` methods. So an exercise's wording exists once.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import jinja2

from worksheetgen import mathfmt
from worksheetgen.instance import Instance

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
FORMATS = ("latex", "markdown")

_ESCAPERS: dict[str, Callable[[str], str]] = {
    "latex": mathfmt.latex_escape,
    "markdown": mathfmt.markdown_escape,
}


def _digits(ctx: Any) -> int:
    return int(ctx.get("digits", mathfmt.DEFAULT_DIGITS))


def _math_filter(fn: Callable[..., str]) -> Callable[..., str]:
    @jinja2.pass_context
    def apply(ctx: Any, x: Any, digits: int | None = None) -> str:
        return fn(x, digits if digits is not None else _digits(ctx))

    return apply


@lru_cache(maxsize=None)
def environment(fmt: str) -> jinja2.Environment:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        block_start_string="((*",
        block_end_string="*))",
        variable_start_string="(((",
        variable_end_string=")))",
        comment_start_string="((=",
        comment_end_string="=))",
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"],
    )
    env.filters.update(
        num=_math_filter(mathfmt.num),
        pnum=_math_filter(mathfmt.pnum),
        value=_math_filter(mathfmt.value),
        eq=_math_filter(mathfmt.equals),
        signed=_math_filter(mathfmt.signed),
        rounded=_math_filter(mathfmt.rounded),
        matrix=_math_filter(mathfmt.matrix),
        exact=mathfmt.exact,
        intsep=mathfmt.intsep,
        rel=mathfmt.relation,
        paren=mathfmt.paren,
        t=_ESCAPERS[fmt],
    )
    env.globals.update(
        fmt=fmt,
        letter=lambda i: "abcdefghijklmnopqrstuvwxyz"[i - 1],
        label=lambda i: f"({'abcdefghijklmnopqrstuvwxyz'[i - 1]})",
    )
    return env


def macros(fmt: str) -> Any:
    return environment(fmt).get_template(f"formats/{fmt}/macros.j2").module


def render_exercise(instance: Instance, fmt: str, layout: Any = None) -> tuple[str, str]:
    """(problem, solution) text of one instance in one format. ``layout`` replaces the format's
    macros (exams wrap them to print per-part points) without the family template knowing."""
    env = environment(fmt)
    template = env.get_template(instance.family.template)
    module = template.make_module(
        # Namespaces, not dicts: in Jinja `g.update` or `d.items` would find the dict method.
        {"ex": instance, "d": SimpleNamespace(**instance.data),
         "g": SimpleNamespace(**instance.given), "m": layout if layout is not None else macros(fmt),
         "digits": instance.digits, "figure_path": lambda fig: figure_path(instance, fig)}
    )
    return _tidy(str(module.problem())), _tidy(str(module.solution()))


def figure_path(instance: Instance, fig: Any) -> str:
    """Where a figure's SVG is written, relative to the Markdown file that shows it."""
    return f"figures/ex{instance.position}-{fig.name}.svg"


def figure_files(instance: Instance) -> dict[str, str]:
    return {figure_path(instance, fig): fig.svg for fig in instance.solved.figures}


def render_document(fmt: str, view: str, context: dict[str, Any]) -> str:
    """A whole sheet (``view`` is 'problems' or 'solutions') from rendered exercises."""
    env = environment(fmt)
    suffix = {"latex": "tex", "markdown": "md"}[fmt]
    template = env.get_template(f"formats/{fmt}/{context.get('layout', 'sheet')}.{suffix}.j2")
    text = template.render(context, view=view, m=macros(fmt))
    return _tidy(text) + "\n"


def _tidy(text: str) -> str:
    """Collapse runs of blank lines the templates' control lines leave behind."""
    lines = [line.rstrip() for line in text.strip("\n").split("\n")]
    out: list[str] = []
    for line in lines:
        if line == "" and out and out[-1] == "":
            continue
        out.append(line)
    return "\n".join(out)
