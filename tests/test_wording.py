"""Student-facing wording: no sheet mentions seeds, exercise families or the tool, and no
template glues punctuation together (".;", ",,", ".."). The forbidden words are the quality
gate's (worksheetgen.qualitygate: the same pattern, read past markup such as an SVG's
font-family attribute, over the same text formats), so this test and
``worksheetgen stress F --quality`` agree. Every family is rendered in every text format on 20
draws with its default parameters (slow; one draw in the fast subset), and every question of the
concept bank in every format."""

import re

import pytest

from worksheetgen.exercises.concept import MAX_QUESTIONS, load_bank
from worksheetgen.instance import Instance, make_instance
from worksheetgen.params import parse_params
from worksheetgen.qualitygate import FORBIDDEN, _text_formats, forbidden_words
from worksheetgen.registry import get_family, load_families

# Words a student must not meet: the sheets the bank was written from ("seed 004"), the
# generator's own vocabulary ("exercise family") and its name: the gate's pattern.
FORBIDDEN_WORDS = FORBIDDEN
# Doubled punctuation left by joining texts: ".;" and ",,", and exactly two full stops (an
# ellipsis "..." or "\ldots" is fine).
DOUBLED = re.compile(r"\.;|,,|(?<!\.)\.\.(?!\.)")

FAMILIES = sorted(load_families())
TEXT_FORMATS = _text_formats()  # one per template folder, as the gate renders them
FORMATS = tuple(f.name for f in TEXT_FORMATS)
SEEDS = range(20)


def offences(text: str) -> list[str]:
    """Each forbidden word (as the gate finds it) or doubled punctuation in ``text``, with some
    context around it."""
    found = forbidden_words(text)
    for hit in DOUBLED.finditer(text):
        found.append(text[max(0, hit.start() - 60):hit.end() + 30])
    return found


def draw(name: str, seed: int, **params) -> Instance:
    family = get_family(name)
    options = parse_params(family.params, params, validate=family.validate)
    return make_instance(family, options, sheet_seed=seed)


def assert_clean(inst: Instance, formats: tuple[str, ...] = FORMATS) -> None:
    assert not offences(inst.title), (inst.family.name, inst.title)
    for fmt in TEXT_FORMATS:
        if fmt.name not in formats:
            continue
        problem, solution = fmt.render_exercise(inst)
        for part, text in (("problem", problem), ("solution", solution)):
            bad = offences(text)
            assert not bad, (inst.family.name, inst.sheet_seed, fmt.name, part, bad)


def test_the_patterns_catch_what_they_should_and_nothing_else():
    for text in ("as seed 004 does", "Seeds differ", "(A separate exercise family draws ...)",
                 "Families", "see worksheetgen", "the generator", "made by the tool", "one.; two",
                 "a,, b", "end.."):
        assert offences(text), text
    for text in ("an ellipsis ... here", r"$1, \ldots, n$", "lr_curves_seed.svg", "seeded",
                 "one; two.", "$x_1, x_2$.", '<text font-family="serif">A</text>', "familiar",
                 "the tools of the trade"):
        assert not offences(text), text


def test_every_text_format_is_checked():
    # the gate's formats: one per template folder (LaTeX, Markdown, HTML, the LMS text)
    assert {"tex", "md", "html"} <= set(FORMATS)


def test_bank_text_has_no_forbidden_words():
    questions, contexts = load_bank()
    for qid, q in questions.items():
        texts = [q.prompt, q.explanation, q.model] + [c.text for c in q.choices]
        for text in texts:
            assert not offences(text), (qid, offences(text))
    for cid, text in contexts.items():
        assert not offences(text), (cid, offences(text))


def bank_chunks() -> list[list[str]]:
    ids = list(load_bank()[0])
    return [ids[start:start + MAX_QUESTIONS] for start in range(0, len(ids), MAX_QUESTIONS)]


@pytest.mark.parametrize("chunk", range(len(bank_chunks())))
def test_every_bank_question_renders_clean(chunk):
    assert_clean(draw("concepts", 3, questions=bank_chunks()[chunk]), ("md", "tex"))


@pytest.mark.slow
@pytest.mark.parametrize("chunk", range(len(bank_chunks())))
def test_every_bank_question_renders_clean_in_every_format(chunk):
    assert_clean(draw("concepts", 3, questions=bank_chunks()[chunk]))


@pytest.mark.parametrize("qid", ["vanishing-gradient-fixes", "activation-vanishing"])
def test_a_multi_select_answer_prints_each_correct_option_whole_on_its_own_line(qid):
    # vanishing-gradient-fixes: every option a sentence with its full stop; activation-vanishing:
    # single words. Joined on one line, the sentences' full stops used to print ".;".
    inst = draw("concepts", 1, questions=[qid])
    answer = inst.answers["q1"]
    assert len(answer.correct) > 1
    by_name = {f.name: f for f in TEXT_FORMATS}
    for fmt, item in (("md", "- **{}.** {}"), ("tex", "\\item \\textbf{{{}.}} {}")):
        lines = by_name[fmt].render_exercise(inst)[1].split("\n")
        for letter, i in zip(answer.value, answer.correct):
            assert item.format(letter, answer.options[i]) in lines, (fmt, letter)
        assert not any(DOUBLED.search(line) for line in lines), fmt


# The fast sample: one draw of each family, in one format each, taking turns, so that every
# format's macros are read on the way (the slow test renders 20 draws in every format). Left to the
# slow test: activation_table, whose first draw derives every activation's properties
# symbolically (about a second, once per process).
FAST = [name for name in FAMILIES if name != "activation_table"]


@pytest.mark.parametrize(("name", "fmt"), [(name, FORMATS[i % len(FORMATS)])
                                           for i, name in enumerate(FAST)])
def test_every_family_renders_clean(name, fmt):
    assert_clean(draw(name, 0), (fmt,))


@pytest.mark.slow
@pytest.mark.parametrize("name", FAMILIES)
def test_every_family_renders_clean_many_seeds(name):
    for seed in SEEDS:  # problem and solution, every text format, the title
        assert_clean(draw(name, seed))
