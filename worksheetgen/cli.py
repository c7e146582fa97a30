"""Command line: parse arguments, run, and turn the project's errors into one line + exit code.

Exit status: 0 success; 2 bad input (spec, parameter, roster); 3 the exact and independent
computations disagree (a bug: nothing is written); 1 TeX failed or another failure.
"""

from __future__ import annotations

import argparse
import atexit
import os
import sys
from pathlib import Path
from typing import NoReturn, Sequence

from worksheetgen import __version__
from worksheetgen.errors import CheckError, TexError, WorkerError, WorksheetError

EXIT_BAD_INPUT = 2
EXIT_CHECK = 3


def _formats(text: str) -> list[str]:
    from worksheetgen.formats import get_format, load_formats

    chosen = [f.strip() for f in text.split(",") if f.strip()]
    if not chosen:
        raise WorksheetError(f"no format in {text!r}", field="--format", allowed=", ".join(sorted(load_formats())))
    for name in chosen:
        get_format(name)
    return list(dict.fromkeys(chosen))


def cmd_list(args: argparse.Namespace) -> int:
    from worksheetgen.registry import load_families

    for name, cls in load_families().items():
        print(f"{name}: {cls.title}")
        if cls.summary:
            print(f"    {cls.summary}")
        for p in cls.params:
            print(f"    {p.name} = {p.default_text()}    # {p.kind.description}. {p.help}".rstrip())
        print()
    return 0


def cmd_preview(args: argparse.Namespace) -> int:
    from worksheetgen.formats import get_format
    from worksheetgen.instance import make_instance
    from worksheetgen.params import parse_assignments, parse_params
    from worksheetgen.registry import get_family

    family = get_family(args.family, where="FAMILY")
    raw = parse_assignments(family.params, args.set or [])
    options = parse_params(family.params, raw, where="--set", validate=family.validate)
    instance = make_instance(family, options, sheet_seed=args.seed, digits=args.digits, where="--set")
    problem, solution = get_format("md").render_exercise(instance)
    print(f"# {instance.title} (family {family.name}, seed {args.seed}, stream seed {instance.stream_seed})\n")
    print(problem)
    print("\n## Solution\n")
    print(solution)
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from worksheetgen.build import build, progress_bar
    from worksheetgen.spec import load_spec

    spec = load_spec(args.spec)
    if args.seed is not None:
        spec = replace(spec, seed=args.seed)
    if args.variants is not None:
        if spec.exam is not None:
            raise WorksheetError(f"--variants {args.variants} with an exam spec", field="--variants",
                                 allowed="[exam] versions = N or [exam] roster = 'file.csv' instead")
        if not 1 <= args.variants <= 2000:
            raise WorksheetError(f"invalid value {args.variants}", field="--variants",
                                 allowed="an integer from 1 to 2000")
        spec = replace(spec, variants=args.variants)
    formats = _formats(args.format) if args.format else None
    result = build(spec, Path(args.out), formats=formats, jobs=args.jobs, progress=progress_bar(),
                   only=args.student)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"wrote {len(result.files)} files to {result.target}")
    return 0


def cmd_stress(args: argparse.Namespace) -> int:
    from worksheetgen.params import parse_assignments, parse_params
    from worksheetgen.registry import get_family
    from worksheetgen.stress import stress

    family = get_family(args.family, where="FAMILY")
    raw = parse_assignments(family.params, args.set or [])
    options = parse_params(family.params, raw, where="--set", validate=family.validate)
    if args.n is None:
        args.n = 200 if args.quality else 1000
    if args.n < 1:
        raise WorksheetError(f"invalid value {args.n}", field="--n", allowed="a positive integer")
    if args.quality:
        from worksheetgen.qualitygate import gate

        tex = not args.no_tex
        if tex:
            import shutil

            missing = [p for p in ("pdflatex", "pdftotext") if shutil.which(p) is None]
            if missing:
                raise WorksheetError(f"the TeX checks need {' and '.join(missing)}", field="--quality",
                                     allowed="--no-tex, or TeX Live and poppler-utils (see README)")
        result = gate(family, options, n=args.n, first_seed=args.first_seed, tex=tex)
        print("\n".join(result.lines()))
        return 1 if args.strict and not result.passed else 0
    report = stress(family, options, runs=args.n, first_seed=args.first_seed)
    print("\n".join(report.lines()))
    return 1 if report.failures else 0


def cmd_replay(args: argparse.Namespace) -> int:
    from worksheetgen.formats import get_format
    from worksheetgen.replay import differences, find_entry, load_key, replay

    doc = load_key(args.key)
    entries = [find_entry(doc, args.exercise, args.key)] if args.exercise else doc["exercises"]
    for entry in entries:
        instance, fresh = replay(doc, entry)
        changed = differences(entry, fresh)
        if changed:
            raise CheckError(f"{args.key}: exercise {entry['id']!r} replays with different "
                             f"{', '.join(changed)}: another version of worksheetgen, or an edited key")
        if args.quiet:
            print(f"{entry['id']}: identical")
            continue
        problem, solution = get_format("md").render_exercise(instance)
        print(f"# {instance.title} ({entry['id']}, stream seed {instance.stream_seed}): key entry identical\n")
        print(problem)
        print("\n## Solution\n")
        print(solution)
        print()
    return 0


def cmd_grade(args: argparse.Namespace) -> int:
    from worksheetgen.grading import grade_files

    result, paths = grade_files(args.key, args.responses, args.out, lenient=args.lenient)
    n = len(result.students)
    print(f"graded {n} student{'s' if n != 1 else ''}: wrote {', '.join(str(p) for p in paths)}")
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


def cmd_formats(args: argparse.Namespace) -> int:
    from worksheetgen.formats import load_formats

    for name, cls in sorted(load_formats().items()):
        needs = f" (made from {', '.join(cls.needs)})" if cls.needs else ""
        print(f"{name}: {cls.description}{needs}{'' if cls.default else ' [only when asked]'}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="worksheetgen", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"worksheetgen {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("list", help="families with their parameters and defaults").set_defaults(run=cmd_list)

    pv = sub.add_parser("preview", help="one problem and its solution as Markdown")
    pv.add_argument("family")
    pv.add_argument("--seed", type=int, default=0)
    pv.add_argument("--digits", type=int, default=4)
    pv.add_argument("--set", action="append", metavar="KEY=VALUE")
    pv.set_defaults(run=cmd_preview)

    b = sub.add_parser("build", help="build a sheet spec into problems, solutions and a key")
    b.add_argument("spec")
    b.add_argument("--seed", type=int)
    b.add_argument("--variants", type=int)
    b.add_argument("--format", help="comma-separated formats, e.g. tex,md,pdf,json (default: every "
                                    "default format; 'worksheetgen formats' lists them)")
    b.add_argument("--out", default="output")
    b.add_argument("--jobs", type=int, default=None,
                   help="processes for the TeX stage (default: the machine's cores); output is the same for any value")
    b.add_argument("--student", help="exams: build only this student id (same bytes as in the full build)")
    b.set_defaults(run=cmd_build)

    r = sub.add_parser("replay", help="rebuild exercises from a key.json alone and confirm their key entries")
    r.add_argument("key")
    r.add_argument("--exercise", help="an exercise id or number (default: every exercise of the key)")
    r.add_argument("--quiet", action="store_true", help="only say whether each entry is identical")
    r.set_defaults(run=cmd_replay)

    g = sub.add_parser("grade", help="score a responses CSV against key.json or instructor-key.json",
                       description="Score typed responses (one row per student, column 'id', one column "
                                   "'<exercise id>:<answer key>' per answer as in instructor-key.csv) and write "
                                   "scores.csv and grading-report.md. Moodle and Canvas exports are not read.")
    g.add_argument("key", help="an exam's instructor-key.json or a sheet's key.json")
    g.add_argument("responses", help="responses CSV (UTF-8)")
    g.add_argument("--out", help="folder for scores.csv and grading-report.md (default: the responses' folder)")
    g.add_argument("--lenient", action="store_true",
                   help="score an unreadable cell 0 and flag it instead of stopping")
    g.set_defaults(run=cmd_grade)

    sub.add_parser("formats", help="the output formats").set_defaults(run=cmd_formats)

    s = sub.add_parser("stress", help="run one family over many seeds and report")
    s.add_argument("family")
    s.add_argument("--n", type=int, default=None, help="seeds to draw (default 1000; with --quality 200)")
    s.add_argument("--first-seed", type=int, default=0)
    s.add_argument("--set", action="append", metavar="KEY=VALUE")
    s.add_argument("--quality", action="store_true",
                   help="run the quality gate: zero/tiny answers, the family's flags, choices, mixed "
                        "forms, forbidden words, spread, and (with TeX) overfull boxes and collisions")
    s.add_argument("--no-tex", action="store_true", help="with --quality: skip the TeX checks")
    s.add_argument("--strict", action="store_true", help="with --quality: exit 1 when a check fails")
    s.set_defaults(run=cmd_stress)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except WorksheetError as exc:
        print(f"worksheetgen: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except CheckError as exc:
        print(f"worksheetgen: internal check failed, nothing written: {exc}", file=sys.stderr)
        return EXIT_CHECK
    except TexError as exc:
        print(f"worksheetgen: {exc}", file=sys.stderr)
        return 1
    except WorkerError as exc:
        print(f"worksheetgen: {exc}; nothing written (try --jobs 1 if memory is short)", file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. `worksheetgen list | head`: the reader has what it wanted
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return 0
    except KeyboardInterrupt:
        print("worksheetgen: interrupted, nothing written", file=sys.stderr)
        return 130


def run() -> NoReturn:
    """The command line: :func:`main`, then exit without tearing the heap down. A build holds
    every student's solved exercises (SymPy trees), which the interpreter would otherwise free
    one by one on the way out: 0.4 s on 500 students after the work is done. Exit handlers
    still run and the output is flushed."""
    code = main()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can be said
            pass
    os._exit(code)


if __name__ == "__main__":
    run()
