"""The placement hint on a build's staging folder (worksheetgen/spread.py)."""

from __future__ import annotations

import array
import os
from pathlib import Path

import pytest

from worksheetgen import spread
from worksheetgen.build import build
from worksheetgen.spec import parse_spec


def _has_topdir(folder: Path) -> bool:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        buf = array.array("i", [0])
        spread.fcntl.ioctl(fd, spread._GETFLAGS, buf)
        return bool(buf[0] & spread._TOPDIR)
    except OSError:  # a file system without inode flags
        return False
    finally:
        os.close(fd)


def test_the_hint_is_set_where_the_file_system_takes_it(tmp_path: Path) -> None:
    taken = spread.spread_subfolders(tmp_path)
    if taken:
        assert _has_topdir(tmp_path)
    # Asking again changes nothing and still reports it.
    assert spread.spread_subfolders(tmp_path) == taken


def test_a_path_that_is_not_a_folder_is_no_error(tmp_path: Path) -> None:
    (tmp_path / "file.txt").write_text("x")
    assert spread.spread_subfolders(tmp_path / "file.txt") is False
    assert spread.spread_subfolders(tmp_path / "missing") is False


def test_elsewhere_nothing_is_attempted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spread.platform, "machine", lambda: "ppc64le")  # another ioctl encoding
    assert spread.spread_subfolders(tmp_path) is False


def test_a_build_folder_carries_the_hint_where_the_file_system_takes_it(tmp_path: Path) -> None:
    probe = tmp_path / "probe"
    probe.mkdir()
    taken = spread.spread_subfolders(probe)  # only ext2/3/4 take it
    spec = parse_spec({"title": "T", "seed": 1, "exercise": [{"family": "cnn_params"}]}, source="t.toml")
    result = build(spec, tmp_path / "out", formats=["json"], jobs=1)
    assert _has_topdir(result.target) == taken
