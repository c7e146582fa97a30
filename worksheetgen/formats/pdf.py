"""PDFs, made from the LaTeX files by a real TeX engine, without shell escape.

The documents are typeset in batches (worksheetgen/texbatch.py): ``batch`` variants at a time
in one pdflatex run on a preamble format dumped once, then cut into one PDF per document. A
reprint of one student typesets that student's batch again (the driver asks :meth:`companions`),
so the reprinted PDF has the bytes of the full build's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from worksheetgen import pdf, texbatch
from worksheetgen.formats import Format


class Pdf(Format):
    name = "pdf"
    description = "PDF typeset by pdflatex from the .tex files"
    suffix = "pdf"
    needs = ("tex",)
    # Variants typeset in one run, on average (texbatch.Boundaries). A run costs 0.14 s before
    # its first page (format, fonts) and 10-20 ms a student: 60 saves a third of the runs of 40
    # (1.2 s of CPU on 500 students); a reprint retypesets that many, and the build's last batch
    # is typeset after the last student is made.
    batch = 60

    def available(self) -> bool:
        return pdf.tex_available()

    install_hint = pdf.INSTALL_HINT

    def companions(self, folders: Sequence[str], index: int) -> range:
        """The variants (indices into ``folders``, the plan's variant folders) whose documents
        are typeset with variant ``index``'s."""
        return texbatch.batch_of(folders, index, self.batch)

    def make(self, sources: list[Path], jobs: int, progress: Any = None) -> list[Path]:
        tex_files = [p for p in sources if p.suffix == ".tex"]
        return texbatch.typeset(tex_files, support=self.units_support(), batch=self.batch, jobs=jobs,
                                progress=progress)

    def start(self, jobs: int, progress: Any = None, root: Path | None = None) -> texbatch.Typesetter:
        """A PDF stage that typesets each batch as soon as its students' .tex are rendered
        (``add``), while the build renders the next ones, and writes their PDFs under ``root``
        (the build's folder) as they are cut; ``finish`` takes the written files."""
        return texbatch.Typesetter(support=self.units_support(), batch=self.batch, jobs=jobs,
                                   progress=progress, early=True, root=root)

    @staticmethod
    def units_support() -> str:
        from worksheetgen.formats import get_format

        return get_format("tex").environment().get_template("formats/latex/_units.tex.j2").render()
