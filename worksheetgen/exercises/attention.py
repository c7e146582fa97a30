"""Scaled dot-product attention on small Q, K, V: the scores QK^T/√d_k, the row-wise softmax,
the output AV, the same with a causal mask (−∞ above the diagonal), and the parameter counts of
multi-head attention and of a transformer block.

Conventions, as the sheet states them: Attention(Q, K, V) = softmax(QK^T/√d_k) V with the
softmax over each row (one row per query); the causal mask adds M_ij = −∞ for j > i, so
e^{−∞} = 0 removes those keys; h heads of size d_k = d_v = d_model/h, the four projections
W^Q, W^K, W^V, W^O each d_model × d_model in total, with or without one bias per output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from worksheetgen import mathfmt
from worksheetgen.answers import Answer, IntegerAnswer, MatrixAnswer
from worksheetgen.errors import CheckError, WorksheetError
from worksheetgen.family import Constraint, Family, Record, Solved
from worksheetgen.params import Choice, Int, ListOf, Matrix, Param
from worksheetgen.sampling import grid_param, grid_values, nonzero_grid_values, require_grid

PARTS = ("scores", "weights", "output", "masked", "heads", "block")
NUMERIC_PARTS = ("scores", "weights", "output", "masked")
COUNT_PARTS = ("heads", "block")
# Limits, as the help texts state them: the numeric parts are worked by hand (at most 5 tokens,
# d_k <= 8, d_v <= 4, entries within ±10, so |scores| <= 8·100/√8 < 283 and every e^{s} is a
# finite float64); the counts are integer arithmetic and cost nothing at any allowed size.
MAX_TOKENS = 5
MAX_DK = 8
MAX_DV = 4
ENTRY_LIMIT = 10
MAX_D_MODEL = 100_000
MAX_HEADS = 1024
MAX_D_FF = 1_000_000
MAX_SEQ = 100_000
D_MODELS = (64, 128, 256, 512, 768, 1024)
HEADS = (2, 4, 8, 12, 16)
# Drawn sequence lengths: h·T² attention weights stay within 2.7 decades over a class (with 8 and
# 256 they spread over 3.3).
SEQS = (16, 32, 64, 128)
# A softmax row whose largest weight reaches this picks one key: nothing to learn about mixing.
ONE_HOT = 0.95
# ... and a visible key whose weight is below this is ignored (and prints as 0.000x).
MIN_WEIGHT = 0.001
NEG_INF = r"-\infty"


def _imm(m: Any) -> sp.ImmutableMatrix:
    return sp.ImmutableMatrix(m)


@dataclass(frozen=True)
class AttentionGiven(Record):
    parts: tuple[str, ...]  # in the printed order of PARTS
    n: int | None = None  # queries (numeric parts)
    m: int | None = None  # keys and values
    d_k: int | None = None
    d_v: int | None = None
    Q: sp.ImmutableMatrix | None = None
    K: sp.ImmutableMatrix | None = None
    V: sp.ImmutableMatrix | None = None
    d_model: int | None = None  # count parts
    heads: int | None = None
    seq_len: int | None = None
    d_ff: int | None = None


@dataclass(frozen=True)
class SoftmaxRow(Record):
    """One query's softmax: the sum written out, its value, and the weights."""

    terms: str  # TeX, e^{s_1} + e^{s_2} + ...
    total: sp.Expr
    weights: tuple[sp.Expr, ...]  # a_{i1} ... a_{im}; 0 for a masked key
    allowed: tuple[bool, ...]  # the key is visible to this query
    output: tuple[sp.Expr, ...]  # row i of the output
    output_terms: str  # TeX, a_{i1} v_1 + ...
    exact: bool  # every weight (so every output) prints exactly


@dataclass(frozen=True)
class AttentionData(Record):
    parts: tuple[str, ...]
    numeric: bool
    sqrt_dk: sp.Expr | None = None
    dots: tuple[tuple[str, ...], ...] | None = None  # TeX of q_i · k_j, written out
    qk: sp.ImmutableMatrix | None = None
    S: sp.ImmutableMatrix | None = None
    S_exact: bool = True  # every score prints exactly (√d_k divides nicely)
    rows: tuple[SoftmaxRow, ...] | None = None
    A: sp.ImmutableMatrix | None = None
    O: sp.ImmutableMatrix | None = None
    mask_tex: str | None = None  # the mask M as a TeX matrix
    masked_scores_tex: str | None = None  # S + M as a TeX matrix
    masked_rows: tuple[SoftmaxRow, ...] | None = None
    A_masked: sp.ImmutableMatrix | None = None
    O_masked: sp.ImmutableMatrix | None = None
    # counts
    head_dim: int | None = None
    proj: int | None = None  # d_model², one projection's weights
    mha_nobias: int | None = None
    mha_bias: int | None = None
    attn_weights: int | None = None
    ffn: int | None = None
    ln: int | None = None
    block: int | None = None


def _row_constant(values: Any) -> bool:
    values = list(values)
    return len(values) > 1 and len(set(values)) == 1


def _scores(given: AttentionGiven) -> sp.Matrix:
    return sp.Matrix(given.Q) * sp.Matrix(given.K).T / sp.sqrt(given.d_k)


def _varied_scores(given: AttentionGiven) -> bool:
    """No query attends uniformly: every row of S (and, masked, every visible prefix of two or
    more keys) has two different scores."""
    if not any(p in given.parts for p in NUMERIC_PARTS):
        return True
    S = _scores(given)
    if any(_row_constant(S.row(i)) for i in range(S.rows)):
        return False
    if "masked" in given.parts:
        return not any(_row_constant(list(S.row(i))[: i + 1]) for i in range(S.rows))
    return True


def _weight_rows(s: Solved) -> list[list[float]]:
    """The visible keys' weights of every softmax row (masked: from the second query on, the
    first sees only itself)."""
    d = s.data
    if not d.numeric:
        return []
    rows = [r.weights for r in d.rows]
    if d.masked_rows is not None:
        rows += [[w for w, seen in zip(r.weights, r.allowed) if seen] for r in d.masked_rows[1:]]
    return [[float(sp.N(w, 30)) for w in row] for row in rows]


def _one_hot(s: Solved) -> bool:
    """Some query puts ONE_HOT or more of its weight on one key."""
    return any(max(row) >= ONE_HOT for row in _weight_rows(s))


def _negligible(s: Solved) -> bool:
    """Some query gives a key it sees less than MIN_WEIGHT."""
    return any(min(row) < MIN_WEIGHT for row in _weight_rows(s))


SAMPLE_TRIES = 30


def _quick_ok(Q: Any, K: Any, d_k: int, masked: bool) -> bool:
    """The constraints on Q and K without SymPy: distinct queries and keys, no query with equal
    scores (exact, on integer-scaled products), no nearly one-hot softmax row and no negligible
    weight (floats)."""
    Qf, Kf = (np.array(sp.Matrix(M).tolist(), dtype=object) for M in (Q, K))
    if len({tuple(r) for r in Qf}) < len(Qf) or len({tuple(r) for r in Kf}) < len(Kf):
        return False
    dots = [[sum((sp.Rational(a) * sp.Rational(b) for a, b in zip(q, k)), sp.Integer(0)) for k in Kf] for q in Qf]
    rows = [row for row in dots] + ([row[: i + 1] for i, row in enumerate(dots)] if masked else [])
    if any(len(row) > 1 and len(set(row)) == 1 for row in rows):
        return False
    for i, row in enumerate(rows):
        if masked and i == len(dots):  # the first masked row sees one key: one-hot by design
            continue
        s = np.array([float(v) for v in row]) / math.sqrt(d_k)
        e = np.exp(s - s.max())
        if (e / e.sum()).max() >= ONE_HOT or (e / e.sum()).min() < MIN_WEIGHT:
            return False
    return True


def _distinct_rows(M: Any) -> bool:
    rows = [tuple(M.row(i)) for i in range(M.rows)]
    return len(set(rows)) == len(rows)


def _distinct_tokens(given: AttentionGiven) -> bool:
    """No two queries and no two keys are the same vector (they would repeat a row or a column
    of S and teach nothing new)."""
    if not any(p in given.parts for p in NUMERIC_PARTS):
        return True
    return _distinct_rows(given.Q) and _distinct_rows(given.K)


def _varied_values(given: AttentionGiven) -> bool:
    """The value vectors are not all equal (else every output is that vector, whatever A is)."""
    if not any(p in given.parts for p in ("output", "masked")):
        return True
    V = sp.Matrix(given.V)
    return V.rows < 2 or any(V.row(i) != V.row(0) for i in range(1, V.rows))


def _tex_matrix(rows: list[list[str]]) -> str:
    body = r" \\ ".join(" & ".join(r) for r in rows)
    return rf"\begin{{bmatrix}} {body} \end{{bmatrix}}"


def _dot_tex(q: list[Any], k: list[Any]) -> str:
    return " + ".join(f"{mathfmt.pnum(a)} \\cdot {mathfmt.pnum(b)}" for a, b in zip(q, k))


def _softmax_rows(S: sp.Matrix, V: sp.Matrix, causal: bool) -> tuple[SoftmaxRow, ...]:
    rows = []
    for i in range(S.rows):
        allowed = tuple(not causal or j <= i for j in range(S.cols))
        exps = [sp.exp(S[i, j]) if allowed[j] else sp.Integer(0) for j in range(S.cols)]
        total = sum(exps, sp.Integer(0))
        weights = tuple(e / total for e in exps)
        output = tuple(sum((weights[j] * V[j, c] for j in range(S.cols)), sp.Integer(0))
                       for c in range(V.cols))
        terms = " + ".join(f"e^{{{mathfmt.num(S[i, j])}}}" for j in range(S.cols) if allowed[j])
        out_terms = " + ".join(
            f"{mathfmt.num(weights[j])} \\cdot ({', '.join(mathfmt.num(v) for v in V.row(j))})"
            for j in range(S.cols) if allowed[j])
        exact = all(mathfmt.is_exact_decimal(w) for w in weights)
        rows.append(SoftmaxRow(terms=terms, total=total, weights=weights, allowed=allowed,
                               output=output, output_terms=out_terms, exact=exact))
    return tuple(rows)


def _counts(d_model: int, heads: int, seq_len: int, d_ff: int) -> dict[str, int]:
    proj = d_model * d_model
    mha_nobias = 4 * proj
    mha_bias = mha_nobias + 4 * d_model
    ffn = d_model * d_ff + d_ff + d_ff * d_model + d_model
    ln = 2 * 2 * d_model
    return dict(head_dim=d_model // heads, proj=proj, mha_nobias=mha_nobias, mha_bias=mha_bias,
                attn_weights=heads * seq_len * seq_len, ffn=ffn, ln=ln, block=mha_bias + ffn + ln)


class Attention(Family):
    name = "attention"
    title = "Scaled dot-product attention"
    summary = ("softmax(QK^T/√d_k)V on small Q, K, V: scores, attention weights, output; a causal "
               "mask; parameter counts of multi-head attention and of a transformer block.")
    Given = AttentionGiven
    Data = AttentionData
    params = (
        Param("parts", ListOf(Choice(PARTS), min_length=1, max_length=len(PARTS)), list(PARTS),
              "which parts to ask: scores (a), weights (b), output (c), masked (d: a causal mask), "
              "heads (e: multi-head counts), block (f: a transformer block's parameters)"),
        Param("n", Int(1, MAX_TOKENS), None,
              f"queries n (rows of Q), 1 to {MAX_TOKENS} (drawn 2 or 3); with masked, n = m"),
        Param("m", Int(1, MAX_TOKENS), None,
              f"keys m (rows of K and V), 1 to {MAX_TOKENS} (drawn 2 or 3; equal to n with masked)"),
        Param("d_k", Int(1, MAX_DK), None,
              f"query/key size d_k, 1 to {MAX_DK} (default 4; 1 and 4 keep √d_k a whole number)"),
        Param("d_v", Int(1, MAX_DV), None, f"value size d_v, 1 to {MAX_DV} (drawn 2)"),
        Param("Q", Matrix(), None, f"queries, n × d_k, entries from {-ENTRY_LIMIT} to {ENTRY_LIMIT}"),
        Param("K", Matrix(), None, f"keys, m × d_k, entries from {-ENTRY_LIMIT} to {ENTRY_LIMIT}"),
        Param("V", Matrix(), None, f"values, m × d_v, entries from {-ENTRY_LIMIT} to {ENTRY_LIMIT}"),
        grid_param("qk_grid", (-1, 1, 1),
                   f"[lo, hi, step] for drawn entries of Q and K (0 is skipped), from {-ENTRY_LIMIT} to {ENTRY_LIMIT}"),
        grid_param("v_grid", (-2, 2, 1),
                   f"[lo, hi, step] for drawn entries of V, from {-ENTRY_LIMIT} to {ENTRY_LIMIT}"),
        Param("d_model", Int(1, MAX_D_MODEL), None,
              f"model width d_model of the count parts, 1 to {MAX_D_MODEL} (drawn from {', '.join(map(str, D_MODELS))})"),
        Param("heads", Int(1, MAX_HEADS), None,
              f"attention heads h, 1 to {MAX_HEADS}, dividing d_model (drawn from {', '.join(map(str, HEADS))})"),
        Param("seq_len", Int(1, MAX_SEQ), None, f"sequence length T of the heads part, 1 to {MAX_SEQ}"),
        Param("d_ff", Int(1, MAX_D_FF), None,
              f"hidden width d_ff of the block's feed-forward network, 1 to {MAX_D_FF} (drawn 4·d_model)"),
    )
    constraints = (
        Constraint("every query's scores differ (no uniform attention row)", ("Q", "K"), lambda g, s: _varied_scores(g)),
        Constraint("no two equal queries, no two equal keys", ("Q", "K"), lambda g, s: _distinct_tokens(g)),
        Constraint("value vectors that are not all equal", ("V",), lambda g, s: _varied_values(g)),
        Constraint(f"no query that puts {ONE_HOT:g} or more of its attention on one key", ("Q", "K"),
                   lambda g, s: not _one_hot(s)),
        Constraint(f"no key a query sees with a weight below {MIN_WEIGHT:g}", ("Q", "K"),
                   lambda g, s: not _negligible(s)),
    )

    def quality(self, given: AttentionGiven, solved: Solved) -> dict[str, bool]:
        if not solved.data.numeric:
            return {}
        return {
            "uniform attention row": not _varied_scores(given),
            "repeated query or key": not _distinct_tokens(given),
            "all value vectors equal": not _varied_values(given),
            "attention weights nearly one-hot": _one_hot(solved),
            f"attention weight below {MIN_WEIGHT:g}": _negligible(solved),
        }

    # -- validation ----------------------------------------------------------------------------
    def validate(self, options: dict[str, Any]) -> None:
        parts = options["parts"]
        if len(set(parts)) != len(parts):
            raise WorksheetError("a part is listed twice", field="parts", allowed=", ".join(PARTS))
        for key in ("qk_grid", "v_grid"):
            require_grid(options, key, nonzero=key == "qk_grid")
            lo, hi, _ = options[key]
            if lo < -ENTRY_LIMIT or hi > ENTRY_LIMIT:
                raise WorksheetError("grid outside the allowed range", field=key,
                                     allowed=f"values from {-ENTRY_LIMIT} to {ENTRY_LIMIT}")
        if options["Q"] is None or options["K"] is None:
            lo, hi, step = options["qk_grid"]
            points = int((hi - lo) / step) + 1 - (1 if lo <= 0 <= hi and (lo / step).q == 1 else 0)
            if points < 2 and any(p in parts for p in NUMERIC_PARTS):
                raise WorksheetError("the grid has one non-zero point, so every score would be equal",
                                     field="qk_grid", allowed="a grid with at least two non-zero points")
        for key in ("Q", "K", "V"):
            M = options[key]
            if M is None:
                continue
            for v in M:
                if abs(v) > ENTRY_LIMIT:
                    raise WorksheetError(f"entry {mathfmt.num(v)} is outside the allowed range", field=key,
                                         allowed=f"values from {-ENTRY_LIMIT} to {ENTRY_LIMIT}")
        # Sizes: each matrix fixes some of n, m, d_k, d_v; all must agree and be in range.
        sizes: dict[str, tuple[int, str]] = {}
        for key in ("n", "m", "d_v"):
            if options[key] is not None:
                sizes[key] = (options[key], key)
        if options["d_k"] is not None:
            sizes["d_k"] = (options["d_k"], "d_k")
        limits = {"n": MAX_TOKENS, "m": MAX_TOKENS, "d_k": MAX_DK, "d_v": MAX_DV}
        for key, dims in (("Q", ("n", "d_k")), ("K", ("m", "d_k")), ("V", ("m", "d_v"))):
            M = options[key]
            if M is None:
                continue
            for size, dim in zip(M.shape, dims):
                if size > limits[dim]:
                    raise WorksheetError(f"{key} is {M.rows}×{M.cols}: {dim} = {size} is too large for a hand "
                                         "calculation", field=key, allowed=f"{dim} from 1 to {limits[dim]}")
                if dim in sizes and sizes[dim][0] != size:
                    value, source = sizes[dim]
                    raise WorksheetError(f"{key} is {M.rows}×{M.cols} but {source} gives {dim} = {value}",
                                         field=key, allowed=f"{dim} = {value}")
                sizes.setdefault(dim, (size, key))
        if "masked" in parts:
            n, m = sizes.get("n"), sizes.get("m")
            if n and m and n[0] != m[0]:
                raise WorksheetError(f"a causal mask needs as many queries as keys (n = {n[0]}, m = {m[0]})",
                                     field=m[1], allowed=f"m = n = {n[0]}, or leave out the masked part")
            if (n and n[0] < 2) or (m and m[0] < 2):
                raise WorksheetError("with one token a causal mask hides nothing", field=(n or m)[1],
                                     allowed="at least 2 tokens, or leave out the masked part")
        d_model, heads = options["d_model"], options["heads"]
        if d_model is not None and heads is not None:
            if heads > d_model or d_model % heads:
                raise WorksheetError(f"{heads} heads do not divide d_model = {d_model}", field="heads",
                                     allowed=f"a divisor of {d_model}")

    # -- sampling ------------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> AttentionGiven:
        parts = tuple(p for p in PARTS if p in options["parts"])
        fields: dict[str, Any] = {"parts": parts}
        if any(p in parts for p in NUMERIC_PARTS):
            Q, K, V = options["Q"], options["K"], options["V"]
            d_k = Q.cols if Q is not None else K.cols if K is not None else options["d_k"] or 4
            n = options["n"] or (Q.rows if Q is not None else None)
            m = options["m"] or (K.rows if K is not None else V.rows if V is not None else None)
            if "masked" in parts:
                n = m = n or m or int(rng.integers(2, 4))
            n = n or int(rng.integers(2, 4))
            m = m or int(rng.integers(2, 4))
            d_v = options["d_v"] or (V.cols if V is not None else 2)
            # Non-zero entries: a zero query row would attend uniformly.
            # Drawn again (at most SAMPLE_TRIES times) until a cheap pass meets the rules on Q and K
            # (and V); the constraints decide on the exact values of the draw that is kept.
            for _ in range(SAMPLE_TRIES):
                Qd = Q if Q is not None else nonzero_grid_values(rng, *options["qk_grid"], size=(n, d_k))
                Kd = K if K is not None else nonzero_grid_values(rng, *options["qk_grid"], size=(m, d_k))
                if (Q is not None and K is not None) or _quick_ok(Qd, Kd, d_k, "masked" in parts):
                    break
            Q, K = Qd, Kd
            if V is None:
                for _ in range(SAMPLE_TRIES):
                    V = grid_values(rng, *options["v_grid"], size=(m, d_v))
                    if m < 2 or any(V.row(i) != V.row(0) for i in range(1, m)):
                        break
            fields.update(n=n, m=m, d_k=d_k, d_v=d_v, Q=_imm(Q), K=_imm(K), V=_imm(V))
        if any(p in parts for p in COUNT_PARTS):
            d_model = options["d_model"] or int(D_MODELS[int(rng.integers(len(D_MODELS)))])
            heads = options["heads"]
            if heads is None:
                fits = [h for h in HEADS if d_model % h == 0 and d_model // h >= 8]
                fits = fits or [h for h in range(2, 17) if d_model % h == 0] or [1]
                heads = int(fits[int(rng.integers(len(fits)))])
            seq_len = options["seq_len"] or int(SEQS[int(rng.integers(len(SEQS)))])
            d_ff = options["d_ff"] or min(4 * d_model, MAX_D_FF)
            fields.update(d_model=d_model, heads=heads, seq_len=seq_len, d_ff=d_ff)
        return AttentionGiven(**fields)

    # -- solving -------------------------------------------------------------------------------
    def solve(self, given: AttentionGiven) -> Solved:
        parts = given.parts
        answers: list[Answer] = []
        data: dict[str, Any] = {"parts": parts, "numeric": any(p in parts for p in NUMERIC_PARTS)}
        if data["numeric"]:
            Q, K, V = sp.Matrix(given.Q), sp.Matrix(given.K), sp.Matrix(given.V)
            sqrt_dk = sp.sqrt(given.d_k)
            qk = Q * K.T
            S = qk / sqrt_dk
            rows = _softmax_rows(S, V, causal=False)
            A = sp.Matrix([list(r.weights) for r in rows])
            O = sp.Matrix([list(r.output) for r in rows])
            data.update(
                sqrt_dk=sqrt_dk, qk=_imm(qk), S=_imm(S), rows=rows,
                S_exact=all(mathfmt.is_exact_decimal(v) for v in S), A=_imm(A), O=_imm(O),
                dots=tuple(tuple(_dot_tex(list(Q.row(i)), list(K.row(j))) for j in range(K.rows))
                           for i in range(Q.rows)))
            if "scores" in parts:
                answers.append(MatrixAnswer("scores", r"S = \frac{QK^T}{\sqrt{d_k}}", S))
            if "weights" in parts:
                answers.append(MatrixAnswer("weights", r"A = \operatorname{softmax}(S)", A))
            if "output" in parts:
                answers.append(MatrixAnswer("output", "O = AV", O))
            if "masked" in parts:
                mrows = _softmax_rows(S, V, causal=True)
                A_m = sp.Matrix([list(r.weights) for r in mrows])
                O_m = sp.Matrix([list(r.output) for r in mrows])
                mask = [["0" if j <= i else NEG_INF for j in range(S.cols)] for i in range(S.rows)]
                masked = [[mathfmt.num(S[i, j]) if j <= i else NEG_INF for j in range(S.cols)]
                          for i in range(S.rows)]
                data.update(mask_tex=_tex_matrix(mask), masked_scores_tex=_tex_matrix(masked),
                            masked_rows=mrows, A_masked=_imm(A_m), O_masked=_imm(O_m))
                answers += [
                    MatrixAnswer("masked_weights", r"A' = \operatorname{softmax}(S + M)", A_m),
                    MatrixAnswer("masked_output", "O' = A'V", O_m),
                ]
        if any(p in parts for p in COUNT_PARTS):
            counts = _counts(given.d_model, given.heads, given.seq_len, given.d_ff)
            if given.d_model % given.heads:
                raise CheckError(f"attention: {given.heads} heads do not divide d_model = {given.d_model}")
            data.update(counts)
            if "heads" in parts:
                answers += [
                    IntegerAnswer("head_dim", r"d_k = d_v", counts["head_dim"]),
                    IntegerAnswer("mha_nobias", r"\text{parameters without biases}", counts["mha_nobias"]),
                    IntegerAnswer("mha_bias", r"\text{parameters with biases}", counts["mha_bias"]),
                    IntegerAnswer("attn_weights", r"\text{attention weights per sequence}", counts["attn_weights"]),
                ]
            if "block" in parts:
                answers += [
                    IntegerAnswer("ffn", r"\#_{\text{FFN}}", counts["ffn"]),
                    IntegerAnswer("layernorm", r"\#_{\text{LayerNorm}}", counts["ln"]),
                    IntegerAnswer("block", r"\#_{\text{block}}", counts["block"]),
                ]
        return Solved(answers, AttentionData(**data))

    # -- independent check ---------------------------------------------------------------------
    def check(self, given: AttentionGiven) -> dict[str, Any]:
        parts = given.parts
        out: dict[str, Any] = {}
        if any(p in parts for p in NUMERIC_PARTS):
            Q, K, V = (np.array(sp.Matrix(M).tolist(), dtype=float) for M in (given.Q, given.K, given.V))
            S = Q @ K.T / math.sqrt(given.d_k)
            A = _stable_softmax(S)
            if "scores" in parts:
                out["scores"] = S
            if "weights" in parts:
                out["weights"] = A
            if "output" in parts:
                out["output"] = A @ V
            if "masked" in parts:
                n, m = S.shape
                future = np.arange(m)[None, :] > np.arange(n)[:, None]
                A_m = _stable_softmax(np.where(future, -np.inf, S))
                if not np.allclose(A_m.sum(axis=1), 1.0) or np.any(A_m[future] != 0):
                    raise CheckError(f"attention: masked weights {A_m.tolist()} are not a causal distribution")
                out.update(masked_weights=A_m, masked_output=A_m @ V)
        if any(p in parts for p in COUNT_PARTS):
            out.update(_counted(given))
        return out


def _stable_softmax(S: np.ndarray) -> np.ndarray:
    """Row-wise softmax after subtracting each row's largest finite score (e^{-inf} = 0)."""
    top = np.max(np.where(np.isfinite(S), S, -np.inf), axis=1, keepdims=True)
    e = np.exp(S - top)
    return e / e.sum(axis=1, keepdims=True)


def _counted(given: AttentionGiven) -> dict[str, int]:
    """The parameters listed tensor by tensor, head by head (W^Q_i, W^K_i, W^V_i and their biases
    for each head, then W^O and b^O), and counted by their shapes - not the closed formulas
    solve() uses."""
    d, h, T, f = given.d_model, given.heads, given.seq_len, given.d_ff
    if d % h:
        raise CheckError(f"attention: {h} heads do not divide d_model = {d}")
    d_head = d // h
    weights: list[tuple[int, ...]] = []
    biases: list[tuple[int, ...]] = []
    for _ in range(h):
        weights += [(d, d_head)] * 3
        biases += [(d_head,)] * 3
    weights.append((h * d_head, d))
    biases.append((d,))

    def count(shapes: list[tuple[int, ...]]) -> int:
        return sum(int(np.prod(s, dtype=object)) for s in shapes)

    nobias = count(weights)
    with_bias = nobias + count(biases)
    ffn = count([(d, f), (f,), (f, d), (d,)])
    ln = count([(d,), (d,)] * 2)  # γ and β of each of the two LayerNorms
    out: dict[str, int] = {}
    if "heads" in given.parts:
        out.update(head_dim=d_head, mha_nobias=nobias, mha_bias=with_bias,
                   attn_weights=count([(T, T)] * h))
    if "block" in given.parts:
        out.update(ffn=ffn, layernorm=ln, block=with_bias + ffn + ln)
    return out
