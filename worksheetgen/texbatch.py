"""Typesetting many documents at TeX's floor: one pdflatex run per batch, cut into one PDF each.

A document the LaTeX templates write has three parts: its preamble (up to the line
``\\csname endofdump\\endcsname``), its setup (running head and foot, up to
``\\begin{document}``) and its body. Documents whose preambles are equal are typeset together:

- the preamble is loaded once per machine: a format dumped from it with ``mylatexformat``,
  cached under the user's cache folder by a hash of the preamble and of the TeX installation;
- every ``batch`` variant folders (students) go into one document, each document of theirs as a
  *unit* between ``\\StartUnit`` and ``\\EndUnit`` (templates/formats/latex/_units.tex.j2): its
  pages are held back until it ends, then shipped with its own page numbers and page count, so
  one pass gives what two passes give each document alone;
- a figure that recurs in a batch (the same drawing for every student) is typeset once and its
  box placed again (the page gets the same drawing operators: pixel-identical);
- the run writes each unit's first and last page to ``<job>.units``, and the batch PDF is cut
  there into each document's own PDF by copying its objects (pdfsplit: no dates, no random id).

A build hands the documents over as it renders them (:class:`Typesetter`): each batch is typeset
as soon as its students are in, on the cores the rendering leaves free, and cut at once.

A document made of units already typeset (the class's print document, all-problems.tex) is put
together from their pages. Any other document (the instructor key) is compiled on its own, as
many passes as its log asks for.

Which folders share a batch depends only on the folders (their names, in order: about ``batch``
at a time, :class:`Boundaries`), never on ``--jobs``: the bytes of every PDF are the same
whatever the parallelism, a reprint of one student typesets that student's batch again
(:func:`batch_of`), and a student added to the roster changes only the PDFs of the batch they
join (a PDF depends on its batch: the fonts it embeds hold the glyphs the whole batch uses).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import itertools
import threading
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

from worksheetgen import pdf, pdfsplit
from worksheetgen.errors import TexError
from worksheetgen.resources import cache_folder

if TYPE_CHECKING:
    import pikepdf  # imported where used: a build without PDFs does not load it

MARK = "\\csname endofdump\\endcsname"
FORMAT_VERSION = "1"  # bump when the way formats are dumped changes
# Commands whose output comes from an earlier run's .aux: a batch that holds one is typeset
# with its .aux and as many passes as the log asks for.
_READS_AUX = re.compile(r"\\(?:ref|pageref|eqref|autoref|cref|Cref|cite|nocite|tableofcontents|listof[a-z]+)\b")
_BAD_FORMAT = re.compile(r"undump|format file|\.fmt\b.*(made by|written by)")
_FIGURE = re.compile(r"\\begin\{tikzpicture\}.*?\\end\{tikzpicture\}", re.S)

Progress = Callable[[str, int, int], None]


class Boundaries:
    """Where batches start, decided by the variant folders themselves (content-defined
    chunking): whether a batch ends after a folder depends on a hash of the folder's name and
    on how many the batch holds (rarely below ``size``, readily beyond it, always at 1.5 times
    ``size``: about ``size`` on average). Inserting or removing a student changes the batch
    they fall in and seldom the next, never the others: those are typeset in the same company,
    so their PDFs keep their bytes. Fed the folders in plan order; nothing else (not --jobs)
    moves a boundary."""

    def __init__(self, size: int) -> None:
        self.size = max(1, size)
        self.count = 0
        self.last = ""

    def starts(self, folder: str) -> bool:
        """Whether ``folder`` (the next in order) starts a new batch."""
        new = self.count > 0 and _ends_batch(self.last, self.count, self.size)
        self.count = 1 if new else self.count + 1
        self.last = folder
        return new


def _ends_batch(folder: str, count: int, size: int) -> bool:
    if count >= size * 3 // 2:
        return True
    if count < max(1, size // 4):
        return False
    digest = int.from_bytes(hashlib.sha256(folder.encode("utf-8")).digest()[:8], "big")
    return digest % (2 * size if count < size else max(1, size // 4)) == 0


def batches(folders: Sequence[str], size: int) -> list[range]:
    """The batches (index ranges into ``folders``, in order) that ``folders`` are typeset in."""
    out: list[range] = []
    boundaries = Boundaries(size)
    start = 0
    for i, folder in enumerate(folders):
        if boundaries.starts(folder):
            out.append(range(start, i))
            start = i
    if folders:
        out.append(range(start, len(folders)))
    return out


def batch_of(folders: Sequence[str], index: int, size: int) -> range:
    """The indices of the folders typeset together with ``folders[index]``."""
    return next(r for r in batches(folders, size) if index in r)


# -- reading the documents ---------------------------------------------------------------------

@dataclass
class Unit:
    """One document's pages: the text between \\StartUnit and \\EndUnit."""

    lines: list[str]
    label: str  # the file it comes from, for messages ("S017/problems.tex")
    numbers: list[int]  # each line's number in that file

    @property
    def key(self) -> str:
        return "\n".join(self.lines).strip("\n")


@dataclass
class Document:
    path: Path
    label: str
    kind: str  # "single" (one unit), "assembly" (units typeset elsewhere) or "plain"
    preamble: str = ""
    units: list[Unit] = field(default_factory=list)
    front: list[bool] = field(default_factory=list)  # assembly: the next unit starts on a front side


def parse(path: Path, label: str, text: str | None = None) -> Document:
    """``path``'s document (its text: ``text`` or the file's)."""
    if text is None:
        text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    try:
        mark = lines.index(MARK)
    except ValueError:
        return Document(path, label, "plain")
    preamble = "\n".join(lines[: mark + 1]) + "\n"
    rest = lines[mark + 1:]
    if "\\StartUnit" in rest:
        doc = Document(path, label, "assembly", preamble)
        i = 0
        while i < len(rest):
            if rest[i] == "\\StartUnit":
                end = rest.index("\\EndUnit", i)
                doc.units.append(Unit(rest[i + 1: end], label, list(range(mark + 3 + i, mark + 2 + end))))
                following = next((line for line in rest[end + 1:] if line.strip()), "")
                doc.front.append(following == "\\FrontSide")
                i = end
            i += 1
        return doc
    try:
        begin = rest.index("\\begin{document}")
        end = len(rest) - 1 - rest[::-1].index("\\end{document}")
    except ValueError:
        return Document(path, label, "plain")
    numbers = [mark + 2 + i for i in range(begin)] + [mark + 2 + i for i in range(begin + 1, end)]
    unit = Unit(rest[:begin] + rest[begin + 1: end], label, numbers)
    return Document(path, label, "single", preamble, [unit])


def unit_text(text: str) -> str:
    """A LaTeX document's unit as a batch typesets it: its setup and body, without preamble and
    without \\begin{document} and \\end{document}."""
    doc = parse(Path("document.tex"), "document.tex", text)
    if doc.kind != "single":
        raise ValueError("not a document the LaTeX templates wrote (preamble mark, \\begin{document})")
    return doc.units[0].key


# -- formats -----------------------------------------------------------------------------------

def cache_dir() -> Path:
    """Where dumped formats are kept: $XDG_CACHE_HOME or ~/.cache, else the temporary folder."""
    folder = cache_folder("tex-formats")
    if folder is not None:
        return folder
    fallback = Path(tempfile.gettempdir()) / f"worksheetgen-{os.getuid()}" / "tex-formats"
    try:
        fallback.mkdir(parents=True, exist_ok=True)
    except OSError:
        pass
    if os.access(fallback, os.W_OK):
        return fallback
    raise TexError("no writable folder for the TeX formats (tried ~/.cache and the temporary folder)")


@lru_cache(maxsize=None)
def installation_id() -> str:
    """What a format depends on besides its preamble: the engine and the system's LaTeX format
    (updated whenever TeX Live's packages are), and mylatexformat."""
    parts = [FORMAT_VERSION]
    found = subprocess.run(["kpsewhich", "-engine=pdftex", "pdflatex.fmt", "mylatexformat.ltx"],
                           capture_output=True, text=True, env=pdf.environment()).stdout.split()
    engine = shutil.which("pdflatex")
    for name in [*found, os.path.realpath(engine) if engine else ""]:
        try:
            st = os.stat(name)
            parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            parts.append(name)
    if not any(p.endswith("mylatexformat.ltx") or "mylatexformat.ltx:" in p for p in parts):
        raise TexError("the LaTeX package mylatexformat is missing (Debian/Ubuntu: "
                       "sudo apt-get install texlive-latex-extra)")
    return "\n".join(parts)


def format_for(preamble: str, label: str) -> Path:
    """The dumped format of ``preamble`` (its path without the .fmt suffix), made if missing.
    Safe when several builds make the same one at once: each dumps in its own folder and
    renames the result into place."""
    key = hashlib.sha256((installation_id() + "\n" + preamble).encode("utf-8")).hexdigest()[:32]
    folder = cache_dir()
    target = folder / f"{key}.fmt"
    if target.exists():
        return target.with_suffix("")
    work = Path(tempfile.mkdtemp(prefix=".dump-", dir=folder))
    try:
        (work / "preamble.tex").write_text(preamble, encoding="utf-8")
        command = ["pdflatex", "-ini", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error",
                   "-no-shell-escape", f"-jobname={key}", "&pdflatex", "mylatexformat.ltx", "preamble.tex"]
        result = pdf.run_tex(command, work)
        made = work / f"{key}.fmt"
        if result.returncode != 0 or not made.exists():
            excerpt = pdf.log_excerpt(work / f"{key}.log", result.stdout)
            raise TexError(f"{label}: the preamble does not compile:\n{excerpt}")
        os.replace(made, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target.with_suffix("")


# -- batches -----------------------------------------------------------------------------------

@dataclass
class Batch:
    name: str
    preamble: str
    units: list[Unit]
    outputs: list[Path | None]  # per unit: where its PDF goes (None: only for an assembly)
    pages: list[tuple[int, int]] = field(default_factory=list)  # per unit: first, last (1-based)
    pdf: Path | None = None
    line_map: list[tuple[int, Unit]] = field(default_factory=list)  # (first batch line, unit)
    # The PDF as its cut read it, kept for a print document that takes its pages (its objects
    # are parsed already); dropped once the print document has them.
    source: pdfsplit.SourcePdf | None = None

    def size(self) -> int:
        return sum(len(u.lines) for u in self.units)


def batch_text(batch: Batch, format_path: Path, support: str) -> str:
    texts = ["\n".join(u.lines) for u in batch.units]
    reads_aux = any(_READS_AUX.search(text) for text in texts)
    head = [f"%&{format_path}"] + batch.preamble.rstrip("\n").split("\n")
    # Not kept in a format: set again. Without anything read from an .aux, none is written.
    # No object streams: the batch is cut by copying its objects' bytes (pdfsplit). Streams
    # compressed at zlib level 4 rather than 9: 6 % less TeX time, a student's PDF 1 % larger
    # (mostly fonts, which zlib packs about as well at either level).
    head += ["\\pdftrailerid{}", "\\pdfobjcompresslevel=0", "\\pdfcompresslevel=4"]
    head += [] if reads_aux else ["\\nofiles"]
    head += support.rstrip("\n").split("\n") + ["\\begin{document}"]
    out = head
    seen = Counter(code for text in texts for code in _FIGURE.findall(text))
    figures = {code: 0 for code, n in seen.items() if n > 1}
    batch.line_map = []
    for unit, text in zip(batch.units, texts):
        out.append("\\StartUnit")
        batch.line_map.append((len(out) + 1, unit))
        out.extend(_reuse_figures(text, figures).split("\n") if figures else unit.lines)
        out.append("\\EndUnit")
    out.append("\\end{document}")
    return "\n".join(out) + "\n"


def _reuse_figures(text: str, figures: dict[str, int]) -> str:
    """Typeset each tikzpicture that recurs in a batch once; where it recurs, place the same box
    again. Keeps the line count (log lines still point at the right unit line)."""
    def replace(match: re.Match[str]) -> str:
        code = match.group(0)
        if code not in figures:
            return code
        if not figures[code]:
            figures[code] = 1 + sum(1 for n in figures.values() if n)
            return f"\\FigureStart{code}\\FigureEnd{{{figures[code]}}}"
        n = code.count("\n")
        if n == 0:
            return f"\\FigureUse{{{figures[code]}}}"
        # The picture's last line ends in a space, as after \\end{tikzpicture}.
        return f"\\FigureUse{{{figures[code]}}}%\n" + "%\n" * (n - 1) + "{}"

    return _FIGURE.sub(replace, text)


def _batch_error(batch: Batch, exc: TexError) -> TexError:
    """The batch's log lines, pointing at the document (and its line) they come from."""
    message = str(exc)
    pattern = re.compile(re.escape(f"{batch.name}.tex") + r":(\d+):")
    culprit: Unit | None = None

    def where(line: int) -> tuple[Unit | None, int]:
        found = None
        for start, unit in batch.line_map:
            if start <= line:
                found = (unit, line - start)
        return found if found else (None, 0)

    def rewrite(match: re.Match[str]) -> str:
        nonlocal culprit
        unit, offset = where(int(match.group(1)))
        if unit is None:
            return match.group(0)
        culprit = culprit or unit
        return f"{unit.label}:{unit.numbers[min(offset, len(unit.numbers) - 1)]}:"

    text = pattern.sub(rewrite, message.split("\n", 1)[1] if "\n" in message else message)
    if culprit is None and batch.units:
        culprit = batch.units[0]
        names = ", ".join(u.label for u in batch.units[:3]) + (", ..." if len(batch.units) > 3 else "")
        return TexError(f"TeX failed on the documents {names}:\n{text}")
    return TexError(f"{culprit.label}: TeX failed:\n{text}")


def _read_pages(batch: Batch) -> None:
    listing = batch.pdf.with_suffix(".units")
    pages = [tuple(int(x) for x in line.split()) for line in listing.read_text().split("\n") if line.strip()]
    if len(pages) != len(batch.units):
        raise TexError(f"{batch.units[0].label}: the run recorded {len(pages)} of {len(batch.units)} documents")
    batch.pages = pages  # type: ignore[assignment]


def _save(document: "pikepdf.Pdf", path: Path) -> None:
    import pikepdf

    # The same pages give the same bytes: no random file id, no dates, no producer stamp.
    document.save(path, deterministic_id=True, compress_streams=True,
                  object_stream_mode=pikepdf.ObjectStreamMode.disable, fix_metadata_version=False)


def cut(source_path: Path, parts: Sequence[tuple[int, int, Path]],
        source: pdfsplit.SourcePdf | None = None) -> list[Path]:
    """Pages first..last (1-based) of ``source_path`` (read already: ``source``) into each ``out``."""
    try:
        if source is None:
            source = pdfsplit.SourcePdf.open(source_path)
        texts = [pdfsplit.compose([pdfsplit.Pages(source, first, last)]) for first, last, _ in parts]
    except pdfsplit.Unsupported:
        return _cut_with_pikepdf(source_path, parts)
    for folder in dict.fromkeys(Path(out).parent for _, _, out in parts):
        folder.mkdir(parents=True, exist_ok=True)
    made = []
    for data, (_, _, out) in zip(texts, parts):
        Path(out).write_bytes(data)
        made.append(Path(out))
    return made


def _cut_with_pikepdf(source_path: Path, parts: Sequence[tuple[int, int, Path]]) -> list[Path]:
    """:func:`cut` for a PDF that pdfsplit does not read (not one pdfTeX wrote for a batch)."""
    import pikepdf

    made = []
    with pikepdf.open(source_path) as source:
        for first, last, out in parts:
            part = pikepdf.new()
            part.pages.extend(source.pages[first - 1: last])
            Path(out).parent.mkdir(parents=True, exist_ok=True)
            _save(part, Path(out))
            made.append(Path(out))
    return made


def _assemble(doc: Document, found: list[tuple[Batch, int]], out: Path,
              ready: Callable[[Batch], None] = lambda batch: None) -> Path:
    """The pages of ``doc``'s units (unit i: page range ``found[i]`` of a batch) in one PDF.
    Each unit is copied as soon as its batch is typeset (``ready`` waits for it), while later
    batches still run: after the last batch, only its own pages are left to copy."""
    composer = pdfsplit.Composer()
    sources: dict[str, pdfsplit.SourcePdf] = {}  # each batch's PDF read once
    count = 0
    try:
        for (batch, i), front in zip(found, doc.front):
            ready(batch)
            first, last = batch.pages[i]
            source = sources.get(batch.name)
            if source is None:  # as its cut read it, if a print document was known to take it then
                source = sources[batch.name] = batch.source or pdfsplit.SourcePdf.open(batch.pdf)
                batch.source = None
            composer.add(pdfsplit.Pages(source, first, last))
            count += last - first + 1
            if front and count % 2:
                composer.add(pdfsplit.BlankPage(source.media_box(source.pages[last - 1])))
                count += 1
        out.write_bytes(composer.finish())
    except pdfsplit.Unsupported:
        for batch, _ in found:
            ready(batch)
        return _assemble_with_pikepdf(doc, found, out)
    return out


def _assemble_with_pikepdf(doc: Document, found: list[tuple[Batch, int]], out: Path) -> Path:
    import pikepdf

    sources: dict[Path, pikepdf.Pdf] = {}
    whole = pikepdf.new()
    try:
        for (batch, i), front in zip(found, doc.front):
            source = sources.get(batch.pdf)
            if source is None:
                source = sources[batch.pdf] = pikepdf.open(batch.pdf)
            first, last = batch.pages[i]
            whole.pages.extend(source.pages[first - 1: last])
            if front and len(whole.pages) % 2:
                box = whole.pages[-1].mediabox
                whole.add_blank_page(page_size=(float(box[2]) - float(box[0]), float(box[3]) - float(box[1])))
        _save(whole, out)
    finally:
        for source in sources.values():
            source.close()
    return out


# -- the whole stage ---------------------------------------------------------------------------

class Gate:
    """At most ``limit`` TeX processes at once; the limit can change while they run. A free
    slot goes to the waiting task whose priority (read when the slot frees: it may change
    meanwhile) is lowest, then to the one that came first."""

    def __init__(self, limit: int) -> None:
        self._cond = threading.Condition()
        self._limit = limit
        self._active = 0
        self._waiting: list[tuple[int, Callable[[], tuple[int, ...]]]] = []
        self._tickets = itertools.count()

    def set(self, limit: int) -> None:
        with self._cond:
            self._limit = limit
            self._cond.notify_all()

    def _next(self) -> int:
        return min(self._waiting, key=lambda w: (w[1](), w[0]))[0]

    @contextmanager
    def slot(self, priority: Callable[[], tuple[int, ...]] = lambda: (0,)) -> Iterator[None]:
        with self._cond:
            ticket = next(self._tickets)
            self._waiting.append((ticket, priority))
            self._cond.wait_for(lambda: self._active < self._limit and self._next() == ticket)
            self._waiting = [w for w in self._waiting if w[0] != ticket]
            self._active += 1
            self._cond.notify_all()
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()


# What waits for a TeX slot goes first: a format (batches wait for it); then a batch whose pages
# an assembly takes (the print document is put together as they come in) or a document compiled
# on its own (the instructor key); then any other batch. Within a class, the longest text first:
# when the build has made its last student and several wait, the longest no longer starts last
# and runs alone on one core at the end (a 76-student batch after a 7-student one cost 2 s of one
# idle core), and the key (a few tenths of a second, one pass) fills in beside the last batches.
_FIRST, _SOON, _BATCH = 0, 1, 2


class Typesetter:
    """The PDF stage of one build. Documents may be handed over while the build still renders
    the next students (:meth:`add`, in plan order): a batch is typeset as soon as its students
    are in, on ``jobs - 1`` processes while the build is busy and ``jobs`` afterwards.
    :meth:`finish` takes the written .tex files, typesets what was not handed over (or differs
    from it), and puts each PDF beside its .tex."""

    def __init__(self, *, support: str, batch: int, jobs: int | None = None,
                 progress: Progress | None = None, early: bool = False, root: Path | None = None) -> None:
        self.support = support
        self.batch = batch
        self.jobs = max(1, jobs or os.cpu_count() or 1)
        self.progress = progress
        self.early = early
        self.gate = Gate(max(1, self.jobs - 1) if early else self.jobs)
        # Tasks wait for TeX at the gate (which orders them), not in the pool's queue.
        self.pool = ThreadPoolExecutor(max_workers=64)
        _remove_stale_work()
        self.work = Path(tempfile.mkdtemp(prefix=f"worksheetgen-tex-{os.getpid()}-"))
        self.formats: dict[str, Future[Path]] = {}
        self.futures: list[Future[None]] = []
        self.batch_futures: dict[str, Future[None]] = {}  # by batch name
        self.assembled: set[str] = set()  # batches whose pages an assembly takes
        self.batched: set[str] = set()  # folders whose documents are in a batch
        self.boundaries = Boundaries(batch)
        self.pending: list[Document] = []
        self.others: list[Document] = []
        self.added: dict[str, int] = {}  # label → size in bytes of the text handed over
        self.by_key: dict[str, tuple[Batch, int]] = {}
        self.made: dict[str, Path] = {}  # label → its PDF in the work folder
        self.labels: dict[Path, str] = {}  # a PDF cut → its document's label
        # Where a document's PDF is cut to: beside its .tex under ``root`` (the build's folder,
        # whose .tex files the build writes later), else the work folder.
        self.root = root
        self.batches: list[Batch] = []
        self.total = 0
        self.done = 0
        self.reporting = False
        self.lock = threading.Lock()

    # -- handing documents over -----------------------------------------------------------------
    def add(self, label: str, text: str) -> None:
        """A document (``label``: its path in the build, e.g. ``S017/problems.tex``)."""
        self.added[label] = len(text.encode("utf-8"))
        doc = parse(self.work / "documents" / label, label, text)
        folder = label.rsplit("/", 1)[0] if "/" in label else ""
        if doc.kind == "plain" and self.early:
            # Handed over early (the build is still writing): compiled now, in the work folder.
            doc.path = self.work / "plain" / label
            doc.path.parent.mkdir(parents=True, exist_ok=True)
            doc.path.write_text(text, encoding="utf-8")
            self.made[label] = doc.path.with_suffix(".pdf")
            self.total += 1
            self.futures.append(self.pool.submit(self._run_plain, doc))
            return
        if doc.kind != "single":
            self.others.append(doc)
            if doc.kind == "assembly":
                self._mark_assembled(doc)
            return
        if folder not in self.batched:
            self.batched.add(folder)
            if self.boundaries.starts(folder):
                self._flush()
        self.pending.append(doc)

    def flush(self) -> None:
        """Every variant is in: typeset the last batch without waiting for :meth:`finish`."""
        self._flush()

    def _flush(self) -> None:
        groups: dict[str, Batch] = {}
        for doc in self.pending:
            group = groups.get(doc.preamble)
            if group is None:
                group = groups[doc.preamble] = Batch(f"batch-{len(self.batches) + 1:03d}", doc.preamble, [], [])
                self.batches.append(group)
            unit = doc.units[0]
            self.by_key.setdefault(unit.key, (group, len(group.units)))
            group.units.append(unit)
            group.outputs.append(self._output(doc.label))
        self.pending = []
        for group in groups.values():
            self._submit(group)

    def _output(self, label: str) -> Path:
        """Where the PDF of document ``label`` is cut to: its place in the build's folder, or
        one work folder for all (numbered in the order handed over: a folder per student would
        be 500 more directories to create, on file systems where creating is what costs)."""
        if self.root is not None:
            out = (self.root / label).with_suffix(".pdf")
        else:
            out = self.work / "out" / f"{len(self.labels):05d}.pdf"
        self.labels[out] = label
        return out

    def _submit(self, group: Batch) -> None:
        if group.preamble not in self.formats:
            self.formats[group.preamble] = self.pool.submit(self._format, group.preamble, group.units[0].label)
        self.total += sum(1 for o in group.outputs if o is not None)
        future = self.pool.submit(self._run_batch, group)
        self.batch_futures[group.name] = future
        self.futures.append(future)

    def _format(self, preamble: str, label: str) -> Path:
        with self.gate.slot(lambda: (_FIRST,)):
            return format_for(preamble, label)

    def _run_batch(self, group: Batch) -> None:
        tex = self.work / f"{group.name}.tex"
        fmt = self.formats[group.preamble].result()
        text = batch_text(group, fmt, self.support)
        tex.write_text(text, encoding="utf-8")
        with self.gate.slot(lambda: (_SOON if group.name in self.assembled else _BATCH, -len(text))):
            try:
                group.pdf = pdf.compile_pdf(tex)
            except TexError as exc:
                if not _BAD_FORMAT.search(str(exc)):
                    raise _batch_error(group, exc) from None
                # A cached format this engine cannot load (truncated, another TeX): dump it again.
                fmt.with_suffix(".fmt").unlink(missing_ok=True)
                format_for(group.preamble, group.units[0].label)
                try:
                    group.pdf = pdf.compile_pdf(tex)
                except TexError as again:
                    raise _batch_error(group, again) from None
        _read_pages(group)
        parts = [(first, last, out) for (first, last), out in zip(group.pages, group.outputs) if out is not None]
        try:
            source = pdfsplit.SourcePdf.open(group.pdf)
        except pdfsplit.Unsupported:
            source = None
        made = cut(group.pdf, parts, source) if parts else []
        if source is not None and group.name in self.assembled:
            group.source = source
        for out in made:
            self.made[self.labels[out]] = out
        self._tick(len(made))

    def _run_plain(self, doc: Document) -> None:
        size = doc.path.stat().st_size
        with self.gate.slot(lambda: (_SOON, -size)):
            try:
                pdf.compile_pdf(doc.path)
            except TexError as exc:
                raise TexError(f"{doc.label}: {exc}") from None
        self._tick(1)

    def _tick(self, n: int) -> None:
        with self.lock:
            self.done += n
            if self.progress and self.reporting:
                self.progress("typesetting", self.done, self.total)

    # -- the written files ------------------------------------------------------------------------
    def finish(self, sources: Sequence[Path]) -> list[Path]:
        """The PDFs of ``sources`` (the written .tex files, grouped by variant folder in plan
        order), beside them."""
        sources = [Path(p) for p in sources if Path(p).suffix == ".tex"]
        if not sources:
            return []
        root = Path(os.path.commonpath([p.parent for p in sources]))
        labels = {p: p.relative_to(root).as_posix() for p in sources}
        if any(labels[p] in self.added and self.added[labels[p]] != p.stat().st_size for p in sources):
            # Not what was handed over (cannot happen when the build writes what it rendered):
            # typeset the written files afresh rather than trust the early batches.
            return typeset(sources, support=self.support, batch=self.batch, jobs=self.jobs, progress=self.progress)
        for path in sources:
            if labels[path] not in self.added:
                self.add(labels[path], path.read_text(encoding="utf-8"))
        self._flush()
        # Plain documents compile where they are written (their own .aux, passes as needed).
        plain, assemblies = [], []
        assemblies_made: list[Path] = []
        for doc in self.others:
            written = next((p for p in sources if labels[p] == doc.label), None)
            if written is None:
                continue
            doc.path = written
            (plain if doc.kind == "plain" else assemblies).append(doc)
        self._assembly_units(assemblies)
        for doc in sorted(plain, key=lambda d: -d.path.stat().st_size):
            self.total += 1
            self.futures.append(self.pool.submit(self._run_plain, doc))
        self.total += len(assemblies)
        self.gate.set(self.jobs)
        with self.lock:
            self.reporting = True
            if self.progress and self.done:
                self.progress("typesetting", self.done, self.total)
        # Each print document takes each batch's pages as soon as that batch is typeset (while
        # the others and the plain documents compile), in its own page order.
        for doc in assemblies:
            found = [self.by_key[u.key] for u in doc.units]
            assemblies_made.append(_assemble(doc, found, doc.path.with_suffix(".pdf"),
                                             lambda batch: self.batch_futures[batch.name].result()))
            self._tick(1)
        for future in self.futures:
            future.result()
        made = []
        for path in sources:
            out = self.made.get(labels[path])
            if out is not None:
                target = path.with_suffix(".pdf")
                _move(out, target)
                made.append(target)
            elif any(d.path == path for d in plain):
                made.append(path.with_suffix(".pdf"))
        made.extend(assemblies_made)
        order = {p.with_suffix(".pdf"): i for i, p in enumerate(sources)}
        return sorted(made, key=lambda p: order.get(p, len(order)))

    def _mark_assembled(self, doc: Document) -> None:
        """The batches holding ``doc``'s units go before other batches from now on."""
        with self.gate._cond:
            self.assembled.update(self.by_key[u.key][0].name for u in doc.units if u.key in self.by_key)

    def _assembly_units(self, assemblies: list[Document]) -> None:
        """Units of an assembly that no document of their own brought: typeset for it alone."""
        groups: dict[str, Batch] = {}
        for doc in assemblies:
            self._mark_assembled(doc)
            for unit in doc.units:
                if unit.key in self.by_key:
                    continue
                group = groups.get(doc.preamble)
                if group is None:
                    group = groups[doc.preamble] = Batch(f"batch-{len(self.batches) + 1:03d}", doc.preamble, [], [])
                    self.batches.append(group)
                self.by_key[unit.key] = (group, len(group.units))
                group.units.append(unit)
                group.outputs.append(None)
        for group in groups.values():
            self.assembled.add(group.name)
            self._submit(group)

    def close(self) -> None:
        """Stop (the queued batches are dropped; running ones finish) and remove the work."""
        try:
            self.pool.shutdown(wait=True, cancel_futures=True)
        finally:
            shutil.rmtree(self.work, ignore_errors=True)


def _remove_stale_work() -> None:
    """Work folders of builds that were killed (their process is gone) are removed."""
    for folder in Path(tempfile.gettempdir()).glob("worksheetgen-tex-*-*"):
        try:
            os.kill(int(folder.name.split("-")[2]), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (ValueError, PermissionError, OSError):
            continue


def _move(source: Path, target: Path) -> None:
    if source == target:  # cut into its place already
        return
    try:
        os.replace(source, target)
    except OSError:  # another file system
        shutil.copyfile(source, target)


def typeset(sources: Sequence[Path], *, support: str, batch: int, jobs: int | None = None,
            progress: Progress | None = None) -> list[Path]:
    """PDFs of the .tex files ``sources`` (beside them). Sources come grouped by variant folder,
    in plan order; every ``batch`` folders are typeset together."""
    typesetter = Typesetter(support=support, batch=batch, jobs=jobs, progress=progress)
    try:
        return typesetter.finish(sources)
    finally:
        typesetter.close()

