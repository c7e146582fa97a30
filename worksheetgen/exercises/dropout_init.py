"""Inverted dropout and weight initialization: the dropped and rescaled activations for a given
mask, their expectation and variance over the random mask; Xavier (Glorot) and He variances with
the uniform bound and the normal standard deviation they imply; and the variance of the
pre-activations through one layer and through a deep stack of ReLU (or linear) layers.

Every value is exact: probabilities and variances are rationals, the uniform bound and standard
deviation square roots of rationals (the sampler prefers layer sizes where they are exact
decimals). The independent check enumerates: every dropout mask with its probability, the two
points of symmetric two-point distributions with the stated moments, Gauss-Legendre quadrature
for the uniform distribution.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from worksheetgen import mathfmt
from worksheetgen.answers import Answer, MatrixAnswer, NumberAnswer, Rounding
from worksheetgen.errors import CheckError, WorksheetError
from worksheetgen.family import Constraint, Family, Record, Solved
from worksheetgen.params import Choice, Int, ListOf, Number, Param
from worksheetgen.sampling import grid_param, nonzero_grid_values, require_grid

PARTS = ("dropout", "expectation", "init", "layer_variance")
SCHEMES = ("xavier", "he", "small")
LAYER_ACTIVATIONS = ("relu", "linear")
MIN_UNITS, MAX_UNITS = 2, 8
MAX_FAN = 100_000
MAX_DEPTH = 100
LARGEST = 1000
LIMIT_TEXT = f"values from -{LARGEST} to {LARGEST}"
# Drop probabilities whose 1/(1 - p) and p/(1 - p) are exact decimals.
DROP_PROBABILITIES = tuple(sp.Rational(v) for v in ("0.2", "0.5", "0.6", "0.75", "0.8"))
# (fan_in, fan_out) with √(6/(fan_in + fan_out)) and √(2/fan_in) exact decimals.
PLEASANT_FANS = ((8, 16), (32, 64), (50, 100), (128, 256), (200, 400), (512, 1024), (800, 1600),
                 (32, 352), (50, 550))
WIDTHS = (50, 100, 128, 200, 256, 512)
DEPTHS = (3, 5, 10)
INPUT_VARIANCES = (1, 2, 4)
SMALL_STD = sp.Rational(1, 100)  # the "small random numbers" initialization N(0, 0.01²)
# Drawn schemes: small random numbers make Var(z^[L]) vanish to 10^-7 ... 10^-26, which prints
# as 0 (its lesson, when an instructor asks for it): the sampler draws Xavier or He.
DRAWN_SCHEMES = ("xavier", "he")
# A drawn stack's Var(z^[L]) is at least this (Xavier with ReLU halves it per layer: 10 layers
# leave v/512, next to He's 2v the answers of a class would spread over 3.6 decades).
MIN_VAR_ZL = sp.Rational(1, 100)
# Small random numbers (when chosen): Var(z^[L]) is asked in significant digits, and a drawn stack
# is 3 layers of 128 to 512 units, so a class's answers (5·10^-7 … 1.3·10^-4) span 2.4 decades.
SMALL_DEPTHS = (3,)
SMALL_WIDTHS = (128, 256, 512)


@dataclass(frozen=True)
class DropoutInitGiven(Record):
    parts: tuple[str, ...]  # in the printed order of PARTS
    p: sp.Rational | None = None  # dropout parts
    activations: tuple[sp.Rational, ...] | None = None
    mask: tuple[int, ...] | None = None
    fan_in: int | None = None  # init part
    fan_out: int | None = None
    scheme: str | None = None  # layer_variance part
    width: int | None = None
    depth: int | None = None
    layer_activation: str | None = None
    input_variance: sp.Rational | None = None


@dataclass(frozen=True)
class DropoutInitData(Record):
    parts: tuple[str, ...]
    # dropout / expectation
    keep: sp.Rational | None = None  # 1 - p
    scale: sp.Rational | None = None  # 1 / (1 - p)
    kept: tuple[int, ...] | None = None  # 1-based indices of kept units
    dropped_units: tuple[int, ...] | None = None
    masked: tuple[sp.Rational, ...] | None = None  # m_i a_i
    squares: tuple[sp.Rational, ...] | None = None  # a_i²
    output: tuple[sp.Rational, ...] | None = None
    expected: tuple[sp.Rational, ...] | None = None
    second_moment: tuple[sp.Rational, ...] | None = None
    variance: tuple[sp.Rational, ...] | None = None
    odds: sp.Rational | None = None  # p / (1 - p)
    # init
    fan_sum: int | None = None
    xavier_var: sp.Rational | None = None
    xavier_limit: sp.Expr | None = None
    he_var: sp.Rational | None = None
    he_std: sp.Expr | None = None
    # layer_variance
    var_w: sp.Rational | None = None
    scheme_formula: str | None = None  # TeX of Var(w) for the scheme
    var_z1: sp.Rational | None = None
    moment_factor: sp.Rational | None = None  # E[g(z)²] / Var(z): 1/2 for ReLU, 1 linear
    gain: sp.Rational | None = None  # n Var(w) c, the factor per layer
    var_zL: sp.Rational | None = None
    preserved: bool | None = None
    exploding: bool | None = None


def _row(values: Any) -> sp.Matrix:
    return sp.Matrix([list(values)])


def _var_w(scheme: str, n: int) -> sp.Rational:
    return {"xavier": sp.Rational(2, n + n), "he": sp.Rational(2, n), "small": SMALL_STD**2}[scheme]


def _var_zL(scheme: str, n: int, L: int, v: sp.Rational, activation: str) -> sp.Rational:
    """Var(z^[L]) = n Var(w) Var(x) · (n Var(w) c)^(L-1), c = 1/2 after a ReLU (see solve)."""
    c = sp.Rational(1, 2) if activation == "relu" else sp.Integer(1)
    return n * _var_w(scheme, n) * v * (n * _var_w(scheme, n) * c) ** (L - 1)


def _drop_count(rng: np.random.Generator, n: int, p: sp.Rational) -> int:
    """How many of n units are dropped: Binomial(n, p) conditioned on 1 … n - 1, so a mask
    always drops some unit and keeps some unit, without redraws."""
    weights = [float(sp.binomial(n, k) * p**k * (1 - p) ** (n - k)) for k in range(1, n)]
    total = sum(weights)
    return 1 + int(rng.choice(n - 1, p=[w / total for w in weights]))


class DropoutInit(Family):
    name = "dropout_init"
    title = "Dropout and weight initialization"
    summary = ("Inverted dropout (scaling by 1/(1 - p), expectation and variance over the mask); Xavier "
               "and He variances, uniform bound and normal standard deviation; the variance of "
               "pre-activations through a layer and a deep ReLU stack.")
    Given = DropoutInitGiven
    Data = DropoutInitData
    params = (
        Param("parts", ListOf(Choice(PARTS), min_length=1, max_length=len(PARTS)), list(PARTS),
              "which parts to ask: dropout (a), expectation (b), init (c), layer_variance (d)"),
        Param("p", Number(), None,
              "drop probability p of a unit, above 0 and below 1 (random from 0.2, 0.5, 0.6, 0.75, 0.8)"),
        Param("activations", ListOf(Number(), MIN_UNITS, MAX_UNITS), None,
              f"the layer's activations a, {MIN_UNITS} to {MAX_UNITS} values, {LIMIT_TEXT}"),
        Param("units", Int(MIN_UNITS, MAX_UNITS), None,
              f"number of drawn activations, {MIN_UNITS} to {MAX_UNITS} (random 4 or 5)"),
        Param("mask", ListOf(Int(0, 1), MIN_UNITS, MAX_UNITS), None,
              "the dropout mask, 1 = kept, 0 = dropped, one per activation (drawn: some kept, some dropped)"),
        grid_param("activation_grid", (0.5, 4, 0.5),
                   f"[lo, hi, step] for drawn activations (never 0), {LIMIT_TEXT}"),
        Param("fan_in", Int(1, MAX_FAN), None, f"inputs of the layer of the init part, 1 to {MAX_FAN}"),
        Param("fan_out", Int(1, MAX_FAN), None, f"outputs of the layer of the init part, 1 to {MAX_FAN}"),
        Param("scheme", Choice(SCHEMES), None,
              "initialization of the deep stack: xavier (Var(w) = 2/(fan_in + fan_out) = 1/n), he "
              "(Var(w) = 2/fan_in = 2/n) or small (w ~ N(0, 0.01²), whose variance vanishes to about "
              "0); xavier or he at random when not given"),
        Param("width", Int(1, MAX_FAN), None, f"width n of every layer of the deep stack, 1 to {MAX_FAN}"),
        Param("depth", Int(2, MAX_DEPTH), None, f"number of layers L of the deep stack, 2 to {MAX_DEPTH}"),
        Param("layer_activation", Choice(LAYER_ACTIVATIONS), "relu",
              "activation between the layers of the stack: relu, or linear (no activation; tanh near 0)"),
        Param("input_variance", Number(positive=True), None,
              f"variance of the stack's inputs, above 0 and at most {LARGEST} (random 1, 2 or 4)"),
    )
    constraints = (
        Constraint("a mask that keeps some units and drops some", ("mask", "units", "activations"),
                   lambda g, s: g.mask is None or 0 < sum(g.mask) < len(g.mask)),
        Constraint("a layer with fan_in different from fan_out", ("fan_in", "fan_out"),
                   lambda g, s: g.fan_in is None or g.fan_in != g.fan_out),
        Constraint(f"Var(z^[L]) of at least {float(MIN_VAR_ZL):g} (small random numbers excepted: "
                   "their variance vanishing to about 0 is the lesson)",
                   ("scheme", "width", "depth", "input_variance"),
                   lambda g, s: g.scheme is None or g.scheme == "small" or s.data.var_zL >= MIN_VAR_ZL),
    )

    def quality(self, given: DropoutInitGiven, solved: Solved) -> dict[str, bool]:
        d = solved.data
        out: dict[str, bool] = {}
        if given.mask is not None and "dropout" in given.parts:
            out["mask keeps every unit or drops every unit"] = not 0 < sum(given.mask) < len(given.mask)
        if given.fan_in is not None:
            out["fan_in equal to fan_out"] = given.fan_in == given.fan_out
        if given.scheme is not None:
            # Small random numbers ask Var(z^[L]) in significant digits: vanishing is their lesson.
            out[f"Var(z^[L]) below {float(MIN_VAR_ZL):g} in decimals"] = given.scheme != "small" and d.var_zL < MIN_VAR_ZL
        return out

    # -- validation ----------------------------------------------------------------------------
    def validate(self, options: dict[str, Any]) -> None:
        parts = options["parts"]
        if len(set(parts)) != len(parts):
            raise WorksheetError("a part is listed twice", field="parts", allowed=", ".join(PARTS))
        p = options["p"]
        if p is not None and not 0 < p < 1:
            raise WorksheetError(f"p = {mathfmt.num(p, 12)} is not a probability of dropping", field="p",
                                 allowed="a number above 0 and below 1")
        require_grid(options, "activation_grid", nonzero=True)
        lo, hi, _ = options["activation_grid"]
        if max(abs(lo), abs(hi)) > LARGEST:
            raise WorksheetError("the grid reaches beyond the limit", field="activation_grid", allowed=LIMIT_TEXT)
        acts = options["activations"]
        if acts is not None and any(abs(v) > LARGEST for v in acts):
            raise WorksheetError("an activation is outside the allowed range", field="activations",
                                 allowed=LIMIT_TEXT)
        sizes = {k: len(options[k]) for k in ("activations", "mask") if options[k] is not None}
        if options["units"] is not None:
            sizes = {"units": options["units"], **sizes}
        if len(set(sizes.values())) > 1:
            first, *rest = sizes.items()
            bad = next(k for k, n in rest if n != first[1])
            raise WorksheetError(f"{bad} has {sizes[bad]} entries but {first[0]} says {first[1]}", field=bad,
                                 allowed=f"{first[1]} entries, one per unit")
        v = options["input_variance"]
        if v is not None and v > LARGEST:
            raise WorksheetError("the input variance is too large", field="input_variance",
                                 allowed=f"a number above 0 and at most {LARGEST}")

    def drawn(self, options: dict[str, Any]) -> frozenset[str]:
        """As the base class, less what nothing random decides (a size implied by the given
        values, the values of parts not asked). So a fully pinned exercise is not held to the rules."""
        drawn = set(super().drawn(options))
        parts = options["parts"]
        if options["activations"] is not None or options["mask"] is not None:
            drawn.discard("units")
        if "dropout" not in parts and "expectation" not in parts:
            drawn -= {"p", "activations", "units", "mask"}
        if "dropout" not in parts:
            drawn.discard("mask")
        if "init" not in parts:
            drawn -= {"fan_in", "fan_out"}
        if "layer_variance" not in parts:
            drawn -= {"scheme", "width", "depth", "input_variance"}
        return frozenset(drawn)

    # -- sampling ------------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> DropoutInitGiven:
        parts = tuple(q for q in PARTS if q in options["parts"])
        values: dict[str, Any] = {}
        if "dropout" in parts or "expectation" in parts:
            p = options["p"] if options["p"] is not None else DROP_PROBABILITIES[int(rng.integers(len(DROP_PROBABILITIES)))]
            n = options["units"] or next((len(options[k]) for k in ("activations", "mask") if options[k] is not None),
                                         int(rng.integers(4, 6)))
            acts = options["activations"] or nonzero_grid_values(rng, *options["activation_grid"], size=n)
            mask = options["mask"]
            if mask is None:
                dropped = set(int(i) for i in rng.choice(n, size=_drop_count(rng, n, p), replace=False))
                mask = [0 if i in dropped else 1 for i in range(n)]
            values.update(p=p, activations=tuple(acts), mask=tuple(int(v) for v in mask))
        if "init" in parts:
            fan_in, fan_out = options["fan_in"], options["fan_out"]
            if fan_in is None and fan_out is None:
                fan_in, fan_out = PLEASANT_FANS[int(rng.integers(len(PLEASANT_FANS)))]
            elif fan_in is None or fan_out is None:
                known = fan_in if fan_in is not None else fan_out
                others = [w for w in (16, 32, 50, 64, 100, 128, 200, 256, 400, 512) if w != known]
                drawn = others[int(rng.integers(len(others)))]
                fan_in, fan_out = (known, drawn) if fan_out is None else (drawn, known)
            values.update(fan_in=int(fan_in), fan_out=int(fan_out))
        if "layer_variance" in parts:
            pick = lambda pool: pool[int(rng.integers(len(pool)))]  # noqa: E731
            scheme = options["scheme"] or pick(DRAWN_SCHEMES)
            small = scheme == "small"
            width = options["width"] or pick(SMALL_WIDTHS if small else WIDTHS)
            v = options["input_variance"] if options["input_variance"] is not None else sp.Integer(pick(INPUT_VARIANCES))
            depths = SMALL_DEPTHS if small else [  # a readable Var(z^[L]) when some depth gives one
                L for L in DEPTHS if _var_zL(scheme, width, L, v, options["layer_activation"]) >= MIN_VAR_ZL] or DEPTHS
            values.update(scheme=scheme, width=width, depth=options["depth"] or pick(depths),
                          layer_activation=options["layer_activation"], input_variance=v)
        return DropoutInitGiven(parts=parts, **values)

    # -- solving -------------------------------------------------------------------------------
    def solve(self, given: DropoutInitGiven) -> Solved:
        parts = given.parts
        data: dict[str, Any] = {"parts": parts}
        answers: list[Answer] = []
        if given.p is not None:
            p, a, mask = given.p, given.activations, given.mask
            keep = 1 - p
            scale = 1 / keep
            output = tuple(mi * ai * scale for mi, ai in zip(mask, a))
            # E[ã_i] = (1 - p) a_i/(1 - p) + p · 0; E[ã_i²] = (1 - p) (a_i/(1 - p))².
            expected = tuple(keep * ai * scale for ai in a)
            second = tuple(keep * (ai * scale) ** 2 for ai in a)
            variance = tuple(s - e**2 for s, e in zip(second, expected))
            if any(v != ai**2 * p / keep for v, ai in zip(variance, a)):
                raise CheckError(f"dropout_init: Var[ã] is not a² p/(1 - p) for p = {p}, a = {a}")
            data.update(keep=keep, scale=scale, output=output, masked=tuple(mi * ai for mi, ai in zip(mask, a)),
                        squares=tuple(ai**2 for ai in a), expected=expected, second_moment=second,
                        variance=variance, odds=p / keep,
                        kept=tuple(i + 1 for i, v in enumerate(mask) if v),
                        dropped_units=tuple(i + 1 for i, v in enumerate(mask) if not v))
            if "dropout" in parts:
                answers.append(MatrixAnswer("output", r"\tilde{a}", _row(output)))
            if "expectation" in parts:
                answers += [
                    MatrixAnswer("expected", r"\mathbb{E}[\tilde{a}]", _row(expected)),
                    MatrixAnswer("variance", r"\operatorname{Var}[\tilde{a}]", _row(variance)),
                    NumberAnswer("test_scale", r"\text{test-time factor without the } 1/(1 - p)", keep),
                ]
        if given.fan_in is not None:
            fi, fo = given.fan_in, given.fan_out
            xavier_var = sp.Rational(2, fi + fo)
            he_var = sp.Rational(2, fi)
            data.update(fan_sum=fi + fo, xavier_var=xavier_var, xavier_limit=sp.sqrt(3 * xavier_var),
                        he_var=he_var, he_std=sp.sqrt(he_var))
            answers += [
                NumberAnswer("xavier_var", r"\operatorname{Var}(w)_{\text{Xavier}}", xavier_var),
                NumberAnswer("xavier_limit", r"a_{\text{Xavier}}", data["xavier_limit"]),
                NumberAnswer("he_var", r"\operatorname{Var}(w)_{\text{He}}", he_var),
                NumberAnswer("he_std", r"\sigma_{\text{He}}", data["he_std"]),
            ]
        if given.scheme is not None:
            n, L, v = given.width, given.depth, given.input_variance
            var_w = _var_w(given.scheme, n)
            formula = {"xavier": r"\frac{2}{n + n} = \frac{1}{n}", "he": r"\frac{2}{n}", "small": r"0.01^2"}[given.scheme]
            c = sp.Rational(1, 2) if given.layer_activation == "relu" else sp.Integer(1)
            var_z1 = n * var_w * v
            gain = n * var_w * c
            var_zL = var_z1 * gain ** (L - 1)
            if var_zL != _var_zL(given.scheme, n, L, v, given.layer_activation):
                raise CheckError(f"dropout_init: Var(z^[L]) {var_zL} disagrees with the sampler's formula")
            data.update(var_w=var_w, scheme_formula=formula, var_z1=var_z1, moment_factor=c, gain=gain,
                        var_zL=var_zL, preserved=gain == 1, exploding=gain > 1)
            answers += [
                NumberAnswer("var_w", r"\operatorname{Var}(w)", var_w),
                NumberAnswer("var_z1", r"\operatorname{Var}(z^{[1]})", var_z1),
                NumberAnswer("gain", r"\frac{\operatorname{Var}(z^{[l]})}{\operatorname{Var}(z^{[l-1]})}", gain),
                # Small random numbers: 10^-7 and less, asked in significant digits (as the text says).
                NumberAnswer("var_zL", r"\operatorname{Var}(z^{[L]})", var_zL,
                             rounding=Rounding("significant") if given.scheme == "small" else None),
            ]
        return Solved(answers, DropoutInitData(**data))

    # -- independent check ---------------------------------------------------------------------
    def check(self, given: DropoutInitGiven) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if given.p is not None:
            p = float(given.p)
            a = np.array([float(v) for v in given.activations])
            n = len(a)
            mask = np.array(given.mask, dtype=float)
            if "dropout" in given.parts:
                out["output"] = (a * mask / (1 - p)).reshape(1, n)
            if "expectation" in given.parts:
                # Every mask with its probability: the moments by enumeration, not by formula.
                mean = np.zeros(n)
                second = np.zeros(n)
                plain = np.zeros(n)  # E[m_i a_i] without the rescaling
                for bits in itertools.product((0, 1), repeat=n):
                    b = np.array(bits, dtype=float)
                    prob = float(np.prod(np.where(b == 1, 1 - p, p)))
                    mean += prob * b * a / (1 - p)
                    second += prob * (b * a / (1 - p)) ** 2
                    plain += prob * b * a
                out.update(expected=mean.reshape(1, n), variance=(second - mean**2).reshape(1, n),
                           test_scale=float(plain[0] / a[0]))
        if given.fan_in is not None:
            fi, fo = float(given.fan_in), float(given.fan_out)
            # Glorot's compromise: the harmonic condition Var(w) · mean(fan_in, fan_out) = 1.
            xavier_var = 1.0 / np.mean([fi, fo])
            he_var = 1.0 / (fi * _relu_second_moment_ratio())
            out.update(xavier_var=xavier_var, xavier_limit=_uniform_bound(xavier_var), he_var=he_var,
                       he_std=float(np.sqrt(he_var)))
        if given.scheme is not None:
            n, L, v = float(given.width), given.depth, float(given.input_variance)
            var_w = {"xavier": 1.0 / np.mean([n, n]), "he": 1.0 / (n * _relu_second_moment_ratio()),
                     "small": 0.01**2}[given.scheme]
            # One term w_i x_i with w = ±σ_w and x = ±σ_x (each sign with probability 1/2): the
            # variance of the product by enumeration; n independent terms add their variances.
            term = _product_variance(var_w, v)
            var_z = n * term
            out["var_z1"] = var_z
            ratio = _relu_second_moment_ratio() if given.layer_activation == "relu" else 1.0
            first = var_z
            for _ in range(L - 1):
                var_z = n * _product_variance(var_w, ratio * var_z)
            # The factor per layer from the first two layers.
            out.update(var_w=var_w, gain=n * _product_variance(var_w, ratio * first) / first, var_zL=var_z)
        return out


def _relu_second_moment_ratio() -> float:
    """E[ReLU(z)²] / E[z²] for a symmetric z, from the two-point distribution z = ±1."""
    points = np.array([-1.0, 1.0])
    return float(np.mean(np.maximum(points, 0.0) ** 2) / np.mean(points**2))


def _product_variance(var_w: float, second_x: float) -> float:
    """Var(w x) for independent w = ±√var_w and x = ±√second_x, by enumerating the four cases."""
    values = [sw * np.sqrt(var_w) * sx * np.sqrt(second_x) for sw in (-1, 1) for sx in (-1, 1)]
    return float(np.mean(np.square(values)) - np.mean(values) ** 2)


def _uniform_bound(variance: float) -> float:
    """The a with Var(U(-a, a)) = variance: Var by Gauss-Legendre quadrature of w²/(2a) (exact
    for the quadratic), a by bisection."""
    nodes, weights = np.polynomial.legendre.leggauss(4)

    def var_of(a: float) -> float:
        return float(np.sum(weights * (a * nodes) ** 2) * a / (2 * a))

    lo, hi = 0.0, 1.0
    while var_of(hi) < variance:
        hi *= 2
        if hi > 1e6:
            raise CheckError(f"dropout_init: no uniform bound for the variance {variance}")
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if var_of(mid) < variance else (lo, mid)
    return (lo + hi) / 2
