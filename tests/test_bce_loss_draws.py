"""bce_loss: draws that teach (issue 10): the gate over 200 seeds, and the example exam's 500
students (m = 3, require_distinct) all get different numbers."""

import pytest

from dense_draws import assert_gate_passes
from worksheetgen.instance import fingerprint, make_instance
from worksheetgen.params import parse_params
from worksheetgen.registry import get_family


@pytest.mark.slow
@pytest.mark.parametrize("params", [{}, {"m": 3}, {"mode": "logit"}, {"mode": "logit", "m": 4}],
                         ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()) or "defaults")
def test_draws_pass_the_gate_over_200_seeds(params):
    assert_gate_passes("bce_loss", params)


@pytest.mark.slow
def test_five_hundred_students_get_distinct_batches():
    fam = get_family("bce_loss")
    options = parse_params(fam.params, {"m": 3}, validate=fam.validate)
    seen = {fingerprint(make_instance(fam, options, sheet_seed=2025, variant=f"S{i:03d}").given)
            for i in range(1, 501)}
    assert len(seen) == 500
