"""Output formats as units, registered like families.

A format is one module here plus, for a text format, one template folder
(``templates/formats/<folder>/``): its escape rule, its figure printer, its file suffix, the
macros a family template writes through, and the document layouts it can render. The driver
asks every chosen format for every document; a format without a template for a layout simply
has nothing to write for it. Nothing else in the package branches on a format's name.

``Format.registry`` is filled by importing the modules of this package
(:func:`load_formats`), so adding a format is a module and its templates.
"""

from __future__ import annotations

import hashlib
import importlib
import pkgutil
import re
import sys
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterable, Sequence

import jinja2

from worksheetgen import densetext, mathfmt, texfit
from worksheetgen.errors import WorksheetError
from worksheetgen.resources import cache_folder, template_dir

if TYPE_CHECKING:
    from worksheetgen.documents import Document
    from worksheetgen.family import Family
    from worksheetgen.instance import Instance


def jinja_options() -> dict[str, Any]:
    """LaTeX-friendly delimiters (TeX loves braces) and strict undefined names."""
    return dict(
        block_start_string="((*", block_end_string="*))",
        variable_start_string="(((", variable_end_string=")))",
        comment_start_string="((=", comment_end_string="=))",
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined, autoescape=False,
        extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"],
    )


def _math_filter(fn: Callable[..., str]) -> Callable[..., str]:
    # The sheet's digits; the rounding mode is the build's (mathfmt.rounding_mode) unless the
    # template states its own (``((* set rounding = "significant" *))``) or the call passes one.
    # "name in ctx" before ctx[name], not ctx.get(name): get raises and catches a KeyError for
    # a name the template does not set (most set no rounding), on every number printed.
    @jinja2.pass_context
    def apply(ctx: Any, x: Any, digits: int | None = None, **kwargs: Any) -> str:
        if "mode" not in kwargs and "rounding" in ctx and ctx["rounding"] is not None:
            kwargs["mode"] = ctx["rounding"]
        if digits is None:
            digits = int(ctx["digits"] if "digits" in ctx else mathfmt.DEFAULT_DIGITS)
        return fn(x, digits, **kwargs)

    return apply


LETTERS = "abcdefghijklmnopqrstuvwxyz"


def letter(i: int) -> str:
    """Part labels a, b, ..., z, aa, ab, ... (a long question bank has more than 26 parts)."""
    text = ""
    while i > 0:
        i, r = divmod(i - 1, 26)
        text = LETTERS[r] + text
    return text


class Format:
    """Base of every output format."""

    registry: ClassVar[dict[str, type["Format"]]] = {}

    name: ClassVar[str] = ""  # as written after --format
    description: ClassVar[str] = ""
    suffix: ClassVar[str] = ""  # of the files it writes
    folder: ClassVar[str | None] = None  # templates/formats/<folder>; None: written by code
    template_root: ClassVar[Path | None] = None  # a format kept outside the package brings its own
    needs: ClassVar[tuple[str, ...]] = ()  # formats whose files this one is made from
    default: ClassVar[bool] = True  # built when no --format is given
    # Its exercise text is made from the recording every such format shares (see _Recording):
    # only for formats whose environment adds nothing a family template could use.
    shares_recording: ClassVar[bool] = False
    figures_as_files: ClassVar[bool] = False  # figures written beside the document

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name:
            if cls.name in Format.registry and Format.registry[cls.name] is not cls:
                raise TypeError(f"two formats are named {cls.name!r}")
            Format.registry[cls.name] = cls

    install_hint: ClassVar[str] = ""

    def available(self) -> bool:
        """Whether this machine can make the format (PDFs need TeX)."""
        return True

    # -- text and figures -------------------------------------------------------------------
    def escape(self, text: str) -> str:
        return text

    def print_figure(self, figure: Any) -> str:
        """The figure as this format shows it (inline code, or a file's content)."""
        raise NotImplementedError(f"{self.name} prints no figures")

    def figure_path(self, instance: "Instance", figure: Any) -> str:
        """Where a figure file goes, relative to the document that shows it."""
        return f"figures/{instance.slug}-{figure.name}.{self.figure_suffix}"

    figure_suffix: ClassVar[str] = ""

    def figure_files(self, instances: Sequence["Instance"]) -> dict[str, str]:
        if not self.figures_as_files:
            return {}
        return {self.figure_path(i, fig): self.print_figure(fig)
                for i in instances for fig in i.solved.figures}

    # -- templates --------------------------------------------------------------------------
    def environment(self) -> jinja2.Environment:
        return _environment(type(self))

    def build_environment(self) -> jinja2.Environment:
        roots = [str(template_dir())] if self.template_root is None else [str(self.template_root), str(template_dir())]
        # auto_reload off: a template is read once per process (not stat'ed again on every
        # exercise a build renders; nothing edits templates while a build runs).
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(roots), bytecode_cache=_bytecode_cache(),
                                 auto_reload=False, **jinja_options())
        env.filters.update(
            num=_math_filter(mathfmt.num), pnum=_math_filter(mathfmt.pnum),
            value=_math_filter(mathfmt.value), eq=_math_filter(mathfmt.equals),
            signed=_math_filter(mathfmt.signed), rounded=_math_filter(mathfmt.rounded),
            matrix=_math_filter(mathfmt.matrix), exact=mathfmt.exact, intsep=mathfmt.intsep,
            rel=_math_filter(mathfmt.relation), paren=mathfmt.paren, t=self.escape, sci=mathfmt.sci,
            mathwidth=texfit.math_width, nonnegative=mathfmt.nonnegative,
        )
        env.globals.update(
            letter=letter, label=lambda i: f"({letter(i)})",
            figure_source=self.print_figure,
            chain_lines=texfit.chain_lines, display_width=texfit.DISPLAY_WIDTH,  # layouts that fit
            # "Values with more than 4 decimal places are shown rounded to 4 decimal places"
            shown_rounded=mathfmt.shown_sentence, places=mathfmt.places_phrase,
            **densetext.GLOBALS,  # the dense-network templates' most called pieces
        )
        return env

    def template_path(self, layout: str) -> str:
        return f"formats/{self.folder}/{layout}.{self.suffix}.j2"

    def has_layout(self, layout: str) -> bool:
        return _has_layout(type(self), layout)

    def macros(self) -> Any:
        return _macros(type(self))

    def load_templates(self, families: Iterable["Family"]) -> None:
        """Compile now the templates that rendering these families' exercises and this format's
        documents loads (a build forks its workers after this: they inherit them compiled)."""
        if self.folder is None:
            return
        env = self.environment()
        names = {family.template for family in families}
        names.update(name for name in env.list_templates(extensions=["j2"])
                     if name.startswith((f"formats/{self.folder}/", "exercises/_")))
        for name in sorted(names):
            env.get_template(name)
        self.macros()
        if self.shares_recording:
            recording_env = _recording_environment()
            for name in sorted(names):
                if not name.startswith("formats/"):
                    recording_env.get_template(name)

    def render_exercise(self, instance: "Instance", layout: Any = None) -> tuple[str, str]:
        """(problem, solution) text of one instance. ``layout`` replaces the format's macros
        (exams wrap them to print per-part points) without the family template knowing."""
        macros = layout if layout is not None else self.macros()
        if self.shares_recording:
            recording = _recording(instance, self)
            return (tidy(recording.play(recording.problem, self, instance, macros)),
                    tidy(recording.play(recording.solution, self, instance, macros)))
        env = self.environment()
        template = env.get_template(instance.family.template)
        module = template.make_module(
            # Records, not dicts: in Jinja `g.update` or `d.items` would find the dict method.
            {"ex": instance, "d": instance.data, "g": instance.given,
             "m": macros, "digits": instance.digits,
             "figure_path": lambda fig: self.figure_path(instance, fig)}
        )
        return tidy(str(module.problem())), tidy(str(module.solution()))

    def render_document(self, document: "Document", context: dict[str, Any]) -> dict[str, str | bytes]:
        """File name → text (or bytes, for packages) of one document; nothing if this format
        has no such layout."""
        if not self.has_layout(document.layout):
            return {}
        template = self.environment().get_template(self.template_path(document.layout))
        text = template.render(context, view=document.view, m=self.macros())
        return {f"{document.name}.{self.suffix}": tidy(text) + "\n"}

    # -- after the text files are written ---------------------------------------------------
    def make(self, sources: list[Path], jobs: int, progress: Any = None) -> list[Path]:
        """Files made from the written files of ``needs`` (PDFs from .tex)."""
        return []


@lru_cache(maxsize=None)
def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates kept between runs (compiling them is most of a small build's time):
    under the user's cache folder, one folder per Jinja version, Python version and parser
    settings (what the compiled code depends on besides the source, whose checksum Jinja checks
    on every load). None when no cache folder can be written."""
    settings = repr(sorted((k, repr(v)) for k, v in jinja_options().items()))
    key = hashlib.sha256(f"{jinja2.__version__}\n{sys.version}\n{settings}".encode("utf-8")).hexdigest()[:16]
    folder = cache_folder(f"templates-{key}")
    return None if folder is None else _BytecodeCache(str(folder))


class _BytecodeCache(jinja2.FileSystemBytecodeCache):
    """A cache that cannot be read or written (removed while a build runs) is no cache, not an
    error: the template is compiled again."""

    def load_bytecode(self, bucket: Any) -> None:
        try:
            super().load_bytecode(bucket)
        except OSError:
            pass

    def dump_bytecode(self, bucket: Any) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


@lru_cache(maxsize=None)
def _environment(cls: type[Format]) -> jinja2.Environment:
    return cls().build_environment()


@lru_cache(maxsize=None)
def _has_layout(cls: type[Format], layout: str) -> bool:
    # Asked for every document of every student: the file is looked for once (as templates are
    # read once).
    fmt = cls()
    root = fmt.template_root or template_dir()
    return fmt.folder is not None and (root / fmt.template_path(layout)).is_file()


@lru_cache(maxsize=None)
def _macros(cls: type[Format]) -> Any:
    fmt = cls()
    return fmt.environment().get_template(f"formats/{fmt.folder}/macros.j2").module


# -- one rendering of a family template for every format ----------------------------------------
# A family template's logic (its loops, numbers and layout choices) is the same in every format;
# only what it asks of the format differs: the macros (``m.*``), the escape filter ``t``, a
# figure's source and path. Formats that share the recording render the template once with a
# recorder in place of those: each request leaves a marker in the text and is kept. Each format
# then plays the recording, making every kept request with its own macros (innermost first, as
# the template would have) and putting the result where the marker is.
_MARK_OPEN, _MARK_CLOSE = "\ufdd0", "\ufdd1"  # noncharacters: reserved for internal use
_MARK = re.compile(f"{_MARK_OPEN}(\\d+){_MARK_CLOSE}")


class _Recording:
    """The (problem, solution) text of one instance with markers, and the requests they stand for."""

    def __init__(self) -> None:
        self.requests: list[tuple[Any, ...]] = []
        self.problem = self.solution = ""

    def mark(self, request: tuple[Any, ...]) -> str:
        self.requests.append(request)
        return f"{_MARK_OPEN}{len(self.requests) - 1}{_MARK_CLOSE}"

    def play(self, value: Any, fmt: Format, instance: "Instance", macros: Any) -> Any:
        """``value`` (a text, or lists and tuples of them) with every marker replaced by what
        ``fmt`` makes of its request."""
        if isinstance(value, str):
            if _MARK_OPEN not in value:
                return value
            return _MARK.sub(lambda m: self._make(self.requests[int(m.group(1))], fmt, instance, macros), value)
        if isinstance(value, list):  # most entries are plain text: left as they are
            return [v if type(v) is str and _MARK_OPEN not in v else self.play(v, fmt, instance, macros)
                    for v in value]
        if isinstance(value, tuple):
            return tuple(v if type(v) is str and _MARK_OPEN not in v else self.play(v, fmt, instance, macros)
                         for v in value)
        if isinstance(value, dict):
            return {k: self.play(v, fmt, instance, macros) for k, v in value.items()}
        return value

    def _make(self, request: tuple[Any, ...], fmt: Format, instance: "Instance", macros: Any) -> str:
        kind = request[0]
        if kind == "escape":
            return str(fmt.escape(self.play(request[1], fmt, instance, macros)))
        if kind == "figure_source":
            return str(fmt.print_figure(request[1]))
        if kind == "figure_path":
            return str(fmt.figure_path(instance, request[1]))
        _, name, args, kwargs, body = request
        macro = getattr(macros, name)
        if args:  # most requests pass a text or two, or nothing
            args = self.play(args, fmt, instance, macros)
        if kwargs:
            kwargs = self.play(kwargs, fmt, instance, macros)
        return _call_macro(macro, args, kwargs, None if body is None else self.play(body, fmt, instance, macros))


# What a format's macro made of texts and integers (and its caller's text): the same request
# recurs in every student's sheet (a part's wording, a formula without numbers, a bold label),
# and a Jinja macro call costs more than building the key. Keyed by the macro itself (one per
# format environment, which lives as long as the process) and the played arguments exactly;
# other callables (a layout's own method, which records what it was asked) are always called.
_MACRO_TEXTS: dict[tuple[Any, ...], str] = {}
_MACRO_TEXTS_KEPT = 4096


def _call_macro(macro: Any, args: tuple[Any, ...], kwargs: dict[str, Any], body: str | None) -> str:
    key = _macro_key(macro, args, kwargs, body)
    if key is not None:
        text = _MACRO_TEXTS.get(key)
        if text is not None:
            return text
    text = str(macro(*args, **kwargs)) if body is None else str(macro(*args, caller=lambda: body, **kwargs))
    if key is not None:
        if len(_MACRO_TEXTS) >= _MACRO_TEXTS_KEPT:
            _MACRO_TEXTS.clear()
        _MACRO_TEXTS[key] = text
    return text


def _macro_key(macro: Any, args: tuple[Any, ...], kwargs: dict[str, Any], body: str | None) -> tuple[Any, ...] | None:
    """The key of a call of a template macro with texts and integers only (exact types: 1, 1.0
    and True are equal keys but print differently), else None."""
    if type(macro) is not jinja2.runtime.Macro:
        return None
    for v in args:
        if type(v) is not str and type(v) is not int:
            return None
    if kwargs:
        for v in kwargs.values():
            if type(v) is not str and type(v) is not int:
                return None
        return (macro, args, tuple(kwargs.items()), body)
    return (macro, args, (), body)


class _Recorder:
    """Stands for the format's macros while a family template is recorded: a macro call (and
    its caller's text, rendered now) becomes a marker."""

    def __init__(self, recording: _Recording, names: frozenset[str]) -> None:
        self._recording = recording
        self._names = names

    def __getattr__(self, name: str) -> Any:
        if name not in self._names:  # as a macro module: no such attribute
            raise AttributeError(name)
        recording = self._recording

        def request(*args: Any, caller: Any = None, **kwargs: Any) -> str:
            body = None if caller is None else str(caller())
            return recording.mark(("macro", name, _snapshot(args), _snapshot(kwargs), body))

        return request


def _snapshot(value: Any) -> Any:
    """``value`` as it is now: a template may go on appending to a list it passed to a macro."""
    if isinstance(value, list):
        return [v if type(v) is str else _snapshot(v) for v in value]
    if isinstance(value, tuple):
        return tuple(v if type(v) is str else _snapshot(v) for v in value)
    if isinstance(value, dict):
        return {k: _snapshot(v) for k, v in value.items()}
    return value


@lru_cache(maxsize=None)
def _macro_names(cls: type[Format]) -> frozenset[str]:
    """The layout vocabulary (every text format defines the same macros)."""
    return frozenset(name for name in dir(_macros(cls)) if not name.startswith("_"))


@lru_cache(maxsize=None)
def _recording_environment() -> jinja2.Environment:
    """The base environment, its format-specific filters and globals recording what they are
    asked (the active recording is in the render context)."""
    env = Format().build_environment()

    @jinja2.pass_context
    def escape(ctx: Any, text: Any) -> str:
        return ctx["_recording"].mark(("escape", text))

    @jinja2.pass_context
    def figure_source(ctx: Any, figure: Any) -> str:
        return ctx["_recording"].mark(("figure_source", figure))

    env.filters["t"] = escape
    env.globals["figure_source"] = figure_source
    return env


# The recordings of the instances rendered last (a variant's exercises, in every format in turn),
# by the instance's identity (each entry holds its instance: the id stays its own) and the
# rounding mode in force. A variant of more exercises than are kept is recorded once per format.
_RECORDINGS: dict[tuple[int, str], tuple["Instance", _Recording]] = {}
_RECORDINGS_KEPT = 32


def _recording(instance: "Instance", fmt: Format) -> _Recording:
    key = (id(instance), mathfmt.current_mode())
    entry = _RECORDINGS.get(key)
    if entry is not None and entry[0] is instance:
        return entry[1]
    recording = _Recording()
    template = _recording_environment().get_template(instance.family.template)
    module = template.make_module(
        {"ex": instance, "d": instance.data, "g": instance.given,
         "m": _Recorder(recording, _macro_names(type(fmt))), "digits": instance.digits, "_recording": recording,
         "figure_path": lambda fig: recording.mark(("figure_path", fig))}
    )
    recording.problem, recording.solution = str(module.problem()), str(module.solution())
    if len(_RECORDINGS) >= _RECORDINGS_KEPT:
        del _RECORDINGS[next(iter(_RECORDINGS))]
    _RECORDINGS[key] = (instance, recording)
    return recording


def tidy(text: str) -> str:
    """Collapse runs of blank lines the templates' control lines leave behind."""
    out: list[str] = []
    for line in (line.rstrip() for line in text.strip("\n").split("\n")):
        if line == "" and out and out[-1] == "":
            continue
        out.append(line)
    return "\n".join(out)


_loaded = False


def load_formats() -> dict[str, type[Format]]:
    global _loaded
    if not _loaded:
        for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
            importlib.import_module(f"{__name__}.{module.name}")
        _loaded = True
    return dict(Format.registry)


def get_format(name: str, where: str = "--format") -> Format:
    formats = load_formats()
    if name not in formats:
        raise WorksheetError(f"unknown format {name!r}", field=where, allowed=", ".join(sorted(formats)))
    return formats[name]()


def default_formats() -> list[str]:
    return [name for name, cls in load_formats().items() if cls.default]


def resolve(names: Sequence[str]) -> tuple[list[Format], set[str]]:
    """The formats to run for the names asked (with what they are made from, in dependency
    order), and the names asked for, whose files are kept."""
    ordered: list[str] = []

    def add(name: str) -> None:
        fmt = get_format(name)
        for dep in fmt.needs:
            add(dep)
        if name not in ordered:
            ordered.append(name)

    for name in names:
        add(name)
    return [get_format(n) for n in ordered], set(names)
