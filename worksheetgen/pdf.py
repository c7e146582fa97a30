"""PDF output through a real TeX engine, in batch, without shell escape, reproducibly."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from worksheetgen.errors import TexError

INSTALL_HINT = (
    "no TeX engine found (pdflatex); the .tex, .md and .json files were written. "
    "To get PDFs on Debian/Ubuntu: sudo apt-get install texlive-latex-base "
    "texlive-latex-recommended texlive-latex-extra texlive-pictures latexmk lmodern"
)


def tex_available() -> bool:
    return shutil.which("pdflatex") is not None


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    # Fixed dates and no trailer id (see preamble) make the PDF bytes depend on the input only.
    env.update(SOURCE_DATE_EPOCH="0", FORCE_SOURCE_DATE="1", openout_any="p", openin_any="p")
    return env


def compile_pdf(tex_path: Path, timeout: float = 300) -> Path:
    """Compile ``tex_path`` in its folder; return the PDF path or raise TexError with log lines."""
    tex_path = Path(tex_path)
    workdir = tex_path.parent
    if shutil.which("latexmk"):
        command = [
            "latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error",
            "-no-shell-escape", "-quiet", "-pdflatex=pdflatex -no-shell-escape %O %S",
            tex_path.name,
        ]
        runs = [command]
    else:
        command = [
            "pdflatex", "-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error",
            "-file-line-error", tex_path.name,
        ]
        runs = [command, command]  # the second run resolves page counts and points tables
    for run in runs:
        try:
            result = subprocess.run(
                run, cwd=workdir, env=_environment(), capture_output=True, text=True,
                timeout=timeout, stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise TexError(f"{tex_path.name}: TeX did not finish within {timeout:.0f} s") from None
        if result.returncode != 0:
            raise TexError(f"{tex_path.name}: TeX failed:\n{log_excerpt(tex_path.with_suffix('.log'), result.stdout)}")
    pdf = tex_path.with_suffix(".pdf")
    if not pdf.exists():
        raise TexError(f"{tex_path.name}: TeX produced no PDF")
    _clean_auxiliary(tex_path)
    return pdf


def log_excerpt(log_path: Path, fallback: str = "", context: int = 3) -> str:
    """The error lines of a TeX log (lines starting with '!' or 'file:line:') and what follows."""
    try:
        lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = fallback.splitlines()
    picked: list[str] = []
    pattern = re.compile(r"^(!|.*:\d+: )")
    for i, line in enumerate(lines):
        if pattern.match(line):
            picked.extend(lines[i : i + context + 1])
            picked.append("...")
        if len(picked) > 40:
            break
    return "\n".join(picked) if picked else "\n".join(lines[-20:])


def _clean_auxiliary(tex_path: Path) -> None:
    for suffix in (".aux", ".log", ".fls", ".fdb_latexmk", ".out", ".synctex.gz"):
        aux = tex_path.with_suffix(suffix)
        if aux.exists():
            aux.unlink()
