"""Activation functions, three times: exact (SymPy) for solving, NumPy for checking, and a
precise mpmath twin for values whose closed form is too long or too costly to keep.

The NumPy path shares no code with the other two on purpose: it is the independent
recomputation that guards them. Derivatives of smooth functions are obtained by SymPy
differentiation of the definition; the piecewise ones follow the seeds' conventions at the
kink, stated in ``kink_rule`` (TeX math) and ``kink_scope`` (what the rule covers) so the text
can say which one is used. ELU'(0) = 1 for every α (the slope from the right), as in the seeds;
PyTorch uses α there.

The precise twin (``precise``/``precise_grad``, 60 significant digits) is written in forms that
lose no accuracy far out (GELU with erfc, σ'(z) = σ(z)σ(−z), tanh' = sech², ELU with expm1):
evaluating a closed form such as -150 (1 + erf(-150√2)) by SymPy would need ~20 000 digits to
tell it from zero.
"""

from __future__ import annotations

import copyreg
import math
import pickle
from dataclasses import dataclass
from typing import Any, Callable

import mpmath
import numpy as np
import sympy as sp
from sympy.core.add import _addsort
from sympy.core.mul import _mulsort

from worksheetgen import mathfmt, sympyfast

sympyfast.install()  # exact values below build and ask the signs of many new rationals

_z = sp.Symbol("z", real=True)

WORK_DIGITS = 60  # precision of the twins; shown values keep 50 (worksheetgen.nets.PRECISION)
MP = mpmath.MPContext()  # a private context: nobody else's mpmath precision changes
MP.dps = WORK_DIGITS


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
    kink_rule: str = ""  # TeX math: the derivative used at the kink
    kink_scope: str = ""  # TeX text after the rule, when it holds for every alpha by convention
    precise: Callable[[Any, Any], Any] | None = None  # mpmath twin of ``exact`` (MP context)
    precise_grad: Callable[[Any, Any], Any] | None = None

    @property
    def kink_note(self) -> str:
        """The convention at the kink as TeX text ('' for smooth functions)."""
        return f"${self.kink_rule}${self.kink_scope}" if self.kink_rule else ""

    def at(self, z: Any, alpha: Any = 0) -> sp.Expr:
        return _evaluate(self, self.exact, 0, z, alpha)

    def grad_at(self, z: Any, alpha: Any = 0) -> sp.Expr:
        return _evaluate(self, self.exact_grad, 1, z, alpha)

    def __reduce__(self) -> tuple[Any, ...]:
        # One of the fixed table ACTIVATIONS, pickled by name (its functions are closures built
        # at import): a solved exercise that names its activation crosses between processes.
        if ACTIVATIONS.get(self.name) is not self:
            raise pickle.PicklingError(f"activation {self.name!r} is not the table's")
        return get, (self.name,)


def _mpf(value: tuple[Any, ...]) -> Any:
    return MP.make_mpf(value)


def _mpc(value: tuple[Any, ...]) -> Any:
    return MP.make_mpc(value)


# The twins are numbers of the private context MP, whose classes pickle cannot find by name:
# they are pickled as their exact binary value (mpmath's (sign, mantissa, exponent, bits)).
copyreg.pickle(type(MP.mpf(0)), lambda x: (_mpf, (x._mpf_,)))
copyreg.pickle(type(MP.mpc(0)), lambda x: (_mpc, (x._mpc_,)))


# g(z) and g'(z) at rational points, by (function, 0 for g / 1 for g', z, alpha). Drawn inputs
# lie on grids, so the same points come back student after student; a SymPy value is immutable,
# and building one (exp, powers, their assumption queries) costs far more than the look-up.
_AT_RATIONAL: dict[tuple[str, int, sp.Rational, sp.Rational], sp.Expr] = {}
_AT_RATIONAL_MAX = 1 << 16


def _evaluate(act: "Activation", fn: Callable[[sp.Expr, sp.Expr], sp.Expr], which: int,
              z: Any, alpha: Any) -> sp.Expr:
    z = z if isinstance(z, sp.Basic) else sp.sympify(z)
    alpha = alpha if isinstance(alpha, sp.Basic) else sp.sympify(alpha)
    if not (isinstance(z, sp.Rational) and isinstance(alpha, sp.Rational)):
        return fn(z, alpha)
    key = (act.name, which, z, alpha)
    value = _AT_RATIONAL.get(key)
    if value is None:
        value = fn(z, alpha)
        if len(_AT_RATIONAL) >= _AT_RATIONAL_MAX:
            _AT_RATIONAL.clear()
        _AT_RATIONAL[key] = value
    return value


def _builder(expr: sp.Basic, symbol: sp.Symbol) -> Callable[[sp.Expr], sp.Expr]:
    """``lambda v: expr.subs(symbol, v)`` without the generic substitution machinery: the tree
    is rebuilt bottom-up with the same constructors subs ends up calling (``func(*args)``,
    evaluated), so the result is the same expression, at a fraction of the cost."""
    if expr == symbol:
        return lambda v: v
    if not expr.args or not expr.has(symbol):
        return lambda v: expr
    func = expr.func
    parts = [_builder(a, symbol) for a in expr.args]
    if func is sp.exp:
        inner = parts[0]
        return lambda v: exp(inner(v))
    if func is sp.Pow and expr.args[1].is_Integer:
        base, exponent = parts[0], expr.args[1]
        return lambda v: power(base(v), exponent)
    if func is sp.Mul:
        return lambda v: mul(*[part(v) for part in parts])
    if func is sp.Add:
        return lambda v: add(*[part(v) for part in parts])
    return lambda v: func(*[part(v) for part in parts])


# -- exp() and integer powers of closed forms, without the evaluation that cannot change them ---
# SymPy's exp(x) first tries to simplify x (exp of a log, multiples of πi, pulling factors out of
# a sum: for a sum it builds exp of every term, each asking logcombine and numeric comparisons,
# then asks whether x is zero), and Pow(s, n) asks whether a term of s is infinite and whether s
# is complex. For the closed forms built here ("plain": rationals under +, ×, powers and exp; no
# log, π, i, infinity, float or symbol) every one of those attempts comes back empty - a plain
# value is finite and SymPy never proves it zero (a sum of nonzero terms is at best "unknown") -
# and SymPy then builds exactly the unevaluated node. These constructors build that node
# directly for a plain argument and call SymPy otherwise; tests compare both on many values.
def is_plain(e: sp.Basic) -> bool:
    """Rationals (and e = exp(1)) combined by +, ×, powers and exp only."""
    if isinstance(e, sp.Rational) or e is sp.S.Exp1:
        return True
    if isinstance(e, (sp.Add, sp.Mul, sp.Pow, sp.exp)):
        # Asked of every operand of every constructor below: remembered per subtree, or the
        # walks would grow with the square of a closed form's depth.
        known = _PLAIN.get(e)
        if known is None:
            known = all(is_plain(a) for a in e.args)
            if len(_PLAIN) >= _PLAIN_MAX:
                _PLAIN.clear()
            _PLAIN[e] = known
        return known
    return False


_PLAIN: dict[sp.Basic, bool] = {}
_PLAIN_MAX = 1 << 16


_plain = is_plain


def exp(arg: sp.Expr) -> sp.Expr:
    """``sp.exp(arg)``."""
    if isinstance(arg, (sp.Add, sp.Mul)) and _plain(arg):
        return sp.exp(arg, evaluate=False)
    return sp.exp(arg)


def power(base: sp.Expr, exponent: sp.Integer) -> sp.Expr:
    """``sp.Pow(base, exponent)`` for an integer exponent."""
    if isinstance(base, sp.Add) and exponent not in (sp.S.Zero, sp.S.One) and _plain(base):
        return sp.Pow(base, exponent, evaluate=False)
    if isinstance(base, sp.Pow) and base.exp.is_Integer and isinstance(base.base, sp.Add):
        # (s^m)^n is s^(mn) for integers (Pow._eval_power), then the case above: σ(z)² of a
        # sigmoid output 1/(1 + e^{-z}) in a squared error.
        return power(base.base, base.exp * exponent)
    return sp.Pow(base, exponent)


def mul(*factors: sp.Expr) -> sp.Expr:
    """``sp.Mul(*factors)``. Mul.flatten multiplies the numbers, groups the other factors by
    base (exp(x) has base e), rebuilds each as Pow(base, exponent) - with SymPy's full
    evaluation, which for a factor already in canonical form gives it back - and sorts them;
    a number times a sum is distributed over the sum. For plain factors with distinct,
    non-numeric bases that is what this does, without the rebuilding."""
    seq = [f for f in factors if f is not sp.S.One]
    if not seq:
        return sp.S.One
    if len(seq) == 1:
        return seq[0]
    if not all(is_plain(f) for f in seq):
        return sp.Mul(*factors)
    if len(seq) == 2:
        a, b = seq
        if b.is_Rational:
            a, b = b, a
        if a.is_Rational and not a.is_zero:
            r, rest = b.as_coeff_Mul()
            if rest.is_Add:
                if r is not sp.S.One:
                    return sp.Mul(*factors)
                return add(*[_keep_coeff(a, t) for t in rest.args])  # 2 (x + y) -> 2 x + 2 y
    coeff = sp.S.One
    others: list[sp.Expr] = []
    bases: set[Any] = set()
    pending = list(seq)
    while pending:
        f = pending.pop(0)
        if f.is_Mul:
            pending[:0] = f.args
            continue
        if isinstance(f, sp.Rational):
            coeff *= f
            continue
        if isinstance(f, sp.exp) or f is sp.S.Exp1:
            # Powers of e combine only when their exponents differ in the coefficient alone
            # (e^{x/2} e^{x/3} = e^{5x/6}, e·e^{1/2} = e^{3/2}; e^x e^y stays): left to SymPy below.
            exponent = sp.S.One if f is sp.S.Exp1 else f.args[0]
            base = (sp.S.Exp1, exponent.as_coeff_Mul()[1])
        elif isinstance(f, sp.Pow) and not f.base.is_Number:
            base = f.base
        elif isinstance(f, sp.Add):
            base = f
        else:
            return sp.Mul(*factors)
        if base in bases:
            return sp.Mul(*factors)
        bases.add(base)
        others.append(f)
    if coeff.is_zero or (len(others) == 1 and coeff is not sp.S.One and others[0].is_Add):
        return sp.Mul(*factors)
    if not others:
        return coeff
    if coeff is sp.S.One and len(others) == 1:
        return others[0]
    _mulsort(others)
    return sp.Mul._from_args(others if coeff is sp.S.One else [coeff] + others, True)


def _keep_coeff(coeff: sp.Rational, factor: sp.Expr) -> sp.Expr:
    """sympy.core.mul._keep_coeff(coeff, factor) for a rational coefficient."""
    if factor is sp.S.One:
        return coeff
    if coeff is sp.S.One:
        return factor
    if coeff is sp.S.NegativeOne:
        return -factor
    if factor.is_Add:
        return sp.Mul(coeff, factor, evaluate=False)
    if factor.is_Mul:
        margs = list(factor.args)
        if margs[0].is_Number:
            margs[0] *= coeff
            if margs[0] == 1:
                margs.pop(0)
        else:
            margs.insert(0, coeff)
        return sp.Mul._from_args(margs)
    m = mul(coeff, factor)
    if m.is_Number and not factor.is_Number:
        m = sp.Mul._from_args((coeff, factor))
    return m


def add(*terms: sp.Expr) -> sp.Expr:
    """``sp.Add(*terms)``. Add.flatten sums the numbers, collects like terms (c s + d s) and
    rebuilds each term c s that is not a product with Mul's full machinery; for plain terms
    that gives c s back, so this builds it directly."""
    seq = [t for t in terms if t is not sp.S.Zero]
    if not seq:
        return sp.S.Zero
    if len(seq) == 1:
        return seq[0]
    if not all(is_plain(t) for t in seq):
        return sp.Add(*terms)
    if len(seq) == 2:
        a, b = seq
        if b.is_Rational:
            a, b = b, a
        if a.is_Rational and b.is_Mul:
            return sp.Add._from_args([a, b], True)
    coeff = sp.S.Zero
    collected: dict[sp.Expr, sp.Expr] = {}
    pending = list(seq)
    i = 0
    while i < len(pending):
        o = pending[i]
        i += 1
        if o.is_Number:
            coeff += o
            continue
        if o.is_Add:
            pending.extend(o.args)
            continue
        if o.is_Mul:
            c, t = o.as_coeff_Mul()
        elif o.is_Pow:
            b, e = o.as_base_exp()
            if b.is_Number and (e.is_Integer or (e.is_Rational and e.is_negative)):
                return sp.Add(*terms)
            c, t = sp.S.One, o
        else:
            c, t = sp.S.One, o
        collected[t] = collected[t] + c if t in collected else c
    newseq = []
    for t, c in collected.items():
        if c.is_zero:
            continue
        if c is sp.S.One:
            newseq.append(t)
        elif t.is_Mul:
            newseq.append(t._new_rawargs(*((c,) + t.args)))
        elif t.is_Add:
            newseq.append(sp.Mul(c, t, evaluate=False))
        else:
            newseq.append(mul(c, t))
    _addsort(newseq)
    if coeff is not sp.S.Zero:
        newseq.insert(0, coeff)
    return sp.Add._from_args(newseq, True)


def neg(x: sp.Expr) -> sp.Expr:
    """``-x``."""
    return mul(sp.S.NegativeOne, x) if x.is_Add else -x


def _smooth(expr: sp.Expr) -> tuple[Callable, Callable]:
    derivative = sp.diff(expr, _z)
    f, g = _builder(expr, _z), _builder(derivative, _z)
    return lambda z, alpha: f(z), lambda z, alpha: g(z)


def _sigmoid_np(z: np.ndarray, alpha: float = 0.0) -> np.ndarray:
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


_erfc = np.vectorize(math.erfc, otypes=[float])


def _gelu_np(z: np.ndarray, alpha: float = 0.0) -> np.ndarray:
    z = np.asarray(z, dtype=float)
    return 0.5 * z * _erfc(-z / math.sqrt(2))  # 1 + erf(t) = erfc(-t), without cancellation


def _gelu_grad_np(z: np.ndarray, alpha: float = 0.0) -> np.ndarray:
    z = np.asarray(z, dtype=float)
    return 0.5 * _erfc(-z / math.sqrt(2)) + z * np.exp(-z**2 / 2) / math.sqrt(2 * math.pi)


# -- the precise twins (mpmath, context MP) ---------------------------------------------------
def _mp_sigmoid(z: Any) -> Any:
    return 1 / (1 + MP.exp(-z))  # mpf exponents are unbounded: no overflow either way


def _mp_gelu(z: Any, a: Any = 0) -> Any:
    return z / 2 * MP.erfc(-z / MP.sqrt(2))


def _mp_gelu_grad(z: Any, a: Any = 0) -> Any:
    return MP.erfc(-z / MP.sqrt(2)) / 2 + z * MP.exp(-z * z / 2) / MP.sqrt(2 * MP.pi)


_sig_f, _sig_g = _smooth(1 / (1 + sp.exp(-_z)))
_tanh_f, _tanh_g = _smooth(sp.tanh(_z))
_silu_f, _silu_g = _smooth(_z / (1 + sp.exp(-_z)))
_gelu_f, _gelu_g = _smooth(_z / 2 * (1 + sp.erf(_z / sp.sqrt(2))))
_id_f, _id_g = _smooth(_z)


def _tanh_exact(z: sp.Expr, alpha: sp.Expr) -> sp.Expr:
    # tanh written with exponentials so closed forms print as e^{..}, like the seeds.
    # (exp(z) - exp(-z)) / (exp(z) + exp(-z)), built as SymPy's operators build it.
    return mul(add(exp(z), neg(exp(neg(z)))), power(add(exp(z), exp(neg(z))), sp.S.NegativeOne))


def nonnegative(z: sp.Expr) -> bool:
    """``bool(z >= 0)``. SymPy decides a closed form's sign from a low-precision evaluation;
    a value the solver already knows to 45 digits (mathfmt.known_value) has its sign there."""
    if isinstance(z, sp.Rational):
        return z.p >= 0  # a rational's sign is its numerator's
    known = mathfmt.known_value(z)
    if known is not None and known != 0:
        return bool(known > 0)
    return bool(z >= 0)


def positive(z: sp.Expr) -> bool:
    """``bool(z > 0)``, as :func:`nonnegative`."""
    if isinstance(z, sp.Rational):
        return z.p > 0
    known = mathfmt.known_value(z)
    if known is not None and known != 0:
        return bool(known > 0)
    return bool(z > 0)


def _tanh_grad_exact(z: sp.Expr, alpha: sp.Expr) -> sp.Expr:
    # 1 - tanh(z)**2. SymPy squares a product factor by factor (Mul._eval_power); for
    # tanh = n / d with plain n and d that is n**2 d**-2.
    t = _tanh_exact(z, alpha)
    if t.is_Mul and len(t.args) == 2 and is_plain(t):
        n, inv = t.args if t.args[1].is_Pow else t.args[::-1]  # SymPy sorts the power first
        if inv.is_Pow and inv.exp is sp.S.NegativeOne and n.is_Add and inv.base.is_Add:
            square = mul(power(n, sp.Integer(2)), power(inv.base, sp.Integer(-2)))
            return add(sp.S.One, neg(square))
    return 1 - t ** 2


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in [
        Activation(
            "identity", r"\operatorname{id}", "z", "1",
            _id_f, _id_g,
            lambda z, a=0: np.asarray(z, dtype=float),
            lambda z, a=0: np.ones_like(np.asarray(z, dtype=float)),
            precise=lambda z, a=0: z, precise_grad=lambda z, a=0: MP.mpf(1),
        ),
        Activation(
            "relu", r"\operatorname{ReLU}", r"\max(0, z)",
            r"\begin{cases} 1 & z > 0 \\ 0 & z \le 0 \end{cases}",
            lambda z, a: z if positive(z) else sp.Integer(0),
            lambda z, a: sp.Integer(1) if positive(z) else sp.Integer(0),
            lambda z, a=0: np.maximum(np.asarray(z, dtype=float), 0.0),
            lambda z, a=0: (np.asarray(z, dtype=float) > 0).astype(float),
            kinks=(0,),
            kink_rule=r"\operatorname{ReLU}'(0) = 0",
            precise=lambda z, a=0: z if z > 0 else MP.mpf(0),
            precise_grad=lambda z, a=0: MP.mpf(1) if z > 0 else MP.mpf(0),
        ),
        Activation(
            "leaky_relu", r"\operatorname{LeakyReLU}",
            r"\begin{cases} z & z > 0 \\ \alpha z & z \le 0 \end{cases}",
            r"\begin{cases} 1 & z > 0 \\ \alpha & z \le 0 \end{cases}",
            lambda z, a: z if positive(z) else a * z,
            lambda z, a: sp.Integer(1) if positive(z) else a,
            lambda z, a=0.01: np.where(np.asarray(z, float) > 0, z, a * np.asarray(z, float)),
            lambda z, a=0.01: np.where(np.asarray(z, float) > 0, 1.0, a),
            kinks=(0,), uses_alpha=True,
            kink_rule=r"\operatorname{LeakyReLU}'(0) = \alpha",
            precise=lambda z, a: z if z > 0 else a * z,
            precise_grad=lambda z, a: MP.mpf(1) if z > 0 else MP.mpf(a),
        ),
        Activation(
            "elu", r"\operatorname{ELU}",
            r"\begin{cases} z & z \ge 0 \\ \alpha(e^{z} - 1) & z < 0 \end{cases}",
            r"\begin{cases} 1 & z \ge 0 \\ \alpha e^{z} & z < 0 \end{cases}",
            lambda z, a: z if nonnegative(z) else mul(a, add(exp(z), sp.S.NegativeOne)),
            lambda z, a: sp.Integer(1) if nonnegative(z) else mul(a, exp(z)),
            lambda z, a=1.0: np.where(np.asarray(z, float) >= 0, z, a * np.expm1(np.minimum(z, 0))),
            lambda z, a=1.0: np.where(np.asarray(z, float) >= 0, 1.0, a * np.exp(np.minimum(z, 0))),
            kinks=(0,), uses_alpha=True,
            kink_rule=r"\operatorname{ELU}'(0) = 1",
            kink_scope=r" for every $\alpha$",  # the slope from the right; from the left it is alpha
            precise=lambda z, a: z if z >= 0 else a * MP.expm1(z),
            precise_grad=lambda z, a: MP.mpf(1) if z >= 0 else a * MP.exp(z),
        ),
        Activation(
            "sigmoid", r"\sigma", r"\frac{1}{1 + e^{-z}}", r"\sigma(z)\,(1 - \sigma(z))",
            _sig_f, _sig_g,
            _sigmoid_np,
            lambda z, a=0: _sigmoid_np(z) * _sigmoid_np(-np.asarray(z, dtype=float)),
            precise=lambda z, a=0: _mp_sigmoid(z),
            precise_grad=lambda z, a=0: _mp_sigmoid(z) * _mp_sigmoid(-z),
        ),
        Activation(
            "tanh", r"\tanh", r"\frac{e^{z} - e^{-z}}{e^{z} + e^{-z}}", r"1 - \tanh^2(z)",
            _tanh_exact, _tanh_grad_exact,
            lambda z, a=0: np.tanh(np.asarray(z, dtype=float)),
            lambda z, a=0: 1 - np.tanh(np.asarray(z, dtype=float)) ** 2,
            precise=lambda z, a=0: MP.tanh(z),
            precise_grad=lambda z, a=0: MP.sech(z) ** 2,
        ),
        Activation(
            "silu", r"\operatorname{SiLU}", r"\frac{z}{1 + e^{-z}}",
            r"\sigma(z)\,(1 + z\,(1 - \sigma(z)))",
            _silu_f, _silu_g,
            lambda z, a=0: np.asarray(z, float) * _sigmoid_np(z),
            lambda z, a=0: _sigmoid_np(z) * (1 + np.asarray(z, float) * _sigmoid_np(-np.asarray(z, float))),
            precise=lambda z, a=0: z * _mp_sigmoid(z),
            precise_grad=lambda z, a=0: _mp_sigmoid(z) * (1 + z * _mp_sigmoid(-z)),
        ),
        Activation(
            "gelu", r"\operatorname{GELU}", r"z\,\Phi(z) = \frac{z}{2}\left(1 + \operatorname{erf}\frac{z}{\sqrt{2}}\right)",
            r"\Phi(z) + z\,\varphi(z)",
            _gelu_f, _gelu_g,
            _gelu_np, _gelu_grad_np,
            precise=_mp_gelu, precise_grad=_mp_gelu_grad,
        ),
    ]
}

NAMES = tuple(ACTIVATIONS)


def get(name: str) -> Activation:
    return ACTIVATIONS[name]
