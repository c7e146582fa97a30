"""Backpropagation through one small convolution layer (a cross-correlation, as in deep learning):
the forward pass, then ∂L/∂K, ∂L/∂b and ∂L/∂X written as correlations.

With δ = ∂L/∂Y (from L = ½ Σ (Y - T)², so δ = Y - T, or handed down from the layers above),
stride s and zero padding p:

    ∂L/∂K_c[u, v] = Σ_{i,j} X̃_c[s i + u, s j + v] δ[i, j]      (X̃_c correlated with δ, δ's
                                                                  entries s apart)
    ∂L/∂b         = Σ_{i,j} δ[i, j]
    ∂L/∂X̃_c      = δ (spread by s, padded by k - 1) correlated with K_c rotated by 180°
                    (the "full convolution"), and ∂L/∂X_c drops the p-wide border.

The exact solution evaluates these correlations (gathering, entry by entry, in SymPy rationals).
The check differentiates the forward sum directly instead: it walks every product
K_c[u, v] · X̃_c[s i + u, s j + v] of every output and scatters δ[i, j] times the other factor
into the gradient of each factor (NumPy floats), which shares neither the correlation form nor the
180° rotation. The tests add central finite differences of the loss.

The layer itself (declarations, size choice, checks, the worked correlation and the NumPy forward
pass) is shared with ``convolution`` in :mod:`worksheetgen.convolutions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from worksheetgen import convolutions as conv
from worksheetgen import mathfmt
from worksheetgen.answers import Answer, MatrixAnswer, NumberAnswer
from worksheetgen.convolutions import Channels, SumEntry, correlate, out_size
from worksheetgen.errors import WorksheetError
from worksheetgen.family import Constraint, Family, Record, Solved
from worksheetgen.params import Choice, Int, ListOf, Matrix, Number, Param
from worksheetgen.sampling import grid_param, grid_values

PARTS = ("forward", "kernel", "bias", "input")
LOSSES = ("mse", "upstream")
# Limits, as the help texts state them; they bound the worked solution (at most 64 outputs and
# 100 input entries per channel, each a sum of at most 25 or 64 products).
MAX_SIDE = 10
MAX_CHANNELS = 3
MAX_KERNEL = 4
MAX_STRIDE = 3
MAX_PADDING = 2
MAX_OUTPUT = 64
VALUE_LIMIT = 100
# Drawn sizes, with weights (one channel, stride 1 and no padding most often).
DRAWN = {
    "height": {3: 1, 4: 2, 5: 1},
    "width": {3: 1, 4: 2, 5: 1},
    "channels": {1: 3, 2: 1},
    "kernel_size": {2: 2, 3: 1},
    "stride": {1: 3, 2: 1},
    "padding": {0: 2, 1: 1},
}
SIZE_KEYS = tuple(DRAWN)
# A drawn setting asks at most this many products in each of the forward pass and ∂L/∂K.
MAX_DRAWN_WORK = 40


def _label(name: str, c: int, channels: int) -> str:
    return name if channels == 1 else f"{name}_{c}"


def rot180(m: sp.MatrixBase) -> sp.ImmutableMatrix:
    return sp.ImmutableMatrix(m.rows, m.cols, lambda i, j: m[m.rows - 1 - i, m.cols - 1 - j])


def spread(m: sp.MatrixBase, s: int) -> sp.ImmutableMatrix:
    """m with s - 1 zeros between neighbouring entries (the stride undone)."""
    out = sp.zeros(s * (m.rows - 1) + 1, s * (m.cols - 1) + 1)
    for i in range(m.rows):
        for j in range(m.cols):
            out[s * i, s * j] = m[i, j]
    return sp.ImmutableMatrix(out)


@dataclass(frozen=True)
class ConvBackpropGiven(Record):
    parts: tuple[str, ...]
    loss: str
    X: tuple[sp.ImmutableMatrix, ...]
    K: tuple[sp.ImmutableMatrix, ...]
    bias: sp.Rational
    stride: int
    padding: int
    T: sp.ImmutableMatrix | None  # target (loss mse)
    G: sp.ImmutableMatrix | None  # ∂L/∂Y handed down (loss upstream)


@dataclass(frozen=True)
class GradChannel(Record):
    """One input channel's gradients: ∂L/∂K_c and ∂L/∂X_c with their worked entries."""

    c: int
    name_K: str  # "K" or "K_1"
    name_X: str
    rot: sp.ImmutableMatrix  # K_c rotated by 180°
    dK: sp.ImmutableMatrix
    dK_entries: tuple[SumEntry, ...]
    dX: sp.ImmutableMatrix
    dX_entries: tuple[SumEntry, ...]  # indexed like X (the padding border dropped)


@dataclass(frozen=True)
class ConvBackpropData(Record):
    parts: tuple[str, ...]
    mse: bool
    C: int
    H: int
    W: int
    k: int
    H_out: int
    W_out: int
    padded: tuple[sp.ImmutableMatrix, ...]
    entries: tuple[SumEntry, ...]
    Y: sp.ImmutableMatrix
    loss: sp.Rational | None
    delta: sp.ImmutableMatrix
    spread: sp.ImmutableMatrix  # δ with s - 1 zeros between entries
    full: sp.ImmutableMatrix  # spread δ padded for the full convolution
    pad_lo: int  # k - 1
    extra_h: int  # rows of X̃ that no window reads (their gradient is 0)
    extra_w: int
    db: sp.Rational
    channels: tuple[GradChannel, ...]


VALUE_READS = ("input", "kernel", "bias", "target", "upstream", *SIZE_KEYS)


def _nonzero(m: Any) -> int:
    return sum(1 for v in m if v != 0)


class ConvBackprop(Family):
    name = "conv_backprop"
    title = "Backpropagation through a convolution"
    summary = ("Forward pass of one small convolution, then ∂L/∂K, ∂L/∂b and ∂L/∂X as correlations "
               "(∂L/∂X as the full convolution with the kernel rotated by 180°).")
    Given = ConvBackpropGiven
    Data = ConvBackpropData
    params = (
        Param("parts", ListOf(Choice(PARTS), min_length=1, max_length=len(PARTS)), list(PARTS),
              "which parts to ask: forward (Y, and with loss mse L and δ = ∂L/∂Y), kernel (∂L/∂K), "
              "bias (∂L/∂b), input (∂L/∂X)"),
        Param("loss", Choice(LOSSES), "mse",
              "mse: L = ½ Σ (Y − T)² with a target T (needs the forward part); upstream: ∂L/∂Y is given"),
        conv.input_param(MAX_SIDE, MAX_CHANNELS, VALUE_LIMIT),
        Param("kernel", Channels(), None,
              f"kernel K: one square k × k matrix per input channel, k at most {MAX_KERNEL}, entries "
              f"from {-VALUE_LIMIT} to {VALUE_LIMIT}"),
        Param("bias", Number(-VALUE_LIMIT, VALUE_LIMIT), None, "bias b added to every output entry"),
        Param("target", Matrix(), None,
              f"target T of the output (loss mse), the output's shape, entries from {-VALUE_LIMIT} to "
              f"{VALUE_LIMIT} (drawn as Y − δ with δ on delta_grid)"),
        Param("upstream", Matrix(), None,
              f"∂L/∂Y (loss upstream), the output's shape, entries from {-VALUE_LIMIT} to {VALUE_LIMIT}"),
        *conv.size_params(DRAWN, MAX_SIDE, MAX_CHANNELS, MAX_KERNEL, MAX_STRIDE),
        Param("padding", Int(0, MAX_PADDING), None,
              f"zero padding p, 0 to {MAX_PADDING} ({conv.drawn_text(DRAWN['padding'])})"),
        *conv.value_grids((-2, 2, 1), (-1, 2, 1), (-1, 1, 1), VALUE_LIMIT),
        grid_param("delta_grid", (-2, 2, 1),
                   f"[lo, hi, step] for drawn entries of δ = ∂L/∂Y (the target is Y − δ), within ±{VALUE_LIMIT}"),
    )
    constraints = (
        Constraint("δ = ∂L/∂Y with at least two non-zero entries", VALUE_READS,
                   lambda g, s: _nonzero(s.data.delta) >= 2),
        Constraint("∂L/∂K not all zero", VALUE_READS,
                   lambda g, s: "kernel" not in g.parts or all(_nonzero(ch.dK) > 0 for ch in s.data.channels)),
        Constraint("∂L/∂X not all zero", VALUE_READS,
                   lambda g, s: "input" not in g.parts or all(_nonzero(ch.dX) > 0 for ch in s.data.channels)),
        Constraint("∂L/∂b not zero", VALUE_READS, lambda g, s: "bias" not in g.parts or s.data.db != 0),
        Constraint("an output with at least two different values", VALUE_READS,
                   lambda g, s: "forward" not in g.parts or len(set(s.data.Y)) > 1),
    )

    def quality(self, given: Any, solved: Solved) -> dict[str, bool]:
        d = solved.data
        out = {"δ with fewer than two non-zero entries": _nonzero(d.delta) < 2}
        if "forward" in given.parts:
            out["constant output"] = len(set(d.Y)) == 1
        if "kernel" in given.parts:
            out["∂L/∂K all 0"] = any(_nonzero(ch.dK) == 0 for ch in d.channels)
        if "bias" in given.parts:
            out["∂L/∂b = 0"] = d.db == 0
        if "input" in given.parts:
            out["∂L/∂X all 0"] = any(_nonzero(ch.dX) == 0 for ch in d.channels)
        return out

    def drawn(self, options: dict[str, Any]) -> frozenset[str]:
        """Sizes implied by a pinned input or kernel are not drawn."""
        implied = conv.implied_sizes(options)
        implied.add("upstream" if options["loss"] == "mse" else "target")  # unused: never drawn
        return super().drawn(options) - implied

    # -- sizes -----------------------------------------------------------------------------------
    def _fixed_sizes(self, options: dict[str, Any]) -> dict[str, int]:
        def conflict(source: str, key: str, n: int, given: int) -> WorksheetError:
            return WorksheetError(f"the {source} implies {key} = {n}, but it is {given}", field=source,
                                  allowed=f"{key} = {given}, matching the other values")
        return conv.fixed_sizes(options, SIZE_KEYS, conflict)

    def _size_problem(self, sizes: dict[str, int], options: dict[str, Any]) -> str | None:
        h, w, k, s, p = (sizes[key] for key in ("height", "width", "kernel_size", "stride", "padding"))
        ho, wo = out_size(h, k, s, p), out_size(w, k, s, p)
        if ho < 1 or wo < 1:
            return f"the {k} × {k} kernel does not fit the padded {h + 2 * p} × {w + 2 * p} input"
        if ho * wo > MAX_OUTPUT:
            return f"the output would have {ho} × {wo} = {ho * wo} entries, too many to work by hand"
        for key in ("target", "upstream"):
            m = options[key]
            if m is not None and m.shape != (ho, wo):
                return f"{key} is {m.rows} × {m.cols} but the output is {ho} × {wo}"
        return None

    def _combos(self, options: dict[str, Any]) -> tuple[list[dict[str, int]], list[float]]:
        """Every admissible size setting with its weight; the hand-sized ones (outputs 2 to 3 per
        side, windows that reach the last row and column) when any exist."""
        def friendly(sizes: dict[str, int]) -> bool:
            h, w, c, k, s, p = (sizes[key] for key in SIZE_KEYS)
            ho, wo = out_size(h, k, s, p), out_size(w, k, s, p)
            work = ho * wo * c * k * k
            return (2 <= ho <= 3 and 2 <= wo <= 3 and work <= MAX_DRAWN_WORK and p < k
                    and (h + 2 * p - k) % s == 0 and (w + 2 * p - k) % s == 0 and s < k + 1)

        return conv.size_combos(self._fixed_sizes(options), DRAWN, SIZE_KEYS,
                                lambda sizes: self._size_problem(sizes, options), friendly)

    # -- validation ------------------------------------------------------------------------------
    def validate(self, options: dict[str, Any]) -> None:
        parts = options["parts"]
        if len(set(parts)) != len(parts):
            raise WorksheetError("a part is listed twice", field="parts", allowed=", ".join(PARTS))
        mse = options["loss"] == "mse"
        if mse and "forward" not in parts:
            raise WorksheetError("with loss mse, δ = Y − T needs the forward pass", field="parts",
                                 allowed="forward among the parts, or loss = \"upstream\"")
        unused = "upstream" if mse else "target"
        if options[unused] is not None:
            raise WorksheetError(f"{unused} is not used with loss {options['loss']!r}", field=unused,
                                 allowed=f"leave it out, or set loss = {'upstream' if mse else 'mse'!r}")
        conv.check_grids(options, ("input_grid", "kernel_grid", "bias_grid", "delta_grid"), VALUE_LIMIT)
        for key, side in (("input", MAX_SIDE), ("kernel", MAX_KERNEL)):
            conv.check_channel_shapes(options, key, MAX_CHANNELS, side, "sides")
        for key in ("input", "kernel", "target", "upstream"):
            mats = options[key]
            if mats is None:
                continue
            bad = conv.out_of_range(mats if isinstance(mats, tuple) else (mats,), VALUE_LIMIT)
            if bad:
                raise WorksheetError(f"an entry is {mathfmt.num(bad[1])}", field=key,
                                     allowed=f"entries from {-VALUE_LIMIT} to {VALUE_LIMIT}")
        conv.check_channels_match(options)
        combos, _ = self._combos(options)
        if not combos:
            problem = conv.first_problem(self._fixed_sizes(options), DRAWN, SIZE_KEYS,
                                         lambda sizes: self._size_problem(sizes, options))
            shape_of = next((k for k in ("target", "upstream") if k in problem.split(" ")[0]), None)
            pinned = [k for k in ("kernel", "input", "kernel_size", "padding", "stride", "height", "width")
                      if options[k] is not None]
            raise WorksheetError(problem, field=shape_of or (pinned[0] if pinned else "kernel_size"),
                                 allowed=f"a kernel that fits the padded input, at most {MAX_OUTPUT} output "
                                 "entries, target/upstream of the output's shape")

    # -- sampling --------------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> ConvBackpropGiven:
        parts = tuple(p for p in PARTS if p in options["parts"])
        sizes = conv.pick_sizes(rng, *self._combos(options))
        h, w, c, k, s, p = (sizes[key] for key in SIZE_KEYS)
        X = options["input"] or conv.draw_channels(rng, options["input_grid"], c, h, w)
        K = options["kernel"] or conv.draw_channels(rng, options["kernel_grid"], c, k, k)
        bias = options["bias"] if options["bias"] is not None else grid_values(rng, *options["bias_grid"])
        ho, wo = out_size(h, k, s, p), out_size(w, k, s, p)
        T = G = None
        if options["loss"] == "mse":
            T = options["target"]
            if T is None:
                Y = conv.forward(X, K, bias, s, p).Y
                T = Y - sp.Matrix(grid_values(rng, *options["delta_grid"], size=(ho, wo)))
            T = sp.ImmutableMatrix(T)
        else:
            G = options["upstream"]
            if G is None:
                G = grid_values(rng, *options["delta_grid"], size=(ho, wo))
            G = sp.ImmutableMatrix(G)
        return ConvBackpropGiven(parts=parts, loss=options["loss"], X=X, K=K, bias=bias, stride=s,
                                 padding=p, T=T, G=G)

    # -- solving ---------------------------------------------------------------------------------
    def solve(self, given: ConvBackpropGiven) -> Solved:
        g = given
        s, p = g.stride, g.padding
        C = len(g.X)
        f = conv.forward(g.X, g.K, g.bias, s, p)
        H, W, k, ho, wo, padded, Y = f.H, f.W, f.k, f.H_out, f.W_out, f.padded, f.Y
        mse = g.loss == "mse"
        if mse:
            delta = sp.ImmutableMatrix(Y - g.T)
            loss = sum((v**2 for v in delta), sp.Integer(0)) / 2
        else:
            delta, loss = g.G, None
        # ∂L/∂X̃ as a full convolution: δ spread by the stride, padded by k - 1 (plus the rows and
        # columns of X̃ that no window reaches, whose gradient is 0), correlated with rot180(K).
        extra_h = (H + 2 * p - k) % s
        extra_w = (W + 2 * p - k) % s
        spread_delta = spread(delta, s)
        full = sp.zeros(spread_delta.rows + 2 * (k - 1) + extra_h, spread_delta.cols + 2 * (k - 1) + extra_w)
        full[k - 1:k - 1 + spread_delta.rows, k - 1:k - 1 + spread_delta.cols] = spread_delta
        full = sp.ImmutableMatrix(full)
        channels = []
        for c in range(C):
            # ∂L/∂K_c[u, v] = Σ_ij X̃_c[s i + u, s j + v] δ[i, j]: X̃_c correlated with δ at dilation s.
            dK, dK_entries = correlate([padded[c]], [delta], sp.Integer(0), 1, s, k, k)
            rot = rot180(g.K[c])
            dXp, dXp_entries = correlate([full], [rot], sp.Integer(0), 1, 1, H + 2 * p, W + 2 * p)
            dX = sp.ImmutableMatrix(dXp[p:p + H, p:p + W])
            inner = tuple(e.replace(i=e.i - p, j=e.j - p) for e in dXp_entries
                          if p <= e.i < p + H and p <= e.j < p + W)
            channels.append(GradChannel(c=c + 1, name_K=_label("K", c + 1, C), name_X=_label("X", c + 1, C),
                                        rot=rot, dK=dK, dK_entries=dK_entries, dX=dX, dX_entries=inner))
        db = sum(delta, sp.Integer(0))
        data = ConvBackpropData(
            parts=g.parts, mse=mse, C=C, H=H, W=W, k=k, H_out=ho, W_out=wo, padded=padded, entries=f.entries,
            Y=Y, loss=loss, delta=delta, spread=spread_delta, full=full, pad_lo=k - 1, extra_h=extra_h,
            extra_w=extra_w, db=db, channels=tuple(channels))
        answers: list[Answer] = []
        if "forward" in g.parts:
            answers.append(MatrixAnswer("Y", "Y", Y))
            if mse:
                answers += [NumberAnswer("L", "L", loss),
                            MatrixAnswer("dL_dY", r"\delta = \frac{\partial L}{\partial Y}", delta)]
        for ch in channels:
            suffix = "" if C == 1 else f"_{ch.c}"
            if "kernel" in g.parts:
                answers.append(MatrixAnswer(f"dL_dK{suffix}", rf"\frac{{\partial L}}{{\partial {ch.name_K}}}", ch.dK))
        if "bias" in g.parts:
            answers.append(NumberAnswer("dL_db", r"\frac{\partial L}{\partial b}", db))
        for ch in channels:
            suffix = "" if C == 1 else f"_{ch.c}"
            if "input" in g.parts:
                answers.append(MatrixAnswer(f"dL_dX{suffix}", rf"\frac{{\partial L}}{{\partial {ch.name_X}}}", ch.dX))
        return Solved(answers, data)

    # -- independent check -----------------------------------------------------------------------
    def check(self, given: ConvBackpropGiven) -> dict[str, Any]:
        g = given
        X, K = conv.as_array(g.X), conv.as_array(g.K)
        C, k = K.shape[0], K.shape[1]
        s, p = g.stride, g.padding
        Y = conv.float_forward(X, K, g.bias, s, p)
        Xp = np.pad(X, ((0, 0), (p, p), (p, p)))
        out: dict[str, Any] = {}
        if g.loss == "mse":
            T = np.array(g.T.tolist(), dtype=float)
            delta = Y - T
            loss = 0.5 * float(np.sum(delta**2))
        else:
            delta = np.array(g.G.tolist(), dtype=float)
        # Y[i, j] = b + Σ_cuv K[c, u, v] X̃[c, s i + u, s j + v]: each product passes δ[i, j] times
        # one factor to the gradient of the other.
        dK = np.zeros_like(K)
        dXp = np.zeros_like(Xp)
        for i in range(Y.shape[0]):
            for j in range(Y.shape[1]):
                for c in range(C):
                    for u in range(k):
                        for v in range(k):
                            dK[c, u, v] += delta[i, j] * Xp[c, s * i + u, s * j + v]
                            dXp[c, s * i + u, s * j + v] += delta[i, j] * K[c, u, v]
        dX = dXp[:, p:p + X.shape[1], p:p + X.shape[2]]
        if "forward" in g.parts:
            out["Y"] = Y
            if g.loss == "mse":
                out.update(L=loss, dL_dY=delta)
        for c in range(C):
            suffix = "" if C == 1 else f"_{c + 1}"
            if "kernel" in g.parts:
                out[f"dL_dK{suffix}"] = dK[c]
            if "input" in g.parts:
                out[f"dL_dX{suffix}"] = dX[c]
        if "bias" in g.parts:
            out["dL_db"] = float(delta.sum())
        return out
