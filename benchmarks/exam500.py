"""What the 500-student exam costs: examples/exam.toml with a generated roster, built with every
default format and PDFs (per-student PDFs, the combined print PDF, the instructor key).

Prints figures, never asserts them (machines are noisy, and other work on the machine slows
every figure: compare runs on the same machine):
- generation: sample -> solve -> check of every student's exercises, and their rendering in
  the text formats, CPU per student in one process, with the collector set as in the build's
  workers;
- `worksheetgen build` without PDFs and with them, each in a fresh interpreter as a person runs
  it: wall and CPU (the process and its children: every pdflatex), the PDF stage's share per
  student, and pdflatex processes per student (counted by a pdflatex wrapper first on PATH);
- the floor: one pdflatex pass over each view's whole-class document (every student's problems,
  every student's solutions) on the dumped format, and the PDF stage's ratio to it.

    python benchmarks/exam500.py [--students 500] [--jobs N] [--warm]

Without --warm the TeX formats are dumped afresh (an empty cache), as on a first build.
"""

from __future__ import annotations

import argparse
import compileall
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from worksheetgen import formats as formats_module  # noqa: E402
from worksheetgen import pdf, texbatch  # noqa: E402
from worksheetgen.spec import load_spec  # noqa: E402

FIRST = ["Amélie", "Jürgen", "Chen", "Dana", "Liam", "Sofía", "Noah", "Zoë", "Aarav", "Mia",
         "Olu", "Ingrid", "Mateo", "Hana", "Pieter", "Yusuf", "Elena", "Kofi", "Saoirse", "Tomás"]
LAST = ["Dubois", "Müller", "Li", "Smith", "O'Connor", "García", "Kowalski", "Ngata", "Patel",
        "Rossi", "Okafor", "Johansson", "Fernández", "Sato", "de Vries", "Yilmaz", "Popescu",
        "Mensah", "Byrne", "Novák"]


@dataclass
class Cost:
    wall: float
    cpu: float  # this process and its finished children, user + system

    def __sub__(self, other: "Cost") -> "Cost":
        return Cost(self.wall - other.wall, self.cpu - other.cpu)


def now() -> Cost:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return Cost(time.perf_counter(), own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime)


def write_exam(folder: Path, students: int) -> Path:
    spec = (ROOT / "examples" / "exam.toml").read_text(encoding="utf-8")
    lines = ["id,name"] + [f"S{i:03d},{FIRST[i % len(FIRST)]} {LAST[(i * 7 + i // 20) % len(LAST)]}"
                           for i in range(1, students + 1)]
    (folder / "roster.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    path = folder / "exam.toml"
    path.write_text(spec, encoding="utf-8")
    return path


def floor(exam_dir: Path, work: Path) -> dict[str, Cost]:
    """One pass over each view's whole-class document on its dumped format (what TeX alone
    needs: no batches, no cutting)."""
    support = formats_module.get_format("pdf").units_support()
    out = {}
    for view in ("problems", "solutions"):
        docs = [texbatch.parse(p, p.name) for p in sorted(exam_dir.glob(f"*/{view}.tex"))]
        preambles = {d.preamble for d in docs}
        preamble = max(preambles, key=lambda p: sum(d.preamble == p for d in docs))
        units = [d.units[0] for d in docs if d.preamble == preamble]
        batch = texbatch.Batch(f"floor-{view}", preamble, units, [None] * len(units))
        tex = work / f"floor-{view}.tex"
        tex.write_text(texbatch.batch_text(batch, texbatch.format_for(preamble, view), support), encoding="utf-8")
        before = now()
        pdf.compile_pdf(tex)
        out[f"{view} ({len(units)} of {len(docs)} students)"] = now() - before
    return out


# As a worker process of the build makes its students: the first one (here, as in the build,
# in the process the workers are forked from) warms up, then the collector is set as in a worker
# (parallel.collect_as_worker) with what the warm-up made frozen out of its passes.
GENERATE = """
import gc, resource, sys
from worksheetgen.build import choose_formats, render_variant, solve_variant
from worksheetgen.parallel import collect_as_worker
from worksheetgen.plan import make_plan
from worksheetgen.spec import load_spec
plan = make_plan(load_spec(sys.argv[1]))
run, _, _ = choose_formats(sys.argv[2].split(","), False)
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
solve = render = first = 0.0
for i, variant in enumerate(plan.variants):
    a = cpu()
    sv = solve_variant(plan, variant)
    b = cpu()
    render_variant(plan, sv, run)
    solve, render = solve + b - a, render + cpu() - b
    if i == 0:
        first = cpu() - a
        gc.freeze()
        collect_as_worker()
print(solve, render, len(plan.slots(plan.variants[0])), first)
"""


def run(command: list[str], env: dict[str, str]) -> tuple[Cost, str]:
    """A fresh interpreter, as a person runs it (its pdflatex processes count as its CPU)."""
    before = now()
    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    cost = now() - before
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    return cost, result.stdout


def counting_pdflatex(folder: Path) -> Path:
    """A pdflatex first on PATH that runs the real one and appends its CPU (the shell's
    ``times``: the shell's own line, then its children's) to ``folder/times``."""
    real = shutil.which("pdflatex")
    script = folder / "pdflatex"
    script.write_text(f'#!/bin/sh\n"{real}" "$@"\nstatus=$?\ntimes >> "{folder}/times"\nexit $status\n',
                      encoding="utf-8")
    script.chmod(0o755)
    return folder


def tex_runs(folder: Path) -> tuple[int, float]:
    """(runs, CPU seconds of pdflatex) recorded by :func:`counting_pdflatex`."""
    lines = (folder / "times").read_text().split("\n")
    children = [line for i, line in enumerate(l for l in lines if l.strip()) if i % 2 == 1]
    seconds = sum(60 * float(m) + float(s) for line in children for m, s in re.findall(r"(\d+)m([\d.]+)s", line))
    return len(children), seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=500)
    parser.add_argument("--jobs", type=int, default=None, help="default: the machine's cores")
    parser.add_argument("--warm", action="store_true", help="keep the TeX format cache (default: start empty)")
    args = parser.parse_args()
    jobs = args.jobs or os.cpu_count() or 1
    n = args.students
    # Bytecode as Python keeps it after a first run (or pip writes it on install): where
    # PYTHONDONTWRITEBYTECODE is set, every run would otherwise compile the package again.
    compileall.compile_dir(str(ROOT / "worksheetgen"), quiet=1)
    # Built where a person's builds go (the checkout's output/), not in the temporary folder: on
    # ext4, creating files in a folder's block group right after many files there were deleted
    # (a test run's, a previous benchmark's) costs up to 1 ms a file for a few minutes, which
    # would be the machine's state, not the build's cost.
    (ROOT / "output").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".exam500-", dir=ROOT / "output") as tmp:
        tmp_path = Path(tmp)
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        if not args.warm:
            env["XDG_CACHE_HOME"] = os.environ["XDG_CACHE_HOME"] = str(tmp_path / "cache")
        spec_path = write_exam(tmp_path, n)
        spec = load_spec(spec_path)
        print(f"examples/exam.toml, {n} students, --jobs {jobs}, {os.cpu_count()} cores, "
              f"load average {os.getloadavg()[0]:.1f} at start (other work on the machine slows every figure)")

        text_formats = [f for f in formats_module.default_formats() if f != "pdf"]
        cost, out = run([sys.executable, "-c", GENERATE, str(spec_path), ",".join(text_formats)], env)
        solve_cpu, render_cpu, exercises, first = (float(x) for x in out.split())
        print(f"generation in one process, as a worker of the build makes students ({int(exercises)} exercises per "
              f"student; first student's warm-up "
              f"included): solve (sample, solve, check) {1000 * solve_cpu / n:.1f} ms + render "
              f"({', '.join(text_formats)}) {1000 * render_cpu / n:.1f} ms = "
              f"{1000 * (solve_cpu + render_cpu) / n:.1f} ms CPU per student; the first student "
              f"(loading and compiling the templates) {1000 * first:.0f} ms, every other "
              f"{1000 * (solve_cpu + render_cpu - first) / max(1, n - 1):.1f} ms")

        build_cli = [sys.executable, "-m", "worksheetgen", "build", str(spec_path), "--jobs", str(jobs)]
        text, _ = run(build_cli + ["--out", str(tmp_path / "text"), "--format", ",".join(text_formats)], env)
        print(f"build without PDFs ({', '.join(text_formats)}): {text.wall:.1f} s wall, {text.cpu:.1f} s CPU "
              f"({1000 * text.cpu / n:.0f} ms per student); load average {os.getloadavg()[0]:.1f}")

        if not pdf.tex_available():
            print("no TeX engine: the PDF figures are not measured")
            return
        counter = counting_pdflatex(tmp_path)
        full, _ = run(build_cli + ["--out", str(tmp_path / "full")],
                      dict(env, PATH=f"{counter}{os.pathsep}{env.get('PATH', '')}"))
        runs, tex_cpu = tex_runs(counter)
        exam_dir = tmp_path / "full" / spec.name
        pdfs = list(exam_dir.rglob("*.pdf"))
        print(f"build with PDFs (every default format, {len(pdfs)} PDFs): {full.wall:.1f} s wall, "
              f"{full.cpu:.1f} s CPU (on {jobs} cores at best {full.cpu / jobs:.1f} s wall); "
              f"load average {os.getloadavg()[0]:.1f}")
        stage = full - text
        print(f"  PDF stage (the difference): {stage.wall:.1f} s wall, {stage.cpu:.1f} s CPU "
              f"({1000 * stage.cpu / n:.0f} ms per student)")
        print(f"  pdflatex processes: {runs} ({runs / n:.3f} per student; format dumps included), "
              f"{tex_cpu:.1f} s CPU; the rest of the stage (handing documents over, cutting, the "
              f"print document) {stage.cpu - tex_cpu:.1f} s CPU")

        work = tmp_path / "floor"
        work.mkdir()
        floors = floor(exam_dir, work)
        total = sum(c.cpu for c in floors.values())
        for name, cost in floors.items():
            print(f"  floor, one pass over every student's {name}: {cost.cpu:.1f} s CPU")
        print(f"  PDF stage / floor: {stage.cpu / total:.2f} (CPU); on {jobs} processes the floor is "
              f"{total / jobs:.1f} s wall at best, the stage added {stage.wall:.1f} s")


if __name__ == "__main__":
    main()
