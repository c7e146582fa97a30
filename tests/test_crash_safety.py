"""A build killed at any moment (kill -9) leaves the previous complete build in place or the new
one complete, never a mixture; the next build cleans up what the killed one left; two builds
into the same folder at once are serialized."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import require_tex

ROOT = Path(__file__).resolve().parent.parent
EXAM = """title = "Quiz"
seed = 5
[exam]
versions = 3
[[exercise]]
family = "scalar_chain"
points = 6
[[exercise]]
family = "forward_pass"
points = 4
"""


def digests(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def command(spec: Path, out: Path, seed: int, formats: str) -> list[str]:
    return [sys.executable, "-m", "worksheetgen", "build", str(spec), "--out", str(out),
            "--seed", str(seed), "--format", formats]


def run(spec: Path, out: Path, seed: int, formats: str) -> float:
    start = time.perf_counter()
    subprocess.run(command(spec, out, seed, formats), check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - start


def strays(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.name.startswith("."))


def kill_at_random_moments(spec: Path, name: str, formats: str, tmp: Path, kills: int) -> list[str]:
    """Build seed 1, then start seed-2 builds over it and kill -9 each at a random moment."""
    ref1, ref2 = tmp / "ref1", tmp / "ref2"
    run(spec, ref1, 1, formats)
    duration = run(spec, ref2, 2, formats)
    one, two = digests(ref1 / name), digests(ref2 / name)
    assert one != two
    out = tmp / "out"
    run(spec, out, 1, formats)
    rng = random.Random(7)
    outcomes = []
    for _ in range(kills):
        proc = subprocess.Popen(command(spec, out, 2, formats), cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, duration * 1.1))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        now = digests(out / name)
        assert now in (one, two), "after kill -9 the folder holds the previous or the new build, whole"
        outcomes.append("new" if now == two else "old")
        if now == two:  # put the old build back for the next round
            run(spec, out, 1, formats)
    run(spec, out, 1, formats)
    assert digests(out / name) == one
    assert strays(out) == [], "the next build removed what the killed builds left behind"
    return outcomes


@pytest.mark.slow
@pytest.mark.pdf
def test_kill_9_during_a_sheet_build(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require_tex()
    outcomes = kill_at_random_moments(ROOT / "examples" / "week1.toml", "week1", "tex,md,json,pdf", tmp_path, 6)
    with capsys.disabled():
        print(f"\ncrash safety (sheet): {len(outcomes)} kills, {outcomes.count('old')} left the previous "
              f"build, {outcomes.count('new')} the new one, 0 mixed")


@pytest.mark.slow
@pytest.mark.pdf
def test_kill_9_during_an_exam_build(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require_tex()
    spec = tmp_path / "quiz.toml"
    spec.write_text(EXAM, encoding="utf-8")
    outcomes = kill_at_random_moments(spec, "quiz", "tex,md,json,pdf", tmp_path, 5)
    with capsys.disabled():
        print(f"\ncrash safety (exam): {len(outcomes)} kills, {outcomes.count('old')} left the previous "
              f"build, {outcomes.count('new')} the new one, 0 mixed")


@pytest.mark.slow
def test_two_builds_into_one_folder_at_once_are_serialized(tmp_path: Path) -> None:
    spec = ROOT / "examples" / "week1.toml"
    run(spec, tmp_path / "ref", 3, "md,json")
    out = tmp_path / "out"
    procs = [subprocess.Popen(command(spec, out, 3, "md,json"), cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    assert digests(out / "week1") == digests(tmp_path / "ref" / "week1")
    assert strays(out) == []


def test_a_parked_previous_build_is_restored(tmp_path: Path) -> None:
    # Where the kernel cannot swap folders in one step, the old build is parked first; a kill
    # between the two renames leaves it parked, and the next build puts it back.
    from worksheetgen.build import recover_swap

    target = tmp_path / "sheet"
    parked = tmp_path / f".sheet.old-{os.getpid()}"
    parked.mkdir()
    (parked / "problems.md").write_text("previous", encoding="utf-8")
    recover_swap(target)
    assert (target / "problems.md").read_text(encoding="utf-8") == "previous" and not parked.exists()
