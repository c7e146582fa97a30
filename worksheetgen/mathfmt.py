"""Number and text formatting shared by every output format.

Both LaTeX and Markdown carry math as TeX between dollar signs, so numbers are formatted once,
as TeX. Rules: integers and terminating rationals print as exact decimals; any other value
prints rounded (half up, as students are taught) and, where it fits, beside its closed form.
Text that comes from users is escaped per format here, never by SymPy (its latex_escape emits
``\\textbackslashb`` for ``\\b``, which does not compile).
"""

from __future__ import annotations

from contextlib import AbstractContextManager, contextmanager
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal
from functools import lru_cache
from typing import Any, Iterator

import mpmath
import sympy as sp
from sympy.core.numbers import mpf_norm as _sympy_mpf_norm
from sympy.printing.latex import LatexPrinter

DEFAULT_DIGITS = 4
CLOSED_FORM_MAX_CHARS = 90


def _memo(fn: Any) -> Any:
    """Cache a pure formatting function on hashable arguments (SymPy numbers are): the same
    value is formatted for the key, the solutions and every format."""
    cached = lru_cache(maxsize=65536)(fn)

    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return cached(*args, **kwargs)
        except TypeError:  # an unhashable argument (a list): compute directly
            return fn(*args, **kwargs)

    call.__doc__, call.__name__, call.__wrapped__ = fn.__doc__, fn.__name__, fn  # type: ignore[attr-defined]
    return call


def as_expr(x: Any) -> sp.Expr:
    if isinstance(x, sp.Basic):
        return x
    if isinstance(x, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(x, float):
        return sp.Float(x, 30)
    return sp.sympify(x)


def terminates(x: Any) -> bool:
    """True for integers and rationals whose decimal expansion terminates (short enough)."""
    if not isinstance(x, sp.Rational):
        if isinstance(x, sp.Basic):
            return False
        x = as_expr(x)
        if not isinstance(x, sp.Rational):
            return False
    return terminates_denominator(x.q)


def is_exact_decimal(x: Any, digits: int | None = DEFAULT_DIGITS, mode: str | None = None) -> bool:
    """True when ``x`` prints exactly under the rounding rule: a terminating decimal with at
    most ``digits`` decimal places (significant digits when the rule says so; integers always).
    ``digits=None``: any terminating decimal (givens in the key, rationals inside closed forms)."""
    if not terminates(x):
        return False
    if digits is None:
        return True
    return _short(as_expr(x), digits, _mode(mode))


def terminates_denominator(q: int) -> bool:
    """Whether p/q (in lowest terms) has a terminating decimal (very large denominators count
    as not terminating)."""
    if q == 1:
        return True
    if q > 10**12:
        return False
    q >>= (q & -q).bit_length() - 1  # drop the factors 2
    while q % 5 == 0:
        q //= 5
    return q == 1


# -- the rounding rule ----------------------------------------------------------------------------
# One rule for every printed number: ``digits`` counts decimal places (the default, as the sheets
# say) or, when a sheet chooses it, significant digits. A value whose exact decimal fits the rule
# prints exactly; any other is rounded half up from its exact value. The rule in force for a build
# is set once (:func:`rounding_mode`); an answer that states its own precision passes ``mode``.
DECIMALS = "decimals"
SIGNIFICANT = "significant"
MODES = (DECIMALS, SIGNIFICANT)
_MODE = [DECIMALS]


def _mode(mode: str | None) -> str:
    return _MODE[0] if mode is None else mode


def current_mode() -> str:
    return _MODE[0]


@contextmanager
def rounding_mode(mode: str) -> Iterator[None]:
    """Print with ``mode`` (decimals or significant) while inside; restored afterwards."""
    if mode not in MODES:
        raise ValueError(f"unknown rounding mode {mode!r}")
    previous = _MODE[0]
    _MODE[0] = mode
    try:
        yield
    finally:
        _MODE[0] = previous


def _exact_decimal(x: sp.Rational) -> Decimal:
    """A terminating rational as an exact Decimal (integer arithmetic: no context rounding)."""
    p, q = int(x.p), int(x.q)
    if q == 1:
        return Decimal(p)
    twos = (q & -q).bit_length() - 1
    fives, rest = 0, q >> twos
    while rest % 5 == 0:
        rest, fives = rest // 5, fives + 1
    k = max(twos, fives)
    return Decimal(p * (10**k // q)).scaleb(-k)


def _short(x: sp.Rational, digits: int, mode: str) -> bool:
    """A terminating rational that fits the rule exactly."""
    if x.q == 1:
        return True
    d = _exact_decimal(x).normalize()
    places = -d.as_tuple().exponent  # type: ignore[operator]
    if mode == DECIMALS:
        return places <= digits
    return len(d.as_tuple().digits) <= digits


def places_phrase(digits: int, mode: str | None = None) -> str:
    """'4 decimal places' or '4 significant digits'."""
    if _mode(mode) == DECIMALS:
        return f"{digits} decimal place{'s' if digits != 1 else ''}"
    return f"{digits} significant digit{'s' if digits != 1 else ''}"


def shown_sentence(digits: int, mode: str | None = None) -> str:
    """How a solution shows its numbers (the start of a sentence, no final period)."""
    return (f"Values with more than {places_phrase(digits, mode)} are shown rounded to "
            f"{places_phrase(digits, mode)}")


def instruction(digits: int, mode: str | None = None) -> str:
    """The sheet's one statement of the rule, e.g. 'Give numerical answers to 4 decimal places;
    keep full precision in intermediate steps.'"""
    return (f"Give numerical answers to {places_phrase(digits, mode)} unless a question says otherwise; "
            "keep full precision in intermediate steps.")


_DECIMAL_CONTEXT = Context(prec=40, rounding=ROUND_HALF_EVEN)

# Closed forms whose value is already known to far more digits than any use here needs (the
# dense-network solver evaluates each kept closed form at 100 digits and checks it against an
# independent 60-digit computation to 45 digits: worksheetgen.nets.settle). Their decimals and
# floats come from that value instead of a second and third evaluation by SymPy's evalf; both
# round it the same way unless the value lies within 10^-40 of its size from a rounding
# boundary (a closed form with exp, log or erf is never exactly on one).
_KNOWN: dict[sp.Basic, Any] = {}


def remember_value(expr: sp.Basic, value: Any) -> None:
    """Record an mpmath value of ``expr`` correct to at least 45 significant digits."""
    if len(_KNOWN) >= 1 << 16:
        _KNOWN.clear()
    _KNOWN[expr] = value


def known_value(expr: Any) -> Any:
    """The value recorded by :func:`remember_value`, or None."""
    return _KNOWN.get(expr) if isinstance(expr, sp.Basic) else None


@lru_cache(maxsize=65536)
def _decimal(x: sp.Expr) -> Decimal:
    # One value is printed many times (key, solutions, every format): evaluate it once.
    if isinstance(x, sp.Rational):
        # 40 significant digits of p/q, as sp.N(x, 40) gives them; only their rounding to a few
        # places is ever printed, and a rational that does not terminate is never a tie there.
        return _DECIMAL_CONTEXT.divide(Decimal(int(x.p)), Decimal(int(x.q)))
    known = _KNOWN.get(x)
    if known is not None:
        return Decimal(mpmath.libmp.to_str(known._mpf_, 40))
    if isinstance(x, sp.Float) and x._mpf_[1]:
        return Decimal(_float_text_40(x._mpf_))
    evaluated = evalf_rounded(x, _PREC_40)
    if evaluated is not None:
        return Decimal(_float_text_40(evaluated))
    return Decimal(str(sp.N(x, 40)).replace("*^", "E"))


_PREC_40 = mpmath.libmp.dps_to_prec(40)


def _float_text_40(mpf: tuple[int, int, int, int]) -> str:
    """``str(sp.N(Float, 40))`` of a finite non-zero Float, as SymPy makes it: its value rounded
    to 40 digits' bits (evalf of a Float is the Float, kept to that precision) printed with 40
    digits, trailing zeros kept (StrPrinter._print_Float at the top level)."""
    text = mpmath.libmp.to_str(_sympy_mpf_norm(mpf, _PREC_40), 40, strip_zeros=False)
    if text.startswith("-.0"):
        return "-0." + text[3:]
    if text.startswith(".0"):
        return "0." + text[2:]
    return text.removeprefix("+")


# Sums of rational multiples of logs of rationals (a cross-entropy loss: -log(22/25)/3 -
# log(13/20)/3 - ...) take SymPy's evalf ~130 us, once for the key's float and once for the
# printed decimal. Both read only its value rounded to nearest at ``bits`` bits (136 for 40
# digits, 103 for 30), of a value evalf makes accurate to ``bits`` + 4 bits. A value known to
# ~2^-185 of its size rounds to the same ``bits`` bits as evalf's whenever every value within
# 2^-(bits + 2) of its size does (that interval holds evalf's value and the true one, with a
# bit to spare for evalf's estimate of its accuracy); otherwise evalf is asked.
_LOG_SUM_BITS = 192
_LOG_SUMS: dict[sp.Basic, Any] = {}


def evalf_rounded(x: sp.Basic, bits: int) -> tuple[int, int, int, int] | None:
    """``sp.N(x)``'s value rounded to ``bits`` bits as an mpf, for the sums of logs above when
    that rounding is sure; None otherwise (and for any other expression)."""
    if isinstance(x, sp.Rational) or not isinstance(x, (sp.Add, sp.Mul, sp.log)):
        return None
    value = _LOG_SUMS.get(x, False)
    if value is False:
        value = _log_sum_value(x)
        if len(_LOG_SUMS) >= 1 << 16:
            _LOG_SUMS.clear()
        _LOG_SUMS[x] = value
    if value is None:
        return None
    libmp = mpmath.libmp
    margin = libmp.mpf_shift(libmp.mpf_abs(value), -(bits + 2))
    above = libmp.mpf_add(value, margin, bits, libmp.round_nearest)
    below = libmp.mpf_sub(value, margin, bits, libmp.round_nearest)
    return above if above == below else None


def _log_sum_value(x: sp.Basic) -> tuple[int, int, int, int] | None:
    """Σ c·log(r) (rationals c ≠ 0, r > 0 at least 2^-40 from 1, every term of one sign) to
    within 2^-185 of its size; None for any other expression. Each log is of r rounded to 256
    bits (its error 2^-256 over |log r| >= 2^-41), each term within 2^-189 of its size, and
    terms of one sign do not cancel: the sum's relative error is at most the terms'."""
    libmp = mpmath.libmp
    total = None
    sign = 0
    for term in sp.Add.make_args(x):
        coeff, rest = term.as_coeff_Mul()
        if not (isinstance(coeff, sp.Rational) and isinstance(rest, sp.log)):
            return None
        r = rest.args[0]
        if not (isinstance(r, sp.Rational) and r.p > 0):
            return None
        p, q = int(r.p), int(r.q)
        if abs(p - q) * (1 << 40) < q:
            return None
        term_sign = (1 if coeff.p > 0 else -1) * (1 if p > q else -1)
        if sign and term_sign != sign:
            return None
        sign = term_sign
        log_r = libmp.mpf_log(libmp.from_rational(p, q, 256, libmp.round_nearest),
                              _LOG_SUM_BITS, libmp.round_nearest)
        c = libmp.from_rational(int(coeff.p), int(coeff.q), _LOG_SUM_BITS, libmp.round_nearest)
        value = libmp.mpf_mul(c, log_r, _LOG_SUM_BITS, libmp.round_nearest)
        total = value if total is None else libmp.mpf_add(total, value, _LOG_SUM_BITS, libmp.round_nearest)
    return total


def _exact_decimal_text(x: sp.Rational) -> str:
    if x.q == 1:
        return str(int(x.p))
    text = format(_exact_decimal(x).normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def num(x: Any, digits: int = DEFAULT_DIGITS, mode: str | None = None) -> str:
    """A value as a TeX number under the rounding rule.

    ``mode`` decimals (the default rule): a value whose exact decimal has at most ``digits``
    decimals prints exactly; any other is rounded half up to ``digits`` decimals (a non-zero value
    below half a unit prints as 0.0000: the quality gate flags such draws, nothing hides them).
    ``mode`` significant: the same with significant digits, in scientific notation below 1e-4 and
    from 10^digits on. Values of 10^12 and beyond are written in scientific notation either way.
    """
    key = (as_expr(x), digits, _mode(mode))
    text = _NUM_TEXTS.get(key)
    if text is None:
        if len(_NUM_TEXTS) >= _NUM_TEXTS_MAX:
            _NUM_TEXTS.clear()
        text = _NUM_TEXTS[key] = _num(*key)
    return text


# num's results by (value, digits, mode): a value is printed for the key, the solutions and
# every format. A dictionary rather than lru_cache so that texts printed in a build's worker
# process can be handed to the main process with the values they print (:func:`remember_num`).
_NUM_TEXTS: dict[tuple[sp.Expr, int, str], str] = {}
_NUM_TEXTS_MAX = 65536


def printed_num(x: Any, digits: int, mode: str | None = None) -> tuple[tuple[sp.Expr, int, str], str] | None:
    """(key, text) of ``num(x, digits, mode)`` if this process has printed it, else None."""
    key = (as_expr(x), digits, _mode(mode))
    text = _NUM_TEXTS.get(key)
    return None if text is None else (key, text)


def remember_num(key: tuple[sp.Expr, int, str], text: str) -> None:
    """``num(*key)`` is ``text`` (printed by another process of the build)."""
    if len(_NUM_TEXTS) < _NUM_TEXTS_MAX:
        _NUM_TEXTS[key] = text


def _num(x: sp.Expr, digits: int, mode: str) -> str:
    if is_exact_decimal(x, digits, mode):
        if mode == SIGNIFICANT and x.q != 1 and abs(x) < sp.Rational(1, 10**4):  # type: ignore[union-attr]
            exact_d = _exact_decimal(x).normalize()  # type: ignore[arg-type]
            return _scientific(exact_d, len(exact_d.as_tuple().digits))  # 6 \times 10^{-9}, exactly
        return _exact_decimal_text(x)  # type: ignore[arg-type]
    d = _exact_decimal(x) if terminates(x) else _decimal(x)
    if d == 0:
        return "0"
    magnitude = abs(d)
    if magnitude >= Decimal("1e12"):
        return _scientific(d, digits)
    if mode == DECIMALS:
        text = format(d.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP), "f")
    else:
        if magnitude < Decimal("1e-4") or magnitude >= Decimal(10) ** digits:
            return _scientific(d, digits)
        exponent = magnitude.adjusted()  # e.g. -2 for 0.0646
        q = d.quantize(Decimal(1).scaleb(exponent - digits + 1), rounding=ROUND_HALF_UP)
        if abs(q).adjusted() > exponent:  # 9.99996 → 10.00, not 10.000
            q = q.quantize(Decimal(1).scaleb(exponent - digits + 2))
        text = format(q, "f")
    if text.startswith("-") and set(text[1:]) <= {"0", "."}:
        text = text[1:]
    return text


def _scientific(d: Decimal, digits: int) -> str:
    """``digits`` significant digits times a power of ten."""
    exponent = abs(d).adjusted()
    mantissa = d.scaleb(-exponent).quantize(Decimal(1).scaleb(-(digits - 1)), rounding=ROUND_HALF_UP)
    if abs(mantissa) >= 10:
        mantissa, exponent = (mantissa / 10).quantize(Decimal(1).scaleb(-(digits - 1)), rounding=ROUND_HALF_UP), exponent + 1
    return f"{format(mantissa, 'f')} \\times 10^{{{exponent}}}"


def sci(x: Any, digits: int = 2) -> str:
    """Scientific notation with ``digits`` significant digits, for values an exercise asks in
    that form (a relative error): ``3.4 \\times 10^{-9}``; 0 prints as 0."""
    x = as_expr(x)
    d = _exact_decimal(x) if terminates(x) else _decimal(x)
    if d == 0:
        return "0"
    return _scientific(d, digits)


def rounded(x: Any, digits: int = DEFAULT_DIGITS, mode: str | None = None) -> str:
    """Plain-text decimal (for keys and terminals): like :func:`num` without TeX."""
    return plain(num(x, digits, mode))


def plain(text: str) -> str:
    """A TeX number as plain text: ``3.1 \\times 10^{-7}`` → ``3.1e-7``."""
    if "\\times" in text:
        mantissa, exponent = text.split(" \\times 10^")
        return f"{mantissa}e{exponent.strip('{}')}"
    return text


def relation(x: Any, digits: int = DEFAULT_DIGITS, mode: str | None = None) -> str:
    """'=' when the printed number is exact, '\\approx' when it is rounded."""
    return "=" if is_exact_decimal(as_expr(x), digits, mode) else r"\approx"


# -- ordering the terms of a sum, as SymPy's printers do, faster --------------------------------
# The printers order a sum's terms by Expr.as_ordered_terms: each term's numeric factors are
# evaluated with complex() (a SymPy evalf each time) and a sum of numbers is sorted by those
# values. Printing a closed form spends most of its time there. The same ordering, with each
# factor's complex() value remembered (a pure function of the factor; factors recur across
# values and students): sums of numbers only, anything else goes to SymPy.
_COMPLEX: dict[sp.Basic, complex] = {}


# A closed form's value to far more than double precision, when one is at hand cheaply (the
# dense-network solver registers its 100-digit evaluator of "plain" closed forms: rationals
# under +, ×, powers and exp). Used only to order terms: complex(x) evaluates x to 15 digits, and
# the order of two terms could differ from it only if they agreed to the last bit of a double.
_ORACLE: list[Any] = []


def set_value_oracle(fn: Any) -> None:
    _ORACLE[:] = [fn]


def _complex(x: sp.Basic) -> complex:
    value = _COMPLEX.get(x)
    if value is None:
        precise = _ORACLE[0](x) if _ORACLE else None
        # complex(x) evaluates with SymPy; TypeError / ValueError propagate, as in SymPy's loop
        value = complex(float(precise), 0.0) if precise is not None else complex(x)
        if len(_COMPLEX) >= 1 << 16:
            _COMPLEX.clear()
        _COMPLEX[x] = value
    return value


_AS_ORDERED_TERMS = sp.Expr.as_ordered_terms


_ORDERED: dict[tuple[sp.Basic, Any], list[sp.Basic]] = {}


def ordered_terms(expr: sp.Basic, order: Any = None) -> list[sp.Basic]:
    """``expr.as_ordered_terms(order=order)`` (SymPy 1.14's algorithm), remembered per sum."""
    if not expr.is_Add or order not in (None, "lex"):
        return _AS_ORDERED_TERMS(expr, order=order)
    key = (expr, order)
    terms = _ORDERED.get(key)
    if terms is None:
        terms = _ordered_terms(expr, order)
        if len(_ORDERED) >= 1 << 16:
            _ORDERED.clear()
        _ORDERED[key] = terms
    return list(terms)


def _ordered_terms(expr: sp.Basic, order: Any) -> list[sp.Basic]:
    add_args = None
    if order is None:
        # SymPy's special case: Number + Mul(negative Number, ...) keeps the number first.
        key0 = lambda x: not isinstance(x, (sp.Number, sp.NumberSymbol))  # noqa: E731
        add_args = sorted(sp.Add.make_args(expr), key=key0)
        if (len(add_args) == 2 and isinstance(add_args[0], (sp.Number, sp.NumberSymbol))
                and isinstance(add_args[1], sp.Mul)):
            mul_args = sorted(sp.Mul.make_args(add_args[1]), key=key0)
            if (len(mul_args) == 2 and isinstance(mul_args[0], sp.Number)
                    and add_args[0].is_positive and mul_args[0].is_negative):
                return add_args
    terms = []
    for term in sp.Add.make_args(expr):
        coeff, rest = term.as_coeff_Mul()
        value = complex(coeff)
        if rest is not sp.S.One:
            for factor in sp.Mul.make_args(rest):
                if not factor.is_number:
                    return _AS_ORDERED_TERMS(expr, order=order)  # symbols: SymPy's general case
                try:
                    value *= _complex(factor)
                except (TypeError, ValueError):
                    return _AS_ORDERED_TERMS(expr, order=order)
        terms.append((term, ((value.real, value.imag), (), ())))
    key, reverse = sp.Expr._parse_order(order)
    return [term for term, _ in sorted(terms, key=key, reverse=reverse)]


def _as_ordered_terms(self: sp.Expr, order: Any = None, data: bool = False) -> Any:
    if data:
        return _AS_ORDERED_TERMS(self, order=order, data=True)
    return ordered_terms(self, order)


def positive_first(terms: list[Any]) -> list[Any]:
    """A sum's terms as people write them: the first term that carries no minus sign moves to
    the front (e^{0.5} - e^{-0.5}, not -e^{-0.5} + e^{0.5}; 3 - \\sqrt{2}); the others keep their
    order. Only the printed order changes, never the value."""
    if not terms or not _negative(terms[0]):
        return terms
    for i, term in enumerate(terms):
        if not _negative(term):
            return [term, *terms[:i], *terms[i + 1:]]
    return terms


def _negative(term: Any) -> bool:
    return isinstance(term, sp.Basic) and term.could_extract_minus_sign()


class _Replaced:
    """SymPy methods replaced while any caller is inside :meth:`active` (nested or not), and
    restored when the last one leaves, also on error. A method the class only inherited is
    inherited again."""

    def __init__(self, *replacements: tuple[type, str, Any]) -> None:
        self.replacements = replacements
        self.depth = 0
        self.saved: list[tuple[type, str, Any]] = []

    @contextmanager
    def active(self) -> Iterator[None]:
        if self.depth == 0:
            self.saved = [(cls, name, cls.__dict__.get(name)) for cls, name, _ in self.replacements]
            for cls, name, method in self.replacements:
                setattr(cls, name, method)
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
            if self.depth == 0:
                for cls, name, own in self.saved:
                    if own is None:
                        delattr(cls, name)
                    else:
                        setattr(cls, name, own)


# complex() of a rational, as SymPy computes it (an evalf each time, not always p/q correctly
# rounded), remembered per rational: ordering a sum takes it of every coefficient, and the
# coefficients of one sheet's closed forms recur (1.3 in e^{1.3} and in 1.3 e^{-3}).
_EXPR_COMPLEX = sp.Expr.__complex__
_RATIONAL_COMPLEX: dict[sp.Rational, complex] = {}


def _rational_complex(self: sp.Rational) -> complex:
    value = _RATIONAL_COMPLEX.get(self)
    if value is None:
        value = _EXPR_COMPLEX(self)
        if len(_RATIONAL_COMPLEX) >= 1 << 16:
            _RATIONAL_COMPLEX.clear()
        _RATIONAL_COMPLEX[self] = value
    return value


_FAST_ORDERING = _Replaced((sp.Expr, "as_ordered_terms", _as_ordered_terms),
                           (sp.Rational, "__complex__", _rational_complex))


def fast_ordering() -> AbstractContextManager[None]:
    """While printing: SymPy's printers also order terms through sort_key (a product's factors
    are sorted by a key that orders each sum inside them), which calls Expr.as_ordered_terms
    directly. For the duration of a print, that method is :func:`ordered_terms` (the same
    result, each factor's value remembered) and complex() of a rational is remembered too;
    restored afterwards, also on error."""
    return _FAST_ORDERING.active()


# How a closed form writes its rational numbers: never two notations in one expression
# (e^{3e^{-1}/2 - 1.5} mixes a fraction and a decimal). When every rational in it terminates and
# one already prints as a decimal (1.3 in e^{1.3}), coefficients print as decimals too
# (0.07 e^{1.3}, 1.5 e^{-1}); when one does not terminate (1/3), every rational is a fraction.
COEFFICIENTS_AS_FRACTIONS = "fractions-for-coefficients"  # only coefficients: \frac{e^{-2}}{4}
ALL_DECIMALS = "decimals"
ALL_FRACTIONS = "fractions"


def notation(expr: sp.Basic) -> str:
    """The one notation for the rationals of a closed form (see above)."""
    standalone = repeating = False
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, sp.Rational):
            if node.q != 1:
                standalone = True
                repeating = repeating or not terminates_denominator(int(node.q))
            continue
        if isinstance(node, sp.Pow):
            stack.append(node.base)  # an exponent is structure (1/2 is a square root), not a number
            if isinstance(node.exp, sp.Rational) and node.exp.q != 1 and not terminates_denominator(int(node.exp.q)):
                repeating = True
            continue
        if isinstance(node, sp.Mul):
            c, _ = node.as_coeff_Mul()
            if isinstance(c, sp.Rational) and c.q != 1:
                repeating = repeating or not terminates_denominator(int(c.q))
                stack.extend(a for a in node.args if a is not c)
                continue
        stack.extend(node.args)
    if repeating:
        return ALL_FRACTIONS
    if standalone:
        return ALL_DECIMALS
    return COEFFICIENTS_AS_FRACTIONS


class _Printer(LatexPrinter):
    """SymPy's LaTeX printer with the sheets' number conventions."""

    def __init__(self, settings: dict[str, Any], rationals: str = COEFFICIENTS_AS_FRACTIONS) -> None:
        super().__init__(settings)
        self.rationals = rationals
        self.printed: dict[sp.Basic, str] = {}

    def _as_ordered_terms(self, expr: Any, order: Any = None) -> list[Any]:
        order = order or self.order
        if order in ("old", "none"):
            return super()._as_ordered_terms(expr, order=order)
        return positive_first(ordered_terms(expr, order))

    def _print_Rational(self, expr: sp.Rational) -> str:  # noqa: N802 - SymPy's naming
        if self.rationals != ALL_FRACTIONS and terminates(expr):
            return _exact_decimal_text(expr)
        return super()._print_Rational(expr)

    def _print_Mul(self, expr: sp.Mul) -> str:  # noqa: N802
        if self.rationals == ALL_DECIMALS:
            c, rest = expr.as_coeff_Mul()
            if isinstance(c, sp.Rational) and c.q != 1:
                # The coefficient as a number standing in the numerator (SymPy would split it
                # into numerator and denominator): an opaque symbol named after its decimal.
                decimal = sp.Mul(sp.Symbol(_exact_decimal_text(abs(c))), rest)
                return super()._print_Mul(decimal if c > 0 else -decimal)  # type: ignore[arg-type]
        return super()._print_Mul(expr)

    def _print_Float(self, expr: sp.Float) -> str:  # noqa: N802
        return num(expr)

    def _print(self, expr: Any, **kwargs: Any) -> str:
        # The text of a sub-expression depends on it alone (no keyword: a power prints its base
        # with one), and closed forms share sub-expressions: remember them.
        if kwargs or not isinstance(expr, sp.Basic):
            return super()._print(expr, **kwargs)
        text = self.printed.get(expr)
        if text is None:
            text = super()._print(expr)
            if len(self.printed) >= 1 << 16:
                self.printed.clear()
            self.printed[expr] = text
        return text


_SETTINGS = {"order": "lex", "ln_notation": True}
_PRINTERS = {mode: _Printer(_SETTINGS, mode) for mode in (COEFFICIENTS_AS_FRACTIONS, ALL_DECIMALS, ALL_FRACTIONS)}
_printer = _PRINTERS[COEFFICIENTS_AS_FRACTIONS]


def _exp_as_power(expr: sp.Expr, printer: _Printer = _printer) -> sp.Expr:
    # SymPy folds e^{-2} into a denominator (3/e^2); sheets write 3 e^{-2}. An opaque symbol
    # named after the power keeps the printed form the way instructors write it.
    if not isinstance(expr, sp.Basic):
        return expr.replace(
            lambda a: isinstance(a, sp.exp),
            lambda a: sp.Symbol(f"e^{{{printer.doprint(_exp_as_power(a.args[0], printer))}}}"),
        )
    with _SYMBOLIC_SUM_POWERS.active():
        return _exp_walk(expr, printer)


# While the walk rebuilds a closed form, a product that holds 1/(1 + e^{..}) makes Pow(sum, -1)
# again, and Pow asks the sum's _eval_power. For a sum that is no number (it holds a power of e
# as a symbol) and holds no imaginary unit, SymPy's returns None, after asking whether a term is
# infinite: for terms of symbols without assumptions a long search, most of the walk's time.
_ADD_EVAL_POWER = sp.Add._eval_power


def _symbolic_sum_power(self: sp.Add, exponent: sp.Expr) -> sp.Expr | None:
    if not self.is_number and not self.has(sp.I):
        return None
    return _ADD_EVAL_POWER(self, exponent)


_SYMBOLIC_SUM_POWERS = _Replaced((sp.Add, "_eval_power", _symbolic_sum_power))


def _exp_walk(node: sp.Basic, printer: _Printer = _printer) -> sp.Basic:
    """``node.replace(exp -> symbol)`` as SymPy's replace does it (bottom up, each node rebuilt
    from its new arguments, the rule applied to the rebuilt node), without rebuilding an exp
    whose argument changed when that rebuild provably returns the same argument: its only use is
    to be printed in the symbol's name, and building exp of a symbolic argument is costly."""
    args = node.args
    if not args:
        return node
    new = tuple(_exp_walk(a, printer) for a in args)
    if isinstance(node, sp.exp):
        arg = new[0]
        if new != args and not _plain(arg):
            rebuilt = node.func(*new)
            if not isinstance(rebuilt, sp.exp):
                return rebuilt  # replace leaves a rebuilt node the rule does not match
            arg = rebuilt.args[0]
        return sp.Symbol(f"e^{{{printer.doprint(arg)}}}")
    if new != args:
        return node.func(*new)
    return node


def _plain(e: sp.Basic) -> bool:
    """Built of sums, products, powers, rationals and symbols only: exp() of it evaluates to
    exp of the same argument (no log, π i, infinity or number it could simplify away)."""
    if isinstance(e, (sp.Rational, sp.Symbol)):
        return True
    return isinstance(e, (sp.Add, sp.Mul, sp.Pow)) and all(_plain(a) for a in e.args)


@_memo
def exact(x: Any) -> str:
    """The exact value as TeX (closed form), e.g. ``3 e^{-2} - 3`` or ``\\frac{1}{3}``."""
    if isinstance(x, (int, sp.Integer)):
        return str(x)
    expr = as_expr(x)
    printer = _PRINTERS[notation(expr)]
    if isinstance(expr, sp.Atom):  # a number: no sum to order, so SymPy's class is left alone (patching it costs)
        return printer.doprint(expr)
    with fast_ordering():
        return printer.doprint(_exp_as_power(expr, printer))


def value(x: Any, digits: int = DEFAULT_DIGITS, mode: str | None = None) -> str:
    """A result as shown in a solution: ``0.485``; ``\\frac{1}{3} \\approx 0.3333``;
    ``e^{-2} - 1 \\approx -0.8647``; ``22.033533925 \\approx 22.0335``. Very long closed forms
    are left out."""
    return _value(as_expr(x), digits, _mode(mode))


@_memo
def _value(x: sp.Expr, digits: int, mode: str) -> str:
    if is_exact_decimal(x, digits, mode):
        return num(x, digits, mode)
    closed = exact(x)
    rounded_text = num(x, digits, mode)
    if len(closed) > CLOSED_FORM_MAX_CHARS or closed == rounded_text:
        return rounded_text
    return f"{closed} \\approx {rounded_text}"


def equals(x: Any, digits: int = DEFAULT_DIGITS, mode: str | None = None) -> str:
    """The right-hand side of a result line with its relation: ``= 0.485``,
    ``= e^{-2} - 1 \\approx -0.8647``, or ``\\approx 0.2732`` when the closed form is too long."""
    shown = value(x, digits, mode)
    if is_exact_decimal(as_expr(x), digits, mode) or "\\approx" in shown:
        return f"= {shown}"
    return f"\\approx {shown}"


@_memo
def nonnegative(x: Any) -> bool:
    """``x >= 0`` as SymPy decides it, remembered per value: a template asks it of the same
    value in every format. A rational's sign is its numerator's; a closed form's, that of its
    40-digit value when that is not 0 (SymPy evaluates it too; a template asks the sign of a
    value it has just printed, so that value is worked out already)."""
    if isinstance(x, sp.Rational):
        return x.p >= 0
    if isinstance(x, sp.Expr) and x.is_number:
        d = _decimal(x)
        if d != 0:
            return d > 0
    return bool(x >= 0)


def paren(text: str) -> str:
    """Parenthesize a TeX number that starts with a minus sign (for substituted products)."""
    return f"({text})" if text.startswith("-") else text


def pnum(x: Any, digits: int = DEFAULT_DIGITS, mode: str | None = None) -> str:
    return paren(num(x, digits, mode))


def matrix(m: Any, digits: int = DEFAULT_DIGITS, env: str = "bmatrix", mode: str | None = None) -> str:
    """A SymPy matrix (or nested list, or flat list as a column) as a TeX matrix of numbers."""
    if isinstance(m, sp.MatrixBase):
        rows = m.tolist()
    elif m and isinstance(m[0], (list, tuple)):
        rows = [list(r) for r in m]
    else:
        rows = [[v] for v in m]
    body = r" \\ ".join(" & ".join(num(v, digits, mode) for v in row) for row in rows)
    return f"\\begin{{{env}}} {body} \\end{{{env}}}"


def intsep(x: Any) -> str:
    """A whole number as TeX with thousands separators, ``1{,}592{,}527{,}626``; four-digit
    numbers stay plain (``1920``), as in print."""
    n = int(x)
    if n != x:
        raise ValueError(f"intsep needs a whole number, not {x!r}")
    digits = str(abs(n))
    if len(digits) > 4:
        groups = []
        while digits:
            groups.insert(0, digits[-3:])
            digits = digits[:-3]
        digits = "{,}".join(groups)
    return f"-{digits}" if n < 0 else digits


def signed(x: Any, digits: int = DEFAULT_DIGITS, mode: str | None = None) -> str:
    """'+ 0.5' or '- 0.5', for writing sums term by term."""
    text = num(x, digits, mode)
    return f"- {text[1:]}" if text.startswith("-") else f"+ {text}"


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "%": r"\%",
    "#": r"\#",
    "_": r"\_",
    "^": r"\textasciicircum{}",
    "~": r"\textasciitilde{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    "\n": " ",
    "\r": " ",
    "\t": " ",
}


# Pairs the T1 fonts join into another glyph (-- en dash, `` and '' quotes, ,, low quotes,
# !` and ?` inverted marks): an empty group between them keeps each character as typed.
_LIGATURE_STARTS = {"-": "-", "`": "`", "'": "'", ",": ",", "!": "`", "?": "`"}  # < > are escaped


def latex_escape(text: str) -> str:
    """User text → LaTeX that prints those characters and executes nothing."""
    return _latex_escape(str(text))


@lru_cache(maxsize=4096)  # a sheet's title and headings, escaped on every page of every student
def _latex_escape(text: str) -> str:
    out = []
    for i, ch in enumerate(text):
        if ch in _LATEX_SPECIAL:
            out.append(_LATEX_SPECIAL[ch])
        elif ord(ch) < 32 or ord(ch) == 127:
            out.append(" ")
        else:
            out.append(ch)
        if ch in _LIGATURE_STARTS and i + 1 < len(text) and text[i + 1] == _LIGATURE_STARTS[ch]:
            out.append("{}")
    return "".join(out)


_MARKDOWN_SPECIAL = set("\\`*_{}[]()<>#+-.!|$~")


def markdown_escape(text: str) -> str:
    """User text → Markdown that renders those characters literally (no math, no HTML)."""
    return _markdown_escape(str(text))


@lru_cache(maxsize=4096)
def _markdown_escape(text: str) -> str:
    out = []
    for ch in text.replace("\r", " ").replace("\n", " "):
        if ch in _MARKDOWN_SPECIAL:
            out.append("\\" + ch)
        elif ord(ch) < 32 or ord(ch) == 127:
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


LATEX_UNSUPPORTED_HINT = "Latin letters with accents, digits, spaces and punctuation"
