"""The cassette persister: atomic writes, and a test that did not pass may only add to its cassette."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest
from vcr.persisters.filesystem import CassetteNotFoundError
from vcr.request import Request
from vcr.serialize import serialize
from vcr.serializers import yamlserializer

from pytest_llmcost.capture.persister import CassettePersister, CassetteReadError
from pytest_llmcost.capture.recording import use_cassette


def _cassette(*prompts: str) -> dict[str, Any]:
    requests = [Request("POST", "http://127.0.0.1/v1/chat/completions", f'{{"q": "{p}"}}', {}) for p in prompts]
    responses = [
        {"status": {"code": 200, "message": "OK"}, "headers": {}, "body": {"string": f'{{"a": "{p}"}}'}}
        for p in prompts
    ]
    return {"requests": requests, "responses": responses}


def _written(path: Path, *prompts: str) -> str:
    text = serialize(_cassette(*prompts), yamlserializer)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return text


def _failed() -> str:
    return "the test failed while recording"


def test_a_save_is_atomic_and_makes_the_folder(tmp_path: Path) -> None:
    path = tmp_path / "cassettes" / "test_agent" / "test_one.yaml"
    CassettePersister().save_cassette(path, _cassette("a", "b"), serializer=yamlserializer)
    assert path.read_text(encoding="utf-8") == serialize(_cassette("a", "b"), yamlserializer)
    assert os.listdir(path.parent) == ["test_one.yaml"]


def test_a_passed_test_replaces_the_cassette(tmp_path: Path) -> None:
    path = tmp_path / "one.yaml"
    _written(path, "a", "b", "c")
    persister = CassettePersister(lambda: None)
    persister.save_cassette(path, _cassette("x"), serializer=yamlserializer)
    assert path.read_text(encoding="utf-8") == serialize(_cassette("x"), yamlserializer)
    assert persister.kept is None


def test_a_test_that_did_not_pass_cannot_take_interactions_away(tmp_path: Path) -> None:
    """Re-recording (``all``) stopped after one call: the three recorded interactions stay, byte for byte."""
    path = tmp_path / "one.yaml"
    before = _written(path, "a", "b", "c")
    persister = CassettePersister(_failed)
    persister.save_cassette(path, _cassette("x"), serializer=yamlserializer)
    assert path.read_text(encoding="utf-8") == before
    assert persister.kept == "the test failed while recording"
    # Nor change one, even keeping the count.
    persister.save_cassette(path, _cassette("a", "x", "c"), serializer=yamlserializer)
    assert path.read_text(encoding="utf-8") == before


def test_a_test_that_did_not_pass_may_add_interactions(tmp_path: Path) -> None:
    """``once`` and ``new_episodes``: what a failing test paid for is kept, after what was recorded."""
    path = tmp_path / "one.yaml"
    _written(path, "a", "b")
    persister = CassettePersister(_failed)
    persister.save_cassette(path, _cassette("a", "b", "c"), serializer=yamlserializer)
    assert path.read_text(encoding="utf-8") == serialize(_cassette("a", "b", "c"), yamlserializer)
    assert persister.kept is None

    new = tmp_path / "new.yaml"
    persister.save_cassette(new, _cassette("a"), serializer=yamlserializer)
    assert new.read_text(encoding="utf-8") == serialize(_cassette("a"), yamlserializer)


def test_a_failed_write_leaves_the_old_cassette_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills up mid-write: vcrpy's own persister left half a YAML file; here the old one stays."""
    path = tmp_path / "one.yaml"
    before = _written(path, "a", "b", "c")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    persister = CassettePersister(lambda: None)
    persister.save_cassette(path, _cassette("x"), serializer=yamlserializer)
    assert persister.error == (
        f"cassette {path} could not be written (No space left on device); it is kept as it was: "
        "free some space, or fix the file's folder, and record again"
    )
    assert path.read_text(encoding="utf-8") == before
    assert os.listdir(tmp_path) == ["one.yaml"]


def test_a_read_only_cassette_is_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / "one.yaml"
    before = _written(path, "a")
    path.chmod(0o444)
    try:
        persister = CassettePersister(lambda: None)
        persister.save_cassette(path, _cassette("x"), serializer=yamlserializer)
        assert persister.error is not None
        assert persister.error.startswith(f"{path} is read-only, so it was left as it was")
        assert path.read_text(encoding="utf-8") == before
    finally:
        path.chmod(0o644)


def test_loading_reads_what_saving_wrote(tmp_path: Path) -> None:
    path = tmp_path / "one.yaml"
    _written(path, "a", "b")
    requests, responses = CassettePersister().load_cassette(path, serializer=yamlserializer)
    assert [request.body for request in requests] == [b'{"q": "a"}', b'{"q": "b"}']
    assert len(responses) == 2


@pytest.mark.parametrize("content", [None, b"", b"  \n"])
def test_a_missing_or_empty_cassette_is_one_to_record(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "one.yaml"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CassetteNotFoundError):
        CassettePersister().load_cassette(path, serializer=yamlserializer)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe\x00binary", "is not UTF-8 text (byte 0xff at offset 0), so it is not recorded over"),
        (b"interactions: [\n", "is not a cassette vcrpy can read ("),
        (b"- just a list\n", "is not a cassette vcrpy can read ("),
    ],
)
def test_an_unreadable_cassette_stops_instead_of_being_recorded_over(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "one.yaml"
    path.write_bytes(content)
    with pytest.raises(CassetteReadError) as excinfo:
        CassettePersister().load_cassette(path, serializer=yamlserializer)
    assert str(excinfo.value).startswith(f"cassette {path} ")
    assert message in str(excinfo.value)
    assert str(excinfo.value).endswith(": restore it from version control, or delete it and record again")
    assert path.read_bytes() == content


def test_use_cassette_reads_and_writes_through_the_persister(tmp_path: Path) -> None:
    """Every ``llm_cost`` cassette goes through it: an unreadable one stops the cassette from opening."""
    path = tmp_path / "one.yaml"
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(CassetteReadError), use_cassette(path, "all"):
        pass
    assert path.read_bytes() == b"\xff\xfe"

    persister = CassettePersister(_failed)
    good = tmp_path / "good.yaml"
    before = _written(good, "a", "b")
    with use_cassette(good, "all", persister=persister) as cassette:
        cassette.append(*[part[0] for part in _cassette("x").values()])
    assert persister.kept == "the test failed while recording"
    assert good.read_text(encoding="utf-8") == before
