import os
import shutil

import pytest

from worksheetgen.registry import load_families

IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def families():
    return load_families()


def require_tex() -> None:
    """PDF tests need TeX. Locally they may skip; under CI=true a missing engine is a failure."""
    if shutil.which("pdflatex"):
        return
    if IN_CI:
        pytest.fail("pdflatex is missing under CI=true: .ci/run must install TeX Live")
    pytest.skip("no pdflatex on this machine (CI installs TeX Live)")
