"""Overfull boxes per family and parameters, measured with real TeX (issue 10, item 5).

    python benchmarks/layout_fit.py forward_pass --n 20 --set layers=[4,5,6]
    python benchmarks/layout_fit.py backprop softmax_ce --n 20 [--keep DIR] [--title LONG]

Builds one sheet per family with N exercises of it (ids f1..fN: N different draws), compiles
its problems and solutions once each with pdflatex (the sheet's own preamble and layout) and
counts the log's Overfull \\hbox (> 1 pt) and Overfull \\vbox, attributed to the exercise whose
lines they are at. The official gate is ``python -m worksheetgen stress FAMILY --quality``;
this script is the quick look while the layout is changed.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

OVERFULL = re.compile(r"^Overfull \\([hv])box \(([\d.]+)pt too (?:wide|high)\) .*?lines? (\d+)", re.M)


def toml_value(text: str) -> str:
    """--set values as TOML (numbers, lists and words)."""
    try:
        return json.dumps(json.loads(text))
    except ValueError:
        return json.dumps(text)


def spec_text(family: str, n: int, params: dict[str, str], title: str, sheet_title: str = "Layout check") -> str:
    lines = [f"title = {json.dumps(sheet_title)}", 'course = "Deep Neural Networks"', 'date = "Week 1"', "seed = 7", ""]
    inline = ", ".join(f"{k} = {toml_value(v)}" for k, v in params.items())
    for i in range(1, n + 1):
        lines += ["[[exercise]]", f'family = "{family}"', f'id = "f{i}"', "points = 4"]
        if title:
            lines.append(f"title = {json.dumps(title)}")
        if inline:
            lines.append(f"params = {{ {inline} }}")
        lines.append("")
    return "\n".join(lines)


def measure(family: str, n: int, params: dict[str, str], title: str, keep: Path | None,
            sheet_title: str = "Layout check") -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix=f"fit-{family}-")) if keep is None else keep / family
    work.mkdir(parents=True, exist_ok=True)
    spec = work / "spec.toml"
    spec.write_text(spec_text(family, n, params, title, sheet_title), encoding="utf-8")
    out = work / "out"
    run = subprocess.run([sys.executable, "-m", "worksheetgen", "build", str(spec), "--format", "tex",
                          "--out", str(out)], capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"{family}: build failed: {run.stderr.strip()}")
    out = out / spec.stem  # the build writes into <out>/<spec name>
    result: dict[str, object] = {}
    for view in ("problems", "solutions"):
        tex = out / f"{view}.tex"
        starts = [i + 1 for i, line in enumerate(tex.read_text(encoding="utf-8").split("\n"))
                  if line.startswith("\\question")]
        subprocess.run(["pdflatex", "-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error",
                        tex.name], cwd=out, capture_output=True, text=True)
        subprocess.run(["pdflatex", "-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error",
                        tex.name], cwd=out, capture_output=True, text=True)
        log = tex.with_suffix(".log").read_text(encoding="utf-8", errors="replace")
        boxes = []
        for kind, size, line in OVERFULL.findall(log):
            if kind == "h" and float(size) <= 1.0:
                continue
            q = sum(1 for s in starts if s <= int(line))
            boxes.append((kind, float(size), q))
        pages = re.search(r"Output written on .*?\((\d+) pages?", log)
        result[view] = {"boxes": len(boxes), "exercises": len({q for *_, q in boxes}),
                        "worst": max((b[1] for b in boxes), default=0.0),
                        "vbox": sum(1 for b in boxes if b[0] == "v"),
                        "pages": int(pages.group(1)) if pages else 0,
                        "which": sorted({q for *_, q in boxes})[:10]}
    result["dir"] = str(out)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("families", nargs="+")
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--title", default="", help="every exercise's title")
    parser.add_argument("--sheet-title", default="Layout check")
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args()
    params = dict(item.split("=", 1) for item in args.set)
    for family in args.families:
        r = measure(family, args.n, params, args.title, args.keep, args.sheet_title)
        shown = " ".join(f"{k}={v}" for k, v in params.items())
        for view in ("problems", "solutions"):
            v = r[view]
            print(f"{family:18} {shown:28} {view:9} overfull {v['boxes']:3} in {v['exercises']:2}/{args.n} "
                  f"exercises (vbox {v['vbox']}), worst {v['worst']:7.1f} pt, {v['pages']} pages, at {v['which']}")
        print(f"  {r['dir']}")


if __name__ == "__main__":
    main()
