import math
import re

import pytest
import sympy as sp

from helpers import instance, value
from quality_helpers import assert_gate_passes, raised
from worksheetgen import render
from worksheetgen.errors import CheckError, WorksheetError
from worksheetgen.figures import Arrow, Circle, Label
from worksheetgen.figures.graph import expression_graph, graph_layout
from worksheetgen.instance import cross_check
from worksheetgen.params import parse_params
from worksheetgen.registry import get_family

# CS231n, "Backpropagation, intuitions": f(x, y, z) = (x + y) z and a 2-d sigmoid neuron.
CS231N_SUM = dict(nodes=[["q", "add", "x", "y"], ["f", "mul", "q", "z"]], inputs=["x", "y", "z"], values=[-2, 5, -4])
CS231N_NEURON = dict(nodes=[["a", "mul", "w0", "x0"], ["b", "mul", "w1", "x1"], ["c", "add", "a", "b"],
                            ["d", "add", "c", "w2"], ["f", "sigmoid", "d"]],
                     inputs=["w0", "x0", "w1", "x1", "w2"], values=[2, -1, -3, -2, -3])

# -- an independent reference: the graph as Python floats, gradients by central differences ----

PY_OPS = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "max": lambda a, b: max(a, b), "relu": lambda a: max(0.0, a), "square": lambda a: a * a,
    "exp": math.exp, "sigmoid": lambda a: 1 / (1 + math.exp(-a)), "inv": lambda a: 1 / a,
}


def evaluate(given, nudge=None, h=0.0):
    env = {name: float(v) for name, v in zip(given.inputs, given.values)}
    if nudge in env:
        env[nudge] += h
    for name, op, *args in given.nodes:
        env[name] = PY_OPS[op](*[env[a] for a in args])
        if name == nudge:
            env[name] += h
    return env


def check_against_reference(ex):
    g = ex.given
    env = evaluate(g)
    out = g.nodes[-1][0]
    scale = max(1.0, *(abs(v) for v in env.values()))
    if "forward" in g.parts:
        for name, *_ in g.nodes:
            assert value(ex, f"value_{name.replace('_', '')}") == pytest.approx(env[name], rel=1e-12, abs=1e-12)
    if "backward" in g.parts:
        names = [*g.inputs, *[n[0] for n in g.nodes[:-1]]]
        for name in names:
            h = 1e-6 * max(1.0, abs(env[name]))
            fd = (evaluate(g, name, h)[out] - evaluate(g, name, -h)[out]) / (2 * h)
            # Central differences err by O(h²·f''') plus rounding ε·|f|/h: the tolerance follows
            # the size of the values (the conditioning of f), not a fixed number of digits.
            assert value(ex, f"grad_{name.replace('_', '')}") == pytest.approx(fd, rel=1e-5, abs=1e-8 * scale), name
    if "local" in g.parts:
        for name, op, *args in g.nodes:
            for j, a in enumerate(args):
                vals = [env[x] for x in args]
                h = 1e-6 * max(1.0, abs(vals[j]))
                up = [v + (h if i == j else 0) for i, v in enumerate(vals)]
                down = [v - (h if i == j else 0) for i, v in enumerate(vals)]
                fd = (PY_OPS[op](*up) - PY_OPS[op](*down)) / (2 * h)
                key = f"local_{name.replace('_', '')}_{a.replace('_', '')}"
                assert value(ex, key) == pytest.approx(fd, rel=1e-5, abs=1e-8 * scale), key


# -- published values -------------------------------------------------------------------------

def test_cs231n_sum_times():
    ex = instance("computation_graph", **CS231N_SUM)
    assert value(ex, "value_q") == 3 and value(ex, "value_f") == -12
    assert value(ex, "grad_q") == -4
    assert (value(ex, "grad_x"), value(ex, "grad_y"), value(ex, "grad_z")) == (-4, -4, 3)
    assert value(ex, "local_f_q") == -4 and value(ex, "local_f_z") == 3 and value(ex, "local_q_x") == 1


def test_cs231n_neuron():
    ex = instance("computation_graph", **CS231N_NEURON)
    # CS231n: f = 0.73, dx = [0.39, -0.59], dw = [-0.20, -0.39, 0.20] (rounded to 2 places).
    s = 1 / (1 + math.exp(-1))
    ds = s * (1 - s)
    assert value(ex, "value_f") == pytest.approx(s, rel=1e-14)
    assert ex.answers["value_f"].value == 1 / (1 + sp.exp(-1))
    assert [round(value(ex, f"grad_{k}"), 2) for k in ("x0", "x1")] == [0.39, -0.59]
    assert [round(value(ex, f"grad_{k}"), 2) for k in ("w0", "w1", "w2")] == [-0.20, -0.39, 0.20]
    assert value(ex, "grad_w1") == pytest.approx(-2 * ds, rel=1e-14)
    check_against_reference(ex)


def test_gradients_add_at_a_branch():
    # f = (x + y) * x: df/dx = (x + y) + x = 2x + y.
    ex = instance("computation_graph", nodes=[["q", "add", "x", "y"], ["f", "mul", "q", "x"]],
                  inputs=["x", "y"], values=[3, -1])
    assert value(ex, "grad_x") == 2 * 3 - 1 and value(ex, "grad_y") == 3
    assert ex.data.branches == ("x",)
    _, solution = render.render_exercise(ex, "markdown")
    assert r"\frac{\partial f}{\partial x} &= \frac{\partial f}{\partial q} \frac{\partial q}{\partial x} + " \
           r"\frac{\partial f}{\partial f} \frac{\partial f}{\partial x} = 3 \cdot 1 + 1 \cdot 2 = 5" in solution
    assert "add up" in solution


@pytest.mark.parametrize("op, x, value_, local", [
    ("relu", -2, 0, 0), ("relu", 0, 0, 0), ("relu", 1.5, 1.5, 1), ("square", -3, 9, -6),
    ("exp", 0, 1, 1), ("sigmoid", 0, 0.5, 0.25), ("inv", -2, -0.5, -0.25),
])
def test_every_unary_operation(op, x, value_, local):
    ex = instance("computation_graph", nodes=[["f", op, "x"]], inputs=["x"], values=[x])
    assert value(ex, "value_f") == value_ and value(ex, "local_f_x") == local and value(ex, "grad_x") == local


def test_max_tie_convention():
    ex = instance("computation_graph", nodes=[["f", "max", "x", "y"]], inputs=["x", "y"], values=[2, 2])
    assert (value(ex, "grad_x"), value(ex, "grad_y")) == (1, 0)  # the first argument takes it
    problem, solution = render.render_exercise(ex, "markdown")
    assert r"at a tie $\max$ passes the gradient to its first argument" in problem
    assert "a tie" in solution


def test_random_instances_against_a_reference():
    for seed in range(5):
        ex = instance("computation_graph", seed=seed)
        check_against_reference(ex)
        assert ex.data.branches and ex.data.clean_figure


@pytest.mark.slow
def test_random_instances_against_a_reference_many_seeds():
    for seed in range(200):
        check_against_reference(instance("computation_graph", seed=seed))
    every_op = ["add", "sub", "mul", "max", "relu", "square", "exp", "sigmoid", "inv"]
    for seed in range(60):
        check_against_reference(instance("computation_graph", seed=seed, ops=every_op, n_ops=6))


def test_drawn_graphs_follow_the_rules():
    for seed in range(8):
        ex = instance("computation_graph", seed=seed, ops=["add", "mul", "max", "relu", "sigmoid"])
        d = ex.data
        nodes = (*d.inputs, *d.ops)
        assert all(abs(float(n.value)) <= 100 and abs(float(n.grad)) <= 100 for n in nodes)
        assert sum(n.grad == 0 for n in d.inputs) <= 1
        assert all(v != 0 for v in ex.given.values)
        used = [a for n in ex.given.nodes for a in n[2:]]
        assert set(used) == set(ex.given.inputs) | {n[0] for n in ex.given.nodes[:-1]}  # every value used


def test_figures_show_the_graph():
    ex = instance("computation_graph", **CS231N_SUM)
    problem_fig, solved_fig = ex.solved.figures
    circles = [e for e in problem_fig.scene.elements if isinstance(e, Circle)]
    arrows = [e for e in problem_fig.scene.elements if isinstance(e, Arrow)]
    assert len(circles) == 2 and len(arrows) == 4 + 1  # four operand wires and the output
    texts = [e.tex for e in solved_fig.scene.elements if isinstance(e, Label)]
    for t in ("3", "[-4]", "-12", "[1]", "[3]", "-2", "5", "-4"):
        assert t in texts
    assert [e.tex for e in problem_fig.scene.elements if isinstance(e, Label) and e.anchor == "east"] == \
        ["x = -2", "y = 5", "z = -4"]
    assert problem_fig.svg == instance("computation_graph", **CS231N_SUM).solved.figures[0].svg  # byte-stable
    problem, solution = render.render_exercise(ex, "markdown")
    assert "computation_graph-graph.svg" in problem and "graph-solved.svg" in solution
    latex_problem, _ = render.render_exercise(ex, "latex")
    assert r"\begin{tikzpicture}" in latex_problem


def test_layout_keeps_wires_off_other_nodes():
    for seed in range(3):
        ex = instance("computation_graph", seed=seed, n_ops=6)
        g = ex.given
        index = {n: i for i, n in enumerate([*g.inputs, *[nd[0] for nd in g.nodes]])}
        operands = [[index[a] for a in nd[2:]] for nd in g.nodes]
        layout = graph_layout(len(g.inputs), operands)
        assert layout.clean and layout.collisions == 0
        xs = [p[0] for p in layout.positions]
        assert max(xs) - min(xs) <= 10.0 + 1e-9
        for fig in ex.solved.figures:
            xmin, _, xmax, _ = fig.scene.bounds
            assert xmax - xmin <= 14.0  # fits an answer on an A4 page
    with pytest.raises(ValueError):
        expression_graph(1, [[0]], ["+", "-"], ["x"])


def test_solution_text():
    ex = instance("computation_graph", **CS231N_SUM)
    problem, solution = render.render_exercise(ex, "markdown")
    assert r"q &= x + y" in problem and r"f &= q \cdot z" in problem
    assert r"q &= x + y = -2 + 5 = 3" in solution
    assert r"f &= q \cdot z = 3 \cdot (-4) = -12" in solution
    assert r"\frac{\partial f}{\partial q} &= z = -4" in solution
    for text in (problem, solution):
        assert not re.search(r"\bseed\b|\bfamily\b|worksheetgen", text, re.I)


@pytest.mark.parametrize("parts", [["forward"], ["local"], ["backward"], ["local", "backward"]])
def test_parts_are_selectable(parts):
    ex = instance("computation_graph", seed=2, parts=parts)
    prefixes = {"forward": "value_", "local": "local_", "backward": "grad_"}
    assert {next(p for p, pre in prefixes.items() if k.startswith(pre)) for k in ex.answers} == set(parts)
    for fmt in ("latex", "markdown"):
        problem, solution = render.render_exercise(ex, fmt)
        assert "None" not in problem + solution


def test_a_real_disagreement_stops_the_build():
    ex = instance("computation_graph", **CS231N_NEURON)
    cross_check(ex)
    ex.answers["grad_w1"].value = ex.answers["grad_w1"].value * (1 + sp.Rational(1, 10**7))
    with pytest.raises(CheckError, match="grad_w1"):
        cross_check(ex)


def test_cancelling_gradients_are_exactly_zero():
    # f = b·y - y·b with b = x⁴ = 10^4: every gradient is a sum of terms of size up to 7·10^4
    # that cancel exactly; the exact answer is 0 and the independent check agrees.
    ex = instance("computation_graph", nodes=[["a", "square", "x"], ["b", "square", "a"], ["s", "mul", "b", "y"],
                                              ["t", "mul", "y", "b"], ["f", "sub", "s", "t"]],
                  inputs=["x", "y"], values=[10, 7])
    assert value(ex, "value_b") == 10**4 and value(ex, "value_f") == 0
    assert all(ex.answers[f"grad_{k}"].value == 0 for k in ("x", "y", "a", "b"))
    cross_check(ex)
    check_against_reference(ex)


def test_records_are_declared():
    fam = get_family("computation_graph")
    ex = instance("computation_graph", seed=1)
    assert isinstance(ex.given, type(fam).Given) and isinstance(ex.data, type(fam).Data)
    assert not hasattr(fam, "rejection")


def test_limits_are_the_help_texts():
    help_ = {p.name: p.help for p in get_family("computation_graph").params}
    assert "from -10 to 10" in help_["values"] and "up to 8 operations" in help_["nodes"]
    instance("computation_graph", nodes=[["f", "mul", "x", "y"]], inputs=["x", "y"], values=[10, -10])
    with pytest.raises(WorksheetError) as err:
        instance("computation_graph", nodes=[["f", "mul", "x", "y"]], inputs=["x", "y"], values=[10.5, 1])
    assert err.value.field == "params.values" and "from -10 to 10" in err.value.allowed


def test_pinned_values_beyond_the_limit_are_refused_before_any_draw(monkeypatch):
    fam = get_family("computation_graph")
    monkeypatch.setattr(fam, "sample", lambda *a: pytest.fail("sample() ran"))
    chain = [["a", "square", "x"], ["b", "square", "a"], ["c", "square", "b"], ["f", "exp", "c"]]
    with pytest.raises(WorksheetError) as err:
        parse_params(fam.params, {"nodes": chain, "inputs": ["x"], "values": [10]}, validate=fam.validate)
    assert err.value.field == "params.values" and "nodes[3]" in err.value.problem


@pytest.mark.parametrize("params, field", [
    (dict(nodes=[["f", "pow", "x", "y"]], inputs=["x", "y"]), "nodes"),
    (dict(nodes=[["f", "add", "x", "q"]], inputs=["x", "y"]), "nodes"),
    (dict(nodes=[["f", "add", "x"]], inputs=["x"]), "nodes"),
    (dict(nodes=[["f", "mul", "x", "x"]], inputs=["x"]), "nodes"),
    (dict(nodes=[["q", "add", "x", "y"], ["f", "square", "x"]], inputs=["x", "y"]), "nodes"),
    (dict(nodes=[["x", "add", "x", "y"]], inputs=["x", "y"]), "nodes"),
    (dict(nodes=[["f", "add", "x", "y"]]), "inputs"),
    (dict(nodes=[["f", "inv", "x"]], inputs=["x"], values=[0]), "values"),
    (dict(inputs=["x1y"]), "inputs"),
    (dict(inputs=["x", "y"], values=[1, 2, 3]), "values"),
    (dict(n_inputs=4, n_ops=2), "n_ops"),
    (dict(n_inputs=3, n_ops=2, branch=True), "n_ops"),
    (dict(ops=["square", "exp"]), "ops"),
    (dict(ops=["square", "exp"], n_inputs=1), "ops"),  # branch = true needs a binary operation
    (dict(value_grid=[0, 0, 1]), "value_grid"),
    (dict(value_grid=[-20, 0, 1]), "value_grid"),
    (dict(parts=["forward", "forward"]), "parts"),
])
def test_bad_input_names_the_field(params, field):
    with pytest.raises(WorksheetError) as err:
        instance("computation_graph", **params)
    assert err.value.field == f"params.{field}"


def test_drawn_names_never_clash_with_inputs():
    ex = instance("computation_graph", seed=1, inputs=["u1", "f", "x"])
    keys = list(ex.answers)
    assert len(keys) == len(set(keys))
    names = [n[0] for n in ex.given.nodes]
    assert not set(names) & {"u1", "f", "x"} and names[-1] == "g"


def test_pinned_example_is_the_published_one():
    from pathlib import Path

    from worksheetgen.spec import load_spec

    spec = load_spec(Path(__file__).resolve().parent.parent / "examples" / "pinned_computation_graph.toml")
    first, second = (instance("computation_graph", **e.params) for e in spec.exercises)
    assert (value(first, "grad_x"), value(first, "grad_y"), value(first, "grad_z")) == (-4, -4, 3)
    assert [round(value(second, f"grad_{k}"), 2) for k in ("w0", "x0", "w1", "x1", "w2")] == \
        [-0.20, 0.39, -0.39, -0.59, 0.20]


# -- quality (issue 10): the draws teach -------------------------------------------------------

@pytest.mark.slow
def test_quality_gate_over_200_seeds():
    report = assert_gate_passes("computation_graph", 200)
    assert report.check("zero").count == 0 and report.draws < 2 * 200  # few rejections
    # Every operation's value and every ∂f/∂node is non-zero; a 0 local gradient only at a max.
    every_op = ["add", "sub", "mul", "max", "relu", "square", "exp", "sigmoid", "inv"]
    assert_gate_passes("computation_graph", 60, ops=every_op, n_ops=6)


@pytest.mark.parametrize("graph, values, flag", [
    ([["u", "sub", "x", "y"], ["f", "mul", "u", "z"]], [2, 2, 3], "operation value 0 or below 0.01"),
    ([["f", "max", "x", "y"]], [2, 1], "gradient 0 or below 0.01"),
    ([["f", "mul", "x", "y"]], [0, 3], "zero local gradient outside max and ReLU"),
    ([["f", "sigmoid", "x"]], [5], "saturated unit"),
    ([["f", "max", "x", "y"]], [1, 1], "tie at a max or ReLU at 0"),
    ([["u", "mul", "x", "y"], ["f", "mul", "u", "z"]], [5, 5, 5], "value beyond ±100"),
])
def test_each_quality_flag_fires(graph, values, flag):
    inputs = sorted({a for node in graph for a in node[2:]} - {node[0] for node in graph}, key="xyz".index)
    ex = instance("computation_graph", nodes=graph, inputs=inputs, values=values)
    assert flag in raised(ex)


def test_a_good_draw_raises_no_flag_and_max_may_pass_zero():
    ex = instance("computation_graph", **CS231N_SUM)
    assert not raised(ex)
    ex = instance("computation_graph", nodes=[["u", "max", "x", "y"], ["f", "mul", "u", "y"]],
                  inputs=["x", "y"], values=[2, 1])
    assert value(ex, "local_u_y") == 0 and not raised(ex)  # the max's routing is the lesson
    assert ex.family.zero_ok == frozenset({"local_*"})
