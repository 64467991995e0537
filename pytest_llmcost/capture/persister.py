"""How cassettes are read and written: atomically, and never made smaller by a test that did not pass.

vcrpy's own persister writes a cassette in place, whatever became of the test: a disk that
fills up leaves half a YAML file, and a re-recording (``all``) that fails or is interrupted
after one call replaces the three recorded interactions with that one. It also takes a cassette
it cannot decode for an empty one, and records over it.

:class:`CassettePersister` is registered through vcrpy's public ``VCR.register_persister``.
It writes through a temporary file, an fsync and a rename, so the old file stays whole until
the new one is complete. While its test has not passed (``unfinished`` gives the reason), a
write may only add interactions after those already in the file: in ``once`` and
``new_episodes`` the calls a failing test paid for are kept for the next run to replay; a write
that would drop or change any recorded interaction is skipped, and the reason kept in
:attr:`CassettePersister.kept` for the run to report. A cassette it cannot read stops the test
with :class:`CassetteReadError` instead of being recorded over.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..files import FileWriteError, write_atomic

__all__ = ["CassettePersister", "CassetteReadError"]

_FIX = "restore it from version control, or delete it and record again"


class CassetteReadError(Exception):
    """A cassette exists but cannot be read; it is left as it was. The message names it and the fix."""


class CassettePersister:
    """A vcrpy persister for one cassette: ``load_cassette`` and ``save_cassette``, as vcrpy calls them."""

    def __init__(self, unfinished: Callable[[], str | None] | None = None) -> None:
        self.unfinished = unfinished
        """Why the test has not passed (``the test failed while recording``), or None once it has."""
        self.kept: str | None = None
        """Why the cassette was left as it was instead of written, when it was."""
        self.error: str | None = None
        """Why the cassette could not be written (it is left as it was), when it could not."""

    def load_cassette(self, cassette_path: str | Path, serializer: Any) -> Any:
        from vcr.persisters.filesystem import CassetteNotFoundError
        from vcr.serialize import deserialize

        path = Path(cassette_path)
        if not path.is_file():
            raise CassetteNotFoundError()
        text = _read(path)
        if not text.strip():  # as vcrpy does: an empty file is a cassette still to record
            raise CassetteNotFoundError()
        try:
            return deserialize(text, serializer)
        except Exception as exc:  # YAML, JSON, or a structure vcrpy does not know
            problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise CassetteReadError(f"cassette {path} is not a cassette vcrpy can read ({problem}): {_FIX}") from None

    def save_cassette(self, cassette_path: str | Path, cassette_dict: dict[str, Any], serializer: Any) -> None:
        from vcr.serialize import serialize

        path = Path(cassette_path)
        text = serialize(cassette_dict, serializer)
        reason = self.unfinished() if self.unfinished is not None else None
        if reason is not None and not _only_adds(path, text, serializer):
            self.kept = reason
            return
        try:
            write_atomic(path, text)
        except FileWriteError as exc:
            # Raised out of vcrpy's __exit__, it would leave vcrpy's patches on the HTTP clients:
            # the run reports it once the cassette is closed.
            if exc.reason is None:
                self.error = str(exc)
            else:
                self.error = (
                    f"cassette {path} could not be written ({exc.reason}); it is kept as it was: "
                    "free some space, or fix the file's folder, and record again"
                )


def _read(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CassetteReadError(f"cassette {path} cannot be read ({exc.strerror}): {_FIX}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CassetteReadError(
            f"cassette {path} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}), "
            f"so it is not recorded over: {_FIX}"
        ) from None


def _only_adds(path: Path, text: str, serializer: Any) -> bool:
    """Whether writing ``text`` over ``path`` keeps every interaction in it, in its place."""
    try:
        old_text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return True
    except (OSError, UnicodeDecodeError):
        return False
    if not old_text.strip():
        return True
    try:
        old = serializer.deserialize(old_text)["interactions"]
        new = serializer.deserialize(text)["interactions"]
    except Exception:  # whatever cannot be compared is not known to be kept
        return False
    return isinstance(old, list) and isinstance(new, list) and new[: len(old)] == old
