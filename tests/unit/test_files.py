"""Files are written atomically, deterministically and readable like any other file."""

from __future__ import annotations

import errno
import json
import os
import stat
import threading
import time
from pathlib import Path

import pytest

from pytest_llmcost.files import (
    FileFormatError,
    FileWriteError,
    check_writable,
    dump_json,
    dump_json_lines,
    locked,
    read_json,
    write_atomic,
)


def test_dump_json_is_sorted_indented_and_ends_with_a_newline() -> None:
    assert dump_json({"b": 1, "a": {"d": [1, 2], "c": "é"}}) == (
        '{\n  "a": {\n    "c": "é",\n    "d": [\n      1,\n      2\n    ]\n  },\n  "b": 1\n}\n'
    )


def test_dump_json_lines_is_compact_sorted_and_one_entry_per_line() -> None:
    """The results file's form: compact JSON (the C encoder), sorted keys, one test per line, parseable as any JSON."""
    data = {"tests": {"b::t": {"usd": "1", "calls": 2}, "a::t": {"z": [1, 2], "a": "é"}}, "format": 2, "empty": {}}
    text = dump_json_lines(data, lines=("tests",))
    assert text == (
        '{\n"empty":{},\n"format":2,\n"tests":{\n"a::t":{"a":"é","z":[1,2]},\n"b::t":{"calls":2,"usd":"1"}\n}\n}\n'
    )
    assert json.loads(text) == data
    assert dump_json_lines(dict(reversed(list(data.items()))), lines=("tests",)) == text


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


@pytest.mark.parametrize(
    ("text", "field", "literal"),
    [
        ('{"tests": {"t.py::a": {"usd": NaN}}}', "tests.t.py::a.usd", "NaN"),
        ('{"records": [{"usd": "1"}, {"usd": -Infinity}]}', "records[1].usd", "-Infinity"),
        ('{"usd": 1e999}', "usd", "1e999"),
        ("NaN", "(top level)", "NaN"),
    ],
)
def test_read_json_refuses_numbers_that_are_not_finite_naming_the_field(
    tmp_path: Path, text: str, field: str, literal: str
) -> None:
    """Python's json module reads NaN and Infinity; no file of ours may hold them."""
    path = tmp_path / "results.json"
    path.write_text(text)
    with pytest.raises(FileFormatError) as excinfo:
        read_json(path, "results", fix="write it again")
    assert str(excinfo.value) == (
        f"{path}: {field}: {literal} is not a number the results file can hold "
        '(amounts are finite decimal strings such as "0.0012"); write it again'
    )


def test_read_json_refuses_text_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    path.write_bytes(b'{"a": "\xe9"}')
    with pytest.raises(FileFormatError) as excinfo:
        read_json(path, "baseline")
    assert str(excinfo.value) == (
        f"{path}: the baseline file is not UTF-8 text (byte 0xe9 at offset 7); fix the baseline file, or write it again"
    )


def test_write_atomic_refuses_a_read_only_file(tmp_path: Path) -> None:
    """A rename ignores the target's mode (and root ignores it too): the mode is checked first."""
    target = tmp_path / "baseline.json"
    target.write_text("old\n")
    target.chmod(0o444)
    try:
        with pytest.raises(FileWriteError) as excinfo:
            write_atomic(target, "new\n")
        assert str(excinfo.value) == (
            f"{target} is read-only, so it was left as it was; make it writable (chmod u+w) and run again"
        )
        assert target.read_text() == "old\n"
        assert os.listdir(tmp_path) == ["baseline.json"]
        with pytest.raises(FileWriteError, match=r"is read-only, so --llm-cost-update cannot write it; fix it"):
            check_writable(target, "--llm-cost-update", "fix it")
    finally:
        target.chmod(0o644)
    check_writable(target, "--llm-cost-update", "fix it")
    check_writable(tmp_path / "absent.json", "--llm-cost-update", "fix it")


def test_a_failed_write_names_the_file_and_the_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "results.json"
    target.write_text("old\n")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(FileWriteError) as excinfo:
        write_atomic(target, "new\n")
    assert excinfo.value.reason == "No space left on device"
    assert str(excinfo.value) == (
        f"{target} could not be written (No space left on device); it is kept as it was: "
        "free some space, or fix the file's folder, and run again"
    )
    assert target.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["results.json"]


def test_locked_makes_a_second_updater_wait_and_removes_its_lock_file(tmp_path: Path) -> None:
    target = tmp_path / "llm-cost-baseline.json"
    order: list[str] = []
    inside = threading.Event()

    def second() -> None:
        inside.wait(5)
        with locked(target):
            order.append("second")

    thread = threading.Thread(target=second)
    thread.start()
    with locked(target):
        assert (tmp_path / "llm-cost-baseline.json.lock").exists()
        inside.set()
        time.sleep(0.3)  # the second updater is waiting meanwhile
        order.append("first")
    thread.join(5)
    assert order == ["first", "second"]
    assert os.listdir(tmp_path) == []


def test_locked_gives_up_after_its_timeout_naming_the_lock(tmp_path: Path) -> None:
    target = tmp_path / "llm-cost-baseline.json"
    with locked(target), pytest.raises(FileWriteError) as excinfo, locked(target, timeout=0.2):
        pass
    assert str(excinfo.value) == (
        f"{target} cannot be updated: another update held {target}.lock for over 0.2 seconds; "
        "let it finish and run again"
    )
