"""Which activation learned which curve (seed 003 Ex3 e).

A 1-D data set (points from a non-linear function plus noise) and three networks with one hidden
layer of ``hidden`` units that differ only in the activation: sigmoid, ReLU, identity. The
networks are fitted here, deterministically: the hidden layer keeps its random initialisation
(slopes and breakpoints spread over the data range) and the output layer is fitted by
L2-regularized least squares - the exact minimiser of the training loss over the output
weights. The curves they learn are plotted as A, B, C in a shuffled order; the student matches
them. What the curves must show (else the draw is redrawn): the identity network is a straight
line, the ReLU one bends visibly at a few kinks, the sigmoid one is smooth and non-linear.

The key holds one choice per network (sigmoid, ReLU, identity, the order the problem names
them): which curve it learned, among the panels' letters (``PANELS``, the one tuple the figure's
titles, the problem text and the answers' options come from).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from worksheetgen.answers import ChoiceAnswer
from worksheetgen.errors import WorksheetError
from worksheetgen.family import Constraint, Family, Record, Solved
from worksheetgen.figures import Figure, Panel, plot_grid
from worksheetgen.params import Choice, Int, ListOf, Param

NETS = ("sigmoid", "relu", "identity")
NET_TEXT = {"sigmoid": "sigmoid", "relu": "ReLU", "identity": "identity"}
TARGETS = ("sine", "bump", "cubic", "wave", "valley")
PANELS = ("A", "B", "C")  # the curves' titles in printed order: the options of every answer
X_RANGE = 3.0  # inputs in [-3, 3]
GRID = 241  # points where the learned curves are drawn (and inspected)
RIDGE = 1e-3
MAX_SEED = 2**31 - 1


def answer_key(name: str) -> str:
    """The key of the answer 'which curve did the network with this activation learn'."""
    return f"{name}_curve"


def target_function(kind: str, x: np.ndarray) -> np.ndarray:
    if kind == "sine":
        return np.sin(1.3 * x)
    if kind == "bump":
        return 2.0 * np.exp(-x * x) - 0.5
    if kind == "cubic":
        return 0.12 * x**3 - 0.6 * x
    if kind == "wave":
        return 0.5 * x + np.sin(2.0 * x)
    if kind == "valley":
        return np.abs(x) - 1.0 + 0.3 * np.sin(3 * x)
    raise ValueError(kind)


def make_data(kind: str, points: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-X_RANGE, X_RANGE, size=points))
    clean = target_function(kind, x)
    y = clean + 0.12 * (clean.max() - clean.min()) * rng.normal(size=points)
    return x, y


def hidden_layer(hidden: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Slopes w and biases b of the hidden units, z = w x + b: breakpoints -b/w spread over the
    data range, slopes of either sign between 0.8 and 2.5 (so sigmoids bend gently)."""
    rng = np.random.default_rng([seed, 1])
    slopes = rng.uniform(0.8, 2.5, size=hidden) * rng.choice([-1.0, 1.0], size=hidden)
    breaks = rng.uniform(-0.9 * X_RANGE, 0.9 * X_RANGE, size=hidden)
    return slopes, -slopes * breaks


def _act(name: str, z: np.ndarray) -> np.ndarray:
    if name == "sigmoid":
        return 0.5 * (1.0 + np.tanh(0.5 * z))
    if name == "relu":
        return np.maximum(z, 0.0)
    return z


def fit(name: str, x: np.ndarray, y: np.ndarray, slopes: np.ndarray, biases: np.ndarray
        ) -> tuple[np.ndarray, float]:
    """Output weights and bias minimising mean squared error + RIDGE * |v|^2 (bias unpenalised)."""
    h = _act(name, np.outer(x, slopes) + biases)
    mean_h, mean_y = h.mean(axis=0), y.mean()
    hc, yc = h - mean_h, y - mean_y
    n = len(x)
    gram = hc.T @ hc / n + RIDGE * np.eye(h.shape[1])
    v = np.linalg.solve(gram, hc.T @ yc / n)
    return v, float(mean_y - mean_h @ v)


def learned_curve(name: str, grid: np.ndarray, slopes: np.ndarray, biases: np.ndarray,
                  v: np.ndarray, c: float) -> np.ndarray:
    return _act(name, np.outer(grid, slopes) + biases) @ v + c


def shape_traits(grid: np.ndarray, curve: np.ndarray) -> dict[str, float]:
    """Second differences measure bending: zero on straight pieces, a spike at a kink, a smooth
    bump under a smooth bend. Values are relative to the curve's height range."""
    height = max(float(np.ptp(curve)), 1e-12)
    second = np.abs(np.diff(curve, 2)) / height
    third = np.abs(np.diff(curve, 3)) / height
    line = np.polyval(np.polyfit(grid, curve, 1), grid)
    return {
        "height": float(np.ptp(curve)),
        "bend": float(second.max()),  # sharpest bend (a kink stands out)
        "bent_fraction": float(np.mean(second > 1e-9)),  # share of the grid that bends
        "jerk": float(third.max() / max(second.max(), 1e-15)),  # kinks: ~1, smooth: small
        "nonlinearity": float(np.abs(curve - line).max() / height),
    }


# How sharply a curve turns, as the student sees it: on a plot area of PLOT_ASPECT (width over
# height, activation_figure's 4 cm by 3 cm) whose y-axis spans the data and every curve plus 8 %
# on either side, the largest change of direction over two grid steps, in degrees. A ReLU fit
# turns by 40° or more at its sharpest kink at the default sizes (by 20° with 50 hidden units and
# 400 points, where it is hard to tell from the sigmoid's curve); a sigmoid fit by 15° at most.
PLOT_ASPECT = 4.0 / 3.0
KINK_DEGREES = 30.0  # a ReLU curve's sharpest kink turns at least this much
SMOOTH_DEGREES = 20.0  # a sigmoid curve never turns this much over two grid steps


def plot_y_range(y: np.ndarray, curves: list[np.ndarray]) -> float:
    lo = float(min(y.min(), *(c.min() for c in curves)))
    hi = float(max(y.max(), *(c.max() for c in curves)))
    return 1.16 * (hi - lo)


def sharpest_turn(grid: np.ndarray, curve: np.ndarray, y_range: float) -> float:
    """The largest change of direction of the plotted curve over two grid steps, in degrees."""
    slope = np.diff(curve) / np.diff(grid)  # data units
    shown = slope * (2 * X_RANGE / PLOT_ASPECT) / max(y_range, 1e-12)  # plot units, height 1
    angle = np.degrees(np.arctan(shown))
    return float(np.max(np.abs(angle[2:] - angle[:-2])))


@dataclass(frozen=True)
class ActivationMatchGiven(Record):
    target: str
    order: list[str]  # the activation of curves A, B, C
    hidden: int
    points: int
    data_seed: int


@dataclass(frozen=True)
class ActivationMatchData(Record):
    options: tuple[str, ...]  # the curves' letters, as titled and printed
    letter_of: dict[str, str]  # activation -> its curve (from the answers)
    traits: dict[str, dict[str, float]]  # shape_traits() of each activation's curve
    curves: dict[str, Any]  # activation -> its learned curve on ``grid``
    grid: Any
    turns: dict[str, float]  # activation -> sharpest_turn() of its curve on the plot, in degrees


_SHAPE_READS = ("target", "data_seed", "hidden", "points")


class ActivationMatch(Family):
    name = "activation_match"
    title = "Which activation learned which function?"
    summary = ("A 1-D data set and the curves learned by three one-hidden-layer networks with "
               "sigmoid, ReLU and identity activations (fitted here), shuffled as A, B, C.")
    Given = ActivationMatchGiven
    Data = ActivationMatchData
    constraints = (
        Constraint("both non-linear networks learn visibly curved functions", _SHAPE_READS,
                   lambda g, s: min(s.data.traits["relu"]["nonlinearity"],
                                    s.data.traits["sigmoid"]["nonlinearity"]) >= 0.15),
        Constraint("the ReLU curve shows a visible kink", _SHAPE_READS,
                   lambda g, s: s.data.traits["relu"]["jerk"] >= 0.5),
        Constraint("the sigmoid curve is smooth", _SHAPE_READS,
                   lambda g, s: s.data.traits["sigmoid"]["jerk"] <= 0.2),
        Constraint("the ReLU curve's kinks are visible on the plot", _SHAPE_READS,
                   lambda g, s: s.data.turns["relu"] >= KINK_DEGREES),
        Constraint("the sigmoid curve shows no kink on the plot", _SHAPE_READS,
                   lambda g, s: s.data.turns["sigmoid"] < SMOOTH_DEGREES),
    )

    def quality(self, given: "ActivationMatchGiven", solved: Solved) -> dict[str, bool]:
        t, turns = solved.data.traits, solved.data.turns
        return {
            "ReLU kinks too slight to see": turns["relu"] < KINK_DEGREES,
            "sigmoid curve kinked": turns["sigmoid"] >= SMOOTH_DEGREES,
            "a non-linear fit nearly straight":
                min(t["relu"]["nonlinearity"], t["sigmoid"]["nonlinearity"]) < 0.15,
        }
    params = (
        Param("target", Choice(TARGETS), None, "the non-linear function behind the data"),
        Param("order", ListOf(Choice(NETS), min_length=3, max_length=3), None,
              "activation of curves A, B, C (a permutation of sigmoid, relu, identity)"),
        Param("hidden", Int(5, 50), 20, "hidden units of each network"),
        Param("points", Int(20, 400), 100, "training points"),
        Param("data_seed", Int(0, MAX_SEED), None, "seed of the data and the initial hidden layer"),
    )

    def validate(self, options: dict[str, Any]) -> None:
        order = options["order"]
        if order is not None and sorted(order) != sorted(NETS):
            raise WorksheetError("order must name each activation once", field="order",
                                 allowed="a permutation of sigmoid, relu, identity")

    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> ActivationMatchGiven:
        target = options["target"] or TARGETS[int(rng.integers(0, len(TARGETS)))]
        order = options["order"] or [NETS[int(k)] for k in rng.permutation(3)]
        seed = options["data_seed"]
        if seed is None:
            seed = int(rng.integers(0, MAX_SEED))
        return ActivationMatchGiven(target, list(order), options["hidden"], options["points"], seed)

    def solve(self, given: ActivationMatchGiven) -> Solved:
        x, y = make_data(given.target, given.points, given.data_seed)
        slopes, biases = hidden_layer(given.hidden, given.data_seed)
        grid = np.linspace(-X_RANGE, X_RANGE, GRID)
        curves, traits = {}, {}
        for name in NETS:
            v, c = fit(name, x, y, slopes, biases)
            curves[name] = learned_curve(name, grid, slopes, biases, v, c)
            traits[name] = shape_traits(grid, curves[name])
        figure = activation_figure(x, y, grid, [curves[n] for n in given.order], PANELS)
        y_range = plot_y_range(y, list(curves.values()))
        turns = {name: sharpest_turn(grid, curves[name], y_range) for name in NETS}
        answers = [ChoiceAnswer(answer_key(name), rf"\text{{{NET_TEXT[name]} network}}",
                                options=PANELS, correct=given.order.index(name))
                   for name in NETS]
        data = ActivationMatchData(options=PANELS,
                                   letter_of={name: a.value for name, a in zip(NETS, answers)},
                                   traits=traits, curves=curves, grid=grid, turns=turns)
        return Solved(answers, data, [figure])

    def check(self, given: ActivationMatchGiven) -> dict[str, Any]:
        # Fit again through lstsq on the raw design matrix (bias as a column, ridge rows
        # appended), then name each drawn curve by its shape alone: straight → identity,
        # bends in sharp kinks → ReLU, bends smoothly → sigmoid; each shape's answer is the
        # letter of the panel that shows it.
        x, y = make_data(given.target, given.points, given.data_seed)
        slopes, biases = hidden_layer(given.hidden, given.data_seed)
        grid = np.linspace(-X_RANGE, X_RANGE, GRID)
        out = {}
        for letter, name in zip(PANELS, given.order):
            z = np.outer(x, slopes) + biases
            h = {"sigmoid": 1 / (1 + np.exp(-z)), "relu": np.where(z > 0, z, 0.0), "identity": z}[name]
            design = np.hstack([h, np.ones((len(x), 1))])
            k = h.shape[1]
            # mean squared error + RIDGE |v|^2 ⇔ least squares with rows sqrt(n RIDGE) e_j
            reg = np.hstack([np.sqrt(len(x) * RIDGE) * np.eye(k), np.zeros((k, 1))])
            coef = np.linalg.lstsq(np.vstack([design, reg]), np.concatenate([y, np.zeros(k)]),
                                   rcond=None)[0]
            zg = np.outer(grid, slopes) + biases
            hg = {"sigmoid": 1 / (1 + np.exp(-zg)), "relu": np.where(zg > 0, zg, 0.0), "identity": zg}[name]
            curve = np.hstack([hg, np.ones((GRID, 1))]) @ coef
            out[answer_key(classify_shape(curve))] = letter
        return out


def classify_shape(curve: np.ndarray) -> str:
    """identity / relu / sigmoid from the drawn values alone."""
    height = max(float(np.ptp(curve)), 1e-12)
    second = np.abs(np.diff(curve, 2)) / height
    if second.max() < 1e-8:
        return "identity"
    # A ReLU curve is straight between kinks: most second differences vanish.
    return "relu" if np.mean(second < 1e-9) > 0.5 else "sigmoid"


def activation_figure(x: np.ndarray, y: np.ndarray, grid: np.ndarray, curves: list[np.ndarray],
                      titles: tuple[str, ...] | list[str], name: str = "networks") -> Figure:
    """One panel per learned curve, each over the same data points and axes."""
    lo = float(min(y.min(), *(c.min() for c in curves)))
    hi = float(max(y.max(), *(c.max() for c in curves)))
    pad = 0.08 * (hi - lo)
    points = list(zip(x.tolist(), y.tolist()))
    panels = [Panel([("", grid, curve, "solid")], title=title, xlabel="x", ylabel="y",
                    xlim=(-X_RANGE, X_RANGE), ylim=(lo - pad, hi + pad), points=points,
                    legend="none")
              for title, curve in zip(titles, curves)]
    return plot_grid(panels, columns=3, name=name, width=4.0, height=3.0)
