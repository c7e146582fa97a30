"""Multiple choice does not give itself away (issue 10): over the concept bank and over 200 draws
of each family with choices (concepts, lr_curves, activation_match), the correct option of a
choice with k >= 3 options is the unique longest option, as the quality gate measures length (TeX
commands and spaces dropped), at a rate of at most mean(1/k) + 0.10; the longest option of a
select-all question is a correct one no more often than the share of correct options (+ 0.10);
"none of these" is the answer at most a quarter of the times it is offered; no option repeats
another. Planted biased questions show that each bound bites."""

from __future__ import annotations

import re
from statistics import mean

import pytest

from helpers import instance
from worksheetgen.answers import ChoiceAnswer
from worksheetgen.exercises.concept import load_bank
from worksheetgen.qualitygate import (LONGEST_MARGIN, NONE_OF_THESE_BOUND, correct_is_longest,
                                      is_none_of_these, visible_length)

Choice = tuple[tuple[str, ...], int]  # option texts, index of the correct one


def longest_rate(choices: list[Choice]) -> tuple[float, float]:
    """(rate at which the correct option is the unique longest, the gate's bound) over the
    choices with at least three options."""
    eligible = [(options, c) for options, c in choices if len(options) >= 3]
    assert eligible
    rate = sum(correct_is_longest(options, c) for options, c in eligible) / len(eligible)
    return rate, mean(1 / len(options) for options, _ in eligible) + LONGEST_MARGIN


def multi_longest_rate(questions: list[tuple[tuple[str, ...], set[int]]]) -> tuple[float, float]:
    """Select-all questions with a unique longest option: (rate at which it is a correct one,
    the share of correct options + 0.10): guessing "the longest applies" must gain nothing."""
    rated = []
    for options, right in questions:
        lengths = [visible_length(o) for o in options]
        top = max(lengths)
        if lengths.count(top) == 1:
            rated.append((lengths.index(top) in right, len(right) / len(options)))
    assert rated
    return mean(hit for hit, _ in rated), mean(share for _, share in rated) + LONGEST_MARGIN


def bank_singles() -> list[Choice]:
    return [(tuple(c.text for c in q.choices), next(i for i, c in enumerate(q.choices) if c.correct))
            for q in load_bank()[0].values() if q.kind == "single"]


def bank_multis() -> list[tuple[tuple[str, ...], set[int]]]:
    return [(tuple(c.text for c in q.choices), {i for i, c in enumerate(q.choices) if c.correct})
            for q in load_bank()[0].values() if q.kind == "multi"]


def padded(choices: list[Choice], extra: str) -> list[Choice]:
    """The same questions with ``extra`` appended to every correct option: the bias the check
    is for (a key written more carefully, and so longer, than its distractors)."""
    return [(tuple(o + extra if i == c else o for i, o in enumerate(options)), c) for options, c in choices]


# -- the bank ---------------------------------------------------------------------------------

def test_the_bank_keys_are_not_predictably_the_longest_option():
    rate, bound = longest_rate(bank_singles())
    assert rate <= bound, (rate, bound)
    # Measured when the bank's options were rewritten: 0 of 25 (was 8 of 25, the 7 seed
    # questions turned into choices among them, with keys up to three times the distractors').
    assert rate <= 0.10


def test_the_bank_select_all_questions_do_not_key_their_longest_option():
    rate, bound = multi_longest_rate(bank_multis())
    assert rate <= bound, (rate, bound)


def test_the_bound_bites_on_planted_biased_questions():
    biased = padded(bank_singles(), ", which is exactly why this answer holds in every case")
    rate, bound = longest_rate(biased)
    assert rate > bound
    # one biased question alone: always the longest, against a bound of 1/4 + 0.10
    rate, bound = longest_rate(biased[:1])
    assert rate == 1 and bound == pytest.approx(0.35)
    multis = [(tuple(o + " in every case that can arise" if i in right else o for i, o in enumerate(options)),
               right) for options, right in bank_multis()]
    rate, bound = multi_longest_rate(multis)
    assert rate > bound


def test_length_is_measured_as_printed():
    # TeX commands, braces, dollars and spaces do not show: $\frac{\partial L}{\partial w}$
    # counts as "Lw", 2 characters, not 31.
    assert visible_length(r"$\frac{\partial L}{\partial w}$") == 2
    assert visible_length(r"$\frac{1}{2}$ of it") == len("12ofit")
    assert correct_is_longest(("aaa", "bb", "c"), 0)
    assert not correct_is_longest(("aaa", "bbb", "c"), 0)  # a tie is not a giveaway


def _visible(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def test_no_option_repeats_another_and_none_of_these_is_rarely_the_answer():
    questions = load_bank()[0]
    offered = keyed = 0
    for qid, q in questions.items():
        texts = [_visible(c.text) for c in q.choices]
        assert len(set(texts)) == len(texts), qid
        if any(is_none_of_these(c.text) for c in q.choices):
            offered += 1
            keyed += any(c.correct and is_none_of_these(c.text) for c in q.choices)
    assert keyed <= NONE_OF_THESE_BOUND * max(offered, 1)


# -- draws of every family with choices -------------------------------------------------------

FAMILIES = ["concepts", "lr_curves", "activation_match"]


def drawn_choices(family: str, n: int, **params) -> list[Choice]:
    out = []
    for seed in range(n):
        for a in instance(family, seed=seed, **params).solved.answers:
            if isinstance(a, ChoiceAnswer):
                assert len(set(a.options)) == len(a.options), (family, seed, a.key)
                out.append((a.options, a.correct))
    return out


FAST_PARAMS = {"concepts": {"questions": ["l2-update", "cg-fork"]}}  # no figure to draw


@pytest.mark.parametrize("family", FAMILIES)
def test_one_draw_per_family_is_measured(family):
    # the fast guard that every family here asks choices the rate can be measured on
    assert drawn_choices(family, 1, **FAST_PARAMS.get(family, {}))


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_longest_option_rate_over_200_draws(family):
    choices = drawn_choices(family, 200)
    rate, bound = longest_rate(choices)
    assert rate <= bound, (family, rate, bound)
    nones = [(o, c) for o, c in choices if any(is_none_of_these(t) for t in o)]
    if nones:
        assert sum(is_none_of_these(o[c]) for o, c in nones) / len(nones) <= NONE_OF_THESE_BOUND
