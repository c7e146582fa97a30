"""The html format: one self-contained page per sheet or variant, KaTeX inlined, figures as SVG.

The page test opens the pages of a sheet holding every family in headless Chromium (Debian's
`chromium`) and reads back, from the rendered page itself, that every formula was typeset by
KaTeX without an error, that no `$` was left in the prose, and that every figure is drawn.
Chromium must be installed (`apt-get install chromium`); a missing browser fails the test.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from worksheetgen.build import build
from worksheetgen.formats import get_format
from worksheetgen.formats.html import KATEX_DIR, finish, inline_svg, katex_css, protect
from worksheetgen.registry import load_families
from worksheetgen.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent
MACRO = re.compile(r"\(\(\* macro (\w+)\(")


def macro_names(folder: str) -> set[str]:
    return set(MACRO.findall((ROOT / "templates" / "formats" / folder / "macros.j2").read_text(encoding="utf-8")))


def test_macros_are_the_markdown_vocabulary():
    assert macro_names("html") == macro_names("markdown")


def test_finish_escapes_prose_and_turns_dollars_into_math():
    text = finish("If $a < b$ & $x^2 \\geq 0$ then <b>bold</b> costs \\$5." + protect("<em>kept</em>"))
    assert text == ('If <span class="math">a &lt; b</span> &amp; <span class="math">x^2 \\geq 0</span> then '
                    '&lt;b&gt;bold&lt;/b&gt; costs $5.<em>kept</em>')


def test_user_text_is_escaped_and_never_math():
    fmt = get_format("html")
    assert finish(fmt.escape("</title><script>alert(1)</script> $x$ & co")) == (
        "&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt; $x$ &amp; co")


def test_display_math_is_escaped_in_its_element():
    fmt = get_format("html")
    out = finish(str(fmt.macros().align(["a &= b < c", "&= d"])))
    assert out == '<div class="math display">\\begin{aligned}\na &amp;= b &lt; c \\\\\n&amp;= d\n\\end{aligned}</div>'


def test_katex_is_vendored_with_its_licence_and_every_font_inlined():
    licence = (KATEX_DIR / "LICENSE").read_text(encoding="utf-8")
    assert "MIT License" in licence and "Khan Academy" in licence
    css = katex_css()
    faces = re.findall(r"@font-face\{[^}]*\}", css)
    assert len(faces) == len(list((KATEX_DIR / "fonts").glob("*.woff2"))) == 20
    assert all("url(data:font/woff2;base64," in f and "url(fonts/" not in f for f in faces)


def test_figures_get_ids_of_their_own():
    from worksheetgen.figures import network_diagram

    fig = network_diagram([2, 2, 1], bias=True)
    svg = inline_svg(fig)
    assert svg.startswith("<svg ") and 'id="arrow"' not in svg
    ids = re.findall(r'id="([^"]+)"', svg)
    assert ids and all(f"url(#{i})" in svg for i in ids)


# -- pages -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A sheet of every registered family (default parameters) as pages, and its instances."""
    out = tmp_path_factory.mktemp("html")
    lines = ['title = "Every family"', 'course = "Deep Neural Networks"', 'seed = 2026', ""]
    for name in sorted(load_families()):
        lines += ["[[exercise]]", f'family = "{name}"', "points = 4", ""]
    spec_path = out / "course.toml"
    spec_path.write_text("\n".join(lines), encoding="utf-8")
    result = build(load_spec(spec_path), out, formats=["html"])
    return out / "course", result


def test_pages_are_self_contained(course):
    folder, result = course
    assert sorted(p.name for p in folder.iterdir()) == ["problems.html", "solutions.html"]
    for page in folder.iterdir():
        text = page.read_text(encoding="utf-8")
        assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", text), "nothing fetched at view time"
        assert "url(fonts/" not in text and "@import" not in text
        assert "\ue000" not in text and "\ue001" not in text
    solutions = (folder / "solutions.html").read_text(encoding="utf-8")
    for inst in result.variants[0].instances:
        for fig in inst.solved.figures:
            assert inline_svg(fig) in solutions, f"{inst.family.name}: figure {fig.name} missing"


def test_solutions_only_on_the_solutions_page(course):
    folder, _ = course
    assert 'class="solution"' not in (folder / "problems.html").read_text(encoding="utf-8")
    assert (folder / "solutions.html").read_text(encoding="utf-8").count('<div class="solution">') == len(
        load_families())


def test_exam_page_shows_the_student_escaped(tmp_path):
    spec = load_spec(ROOT / "examples" / "exam.toml")
    build(spec, tmp_path, formats=["html"], only="S001")
    page = (tmp_path / "exam" / "S001" / "problems.html").read_text(encoding="utf-8")
    assert "Amélie Dubois" in page and "<code>S001</code>" in page and "Question 1:" in page
    assert 'class="solution"' not in page


# -- in a browser --------------------------------------------------------------------------------------

# Appended to a copy of a page (after its own render script): what the reader sees, as JSON.
PROBE = """<script>
window.addEventListener("load", function () { document.fonts.ready.then(function () {
  var maths = Array.prototype.slice.call(document.querySelectorAll(".math"));
  var errors = Array.prototype.slice.call(document.querySelectorAll(".katex-error, .math-error"));
  var figures = Array.prototype.slice.call(document.querySelectorAll("figure.figure > svg"));
  var dollars = [], walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT), node;
  while ((node = walker.nextNode())) {
    if (!node.parentElement.closest(".katex, script, style") && node.nodeValue.indexOf("$") >= 0)
      dollars.push(node.nodeValue.slice(0, 80));
  }
  var report = {
    math: maths.length,
    typeset: maths.filter(function (m) { var k = m.querySelector(".katex"); return k && k.getBoundingClientRect().width > 0; }).length,
    errors: errors.map(function (e) { return (e.getAttribute("title") || "") + " :: " + e.textContent.slice(0, 120); }),
    figures: figures.map(function (s) { var b = s.getBoundingClientRect(); return [b.width, b.height, s.querySelectorAll("line, path, circle, polyline, text").length]; }),
    dollars: dollars,
    fonts: (function () {
      var faces = [];
      document.fonts.forEach(function (f) { faces.push(f.family + " " + f.weight + " " + f.style + ": " + f.status); });
      return faces;
    })()
  };
  var pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(report);
  document.body.appendChild(pre);
}); });
</script>"""


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("headless Chromium is missing: apt-get install chromium (.ci/run installs it)")


def browse(page: Path, profile: Path, *args: str) -> str:
    done = subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
         f"--user-data-dir={profile}", "--virtual-time-budget=10000", *args, page.as_uri()],
        capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def probe(text: str, tmp_path: Path, name: str) -> dict:
    """What Chromium shows of a page (``text``), as the probe reports it."""
    page = tmp_path / f"{name}.html"
    page.write_text(text.replace("</body>", PROBE + "\n</body>"), encoding="utf-8")
    dom = browse(page, tmp_path / "profile", "--dump-dom")
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, "the page's scripts did not run"
    return json.loads(html.unescape(found.group(1)))


@pytest.mark.slow
@pytest.mark.parametrize("view", ["problems", "solutions"])
def test_every_formula_and_figure_renders_in_chromium(course, tmp_path, view):
    folder, result = course
    text = (folder / f"{view}.html").read_text(encoding="utf-8")
    report = probe(text, tmp_path, view)
    assert report["errors"] == [], report["errors"][:5]
    assert report["math"] > 100 and report["typeset"] == report["math"], "every formula typeset by KaTeX"
    assert report["dollars"] == [], "a $ left in the prose: math that was not recognised"
    fonts = report["fonts"]
    assert "KaTeX_Main 400 normal: loaded" in fonts and "KaTeX_Math 400 italic: loaded" in fonts, fonts
    assert not [f for f in fonts if not f.endswith(("loaded", "unloaded"))], "a font failed or is still loading"
    figures = text.count('<figure class="figure">')
    if view == "solutions":
        assert figures >= sum(len(i.solved.figures) for i in result.variants[0].instances)
    assert len(report["figures"]) == figures
    for width, height, marks in report["figures"]:
        assert width > 50 and height > 50 and marks > 3, "a figure is drawn"


@pytest.mark.slow
def test_the_probe_sees_a_broken_formula_and_a_stray_dollar(course, tmp_path):
    folder, _ = course
    text = (folder / "problems.html").read_text(encoding="utf-8")
    broken = text.replace("</main>", '<p><span class="math">\\frac{1}{</span> costs $5</p></main>')
    report = probe(broken, tmp_path, "broken")
    assert len(report["errors"]) == 1 and "ParseError" in report["errors"][0]
    assert report["dollars"] == [" costs $5"]


@pytest.mark.slow
def test_screenshot_of_a_page(course, tmp_path):
    folder, _ = course
    shot = tmp_path / "page.png"
    browse(folder / "solutions.html", tmp_path / "profile", "--window-size=900,2400", f"--screenshot={shot}")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000, "a page with content, not a blank one"


def test_hostile_text_prints_as_text(tmp_path):
    (tmp_path / "roster.csv").write_text('id,name\nS1,"<script>alert(1)</script> $x$ &amp;"\n', encoding="utf-8")
    (tmp_path / "e.toml").write_text('title = "A <b> & $y$"\nseed = 1\n[exam]\nroster = "roster.csv"\n'
                                     '[[exercise]]\nfamily = "scalar_chain"\npoints = 6\n', encoding="utf-8")
    build(load_spec(tmp_path / "e.toml"), tmp_path / "out", formats=["html"])
    page = (tmp_path / "out" / "e" / "S1" / "problems.html").read_text(encoding="utf-8")
    assert "<td>&lt;script&gt;alert(1)&lt;/script&gt; $x$ &amp;amp;</td>" in page
    assert "<h1>A &lt;b&gt; &amp; $y$</h1>" in page and "<title>A &lt;b&gt; &amp; $y$ — " in page
    assert "<script>alert" not in page
