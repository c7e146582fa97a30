"""Binary cross-entropy of a sigmoid output (seed 004 Ex2 and Ex7): the loss, ∂L/∂ŷ and, by the
chain rule through σ, ∂L/∂z = ŷ - y; optionally averaged over a small batch.

The prediction is given directly (mode "yhat", ŷ on a decimal grid, so the loss is -ln of a
rational) or through the pre-activation (mode "logit", ŷ = σ(z) = 1/(1 + e^{-z}), so the loss is
the softplus ln(1 + e^{∓z})).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

import numpy as np
import sympy as sp

from worksheetgen import activations, mathfmt, sympyfast
from worksheetgen.answers import Answer, MatrixAnswer, NumberAnswer
from worksheetgen.errors import WorksheetError
from worksheetgen.family import Family, Record, Solved
from worksheetgen.params import Bool, Choice, Int, ListOf, Number, Param
from worksheetgen.sampling import grid_param, grid_values, require_grid

MODES = ("yhat", "logit")
MAX_BATCH = 8
# The limits of given predictions and pre-activations, as the help text states them. ŷ stays
# away from 0 and 1 (ln 0 is undefined), z within ±10 keeps e^{|z|} a printable number.
YHAT_LO, YHAT_HI = sp.Rational("0.001"), sp.Rational("0.999")
Z_LIMIT = sp.Integer(10)
YHAT_RANGE = "from 0.001 to 0.999"
Z_RANGE = f"from {-Z_LIMIT} to {Z_LIMIT}"


class ScalarOrList(ListOf):
    """A list, where a single value may be written without brackets (``y = 1``)."""

    def parse(self, value: Any) -> list[Any]:
        if not isinstance(value, (list, tuple)):
            value = [value]
        return super().parse(value)


@dataclass(frozen=True)
class BceLossGiven(Record):
    mode: str
    gradient: bool
    m: int
    y: tuple[sp.Integer, ...]
    yhat: tuple[sp.Rational, ...] | None  # mode "yhat"
    z: tuple[sp.Rational, ...] | None  # mode "logit"


@dataclass(frozen=True)
class BceExample(Record):
    """One example's worked values (the template reads them as ``e.<name>``)."""

    y: sp.Integer
    z: sp.Rational | None
    yhat: sp.Expr
    loss: sp.Expr
    dl_dyhat: sp.Expr
    sigma_prime: sp.Expr
    dl_dz: sp.Expr


@lru_cache(maxsize=1 << 12)  # the same (label, grid point) pairs come back student after student
def _example(y: sp.Integer, value: sp.Rational, logit: bool) -> BceExample:
    """One example's values from its label and its logit z (``logit``) or its prediction ŷ."""
    if logit:
        z = value
        yhat = activations.get("sigmoid").at(z)
        # -ln σ(z) = ln(1 + e^{-z}) and -ln(1 - σ(z)) = ln(1 + e^{z}).
        loss = sp.log(1 + sp.exp(-z)) if y == 1 else sp.log(1 + sp.exp(z))
        dl_dyhat = -(1 + sp.exp(-z)) if y == 1 else 1 + sp.exp(z)
        dl_dz = -1 / (1 + sp.exp(z)) if y == 1 else yhat
    else:
        z = None
        yhat = value
        loss = -sp.log(yhat) if y == 1 else -sp.log(1 - yhat)
        dl_dyhat = -1 / yhat if y == 1 else 1 / (1 - yhat)
        dl_dz = yhat - y
    return BceExample(y=y, z=z, yhat=yhat, loss=loss, dl_dyhat=dl_dyhat, sigma_prime=yhat * (1 - yhat), dl_dz=dl_dz)


@dataclass(frozen=True)
class BceLossData(Record):
    examples: tuple[BceExample, ...]
    m: int
    logit: bool
    mean_loss: sp.Expr


def _labels(rng: np.random.Generator, m: int) -> list[sp.Integer]:
    """m labels; a batch shows both classes. The labels are the bits of one number drawn from
    1 … 2^m - 2 (every non-constant pattern equally likely), so no redraw is needed."""
    if m == 1:
        return [sp.Integer(int(rng.integers(0, 2)))]
    bits = int(rng.integers(1, 2**m - 1))
    return [sp.Integer((bits >> i) & 1) for i in range(m)]


class BceLoss(Family):
    name = "bce_loss"
    title = "Binary cross-entropy"
    summary = "L = -(y ln ŷ + (1 - y) ln(1 - ŷ)) for a sigmoid output; ∂L/∂ŷ and ∂L/∂z = ŷ - y by the chain rule."
    Given = BceLossGiven
    Data = BceLossData
    params = (
        Param("mode", Choice(MODES), "yhat", "yhat: the prediction ŷ is given; logit: the pre-activation z is given, ŷ = σ(z)"),
        Param("m", Int(1, MAX_BATCH), None, "batch size (default: the length of the pinned lists, else 1)"),
        Param("y", ScalarOrList(Int(0, 1), 1, MAX_BATCH), None, "label(s) 0 or 1"),
        Param("yhat", ScalarOrList(Number(), 1, MAX_BATCH), None, f"prediction(s) ŷ (mode yhat), each {YHAT_RANGE}"),
        Param("z", ScalarOrList(Number(), 1, MAX_BATCH), None, f"pre-activation(s) z (mode logit), each {Z_RANGE}"),
        grid_param("yhat_grid", (0.05, 0.95, 0.01), f"[lo, hi, step] for drawn predictions, {YHAT_RANGE}"),
        grid_param("z_grid", (-4, 4, 0.1), f"[lo, hi, step] for drawn pre-activations, {Z_RANGE}"),
        Param("gradient", Bool(), True, "also ask for ∂L/∂ŷ and ∂L/∂z"),
    )

    def validate(self, options: dict[str, Any]) -> None:
        limits = {"yhat": (YHAT_LO, YHAT_HI, YHAT_RANGE), "z": (-Z_LIMIT, Z_LIMIT, Z_RANGE)}
        for key, (lo, hi, text) in limits.items():
            grid = f"{key}_grid"
            require_grid(options, grid)
            if options[grid][0] < lo or options[grid][1] > hi:
                raise WorksheetError("grid outside the allowed range", field=grid, allowed=f"values {text}")
            for i, v in enumerate(options[key] or (), start=1):
                if not lo <= v <= hi:
                    raise WorksheetError(f"entry {i} ({mathfmt.num(v, 12)}) is outside the allowed range", field=key,
                                         allowed=f"values {text}")
        unused = "z" if options["mode"] == "yhat" else "yhat"
        if options[unused] is not None:
            raise WorksheetError(f"{unused} is not used in mode {options['mode']!r}", field=unused,
                                 allowed=f"leave it out, or set mode = {'logit' if unused == 'z' else 'yhat'!r}")
        lengths = {k: len(options[k]) for k in ("y", "yhat", "z") if options[k] is not None}
        if options["m"] is not None:
            lengths = {"m": options["m"], **lengths}
        if len(set(lengths.values())) > 1:
            first, *rest = lengths.items()
            bad = next(k for k, n in rest if n != first[1])
            raise WorksheetError(f"{bad} has {lengths[bad]} entries but {first[0]} says {first[1]}",
                                 field=bad, allowed=f"{first[1]} entries (one per example)")

    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> BceLossGiven:
        m = options["m"] or next(
            (len(options[k]) for k in ("y", "yhat", "z") if options[k] is not None), 1)
        y = [sp.Integer(v) for v in options["y"]] if options["y"] is not None else _labels(rng, m)
        key = "yhat" if options["mode"] == "yhat" else "z"
        values = list(options[key]) if options[key] is not None else grid_values(
            rng, *options[f"{key}_grid"], size=m)
        return BceLossGiven(mode=options["mode"], gradient=options["gradient"], m=m, y=tuple(y),
                            yhat=tuple(values) if key == "yhat" else None,
                            z=tuple(values) if key == "z" else None)

    def solve(self, given: BceLossGiven) -> Solved:
        m, logit = given.m, given.mode == "logit"
        examples = [_example(given.y[i], given.z[i] if logit else given.yhat[i], logit) for i in range(m)]
        mean_loss = sum((e.loss for e in examples), sp.Integer(0)) / m
        data = BceLossData(examples=tuple(examples), m=m, logit=logit, mean_loss=mean_loss)

        def row(key: str, scale: sp.Expr = sp.Integer(1)) -> sp.Matrix:
            return sympyfast.matrix(1, m, [e[key] * scale for e in examples])  # sp.Matrix([[...]])

        answers: list[Answer] = []
        if m == 1:
            e = examples[0]
            if logit:
                answers.append(NumberAnswer("yhat", r"\hat{y}", e.yhat))
            answers.append(NumberAnswer("loss", "L", e.loss))
            if given.gradient:
                answers += [
                    NumberAnswer("dL_dyhat", r"\frac{\partial L}{\partial \hat{y}}", e.dl_dyhat),
                    NumberAnswer("dL_dz", r"\frac{\partial L}{\partial z}", e.dl_dz),
                ]
        else:
            if logit:
                answers.append(MatrixAnswer("yhat", r"\hat{y}_i", row("yhat")))
            answers += [
                MatrixAnswer("losses", r"L_i", row("loss")),
                NumberAnswer("loss", "J", mean_loss),
            ]
            if given.gradient:
                answers += [
                    MatrixAnswer("dL_dyhat", r"\frac{\partial J}{\partial \hat{y}_i}", row("dl_dyhat", sp.Rational(1, m))),
                    MatrixAnswer("dL_dz", r"\frac{\partial J}{\partial z_i}", row("dl_dz", sp.Rational(1, m))),
                ]
        return Solved(answers, data)

    def check(self, given: BceLossGiven) -> dict[str, Any]:
        """Analytic formulas in double precision, written so that none loses digits: ŷ and
        1 - ŷ are each computed without a subtraction (σ(z) and σ(-z) from e^{-|z|}, or the
        rational 1 - ŷ exactly), the loss from them (softplus via logaddexp in mode logit), and
        ∂L/∂z as the chain-rule product ∂L/∂ŷ · ŷ(1 - ŷ), not the simplified ŷ - y."""
        m = given.m
        y = np.array([float(v) for v in given.y])
        if given.mode == "logit":
            z = np.array([float(v) for v in given.z])
            small = np.exp(-np.abs(z))  # e^{-|z|} <= 1: no overflow
            p = np.where(z >= 0, 1.0 / (1.0 + small), small / (1.0 + small))  # σ(z)
            q = np.where(z >= 0, small / (1.0 + small), 1.0 / (1.0 + small))  # 1 - σ(z) = σ(-z)
            losses = y * np.logaddexp(0.0, -z) + (1 - y) * np.logaddexp(0.0, z)
        else:
            exact = [Fraction(int(v.p), int(v.q)) for v in given.yhat]
            p = np.array([float(v) for v in exact])
            q = np.array([float(1 - v) for v in exact])
            losses = -(y * np.log(p) + (1 - y) * np.log(q))
        dl_dyhat = -y / p + (1 - y) / q  # d/dŷ of -(y ln ŷ + (1 - y) ln(1 - ŷ))
        dl_dz = dl_dyhat * (p * q)  # times σ'(z) = σ(z)(1 - σ(z))
        out: dict[str, Any] = {}
        if m == 1:
            if given.mode == "logit":
                out["yhat"] = p[0]
            out["loss"] = losses[0]
            if given.gradient:
                out.update(dL_dyhat=dl_dyhat[0], dL_dz=dl_dz[0])
        else:
            if given.mode == "logit":
                out["yhat"] = p
            out.update(losses=losses, loss=losses.mean())
            if given.gradient:
                out.update(dL_dyhat=dl_dyhat / m, dL_dz=dl_dz / m)
        return out
