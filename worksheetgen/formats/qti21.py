"""IMS QTI 2.1: an IMS content package (zip) with one assessmentItem per exercise and variant,
an assessmentTest that draws one variant per exercise, and the figures as SVG files.

Each value is a ``textEntryInteraction`` with its own ``float`` responseDeclaration (a matrix:
one per entry) scored by ``<equal toleranceMode="absolute">`` with the key's tolerance as an
absolute margin (exact for integers); a choice is a ``choiceInteraction`` (several right options:
``maxChoices="0"``, scored option by option as the key scores it); a Boolean a true/false choice;
a worded answer an ``extendedTextInteraction`` a person scores. An answer weighs what the grader gives it (the exercise's
points split evenly, or by part; SCORE adds them up, MAXSCORE is their sum); the worked
solution is a modal feedback shown after the attempt. Math stays TeX in ``\\(…\\)`` for a
MathJax-enabled player.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from worksheetgen.formats.lms import (
    LETTERS, Ask, Child, LmsFormat, Node, QuizQuestion, X, ident, math_label, matrix_table,
    number_text, slug, tex_math, text_el, xml_document, zip_bytes,
)

if TYPE_CHECKING:
    from worksheetgen.plan import Plan

QTI = "http://www.imsglobal.org/xsd/imsqti_v2p1"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
QTI_XSD = "http://www.imsglobal.org/xsd/qti/qtiv2p1/imsqti_v2p1p2.xsd"
CP = "http://www.imsglobal.org/xsd/imscp_v1p1"
CP_XSD = "http://www.imsglobal.org/xsd/qti/qtiv2p1/qtiv2p1_imscpv1p2_v1p0.xsd"
IMAGES = "images/"  # beside the items: no '../' in a package path


def qti_root(tag: str, attrs: dict[str, Any]) -> X:
    return X(tag, {"xmlns": QTI, "xmlns:xsi": XSI, "xsi:schemaLocation": f"{QTI} {QTI_XSD}", **attrs})


def xhtml(node: Child) -> Any:
    """The LMS tree in QTI's XHTML: the same element names; no style attributes."""
    if isinstance(node, X):  # built here already (interactions)
        return node
    if isinstance(node, str):
        return str(node)
    attrs = {k: v for k, v in node.attrs.items() if k in ("class", "src", "alt")}
    if node.tag == "img":
        attrs["src"] = IMAGES + attrs["src"]
        attrs.setdefault("alt", "")
    return X(node.tag, attrs, *(xhtml(c) for c in node.children))


class Qti21(LmsFormat):
    name = "qti21"
    description = "IMS QTI 2.1 content package (quiz-qti21.zip): an item per exercise and variant"
    suffix = "zip"

    def write(self, plan: "Plan", questions: list[QuizQuestion]) -> bytes:
        return zip_bytes(self.package(plan, questions))

    def package(self, plan: "Plan", questions: list[QuizQuestion]) -> dict[str, str]:
        """Path → text of every file in the package."""
        files: dict[str, str] = {}
        resources = []
        refs: dict[int, list[tuple[str, str]]] = {}
        for q in questions:
            identifier = self.item_id(q)
            href = f"items/{identifier}.xml"
            files[href] = xml_document(self.item(q, identifier))
            images = []
            for f in q.figures:
                files[f"items/{IMAGES}{f.name}"] = f.content
                images.append(X("file", {"href": f"items/{IMAGES}{f.name}"}))
            resources.append(X("resource", {"identifier": identifier, "type": "imsqti_item_xmlv2p1", "href": href},
                               X("file", {"href": href}), *images))
            refs.setdefault(q.index, []).append((identifier, href))
        files["test.xml"] = xml_document(self.test(plan, questions, refs))
        resources.insert(0, X("resource", {"identifier": "test", "type": "imsqti_test_xmlv2p1", "href": "test.xml"},
                              X("file", {"href": "test.xml"}),
                              *(X("dependency", {"identifierref": i}) for group in refs.values() for i, _ in group)))
        manifest = X("manifest", {"xmlns": CP, "xmlns:xsi": XSI, "xsi:schemaLocation": f"{CP} {CP_XSD}",
                                  "identifier": ident("M", plan.spec.name, plan.spec.seed)},
                     X("metadata", None, text_el("schema", "QTIv2.1 Package"), text_el("schemaversion", "1.0.0")),
                     X("organizations"), X("resources", None, *resources))
        files["imsmanifest.xml"] = xml_document(manifest)
        return files

    @staticmethod
    def item_id(q: QuizQuestion) -> str:
        return f"ex{q.index:02d}-{slug(q.variant.id)}"

    # -- the test: a section per exercise, one variant drawn from it ---------------------------------
    def test(self, plan: "Plan", questions: list[QuizQuestion], refs: dict[int, list[tuple[str, str]]]) -> X:
        titles = {q.index: q.title for q in questions}
        sections = [X("assessmentSection", {"identifier": f"S{index:02d}", "title": f"{index}. {titles[index]}",
                                            "visible": "true"},
                      X("selection", {"select": "1"}),
                      *(X("assessmentItemRef", {"identifier": i, "href": h}) for i, h in group))
                    for index, group in sorted(refs.items())]
        return qti_root("assessmentTest", {"identifier": ident("T", plan.spec.name, plan.spec.seed),
                                           "title": plan.spec.title or plan.spec.name}).add(
            X("outcomeDeclaration", {"identifier": "SCORE", "cardinality": "single", "baseType": "float"},
              X("defaultValue", None, text_el("value", "0"))),
            X("testPart", {"identifier": "P1", "navigationMode": "nonlinear", "submissionMode": "simultaneous"},
              *sections),
            X("outcomeProcessing", None,
              X("setOutcomeValue", {"identifier": "SCORE"},
                X("sum", None, X("testVariables", {"variableIdentifier": "SCORE"})))))

    # -- one item ---------------------------------------------------------------------------------------
    def item(self, q: QuizQuestion, identifier: str) -> X:
        declarations: list[X] = []
        interactions: list[Any] = [Node("h4", {}, ["Answers"])]
        rules: list[X] = []
        counter = iter(range(1, 10_000))

        def response(base: str, cardinality: str = "single", correct: list[str] | None = None) -> str:
            rid = f"RESPONSE_{next(counter)}"
            decl = X("responseDeclaration", {"identifier": rid, "cardinality": cardinality, "baseType": base})
            if correct:
                decl.add(X("correctResponse", None, *(text_el("value", v) for v in correct)))
            declarations.append(decl)
            return rid

        for a, share in zip(q.asks, map(float, q.answer_points)):
            label = math_label(a.label)
            if a.role == "numbers":
                def entry(i: int, j: int, a: Ask = a, share: float = share) -> X:
                    cell = next(c for c in a.cells if (c.row, c.col) == (i, j))
                    rid = response("float", correct=[number_text(cell.value)])
                    rules.append(_add_if(_equal(rid, cell.tolerance), share / len(a.cells)))
                    return X("textEntryInteraction", {"responseIdentifier": rid, "expectedLength": "12"})
                if a.shape is None:
                    interactions.append(X("p", None, label, " = ", entry(0, 0)))
                else:
                    interactions.append(X("p", None, label, " ="))
                    interactions.append(matrix_table(a.shape, entry))
            elif a.role in ("choice", "multi", "boolean"):
                interactions.append(self._choice(a, share, response, rules, label))
            else:
                rid = response("string")
                interactions.append(X("extendedTextInteraction", {"responseIdentifier": rid, "expectedLines": "4"},
                                      X("prompt", None, label, " (scored by your instructor)")))

        body = [xhtml(n) for n in q.problem.nodes] + [X("div", {"class": "answers"}, *(xhtml(n) for n in interactions))]
        rules.append(X("setOutcomeValue", {"identifier": "FEEDBACK"}, X("baseValue", {"baseType": "identifier"}, "SOLUTION")))
        return qti_root("assessmentItem", {"identifier": identifier, "title": q.name, "adaptive": "false",
                                           "timeDependent": "false"}).add(
            *declarations,
            X("outcomeDeclaration", {"identifier": "SCORE", "cardinality": "single", "baseType": "float"},
              X("defaultValue", None, text_el("value", "0"))),
            X("outcomeDeclaration", {"identifier": "MAXSCORE", "cardinality": "single", "baseType": "float"},
              X("defaultValue", None, text_el("value", number_text(q.points)))),
            X("outcomeDeclaration", {"identifier": "FEEDBACK", "cardinality": "single", "baseType": "identifier"}),
            X("itemBody", None, *body),
            X("responseProcessing", None, *rules),
            X("modalFeedback", {"outcomeIdentifier": "FEEDBACK", "identifier": "SOLUTION", "showHide": "show",
                                "title": "Worked solution"}, *(xhtml(n) for n in q.solution.nodes)))

    def _choice(self, a: Ask, share: float, response: Any, rules: list[X], label: str) -> X:
        if a.role == "boolean":
            ids, texts = ["true", "false"], ["True", "False"]
            right = [0 if a.entry["exact"] else 1]
        else:
            ids, texts = list(LETTERS[: len(a.options)]), a.options
            right = a.correct
        multi = a.role == "multi"
        rid = response("identifier", "multiple" if multi else "single", [ids[i] for i in right])
        if multi:
            # The key scores a multi-select option by option: each option classified right earns
            # its part, an empty response included (then every option is "not chosen").
            for i, option in enumerate(ids):
                chosen = X("member", None, _identifier(option), X("variable", {"identifier": rid}))
                test = chosen if i in right else X("or", None, X("isNull", None, X("variable", {"identifier": rid})),
                                                   X("not", None, chosen))
                rules.append(_add_if(test, share / len(ids)))
        else:
            rules.append(_add_if(X("match", None, X("variable", {"identifier": rid}), X("correct", {"identifier": rid})),
                                 share))
        prompt = [label] + ([" (select every option that applies)"] if multi else [])
        return X("choiceInteraction", {"responseIdentifier": rid, "shuffle": "false", "maxChoices": "0" if multi else "1"},
                 X("prompt", None, *prompt),
                 *(X("simpleChoice", {"identifier": i}, tex_math(t, "a choice option")) for i, t in zip(ids, texts)))


def _identifier(value: str) -> X:
    return X("baseValue", {"baseType": "identifier"}, value)


def _equal(rid: str, tolerance: float) -> X:
    attrs = ({"toleranceMode": "exact"} if tolerance == 0 else
             {"toleranceMode": "absolute", "tolerance": f"{number_text(tolerance)} {number_text(tolerance)}"})
    return X("equal", attrs, X("variable", {"identifier": rid}), X("correct", {"identifier": rid}))


def _add_if(test: X, points: float) -> X:
    return X("responseCondition", None, X("responseIf", None, test, X("setOutcomeValue", {"identifier": "SCORE"},
             X("sum", None, X("variable", {"identifier": "SCORE"}), X("baseValue", {"baseType": "float"}, number_text(points))))))
