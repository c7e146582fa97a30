"""Fuzzed specs: every one builds or is refused in one line with exit 2 — no traceback, no other
exit status, no case over a few seconds, bounded memory. The slow test runs 10,000 cases; the
fast one a sample of them."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from fuzzing import Outcome, base_specs, mutate_spec, run_case, to_toml

LIMIT = 5.0  # seconds per case: a case that takes longer fails the test


def fuzz(tmp_path: Path, cases: int, seed: int) -> Outcome:
    rng = random.Random(seed)
    bases = base_specs()
    outcome = Outcome()
    for i in range(cases):
        base = bases[i % len(bases)]
        doc = mutate_spec(rng, base)
        if rng.random() < 0.03:  # raw text damage on top: truncation, stray bytes
            text = to_toml(doc)
            cut = rng.randrange(len(text))
            text = text[:cut] + rng.choice(["", "\x00", "[[", "= =", '"', "\ufffd", "]]\n[x"]) + text[cut + 1:]
        else:
            text = to_toml(doc)
        folder = tmp_path / f"c{i % 50}"
        folder.mkdir(exist_ok=True)
        run_case(text, folder, outcome, LIMIT, f"case {i} (seed {seed}): {text[:200]!r}")
        if (folder / "out").exists() and i % 50 == 49:
            shutil.rmtree(folder / "out")
    return outcome


def test_fuzzed_specs_sample(tmp_path: Path) -> None:
    outcome = fuzz(tmp_path, 300, seed=1)
    assert not outcome.failures, "\n".join(outcome.failures[:15])
    assert outcome.built > 20 and outcome.refused > 100, outcome.line("sample")


@pytest.mark.slow
def test_ten_thousand_fuzzed_specs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outcome = fuzz(tmp_path, 10_000, seed=2026)
    with capsys.disabled():
        print("\n" + outcome.line("fuzz"))
    assert not outcome.failures, f"{len(outcome.failures)} failures:\n" + "\n".join(outcome.failures[:25])
    assert outcome.max_rss_mb < 4096
