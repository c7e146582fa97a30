"""Students drawn, solved and rendered on several processes, in plan order.

A build's per-variant work (sample → solve → check → render every format) is independent from
one variant to the next, so ``jobs`` worker processes share it. Workers are forked from the
build once it has made its first variant itself: they start with its imported families,
compiled templates and warmed caches (a spawned worker would pay for them again). Results come
back in plan order, so whatever ``jobs`` is, the build sees the same sequence and writes the same
bytes.

What crosses back is the variant's rendered files (text) and its solved variant, which the
class documents (instructor key, quality report) read; the print document repeats the files. The solved variant is
pickled *as it is*: SymPy's own pickling rebuilds an expression by calling its constructor,
which evaluates it again (slow, and an expression kept unevaluated on purpose would come back
changed), so compound expressions are rebuilt from their arguments without evaluation. Objects
both processes already hold (the spec's exercises, the plan's variants, the families) travel as
references, not copies.
"""

from __future__ import annotations

import dataclasses
import gc
import io
import multiprocessing
import os
import pickle
from contextlib import ExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import sympy as sp
from sympy.matrices.dense import MutableDenseMatrix
from sympy.matrices.immutable import ImmutableRepMatrix

from worksheetgen import mathfmt
from worksheetgen.errors import WorkerError, WorksheetError
from worksheetgen.family import Family
from worksheetgen.registry import get_family

if TYPE_CHECKING:
    from worksheetgen.documents import SolvedVariant
    from worksheetgen.formats import Format
    from worksheetgen.plan import Plan

Files = dict[str, tuple[str, str]]

# Below this many variants a pool costs more than it saves (forking, handing results over).
MIN_VARIANTS = 4


# -- pickling what a worker made -----------------------------------------------------------------

_BASIC_REBUILD: dict[type, bool] = {}
_KEPT = frozenset({"_mhash", "_args", "_assumptions", "__weakref__", "__dict__"})


def _rebuildable(cls: type) -> bool:
    """Whether instances of ``cls`` are fully described by their class, args, the slot
    ``is_commutative`` and their ``__dict__`` (true of SymPy's operators and functions; not of
    atoms, matrices, polynomials or root objects, which pickle the usual way)."""
    known = _BASIC_REBUILD.get(cls)
    if known is None:
        slots: set[str] = set()
        for klass in cls.__mro__:
            declared = klass.__dict__.get("__slots__", ())
            slots.update((declared,) if isinstance(declared, str) else declared)
        plain = (cls.__reduce_ex__ is sp.Basic.__reduce_ex__
                 and getattr(cls, "__getnewargs__", None) is sp.Basic.__getnewargs__)
        # An immutable matrix is its args (rows, columns, entries) and its __dict__ (the same
        # numbers in the domain form SymPy computes with): rebuilt as such, not converted again.
        known = (not issubclass(cls, sp.Atom) and slots - _KEPT <= {"is_commutative"}
                 and (plain or issubclass(cls, ImmutableRepMatrix)))
        _BASIC_REBUILD[cls] = known
    return known


_NO_SLOT = "-"
_HAS_SLOT: dict[type, bool] = {}


def _rebuild(cls: type, args: tuple[Any, ...], commutative: Any, state: dict[str, Any] | None) -> sp.Basic:
    obj = sp.Basic.__new__(cls, *args)
    if commutative != _NO_SLOT:
        obj.is_commutative = commutative
    if state:
        obj.__dict__.update(state)
    return obj


def _mutable_matrix(cls: type, state: dict[str, Any]) -> Any:
    obj = object.__new__(cls)
    obj.__dict__.update(state)
    return obj


def _commutative_slot(obj: sp.Basic) -> Any:
    cls = type(obj)
    has = _HAS_SLOT.get(cls)
    if has is None:
        has = _HAS_SLOT[cls] = any(
            "is_commutative" in ((d,) if isinstance(d, str) else d)
            for d in (klass.__dict__.get("__slots__", ()) for klass in cls.__mro__))
    if not has:
        return _NO_SLOT
    try:
        return object.__getattribute__(obj, "is_commutative")
    except AttributeError:
        return _NO_SLOT


class Shared:
    """What both sides hold already (the plan, its variants, the spec's exercises, the
    families), pickled as a reference: (kind, key)."""

    def __init__(self, plan: "Plan") -> None:
        self.plan = plan
        self.ids: dict[int, tuple[str, Any]] = {id(v): ("variant", i) for i, v in enumerate(plan.variants)}
        self.ids.update({id(e): ("exercise", i) for i, e in enumerate(plan.spec.exercises)})
        self.ids[id(plan)] = ("plan", 0)
        self.ids[id(plan.spec)] = ("spec", 0)
        self._families: dict[str, Family] = {}

    def ref(self, obj: Any) -> tuple[str, Any] | None:
        found = self.ids.get(id(obj))
        if found is None and isinstance(obj, Family) and type(obj) is Family.registry.get(obj.name) \
                and not vars(obj):
            found = ("family", obj.name)  # families hold no state: get_family makes an equal one
        return found

    def load(self, kind: str, key: Any) -> Any:
        if kind == "variant":
            return self.plan.variants[key]
        if kind == "exercise":
            return self.plan.spec.exercises[key]
        if kind == "plan":
            return self.plan
        if kind == "spec":
            return self.plan.spec
        if kind == "family":
            family = self._families.get(key)
            if family is None:
                family = self._families[key] = get_family(key)
            return family
        raise pickle.UnpicklingError(f"unknown shared object {(kind, key)!r}")


_loading: list[Shared] = []  # the Shared of the loads() running (the main thread's only)


def _shared_object(kind: str, key: Any) -> Any:
    return _loading[-1].load(kind, key)


class _Pickler(pickle.Pickler):
    # reducer_override, unlike persistent_id, is not called for str, int, tuple, list or dict:
    # the hook costs nothing on the bulk of what is written (texts, numbers, containers).
    def __init__(self, file: io.BytesIO, shared: Shared) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._shared = shared
        # Closed forms whose 100-digit value the solver recorded (mathfmt.remember_value): sent
        # along, so the class documents print them from it as the worker would have.
        self.known: list[tuple[sp.Basic, Any]] = []

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, sp.Basic):
            if not _rebuildable(type(obj)):
                return NotImplemented
            value = mathfmt.known_value(obj)
            if value is not None:
                self.known.append((obj, value))
            state = getattr(obj, "__dict__", None)
            return _rebuild, (type(obj), obj.args, _commutative_slot(obj), dict(state) if state else None)
        if type(obj) is MutableDenseMatrix:
            # SymPy's own pickle builds an empty matrix first (its constructor), then the state.
            return _mutable_matrix, (MutableDenseMatrix, dict(vars(obj)))
        ref = self._shared.ref(obj)
        if ref is not None:
            return _shared_object, ref
        return NotImplemented


def dumps(obj: Any, shared: Shared, printed: Sequence[tuple[Any, str]] = ()) -> bytes:
    """``obj`` pickled, with the texts this process printed for some of its values (``printed``:
    mathfmt.num's (key, text) pairs), which the receiving process need not print again."""
    buffer = io.BytesIO()
    pickler = _Pickler(buffer, shared)
    pickler.dump(obj)
    pickler.dump(pickler.known)  # the same memo: the expressions are not written twice
    pickler.dump(list(printed))
    return buffer.getvalue()


def loads(data: bytes, shared: Shared) -> Any:
    # Everything unpickled here lives until the build ends: the collector's passes over the
    # new objects (a third of the time otherwise) cannot free any of them.
    enabled = gc.isenabled()
    gc.disable()
    _loading.append(shared)
    try:
        unpickler = pickle.Unpickler(io.BytesIO(data))
        obj = unpickler.load()
        for expr, value in unpickler.load():
            mathfmt.remember_value(expr, value)
        for key, text in unpickler.load():
            mathfmt.remember_num(key, text)
    finally:
        _loading.pop()
        if enabled:
            gc.enable()
    return obj


# -- the workers ---------------------------------------------------------------------------------

@dataclass
class _Job:
    plan: "Plan"
    formats: tuple[str, ...]
    solved: bool  # whether the caller reads the solved variants (or only the files)
    data: bool  # whether it reads the exercises' data too (what templates show), or only
    # answers, givens and figures (the instructor key, the report)


_job: _Job | None = None  # in a worker: what it renders (set before forking, or by _start)
_run: list["Format"] = []
_shared: Shared | None = None
_settings = ExitStack()  # held for the worker's life


def _start(job: _Job | None) -> None:
    global _job, _run, _shared
    from worksheetgen.formats import get_format

    if job is not None:  # spawned (no fork on this system): the job came pickled, and the
        _job = job  # build's settings are made again (a forked worker inherits them)
        _settings.enter_context(mathfmt.rounding_mode(job.plan.spec.tolerance.rounding))
    if _job is None:  # forked later by the pool to replace a worker that died: the build stops
        return
    collect_as_worker()
    _run = [get_format(name) for name in _job.formats]
    _shared = Shared(_job.plan)


def collect_as_worker() -> None:
    """The garbage collector's settings in a worker (the benchmark measures generation with
    them too). A worker's objects live for one student and are mostly acyclic (SymPy trees,
    texts): the collector's young-generation passes, every 700 allocations by default, find
    little. Not off: SymPy's cycles would hold about 0.3 MB a student."""
    gc.set_threshold(20_000, 50, 1_000)


def _work_chunk(indices: list[int]) -> list[tuple[int, Files, bytes | None]]:
    if _job is None or _shared is None:
        raise WorkerError("a worker process of the build died")
    out = []
    for index in indices:
        sv, files = make_variant(_job.plan, index, _run)
        # The rendered questions are in the files already (the class documents read those).
        sv.rendered.clear()
        if not _job.data:
            for question in sv.questions:
                question.instance.solved = dataclasses.replace(question.instance.solved, data=None)
        out.append((index, files, dumps(sv, _shared, printed_answers(sv)) if _job.solved else None))
    return out


def printed_answers(sv: "SolvedVariant") -> list[tuple[Any, str]]:
    """The numbers of ``sv``'s answers as this process printed them at the precision asked
    (the key entry prints them all): the instructor key's tables print them again."""
    printed = []
    for question in sv.questions:
        for answer in question.instance.solved.answers:
            if answer.kind not in ("number", "matrix"):
                continue
            asked = answer.asked(question.instance.digits)
            values = list(answer.value) if answer.kind == "matrix" else [answer.value]
            for value in values:
                found = mathfmt.printed_num(value, asked.digits, asked.mode)
                if found is not None:
                    printed.append(found)
    return printed


def make_variant(plan: "Plan", index: int, run: Sequence["Format"]) -> tuple["SolvedVariant", Files]:
    """Variant ``index`` of ``plan`` solved, and its files rendered in the formats ``run``."""
    from worksheetgen.build import render_variant, solve_variant

    sv = solve_variant(plan, plan.variants[index])
    try:
        files = render_variant(plan, sv, run)
    except WorksheetError as exc:
        raise exc.at(source=plan.spec.source) from None
    return sv, files


def _context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def generate(plan: "Plan", run: Sequence["Format"], indices: Sequence[int], jobs: int,
             stack: ExitStack, solved: bool = True, data: bool = True
             ) -> Iterator[tuple[int, "SolvedVariant | None", Files]]:
    """(index, solved variant, files) of each variant in ``indices``, in that order. With
    ``jobs`` >= 2 and enough variants, the first is made here and the rest by ``jobs`` worker
    processes (stopped when ``stack`` closes, so an error or an interrupt ends them too).
    Without ``solved``, only the files are wanted (the solved variant of a worker's is None);
    without ``data``, a worker's solved variant comes without its exercises' data (a third of
    what crosses back)."""
    global _job
    indices = list(indices)
    if jobs < 2 or len(indices) < MIN_VARIANTS:
        for index in indices:
            sv, files = make_variant(plan, index, run)
            yield index, sv, files
        return
    # The first variant here: it imports and compiles what the workers then inherit. They are
    # forked before it is handed on (before the caller starts threads of its own).
    first, rest = indices[0], indices[1:]
    sv, files = make_variant(plan, first, run)
    families = [get_family(e.family) for e in plan.spec.exercises]
    for fmt in run:
        fmt.load_templates(families)
    job = _Job(plan, tuple(f.name for f in run), solved, data)
    context = _context()
    # Small chunks keep results flowing to the TeX stage in order; big enough to amortize.
    chunk = max(1, min(8, len(rest) // (8 * jobs)))
    before = set(multiprocessing.active_children())
    _job = job
    # What the build holds now is never garbage: kept out of the workers' collections, which
    # would otherwise walk (and so copy, page by page) the whole inherited heap.
    gc.freeze()
    try:
        pool = context.Pool(min(jobs, len(rest)), initializer=_start,
                            initargs=(None if context.get_start_method() == "fork" else job,))
    finally:
        _job = None
        gc.unfreeze()
    workers = set(multiprocessing.active_children()) - before
    stack.callback(pool.terminate)
    stack.callback(gc.unfreeze)
    yield first, sv, files
    shared = Shared(plan)
    chunks = [rest[i: i + chunk] for i in range(0, len(rest), chunk)]
    results = pool.imap(_work_chunk, chunks)
    for _ in chunks:
        while True:
            try:
                made = results.next(timeout=0.5)
                break
            except multiprocessing.TimeoutError:
                # A worker that dies (killed, out of memory) takes its task with it: the pool
                # would wait for it forever.
                dead = sorted({w.exitcode for w in workers if w.exitcode})
                if dead:
                    raise WorkerError(f"a worker process of the build died (exit status "
                                       f"{', '.join(map(str, dead))})") from None
        for index, files, data in made:
            sv = loads(data, shared) if data is not None else None
            # What came back is kept until the build ends: out of the collector's full passes,
            # which would walk all of it again and again as it grows (a fifth of this process's
            # time on 500 students).
            gc.freeze()
            yield index, sv, files
    pool.close()


def cores() -> int:
    """The processes a build uses by default: the CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
