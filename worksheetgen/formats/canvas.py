"""Canvas (classic quizzes): a QTI 1.2 zip Canvas imports (Settings → Import course content →
QTI .zip file), one quiz per variant (a student's own version is assigned to that student).

Canvas has no multi-part numeric question, so an exercise becomes a run of questions: its
statement as a ``text_only_question`` (figures included), then one question per value - a
``numerical_question`` per number and per matrix entry (an exact value with the key's tolerance
as a margin), a ``multiple_choice_question`` per choice, a ``multiple_answers_question`` per
multi-select (when no option applies: a ``true_false_question`` per option), a
``true_false_question`` per Boolean and an ``essay_question`` per worded answer. An answer is
worth what the grader gives it (the exercise's points split evenly, or by part). The worked solution is the general feedback of
the exercise's last question. Layout follows Canvas's own export (and text2qti): an
``assessment_meta.xml`` beside each quiz, images as ``$IMS-CC-FILEBASE$/images/…`` files listed
in the manifest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from worksheetgen.formats.lms import (
    LETTERS, Ask, Html, LmsFormat, Node, QuizQuestion, X, ident, math_label, number_text,
    plain_label, tex_math, text_el, to_html, xml_document, zip_bytes,
)

if TYPE_CHECKING:
    from worksheetgen.plan import Plan, Variant

QTI12 = "http://www.imsglobal.org/xsd/ims_qtiasiv1p2"
QTI12_XSD = "http://www.imsglobal.org/xsd/ims_qtiasiv1p2p1.xsd"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
CCCV = "http://canvas.instructure.com/xsd/cccv1p0"
CP = "http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1"
FILEBASE = "%24IMS-CC-FILEBASE%24/images/"  # Canvas's token for the imported files, URL-escaped


def _points(x: float) -> str:
    return f"{x:.4f}".rstrip("0").rstrip(".") or "0"


class Canvas(LmsFormat):
    name = "canvas"
    description = "Canvas classic-quiz QTI 1.2 package (quiz-canvas.zip): a quiz per variant"
    suffix = "zip"

    def write(self, plan: "Plan", questions: list[QuizQuestion]) -> bytes:
        return zip_bytes(self.package(plan, questions))

    def package(self, plan: "Plan", questions: list[QuizQuestion]) -> dict[str, str]:
        files: dict[str, str] = {}
        resources: list[X] = []
        variants: dict[str, list[QuizQuestion]] = {}
        order: list["Variant"] = []
        for q in questions:
            if q.variant.id not in variants:
                order.append(q.variant)
            variants.setdefault(q.variant.id, []).append(q)
        for variant in order:
            members = variants[variant.id]
            quiz = ident("g", plan.spec.name, plan.spec.seed, "quiz", variant.id, length=32)
            meta = ident("g", plan.spec.name, plan.spec.seed, "meta", variant.id, length=32)
            title = plan.spec.title or plan.spec.name
            if len(order) > 1:
                title = f"{title} ({members[0].variant_name})"
            files[f"{quiz}/{quiz}.xml"] = xml_document(self.assessment(quiz, title, members))
            files[f"{quiz}/assessment_meta.xml"] = xml_document(
                self.meta(quiz, title, plan.spec.instructions, sum(q.points for q in members)))
            resources.append(X("resource", {"identifier": quiz, "type": "imsqti_xmlv1p2"},
                               X("file", {"href": f"{quiz}/{quiz}.xml"}), X("dependency", {"identifierref": meta})))
            resources.append(X("resource", {"identifier": meta, "href": f"{quiz}/assessment_meta.xml",
                                            "type": "associatedcontent/imscc_xmlv1p1/learning-application-resource"},
                               X("file", {"href": f"{quiz}/assessment_meta.xml"})))
            for q in members:
                for f in q.figures:
                    if f"images/{f.name}" not in files:
                        files[f"images/{f.name}"] = f.content
                        resources.append(X("resource", {"identifier": ident("f", f.name), "type": "webcontent",
                                                        "href": f"images/{f.name}"},
                                           X("file", {"href": f"images/{f.name}"})))
        manifest = X("manifest", {"identifier": ident("g", plan.spec.name, plan.spec.seed, "manifest", length=32),
                                  "xmlns": CP, "xmlns:xsi": XSI,
                                  "xsi:schemaLocation": f"{CP} http://www.imsglobal.org/xsd/imscp_v1p1.xsd"},
                     X("metadata", None, text_el("schema", "IMS Content"), text_el("schemaversion", "1.1.3")),
                     X("organizations"), X("resources", None, *resources))
        files["imsmanifest.xml"] = xml_document(manifest)
        return files

    def meta(self, quiz: str, title: str, description: str, points: float) -> X:
        """Canvas's quiz settings (assessment_meta.xml): an unpublished graded quiz, answers
        not shuffled (the letters in the statement refer to the printed order)."""
        fields = [("title", title), ("description", to_html([Node("p", {}, [description])]) if description else ""), ("shuffle_answers", "false"),
                  ("scoring_policy", "keep_highest"), ("quiz_type", "assignment"), ("points_possible", _points(points)),
                  ("show_correct_answers", "true"), ("allowed_attempts", "1"), ("one_question_at_a_time", "false"),
                  ("cant_go_back", "false"), ("available", "false")]
        return X("quiz", {"identifier": quiz, "xmlns": CCCV, "xmlns:xsi": XSI,
                          "xsi:schemaLocation": f"{CCCV} https://canvas.instructure.com/xsd/cccv1p0.xsd"},
                 *(text_el(k, v) for k, v in fields))

    def assessment(self, quiz: str, title: str, members: list[QuizQuestion]) -> X:
        section = X("section", {"ident": "root_section"})
        for q in members:
            section.add(*self.items(q))
        return X("questestinterop", {"xmlns": QTI12, "xmlns:xsi": XSI, "xsi:schemaLocation": f"{QTI12} {QTI12_XSD}"},
                 X("assessment", {"ident": quiz, "title": title},
                   X("qtimetadata", None, _field("cc_maxattempts", "1")), section))

    # -- the questions of one exercise ----------------------------------------------------------------
    def items(self, q: QuizQuestion) -> list[X]:
        key = (q.index, q.variant.id)
        out = [_item(ident("g", *key, "stem", length=32), f"{q.number}. {q.title}", "text_only_question", 0,
                     self._html(q.problem), [])]
        for a, share in zip(q.asks, map(float, q.answer_points)):
            out.extend(self._answer_items(q, a, share, key))
        _feedback(out[-1], self._html(q.solution))  # the worked solution, once submitted
        return out

    def _html(self, content: Html) -> str:
        return to_html(content.nodes, lambda name: FILEBASE + name)

    def _answer_items(self, q: QuizQuestion, a: Ask, share: float, key: tuple[Any, ...]) -> list[X]:
        title = f"{q.number}. {plain_label(a.label)}"
        label = math_label(a.label)
        base = (*key, a.answer.key)
        if a.role == "numbers":
            items = []
            for c in a.cells:
                where = _entry_name(a.shape, c.row, c.col)
                items.append(_numerical(ident("g", *base, c.row, c.col, length=32),
                                        f"{title} ({where})" if where else title, share / len(a.cells),
                                        to_html([Node("p", {}, [label, f", {where}" if where else ""])]),
                                        c.value, c.tolerance))
            return items
        if a.role == "choice":
            return [_choice(ident("g", *base, length=32), title, share, to_html([Node("p", {}, [label])]),
                            a.options, a.correct, multiple=False)]
        if a.role == "multi":
            if a.correct:
                return [_choice(ident("g", *base, length=32), title, share,
                                to_html([Node("p", {}, [label, " (select every option that applies)"])]),
                                a.options, a.correct, multiple=True)]
            return [_choice(ident("g", *base, i, length=32), f"{title} {LETTERS[i]}", share / len(a.options),
                            to_html([Node("p", {}, [label, f": does option {LETTERS[i]} apply? ",
                                                    tex_math(o, "a choice option")])]),
                            ["True", "False"], [1], multiple=False, kind="true_false_question")
                    for i, o in enumerate(a.options)]
        if a.role == "boolean":
            return [_choice(ident("g", *base, length=32), title, share, to_html([Node("p", {}, [label])]),
                            ["True", "False"], [0 if a.entry["exact"] else 1], multiple=False,
                            kind="true_false_question")]
        ident_ = ident("g", *base, length=32)
        return [_item(ident_, title, "essay_question", share, to_html([Node("p", {}, [label])]),
                      [X("response_str", {"ident": "response1", "rcardinality": "Single"},
                         X("render_fib", None, X("response_label", {"ident": "answer1", "rshuffle": "No"})))],
                      [X("respcondition", {"continue": "No"}, X("conditionvar", None, X("other")))])]


def _entry_name(shape: tuple[int, int] | None, row: int, col: int) -> str:
    if shape is None:
        return ""
    if shape[1] == 1:
        return f"entry {row + 1}"
    if shape[0] == 1:
        return f"entry {col + 1}"
    return f"row {row + 1}, column {col + 1}"


def _field(label: str, entry: str) -> X:
    return X("qtimetadatafield", None, text_el("fieldlabel", label), text_el("fieldentry", entry))


def _item(identifier: str, title: str, kind: str, points: float, text: str, responses: list[X],
          conditions: list[X] | None = None, answer_ids: str = "") -> X:
    item = X("item", {"ident": identifier, "title": title},
             X("itemmetadata", None, X("qtimetadata", None,
                                       _field("question_type", kind), _field("points_possible", _points(points)),
                                       _field("original_answer_ids", answer_ids),
                                       _field("assessment_question_identifierref", identifier + "r"))),
             X("presentation", None, X("material", None, text_el("mattext", text, {"texttype": "text/html"})), *responses))
    if conditions is not None:
        item.add(X("resprocessing", None,
                   X("outcomes", None, X("decvar", {"maxvalue": "100", "minvalue": "0", "varname": "SCORE",
                                                     "vartype": "Decimal"})),
                   *conditions))
    return item


def _full_score(condition: X) -> X:
    return X("respcondition", {"continue": "No"}, X("conditionvar", None, condition),
             X("setvar", {"action": "Set", "varname": "SCORE"}, "100"))


def _numerical(identifier: str, title: str, points: float, text: str, value: float, margin: float) -> X:
    answer = identifier + "a"
    condition = X("or", None, X("varequal", {"respident": "response1"}, number_text(value)),
                  X("and", None, X("vargte", {"respident": "response1"}, number_text(value - margin)),
                    X("varlte", {"respident": "response1"}, number_text(value + margin))))
    return _item(identifier, title, "numerical_question", points, text,
                 [X("response_str", {"ident": "response1", "rcardinality": "Single"},
                    X("render_fib", {"fibtype": "Decimal"}, X("response_label", {"ident": answer})))],
                 [_full_score(condition)], answer)


def _choice(identifier: str, title: str, points: float, text: str, options: list[str], correct: list[int],
            multiple: bool, kind: str = "") -> X:
    ids = [f"{identifier}{LETTERS[i].lower()}" for i in range(len(options))]
    labels = [X("response_label", {"ident": i},
                X("material", None, text_el("mattext", to_html([tex_math(o, "a choice option")]), {"texttype": "text/html"})))
              for i, o in zip(ids, options)]
    if multiple:
        condition = X("and", None, *(X("varequal", {"respident": "response1"}, i) if k in correct else
                                     X("not", None, X("varequal", {"respident": "response1"}, i))
                                     for k, i in enumerate(ids)))
    else:
        condition = X("varequal", {"respident": "response1"}, ids[correct[0]])
    return _item(identifier, title, kind or ("multiple_answers_question" if multiple else "multiple_choice_question"),
                 points, text,
                 [X("response_lid", {"ident": "response1", "rcardinality": "Multiple" if multiple else "Single"},
                    X("render_choice", None, *labels))],
                 [_full_score(condition)], ",".join(ids))


def _feedback(item: X, solution_html: str) -> None:
    """The worked solution as the item's general feedback (shown once the quiz is submitted)."""
    show = X("respcondition", {"continue": "Yes"}, X("conditionvar", None, X("other")),
             X("displayfeedback", {"feedbacktype": "Response", "linkrefid": "general_fb"}))
    processing = next((c for c in item.children if isinstance(c, X) and c.tag == "resprocessing"), None)
    if processing is None:
        processing = X("resprocessing", None, X("outcomes", None, X("decvar", {"maxvalue": "100", "minvalue": "0",
                                                                              "varname": "SCORE", "vartype": "Decimal"})))
        item.add(processing)
    processing.children.insert(1, show)
    item.add(X("itemfeedback", {"ident": "general_fb"},
               X("flow_mat", None, X("material", None, text_el("mattext", solution_html, {"texttype": "text/html"})))))
