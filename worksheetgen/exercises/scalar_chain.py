"""Two single-perceptron layers in a chain (seed 000/001 Q4): forward values, squared error and
both weight gradients by the chain rule."""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp

from worksheetgen import activations
from worksheetgen.family import Answer, Family, Solved
from worksheetgen.params import Choice, Number, Param
from worksheetgen.sampling import require_grid, grid_param, nonzero_grid_values

LOSSES = ("squared", "half_squared")


class ScalarChain(Family):
    name = "scalar_chain"
    title = "Backpropagation through a two-layer chain"
    summary = "x → w¹ → g → w² → g → ŷ with one unit per layer, no bias; a¹, a², the error, ∂L/∂w², ∂L/∂w¹."
    params = (
        Param("activation", Choice(activations.NAMES), "elu", "activation g of both units"),
        Param("alpha", Number(positive=True), sp.Integer(1), "α of ELU / leaky ReLU"),
        Param("loss", Choice(LOSSES), "squared", "squared: (y - ŷ)² as in the seed; half_squared: ½(y - ŷ)²"),
        Param("w1", Number(), None, "first weight"),
        Param("w2", Number(), None, "second weight"),
        Param("x", Number(), None, "input"),
        Param("y", Number(), None, "target"),
        grid_param("weight_grid", (-3, 3, 0.5), "[lo, hi, step] for drawn weights"),
        grid_param("input_grid", (-2, 2, 1), "[lo, hi, step] for a drawn input"),
        grid_param("target_grid", (-2, 2, 0.1), "[lo, hi, step] for a drawn target"),
    )

    def validate(self, options: dict[str, Any]) -> None:
        for key in ("weight_grid", "input_grid", "target_grid"):
            require_grid(options, key)

    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> dict[str, Any]:
        given = {k: options[k] for k in ("activation", "alpha", "loss")}
        for key, grid in (("w1", "weight_grid"), ("w2", "weight_grid"), ("x", "input_grid"),
                          ("y", "target_grid")):
            given[key] = options[key] if options[key] is not None else nonzero_grid_values(rng, *options[grid])
        return given

    def solve(self, given: dict[str, Any]) -> Solved:
        g = activations.get(given["activation"])
        alpha, w1, w2, x, y = (given[k] for k in ("alpha", "w1", "w2", "x", "y"))
        z1 = w1 * x
        a1 = g.at(z1, alpha)
        z2 = w2 * a1
        a2 = g.at(z2, alpha)
        half = given["loss"] == "half_squared"
        factor = sp.Integer(1) if half else sp.Integer(2)
        loss = (y - a2) ** 2 / (2 if half else 1)
        dl_da2 = -factor * (y - a2)
        g2 = g.grad_at(z2, alpha)
        g1 = g.grad_at(z1, alpha)
        dl_dw2 = dl_da2 * g2 * a1
        dl_dw1 = dl_da2 * g2 * w2 * g1 * x
        data = dict(g=g, z1=z1, a1=a1, z2=z2, a2=a2, loss=loss, dl_da2=dl_da2, g1=g1, g2=g2,
                    factor=factor, half=half)
        answers = [
            Answer("a1", "a^{[1]}", a1),
            Answer("a2", "a^{[2]}", a2),
            Answer("loss", "L", loss),
            Answer("dL_dw2", r"\frac{\partial L}{\partial w^{[2]}}", dl_dw2),
            Answer("dL_dw1", r"\frac{\partial L}{\partial w^{[1]}}", dl_dw1),
        ]
        return Solved(answers, data)

    def rejection(self, given: dict[str, Any], solved: Solved) -> str | None:
        d = solved.data
        g = d["g"]
        if g.kinks and (d["z1"] in g.kinks or d["z2"] in g.kinks):
            return "no pre-activation exactly at the kink of the activation"
        negative_side_learns = g.grad_at(-1, given["alpha"]) != 0
        if g.kinks and negative_side_learns and d["z1"] > 0 and d["z2"] > 0:
            return "at least one unit on the non-linear side of the activation"
        if solved.answer("dL_dw1").value == 0 or solved.answer("dL_dw2").value == 0:
            return "non-zero gradients"
        if abs(float(d["loss"])) > 100:
            return "an error below 100"
        return None

    def check(self, given: dict[str, Any]) -> dict[str, Any]:
        g = activations.get(given["activation"])
        alpha = float(given["alpha"])
        w1, w2, x, y = (float(given[k]) for k in ("w1", "w2", "x", "y"))
        scale = 0.5 if given["loss"] == "half_squared" else 1.0

        def forward(v1: float, v2: float) -> tuple[float, float, float]:
            a1 = g.numeric(np.array([v1 * x]), alpha)[0]
            a2 = g.numeric(np.array([v2 * a1]), alpha)[0]
            return a1, a2, scale * (y - a2) ** 2

        a1, a2, loss = forward(w1, w2)
        # Backward pass written out with NumPy derivatives, not the SymPy ones.
        d_a2 = -2 * scale * (y - a2)
        d_z2 = d_a2 * g.numeric_grad(np.array([w2 * a1]), alpha)[0]
        d_a1 = d_z2 * w2
        d_z1 = d_a1 * g.numeric_grad(np.array([w1 * x]), alpha)[0]
        return {"a1": a1, "a2": a2, "loss": loss, "dL_dw2": d_z2 * a1, "dL_dw1": d_z1 * x}
