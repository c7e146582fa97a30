"""Prints what a sheet costs to make: per family (sample → solve → check, render), per variant
(a whole sheet, without and with PDF). Figures, not assertions: machines are noisy, so compare
ratios between runs on the same machine.

    python benchmarks/run.py [--n 50] [--variants 6]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # runs from the checkout without installing

from worksheetgen import pdf, render  # noqa: E402
from worksheetgen.build import build  # noqa: E402
from worksheetgen.instance import make_instance  # noqa: E402
from worksheetgen.params import parse_params  # noqa: E402
from worksheetgen.registry import load_families  # noqa: E402
from worksheetgen.spec import load_spec  # noqa: E402


def per_family(n: int) -> None:
    print(f"{'family':<22} {'solve+check ms':>15} {'render ms':>10} {'draws/inst':>11}")
    for name, cls in load_families().items():
        family = cls()
        options = parse_params(family.params, {}, validate=family.validate)
        solve_t, render_t, draws = [], [], 0
        for seed in range(n):
            t0 = time.perf_counter()
            inst = make_instance(family, options, sheet_seed=seed)
            t1 = time.perf_counter()
            for fmt in ("tex", "md"):
                render.render_exercise(inst, fmt)
            t2 = time.perf_counter()
            solve_t.append(t1 - t0)
            render_t.append(t2 - t1)
            draws += inst.attempt  # the draw that was kept: draws made
        print(f"{name:<22} {1000 * statistics.median(solve_t):>15.1f} "
              f"{1000 * statistics.median(render_t):>10.1f} {draws / n:>11.2f}")


def per_variant(variants: int) -> None:
    spec = load_spec(ROOT / "examples" / "week1.toml")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        from dataclasses import replace

        build(replace(spec, variants=variants), Path(tmp), formats=["tex", "md", "json"])
        text_cost = (time.perf_counter() - t0) / variants
        print(f"\nexamples/week1.toml, {variants} variants, text formats: {1000 * text_cost:.0f} ms per variant")
        if pdf.tex_available():
            for jobs in (1, 2):
                t0 = time.perf_counter()
                build(replace(spec, variants=variants), Path(tmp) / f"j{jobs}", formats=["tex", "pdf"], jobs=jobs)
                cost = (time.perf_counter() - t0) / variants
                print(f"  with PDFs, --jobs {jobs}: {cost:.2f} s per variant "
                      f"({cost / text_cost:.0f}× the text-only cost)")
        else:
            print("  (no TeX engine: PDF cost not measured)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=50, help="seeds per family")
    parser.add_argument("--variants", type=int, default=6)
    args = parser.parse_args()
    per_family(args.n)
    per_variant(args.variants)


if __name__ == "__main__":
    main()
