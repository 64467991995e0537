"""Named steps: nesting, decorators, asyncio tasks and copied contexts."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest

from pytest_llmcost import current_step, step


def test_steps_nest_with_a_slash() -> None:
    assert current_step() is None
    with step("research") as outer:
        assert outer == "research"
        with step("search") as inner:
            assert inner == "research/search"
            assert current_step() == "research/search"
        assert current_step() == "research"
    assert current_step() is None


def test_step_is_restored_after_an_exception() -> None:
    with pytest.raises(RuntimeError), step("plan"):
        raise RuntimeError("boom")
    assert current_step() is None


def test_decorator_on_sync_and_async_functions() -> None:
    @step("plan")
    def plan() -> str | None:
        return current_step()

    @step("synthesis")
    async def synthesize() -> str | None:
        await asyncio.sleep(0)
        return current_step()

    assert plan() == "plan"
    assert asyncio.run(synthesize()) == "synthesis"
    assert plan.__name__ == "plan"


def test_one_step_object_can_be_reentered() -> None:
    research = step("research")
    with research, research:
        assert current_step() == "research/research"
    assert current_step() is None


def test_asyncio_tasks_inherit_the_step_of_their_creator() -> None:
    async def inside() -> str | None:
        return current_step()

    async def main() -> tuple[str | None, ...]:
        with step("research"):
            first = asyncio.create_task(inside())
            with step("search"):
                second = asyncio.create_task(inside())
        return await first, await second

    assert asyncio.run(main()) == ("research", "research/search")


def test_copied_context_carries_the_step_into_a_thread() -> None:
    seen: list[str | None] = []
    with step("synthesis"):
        context = contextvars.copy_context()
    thread = threading.Thread(target=lambda: seen.append(context.run(current_step)))
    thread.start()
    thread.join()
    assert seen == ["synthesis"]


@pytest.mark.parametrize("name", ["", "  ", "/plan", "plan/", "a//b", None])
def test_bad_step_names_are_rejected(name: object) -> None:
    with pytest.raises(ValueError, match="step name must be a non-empty string"):
        step(name)  # type: ignore[arg-type]


def test_async_context_manager() -> None:
    async def main() -> str | None:
        async with step("plan"):
            return current_step()

    assert asyncio.run(main()) == "plan"
