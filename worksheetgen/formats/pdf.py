"""PDFs, made from the LaTeX files by a real TeX engine, without shell escape."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from worksheetgen import pdf
from worksheetgen.formats import Format


class Pdf(Format):
    name = "pdf"
    description = "PDF typeset by pdflatex from the .tex files"
    suffix = "pdf"
    needs = ("tex",)

    def available(self) -> bool:
        return pdf.tex_available()

    install_hint = pdf.INSTALL_HINT

    def make(self, sources: list[Path], jobs: int, progress: Any = None) -> list[Path]:
        tex_files = [p for p in sources if p.suffix == ".tex"]
        done = 0
        made = []
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            for path in pool.map(pdf.compile_pdf, tex_files):
                made.append(path)
                done += 1
                if progress:
                    progress("typesetting", done, len(tex_files))
        return made
