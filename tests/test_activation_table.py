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


# -- seed 004 Ex4 steps 2 and 3: sketch and compare ------------------------------------------------

SEED_004_FULL = dict(SEED_004, sketch=True, compare=True, properties=[])


def test_seed_004_ex4_sketch_and_compare():
    ex = instance("activation_table", **SEED_004_FULL)
    assert [ex.answers[k].part for k in ("values_relu", "sketch", "compare")] == [1, 2, 3]
    assert {ex.answers[k].kind for k in ("sketch", "compare")} == {"text"}
    sketch, compare = ex.data.sketch, ex.data.compare
    # The seed's graph descriptions: ReLU flat at 0 for z <= 0, then linear; leaky ReLU like ReLU
    # "with a slight negative slope for z <= 0" - a slip: the slope there is +alpha = 0.01 (the
    # values are negative); sigmoid S-shaped in (0, 1) (the seed writes [0, 1]: the bounds are
    # never reached); tanh in (-1, 1) (the seed: [-1, 1]).
    assert "equal to $0$ for $z \\le 0$" in sketch[0] and "slope $0$ to the left, $1$ to the right" in sketch[0]
    assert "slope $0.01$ to the left" in sketch[1]
    assert "levelling off at $0$" in sketch[2] and "levelling off at $1$" in sketch[2] and "(0, 0.5)" in sketch[2]
    assert "levelling off at $-1$" in sketch[3]
    # The seed's comparison: dying ReLU; leaky ReLU fixes it; sigmoid and tanh suffer from vanishing
    # gradients, sigmoid is not zero-centered, tanh is.
    assert "$[0, \\infty)$" in compare[0] and "dead units are possible" in compare[0]
    assert "$(-\\infty, \\infty)$" in compare[1] and "no dead units" in compare[1]
    assert "$(0, 1)$" in compare[2] and "not zero-centered" in compare[2] and "saturates on both sides" in compare[2]
    assert "$(-1, 1)$" in compare[3] and "; zero-centered;" in compare[3]
    assert compare[-1].startswith("In use: ReLU is the default for hidden layers")
    assert ex.answers["compare"].value == " ".join(compare)
    (fig,) = ex.solved.figures
    assert "<svg" in fig.svg and "tikzpicture" in fig.tikz


def plain_facts(name, leaky_alpha=0.01, elu_alpha=1.0):
    """What a sketch says, measured on the test's own definitions: value at 0, far limits,
    a minimum below them, dead (exactly flat) left side, oddness."""
    f = np.vectorize(functions(leaky_alpha, elu_alpha)[name])
    grid = np.linspace(-6, 6, 12001)
    values = f(grid)
    left_far, right_far = f(-60.0), f(60.0)
    k = int(np.argmin(values))
    dip = values[k] < min(left_far, f(0.0)) - 1e-9 and abs(left_far) < 1e3
    left = np.linspace(-5, -0.01, 500)
    dead = bool(np.all((f(left + 1e-6) - f(left - 1e-6)) == 0))
    odd = bool(np.allclose(values, -f(-grid), atol=1e-12))
    return dict(g0=f(0.0), left_far=left_far, right_far=right_far, dip=(grid[k], values[k]) if dip else None,
                dead=dead, odd=odd)


def check_sketch_and_compare(ex):
    for row, line, cmp in zip(ex.data.rows, ex.data.sketch, ex.data.compare):
        facts = plain_facts(row.name, float(ex.given.leaky_alpha), float(ex.given.elu_alpha))
        g0 = re.search(r"through \$\(0, ([-0-9.]+)\)\$", line).group(1)
        assert float(g0) == pytest.approx(facts["g0"], abs=1e-12)
        level = re.search(r"levelling off at \$([-0-9.]+)\$ as \$z \\to -\\infty\$", line)
        if level:
            assert float(level.group(1)) == pytest.approx(facts["left_far"], abs=1e-6)
        else:
            assert facts["left_far"] < -0.2 * 60 * min(1, float(ex.given.leaky_alpha)) or facts["dead"]
        dip = re.search(r"minimum \$\\approx ([-0-9.]+)\$ at \$z \\approx ([-0-9.]+)\$", line)
        assert bool(dip) == (facts["dip"] is not None)
        if dip:
            assert float(dip.group(2)) == pytest.approx(facts["dip"][0], abs=0.006)
            assert float(dip.group(1)) == pytest.approx(facts["dip"][1], abs=0.006)
        assert ("dead units are possible" in cmp) == facts["dead"]
        assert ("; zero-centered;" in cmp) == facts["odd"]


@pytest.mark.parametrize("leaky_alpha, elu_alpha", [(0.01, 1), (0.2, 0.5), (0.5, 2)])
def test_sketch_and_compare_against_plain_math(leaky_alpha, elu_alpha):
    ex = instance("activation_table", seed=1, functions=list(functions()), points=[-2, -1, 1, 2],
                  leaky_alpha=leaky_alpha, elu_alpha=elu_alpha, sketch=True, compare=True, properties=[])
    check_sketch_and_compare(ex)


@pytest.mark.slow
def test_sketch_and_compare_against_plain_math_many_seeds():
    rng = np.random.default_rng(5)
    for seed in range(200):
        leaky = float(rng.choice([0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 2]))
        elu = float(rng.choice([0.25, 0.5, 1, 1.5, 2, 3]))
        ex = instance("activation_table", seed=seed, sketch=True, compare=True, leaky_alpha=leaky,
                      elu_alpha=elu, function_pool=list(functions()))
        check_sketch_and_compare(ex)
        assert not any(ex.family.quality(ex.given, ex.solved).values()), seed


def test_gelu_tables_give_phi():
    ex = instance("activation_table", functions=["relu", "gelu"], points=[-2.5, -1, 0, 1.5])
    problem, _ = render.render_exercise(ex, "markdown")
    printed = dict(re.findall(r"\\Phi\(([-0-9.]+)\) (?:\\approx|=) ([0-9.]+)", problem))
    assert set(printed) == {"-2.5", "-1", "0", "1.5"}
    for z, text in printed.items():
        phi = 0.5 * (1 + math.erf(float(z) / math.sqrt(2)))
        assert float(text) == pytest.approx(phi, abs=5e-8)
        # A student multiplying z by the printed value lands on the key's GELU(z) to 4 decimals.
        assert round(float(z) * float(text), 4) == round(float(z) * phi, 4) or abs(float(z) * (float(text) - phi)) < 1e-6
    ex = instance("activation_table", functions=["relu", "sigmoid"], points=[-1, 1])
    assert not ex.data.phi


@pytest.mark.parametrize("flag, params", [
    ("inputs of one sign only", dict(points=[0.5, 1, 2])),
    ("a property question without a right option", dict(functions=["relu", "leaky_relu"], properties=["vanishing"])),
])
def test_each_quality_flag_fires_on_pinned_values(flag, params):
    ex = instance("activation_table", seed=1, **params)
    assert ex.family.quality(ex.given, ex.solved)[flag]


@pytest.mark.slow
def test_default_draws_have_no_quality_flag():
    for seed in range(200):
        ex = instance("activation_table", seed=seed)
        assert not any(ex.family.quality(ex.given, ex.solved).values()), seed


def test_pinned_example_asks_the_seed_parts():
    from pathlib import Path

    from worksheetgen.spec import load_spec

    spec = load_spec(Path(__file__).resolve().parent.parent / "examples" / "pinned_activation_table.toml")
    assert not re.search(r"\bseeds?\b", spec.title, re.I)
    table, properties = (instance("activation_table", **e.params) for e in spec.exercises)
    assert set(table.answers) == {"values_relu", "values_leaky_relu", "values_sigmoid", "values_tanh",
                                  "sketch", "compare"}
    assert table.answers["compare"].value == instance("activation_table", **SEED_004_FULL).answers["compare"].value
    assert [a.key for a in properties.solved.answers] == ["vanishing", "differentiable", "nonlinear", "zero_centered"]
