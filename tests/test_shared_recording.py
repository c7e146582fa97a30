"""The text formats render a family template once and play the recording with their own macros
(worksheetgen.formats._Recording): the text must be what rendering the template directly in
each format gives, for each instance and rounding mode."""

import pytest

from helpers import instance
from worksheetgen import mathfmt
from worksheetgen.formats import Format, get_format
from worksheetgen.registry import load_families


def direct(name: str) -> Format:
    """The format rendering its templates directly, as without a recording."""
    cls = type(get_format(name))
    return type(f"Direct{cls.__name__}", (cls,), {"name": "", "shares_recording": False})()


@pytest.mark.parametrize("family", sorted(load_families()))
def test_played_text_is_the_directly_rendered_text(family):
    ex = instance(family, seed=3)
    for name in ("tex", "md", "html"):
        assert get_format(name).render_exercise(ex) == direct(name).render_exercise(ex), name


def test_each_instance_and_rounding_mode_has_its_own_recording():
    first, second = instance("scalar_chain", seed=1), instance("scalar_chain", seed=2)
    tex = get_format("tex")
    texts = [tex.render_exercise(first), tex.render_exercise(second)]
    assert texts[0] != texts[1]
    assert [get_format("md").render_exercise(e) for e in (first, second)] == [
        direct("md").render_exercise(e) for e in (first, second)]
    with mathfmt.rounding_mode(mathfmt.SIGNIFICANT):
        significant = tex.render_exercise(first)
        assert significant == direct("tex").render_exercise(first)
    assert significant != texts[0]
    assert tex.render_exercise(first) == texts[0]


def test_a_list_changed_after_a_macro_call_is_played_as_it_was():
    # rnn's template, for vector states, goes on appending to a list it has passed to m.align
    ex = instance("rnn", parts=["forward"], W_hh=[[0.5, -0.2], [0.1, 0.3]], W_xh=[[1], [-0.5]], b=[0.1, 0],
                  xs=[1, -1], y=[0.2, -0.4], entry=[1, 2])
    assert get_format("md").render_exercise(ex) == direct("md").render_exercise(ex)
