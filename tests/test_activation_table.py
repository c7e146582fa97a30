import math
import re

import numpy as np
import pytest

from helpers import central_difference, instance, value
from worksheetgen import render
from worksheetgen.answers import MultiChoiceAnswer
from worksheetgen.errors import WorksheetError
from worksheetgen.registry import get_family

# The test's own definitions (plain math), independent of worksheetgen.activations.
def _sigmoid(z):
    return 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))


def functions(leaky_alpha=0.01, elu_alpha=1.0):
    return {
        "relu": lambda z: max(0.0, z),
        "leaky_relu": lambda z: z if z > 0 else leaky_alpha * z,
        "sigmoid": _sigmoid,
        "tanh": math.tanh,
        "elu": lambda z: z if z >= 0 else elu_alpha * math.expm1(z),
        "silu": lambda z: z * _sigmoid(z),
        "gelu": lambda z: 0.5 * z * (1 + math.erf(z / math.sqrt(2))),
        "identity": lambda z: z,
    }


SEED_004 = dict(functions=["relu", "leaky_relu", "sigmoid", "tanh"], points=[-2, -1, 0, 1, 2],
                leaky_alpha=0.01)


def test_seed_004_ex4_table():
    ex = instance("activation_table", **SEED_004)
    assert value(ex, "values_relu") == [[0, 0, 0, 1, 2]]
    assert value(ex, "values_leaky_relu")[0] == pytest.approx([-0.02, -0.01, 0, 1, 2], abs=1e-15)
    sig = value(ex, "values_sigmoid")[0]
    assert sig == pytest.approx([0.119, 0.269, 0.5, 0.731, 0.881], abs=5e-4)
    assert sig[0] == pytest.approx(1 / (1 + math.e ** 2), rel=1e-14)
    tanh = value(ex, "values_tanh")[0]
    assert tanh == pytest.approx([math.tanh(z) for z in (-2, -1, 0, 1, 2)], rel=1e-14)
    # The seed prints tanh(±1) as ±0.761: truncated; tanh(1) = 0.76159 rounds to 0.762.
    assert round(tanh[3], 3) == 0.762
    assert tanh[4] == pytest.approx(0.964, abs=5e-4)


def test_seed_004_closed_forms_in_solution():
    _, solution = render.render_exercise(instance("activation_table", **SEED_004), "markdown")
    assert r"\sigma(-2) &= \frac{1}{e^{2} + 1} \approx 0.1192" in solution
    assert r"\operatorname{LeakyReLU}(-2) &= -0.02" in solution


# -- the choices: what the key stores is what the sheet prints ----------------------------------


def printed_choices(text, fmt):
    """The option lists of a rendered problem, in order, each as its texts in printed order."""
    if fmt == "markdown":
        blocks, current = [], []
        for line in text.split("\n"):
            m = re.match(r"- \*\*([A-Z])\.\*\* (.*)$", line)
            if m:
                assert m.group(1) == "ABCDEFGH"[len(current)]  # lettered in order
                current.append(m.group(2))
            elif current:
                blocks.append(current)
                current = []
        return blocks + ([current] if current else [])
    return [re.findall(r"^\\choice (.*)$", block, re.M)
            for block in re.findall(r"\\begin\{choices\}(.*?)\\end\{choices\}", text, re.S)]


def assert_choices_printed_as_keyed(ex):
    """Every property question prints the key's options, in the key's order, and the solution
    names the keyed letters."""
    keys = list(ex.given.properties)
    for fmt in ("markdown", "latex"):
        problem, solution = render.render_exercise(ex, fmt)
        blocks = printed_choices(problem, fmt)
        assert len(blocks) == len(keys)
        answer_lines = re.findall(r"Answer:\W* (.*)\.$", solution, re.M)[-len(keys):] if keys else []
        for key, printed, line in zip(keys, blocks, answer_lines):
            answer = ex.answers[key]
            assert isinstance(answer, MultiChoiceAnswer)
            assert list(answer.options) == printed, (fmt, key)
            named = re.findall(r"\b([A-H]) \(", line)
            assert named == answer.value, (fmt, key, line)
            assert (line == "none of them") == (answer.value == [])


def test_seed_003_ex3_properties():
    # Seed 003 Ex3, options in the seed's order: (1) sigmoid (2) tanh (3) ReLU (4) identity.
    ex = instance("activation_table", functions=["sigmoid", "tanh", "relu", "identity"],
                  points=[-1, 0, 1], values=False)
    answers = ex.answers
    assert set(answers) == {"vanishing", "differentiable", "nonlinear", "zero_centered"}
    assert answers["vanishing"].value == ["A", "B"]  # sigmoid, tanh
    assert answers["differentiable"].value == ["A", "B", "D"]  # all but ReLU
    assert answers["nonlinear"].value == ["A", "B", "C"]  # sigmoid, tanh, ReLU
    assert answers["zero_centered"].value == ["B", "D"]  # tanh, identity
    for a in answers.values():
        assert a.options == ("sigmoid", "tanh", "ReLU", "identity")
    assert answers["zero_centered"].correct == (1, 3)
    assert_choices_printed_as_keyed(ex)


def test_options_print_alpha_exactly():
    ex = instance("activation_table", functions=["leaky_relu", "elu", "tanh"], points=[-1, 1],
                  leaky_alpha="1/3", elu_alpha=0.5)
    options = ("Leaky ReLU with $\\alpha = \\frac{1}{3}$", "ELU with $\\alpha = 0.5$", "tanh")
    assert all(ex.answers[k].options == options for k in ex.given.properties)
    problem, _ = render.render_exercise(ex, "markdown")
    assert "- Leaky ReLU with $\\alpha = \\frac{1}{3}$: $\\operatorname{LeakyReLU}(z) = " in problem
    assert_choices_printed_as_keyed(ex)


@pytest.mark.parametrize("leaky_alpha, elu_alpha", [(0.01, 1), (0.2, 0.5), (1, 2), (0.5, 1)])
def test_properties_follow_alpha(leaky_alpha, elu_alpha):
    ex = instance("activation_table", functions=["leaky_relu", "elu"], points=[-1, 1],
                  leaky_alpha=leaky_alpha, elu_alpha=elu_alpha)
    a = ex.answers
    leaky_is_identity = leaky_alpha == 1
    expected = {
        "vanishing": [],
        "differentiable": (["A"] if leaky_is_identity else []) + (["B"] if elu_alpha == 1 else []),
        "nonlinear": ([] if leaky_is_identity else ["A"]) + ["B"],
        "zero_centered": ["A"] if leaky_is_identity else [],
    }
    for key, letters in expected.items():
        assert a[key].value == letters, key
    assert a["vanishing"].options == (f"Leaky ReLU with $\\alpha = {leaky_alpha}$",
                                      f"ELU with $\\alpha = {elu_alpha}$")
    assert_choices_printed_as_keyed(ex)


def _properties_by_brute_force(f):
    """Independent of check(): other points, other step sizes, plain floats."""
    rng = np.random.default_rng(1)
    zs = rng.uniform(-5, 5, 200)
    odd = all(abs(f(z) + f(-z)) < 1e-12 for z in zs)
    h = 1e-6
    kinked = any(abs((f(z + h) - f(z)) / h - (f(z) - f(z - h)) / h) > 1e-3 for z in [*zs, 0.0])
    additive = all(abs(f(a + b) - f(a) - f(b)) < 1e-12 for a, b in rng.uniform(-4, 4, (200, 2)))
    far = [abs(central_difference(f, s * 50.0, 1e-2)) for s in (-1, 1)]
    return {"vanishing": max(far) < 1e-9, "differentiable": not kinked,
            "nonlinear": not additive, "zero_centered": odd}


NAMES = {"relu": "ReLU", "leaky_relu": "Leaky ReLU", "sigmoid": "sigmoid", "tanh": "tanh",
         "elu": "ELU", "silu": "SiLU", "gelu": "GELU", "identity": "identity"}


def check_against_plain_math(ex):
    g = ex.given
    fs = functions(float(g.leaky_alpha), float(g.elu_alpha))
    points = [float(z) for z in g.points]
    assert any(z < 0 for z in points) and any(z > 0 for z in points)
    props = {}
    for letter, name in zip("ABCDEFGH", g.functions):
        f = fs[name]
        assert value(ex, f"values_{name}")[0] == pytest.approx([f(z) for z in points], rel=1e-12, abs=1e-15)
        if g.derivatives:
            derivs = value(ex, f"derivs_{name}")[0]
            for z, d in zip(points, derivs):
                if z == 0 and name in ("relu", "leaky_relu", "elu"):
                    # The kink: the seeds' convention is the left slope for (leaky) ReLU,
                    # the right slope (1) for ELU.
                    expected = 1.0 if name == "elu" else (f(0) - f(-1e-3)) / 1e-3
                    assert d == pytest.approx(expected, rel=1e-9, abs=1e-12)
                else:
                    assert d == pytest.approx(central_difference(f, z), rel=1e-6, abs=1e-8)
        for key, flag in _properties_by_brute_force(f).items():
            if flag:
                props.setdefault(key, []).append(letter)
    for key in g.properties:
        answer = ex.answers[key]
        assert answer.value == props.get(key, []), key
        assert [answer.options[i] for i in answer.correct] == [
            o for o, name in zip(answer.options, g.functions) if name in
            [g.functions["ABCDEFGH".index(x)] for x in props.get(key, [])]]
        # Drawn function sets always leave every question at least one right option.
        assert answer.value != []
        # The options name the table's functions, in the table's order.
        assert [o.split(" with ")[0] for o in answer.options] == [NAMES[f] for f in g.functions]
    assert_choices_printed_as_keyed(ex)


@pytest.mark.parametrize("seed", [s if s < 2 else pytest.param(s, marks=pytest.mark.slow)
                                  for s in range(110)])
def test_random_instances_against_plain_math(seed):
    check_against_plain_math(instance("activation_table", seed=seed, derivatives=seed % 2 == 0))


def test_on_constraints_not_rejection():
    family = get_family("activation_table")
    assert not hasattr(family, "rejection")
    assert {c.rule for c in family.constraints} >= {"inputs of both signs"}


def test_pinned_functions_may_have_no_right_option():
    # The instructor's choice: no rule applies to pinned functions, and "none" is a right answer.
    ex = instance("activation_table", functions=["relu", "elu"], points=[-1, 2])
    assert ex.answers["vanishing"].value == [] and ex.answers["zero_centered"].value == []
    assert_choices_printed_as_keyed(ex)


def test_drawn_functions_from_a_small_pool_cover_every_question():
    for seed in range(6):
        ex = instance("activation_table", seed=seed, function_pool=["relu", "tanh", "silu"],
                      n_functions=2, properties=["vanishing", "zero_centered", "differentiable"])
        assert "tanh" in ex.given.functions
        assert all(ex.answers[k].value for k in ex.given.properties)


@pytest.mark.parametrize("params, field", [
    (dict(functions=["relu", "relu"]), "functions"),
    (dict(points=[1, 1, 2]), "points"),
    (dict(point_grid=[1, 3, 1]), "point_grid"),
    (dict(point_grid=[-1, 1, 1], n_points=5), "point_grid"),
    (dict(function_pool=["relu", "tanh"], n_functions=3), "n_functions"),
    (dict(leaky_alpha=1.00001), "leaky_alpha"),
    (dict(elu_alpha=0), "elu_alpha"),
    (dict(properties=["smooth"]), "properties"),
    (dict(values=False, properties=[]), "properties"),
    (dict(function_pool=["relu", "leaky_relu", "elu"], n_functions=2), "function_pool"),
    (dict(function_pool=["relu", "identity", "sigmoid"], n_functions=1), "function_pool"),
])
def test_bad_input_names_the_field(params, field):
    with pytest.raises(WorksheetError) as err:
        instance("activation_table", **params)
    assert field in err.value.field
