"""Conceptual questions from the bank worksheetgen/data/concepts.toml (family ``concepts``).

Multiple choice (one or several correct), true/false and short-answer questions taken from the
seed sheets, each with a worked explanation for the solution sheet. A spec picks questions by id,
topic, seed source or kind and draws ``count`` of the matching ones; the choices of every drawn
question are shuffled with the exercise's random stream (options marked ``last``, such as "None
of the above", stay last), and the key follows the shuffle: a letter, or the sorted list of
letters for select-all-that-apply questions. The answers carry the option texts in printed
order and the template prints them from there, so the sheet and the key cannot disagree.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from worksheetgen.answers import (Answer, BooleanAnswer, ChoiceAnswer, MultiChoiceAnswer,
                                  TextAnswer)
from worksheetgen.errors import WorksheetError
from worksheetgen.family import Family, Record, Solved
from worksheetgen.figures import Figure, Panel, plot_grid
from worksheetgen.params import Bool, Choice, Int, ListOf, Param, Text

BANK_PATH = Path(__file__).resolve().parent.parent / "data" / "concepts.toml"
KINDS = ("single", "multi", "truefalse", "short")
LETTERS = "ABCDEFGHIJ"
MAX_QUESTIONS = 26  # the parts of an exercise are lettered (a) to (z)


@dataclass(frozen=True)
class Option:
    text: str
    correct: bool = False
    last: bool = False


@dataclass(frozen=True)
class Question:
    id: str
    source: tuple[str, ...]
    topics: tuple[str, ...]
    kind: str
    prompt: str
    explanation: str
    choices: tuple[Option, ...] = ()
    answer: bool | None = None
    model: str = ""
    context: str = ""
    figure: str = ""


class BankError(ValueError):
    """The bank file itself is malformed (a bug in the package data, not user input)."""


@lru_cache(maxsize=None)
def load_bank(path: str = str(BANK_PATH)) -> tuple[dict[str, Question], dict[str, str]]:
    """(questions by id in file order, context texts by id); checks the bank's own rules."""
    raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    contexts = {k: v["text"] for k, v in raw.get("context", {}).items()}
    questions: dict[str, Question] = {}
    for entry in raw.get("question", []):
        qid = entry.get("id", "?")
        allowed = {"id", "source", "topics", "kind", "prompt", "explanation", "choices", "answer",
                   "model", "context", "figure"}
        if set(entry) - allowed:
            raise BankError(f"question {qid}: unknown fields {sorted(set(entry) - allowed)}")
        if qid in questions:
            raise BankError(f"question id {qid} appears twice")
        kind = entry.get("kind")
        if kind not in KINDS:
            raise BankError(f"question {qid}: kind must be one of {KINDS}")
        choices = tuple(Option(c["text"], bool(c.get("correct", False)), bool(c.get("last", False)))
                        for c in entry.get("choices", []))
        correct = sum(c.correct for c in choices)
        if kind == "single" and (len(choices) < 2 or correct != 1):
            raise BankError(f"question {qid}: a single-choice question needs one correct choice")
        if kind == "multi" and (len(choices) < 2 or correct < 1):
            raise BankError(f"question {qid}: a multi-choice question needs a correct choice")
        if kind in ("single", "multi") and len(choices) > len(LETTERS):
            raise BankError(f"question {qid}: at most {len(LETTERS)} choices")
        if kind == "truefalse" and not isinstance(entry.get("answer"), bool):
            raise BankError(f"question {qid}: a true/false question needs answer = true/false")
        if kind == "short" and not entry.get("model"):
            raise BankError(f"question {qid}: a short-answer question needs a model answer")
        if entry.get("context") and entry["context"] not in contexts:
            raise BankError(f"question {qid}: unknown context {entry['context']}")
        if entry.get("figure") and entry["figure"] not in FIGURES:
            raise BankError(f"question {qid}: unknown figure {entry['figure']}")
        questions[qid] = Question(
            qid, tuple(entry.get("source", [])), tuple(entry.get("topics", [])), kind,
            entry["prompt"].strip(), entry["explanation"].strip(), choices,
            entry.get("answer"), entry.get("model", "").strip(), entry.get("context", ""),
            entry.get("figure", ""))
    return questions, contexts


# -- figures that bank questions show ----------------------------------------------------------


def activation_graphs() -> Figure:
    """Seed 003 Ex3: sigmoid, tanh, ReLU, identity (solid) and their derivatives (dashed)."""
    z = np.linspace(-4, 4, 161)
    sig = 1 / (1 + np.exp(-z))
    th = np.tanh(z)
    relu_grad = np.where(z > 0, 1.0, 0.0)
    relu_grad[np.isclose(z, 0)] = np.nan  # the jump: no vertical line through it
    spec = [
        (r"\text{sigmoid}", sig, sig * (1 - sig), (-0.25, 1.25)),
        (r"\tanh", th, 1 - th**2, (-1.25, 1.25)),
        (r"\text{ReLU}", np.maximum(z, 0), relu_grad, (-0.5, 2.5)),
        (r"\text{identity}", z, np.ones_like(z), (-2.5, 2.5)),
    ]
    panels = [Panel([("g(z)", z, g, "solid"), ("g'(z)", z, dg, "dashed")], title=title,
                    xlabel="z", xlim=(-4, 4), ylim=ylim, legend="north west")
              for title, g, dg, ylim in spec]
    return plot_grid(panels, columns=2, name="activation_graphs", width=5.2, height=3.0)


SEED_NETWORKS = {"target": "cubic", "data_seed": 7, "hidden": 20, "points": 100,
                 "order": ["identity", "relu", "sigmoid"]}
SEED_CURVES = {"rates": [0.4, 2e-5, 8e-3, 3e-4], "noise_seed": 1}  # curves A, B, C, D


def activation_networks_seed() -> Figure:
    """Seed 003 Ex3 (e): networks 1, 2, 3 with identity, ReLU, sigmoid (the seed's answer)."""
    from worksheetgen.exercises import activation_match as am

    s = SEED_NETWORKS
    x, y = am.make_data(s["target"], s["points"], s["data_seed"])
    slopes, biases = am.hidden_layer(s["hidden"], s["data_seed"])
    grid = np.linspace(-am.X_RANGE, am.X_RANGE, am.GRID)
    curves = []
    for name in s["order"]:
        v, c = am.fit(name, x, y, slopes, biases)
        curves.append(am.learned_curve(name, grid, slopes, biases, v, c))
    return am.activation_figure(x, y, grid, curves, [r"\text{Network 1}", r"\text{Network 2}",
                                                     r"\text{Network 3}"],
                                name="activation_networks_seed")


def lr_curves_seed() -> Figure:
    """Seed 002 Q1.4: SGD loss curves with the seed's rates, A = 0.4, B = 2e-5, C = 8e-3,
    D = 3e-4 (the seed's answer)."""
    from worksheetgen.exercises import lr_curves as lc

    curves = lc.simulate(SEED_CURVES["rates"], SEED_CURVES["noise_seed"])
    its = np.arange(lc.STEPS + 1)
    panels = [Panel([("", its, curves[k], "solid")], title=letter, xlabel=r"\text{iteration}",
                    ylabel=r"\text{loss}", xlim=(-lc.STEPS / 25, lc.STEPS), ylim=(0, lc.Y_MAX),
                    legend="none")
              for k, letter in enumerate("ABCD")]
    return plot_grid(panels, columns=2, name="lr_curves_seed", width=5.2, height=3.0)


FIGURES = {
    "activation_graphs": activation_graphs,
    "activation_networks_seed": activation_networks_seed,
    "lr_curves_seed": lr_curves_seed,
}


@lru_cache(maxsize=None)
def bank_figure(name: str) -> Figure:
    return FIGURES[name]()


# -- the family ----------------------------------------------------------------------------------


def matching(options: dict[str, Any]) -> list[Question]:
    """Bank questions selected by the options (ids in the order given, else bank order)."""
    questions, _ = load_bank()
    if options["questions"]:
        chosen = [questions[q] for q in options["questions"]]
    else:
        chosen = list(questions.values())
    if options["topics"]:
        chosen = [q for q in chosen if set(q.topics) & set(options["topics"])]
    if options["sources"]:
        chosen = [q for q in chosen
                  if any(s == p or s.startswith(p + " ") or s.startswith(p + "(")
                         for s in q.source for p in options["sources"])]
    if options["kinds"]:
        chosen = [q for q in chosen if q.kind in options["kinds"]]
    return chosen


def shuffled(question: Question, order: tuple[int, ...]) -> list[Option]:
    return [question.choices[i] for i in order]


@dataclass(frozen=True)
class ConceptsGiven(Record):
    questions: tuple[str, ...]  # bank ids, in the order asked
    orders: tuple[tuple[int, ...], ...]  # per question: bank indices of its choices as printed


@dataclass(frozen=True)
class ConceptItem(Record):
    """One asked question. Its choices are printed from the answer ``key`` (ex.answers[key])."""

    q: Question
    key: str
    contexts: tuple[str, ...]  # shared context texts first shown with this question
    figures: tuple[Figure, ...]  # bank figures first shown with this question


@dataclass(frozen=True)
class ConceptsData(Record):
    questions: tuple[ConceptItem, ...]


class Concepts(Family):
    name = "concepts"
    Given = ConceptsGiven
    Data = ConceptsData
    title = "Concepts"
    summary = ("Multiple-choice, true/false and short-answer questions from the seed sheets' "
               "conceptual questions, with worked explanations; choices shuffled per variant.")
    params = (
        Param("questions", ListOf(Text(80)), [], "question ids (see worksheetgen/data/concepts.toml); "
              "empty: the whole bank"),
        Param("topics", ListOf(Text(80)), [], "keep questions with one of these topics"),
        Param("sources", ListOf(Text(80)), [], "keep questions from these seed questions, e.g. "
              "\"002\", \"003 Ex4\", \"002 Q1.5\""),
        Param("kinds", ListOf(Choice(KINDS)), [], "keep questions of these kinds"),
        Param("count", Int(1, MAX_QUESTIONS), None,
              "how many of the matching questions to draw, 1 to 26 (default: all listed ids, "
              "else 3)"),
        Param("shuffle", Bool(), True, "shuffle the choices of every question"),
    )

    def validate(self, options: dict[str, Any]) -> None:
        questions, _ = load_bank()
        for qid in options["questions"]:
            if qid not in questions:
                raise WorksheetError(f"no question {qid!r} in the bank", field="questions",
                                     allowed=", ".join(questions))
        if len(set(options["questions"])) != len(options["questions"]):
            raise WorksheetError("a question id is listed twice", field="questions",
                                 allowed="distinct ids")
        topics = sorted({t for q in questions.values() for t in q.topics})
        for topic in options["topics"]:
            if topic not in topics:
                raise WorksheetError(f"no topic {topic!r}", field="topics", allowed=", ".join(topics))
        found = matching(options)
        if not found:
            raise WorksheetError("no question matches these filters", field="questions",
                                 allowed="ids, topics, sources and kinds that some question has")
        if options["count"] is not None and options["count"] > len(found):
            raise WorksheetError(f"only {len(found)} questions match", field="count",
                                 allowed=f"1 to {len(found)}")
        if options["count"] is None and options["questions"] and len(found) > MAX_QUESTIONS:
            raise WorksheetError(f"{len(found)} questions would be asked in one exercise",
                                 field="questions",
                                 allowed=f"at most {MAX_QUESTIONS} (parts (a) to (z)): "
                                         "list fewer ids, or set count")

    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> ConceptsGiven:
        found = matching(options)
        count = options["count"]
        if count is None:
            count = len(found) if options["questions"] else min(3, len(found))
        if count < len(found):
            picked = sorted(int(i) for i in rng.choice(len(found), size=count, replace=False))
            found = [found[i] for i in picked]
        orders = []
        for q in found:
            free = [i for i, c in enumerate(q.choices) if not c.last]
            fixed = [i for i, c in enumerate(q.choices) if c.last]
            if options["shuffle"] and len(free) > 1:
                free = [free[int(k)] for k in rng.permutation(len(free))]
            orders.append(tuple(free + fixed))
        return ConceptsGiven(tuple(q.id for q in found), tuple(orders))

    def solve(self, given: ConceptsGiven) -> Solved:
        questions, contexts = load_bank()
        items: list[ConceptItem] = []
        answers: list[Answer] = []
        context_ids: list[str] = []
        figure_ids: list[str] = []
        for n, (qid, order) in enumerate(zip(given.questions, given.orders), start=1):
            q = questions[qid]
            key = f"q{n}"
            part = "abcdefghijklmnopqrstuvwxyz"[n - 1]
            label = rf"\text{{({part})}}"  # students see labels in LMS prompts: no internal ids
            if q.kind in ("single", "multi"):
                shown = shuffled(q, order)
                texts = tuple(c.text for c in shown)
                correct = tuple(k for k, c in enumerate(shown) if c.correct)
                if q.kind == "single":
                    answers.append(ChoiceAnswer(key, label, options=texts, correct=correct[0], part=n))
                else:
                    answers.append(MultiChoiceAnswer(key, label, options=texts, correct=correct, part=n))
            elif q.kind == "truefalse":
                answers.append(BooleanAnswer(key, label, bool(q.answer), part=n))
            else:
                answers.append(TextAnswer(key, label, q.model, part=n))
            # A shared context or figure is shown once, with the first question that uses it.
            new_contexts, new_figures = [], []
            if q.context and q.context not in context_ids:
                context_ids.append(q.context)
                new_contexts.append(contexts[q.context])
            if q.figure and q.figure not in figure_ids:
                figure_ids.append(q.figure)
                new_figures.append(bank_figure(q.figure))
            items.append(ConceptItem(q, key, tuple(new_contexts), tuple(new_figures)))
        figures = [bank_figure(f) for f in figure_ids]
        return Solved(answers, ConceptsData(tuple(items)), figures)

    def check(self, given: ConceptsGiven) -> dict[str, Any]:
        # Re-read the bank file as plain TOML and find, in the shuffled list of choice texts,
        # where the texts marked correct ended up.
        raw = tomllib.loads(BANK_PATH.read_text(encoding="utf-8"))
        by_id = {entry["id"]: entry for entry in raw["question"]}
        out: dict[str, Any] = {}
        for n, (qid, order) in enumerate(zip(given.questions, given.orders), start=1):
            entry = by_id[qid]
            if entry["kind"] in ("single", "multi"):
                texts = [entry["choices"][i]["text"] for i in order]
                right = {c["text"] for c in entry["choices"] if c.get("correct")}
                letters = [LETTERS[k] for k, text in enumerate(texts) if text in right]
                out[f"q{n}"] = letters[0] if entry["kind"] == "single" else letters
            elif entry["kind"] == "truefalse":
                out[f"q{n}"] = entry["answer"]
            else:
                out[f"q{n}"] = entry["model"].strip()
        return out
