"""Binary cross-entropy of a sigmoid output (seed 004 Ex2 and Ex7): the loss, ∂L/∂ŷ and, by the
chain rule through σ, ∂L/∂z = ŷ - y; optionally averaged over a small batch.

The prediction is given directly (mode "yhat", ŷ on a decimal grid, so the loss is -ln of a
rational) or through the pre-activation (mode "logit", ŷ = σ(z) = 1/(1 + e^{-z}), so the loss is
the softplus ln(1 + e^{∓z})).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp

from worksheetgen import activations
from worksheetgen.errors import WorksheetError
from worksheetgen.family import Answer, Family, Solved
from worksheetgen.params import Bool, Choice, Int, ListOf, Number, Param
from worksheetgen.sampling import require_grid, grid_param, grid_values

MODES = ("yhat", "logit")
MAX_BATCH = 8
# Predictions this close to 0 or 1 would make the float check of ln(1 - ŷ) lose digits.
YHAT_LO, YHAT_HI = sp.Rational(1, 1000), sp.Rational(999, 1000)
Z_LIMIT = 10


class ScalarOrList(ListOf):
    """A list, where a single value may be written without brackets (``y = 1``)."""

    def parse(self, value: Any) -> list[Any]:
        if not isinstance(value, (list, tuple)):
            value = [value]
        return super().parse(value)


def _stable_softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


class BceLoss(Family):
    name = "bce_loss"
    title = "Binary cross-entropy"
    summary = "L = -(y ln ŷ + (1 - y) ln(1 - ŷ)) for a sigmoid output; ∂L/∂ŷ and ∂L/∂z = ŷ - y by the chain rule."
    params = (
        Param("mode", Choice(MODES), "yhat", "yhat: the prediction ŷ is given; logit: the pre-activation z is given, ŷ = σ(z)"),
        Param("m", Int(1, MAX_BATCH), None, "batch size (default: the length of the pinned lists, else 1)"),
        Param("y", ScalarOrList(Int(0, 1), 1, MAX_BATCH), None, "label(s) 0 or 1"),
        Param("yhat", ScalarOrList(Number(minimum=float(YHAT_LO), maximum=float(YHAT_HI)), 1, MAX_BATCH), None,
              "prediction(s) ŷ (mode yhat)"),
        Param("z", ScalarOrList(Number(minimum=-Z_LIMIT, maximum=Z_LIMIT), 1, MAX_BATCH), None,
              "pre-activation(s) z (mode logit)"),
        grid_param("yhat_grid", (0.05, 0.95, 0.01), "[lo, hi, step] for drawn predictions"),
        grid_param("z_grid", (-4, 4, 0.1), "[lo, hi, step] for drawn pre-activations"),
        Param("gradient", Bool(), True, "also ask for ∂L/∂ŷ and ∂L/∂z"),
    )

    def validate(self, options: dict[str, Any]) -> None:
        for key, lo, hi in (("yhat_grid", YHAT_LO, YHAT_HI), ("z_grid", -Z_LIMIT, Z_LIMIT)):
            require_grid(options, key)
            if options[key][0] < lo or options[key][1] > hi:
                raise WorksheetError("grid outside the allowed range", field=key,
                                     allowed=f"values from {lo} to {hi}")
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

    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> dict[str, Any]:
        m = options["m"] or next(
            (len(options[k]) for k in ("y", "yhat", "z") if options[k] is not None), 1)
        given: dict[str, Any] = {"mode": options["mode"], "gradient": options["gradient"], "m": m}
        if options["y"] is not None:
            given["y"] = [sp.Integer(v) for v in options["y"]]
        else:
            # A batch shows both classes; one example may have either label.
            while True:
                labels = [sp.Integer(int(v)) for v in rng.integers(0, 2, size=m)]
                if m == 1 or len(set(labels)) == 2:
                    break
            given["y"] = labels
        key = "yhat" if options["mode"] == "yhat" else "z"
        given[key] = list(options[key]) if options[key] is not None else grid_values(
            rng, *options[f"{key}_grid"], size=m)
        return given

    def solve(self, given: dict[str, Any]) -> Solved:
        m, logit = given["m"], given["mode"] == "logit"
        sigmoid = activations.get("sigmoid")
        examples = []
        for i in range(m):
            y = given["y"][i]
            if logit:
                z = given["z"][i]
                yhat = sigmoid.at(z)
                # -ln σ(z) = ln(1 + e^{-z}) and -ln(1 - σ(z)) = ln(1 + e^{z}).
                loss = sp.log(1 + sp.exp(-z)) if y == 1 else sp.log(1 + sp.exp(z))
                dl_dyhat = -(1 + sp.exp(-z)) if y == 1 else 1 + sp.exp(z)
                dl_dz = -1 / (1 + sp.exp(z)) if y == 1 else yhat
            else:
                z = None
                yhat = given["yhat"][i]
                loss = -sp.log(yhat) if y == 1 else -sp.log(1 - yhat)
                dl_dyhat = -1 / yhat if y == 1 else 1 / (1 - yhat)
                dl_dz = yhat - y
            sigma_prime = yhat * (1 - yhat)
            examples.append(dict(y=y, z=z, yhat=yhat, loss=loss, dl_dyhat=dl_dyhat,
                                 sigma_prime=sigma_prime, dl_dz=dl_dz))
        mean_loss = sum((e["loss"] for e in examples), sp.Integer(0)) / m
        data = dict(examples=examples, m=m, logit=logit, mean_loss=mean_loss)

        def row(key: str, scale: sp.Expr = sp.Integer(1)) -> sp.Matrix:
            return sp.Matrix([[e[key] * scale for e in examples]])

        answers: list[Answer] = []
        if m == 1:
            e = examples[0]
            if logit:
                answers.append(Answer("yhat", r"\hat{y}", e["yhat"]))
            answers.append(Answer("loss", "L", e["loss"]))
            if given["gradient"]:
                answers += [
                    Answer("dL_dyhat", r"\frac{\partial L}{\partial \hat{y}}", e["dl_dyhat"]),
                    Answer("dL_dz", r"\frac{\partial L}{\partial z}", e["dl_dz"]),
                ]
        else:
            if logit:
                answers.append(Answer("yhat", r"\hat{y}_i", row("yhat"), "matrix"))
            answers += [
                Answer("losses", r"L_i", row("loss"), "matrix"),
                Answer("loss", "J", mean_loss),
            ]
            if given["gradient"]:
                answers += [
                    Answer("dL_dyhat", r"\frac{\partial J}{\partial \hat{y}_i}", row("dl_dyhat", sp.Rational(1, m)), "matrix"),
                    Answer("dL_dz", r"\frac{\partial J}{\partial z_i}", row("dl_dz", sp.Rational(1, m)), "matrix"),
                ]
        return Solved(answers, data)

    def check(self, given: dict[str, Any]) -> dict[str, Any]:
        m = given["m"]
        y = np.array([float(v) for v in given["y"]])
        if given["mode"] == "logit":
            z = np.array([float(v) for v in given["z"]])
            yhat = 1.0 / (1.0 + np.exp(-z))
        else:
            yhat = np.array([float(v) for v in given["yhat"]])
            z = np.log(yhat / (1.0 - yhat))
        losses = -(y * np.log(yhat) + (1 - y) * np.log(1 - yhat))

        # L as a function of z, written as softplus (stable far from 0), differentiated numerically
        # by the fourth-order central difference: independent of the chain rule ŷ - y.
        def loss_of_z(t: np.ndarray) -> np.ndarray:
            return y * _stable_softplus(-t) + (1 - y) * _stable_softplus(t)

        h = 1e-3
        dl_dz = (-loss_of_z(z + 2 * h) + 8 * loss_of_z(z + h) - 8 * loss_of_z(z - h)
                 + loss_of_z(z - 2 * h)) / (12 * h)
        # ∂L/∂ŷ by the same stencil on L(ŷ) itself, with a step scaled to stay inside (0, 1).
        def loss_of_yhat(p: np.ndarray) -> np.ndarray:
            return -(y * np.log(p) + (1 - y) * np.log(1 - p))

        k = 1e-3 * np.minimum(yhat, 1 - yhat)
        dl_dyhat = (-loss_of_yhat(yhat + 2 * k) + 8 * loss_of_yhat(yhat + k) - 8 * loss_of_yhat(yhat - k)
                    + loss_of_yhat(yhat - 2 * k)) / (12 * k)
        out: dict[str, Any] = {}
        if m == 1:
            if given["mode"] == "logit":
                out["yhat"] = yhat[0]
            out["loss"] = losses[0]
            if given["gradient"]:
                out.update(dL_dyhat=dl_dyhat[0], dL_dz=dl_dz[0])
        else:
            if given["mode"] == "logit":
                out["yhat"] = yhat
            out.update(losses=losses, loss=losses.mean())
            if given["gradient"]:
                out.update(dL_dyhat=dl_dyhat / m, dL_dz=dl_dz / m)
        return out
