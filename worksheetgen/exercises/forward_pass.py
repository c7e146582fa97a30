"""Forward propagation through a small dense network (seeds 000/001 Q1, 002 Q3.1-3.2, 004 Ex1)."""

from __future__ import annotations

from typing import Any

import numpy as np

from worksheetgen import activations, nets
from worksheetgen.family import Answer, Family, Solved


def forward_answers(given: dict[str, Any], layers: list[nets.Layer]) -> tuple[list[Answer], dict[str, Any]]:
    """Answers and template data of the forward part, shared with the backprop family."""
    answers: list[Answer] = []
    n = len(layers)
    for layer in layers:
        l = layer.index
        answers.append(Answer(f"z{l}", f"z^{{[{l}]}}", layer.z, "matrix"))
        label = r"\hat{y}" if l == n else f"a^{{[{l}]}}"
        answers.append(Answer(f"a{l}", label, layer.a, "matrix"))
    data: dict[str, Any] = {
        "layers": layers,
        "units": unit_sums(given, layers),
        "n_layers": n,
        "hidden": activations.get(given["activation"]),
        "output": None if given["output_activation"] == "softmax" else activations.get(given["output_activation"]),
        "loss_formula": nets.LOSS_TEXT.get(given["loss"], ""),
        "loss_name": nets.LOSS_NAME.get(given["loss"], ""),
    }
    if given["loss"] != "none":
        loss, terms, dl_dyhat = nets.loss_exact(given["loss"], layers[-1].a, given["y"])
        answers.append(Answer("loss", "L", loss))
        data.update(loss=loss, loss_terms=terms, dl_dyhat=dl_dyhat)
    return answers, data


def unit_sums(given: dict[str, Any], layers: list[nets.Layer]) -> list[list[dict[str, Any]]]:
    """Per layer and unit: the (weight, input) pairs and bias of its weighted sum, for the
    written-out sums the seeds show (h1 = i1 w11 + i2 w21 + b1 = ...)."""
    As, bs = nets.canonical(given)
    out = []
    for layer, A, b in zip(layers, As, bs):
        units = []
        for j in range(A.rows):
            pairs = [(A[j, i], layer.a_in[i], i + 1) for i in range(A.cols)]
            units.append({"pairs": pairs, "bias": b[j], "z": layer.z[j], "index": j + 1})
        out.append(units)
    return out


def forward_check(given: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    result = nets.numpy_forward_backward(given)
    values: dict[str, Any] = {}
    for l, (z, a) in enumerate(zip(result["z"], result["a"]), start=1):
        values[f"z{l}"] = z.reshape(-1, 1)
        values[f"a{l}"] = a.reshape(-1, 1)
    if "loss" in result:
        values["loss"] = result["loss"]
    return values, result


class ForwardPass(Family):
    name = "forward_pass"
    title = "Forward propagation"
    summary = "Pre-activations, activations, output and loss of a small dense network."
    params = nets.NET_PARAMS

    def validate(self, options: dict[str, Any]) -> None:
        nets.validate_net(options)

    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> dict[str, Any]:
        return {**nets.sample_net(rng, options), "diagram": options["diagram"]}

    def solve(self, given: dict[str, Any]) -> Solved:
        layers = nets.forward(given)
        answers, data = forward_answers(given, layers)
        return Solved(answers, data, figures=nets.diagram(given, given["diagram"]))

    def rejection(self, given: dict[str, Any], solved: Solved) -> str | None:
        return nets.degenerate(given, solved.data["layers"])

    def check(self, given: dict[str, Any]) -> dict[str, Any]:
        return forward_check(given)[0]
