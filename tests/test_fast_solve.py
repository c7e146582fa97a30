"""The solving side's shortcuts give what the general paths give: a draw refused by a float64
screen before it is solved is one the exact rule refuses, and the float64 pass shared by the
screens and the cross-check is the one computed afresh."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from worksheetgen.exercises import backprop
from worksheetgen.registry import get_family
from worksheetgen.seeding import generator
from worksheetgen.spec import load_spec

EXAM = Path(__file__).parent.parent / "examples" / "exam.toml"


def _backprop_draws(count: int) -> list[tuple[object, object]]:
    """(family, given) of ``count`` draws of each backprop exercise of the example exam."""
    spec = load_spec(EXAM)
    out = []
    for exercise in (e for e in spec.exercises if e.family == "backprop"):
        family = get_family(exercise.family)
        out += [(family, family.sample(generator(seed), exercise.options)) for seed in range(count)]
    return out


def test_draws_screened_out_break_the_exact_rule() -> None:
    screened = 0
    for family, given in _backprop_draws(150):
        broken = [c for c in family.constraints if c.plainly_broken is not None and c.plainly_broken(given)]
        if broken:
            solved = family.solve(given)
            for c in broken:
                assert not c.holds(given, solved), (c.rule, given)
            screened += 1
    assert screened > 20  # the screens do refuse draws here (the band, the floor, the loss)


def test_the_shared_float_pass_is_computed_afresh() -> None:
    for family, given in _backprop_draws(10):
        shared = family.check(given)
        backprop._last_pass.clear()
        fresh = family.check(given)
        assert shared.keys() == fresh.keys()
        for key in shared:
            assert np.array_equal(shared[key], fresh[key]), key
            if isinstance(shared[key], np.ndarray):
                assert not shared[key].flags.writeable  # handed out again: never changed in place
