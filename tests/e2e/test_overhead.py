"""What ``--llm-cost`` does to the run around the tests: the garbage collector's work, and nothing else changed."""

from __future__ import annotations

import gc
import re

import pytest

WATCH = """
import gc

import pytest

SEEN = {}


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session):
    SEEN["collected"] = gc.get_freeze_count()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session):
    SEEN["finish"] = gc.get_freeze_count()


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(f"frozen before the tests: {SEEN['collected']}")
    terminalreporter.write_line(f"frozen at the end: {SEEN['finish']}")
"""

TESTS = """
import gc


def test_first():
    print("frozen in test_first:", gc.get_freeze_count())


def test_second():
    print("frozen in test_second:", gc.get_freeze_count())
"""


def _counts(result: pytest.RunResult, label: str) -> int:
    """The count printed after ``label`` (pytest prints a test's output on its progress line)."""
    found = re.search(re.escape(label) + r":? (\d+)", result.stdout.str())
    assert found is not None, f"{label!r} not printed"
    return int(found.group(1))


def test_session_objects_are_frozen_while_tests_run_and_released_after(pytester: pytest.Pytester) -> None:
    """Under --llm-cost the objects alive once collected are out of the collector's sight during
    the tests, and the end-of-run reports, and given back to it when the session ends."""
    assert gc.get_freeze_count() == 0
    pytester.makeconftest(WATCH)
    pytester.makepyfile(test_frozen=TESTS)
    result = pytester.runpytest("--llm-cost", "-s")
    result.assert_outcomes(passed=2)
    assert _counts(result, "frozen before the tests:") == 0
    first = _counts(result, "frozen in test_first:")
    assert first > 1000  # the modules, the collected items, the plugin's inputs
    assert _counts(result, "frozen in test_second:") <= first  # nothing more is frozen while tests run
    assert _counts(result, "frozen at the end:") > 1000
    assert gc.get_freeze_count() == 0  # nothing stays frozen once the session is over


def test_without_llm_cost_the_collector_is_left_alone(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(WATCH)
    pytester.makepyfile(test_frozen=TESTS)
    result = pytester.runpytest("-s")
    result.assert_outcomes(passed=2)
    assert _counts(result, "frozen in test_first:") == 0
    assert _counts(result, "frozen at the end:") == 0


def test_a_program_that_freezes_objects_itself_is_left_alone(pytester: pytest.Pytester) -> None:
    """A conftest that froze objects (as a pre-forking server does) keeps them as it froze them: the
    plugin neither freezes more nor unfreezes its objects."""
    pytester.makeconftest(
        WATCH
        + """

def pytest_configure(config):
    gc.freeze()
    SEEN["own"] = gc.get_freeze_count()


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    print("frozen at unconfigure:", gc.get_freeze_count(), "own:", SEEN["own"])
    gc.unfreeze()
"""
    )
    pytester.makepyfile(test_frozen=TESTS)
    result = pytester.runpytest("--llm-cost", "-s")
    result.assert_outcomes(passed=2)
    own = _counts(result, "own")
    assert own > 1000
    # Frozen objects can only be freed meanwhile: never more than the conftest froze.
    assert _counts(result, "frozen in test_first:") <= own
    assert _counts(result, "frozen at the end:") <= own
    assert 0 < _counts(result, "frozen at unconfigure") <= own  # still frozen when the conftest lets go
    assert gc.get_freeze_count() == 0


def test_garbage_frozen_with_the_session_is_freed_once_it_ends(pytester: pytest.Pytester) -> None:
    """A cycle alive when the tests start and dropped during them is collected after the session."""
    pytester.makeconftest(
        """
import gc
import weakref

import pytest


class Node:
    pass


def pytest_collection_finish(session):
    node = Node()
    node.self = node  # a cycle: only the collector frees it
    session.config.node = node
    session.config.node_ref = weakref.ref(node)


@pytest.fixture
def dropped(request):
    del request.config.node
    gc.collect()
    return request.config.node_ref
"""
    )
    pytester.makepyfile(
        test_cycle="""
def test_dropped_while_frozen(dropped):
    assert dropped() is not None  # frozen: the collector does not see it
"""
    )
    recorder = pytester.inline_run("--llm-cost")
    recorder.assertoutcome(passed=1)
    node_ref = recorder.getcall("pytest_sessionfinish").session.config.node_ref
    gc.collect()
    assert node_ref() is None


def test_what_the_tests_create_is_never_frozen(pytester: pytest.Pytester) -> None:
    """Only what is alive before the tests start (and after they end) is frozen: a cycle a test
    makes is collected when it is dropped, as it would be without the plugin."""
    pytester.makepyfile(
        test_cycles="""
import gc
import weakref

KEEP = []
REFS = []


class Node:
    pass


def test_first():
    node = Node()
    node.self = node  # a cycle: only the collector frees it
    KEEP.append(node)
    REFS.append(weakref.ref(node))


def test_second():
    pass


def test_third():
    KEEP.clear()
    gc.collect()
    assert REFS[0]() is None, "a cycle made by a test was frozen"
"""
    )
    for args in (["--llm-cost"], []):
        pytester.runpytest("-p", "no:randomly", *args).assert_outcomes(passed=3)
