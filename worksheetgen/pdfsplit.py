"""Pages of the PDFs pdfTeX writes, copied into new PDFs as they are: object by object, bytes
for bytes.

A batch run typesets some 60 students in one PDF, which is then cut into 120 PDFs, and the class's
print document is put together from the pages of a dozen batches. A general PDF library
(pikepdf) parses every object, copies it through its object model and serializes it again:
about 5 ms a PDF, which on 500 students cost more CPU than one of the two TeX passes it serves.
Here nothing is parsed but what has to be: the cross-reference table (where each object is), the
page tree, and the references in each object's dictionary (to know which objects a page needs
and to number them afresh). Stream data, fonts included, is copied untouched.

This reads what pdfTeX writes with ``\\pdfobjcompresslevel=0`` (classic cross-reference table,
no object streams; texbatch sets it for its runs). A PDF outside that shape raises
:class:`Unsupported`, and the caller falls back to pikepdf.

The same pages give the same bytes: objects are numbered in the order the pages first need
them, no dates, no random file id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, Union


class Unsupported(Exception):
    """A PDF this module does not read (object streams, cross-reference streams, pages that
    inherit attributes from the page tree, links between pages): use a full PDF library."""


# What matters in a dictionary: strings and comments (skipped: their text is not syntax), hex
# strings, references, and the keyword that starts stream data (where the dictionary ends).
_SCAN = re.compile(rb"<<|[(%<]|(\d+)\s+(\d+)\s+R(?![A-Za-z0-9_])|(?<=[\s>])stream(?=\r?\n)")
_OBJ_HEAD = re.compile(rb"\s*(\d+)\s+(\d+)\s+obj\b")
_TYPE = re.compile(rb"/Type\s*/(\w+)")
_PAGES_REF = re.compile(rb"/Pages\s+(\d+)\s+0\s+R")
_KIDS = re.compile(rb"/Kids\s*\[([^\]]*)\]")
_REF = re.compile(rb"(\d+)\s+0\s+R")
_INHERITED = re.compile(rb"/(?:Resources|MediaBox|CropBox|Rotate)\b")
_MEDIABOX = re.compile(rb"/MediaBox\s*\[([^\]]*)\]")


@dataclass
class _Object:
    body: int  # offset of the object's content, after "N G obj"
    stop: int  # where its dictionary ends (the stream keyword, or its end)
    refs: list[int]  # the object numbers its dictionary refers to, in order
    # Its bytes from ``body`` up to and including "endobj", cut at each reference: one more
    # piece than references (slices of the source, copied only into an output).
    pieces: list[memoryview]
    _children: list[int] | None = None

    def children(self, page_tree: set[int]) -> list[int]:
        """The objects it refers to that a copy takes along (not the page tree), last first:
        the order a depth-first walk pushes them in."""
        if self._children is None:
            self._children = [ref for ref in reversed(self.refs) if ref not in page_tree]
        return self._children


class SourcePdf:
    """One PDF's objects, read lazily from its bytes."""

    def __init__(self, data: bytes, name: str = "") -> None:
        self.data = data
        self.name = name
        self.header = data[: data.index(b"\n") + 1] if data.startswith(b"%PDF-") else b"%PDF-1.5\n"
        self._view = memoryview(data)
        self.offsets = self._xref()
        self._objects: dict[int, _Object] = {}
        self.page_tree: set[int] = set()
        self.pages = self._pages()
        self.page_set = frozenset(self.pages)

    @classmethod
    def open(cls, path: Path) -> "SourcePdf":
        return cls(Path(path).read_bytes(), str(path))

    # -- reading ---------------------------------------------------------------------------------
    def _xref(self) -> dict[int, int]:
        data = self.data
        at = data.rfind(b"startxref")
        if at < 0:
            raise Unsupported(f"{self.name}: no startxref")
        start = int(data[at + 9: data.index(b"%%EOF", at)].strip())
        if not data.startswith(b"xref", start):
            raise Unsupported(f"{self.name}: a cross-reference stream (object streams)")
        trailer = data.index(b"trailer", start)
        self.trailer = data[trailer: data.index(b"startxref", trailer)]
        if b"/Prev" in self.trailer or b"/Encrypt" in self.trailer:
            raise Unsupported(f"{self.name}: an updated or encrypted PDF")
        lines = data[start + 4: trailer].split()
        offsets: dict[int, int] = {}
        i = 0
        while i < len(lines):
            first, count = int(lines[i]), int(lines[i + 1])
            i += 2
            for n in range(first, first + count):
                offset, _, kind = lines[i: i + 3]
                if kind == b"n":
                    offsets[n] = int(offset)
                i += 3
        self._ends = sorted(offsets.values()) + [start]
        self._next = {o: self._ends[k + 1] for k, o in enumerate(self._ends[:-1])}
        return offsets

    def obj(self, number: int) -> _Object:
        found = self._objects.get(number)
        if found is not None:
            return found
        try:
            offset = self.offsets[number]
        except KeyError:
            raise Unsupported(f"{self.name}: object {number} is not in the table") from None
        data = self.data
        head = _OBJ_HEAD.match(data, offset)
        if head is None or int(head.group(1)) != number:
            raise Unsupported(f"{self.name}: object {number} is not where the table says")
        end = self._next[offset]
        closing = data.rfind(b"endobj", head.end(), end)
        if closing < 0:
            raise Unsupported(f"{self.name}: object {number} has no endobj")
        stop, spans = self._scan(head.end(), closing)
        view = self._view
        pieces, pos = [], head.end()
        for a, b, _ in spans:
            pieces.append(view[pos:a])
            pos = b
        pieces.append(view[pos:end])
        found = self._objects[number] = _Object(head.end(), stop, [ref for _, _, ref in spans], pieces)
        return found

    def _scan(self, start: int, end: int) -> tuple[int, list[tuple[int, int, int]]]:
        data = self.data
        refs = []
        pos = start
        while True:
            m = _SCAN.search(data, pos, end)
            if m is None:
                return end, refs
            token = m.group(0)
            if m.group(1) is not None:
                if m.group(2) != b"0":
                    raise Unsupported(f"{self.name}: a reference to a generation other than 0")
                refs.append((m.start(), m.end(), int(m.group(1))))
                pos = m.end()
            elif token == b"(":
                pos = _skip_string(data, m.end(), end)
            elif token == b"%":
                eol = data.find(b"\n", m.end(), end)
                pos = end if eol < 0 else eol + 1
            elif token == b"<<":
                pos = m.end()
            elif token == b"<":
                close = data.find(b">", m.end(), end)
                pos = end if close < 0 else close + 1
            else:  # stream: the rest is data
                return m.start(), refs

    def dictionary(self, number: int) -> bytes:
        o = self.obj(number)
        return self.data[o.body: o.stop]

    def _pages(self) -> list[int]:
        root = re.search(rb"/Root\s+(\d+)\s+0\s+R", self.trailer)
        if root is None:
            raise Unsupported(f"{self.name}: no /Root")
        found = _PAGES_REF.search(self.dictionary(int(root.group(1))))
        if found is None:
            raise Unsupported(f"{self.name}: no page tree")
        pages: list[int] = []
        stack = [int(found.group(1))]
        while stack:  # depth first, kids in order: the pages in document order
            number = stack.pop()
            text = self.dictionary(number)
            kind = _TYPE.search(text)
            if kind is not None and kind.group(1) == b"Pages":
                if _INHERITED.search(text):
                    raise Unsupported(f"{self.name}: pages inherit attributes from the page tree")
                self.page_tree.add(number)
                kids = _KIDS.search(text)
                if kids is None:
                    raise Unsupported(f"{self.name}: a page tree node without /Kids")
                stack.extend(reversed([int(k) for k in _REF.findall(kids.group(1))]))
            elif kind is not None and kind.group(1) == b"Page":
                pages.append(number)
            else:
                raise Unsupported(f"{self.name}: object {number} in the page tree is not a page")
        return pages

    def media_box(self, page: int) -> bytes:
        box = _MEDIABOX.search(self.dictionary(page))
        if box is None:
            raise Unsupported(f"{self.name}: a page without its own /MediaBox")
        return box.group(1).strip()


def _skip_string(data: bytes, pos: int, end: int) -> int:
    """Past the literal string whose "(" ends before ``pos`` (nested parentheses, escapes)."""
    depth = 1
    while pos < end:
        c = data[pos]
        if c == 0x5C:  # backslash: the next byte is escaped
            pos += 2
            continue
        if c == 0x28:
            depth += 1
        elif c == 0x29:
            depth -= 1
            if depth == 0:
                return pos + 1
        pos += 1
    raise Unsupported("an unterminated string")


@dataclass(frozen=True)
class Pages:
    """Pages ``first`` to ``last`` (1-based, inclusive) of ``source``."""

    source: SourcePdf
    first: int
    last: int


@dataclass(frozen=True)
class BlankPage:
    """An empty page (a duplex print document starts each exam on a front side)."""

    media_box: bytes


Part = Union[Pages, BlankPage]
_CATALOG, _PAGE_TREE = 1, 2


def compose(parts: Sequence[Part]) -> bytes:
    """One PDF of ``parts``' pages, in order. Objects several pages share (fonts, resources of
    the same source) are written once."""
    composer = Composer()
    for part in parts:
        composer.add(part)
    return composer.finish()


class Composer:
    """:func:`compose`, part by part: each part's objects are numbered and copied when it is
    added (a print document takes a batch's pages while later batches are still being
    typeset), and :meth:`finish` puts the catalog and the page tree in front. The bytes are
    those of composing all parts at once."""

    def __init__(self) -> None:
        # per source (by id): its object numbers -> the new ones
        self.numbers: dict[int, dict[int, int]] = {}
        self.kids: list[int] = []
        self.body = bytearray()  # the objects after the page tree, in number order
        self.offsets: list[int] = [0] * (_PAGE_TREE + 1)  # into ``body``
        self.header = b""
        self.sources: list[SourcePdf] = []  # kept alive: their ids are keys of ``numbers``

    @property
    def next_number(self) -> int:
        return len(self.offsets)

    def add(self, part: Part) -> None:
        body, offsets = self.body, self.offsets
        if isinstance(part, BlankPage):
            number = len(offsets)
            self.kids.append(number)
            offsets.append(len(body))
            body += b"%d 0 obj\n<< /Type /Page /Parent %d 0 R /MediaBox [%s] /Resources << >> >>\nendobj\n" % (
                number, _PAGE_TREE, part.media_box)
            return
        source = part.source
        if not self.header:
            self.header = source.header
        numbers = self.numbers.get(id(source))
        if numbers is None:
            numbers = self.numbers[id(source)] = {}
            self.sources.append(source)
        if not 1 <= part.first <= part.last <= len(source.pages):
            raise ValueError(f"{source.name}: pages {part.first}-{part.last} of {len(source.pages)}")
        wanted = source.pages[part.first - 1: part.last]
        wanted_set = frozenset(wanted)
        page_tree, page_set, obj = source.page_tree, source.page_set, source.obj
        stack = list(reversed(wanted))
        order: list[int] = []
        first = len(offsets)
        while stack:  # depth first from each page, in page order: a stable numbering
            number = stack.pop()
            if number in numbers:
                continue
            numbers[number] = first + len(order)
            order.append(number)
            for ref in obj(number).children(page_tree):
                if ref in page_set and ref not in wanted_set:
                    raise Unsupported(f"{source.name}: page {number} refers to another page")
                if ref not in numbers:
                    stack.append(ref)
        self.kids.extend(numbers[p] for p in wanted)
        for number in order:
            o = obj(number)
            offsets.append(len(body))
            body += b"%d 0 obj\n" % numbers[number]
            pieces = o.pieces
            body += pieces[0]
            k = 1
            for ref in o.refs:
                # the page's /Parent: the new page tree takes its place
                body += b"%d 0 R" % (_PAGE_TREE if ref in page_tree else numbers[ref])
                body += pieces[k]
                k += 1
            if body[-1] != 0x0A:
                body += b"\n"

    def finish(self) -> bytes:
        """The PDF of every part added."""
        head = bytearray(self.header or b"%PDF-1.5\n")
        head += b"%\xd0\xd4\xc5\xd8\n"
        catalog = len(head)
        head += b"%d 0 obj\n<< /Type /Catalog /Pages %d 0 R >>\nendobj\n" % (_CATALOG, _PAGE_TREE)
        tree = len(head)
        head += b"%d 0 obj\n<< /Type /Pages /Count %d /Kids [%s] >>\nendobj\n" % (
            _PAGE_TREE, len(self.kids), b" ".join(b"%d 0 R" % k for k in self.kids))
        shift = len(head)
        count = self.next_number
        xref = shift + len(self.body)
        tail = bytearray(b"xref\n0 %d\n0000000000 65535 f \n" % count)
        tail += b"%010d 00000 n \n%010d 00000 n \n" % (catalog, tree)
        tail += b"".join(b"%010d 00000 n \n" % (shift + self.offsets[n]) for n in range(_PAGE_TREE + 1, count))
        tail += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (count, _CATALOG, xref)
        return b"".join((head, self.body, tail))


