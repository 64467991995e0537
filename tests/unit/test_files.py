"""Files are written atomically, deterministically and readable like any other file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pytest_llmcost.files import FileFormatError, dump_json, read_json, write_atomic


def test_dump_json_is_sorted_indented_and_ends_with_a_newline() -> None:
    assert dump_json({"b": 1, "a": {"d": [1, 2], "c": "é"}}) == (
        '{\n  "a": {\n    "c": "é",\n    "d": [\n      1,\n      2\n    ]\n  },\n  "b": 1\n}\n'
    )


def test_write_atomic_leaves_no_temporary_file_and_uses_the_usual_mode(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "results.json"
    write_atomic(target, "one\n")
    assert target.read_text() == "one\n"
    assert os.listdir(target.parent) == ["results.json"]
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask


def test_write_atomic_keeps_an_existing_files_mode(tmp_path: Path) -> None:
    target = tmp_path / "baseline.json"
    target.write_text("old\n")
    target.chmod(0o640)
    write_atomic(target, "new\n")
    assert target.read_text() == "new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_a_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "baseline.json"
    target.write_text("old\n")

    def broken(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, "new\n")
    assert target.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["baseline.json"]


def test_read_json_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError, match="no such results file"):
        read_json(tmp_path / "absent.json", "results")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(FileFormatError, match=r"bad\.json: the results file is not valid JSON"):
        read_json(bad, "results")
