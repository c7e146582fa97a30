"""The pipeline: spec → per variant and exercise: sample → solve → check → render → stage →
PDF → rename into ``output/``. Problems and solutions are two views of the same instances.

Everything is computed and rendered in memory first; files are written into a staging folder
beside the target, and only a complete build is renamed into place, so a failed or interrupted
build never leaves a half-written sheet that looks complete.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence, TextIO

from worksheetgen import answerkey, pdf, render
from worksheetgen.errors import WorksheetError
from worksheetgen.instance import Instance, make_instance
from worksheetgen.registry import get_family
from worksheetgen.spec import SheetSpec

ALL_FORMATS = ("tex", "md", "pdf", "json")


@dataclass(frozen=True)
class Variant:
    id: str  # enters the random streams: never change how it is formed
    label: str = ""  # printed on the sheet (e.g. "Variant 3" or a student's name)
    folder: str = ""  # sub-folder of the sheet's output ("" for a single variant)


@dataclass
class SolvedVariant:
    variant: Variant
    instances: list[Instance]


@dataclass
class BuildResult:
    target: Path
    files: list[Path] = field(default_factory=list)
    variants: list[SolvedVariant] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def numbered_variants(count: int) -> list[Variant]:
    if count == 1:
        return [Variant("1")]
    width = max(2, len(str(count)))
    return [Variant(str(i), f"Variant {i}", f"v{i:0{width}d}") for i in range(1, count + 1)]


def solve_variant(spec: SheetSpec, variant: Variant) -> SolvedVariant:
    instances = []
    for position, exercise in enumerate(spec.exercises, start=1):
        family = get_family(exercise.family, where=f"{exercise.where}.family")
        try:
            instances.append(
                make_instance(
                    family, exercise.options, sheet_seed=spec.seed, variant=variant.id,
                    position=position, points=exercise.points, title=exercise.title,
                    digits=spec.digits, where=f"{exercise.where}.params",
                )
            )
        except WorksheetError as exc:
            raise exc.at(source=spec.source) from None
    return SolvedVariant(variant, instances)


def sheet_info(spec: SheetSpec) -> dict[str, object]:
    return {
        "title": spec.title, "course": spec.course, "date": spec.date,
        "instructions": spec.instructions, "seed": spec.seed, "name": spec.name,
    }


def usable_formats(formats: Sequence[str], require_pdf: bool) -> tuple[list[str], list[str]]:
    """(formats, notes): without TeX, PDFs are an error when asked for explicitly and are
    otherwise left out with a note on how to install TeX Live."""
    formats = list(formats)
    if "pdf" in formats and not pdf.tex_available():
        if require_pdf:
            raise WorksheetError("no TeX engine (pdflatex) is installed", field="--format pdf",
                                 allowed="tex, md, json without TeX; see README for TeX Live")
        formats.remove("pdf")
        return formats, [pdf.INSTALL_HINT]
    return formats, []


def document_formats(formats: Iterable[str]) -> list[tuple[str, str]]:
    """(render format, file suffix) of the documents a build writes; PDFs come from the .tex."""
    formats = set(formats)
    wanted = []
    if formats & {"tex", "pdf"}:
        wanted.append(("latex", "tex"))
    if "md" in formats:
        wanted.append(("markdown", "md"))
    return wanted


def figure_files(instances: Iterable[Instance], formats: Iterable[str]) -> dict[str, str]:
    """The SVGs the Markdown documents reference (LaTeX draws its figures inline)."""
    files: dict[str, str] = {}
    if "md" in set(formats):
        for instance in instances:
            files.update(render.figure_files(instance))
    return files


def render_variant(spec: SheetSpec, solved: SolvedVariant, formats: Iterable[str]) -> dict[str, str]:
    """File name → text for one variant (PDFs are made later from the .tex)."""
    formats = set(formats)
    files = figure_files(solved.instances, formats)
    for fmt, suffix in document_formats(formats):
        items = []
        for instance in solved.instances:
            problem, solution = render.render_exercise(instance, fmt)
            items.append({"instance": instance, "problem": problem, "solution": solution})
        context = {"sheet": sheet_info(spec), "exercises": items,
                   "variant_label": solved.variant.label}
        for view in ("problems", "solutions"):
            files[f"{view}.{suffix}"] = render.render_document(fmt, view, context)
    if "json" in formats:
        files["key.json"] = answerkey.key_document(
            sheet_info(spec), solved.variant.id, solved.instances, spec.tolerance
        )
    return files


def build(
    spec: SheetSpec,
    out_dir: Path,
    *,
    formats: Sequence[str] = ALL_FORMATS,
    variants: Sequence[Variant] | None = None,
    jobs: int = 1,
    progress: Callable[[str, int, int], None] | None = None,
    require_pdf: bool = False,
) -> BuildResult:
    """Build every variant of ``spec`` into ``out_dir/<spec.name>``, atomically."""
    variants = list(variants) if variants is not None else numbered_variants(spec.variants)
    formats, notes = usable_formats(formats, require_pdf)

    solved_variants: list[SolvedVariant] = []
    rendered: list[tuple[SolvedVariant, dict[str, str]]] = []
    for i, variant in enumerate(variants, start=1):
        solved = solve_variant(spec, variant)
        solved_variants.append(solved)
        rendered.append((solved, render_variant(spec, solved, formats)))
        if progress:
            progress("solving", i, len(variants))

    target = Path(out_dir) / spec.name
    tex_files: list[Path] = []
    written: list[Path] = []
    with staged_folder(target) as staging:
        for solved, files in rendered:
            folder = staging / solved.variant.folder if solved.variant.folder else staging
            write_files(folder, files, formats, written, tex_files)
        if tex_files:
            compile_all(tex_files, jobs, progress)
            written.extend(p.with_suffix(".pdf") for p in tex_files)
        drop_unwanted_tex(tex_files, formats, written)
    files_out = sorted(target / p.relative_to(staging) for p in written)
    return BuildResult(target, files_out, solved_variants, notes)


@contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """A staging folder beside ``target``, renamed onto it only if the block completes;
    removed on any failure or interruption, leaving the previous build untouched."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.staging-", dir=target.parent))
    try:
        yield staging
        replace_folder(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def drop_unwanted_tex(tex_files: list[Path], formats: Sequence[str], written: list[Path]) -> None:
    """.tex files written only to make PDFs go once the PDFs exist."""
    if "tex" not in formats:
        for path in tex_files:
            path.unlink()
            written.remove(path)


def write_files(folder: Path, files: dict[str, str], formats: Sequence[str], written: list[Path],
                tex_files: list[Path]) -> list[Path]:
    """Write ``files`` into ``folder`` (a staging folder); .tex files are kept for PDFs or
    dropped. Records every path in ``written``; returns (and records) the .tex to compile."""
    new_tex = []
    for name, text in files.items():
        if name.endswith(".tex") and "tex" not in formats and "pdf" not in formats:
            continue
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
        if name.endswith(".tex") and "pdf" in formats:
            new_tex.append(path)
    tex_files.extend(new_tex)
    return new_tex


def compile_all(tex_files: list[Path], jobs: int,
                 progress: Callable[[str, int, int], None] | None) -> None:
    done = 0
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for _ in pool.map(pdf.compile_pdf, tex_files):
            done += 1
            if progress:
                progress("typesetting", done, len(tex_files))


def replace_folder(staging: Path, target: Path) -> None:
    """Swap the finished staging folder into place (the old build survives until then)."""
    os.chmod(staging, 0o755)
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(target)


def progress_bar(stream: TextIO | None = None) -> Callable[[str, int, int], None] | None:
    """A one-line progress bar on a terminal; silent when output is redirected."""
    stream = stream or sys.stderr
    if not stream.isatty():
        return None

    def show(stage: str, done: int, total: int) -> None:
        width = 30
        filled = int(width * done / total) if total else width
        stream.write(f"\r{stage:<12} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done == total:
            stream.write("\n")
        stream.flush()

    return show
