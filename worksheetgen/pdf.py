"""PDF output through a real TeX engine, in batch, without shell escape, reproducibly.

Every pdflatex process of a build starts in :func:`run_tex` (which counts them: the benchmark
reports processes per student). :func:`compile_pdf` runs as many passes as the document needs:
one, unless the log asks for another (labels, references, table widths, points) and the .aux
it wrote differs from the one the pass read. Batches of documents are in
:mod:`worksheetgen.texbatch`.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
from pathlib import Path

from worksheetgen.errors import TexError

INSTALL_HINT = (
    "no TeX engine found (pdflatex); the .tex, .md and .json files were written. "
    "To get PDFs on Debian/Ubuntu: sudo apt-get install texlive-latex-base "
    "texlive-latex-recommended texlive-latex-extra texlive-pictures lmodern"
)
MAX_PASSES = 4
# What a log says when the next pass would print something else.
_RERUN = re.compile(r"Rerun to get|Rerun LaTeX|There were undefined references|Label\(s\) may have changed"
                    r"|Table widths have changed|Point totals have changed|run LaTeX again")

# longtable records in the .aux each column's width and the chunk of rows it was reached in,
# and asks for another pass whenever a pass started without those widths. When every width was
# reached in the table's first chunk (a \kill row of the widest cells at its head: widecells.py),
# every later chunk was set at the final widths, and another pass would print the same.
_LONGTABLE_REQUEST = re.compile(r"Table widths have changed\. Rerun LaTeX\.")
_LONGTABLE_ENTRY = re.compile(rb"\\LT@entry\s*\{(\d+)\}")


def _asks_another_pass(log: str, aux: bytes | None) -> bool:
    """Whether a pass's log asks for another pass that would print something else."""
    others = _LONGTABLE_REQUEST.sub("", log)
    if _RERUN.search(others):
        return True
    if others == log:  # longtable asked for nothing
        return False
    chunks = _LONGTABLE_ENTRY.findall(aux or b"")
    return not chunks or any(c != b"1" for c in chunks)


_runs = itertools.count()
_counted = 0


def tex_available() -> bool:
    return shutil.which("pdflatex") is not None


def tex_runs() -> int:
    """pdflatex processes started so far by this Python process."""
    return _counted


def environment() -> dict[str, str]:
    env = dict(os.environ)
    # Fixed dates and no trailer id (see preamble) make the PDF bytes depend on the input only;
    # TeX may read and write only below the folder it runs in.
    env.update(SOURCE_DATE_EPOCH="0", FORCE_SOURCE_DATE="1", openout_any="p", openin_any="p")
    return env


def run_tex(command: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """One pdflatex process (shell escape is always off)."""
    global _counted
    if "-no-shell-escape" not in command:
        command = [command[0], "-no-shell-escape", *command[1:]]
    _counted = next(_runs) + 1
    try:
        return subprocess.run(command, cwd=cwd, env=environment(), capture_output=True, text=True,
                              errors="replace", timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise TexError(f"TeX did not finish within {timeout:.0f} s") from None


def compile_pdf(tex_path: Path, timeout: float = 300) -> Path:
    """Compile ``tex_path`` in its folder; return the PDF path or raise TexError with log lines.
    A first line ``%&<format>`` names a dumped format to start from."""
    tex_path = Path(tex_path)
    workdir = tex_path.parent
    command = ["pdflatex", "-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error",
               "-file-line-error"]
    with open(tex_path, encoding="utf-8", errors="replace") as handle:
        first = handle.readline().strip()
    if first.startswith("%&"):
        command.append(f"-fmt={first[2:]}")
    command.append(tex_path.name)
    aux = tex_path.with_suffix(".aux")
    log = tex_path.with_suffix(".log")
    for _ in range(MAX_PASSES):
        before = aux.read_bytes() if aux.exists() else None
        try:
            result = run_tex(command, workdir, timeout)
        except TexError as exc:
            raise TexError(f"{tex_path.name}: {exc}") from None
        if result.returncode != 0:
            raise TexError(f"{tex_path.name}: TeX failed:\n{log_excerpt(log, result.stdout + result.stderr)}")
        after = aux.read_bytes() if aux.exists() else None
        text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else result.stdout
        if not _asks_another_pass(text, after) or after == before:
            break
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
