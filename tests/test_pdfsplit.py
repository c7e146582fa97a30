"""Cutting and joining PDFs by copying objects (worksheetgen/pdfsplit.py): the pages come out
pixel-identical to what a full PDF library (pikepdf) makes of the same pages, references are
renumbered only where they are references (never inside strings or stream data), and a PDF of
another shape is handed to pikepdf instead."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

import pikepdf
import pytest

from conftest import require_tex
from worksheetgen import pdf, pdfsplit, texbatch


def classic_pdf(objects: dict[int, bytes], root: int) -> bytes:
    """A PDF with a classic cross-reference table, as pdfTeX writes with \\pdfobjcompresslevel=0."""
    out = bytearray(b"%PDF-1.5\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + objects[number] + b"\nendobj\n"
    size = max(objects) + 1
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for number in range(1, size):
        out += b"%010d 00000 n \n" % offsets[number] if number in offsets else b"0000000000 65535 f \n"
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, root, xref)
    return bytes(out)


def stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s>>\nstream\n" % (len(data), extra) + data + b"\nendstream"


# Three pages. Page 2's content and a string in its annotation hold text that looks like
# references ("9 0 R"); objects 20.. are numbered far from where they are written, with gaps.
PAGE = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Resources 21 0 R /Contents %d 0 R%s >>"
OBJECTS = {
    1: b"<< /Type /Catalog /Pages 2 0 R >>",
    2: b"<< /Type /Pages /Count 3 /Kids [3 0 R 4 0 R 5 0 R] >>",
    3: PAGE % (30, b""),
    4: PAGE % (31, b" /Annots [40 0 R]"),
    5: PAGE % (32, b""),
    21: b"<< /Font << /F1 22 0 R >> /ProcSet [/PDF /Text] >>",
    22: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Comment (a (nested) 9 0 R \\) string) >>",
    30: stream(b"BT /F1 12 Tf 10 50 Td (one) Tj ET"),
    31: stream(b"BT /F1 12 Tf 10 50 Td (two 9 0 R) Tj ET"),
    32: stream(b"BT /F1 12 Tf 10 50 Td (three) Tj ET", b"/Hex <3920302052> "),
    40: b"<< /Type /Annot /Subtype /Text /Rect [0 0 10 10] /Contents (see 3 0 R) >>",
}


def test_a_cut_holds_its_pages_and_what_they_use_renumbered() -> None:
    source = pdfsplit.SourcePdf(classic_pdf(OBJECTS, 1), "three.pdf")
    assert source.pages == [3, 4, 5]
    data = pdfsplit.compose([pdfsplit.Pages(source, 2, 2)])
    with pikepdf.open(_bytes_io(data)) as cut:
        assert len(cut.pages) == 1
        page = cut.pages[0]
        assert page.Contents.read_bytes() == b"BT /F1 12 Tf 10 50 Td (two 9 0 R) Tj ET"
        assert str(page.Resources.Font.F1.Comment) == "a (nested) 9 0 R ) string"
        assert str(page.Annots[0].Contents) == "see 3 0 R"
    # Only page 2's objects: catalog, page tree, page, its resources, font, content, annotation.
    assert len(re.findall(rb"^\d+ 0 obj$", data, re.M)) == 7
    assert b"(three)" not in data and b"(one)" not in data


def test_pages_of_several_sources_and_a_blank_page_make_one_pdf() -> None:
    first = pdfsplit.SourcePdf(classic_pdf(OBJECTS, 1), "a.pdf")
    second = pdfsplit.SourcePdf(classic_pdf(OBJECTS, 1), "b.pdf")
    data = pdfsplit.compose([pdfsplit.Pages(first, 1, 1), pdfsplit.BlankPage(first.media_box(3)),
                             pdfsplit.Pages(second, 2, 3)])
    with pikepdf.open(_bytes_io(data)) as whole:
        assert whole.check_pdf_syntax() == []
        shown = [re.search(rb"\((.*)\) Tj", p.Contents.read_bytes()).group(1) if "/Contents" in p else b""
                 for p in whole.pages]
        assert shown == [b"one", b"", b"two 9 0 R", b"three"]
        assert [float(x) for x in whole.pages[1].MediaBox] == [0, 0, 200, 100]
    # A font both pages of the second source use is written once for them (and once for the first).
    assert data.count(b"/BaseFont /Helvetica") == 2


def test_the_same_pages_give_the_same_bytes() -> None:
    a = pdfsplit.compose([pdfsplit.Pages(pdfsplit.SourcePdf(classic_pdf(OBJECTS, 1)), 1, 3)])
    b = pdfsplit.compose([pdfsplit.Pages(pdfsplit.SourcePdf(classic_pdf(OBJECTS, 1)), 1, 3)])
    assert a == b


def _with(number: int, old: bytes, new: bytes) -> dict[int, bytes]:
    return {**OBJECTS, number: OBJECTS[number].replace(old, new)}


@pytest.mark.parametrize("data, why", [
    (classic_pdf(OBJECTS, 1).replace(b"\nxref\n", b"\nXREF\n"), "cross-reference stream"),
    (classic_pdf(_with(2, b"/Count", b"/MediaBox [0 0 9 9] /Count"), 1), "inherit"),
    (classic_pdf(_with(40, b"/Contents (see 3 0 R)", b"/Dest [5 0 R /Fit]"), 1), "another page"),
])
def test_a_pdf_of_another_shape_is_refused(data: bytes, why: str) -> None:
    with pytest.raises(pdfsplit.Unsupported, match=why):
        pdfsplit.compose([pdfsplit.Pages(pdfsplit.SourcePdf(data, "odd.pdf"), 2, 2)])


def test_cut_falls_back_to_pikepdf_on_object_streams(tmp_path: Path) -> None:
    packed = tmp_path / "packed.pdf"
    with pikepdf.open(_bytes_io(classic_pdf(OBJECTS, 1))) as doc:
        doc.save(packed, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    with pytest.raises(pdfsplit.Unsupported):
        pdfsplit.SourcePdf.open(packed)
    made = texbatch.cut(packed, [(1, 2, tmp_path / "a.pdf"), (3, 3, tmp_path / "b.pdf")])
    with pikepdf.open(made[0]) as a, pikepdf.open(made[1]) as b:
        assert len(a.pages) == 2 and len(b.pages) == 1
        assert b.pages[0].Contents.read_bytes().endswith(b"(three) Tj ET")


@pytest.mark.pdf
def test_pages_typeset_by_pdftex_are_pixel_identical_to_pikepdfs_copy(tmp_path: Path) -> None:
    require_tex()
    body = "\n".join(f"\\section*{{Part {i}}}\\lipsum[{i}] $\\int_0^{i} x^2\\,dx = \\frac{{{i}^3}}{{3}}$ "
                     f"\\begin{{tikzpicture}}\\draw (0,0) circle ({i / 4}); \\end{{tikzpicture}}\\newpage"
                     for i in range(1, 7))
    tex = tmp_path / "doc.tex"
    tex.write_text("\\documentclass{article}\\usepackage{lipsum,tikz,lmodern}\\usepackage[T1]{fontenc}\n"
                   "\\pdfobjcompresslevel=0\\pdfinfoomitdate=1\\pdftrailerid{}\n"
                   f"\\begin{{document}}\n{body}\n\\end{{document}}\n", encoding="utf-8")
    pdf.compile_pdf(tex)
    source = tex.with_suffix(".pdf")
    ours = tmp_path / "ours.pdf"
    theirs = tmp_path / "theirs.pdf"
    ours.write_bytes(pdfsplit.compose([pdfsplit.Pages(pdfsplit.SourcePdf.open(source), 2, 4)]))
    texbatch._cut_with_pikepdf(source, [(2, 4, theirs)])
    assert ours.stat().st_size < source.stat().st_size
    with pikepdf.open(ours) as opened:
        assert opened.check_pdf_syntax() == []  # qpdf's own check of the file's structure
    for name in ("ours", "theirs"):
        subprocess.run(["pdftoppm", "-r", "40", "-png", str(tmp_path / f"{name}.pdf"), str(tmp_path / name)], check=True)
    images = sorted(tmp_path.glob("ours-*.png"))
    assert len(images) == 3
    for image in images:
        assert image.read_bytes() == (tmp_path / image.name.replace("ours", "theirs")).read_bytes()


def _bytes_io(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)
