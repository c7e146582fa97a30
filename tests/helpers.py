"""Shared test helpers: draw instances, central finite differences, seeded spec building."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from worksheetgen.answers import to_float
from worksheetgen.instance import Instance, make_instance
from worksheetgen.params import parse_params
from worksheetgen.registry import get_family


def instance(family: str, seed: int = 0, **params: Any) -> Instance:
    fam = get_family(family)
    options = parse_params(fam.params, params, validate=fam.validate)
    return make_instance(fam, options, sheet_seed=seed)


def value(inst: Instance, key: str) -> Any:
    return to_float(inst.answers[key].value)


def central_difference(f: Callable[[float], float], x: float, h: float = 1e-6) -> float:
    return (f(x + h) - f(x - h)) / (2 * h)


def numeric_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[idx] += h
        minus[idx] -= h
        grad[idx] = (f(plus) - f(minus)) / (2 * h)
    return grad
