"""Activation functions, each twice: exact (SymPy) for solving and NumPy for checking.

The two paths share no code on purpose: the NumPy one is the independent recomputation that
guards the exact one. Derivatives of smooth functions are obtained by SymPy differentiation of
the definition; the piecewise ones follow the seeds' conventions at the kink, stated in
``kink_rule`` so the solution text can say which one is used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import sympy as sp

_z = sp.Symbol("z", real=True)


@dataclass(frozen=True)
class Activation:
    name: str
    tex: str  # how the function is named in formulas, e.g. \operatorname{ReLU}
    definition: str  # TeX definition in terms of z (and \alpha)
    derivative: str  # TeX definition of g'(z)
    exact: Callable[[sp.Expr, sp.Expr], sp.Expr]
    exact_grad: Callable[[sp.Expr, sp.Expr], sp.Expr]
    numeric: Callable[[np.ndarray, float], np.ndarray]
    numeric_grad: Callable[[np.ndarray, float], np.ndarray]
    kinks: tuple[int, ...] = ()  # points where g is not differentiable
    uses_alpha: bool = False
    kink_rule: str = ""

    def at(self, z: Any, alpha: Any = 0) -> sp.Expr:
        return self.exact(sp.sympify(z), sp.sympify(alpha))

    def grad_at(self, z: Any, alpha: Any = 0) -> sp.Expr:
        return self.exact_grad(sp.sympify(z), sp.sympify(alpha))


def _smooth(expr: sp.Expr) -> tuple[Callable, Callable]:
    a = sp.Symbol("alpha", real=True)
    derivative = sp.diff(expr, _z)
    return (
        lambda z, alpha: expr.subs({_z: z, a: alpha}),
        lambda z, alpha: derivative.subs({_z: z, a: alpha}),
    )


def _sigmoid_np(z: np.ndarray, alpha: float = 0.0) -> np.ndarray:
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


_erf = np.vectorize(math.erf, otypes=[float])

_sig_f, _sig_g = _smooth(1 / (1 + sp.exp(-_z)))
_tanh_f, _tanh_g = _smooth(sp.tanh(_z))
_silu_f, _silu_g = _smooth(_z / (1 + sp.exp(-_z)))
_gelu_f, _gelu_g = _smooth(_z / 2 * (1 + sp.erf(_z / sp.sqrt(2))))
_id_f, _id_g = _smooth(_z)


def _tanh_exact(z: sp.Expr, alpha: sp.Expr) -> sp.Expr:
    # tanh written with exponentials so closed forms print as e^{..}, like the seeds.
    return (sp.exp(z) - sp.exp(-z)) / (sp.exp(z) + sp.exp(-z))


def _tanh_grad_exact(z: sp.Expr, alpha: sp.Expr) -> sp.Expr:
    return 1 - _tanh_exact(z, alpha) ** 2


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in [
        Activation(
            "identity", r"\operatorname{id}", "z", "1",
            _id_f, _id_g,
            lambda z, a=0: np.asarray(z, dtype=float),
            lambda z, a=0: np.ones_like(np.asarray(z, dtype=float)),
        ),
        Activation(
            "relu", r"\operatorname{ReLU}", r"\max(0, z)",
            r"\begin{cases} 1 & z > 0 \\ 0 & z \le 0 \end{cases}",
            lambda z, a: z if z > 0 else sp.Integer(0),
            lambda z, a: sp.Integer(1) if z > 0 else sp.Integer(0),
            lambda z, a=0: np.maximum(np.asarray(z, dtype=float), 0.0),
            lambda z, a=0: (np.asarray(z, dtype=float) > 0).astype(float),
            kinks=(0,),
            kink_rule=r"\operatorname{ReLU}'(0) = 0",
        ),
        Activation(
            "leaky_relu", r"\operatorname{LeakyReLU}",
            r"\begin{cases} z & z > 0 \\ \alpha z & z \le 0 \end{cases}",
            r"\begin{cases} 1 & z > 0 \\ \alpha & z \le 0 \end{cases}",
            lambda z, a: z if z > 0 else a * z,
            lambda z, a: sp.Integer(1) if z > 0 else a,
            lambda z, a=0.01: np.where(np.asarray(z, float) > 0, z, a * np.asarray(z, float)),
            lambda z, a=0.01: np.where(np.asarray(z, float) > 0, 1.0, a),
            kinks=(0,), uses_alpha=True,
            kink_rule=r"\operatorname{LeakyReLU}'(0) = \alpha",
        ),
        Activation(
            "elu", r"\operatorname{ELU}",
            r"\begin{cases} z & z \ge 0 \\ \alpha(e^{z} - 1) & z < 0 \end{cases}",
            r"\begin{cases} 1 & z \ge 0 \\ \alpha e^{z} & z < 0 \end{cases}",
            lambda z, a: z if z >= 0 else a * (sp.exp(z) - 1),
            lambda z, a: sp.Integer(1) if z >= 0 else a * sp.exp(z),
            lambda z, a=1.0: np.where(np.asarray(z, float) >= 0, z, a * np.expm1(np.minimum(z, 0))),
            lambda z, a=1.0: np.where(np.asarray(z, float) >= 0, 1.0, a * np.exp(np.minimum(z, 0))),
            kinks=(0,), uses_alpha=True,
            kink_rule=r"\operatorname{ELU}'(0) = 1",
        ),
        Activation(
            "sigmoid", r"\sigma", r"\frac{1}{1 + e^{-z}}", r"\sigma(z)\,(1 - \sigma(z))",
            _sig_f, _sig_g,
            _sigmoid_np,
            lambda z, a=0: _sigmoid_np(z) * (1 - _sigmoid_np(z)),
        ),
        Activation(
            "tanh", r"\tanh", r"\frac{e^{z} - e^{-z}}{e^{z} + e^{-z}}", r"1 - \tanh^2(z)",
            _tanh_exact, _tanh_grad_exact,
            lambda z, a=0: np.tanh(np.asarray(z, dtype=float)),
            lambda z, a=0: 1 - np.tanh(np.asarray(z, dtype=float)) ** 2,
        ),
        Activation(
            "silu", r"\operatorname{SiLU}", r"\frac{z}{1 + e^{-z}}",
            r"\sigma(z)\,(1 + z\,(1 - \sigma(z)))",
            _silu_f, _silu_g,
            lambda z, a=0: np.asarray(z, float) * _sigmoid_np(z),
            lambda z, a=0: _sigmoid_np(z) * (1 + np.asarray(z, float) * (1 - _sigmoid_np(z))),
        ),
        Activation(
            "gelu", r"\operatorname{GELU}", r"z\,\Phi(z) = \frac{z}{2}\left(1 + \operatorname{erf}\frac{z}{\sqrt{2}}\right)",
            r"\Phi(z) + z\,\varphi(z)",
            _gelu_f, _gelu_g,
            lambda z, a=0: 0.5 * np.asarray(z, float) * (1 + _erf(np.asarray(z, float) / math.sqrt(2))),
            lambda z, a=0: 0.5 * (1 + _erf(np.asarray(z, float) / math.sqrt(2)))
            + np.asarray(z, float) * np.exp(-np.asarray(z, float) ** 2 / 2) / math.sqrt(2 * math.pi),
        ),
    ]
}

NAMES = tuple(ACTIVATIONS)


def get(name: str) -> Activation:
    return ACTIVATIONS[name]
