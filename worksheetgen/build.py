"""The driver: plan → instances → documents → formats → staging → PDF → rename.

A sheet and an exam run the same steps; they differ in their plan (numbered variants, versions
A/B/C, or a roster with question pools) and their list of documents. Everything is computed
and rendered in memory first; files are written into a staging folder beside the target, and
only a complete build is renamed into place, so a failed or interrupted build never leaves a
half-written sheet that looks complete.
"""

from __future__ import annotations

import ctypes
import fcntl
import hashlib
import math
import os
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence, TextIO

from worksheetgen import formats as formats_module
from worksheetgen import parallel
from worksheetgen import mathfmt
from worksheetgen.documents import (
    Question, SolvedVariant, class_context, class_documents, variant_context, variant_documents,
)
from worksheetgen.errors import WorksheetError
from worksheetgen.formats import Format
from worksheetgen.instance import make_instance
from worksheetgen.plan import Plan, Variant, make_plan
from worksheetgen.quality import Quality, quality, require_distinct
from worksheetgen.registry import get_family
from worksheetgen.spec import SheetSpec
from worksheetgen.spread import spread_subfolders

Progress = Callable[[str, int, int], None]


@dataclass
class BuildResult:
    target: Path
    files: list[Path] = field(default_factory=list)
    variants: list[SolvedVariant] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    quality: Quality | None = None


def solve_variant(plan: Plan, variant: Variant) -> SolvedVariant:
    spec = plan.spec
    sv = SolvedVariant(variant)
    for slot in plan.slots(variant):
        exercise = slot.exercise
        family = get_family(exercise.family, where=f"{exercise.where}.family")
        try:
            instance = make_instance(
                family, exercise.options, sheet_seed=spec.seed, variant=variant.id,
                exercise_id=exercise.id, points=exercise.points, title=exercise.title,
                digits=spec.digits, params=exercise.params, where=f"{exercise.where}.params",
            )
        except WorksheetError as exc:
            raise exc.at(source=spec.source) from None
        if exercise.pool:
            instance.meta = {"pool": exercise.pool}
        sv.questions.append(Question(slot.number, exercise, instance))
    return sv


def choose_formats(names: Sequence[str] | None, require: bool) -> tuple[list[Format], set[str], list[str]]:
    """(formats to run, names whose files are kept, notes). A format this machine cannot make
    is an error when asked for by name, and otherwise left out with a note."""
    explicit = names is not None
    names = list(names) if names is not None else formats_module.default_formats()
    notes = []
    for name in list(names):
        fmt = formats_module.get_format(name)
        if not fmt.available():
            if explicit or require:
                raise WorksheetError(f"the {name} format cannot be made on this machine", field="--format",
                                     allowed=fmt.install_hint or "another format")
            names.remove(name)
            notes.append(fmt.install_hint)
    run, keep = formats_module.resolve(names)
    return run, keep, notes


def render_variant(plan: Plan, sv: SolvedVariant, run: Sequence[Format]) -> dict[str, tuple[str, str]]:
    """File name → (format name, text) of one variant's folder."""
    files: dict[str, tuple[str, str]] = {}
    for fmt in run:
        docs = [d for d in variant_documents(plan) if fmt.has_layout(d.layout)]
        if not docs:
            continue
        for name, text in fmt.figure_files(sv.instances).items():
            files[name] = (fmt.name, text)
        context = variant_context(plan, sv, fmt)
        for document in docs:
            for name, text in fmt.render_document(document, context).items():
                files[name] = (fmt.name, text)
    return files


def class_documents_read_data(plan: Plan, run: Sequence[Format]) -> bool:
    """Whether a class document of the run renders the exercises themselves (an LMS quiz holds
    every variant's questions), or reads only their answers, givens and figures."""
    return any(fmt.has_layout(document.layout) for document in class_documents(plan) if document.renders_exercises
               for fmt in run)


def render_class(plan: Plan, solved: Sequence[SolvedVariant], report: Quality | None,
                 run: Sequence[Format], after_pdf: bool) -> dict[str, tuple[str, str]]:
    files: dict[str, tuple[str, str]] = {}
    documents = [d for d in class_documents(plan) if d.after_pdf == after_pdf]
    if not documents:
        return files
    context = class_context(plan, solved, report)
    running = {f.name for f in run}
    for document in documents:
        makers = list(run)
        if document.always_in and document.always_in not in running:
            makers.append(formats_module.get_format(document.always_in))
        for fmt in makers:
            for name, text in fmt.render_document(document, context).items():
                files[name] = ("" if document.always_in else fmt.name, text)  # "": kept whatever was asked
    return files


def build(
    spec: SheetSpec,
    out_dir: Path,
    *,
    formats: Sequence[str] | None = None,
    jobs: int | None = None,
    progress: Progress | None = None,
    require_pdf: bool = False,
    only: str | None = None,
) -> BuildResult:
    """Build every variant of ``spec`` into ``out_dir/<spec.name>`` (with ``only``, one
    student's folder inside it), atomically. ``jobs`` (default: the machine's cores) processes
    solve and render the variants, and as many TeX processes run at once; the files are the same
    whatever it is."""
    plan = make_plan(spec, only)
    run, keep, notes = choose_formats(formats, require_pdf)
    jobs = max(1, jobs or parallel.cores())
    with ExitStack() as stack:
        # Every number printed (here and in the workers forked from here) follows the spec's rule.
        stack.enter_context(mathfmt.rounding_mode(spec.tolerance.rounding))
        return _build(plan, run, keep, notes, Path(out_dir), jobs, progress, stack)


def start_early(plan: Plan, run: Sequence[Format], jobs: int, progress: Progress | None,
                stack: ExitStack, staging: Path) -> dict[str, Any]:
    """Formats that can start on the first variants while the next ones are being rendered
    (PDFs: a batch of students is typeset once its students are in, its PDFs written into
    ``staging``), by name. Not for a reprint (one student) or a single job (nothing to overlap
    with)."""
    sessions: dict[str, Any] = {}
    if plan.only is not None or jobs < 2 or len(plan.variants) < 2:
        return sessions
    for fmt in run:
        start = getattr(fmt, "start", None)
        if fmt.needs and start is not None:
            session = start(jobs, progress, staging)
            stack.callback(session.close)
            sessions[fmt.name] = session
    return sessions


def _build(plan: Plan, run: list[Format], keep: set[str], notes: list[str], out_dir: Path, jobs: int,
           progress: Progress | None, stack: ExitStack) -> BuildResult:
    spec, only = plan.spec, plan.only
    target = out_dir / spec.name / plan.variants[0].folder if only is not None else out_dir / spec.name
    # The staging folder exists from the start (the PDF stage writes into it while students are
    # still being made); on the stack before the workers and the TeX stage, so that on failure
    # those stop before it is removed.
    stack.enter_context(removed_if_failed(out_dir, target.parent))
    stack.enter_context(build_lock(out_dir, spec.name))
    staging = stack.enter_context(staged_folder(target))
    solved: list[SolvedVariant] = []
    rendered: list[tuple[SolvedVariant, dict[str, tuple[str, str]]]] = []
    early: dict[str, Any] = {}
    made = parallel.generate(plan, run, range(len(plan.variants)), jobs, stack,
                             data=class_documents_read_data(plan, run))
    for i, (_, sv, files) in enumerate(made, start=1):
        if i == 1:
            # Started once the first variant is made (the workers are forked then, before
            # the TeX stage starts its threads).
            early = start_early(plan, run, jobs, progress, stack, staging)
        sv.texts = {name: text for name, (_, text) in files.items() if isinstance(text, str)}
        solved.append(sv)
        rendered.append((sv, files))
        for name, session in early.items():
            needs = formats_module.get_format(name).needs
            for file_name, (made_by, text) in files.items():
                if made_by in needs and isinstance(text, str):
                    session.add(f"{sv.variant.folder}/{file_name}" if sv.variant.folder else file_name, text)
        if progress:
            progress("solving", i, len(plan.variants))
    for session in early.values():
        session.flush()

    report = None
    if plan.exam is not None and plan.only is None:
        report = quality(plan, solved)
        if plan.exam.require_distinct:
            require_distinct(plan, report)
        notes.extend(report.lines(spec.name, spec.seed))
    top = render_class(plan, solved, report, run, after_pdf=False)
    for name, session in early.items():
        needs = formats_module.get_format(name).needs
        for file_name, (made_by, text) in top.items():
            if made_by in needs and isinstance(text, str):
                session.add(file_name, text)

    written: dict[Path, str] = {}  # path → format that wrote it
    for sv, files in rendered:
        folder = staging if only is not None or not sv.variant.folder else staging / sv.variant.folder
        write_files(folder, files, written)
    write_files(staging, top, written)
    for fmt in run:
        sources = [p for p, made_by in written.items() if made_by in fmt.needs]
        if sources and fmt.needs:
            made = early[fmt.name].finish(sources) if fmt.name in early else \
                make_format(plan, fmt, sources, staging, jobs, progress, stack)
            for path in made:
                written[path] = fmt.name
            late = render_class(plan, solved, report, [formats_module.get_format(n) for n in fmt.needs],
                                after_pdf=True)
            if late:
                new = write_files(staging, late, written)
                for path in fmt.make(new, 1, None):
                    written[path] = fmt.name
    for path, made_by in list(written.items()):
        if made_by and made_by not in keep:  # written only to make another format (.tex for PDFs)
            path.unlink()
            del written[path]
    # Swapped into place when the stack closes (after the workers and the TeX stage stop).
    files_out = sorted(target / p.relative_to(staging) for p in written)
    return BuildResult(target, files_out, solved, notes, report)


def make_format(plan: Plan, fmt: Format, sources: list[Path], staging: Path, jobs: int,
                progress: Progress | None, stack: ExitStack) -> list[Path]:
    """``fmt``'s files made from ``sources`` (PDFs from .tex). A format that makes several
    variants' files together (PDFs: a batch of students per TeX run) gets, for a reprint of
    one student, the same company as in the full build (rendered here into a scratch folder
    laid out like the full build, and dropped), so the reprinted files have the same bytes."""
    companions = getattr(fmt, "companions", None)
    if plan.only is None or companions is None:
        return fmt.make(sources, jobs, progress)
    full = make_plan(plan.spec)
    ids = [v.id for v in full.variants]
    index = ids.index(plan.only)
    needed = [formats_module.get_format(name) for name in fmt.needs]
    with tempfile.TemporaryDirectory(prefix="worksheetgen-batch-") as scratch_dir:
        scratch = Path(scratch_dir)
        group = list(companions([v.folder for v in full.variants], index))
        others = parallel.generate(full, needed, [i for i in group if i != index], jobs, stack, solved=False)
        made_others = {i: files for i, _, files in others}
        ordered: list[Path] = []
        own: dict[Path, Path] = {}  # scratch copy → the student's file in staging
        for i in group:
            folder = scratch / (full.variants[i].folder or "variant")
            if i == index:
                for path in sources:
                    copy = folder / path.relative_to(staging)
                    copy.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, copy)
                    own[copy] = path
                    ordered.append(copy)
                continue
            ordered.extend(write_files(folder, made_others[i], {}))
        made = []
        for path in fmt.make(ordered, jobs, progress):
            for copy, original in own.items():
                if copy.parent == path.parent and copy.stem == path.stem:
                    target = original.with_suffix(path.suffix)
                    shutil.copyfile(path, target)
                    made.append(target)
        return made


def write_files(folder: Path, files: dict[str, tuple[str, str | bytes]], written: dict[Path, str]) -> list[Path]:
    """Write ``files`` (name → (format, text)) into ``folder`` inside the staging folder; a
    format may hand over bytes (a zip package) instead of text."""
    new = []
    for name, (made_by, text) in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        written[path] = made_by
        new.append(path)
    return new


@contextmanager
def removed_if_failed(*folders: Path) -> Iterator[None]:
    """Folders that did not exist before are removed again if the block fails and leaves them
    empty: a build stopped by bad input leaves no trace, not even an empty output folder."""
    missing = [f for f in dict.fromkeys(folders) if not f.exists()]
    try:
        yield
    except BaseException:
        for folder in sorted(missing, key=lambda f: -len(f.parts)):  # the deepest first
            try:
                folder.rmdir()
            except OSError:  # not empty (another build's files), or gone already
                pass
        raise


@contextmanager
def build_lock(out_dir: Path, name: str) -> Iterator[None]:
    """One build at a time writes into ``out_dir/name``: a second one waits for the first
    (an advisory lock the kernel releases if its holder dies, even by kill -9). The lock file
    lives in the temporary folder, keyed by the target's absolute path, so the output folder
    holds only the build."""
    out_dir.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(str((out_dir / name).resolve()).encode("utf-8")).hexdigest()[:32]
    folder = Path(tempfile.gettempdir()) / "worksheetgen-locks"
    folder.mkdir(exist_ok=True)
    with open(folder / f"{key}.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """A staging folder beside ``target``, swapped onto it only if the block completes;
    removed on any failure or interruption, leaving the previous build untouched. Leftovers of
    a build that was killed (it could not clean up) are removed first: the caller holds the
    build lock, so nobody else is using them."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for stray in target.parent.glob(f".{target.name}.staging-*"):
        shutil.rmtree(stray, ignore_errors=True)
    recover_swap(target)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.staging-", dir=target.parent))
    spread_subfolders(staging)  # each student's folder away from the last build's freed inodes
    try:
        yield staging
        replace_folder(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    return result == 0


def replace_folder(staging: Path, target: Path) -> None:
    """Put the finished staging folder in place of ``target``. Where the kernel can swap two
    folders in one step, a kill at any moment leaves either the old or the new build in place;
    elsewhere the old one is parked under a name that the next build restores
    (:func:`recover_swap`) if the process died between the two renames."""
    os.chmod(staging, 0o755)
    if not target.exists():
        staging.rename(target)
        return
    if _exchange(staging, target):
        shutil.rmtree(staging, ignore_errors=True)  # now holds the previous build
        return
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def recover_swap(target: Path) -> None:
    """After a build died between the two renames of :func:`replace_folder`'s fallback, the
    previous build is parked beside the target: put it back, or drop it if the new one landed."""
    for parked in sorted(target.parent.glob(f".{target.name}.old-*")):
        if target.exists():
            shutil.rmtree(parked, ignore_errors=True)
        else:
            parked.rename(target)


def progress_bar(stream: TextIO | None = None, *, after: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> Progress | None:
    """A one-line progress bar per stage (done/total and the time left) on a terminal, once the
    build has run ``after`` seconds (a quick build prints nothing); silent when output is
    redirected."""
    stream = stream or sys.stderr
    if not stream.isatty():
        return None
    started = clock()
    stage_started = {"": started}
    last = {"stage": "", "end": started}

    def show(stage: str, done: int, total: int) -> None:
        now = clock()
        if stage != last["stage"]:
            last["stage"] = stage
            stage_started[stage] = last["end"]
        if done >= total:
            last["end"] = now
        if now - started < after:
            return
        width = 30
        filled = int(width * done / total) if total else width
        elapsed = now - stage_started[stage]
        left = math.ceil(elapsed / done * (total - done)) if done else 0
        eta = f"{left // 60}:{left % 60:02d} left" if done < total else f"{elapsed:.1f} s"
        stream.write(f"\r{stage:<12} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}  {eta:<12}")
        if done >= total:
            stream.write("\n")
        stream.flush()

    return show
