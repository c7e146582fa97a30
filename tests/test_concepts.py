"""The conceptual question bank (family concepts): coverage of the seeds, keys after shuffling,
text that both formats can print, bad input."""

import json
import re
import tomllib

import pytest

from helpers import instance
from worksheetgen import render
from worksheetgen.answers import Rule
from worksheetgen.errors import WorksheetError
from worksheetgen.exercises.concept import BANK_PATH, LETTERS, load_bank

# Every conceptual question of the seed sheets, by seed and question.
SEED_QUESTIONS = [
    "000 Q2", "000 Q5(a)", "000 Q5(b)", "001 Q2",
    "002 Q1.1", "002 Q1.2", "002 Q1.3", "002 Q1.4", "002 Q1.5",
    "002 Q1.6(i)", "002 Q1.6(ii)", "002 Q1.6(iii)", "002 Q2.8",
    "003 Ex2(d)", "003 Ex2(e)",
    "003 Ex3(a)", "003 Ex3(b)", "003 Ex3(c)", "003 Ex3(d)", "003 Ex3(e)",
    "003 Ex4(a)", "003 Ex4(b)", "003 Ex4(c)", "003 Ex4(d)", "003 Ex4(e)",
    "004 Ex3", "004 Ex4", "004 Ex5", "004 Ex6", "004 Ex7",
]


def bank():
    return load_bank()[0]


@pytest.mark.parametrize("source", SEED_QUESTIONS)
def test_every_seed_question_is_in_the_bank(source):
    assert any(source in q.source for q in bank().values()), source


def test_seed_keys():
    q = bank()
    # 002 Q1.5: (iii) Leaky ReLU.
    assert [c.correct for c in q["vanishing-gradient-facts"].choices] == [False, False, True, False]
    # 003 Ex3 (a)-(d): vanishing {sigmoid, tanh}; differentiable {sigmoid, tanh, identity};
    # non-linear {sigmoid, tanh, ReLU}; zero-centered {tanh, identity}.
    expected = {
        "activation-vanishing": {"sigmoid", "tanh"},
        "activation-differentiable": {"sigmoid", "tanh", "identity"},
        "activation-nonlinear": {"sigmoid", "tanh", "ReLU"},
        "activation-zero-centered": {"tanh", "identity"},
    }
    for qid, right in expected.items():
        assert {c.text for c in q[qid].choices if c.correct} == right
    # 003 Ex4 (a)-(e): F, F, T, T (rephrased, see the bank), F.
    tf = ["gd-batch-large-data", "gd-batch-global-optimum", "gd-sgd-local-minima", "gd-sgd-faster",
          "gd-batch-cheaper"]
    assert [q[i].answer for i in tf] == [False, False, True, True, False]
    # 003 Ex3 (e): (A, B, C) = (identity, ReLU, sigmoid).
    right = [c.text for c in q["activation-match-curves"].choices if c.correct]
    assert right == ["(Network 1, 2, 3) = (identity, ReLU, sigmoid)"]
    # 004 Ex6: the penalty lambda * sum w^2 has gradient 2 lambda w (the seed drops the 2).
    right = [c.text for c in q["l2-update"].choices if c.correct][0]
    assert "2 \\lambda w_i" in right


def test_seed_000_q2_numbers_in_the_explanation():
    import numpy as np

    w3 = np.array([[1.2, -2.2], [1.2, 1.3]])
    w2 = np.array([[2.1, -0.5], [0.7, 1.9]])
    w1 = np.array([[1.4, 0.6], [0.8, 0.6]])
    m = w3.T @ w2.T @ w1.T
    assert m == pytest.approx(np.array([[4.56, 3.408], [-6.82, -3.658]]))
    silu = lambda z: z / (1 + np.exp(-z))  # noqa: E731
    net = lambda x: w3.T @ silu(w2.T @ silu(w1.T @ x))  # noqa: E731
    assert net(np.array([1.0, 0])) == pytest.approx([3.0571, -5.2727], abs=1e-4)
    assert net(np.array([2.0, 0])) == pytest.approx([7.7257, -13.2458], abs=1e-4)
    text = bank()["linear-collapse"].explanation
    for number in ("4.56", "3.408", "-6.82", "-3.658", "3.0571", "-5.2727", "7.7257", "-13.2458"):
        assert number in text


def _outside_math(text):
    return re.sub(r"\$[^$]*\$", "", text)


def test_bank_text_prints_in_latex_and_markdown():
    allowed_unicode = set("“”’–—")
    for q in bank().values():
        texts = [q.prompt, q.explanation, q.model] + [c.text for c in q.choices]
        for text in texts:
            assert text.count("$") % 2 == 0, (q.id, text)
            plain = _outside_math(text)
            assert not re.search(r"[%&#_^~*\\<>]", plain), (q.id, plain)
            assert all(ord(ch) < 128 or ch in allowed_unicode for ch in text), (q.id, text)


def raw_bank():
    """The bank as plain TOML, read independently of load_bank."""
    return {e["id"]: e for e in tomllib.loads(BANK_PATH.read_text(encoding="utf-8"))["question"]}


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


def assert_key_matches_sheet(ex):
    """Printed options == the key's options == the bank's choices in the drawn order; the keyed
    letters point at exactly the texts the bank marks correct; kinds are stored as JSON."""
    raw = raw_bank()
    rendered = {fmt: render.render_exercise(ex, fmt) for fmt in ("latex", "markdown")}
    printed = {fmt: printed_choices(problem, fmt) for fmt, (problem, _) in rendered.items()}
    block = 0
    for n, (qid, order) in enumerate(zip(ex.given["questions"], ex.given["orders"]), start=1):
        entry_bank = raw[qid]
        answer = ex.answers[f"q{n}"]
        entry = json.loads(json.dumps(answer.entry(4, Rule())))
        kind = entry_bank["kind"]
        if kind in ("single", "multi"):
            bank_texts = [c["text"] for c in entry_bank["choices"]]
            assert sorted(order) == list(range(len(bank_texts)))
            shown = [bank_texts[i] for i in order]
            key_texts = [o["text"] for o in entry["options"]]
            assert key_texts == shown
            assert [o["letter"] for o in entry["options"]] == list(LETTERS[:len(shown)])
            for fmt in printed:
                assert printed[fmt][block] == shown, (qid, fmt)
            block += 1
            right = {c["text"] for c in entry_bank["choices"] if c.get("correct")}
            letters = [entry["exact"]] if kind == "single" else entry["exact"]
            assert entry["kind"] == ("choice" if kind == "single" else "multi")
            assert isinstance(entry["exact"], str if kind == "single" else list)
            assert letters == sorted(letters)
            assert {shown[LETTERS.index(x)] for x in letters} == right
            indices = [entry["correct_index"]] if kind == "single" else entry["correct_index"]
            assert [LETTERS[i] for i in indices] == letters
            # the option marked last ("All of the above are false", seed: "None of the above")
            for c in entry_bank["choices"]:
                if c.get("last"):
                    assert shown[-1] == c["text"]
            # the solution sheet names the keyed letters and their texts
            for _, solution in rendered.values():
                assert "Answer: " + ", ".join(letters) + "." in solution
                assert all(shown[LETTERS.index(x)] in solution for x in letters)
        elif kind == "truefalse":
            assert entry["kind"] == "boolean" and entry["exact"] is entry_bank["answer"]
        else:
            assert entry["kind"] == "text" and entry["exact"] == entry_bank["model"].strip()
    for fmt in printed:
        assert len(printed[fmt]) == block


@pytest.mark.parametrize("seed", range(3))
def test_key_options_are_the_printed_options(seed):
    assert_key_matches_sheet(instance("concepts", seed=seed, count=8))


def test_key_options_are_the_printed_options_for_every_seed_question():
    ids = [qid for qid, q in bank().items() if set(q.source) & set(SEED_QUESTIONS)]
    for start in range(0, len(ids), 26):  # at most 26 parts, (a) to (z), per exercise
        assert_key_matches_sheet(instance("concepts", seed=11, questions=ids[start:start + 26]))


@pytest.mark.slow
def test_key_options_are_the_printed_options_many_seeds():
    for seed in range(3, 40):
        assert_key_matches_sheet(instance("concepts", seed=seed, count=8))
    assert_key_matches_sheet(instance("concepts", seed=1, count=5, shuffle=False))


def test_shuffling_moves_the_key_and_can_be_switched_off():
    keys = {instance("concepts", seed=s, questions=["vanishing-gradient-facts"]).answers["q1"].value
            for s in range(30)}
    assert keys == {"A", "B", "C"}  # never D: the last option stays last
    fixed = instance("concepts", seed=3, questions=["vanishing-gradient-facts"], shuffle=False)
    assert fixed.answers["q1"].value == "C"  # the seed's (iii)


def test_filters():
    ex = instance("concepts", seed=1, sources=["003 Ex4"])
    assert ex.given["questions"] and all(i.startswith("gd-") for i in ex.given["questions"])
    ex = instance("concepts", seed=1, topics=["initialization"], kinds=["single", "truefalse"], count=2)
    assert len(ex.given["questions"]) == 2
    ex = instance("concepts", seed=1, questions=["l2-update", "he-initialization"])
    assert ex.given["questions"] == ("l2-update", "he-initialization")


def test_figures_are_attached_once():
    ex = instance("concepts", seed=0, questions=["activation-vanishing", "activation-nonlinear",
                                                 "lr-loss-curves"])
    assert [f.name for f in ex.solved.figures] == ["activation_graphs", "lr_curves_seed"]


@pytest.mark.parametrize("params, field", [
    ({"questions": ["no-such-question"]}, "questions"),
    ({"topics": ["astrology"]}, "topics"),
    ({"sources": ["999"]}, "questions"),
    ({"topics": ["initialization"], "count": 40}, "count"),
    ({"questions": ["l2-update", "l2-update"]}, "questions"),
    ({"questions": list(load_bank()[0])[:27]}, "questions"),
    ({"count": 27}, "count"),
])
def test_bad_input(params, field):
    with pytest.raises(WorksheetError) as err:
        instance("concepts", **params)
    assert err.value.field.endswith(field)
