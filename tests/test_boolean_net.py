import dataclasses
import itertools
import json
import re

import numpy as np
import pytest

from helpers import instance, value
from worksheetgen import render
from worksheetgen.answers import ChoiceAnswer, Rule
from worksheetgen.errors import CheckError, WorksheetError

LETTERS = "ABCD"
INPUTS = [(0, 0), (0, 1), (1, 0), (1, 1)]
LOGIC = {
    "AND": lambda a, b: a & b, "OR": lambda a, b: a | b, "XOR": lambda a, b: a ^ b,
    "NAND": lambda a, b: 1 - (a & b), "NOR": lambda a, b: 1 - (a | b), "XNOR": lambda a, b: 1 - (a ^ b),
}
SEED = dict(bias=False, W1=[[-1, 1], [1, -1]], W2=[[1, 1]], none_option=False, w2_entry="11",
            w1_entry="12", target="OR", target_W1=[[1, 0], [-1, 1]], target_W2=[[1, 1]])


def outputs(w1, w2, b1=(0, 0), b2=0):
    """out = W2 ReLU(W1 x + b1) + b2 on the four inputs, by plain Python."""
    w1, w2 = np.array(w1, float), np.array(w2, float).ravel()
    result = []
    for a, b in INPUTS:
        hidden = [max(0.0, w1[j, 0] * a + w1[j, 1] * b + b1[j]) for j in range(2)]
        result.append(w2[0] * hidden[0] + w2[1] * hidden[1] + b2)
    return result


def computes(out, name):
    return all(o == LOGIC[name](a, b) for o, (a, b) in zip(out, INPUTS))


def net_outputs(net):
    b1 = (0, 0) if net["b1"] is None else [float(v) for v in net["b1"]]
    b2 = 0 if net["b2"] is None else float(net["b2"])
    return outputs(net["W1"].tolist(), net["W2"].tolist(), b1, b2)


def option(ex, key, answer_key):
    return ex.given[key][LETTERS.index(ex.answers[answer_key].value)]


def test_seed_003_ex1():
    ex = instance("boolean_net", seed=3, **SEED)
    # (a) W1 in R^{2x2} = [[-1, 1], [1, -1]], W2 in R^{1x2} = (1 1).
    chosen = option(ex, "weights_options", "weights")
    assert chosen["W1"].tolist() == [[-1, 1], [1, -1]] and chosen["W2"].tolist() == [[1, 1]]
    # (b) truth table 0, 1, 1, 0: XOR.
    assert [value(ex, f"out_{i}") for i in range(1, 5)] == [0, 1, 1, 0]
    assert option(ex, "function_options", "function") == "XOR"
    # (c) 2(out - y) n_1 and (d) 2(out - y) W2_11 sigma'(W1_11 A + W1_12 B) B, as the seed says.
    assert option(ex, "w2_options", "dL_dW2") == ("out-y", 1)
    assert option(ex, "w1_options", "dL_dW1") == (1, "B")
    # (e) the seed's answer W1 = [[1, 0], [-1, 1]], W2 = (1 1) computes OR: 0, 1, 1, 1.
    chosen = option(ex, "implement_options", "implement")
    assert chosen["W1"].tolist() == [[1, 0], [-1, 1]] and chosen["W2"].tolist() == [[1, 1]]
    assert outputs([[1, 0], [-1, 1]], [1, 1]) == [0, 1, 1, 1]
    # Seed slip: (e) writes Y = x_1 v x_2, but x_1..x_4 are the four input vectors of (b);
    # the inputs are A and B, so the sheet writes Y = A v B.
    _, solution = render.render_exercise(ex, "markdown")
    assert r"Y = A \vee B" in solution


def test_seed_003_ex1e_options_by_brute_force():
    # Only option 2 of the seed's four computes OR; options 1, 3, 4 fail.
    seed_options = [[[0, -1], [-1, 1]], [[1, 0], [-1, 1]], [[-1, -1], [0, 1]], [[-1, 1], [-1, 0]]]
    works = [computes(outputs(w1, [1, 1]), "OR") for w1 in seed_options]
    assert works == [False, True, False, False]


def test_reachable_functions_match_brute_force():
    from worksheetgen.exercises.boolean_net import reachable

    for bias in (False, True):
        found = set()
        for p in itertools.product((-1, 0, 1), repeat=9 if bias else 6):
            b1, b2 = (p[6:8], p[8]) if bias else ((0, 0), 0)
            out = outputs([p[0:2], p[2:4]], p[4:6], b1, b2)
            found |= {n for n in LOGIC if computes(out, n)}
        # Without bias out(0, 0) = 0, so NAND, NOR and XNOR are out of reach.
        assert set(reachable(bias)) == found
        assert found == (set(LOGIC) if bias else {"AND", "OR", "XOR"})


def numeric_grad_options(ex, rng):
    """Which option formulas equal central differences of L with ReLU at random real points."""
    g = ex.given
    w1 = rng.normal(size=(2, 2))
    w2 = rng.normal(size=2)
    b1 = rng.normal(size=2) if g["bias"] else np.zeros(2)
    b2 = rng.normal() if g["bias"] else 0.0
    x = rng.uniform(0.5, 1.5, size=2)
    y = rng.normal()
    if np.min(np.abs(w1 @ x + b1)) < 1e-3:
        return None

    def loss(w1, w2):
        return (y - (w2 @ np.maximum(w1 @ x + b1, 0) + b2)) ** 2

    z = w1 @ x + b1
    n = np.maximum(z, 0)
    out = w2 @ n + b2
    j2 = int(g["w2_entry"][1]) - 1
    j, k = int(g["w1_entry"][0]) - 1, int(g["w1_entry"][1]) - 1
    h = 1e-7
    e2 = np.eye(2)[j2] * h
    e1 = np.zeros((2, 2))
    e1[j, k] = h
    fd2 = (loss(w1, w2 + e2) - loss(w1, w2 - e2)) / (2 * h)
    fd1 = (loss(w1 + e1, w2) - loss(w1 - e1, w2)) / (2 * h)
    v2 = [(2 * (out - y) if s == "out-y" else 2 * (y - out)) * n[u - 1] for s, u in g["w2_options"]]
    v1 = [2 * (out - y) * w2[u - 1] * float(z[j] > 0) * x["AB".index(i)] for u, i in g["w1_options"]]
    return fd2, v2, fd1, v1


@pytest.mark.parametrize("bias", [False, True])
def test_random_seeds_against_brute_force(bias):
    against_brute_force(range(3), bias)


@pytest.mark.slow
@pytest.mark.parametrize("bias", [False, True])
def test_random_seeds_against_brute_force_many_seeds(bias):
    against_brute_force(range(3, 60), bias)


def against_brute_force(seeds, bias):
    rng = np.random.default_rng(7)
    for seed in seeds:
        ex = instance("boolean_net", seed=seed, bias=bias)
        g = ex.given
        net = {k: g[k] for k in ("W1", "W2", "b1", "b2")}
        out = net_outputs(net)
        assert [value(ex, f"out_{i}") for i in range(1, 5)] == out
        names = [n for n in LOGIC if computes(out, n)]
        assert option(ex, "function_options", "function") == (names[0] if names else "none of these")
        assert len(set(g["function_options"])) == 4
        # (a): the key is the option with the net's W1 and W2 as a 1x2 row; options all differ.
        chosen = option(ex, "weights_options", "weights")
        assert chosen["W1"] == net["W1"] and chosen["W2"].shape == (1, 2) and chosen["W2"] == net["W2"]
        assert len({repr((o["W1"], o["W2"])) for o in g["weights_options"]}) == 4
        # Implement: exactly the keyed option computes the target, every distractor fails.
        works = [computes(net_outputs(o), g["target"]) for o in g["implement_options"]]
        assert works.count(True) == 1
        assert LETTERS[works.index(True)] == ex.answers["implement"].value
        # Gradients: the keyed formula matches finite differences, at least at some points.
        for _ in range(5):
            found = numeric_grad_options(ex, rng)
            if found is None:
                continue
            fd2, v2, fd1, v1 = found
            assert v2[LETTERS.index(ex.answers["dL_dW2"].value)] == pytest.approx(fd2, rel=1e-5, abs=1e-6)
            assert v1[LETTERS.index(ex.answers["dL_dW1"].value)] == pytest.approx(fd1, rel=1e-5, abs=1e-6)


def test_task_subsets_and_both_formats():
    ex = instance("boolean_net", seed=5, tasks=["implement"], target="XOR")
    assert set(ex.answers) == {"implement"}
    for fmt in ("latex", "markdown"):
        problem, solution = render.render_exercise(ex, fmt)
        assert "XOR" in problem and "Answer" in solution
    ex = instance("boolean_net", seed=5, tasks=["gradient", "forward"], bias=True)
    assert set(ex.answers) == {"out_1", "out_2", "out_3", "out_4", "function", "dL_dW2", "dL_dW1"}


@pytest.mark.parametrize("params, field", [
    (dict(target="NAND"), "target"),
    (dict(W1=[[2, 0], [0, 1]]), "W1"),
    (dict(W2=[[1, 1, 1]]), "W2"),
    (dict(b1=[1, 0]), "b1"),
    (dict(target="OR", target_W1=[[1, -1], [-1, 1]], target_W2=[[1, 1]]), "target_W1"),
    (dict(W1=[[0, 0], [0, 0]], none_option=False), "W1"),
    (dict(tasks=["forward", "forward"]), "tasks"),
    (dict(tasks=["plot"]), "tasks"),
])
def test_bad_input_names_the_field(params, field):
    with pytest.raises(WorksheetError) as err:
        instance("boolean_net", **params)
    assert field in err.value.field


# -- the printed options are the key's options ------------------------------------------------

def printed_choices(text, fmt):
    """The option lists of a rendered problem, block by block, as printed."""
    if fmt == "latex":
        blocks = re.findall(r"\\begin\{choices\}\n(.*?)\n\\end\{choices\}", text, re.S)
        return [block[len("\\choice "):].split("\n\\choice ") for block in blocks]
    blocks = []
    for line in text.split("\n"):
        found = re.match(r"- \*\*([A-J])\.\*\* (.*)$", line)
        if found:
            if found.group(1) == "A":
                blocks.append([])
            assert LETTERS.index(found.group(1)) == len(blocks[-1])
            blocks[-1].append(found.group(2))
    return blocks


def pmatrix(rows):
    """A matrix in the TeX the sheet prints, written out by hand from the numbers."""
    body = r" \\ ".join(" & ".join(str(int(v)) for v in row) for row in rows)
    return rf"\begin{{pmatrix}} {body} \end{{pmatrix}}"


def net_text(net, with_bias=True):
    parts = [rf"W^{{(1)}} = {pmatrix(net['W1'].tolist())}", rf"W^{{(2)}} = {pmatrix(net['W2'].tolist())}"]
    if with_bias and net["b1"] is not None:
        parts += [rf"b^{{(1)}} = {pmatrix(net['b1'].tolist())}", rf"b^{{(2)}} = {int(net['b2'])}"]
    return "$" + r",\quad ".join(parts) + "$"


def right_texts(ex):
    """The text each choice question must key, found by brute force and written by hand."""
    g = ex.given
    texts = {}
    if "weights" in g["tasks"]:
        texts["weights"] = net_text({"W1": g["W1"], "W2": g["W2"], "b1": None, "b2": None})
    if "forward" in g["tasks"]:
        out = net_outputs({k: g[k] for k in ("W1", "W2", "b1", "b2")})
        names = [n for n in LOGIC if computes(out, n)]
        texts["function"] = names[0] if names else "none of these"
    if "gradient" in g["tasks"]:
        j2 = g["w2_entry"][1]
        j, k = g["w1_entry"]
        bias = rf" + b^{{(1)}}_{j}" if g["bias"] else ""
        texts["dL_dW2"] = rf"$2(\mathit{{out}} - y) \cdot n_{j2}$"
        texts["dL_dW1"] = (rf"$2(\mathit{{out}} - y) \cdot W^{{(2)}}_{{1{j}}} \cdot "
                           rf"\sigma'(W^{{(1)}}_{{{j}1}} A + W^{{(1)}}_{{{j}2}} B{bias}) \cdot {'AB'[int(k) - 1]}$")
    if "implement" in g["tasks"]:
        works = [o for o in g["implement_options"] if computes(net_outputs(o), g["target"])]
        assert len(works) == 1
        texts["implement"] = net_text(works[0])
    return texts


def assert_options_agree(ex):
    choices = [a for a in ex.solved.answers if isinstance(a, ChoiceAnswer)]
    expected = right_texts(ex)
    assert [a.key for a in choices] == list(expected)
    for fmt in ("latex", "markdown"):
        problem, _ = render.render_exercise(ex, fmt)
        printed = printed_choices(problem, fmt)
        assert len(printed) == len(choices)
        for answer, shown in zip(choices, printed):
            entry = json.loads(json.dumps(answer.entry(4, Rule())))
            assert [o["text"] for o in entry["options"]] == shown == list(answer.options)
            assert [o["letter"] for o in entry["options"]] == list(LETTERS[:len(shown)])
            assert entry["exact"] == LETTERS[entry["correct_index"]]
            assert shown[LETTERS.index(entry["exact"])] == expected[answer.key], (answer.key, fmt)
            assert len(set(shown)) == len(shown)


def test_seed_003_ex1_printed_options():
    ex = instance("boolean_net", seed=3, **SEED)
    assert_options_agree(ex)
    keyed = {a.key: a.options[a.correct] for a in ex.solved.answers if isinstance(a, ChoiceAnswer)}
    assert keyed["function"] == "XOR"
    assert keyed["weights"] == (r"$W^{(1)} = \begin{pmatrix} -1 & 1 \\ 1 & -1 \end{pmatrix},\quad "
                                r"W^{(2)} = \begin{pmatrix} 1 & 1 \end{pmatrix}$")
    assert keyed["dL_dW2"] == r"$2(\mathit{out} - y) \cdot n_1$"
    assert keyed["implement"] == (r"$W^{(1)} = \begin{pmatrix} 1 & 0 \\ -1 & 1 \end{pmatrix},\quad "
                                  r"W^{(2)} = \begin{pmatrix} 1 & 1 \end{pmatrix}$")


@pytest.mark.parametrize("bias", [False, True])
def test_printed_options_are_the_key_options(bias):
    for seed in range(2):
        assert_options_agree(instance("boolean_net", seed=seed, bias=bias))


@pytest.mark.slow
@pytest.mark.parametrize("bias", [False, True])
def test_printed_options_are_the_key_options_many_seeds(bias):
    for seed in range(2, 40):
        assert_options_agree(instance("boolean_net", seed=seed, bias=bias))
    assert_options_agree(instance("boolean_net", seed=1, bias=bias, tasks=["implement", "gradient"]))


# -- a broken invariant is a CheckError naming the family ---------------------------------------

def test_broken_invariants_raise_check_error():
    from worksheetgen.exercises.boolean_net import _gradient_keys

    family = instance("boolean_net", seed=0).family
    # two options equal to the derivative: the key would be ambiguous
    doubled = (("out-y", 1), ("out-y", 1), ("y-out", 2), ("y-out", 1))
    single = ((1, "A"), (1, "B"), (2, "A"), (2, "B"))
    with pytest.raises(CheckError, match="boolean_net"):
        _gradient_keys(False, "11", "11", doubled, single)
    ex = instance("boolean_net", seed=0, tasks=["forward"])
    missing = tuple(n for n in ("AND", "OR", "XOR", "NAND", "NOR", "XNOR", "none of these")
                    if n != ex.data.function)[:4]
    with pytest.raises(CheckError, match="boolean_net"):
        family.solve(dataclasses.replace(ex.given, function_options=missing))
    ex = instance("boolean_net", seed=0, tasks=["implement"])
    options = ex.given["implement_options"]
    keyed = options[ex.answers["implement"].correct]
    with pytest.raises(CheckError, match="boolean_net"):
        family.solve(dataclasses.replace(ex.given, implement_options=(keyed, keyed) + options[2:]))
