"""Mutated specs for the fuzz tests: a tiny TOML writer and seeded mutation operators.

Every case is written as a TOML file and run through the real command line in-process
(``worksheetgen build``), under a per-case alarm, so what is measured is what a user meets.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import random
import re
import resource
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from worksheetgen.cli import main
from worksheetgen.params import parse_params
from worksheetgen.registry import load_families

BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a valid TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(type(value))


def toml_key(key: str) -> str:
    return key if BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)


def to_toml(doc: dict[str, Any]) -> str:
    lines = []
    tables = {}
    for key, value in doc.items():
        if key == "exercise" and isinstance(value, list) and all(isinstance(v, dict) for v in value):
            tables[key] = value
        elif isinstance(value, dict) and key == "exam":
            tables[key] = value
        else:
            lines.append(f"{toml_key(key)} = {toml_value(value)}")
    if "exam" in tables:
        lines.append("[exam]")
        lines.extend(f"{toml_key(k)} = {toml_value(v)}" for k, v in tables["exam"].items())
    for item in tables.get("exercise", []):
        lines.append("[[exercise]]")
        lines.extend(f"{toml_key(k)} = {toml_value(v)}" for k, v in item.items())
    return "\n".join(lines) + "\n"


STRINGS = [
    "", " ", "x" * 5000, "\u202eevil\u202c", "a\u200bb", "\ufeffbom", "漢字", "😀", "\\input{/etc/passwd}",
    "^^5cinput{x}", "$\\def\\x{}$", "#1 {x} % & _", "line\nbreak", "\x00", "../../etc", "é" * 300,
    "relu", "sigmoid", "elu", "mse_half", "bce", "vector", "row", "1/3", "0.1", "-0", "nan", "1e309",
]
NUMBERS = [0, -1, 1, 2, 3, 10**6, 10**18, -(10**18), 2**63, 0.5, -0.5, 1e-300, 1e300, 1e308,
           float("nan"), float("inf"), float("-inf"), 7, 100, 1000, 65536, 0.001, 0.999]


def mutate_value(rng: random.Random, value: Any, depth: int = 0) -> Any:
    """One mutation of ``value``: a type flip, an edge number, a string, a resized list..."""
    ops: list[Callable[[], Any]] = [
        lambda: rng.choice(NUMBERS),
        lambda: rng.choice(STRINGS),
        lambda: rng.choice([True, False]),
        lambda: [],
        lambda: {},
        lambda: [rng.choice(NUMBERS) for _ in range(rng.choice([1, 2, 3, 5, 50, 2000]))],
        lambda: [[rng.choice(NUMBERS)]],
    ]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        ops += [lambda: -value, lambda: value * rng.choice([10, 1000, 10**9]), lambda: value + 1,
                lambda: str(value), lambda: [value]]
    if isinstance(value, list) and value:
        ops += [lambda: value[:-1], lambda: value + value[-1:] * rng.choice([1, 5, 60]),
                lambda: [mutate_value(rng, v, depth + 1) if rng.random() < 0.5 else v for v in value],
                lambda: value[0]]
    if isinstance(value, dict) and value and depth < 3:
        ops += [lambda: mutate_dict(rng, value, depth + 1)]
    return rng.choice(ops)()


def mutate_dict(rng: random.Random, doc: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    out = dict(doc)
    choice = rng.random()
    if choice < 0.15 and out:
        del out[rng.choice(list(out))]
    elif choice < 0.25:
        out[rng.choice(["extra", "Title", "seeed", "params2", "é", "x" * 80])] = rng.choice(NUMBERS + STRINGS)
    elif out:
        key = rng.choice(list(out))
        out[key] = mutate_value(rng, out[key], depth)
    return out


def base_specs() -> list[dict[str, Any]]:
    """One small spec per family with every declared parameter written out (so mutations reach
    each one), plus a two-exercise sheet and a small exam with versions."""
    specs = []
    for name, cls in load_families().items():
        family = cls()
        options = parse_params(family.params, {}, validate=family.validate)
        params = {p.name: plain(options[p.name]) for p in family.params if options[p.name] is not None}
        specs.append({"title": f"Fuzz {name}", "seed": 1,
                      "exercise": [{"family": name, "points": 5, "params": params}]})
    specs.append({"title": "Two", "course": "C", "digits": 4, "tolerance": {"relative": 0.01, "absolute": 1e-4},
                  "exercise": [{"family": "scalar_chain", "points": 3, "part_points": [1, 1, 1]},
                               {"family": "cnn_params", "points": 2}]})
    specs.append({"title": "Exam", "seed": 2, "exam": {"versions": 2, "duration": "1 h"},
                  "exercise": [{"family": "scalar_chain", "points": 3, "pool": "p"},
                               {"family": "bce_loss", "points": 3, "pool": "p"}]})
    specs[-1]["exam"]["pools"] = {"p": 1}
    return specs


def plain(value: Any) -> Any:
    """A parsed option back as TOML-able data."""
    import sympy as sp

    if isinstance(value, sp.MatrixBase):
        return [[plain(v) for v in row] for row in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, sp.Integer):
        return int(value)
    if isinstance(value, sp.Rational):
        return float(value) if value.q in (1, 2, 4, 5, 8, 10, 20, 25, 50, 100, 1000) else str(value)
    return value


def mutate_spec(rng: random.Random, spec: dict[str, Any]) -> dict[str, Any]:
    doc = json.loads(json.dumps(spec))  # a deep copy
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        target = rng.random()
        exercises = doc.get("exercise")
        if target < 0.55 and isinstance(exercises, list) and exercises and isinstance(exercises[0], dict):
            ex = rng.choice(exercises)
            params = ex.get("params")
            if isinstance(params, dict) and params and rng.random() < 0.8:
                ex["params"] = mutate_dict(rng, params)
            else:
                exercises[exercises.index(ex)] = mutate_dict(rng, ex)
        else:
            doc = mutate_dict(rng, doc)
    return doc


class Timeout(Exception):
    pass


@contextlib.contextmanager
def alarm(seconds: float) -> Iterator[None]:
    def ring(signum: int, frame: Any) -> None:
        raise Timeout()

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Outcome:
    tried: int = 0
    built: int = 0
    refused: int = 0
    failures: list[str] = field(default_factory=list)
    slowest: float = 0.0
    max_rss_mb: float = 0.0

    def line(self, what: str) -> str:
        return (f"{what}: {self.tried} cases tried, {self.built + self.refused} passed "
                f"({self.built} built, {self.refused} refused in one line with exit 2), "
                f"{len(self.failures)} failed; slowest {self.slowest:.2f} s; peak RSS {self.max_rss_mb:.0f} MB")


def run_case(text: str, folder: Path, outcome: Outcome, limit: float, label: str,
             argv_extra: tuple[str, ...] = ()) -> None:
    spec = folder / "spec.toml"
    spec.write_text(text, encoding="utf-8", errors="surrogatepass")
    out = folder / "out"
    err, std = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    outcome.tried += 1
    try:
        with alarm(limit), contextlib.redirect_stderr(err), contextlib.redirect_stdout(std):
            code = main(["build", str(spec), "--out", str(out), "--format", "json,md,tex", *argv_extra])
    except Timeout:
        outcome.failures.append(f"{label}: over {limit} s")
        return
    except BaseException as exc:  # noqa: BLE001 - a traceback is exactly what is counted
        outcome.failures.append(f"{label}: {type(exc).__name__}: {exc}"[:300])
        return
    finally:
        elapsed = time.perf_counter() - start
        outcome.slowest = max(outcome.slowest, elapsed)
        outcome.max_rss_mb = max(outcome.max_rss_mb, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    message = err.getvalue()
    if code == 0:
        outcome.built += 1
    elif code == 2 and message.count("\n") == 1 and message.startswith("worksheetgen: error: "):
        outcome.refused += 1
    else:
        outcome.failures.append(f"{label}: exit {code}: {message.strip()[:300]}")
