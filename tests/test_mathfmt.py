import sympy as sp

from worksheetgen import mathfmt as mf


def test_exact_decimals_print_exactly():
    assert mf.num(sp.Rational(97, 200)) == "0.485"
    assert mf.num(sp.Rational(-3, 2)) == "-1.5"
    assert mf.num(sp.Integer(0)) == "0"
    assert mf.num(sp.Rational(959, 2000)) == "0.4795"
    assert mf.num(sp.Rational(1, 10**6), 6) == "0.000001"


def test_rounding_is_half_up_to_decimal_places():
    assert mf.num(sp.Rational(1, 3)) == "0.3333"
    assert mf.num(sp.Rational(2, 3)) == "0.6667"
    assert mf.num(sp.exp(-2) - 1) == "-0.8647"
    assert mf.num(sp.Float("-0.0646372", 30)) == "-0.0646"
    assert mf.num(sp.Rational(1, 3), 2) == "0.33"


def test_significant_digits_when_asked():
    assert mf.num(sp.Float("-0.0646372", 30), 4, "significant") == "-0.06464"
    assert mf.num(sp.pi / 10**7, 4, "significant") == "3.142 \\times 10^{-7}"
    assert mf.num(sp.Float("-0.00000000001", 30), 4, "significant") == "-1.000 \\times 10^{-11}"
    assert mf.rounded(sp.pi / 10**7, 4, "significant") == "3.142e-7"


def test_closed_forms_beside_decimals():
    assert mf.value(sp.exp(-2) - 1) == "e^{-2} - 1 \\approx -0.8647"
    assert mf.value(3 * (sp.exp(-2) - 1)) == "3 e^{-2} - 3 \\approx -2.5940"
    assert mf.value(sp.Rational(1, 3)) == "\\frac{1}{3} \\approx 0.3333"
    assert mf.value(sp.sqrt(sp.Rational(50, 3))) == "\\frac{5 \\sqrt{6}}{3} \\approx 4.0825"
    assert mf.value(sp.log(2)) == "\\ln{\\left(2 \\right)} \\approx 0.6931"
    assert mf.equals(sp.Rational(1, 2)) == "= 0.5"
    assert mf.relation(sp.Rational(1, 3)) == "\\approx"


def test_matrices_and_signs():
    assert mf.matrix(sp.Matrix([[sp.Rational(1, 10), -2], [0, sp.Rational(1, 3)]])) == (
        "\\begin{bmatrix} 0.1 & -2 \\\\ 0 & 0.3333 \\end{bmatrix}")
    assert mf.pnum(-1) == "(-1)"
    assert mf.signed(sp.Rational(-1, 2)) == "- 0.5"


def test_latex_escape_neutralises_commands():
    assert mf.latex_escape(r"\input{/etc/passwd}") == r"\textbackslash{}input\{/etc/passwd\}"
    assert mf.latex_escape(r"$\def$") == r"\$\textbackslash{}def\$"
    assert mf.latex_escape("50% & #1 a_b ^ ~") == r"50\% \& \#1 a\_b \textasciicircum{} \textasciitilde{}"
    assert mf.latex_escape("Zoë O'Brien") == "Zoë O'Brien"
    assert mf.latex_escape("a\nb\x00") == "a b "
    # SymPy 1.14's latex_escape emits \textbackslashb for \b, which does not compile.
    assert mf.latex_escape("\\b") == "\\textbackslash{}b"


def test_markdown_escape():
    assert mf.markdown_escape("*x* $y$ <b>") == "\\*x\\* \\$y\\$ \\<b\\>"


def test_huge_values_switch_to_scientific_notation():
    assert mf.num(sp.exp(1000)) == "1.970 \\times 10^{434}"
    assert mf.num(sp.Rational(10**13, 3)) == "3.333 \\times 10^{12}"
    assert mf.num(sp.Float("9.99996e-6", 30), 4, "significant") == "1.000 \\times 10^{-5}"
    assert mf.num(sp.Integer(10**20)) == "100000000000000000000"  # exact integers stay exact


def test_latex_escape_keeps_typed_pairs_apart():
    # T1 fonts would print -- as an en dash and '' as a closing quote: a name prints as typed.
    assert mf.latex_escape("DROP TABLE--") == "DROP TABLE-{}-"
    assert mf.latex_escape("''a'' ,,b !`") == "'{}'a'{}' ,{},b !{}`"
