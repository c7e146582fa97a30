import math

import numpy as np
import pytest

from helpers import central_difference, instance, value
from worksheetgen.errors import WorksheetError

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
    from worksheetgen import render

    _, solution = render.render_exercise(instance("activation_table", **SEED_004), "markdown")
    assert r"\sigma(-2) &= \frac{1}{e^{2} + 1} \approx 0.1192" in solution
    assert r"\operatorname{LeakyReLU}(-2) &= -0.02" in solution


def test_seed_003_ex3_properties():
    # Seed 003 Ex3, options in the seed's order: (1) sigmoid (2) tanh (3) ReLU (4) identity.
    ex = instance("activation_table", functions=["sigmoid", "tanh", "relu", "identity"],
                  points=[-1, 0, 1], values=False)
    answers = ex.answers
    assert set(answers) == {"vanishing", "differentiable", "nonlinear", "zero_centered"}
    assert answers["vanishing"].value == "A, B"  # sigmoid, tanh
    assert answers["differentiable"].value == "A, B, D"  # all but ReLU
    assert answers["nonlinear"].value == "A, B, C"  # sigmoid, tanh, ReLU
    assert answers["zero_centered"].value == "B, D"  # tanh, identity


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
        assert a[key].value == (", ".join(letters) or "none"), key


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


def test_random_instances_against_plain_math():
    for seed in range(110):
        ex = instance("activation_table", seed=seed, derivatives=seed % 2 == 0)
        g = ex.given
        fs = functions(float(g["leaky_alpha"]), float(g["elu_alpha"]))
        points = [float(z) for z in g["points"]]
        assert any(z < 0 for z in points) and any(z > 0 for z in points)
        props = {}
        for letter, name in zip("ABCDEFGH", g["functions"]):
            f = fs[name]
            assert value(ex, f"values_{name}")[0] == pytest.approx([f(z) for z in points], rel=1e-12, abs=1e-15)
            if g["derivatives"]:
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
                props.setdefault(key, []).append(letter) if flag else None
        for key in g["properties"]:
            assert ex.answers[key].value == (", ".join(props.get(key, [])) or "none"), (seed, key)
            # Drawn function sets always leave every question at least one right option.
            assert ex.answers[key].value != "none"


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
])
def test_bad_input_names_the_field(params, field):
    with pytest.raises(WorksheetError) as err:
        instance("activation_table", **params)
    assert field in err.value.field
