"""The conceptual question bank (family concepts): coverage of the seeds, keys after shuffling,
text that both formats can print, bad input."""

import json
import re
import tomllib

import numpy as np
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


# -- questions beyond the seeds: the later topics of the course ---------------------------------

# Topic tags named after the exercise families of these topics; a spec selects them with
# params = { topics = ["optimizers"] } and so on.
COURSE_TOPICS = ["convolution", "conv_backprop", "optimizers", "batch_norm", "dropout_init", "rnn",
                 "attention", "computation_graph", "logistic_perceptron"]


def new_questions():
    """Bank questions without a seed source: the course's later topics."""
    return {qid: q for qid, q in bank().items() if not q.source}


def test_every_new_question_has_a_course_topic_and_every_topic_has_questions():
    new = new_questions()
    assert len(new) >= 3 * len(COURSE_TOPICS)
    for qid, q in new.items():
        assert set(q.topics) & set(COURSE_TOPICS), qid
    for topic in COURSE_TOPICS:
        kinds = {q.kind for q in new.values() if topic in q.topics}
        assert sum(topic in q.topics for q in new.values()) >= 3, topic
        assert len(kinds) >= 3, (topic, kinds)  # a mix of kinds, not three of one
    assert {q.kind for q in new.values()} == {"single", "multi", "truefalse", "short"}
    answers = [q.answer for q in new.values() if q.kind == "truefalse"]
    assert True in answers and False in answers


@pytest.mark.parametrize("topic", COURSE_TOPICS)
def test_a_topic_selects_exactly_its_questions(topic):
    tagged = [qid for qid, entry in raw_bank().items() if topic in entry.get("topics", [])]
    ex = instance("concepts", seed=5, topics=[topic], count=len(tagged))
    assert set(ex.given["questions"]) == set(tagged)
    assert list(ex.given["questions"]) == [q for q in tagged if q in ex.given["questions"]]  # bank order
    assert len(instance("concepts", seed=5, topics=[topic]).given["questions"]) == min(3, len(tagged))


def test_every_new_question_renders_in_both_formats_with_its_key():
    ids = list(new_questions())
    for start in range(0, len(ids), 26):  # parts (a) to (z) per exercise
        chunk = ids[start:start + 26]
        ex = instance("concepts", seed=3, questions=chunk)
        assert list(ex.given["questions"]) == chunk
        assert_key_matches_sheet(ex)
        for fmt in ("latex", "markdown"):
            problem, solution = render.render_exercise(ex, fmt)
            for qid in chunk:
                q = bank()[qid]
                # the first sentence of every prompt and explanation is printed
                assert q.prompt.split(". ")[0][:60] in problem, (qid, fmt)
                assert q.explanation.split(". ")[0][:60] in solution, (qid, fmt)
        contexts = load_bank()[1]
        used = {bank()[qid].context for qid in chunk} - {""}
        latex_problem = render.render_exercise(ex, "latex")[0]
        assert all(latex_problem.count(contexts[c]) == 1 for c in used)  # once per exercise


def _visible(text):
    """Printed length, roughly: TeX control words, braces and dollars do not show."""
    return len(re.sub(r"\\[a-zA-Z]+|[{}$^_\\]", "", text))


def test_new_questions_wording():
    contexts = load_bank()[1]
    for qid, q in new_questions().items():
        texts = [q.prompt, q.explanation, q.model] + [c.text for c in q.choices]
        if q.context:
            texts.append(contexts[q.context])
        for text in texts:
            assert not re.search(r"seed|famil|worksheetgen", text, re.I), (qid, text)
        if q.kind in ("single", "multi"):
            # the correct option is never the (unique) longest one: length gives nothing away
            right = max(_visible(c.text) for c in q.choices if c.correct)
            wrong = max(_visible(c.text) for c in q.choices if not c.correct)
            assert right <= wrong, qid
            assert len({c.text for c in q.choices}) == len(q.choices), qid
            assert all(c.text.strip() == c.text and c.text for c in q.choices), qid


# -- the facts behind the new questions, recomputed -----------------------------------------------
# Each test recomputes a question's claim numerically (brute force, finite differences or
# enumeration) and checks that exactly the options the bank marks correct agree with it.


def _correct(qid):
    return {c.text for c in bank()[qid].choices if c.correct}


def _matching(qid, value_of, truth, tol=1e-9):
    """Options whose value (value_of[text]()) equals truth; every option must be covered."""
    texts = [c.text for c in bank()[qid].choices]
    assert set(value_of) == set(texts), qid
    return {t for t in texts if np.allclose(value_of[t](), truth, atol=tol, rtol=tol)}



def _correlate(x, k):
    """Valid cross-correlation, by windows (no padding, stride 1)."""
    n, m = x.shape[0] - k.shape[0] + 1, x.shape[1] - k.shape[1] + 1
    return np.array([[np.sum(k * x[i:i + k.shape[0], j:j + k.shape[1]]) for j in range(m)]
                     for i in range(n)])


def test_fact_conv_output_size_by_counting_windows():
    n, k, s, p = 32, 3, 2, 1
    padded = n + 2 * p
    starts = [a for a in range(0, padded, s) if a + k <= padded]
    size = len(starts)
    assert _correct("conv-output-size") == {rf"${size} \times {size}$"}


def test_fact_conv_parameters_by_building_the_layer():
    shapes = [(16, 3, 5, 5), (16,)]  # kernels (out, in, height, width), biases
    count = sum(int(np.prod(s)) for s in shapes)
    assert _correct("conv-parameter-sharing") == {f"${count}$"}


def test_fact_receptive_field_by_following_positions_back():
    # One output unit of the third layer; each 3x3 stride-1 layer maps a set of positions to
    # every position under the kernels centred (offset) at them.
    cells = {(0, 0)}
    for _ in range(3):
        cells = {(i + u, j + v) for i, j in cells for u in range(3) for v in range(3)}
    rows = {i for i, _ in cells}
    side = max(rows) - min(rows) + 1
    assert len(cells) == side * side
    assert _correct("conv-receptive-field") == {rf"${side} \times {side}$"}


def test_fact_dilated_kernel_weights():
    k, d = 3, 2
    taps = [d * u for u in range(k)]
    span = taps[-1] - taps[0] + 1
    assert span == 5 and k * k == 9  # covers 5 x 5 with 9 weights: 25 weights is false
    assert bank()["conv-dilation"].answer is (k * k == span * span)


def test_fact_conv_gradients_by_finite_differences():
    rng = np.random.default_rng(0)
    n, k = 5, 3
    x, kern = rng.normal(size=(n, n)), rng.normal(size=(k, k))
    delta = rng.normal(size=(n - k + 1, n - k + 1))

    def loss(x, kern):  # L = sum(delta * Y): dL/dY = delta
        return float(np.sum(delta * _correlate(x, kern)))

    def grad(f, a, h=1e-6):
        g = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            e = np.zeros_like(a)
            e[idx] = h
            g[idx] = (f(a + e) - f(a - e)) / (2 * h)
        return g

    dk = grad(lambda kk: loss(x, kk), kern)
    dx = grad(lambda xx: loss(xx, kern), x)
    m = n - k + 1

    def at(a, i, j):
        return a[i, j] if 0 <= i < a.shape[0] and 0 <= j < a.shape[1] else 0.0

    def kernel_option(term):
        return lambda: np.array([[term(u, v) for v in range(k)] for u in range(k)])

    value_of = {
        r"$\sum_{i, j} \delta[i, j]\, X[i + u, j + v]$": kernel_option(
            lambda u, v: sum(delta[i, j] * x[i + u, j + v] for i in range(m) for j in range(m))),
        r"$\sum_{i, j} \delta[i, j]\, X[i - u, j - v]$": kernel_option(
            lambda u, v: sum(delta[i, j] * at(x, i - u, j - v) for i in range(m) for j in range(m))),
        r"$\delta[u, v]\, X[u, v]$": kernel_option(lambda u, v: delta[u, v] * x[u, v]),
        r"$\sum_{i, j} \delta[i, j]\, K[u, v]\, X[i + u, j + v]$": kernel_option(
            lambda u, v: sum(delta[i, j] * kern[u, v] * x[i + u, j + v]
                             for i in range(m) for j in range(m))),
    }
    assert _matching("convbp-kernel-gradient", value_of, dk, tol=1e-6) == _correct("convbp-kernel-gradient")
    padded = np.pad(delta, k - 1)
    assert np.allclose(_correlate(padded, kern[::-1, ::-1]), dx, atol=1e-6)  # rotated: right
    assert not np.allclose(_correlate(padded, kern), dx, atol=1e-3)  # K itself: wrong
    assert bank()["convbp-input-gradient"].answer is False
    # the bias: dL/dc = sum of delta (shared, local gradient 1)
    bias_grad = (loss(x, kern) + np.sum(delta) * 1e-3 - loss(x, kern)) / 1e-3
    assert bias_grad == pytest.approx(np.sum(delta))
    assert r"\sum_{i, j} \delta[i, j]" in bank()["convbp-shared-weights"].model


def test_fact_momentum_limit_and_nesterov_lookahead():
    eta, beta, g = 0.1, 0.9, 2.0
    v = 0.0
    for _ in range(500):
        v = beta * v - eta * g
    etas = {r"$-\frac{\eta}{1 - \beta}\, g$": lambda: -eta / (1 - beta) * g,
            r"$-\eta\, g$": lambda: -eta * g,
            r"$-\frac{\eta}{1 + \beta}\, g$": lambda: -eta / (1 + beta) * g,
            r"$-\frac{\beta \eta}{1 - \beta}\, g$": lambda: -beta * eta / (1 - beta) * g}
    assert _matching("opt-momentum-limit", etas, v, tol=1e-9) == _correct("opt-momentum-limit")


def test_fact_adam_first_step_and_bias():
    rng = np.random.default_rng(1)
    eta, b1, b2 = 0.01, 0.9, 0.999
    g = rng.normal(size=6) * 10.0 ** rng.integers(-3, 4, size=6)
    m, v = (1 - b1) * g, (1 - b2) * g**2
    step = -eta * (m / (1 - b1)) / np.sqrt(v / (1 - b2))
    assert np.allclose(np.abs(step), eta)
    assert bank()["opt-adam-first-step"].answer is True
    raw = -eta * m / np.sqrt(v)
    assert np.allclose(np.abs(raw) / eta, 3.16, atol=0.005)
    assert r"3.16\, \eta" in bank()["opt-adam-first-step"].explanation
    # a constant-mean gradient: the raw average is (1 - beta^t) times the mean, corrected is unbiased
    m = 0.0
    for t in range(1, 6):
        m = b1 * m + (1 - b1) * 1.0
        assert m == pytest.approx(1 - b1**t) and m / (1 - b1**t) == pytest.approx(1.0)


def test_fact_adagrad_rate_never_increases_rmsprop_can():
    rng = np.random.default_rng(2)
    grads = np.concatenate([rng.normal(size=50) * 5, rng.normal(size=50) * 0.1])
    big_g, s, rho = 0.0, 0.0, 0.9
    ada, rms = [], []
    for g in grads:
        big_g += g * g
        s = rho * s + (1 - rho) * g * g
        ada.append(1 / np.sqrt(big_g))
        rms.append(1 / np.sqrt(s))
    assert all(b <= a for a, b in zip(ada, ada[1:]))
    assert rms[-1] > 10 * rms[49]  # smaller gradients later: RMSProp's rate grows again
    assert ada[-1] <= ada[49]


def test_fact_stable_learning_rate_on_a_quadratic():
    a = 4.0

    def converges(eta):
        theta = 1.0
        for _ in range(2000):
            theta -= eta * a * theta
            if abs(theta) > 1e6:
                return False
        return abs(theta) < 1e-8

    etas = np.linspace(0.01, 3.0, 300) / a
    good = [e for e in etas if converges(e)]
    assert min(good) == etas[0] and max(good) < 2 / a <= min(e for e in etas if not converges(e))
    assert not converges(2 / a)
    assert _correct("opt-stable-learning-rate") == {r"$0 < \eta < \frac{2}{a}$"}


def test_fact_batch_norm_batch_of_one_and_identity():
    x = np.array([[3.7, -1.2]])
    gamma, beta, eps = np.array([2.0, -0.5]), np.array([0.3, 0.8]), 1e-5
    x_hat = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps)
    assert np.allclose(gamma * x_hat + beta, beta)
    assert bank()["bn-batch-of-one"].answer is True
    batch = np.random.default_rng(3).normal(size=(8, 2))
    mu, var = batch.mean(axis=0), batch.var(axis=0)
    x_hat = (batch - mu) / np.sqrt(var + eps)
    assert np.allclose(np.sqrt(var + eps) * x_hat + mu, batch)  # gamma, beta can undo it
    assert np.allclose((batch + 7.0 - (batch + 7.0).mean(axis=0)), batch - mu)  # a bias cancels


def test_fact_dropout_moments_by_enumerating_the_mask():
    for p in (0.2, 0.5, 0.75):
        a = 1.7
        outcomes = [(1 - p, a / (1 - p)), (p, 0.0)]
        mean = sum(w * o for w, o in outcomes)
        var = sum(w * (o - mean) ** 2 for w, o in outcomes)
        assert mean == pytest.approx(a)
        assert var == pytest.approx(p / (1 - p) * a * a)
        assert var != pytest.approx(p * (1 - p) * a * a)
    assert bank()["dropout-variance"].answer is False


def test_fact_variance_through_a_layer_by_enumeration():
    # Weights +-sqrt(v), inputs +-sqrt(s), all independent: enumerate every sign pattern.
    import itertools

    n, v, s = 3, 0.5, 3.0
    values = [sum(ws[i] * np.sqrt(v) * xs[i] * np.sqrt(s) for i in range(n))
              for ws in itertools.product((-1, 1), repeat=n) for xs in itertools.product((-1, 1), repeat=n)]
    var = np.var(values)
    options = {"$n v s$": lambda: n * v * s, "$v s$": lambda: v * s, "$n (v + s)$": lambda: n * (v + s),
               "$n^2 v s$": lambda: n * n * v * s}
    assert _matching("init-variance-through-layer", options, var) == _correct("init-variance-through-layer")


def test_fact_xavier_uniform_bound_and_relu_second_moment():
    n_in, n_out = 50, 100
    r = np.sqrt(6 / (n_in + n_out))
    nodes, weights = np.polynomial.legendre.leggauss(8)
    second_moment = np.sum(weights * (r * nodes) ** 2) / 2  # E[w^2] for w ~ U(-r, r)
    assert second_moment == pytest.approx(2 / (n_in + n_out))
    z = np.linspace(-8, 8, 16001)
    density = np.exp(-z**2 / 2) / np.sqrt(2 * np.pi)
    relu_moment = np.trapezoid(np.maximum(z, 0) ** 2 * density, z)
    assert relu_moment == pytest.approx(0.5, abs=1e-6)  # half of Var(z) = 1


def test_fact_recurrent_parameter_counts_from_shapes():
    d, h = 7, 5
    block = [(h, d), (h, h), (h,)]  # W, U, b
    per_block = sum(int(np.prod(s)) for s in block)
    lstm, gru = 4 * per_block, 3 * per_block
    options = {"$4h(d + h + 1)$": lambda: 4 * h * (d + h + 1), "$h(d + h + 1)$": lambda: h * (d + h + 1),
               "$4h(d + 1) + h^2$": lambda: 4 * h * (d + 1) + h * h, "$4(d + h + 1)$": lambda: 4 * (d + h + 1)}
    assert _matching("rnn-lstm-parameters", options, lstm) == _correct("rnn-lstm-parameters")
    assert bank()["rnn-gru-parameters"].answer is (gru * 4 == lstm * 3)


def test_fact_rnn_jacobian_product_shrinks_below_singular_value_one():
    rng = np.random.default_rng(4)
    w = rng.normal(size=(4, 4))
    w *= 0.9 / np.linalg.norm(w, 2)
    product = np.eye(4)
    for _ in range(30):
        a = rng.normal(size=4) * 3
        product = np.diag(1 - np.tanh(a) ** 2) @ w @ product
    assert np.linalg.norm(product, 2) <= 0.9**30
    # above 1 without explosion: saturated units
    big = 3 * np.eye(4)
    saturated = np.diag(1 - np.tanh(np.full(4, 6.0)) ** 2) @ big
    assert np.linalg.norm(np.linalg.matrix_power(saturated, 30), 2) < 1e-6


def test_fact_attention_scaling_and_mask_and_heads():
    rng = np.random.default_rng(5)
    d_k = 64
    dots = np.sum(rng.normal(size=(20000, d_k)) * rng.normal(size=(20000, d_k)), axis=1)
    assert np.var(dots) == pytest.approx(d_k, rel=0.05)
    assert np.var(dots / np.sqrt(d_k)) == pytest.approx(1, rel=0.05)
    scores = rng.normal(size=(4, 4))
    masked = np.where(np.triu(np.ones((4, 4)), 1) > 0, -np.inf, scores)
    weights = np.exp(masked - masked.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    assert np.allclose(weights.sum(axis=1), 1) and np.all(np.triu(weights, 1) == 0)
    assert weights[0, 0] == 1
    full = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    assert not np.allclose(np.tril(full).sum(axis=1), 1)  # zeroing after the softmax: rows < 1
    d_model, h = 512, 8
    multi = 3 * h * d_model * (d_model // h) + (h * (d_model // h)) * d_model
    single = 4 * d_model * d_model
    assert bank()["attn-multihead-parameters"].answer is (multi == single)


def test_fact_computation_graph_fork_and_gates():
    def f(x):
        return (x + 1) * (2 * x)

    slope = (f(2 + 1e-6) - f(2 - 1e-6)) / 2e-6
    assert _correct("cg-fork") == {f"${round(slope)}$"}
    assert slope == pytest.approx(round(slope), abs=1e-6)
    # gradients add at the fork: overwriting would give one path only
    assert bank()["cg-accumulate"].answer is False
    x, y, g, h = 1.5, -0.7, 2.0, 1e-6
    assert (((x + h) * y - (x - h) * y) / (2 * h)) * g == pytest.approx(g * y)
    assert (((x + h) + y - ((x - h) + y)) / (2 * h)) * g == pytest.approx(g)
    assert ((max(x + h, y) - max(x - h, y)) / (2 * h), (max(x, y + h) - max(x, y - h)) / (2 * h)) \
        == pytest.approx((1, 0))


def test_fact_logistic_gradient_by_finite_differences():
    rng = np.random.default_rng(6)
    x, w, b = rng.normal(size=3), rng.normal(size=3), 0.4
    sigma = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    for y in (0.0, 1.0):
        def loss(w):
            p = sigma(w @ x + b)
            return -y * np.log(p) - (1 - y) * np.log(1 - p)

        grad = np.array([(loss(w + e) - loss(w - e)) / 2e-6 for e in np.eye(3) * 1e-6])
        p = sigma(w @ x + b)
        options = {r"$(\hat{y} - y)\, x$": lambda: (p - y) * x, r"$(y - \hat{y})\, x$": lambda: (y - p) * x,
                   r"$(\hat{y} - y)\, \hat{y} (1 - \hat{y})\, x$": lambda: (p - y) * p * (1 - p) * x,
                   r"$\hat{y} (1 - \hat{y})\, x$": lambda: p * (1 - p) * x}
        assert _matching("logistic-gradient", options, grad, tol=1e-6) == _correct("logistic-gradient")


def test_fact_perceptron_stops_on_separable_data_for_any_rate():
    rng = np.random.default_rng(7)
    u = np.array([0.6, -0.8, 0.3])  # the last input is the constant 1 (the bias)
    x = np.column_stack([rng.uniform(-2, 2, size=(40, 2)), np.ones(40)])
    keep = np.abs(x @ u) > 0.2  # margin
    x, y = x[keep], np.where(x[keep] @ u > 0, 1, -1)
    mistakes = {}
    for eta in (0.01, 1.0, 7.0):
        w, count = np.zeros(3), 0
        for _ in range(200):  # epochs, far more than needed
            clean = True
            for xi, yi in zip(x, y):
                if yi * (w @ xi) <= 0:
                    w, count, clean = w + eta * yi * xi, count + 1, False
            if clean:
                break
        assert clean
        mistakes[eta] = count
    assert len(set(mistakes.values())) == 1  # from w = 0 the rate only rescales w
    assert bank()["perceptron-convergence"].answer is True


def test_fact_logistic_loss_on_separable_data_has_no_finite_minimizer():
    x = np.array([[-2.0], [-1.0], [1.0], [3.0]])
    y = np.array([0, 0, 1, 1])

    def loss(c):
        # -log sigma(+-z) = log(1 + e^(-+z)), evaluated without overflow
        return float(np.mean(np.logaddexp(0, -(2 * y - 1) * c * x[:, 0])))

    values = [loss(c) for c in (1, 2, 4, 8, 16)]
    assert all(b < a for a, b in zip(values, values[1:])) and values[-1] > 0
    assert bank()["logistic-separable"].answer is False


@pytest.mark.pdf
def test_every_course_topic_builds_to_pdf(tmp_path):
    import subprocess

    from conftest import require_tex
    from worksheetgen.cli import main

    require_tex()
    exercises = "".join(f'\n[[exercise]]\nfamily = "concepts"\npoints = 3\ntitle = "Concepts: {t}"\n'
                        f'params = {{ topics = ["{t}"], count = {min(26, len([q for q in new_questions().values() if t in q.topics]))} }}\n'
                        for t in COURSE_TOPICS)
    spec = tmp_path / "course.toml"
    spec.write_text('title = "Concepts"\ncourse = "Deep Neural Networks"\nseed = 4\n' + exercises,
                    encoding="utf-8")
    assert main(["build", str(spec), "--out", str(tmp_path), "--format", "pdf"]) == 0
    text = subprocess.run(["pdftotext", str(tmp_path / "course" / "solutions.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout
    assert "Answer: " in text and "Model answer:" in text
