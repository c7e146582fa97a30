"""The solving side's shortcuts give what the general paths give: a draw refused by a float64
screen before it is solved is one the exact rule refuses, the float64 pass shared by the
screens and the cross-check is the one computed afresh, and count_ops read off a product's
factors is the count of the fraction built from them."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from worksheetgen import activations, nets
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


def _closed_forms_of_draws(monkeypatch: pytest.MonkeyPatch, draws: int) -> list[sp.Expr]:
    """Every expression count_ops is asked about while solving draws of the chain and network
    families over the smooth and kinked activations, the losses and output layers."""
    seen: dict[int, sp.Expr] = {}
    count = nets.count_ops

    def remember(expr: sp.Expr) -> int:
        seen[id(expr)] = expr
        return count(expr)

    monkeypatch.setattr(nets, "count_ops", remember)
    variants = {"scalar_chain": [{}, {"loss": "half_squared"}],
                "backprop": [{}, {"layers": [2, 3, 2]}, {"output_activation": "sigmoid", "loss": "bce"},
                             {"output_activation": "softmax", "loss": "ce", "layers": [2, 2, 3]}]}
    for name, extras in variants.items():
        family = get_family(name)
        defaults = {p.name: p.default for p in family.params}
        for activation, extra in itertools.product(("sigmoid", "tanh", "elu", "silu", "gelu", "leaky_relu"), extras):
            options = defaults | {"activation": activation} | extra
            for seed in range(draws):
                family.solve(family.sample(generator(seed), options))
    monkeypatch.setattr(nets, "count_ops", count)
    return list(seen.values())


def test_counts_read_off_the_factors_are_the_counts_of_the_built_fractions(monkeypatch: pytest.MonkeyPatch) -> None:
    exprs = _closed_forms_of_draws(monkeypatch, 6)
    assert len(exprs) > 2000
    monkeypatch.setattr(nets, "_OPS", {})
    fast = [nets.count_ops(e) for e in exprs]
    # The general path: n and d built (activations.mul, exp, power) and counted, -a built.
    monkeypatch.setattr(nets, "_OPS", {})
    monkeypatch.setattr(nets, "_fraction_count", lambda a: None)
    monkeypatch.setattr(nets, "_negated_count", lambda a: nets.count_ops(-a))
    built = [nets.count_ops(e) for e in exprs]
    assert fast == built


def test_zero_tests_are_sympys_comparisons() -> None:
    from worksheetgen import sympyfast
    from worksheetgen.activations import MP, add, exp

    values = [sp.S.Zero, sp.Integer(0), sp.Rational(0, 5), sp.Float(0, 50), sp.Float(-0.0, 50),
              sp.Float(MP.mpf(0), 50), sp.Float("1e-40", 50), sp.Integer(3), sp.Rational(-1, 7),
              add(1, exp(sp.Rational(1, 3))), exp(sp.Rational(-2, 5)), sp.Float(2.5, 50), sp.nan, sp.oo,
              sp.Float("inf"), 0, 0.0, 1]
    for v in values:
        assert sympyfast.is_zero(v) == (v == 0), v
        for kinks in ((), (0,), (0, 1)):
            assert sympyfast.at_kink(v, kinks) == (v in kinks), (v, kinks)


def test_gradient_checks_rational_shortcuts_are_the_general_ones() -> None:
    from worksheetgen.exercises import gradient_check

    def power_of_ten(x: object) -> int | None:
        return next((k for k in range(-12, 13) if x == sp.Rational(10) ** k), None)

    def absolute(e: sp.Expr) -> sp.Expr:
        return sp.Integer(0) if e == 0 else (e if sp.N(e, 50) > 0 else -e)

    values = [sp.Rational(p, q) for p in range(-30, 31) for q in (1, 3, 10, 1000)]
    for v in values + [sp.Rational(10) ** k for k in range(-14, 15)] + [sp.Float(0.1), 10, 0.1]:
        assert gradient_check._power_of_ten(v) == power_of_ten(v), v
    for v in values:
        assert sp.srepr(gradient_check._abs(v)) == sp.srepr(absolute(v)), v


def _general_agrees(value: object, twin: object) -> bool:
    """nets._agrees's test of a value against its twin as the mpf operators do it."""
    MP = nets.MP
    with MP.workdps(nets.SAFE_DIGITS):
        if not MP.isfinite(value) or MP.im(value) != 0:
            return False
        scale = max(abs(value), abs(twin))
        return scale == 0 or abs(value - twin) <= nets._AGREEMENT * scale


def test_agreement_read_off_raw_mpfs_is_the_mpf_operators() -> None:
    MP, rng = nets.MP, np.random.default_rng(11)
    pairs = []
    with MP.workdps(nets.SAFE_DIGITS):
        for _ in range(3000):
            value = MP.mpf(float(rng.standard_normal())) * MP.mpf(10) ** int(rng.integers(-40, 40)) / 7
            # twins near the edge of agreement (relative errors around 10^-45) and far from it
            rel = MP.mpf(float(rng.uniform(-3, 3))) * MP.mpf(10) ** int(rng.integers(-48, -40))
            pairs.append((value, value * (1 + rel)))
        pairs += [(MP.mpf(0), MP.mpf(0)), (MP.mpf(0), MP.mpf("1e-80")), (MP.inf, MP.mpf(1)),
                  (MP.nan, MP.mpf(1)), (MP.mpf(2), -MP.mpf(2)), (MP.mpf(1), MP.mpf(1) + MP.mpf(10) ** -45)]
    with MP.workdps(activations.WORK_DIGITS):
        pairs += [(v, +t) for v, t in pairs[:500]]  # twins rounded to the twins' own precision
    outcomes = set()
    for value, twin in pairs:
        fast = nets._agree_mpf(value._mpf_, twin._mpf_)
        assert fast == _general_agrees(value, twin), (value, twin)
        outcomes.add(fast)
    assert outcomes == {True, False}


def test_digits_of_a_twin_are_sympys_float() -> None:
    MP, rng = nets.MP, np.random.default_rng(12)
    for _ in range(2000):
        twin = MP.mpf(float(rng.standard_normal())) / 3 * MP.mpf(10) ** int(rng.integers(-30, 30))
        fast, general = nets._digits(twin), sp.Float(twin, nets.PRECISION)
        assert type(fast) is type(general) and fast._mpf_ == general._mpf_ and fast._prec == general._prec


def _every_closed_grad(g: object, z: object, alpha: object, value: object) -> object:
    """The general path of nets._closed_grad: g'(z) built for every closed z."""
    return None if value is None else g.grad_at(z, alpha)


def test_output_sigmoid_derivatives_left_unbuilt_are_the_ones_settle_replaces(monkeypatch: pytest.MonkeyPatch) -> None:
    draws = [given for _, given in _backprop_draws(200)]
    fast, closed_grad = [nets.forward(given) for given in draws], nets._closed_grad
    monkeypatch.setattr(nets, "_closed_grad", _every_closed_grad)
    general = [nets.forward(given) for given in draws]
    skipped = 0
    for given, ours, theirs in zip(draws, fast, general):
        for a, b in zip(ours, theirs):
            assert [sp.srepr(v) for v in a.dz] == [sp.srepr(v) for v in b.dz]
            assert [sp.srepr(v) for v in a.a] == [sp.srepr(v) for v in b.a]
        sigmoid = activations.get("sigmoid")
        for layer in ours:
            for v in layer.z:
                if layer.activation == "sigmoid" and nets.is_closed(v) and not isinstance(v, sp.Rational):
                    value = sigmoid.at(v)
                    skipped += closed_grad(sigmoid, v, 0, value) is None
    assert skipped > 20


def test_a_sigmoid_derivative_counts_at_least_twice_the_sigmoid_less_one() -> None:
    """The bound nets._closed_grad skips by, on closed forms of both signs and shapes: sums with
    terms of either sign, products, exponentials."""
    sigmoid = activations.get("sigmoid")
    e = [activations.exp(sp.Rational(k, 7)) for k in (-9, -2, 3, 8)]
    s = [sigmoid.at(sp.Rational(k, 5)) for k in (-7, -1, 2, 6)]
    values = [activations.add(sp.Rational(a, 10), activations.mul(sp.Rational(b, 10), x), activations.mul(sp.Rational(c, 10), y))
              for a, b, c in itertools.product((-7, 3), (-4, 9), (-11, 2)) for x, y in ((s[0], s[1]), (s[2], s[3]), (e[0], s[3]))]
    values += [activations.mul(sp.Rational(k, 3), x) for k in (-5, 2) for x in s + e] + e + s
    values += [activations.add(activations.mul(sp.Rational(-k, 10), s[0]), activations.mul(sp.Rational(-1, 3), s[2])) for k in (1, 4)]
    for z in values:
        assert nets.is_closed(z) and not isinstance(z, sp.Rational)
        assert nets.count_ops(sigmoid.grad_at(z)) >= 2 * nets.count_ops(sigmoid.at(z)) - 1, z
        assert sp.count_ops(sigmoid.grad_at(z)) == nets.count_ops(sigmoid.grad_at(z))


def test_a_rational_in_qq_is_sympys_conversion() -> None:
    from sympy.polys.domains import QQ

    from worksheetgen import sympyfast

    rng = np.random.default_rng(13)
    values = [sp.Rational(int(p), int(q)) for p, q in zip(rng.integers(-10**6, 10**6, 3000), rng.integers(1, 10**4, 3000))]
    values += [sp.Rational(-(10**40) - 1, 3 * 10**20), sp.Integer(7), sp.S.Half, sp.S.Zero, sp.S.NegativeOne]
    for v in values:
        fast, general = sympyfast._from_rational(v), QQ.from_sympy(v)
        assert type(fast) is type(general)
        assert (fast.numerator, fast.denominator) == (general.numerator, general.denominator)


def _nonzero_draws_by_point(rng: np.random.Generator, lo: sp.Rational, hi: sp.Rational, step: sp.Rational,
                            size: object) -> object:
    """The general path of sampling.nonzero_grid_values: each drawn index mapped to its point
    by skipping the zero point, entry by entry."""
    from worksheetgen import sampling

    grid = sampling._grid(lo, hi, step)
    zero = grid.zero
    points = grid.count - (1 if zero is not None else 0)

    def value(k: int) -> sp.Rational:
        return grid.point(k + 1 if zero is not None and k >= zero else k)

    ks = rng.integers(0, points, size=() if size == () else size)
    if size == ():
        return value(int(ks))
    if isinstance(size, int):
        return [value(int(k)) for k in ks]
    return sp.Matrix([[value(int(k)) for k in row] for row in ks])


def test_nonzero_grid_draws_are_the_points_skipping_zero() -> None:
    from worksheetgen import sampling

    R = sp.Rational
    grids = [(R(-2), R(2), R(1, 10)), (R(-3), R(3), R(1, 2)), (R(-1), R(1), R(3, 10)), (R(1, 4), R(3), R(1, 4)),
             (R(-1000), R(1000), R(1, 1000))]  # the last is too large to list
    for seed, (grid, size) in enumerate(itertools.product(grids, [(), 1, 3, (2, 2), (3, 2), (1, 4)])):
        for draw in range(20):
            fast = sampling.nonzero_grid_values(generator(seed * 100 + draw), *grid, size=size)
            general = _nonzero_draws_by_point(generator(seed * 100 + draw), *grid, size=size)
            assert fast == general and 0 not in (fast if isinstance(fast, list) else [fast] if size == () else list(fast))
            if isinstance(general, sp.Matrix):
                assert fast._rep.domain == general._rep.domain
