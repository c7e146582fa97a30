"""The pipeline end to end through the CLI: reproducibility, stable streams, bad input, atomicity."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import require_tex
from worksheetgen import pdf
from worksheetgen.cli import main

ROOT = Path(__file__).resolve().parent.parent

SPEC = """
title = "Week 1"
course = "Deep Neural Networks"
seed = 7

[[exercise]]
family = "forward_pass"
points = 4

[[exercise]]
family = "scalar_chain"
points = 3
"""


def write(tmp_path, text, name="sheet.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.pdf
def test_build_writes_every_format_and_is_byte_identical(tmp_path, capsys):
    require_tex()
    spec = write(tmp_path, SPEC)
    assert main(["build", str(spec), "--out", str(tmp_path / "a")]) == 0
    assert main(["build", str(spec), "--out", str(tmp_path / "b")]) == 0
    a, b = digests(tmp_path / "a" / "sheet"), digests(tmp_path / "b" / "sheet")
    assert set(a) == {"problems.tex", "solutions.tex", "problems.md", "solutions.md",
                      "problems.pdf", "solutions.pdf", "key.json", "figures/forward_pass-network.svg"}
    assert a == b
    # Rebuilding over an existing build replaces it in place, same bytes.
    assert main(["build", str(spec), "--out", str(tmp_path / "a")]) == 0
    assert digests(tmp_path / "a" / "sheet") == a
    assert not list((tmp_path / "a").glob(".*")), "no staging folders left behind"


@pytest.mark.pdf
def test_pdf_shows_every_exercise(tmp_path):
    require_tex()
    spec = write(tmp_path, SPEC)
    assert main(["build", str(spec), "--out", str(tmp_path), "--format", "pdf"]) == 0
    text = subprocess.run(["pdftotext", str(tmp_path / "sheet" / "solutions.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout
    assert "Forward propagation" in text and "Backpropagation through a two-layer chain" in text
    assert "Solution" in text
    problems = subprocess.run(["pdftotext", str(tmp_path / "sheet" / "problems.pdf"), "-"],
                              capture_output=True, text=True, check=True).stdout
    assert "Solution" not in problems


def test_adding_an_exercise_keeps_the_others_numbers(tmp_path):
    spec = write(tmp_path, SPEC)
    longer = write(tmp_path, SPEC + '\n[[exercise]]\nfamily = "backprop"\n', "longer.toml")
    assert main(["build", str(spec), "--out", str(tmp_path), "--format", "json"]) == 0
    assert main(["build", str(longer), "--out", str(tmp_path), "--format", "json"]) == 0
    short = json.loads((tmp_path / "sheet" / "key.json").read_text())
    long = json.loads((tmp_path / "longer" / "key.json").read_text())
    assert long["exercises"][:2] == short["exercises"]
    assert len(long["exercises"]) == 3


def test_variants_get_their_own_folders_and_numbers(tmp_path):
    spec = write(tmp_path, SPEC)
    assert main(["build", str(spec), "--out", str(tmp_path), "--variants", "3", "--format", "md,json"]) == 0
    keys = [json.loads((tmp_path / "sheet" / f"v0{i}" / "key.json").read_text()) for i in (1, 2, 3)]
    assert len({json.dumps(k["exercises"][0]["given"]) for k in keys}) == 3
    assert (tmp_path / "sheet" / "v02" / "problems.md").read_text().count("Variant 2") >= 1
    # Variant 1 of a multi-variant build is the single-variant sheet.
    assert main(["build", str(spec), "--out", str(tmp_path / "single"), "--format", "json"]) == 0
    single = json.loads((tmp_path / "single" / "sheet" / "key.json").read_text())
    assert single["exercises"] == keys[0]["exercises"]


def test_key_holds_exact_float_shown_and_tolerance(tmp_path):
    spec = write(tmp_path, """
title = "Seed 001 Q4"
[[exercise]]
family = "scalar_chain"
params = { w1 = 2, w2 = 3, x = -1, y = -1.4255 }
""")
    assert main(["build", str(spec), "--out", str(tmp_path), "--format", "json"]) == 0
    key = json.loads((tmp_path / "sheet" / "key.json").read_text())
    a1 = key["exercises"][0]["answers"][0]
    assert a1["key"] == "a1" and a1["exact"] == "exp(-2) - 1"
    assert a1["float"] == pytest.approx(-0.8646647167633873)
    assert a1["shown"] == "-0.8647"
    assert a1["tolerance"] == {"kind": "decimals", "digits": 4}  # one unit of the 4th decimal
    assert key["tolerance"]["rounding"] == "decimals" and key["tolerance"]["explicit"] is False
    assert key["exercises"][0]["given"]["y"] == -1.4255


BAD_SPECS = [
    ('title = "x"\n[[exercise]]\nfamily = "forward_pass"\nparams = { layers = [2, 2, 2 }\n', "malformed TOML"),
    ('title = "x"\n[[exercise]]\nfamily = "backprob"\n', "exercise[1].family: unknown exercise family 'backprob'"),
    ('title = "x"\n[[exercise]]\nfamily = "forward_pass"\nparams = { layer = [2, 2] }\n', "exercise[1].params.layer: unknown parameter"),
    ('title = "x"\n[[exercise]]\nfamily = "forward_pass"\nparams = { layers = "big" }\n', "exercise[1].params.layers: invalid value"),
    ('title = "x"\n[[exercise]]\nfamily = "forward_pass"\nparams = { layers = [2, 2, 2], weights = [[[1, 2]], [[1]]] }\n', "exercise[1].params.weights[1]"),
    ('title = "x"\n[[exercise]]\nfamily = "forward_pass"\nparams = { activation = "swish" }\n', "allowed: one of identity, relu"),
    ('title = "x"\nsedd = 3\n[[exercise]]\nfamily = "forward_pass"\n', "sedd: unknown key"),
    ('course = "x"\n[[exercise]]\nfamily = "forward_pass"\n', "title: missing"),
    ('title = "x"\n', "exercise: no exercises"),
    ('title = "Woche 1 \u6f22\u5b57"\n[[exercise]]\nfamily = "forward_pass"\n', "title: character '\u6f22' (U+6F22) cannot be typeset"),
    ('title = "x"\nseed = -1\n[[exercise]]\nfamily = "forward_pass"\n', "seed: invalid value -1"),
    ('title = "x"\n[[exercise]]\nfamily = "forward_pass"\npoints = "six"\n', "exercise[1].points"),
    ('title = "x"\n[[exercise]]\nfamily = "scalar_chain"\nparams = { weight_grid = [1, 0, 0.5] }\n', "exercise[1].params.weight_grid"),
    ('title = "x"\n[[exercise]]\nfamily = "forward_pass"\nparams = { x = [0, 0], weights = [[[0, 0], [0, 0], [0, 0]], [[0, 0], [0, 0], [0, 0]]], y = [0, 0], activation = "relu", weight_grid = [0, 0, 1] }\n', None),
]


@pytest.mark.parametrize("text, expected", BAD_SPECS)
def test_bad_spec_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, text, expected):
    spec = write(tmp_path, text)
    out = tmp_path / "out"
    code = main(["build", str(spec), "--out", str(out)])
    err = capsys.readouterr().err
    if expected is None:  # a fully pinned all-zero net is what the instructor asked for
        assert code == 0
        return
    assert code == 2
    assert err.count("\n") == 1, err
    assert err.startswith(f"worksheetgen: error: {spec}"), err
    assert expected in err
    assert not out.exists() or not any(out.iterdir())


def test_impossible_constraint_stops_with_its_name(tmp_path, capsys):
    # Every weight drawn from {-1 ... -0.1} with positive inputs: every ReLU unit dies, always.
    spec = write(tmp_path, 'title = "x"\n[[exercise]]\nfamily = "forward_pass"\n'
                 'params = { weight_grid = [-1, -0.1, 0.1], input_grid = [1, 3, 1] }\n')
    assert main(["build", str(spec), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "no draw met the constraint 'not every ReLU unit of a hidden layer dead'" in err
    assert "exercise[1].params" in err


def test_user_text_is_escaped_before_latex(tmp_path):
    spec = write(tmp_path, 'title = "\\\\input{/etc/passwd} 100% $x$"\ncourse = "A & B_1 #2"\n'
                 '[[exercise]]\nfamily = "scalar_chain"\ntitle = "~^ {}"\n')
    assert main(["build", str(spec), "--out", str(tmp_path), "--format", "tex,md"]) == 0
    tex = (tmp_path / "sheet" / "problems.tex").read_text()
    assert r"\textbackslash{}input\{/etc/passwd\} 100\% \$x\$" in tex
    assert r"A \& B\_1 \#2" in tex
    assert "\\input{/etc/passwd}" not in tex
    md = (tmp_path / "sheet" / "problems.md").read_text()
    assert "\\$x\\$" in md


def test_check_disagreement_stops_the_build_and_writes_nothing(tmp_path, capsys, monkeypatch):
    from worksheetgen.exercises.scalar_chain import ScalarChain

    original = ScalarChain.check

    def wrong(self, given):
        values = original(self, given)
        values["dL_dw1"] += 1e-6
        return values

    monkeypatch.setattr(ScalarChain, "check", wrong)
    spec = write(tmp_path, SPEC)
    assert main(["build", str(spec), "--out", str(tmp_path / "out")]) == 3
    err = capsys.readouterr().err
    assert "answer 'dL_dw1'" in err and "sheet seed 7" in err
    assert not (tmp_path / "out" / "sheet").exists()


@pytest.mark.pdf
def test_failure_during_typesetting_leaves_no_half_build(tmp_path, monkeypatch):
    require_tex()
    spec = write(tmp_path, SPEC)
    out = tmp_path / "out"
    assert main(["build", str(spec), "--out", str(out), "--format", "json"]) == 0
    before = digests(out / "sheet")

    def boom(path, timeout=300):
        raise KeyboardInterrupt

    monkeypatch.setattr(pdf, "compile_pdf", boom)
    assert main(["build", str(spec), "--out", str(out)]) == 130
    assert digests(out / "sheet") == before, "the previous complete build is untouched"
    assert sorted(p.name for p in out.iterdir()) == ["sheet"]


@pytest.mark.pdf
def test_tex_errors_show_the_log_and_shell_escape_is_off(tmp_path):
    require_tex()
    bad = tmp_path / "bad.tex"
    bad.write_text("\\documentclass{article}\\begin{document}\\undefinedmacro\\end{document}\n")
    with pytest.raises(Exception) as err:
        pdf.compile_pdf(bad)
    assert "Undefined control sequence" in str(err.value)
    hostile = tmp_path / "hostile.tex"
    hostile.write_text("\\documentclass{article}\\begin{document}\\immediate\\write18{touch pwned}"
                       "x\\end{document}\n")
    pdf.compile_pdf(hostile)
    assert not (tmp_path / "pwned").exists()


def test_cli_list_preview_stress(capsys):
    assert main(["list"]) == 0
    listing = capsys.readouterr().out
    assert "forward_pass: Forward propagation" in listing
    assert "layers = [2, 2, 2]" in listing
    assert main(["preview", "backprop", "--seed", "3", "--set", "activation=tanh"]) == 0
    shown = capsys.readouterr().out
    assert "## Solution" in shown and "\\tanh" in shown
    assert main(["stress", "scalar_chain", "--n", "30"]) == 0
    report = capsys.readouterr().out
    assert "30/30 seeds passed" in report and "distinct instances: 30 of 30" in report
    assert main(["preview", "backprop", "--set", "layers=[2]"]) == 2
    assert "--set.layers" in capsys.readouterr().err


def test_module_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "worksheetgen", "--version"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0 and "worksheetgen" in result.stdout


def test_without_tex_the_text_formats_are_written_with_a_hint(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(pdf, "tex_available", lambda: False)
    spec = write(tmp_path, SPEC)
    assert main(["build", str(spec), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "no TeX engine found" in err and "apt-get install texlive" in err
    files = set(digests(tmp_path / "out" / "sheet"))
    assert {"problems.tex", "solutions.md", "key.json"} <= files
    assert not any(name.endswith(".pdf") for name in files)
    # Asking for PDFs explicitly without TeX is an error that writes nothing.
    assert main(["build", str(spec), "--out", str(tmp_path / "out2"), "--format", "pdf"]) == 2
    assert not (tmp_path / "out2" / "sheet").exists()
