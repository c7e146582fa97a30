"""A family's template may read only what the family declares.

Templates read the givens as ``g.<name>`` and the solution data as ``d.<name>``. The names are
collected once per family from the template's syntax tree (Jinja's own parser, including the
helpers it imports) and compared with the fields of the family's ``Given`` and ``Data``
dataclasses, so a misspelt name fails the first time the family solves, naming the template and
the name, rather than when some later build renders it.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from typing import Any

import jinja2
from jinja2 import nodes

from worksheetgen.errors import CheckError
from worksheetgen.resources import template_dir

ROOTS = ("g", "d")


@lru_cache(maxsize=None)
def _environment() -> jinja2.Environment:
    from worksheetgen.formats import jinja_options  # the parser settings of the real environments

    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(template_dir())), **jinja_options())


@lru_cache(maxsize=None)
def template_reads(template: str) -> dict[str, frozenset[str]]:
    """{'g': names, 'd': names} read by a template and the templates it imports."""
    env = _environment()
    found: dict[str, set[str]] = {root: set() for root in ROOTS}
    seen: set[str] = set()

    def walk(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        source = env.loader.get_source(env, name)[0]  # type: ignore[union-attr]
        tree = env.parse(source)
        for node in tree.find_all(nodes.Getattr):
            if isinstance(node.node, nodes.Name) and node.node.name in ROOTS:
                found[node.node.name].add(node.attr)
        for node in tree.find_all(nodes.Getitem):
            if (isinstance(node.node, nodes.Name) and node.node.name in ROOTS
                    and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str)):
                found[node.node.name].add(node.arg.value)
        for node in tree.find_all((nodes.Import, nodes.FromImport, nodes.Include)):
            target = node.template
            if isinstance(target, nodes.Const) and str(target.value).startswith("exercises/"):
                walk(str(target.value))

    walk(template)
    return {root: frozenset(names) for root, names in found.items()}


@lru_cache(maxsize=None)
def _checked(family_cls: type, given_cls: type, data_cls: type) -> None:
    reads = template_reads(family_cls().template)
    for root, cls, what in (("g", given_cls, "Given"), ("d", data_cls, "Data")):
        declared = {f.name for f in dataclasses.fields(cls)}
        missing = sorted(reads[root] - declared)
        if missing:
            raise CheckError(f"{family_cls.name}: the template reads {root}.{missing[0]}, which "
                             f"{family_cls.__name__}.{what} does not declare ({', '.join(sorted(declared))})")


def check_solved(family: Any, given: Any, solved: Any) -> None:
    """The family returned its declared records, and its template reads only their fields."""
    given_cls, data_cls = family.Given, family.Data
    if given_cls is None or data_cls is None:
        raise CheckError(f"{family.name}: declares no Given/Data records")
    if not isinstance(given, given_cls):
        raise CheckError(f"{family.name}: sample() returned {type(given).__name__}, not {given_cls.__name__}")
    if not isinstance(solved.data, data_cls):
        raise CheckError(f"{family.name}: solve() returned data {type(solved.data).__name__}, "
                         f"not {data_cls.__name__}")
    _checked(type(family), given_cls, data_cls)
