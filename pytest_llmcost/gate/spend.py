"""What a recording run has spent, summed across pytest-xdist workers.

``--llm-cost-max-record-spend`` caps a whole run. Without xdist the process's own total is the
run's. Under xdist the controller gives every worker one shared folder; each worker keeps its
running total in its own file there (written atomically, so a reader never sees half of one)
and sums every worker's file before each live call. A worker's total includes the test it is
recording, up to its last live call, so concurrent tests see each other's spend as it grows.

Calls in flight count before they are answered: each live call reserves a cautious bound on
what it can bill (:func:`~pytest_llmcost.providers.estimate.worst_case`) until its response is
recorded, so twenty concurrent calls cannot all slip under a budget none of them has spent yet.
"""

from __future__ import annotations

import contextlib
import threading
from decimal import Decimal, InvalidOperation
from pathlib import Path

from ..files import write_atomic
from ..fmt import format_usd

__all__ = ["Reservations", "RunSpend", "guard"]


class RunSpend:
    def __init__(self, folder: Path | None = None, name: str = "main") -> None:
        self.folder = folder
        self.name = name
        self.own = Decimal(0)

    def add(self, usd: Decimal) -> None:
        """A finished test's recording spend."""
        self.own += usd
        self._publish(self.own)

    def total(self, in_flight: Decimal = Decimal(0)) -> Decimal:
        """The run's spend: every process's finished tests, plus ``in_flight`` (the current test's)."""
        if self.folder is None:
            return self.own + in_flight
        self._publish(self.own + in_flight)
        total = Decimal(0)
        for path in self.folder.glob("*.usd"):
            with contextlib.suppress(OSError, InvalidOperation):  # a worker's file in a rename
                total += Decimal(path.read_text(encoding="utf-8"))
        return total

    def _publish(self, usd: Decimal) -> None:
        if self.folder is not None:
            write_atomic(self.folder / f"{self.name}.usd", f"{usd}\n")


class Reservations:
    """The worst-case dollars of the live calls in flight, by request; thread-safe."""

    def __init__(self) -> None:
        self._held: dict[int, Decimal] = {}
        self.lock = threading.Lock()
        """Held across a guard decision and its reservation, so concurrent calls decide one at a time."""

    @property
    def usd(self) -> Decimal:
        return sum(self._held.values(), Decimal(0))

    def hold(self, key: int, usd: Decimal) -> None:
        self._held[key] = usd

    def release(self, key: int) -> None:
        with self.lock:
            self._held.pop(key, None)

    def clear(self) -> None:
        with self.lock:
            self._held.clear()


def guard(
    spent_in_test: Decimal, budget_usd: Decimal | None, run_total: Decimal | None, cap: Decimal | None
) -> str | None:
    """Why the next live call must be stopped, or None.

    ``spent_in_test`` and ``run_total`` include the calls in flight at their reserved worst
    case: a call goes live only while what is spent and reserved is within the limit, so at
    most one call's worth can ever land beyond it.
    """
    if budget_usd is not None and spent_in_test > budget_usd:
        return (
            f"LLM spend guard: this test has spent or reserved ${format_usd(spent_in_test)} recording, over its "
            f"cost_budget of ${format_usd(budget_usd)}; the next live call was stopped"
        )
    if cap is not None and run_total is not None and run_total > cap:
        return (
            f"LLM spend guard: this run has spent or reserved ${format_usd(run_total)} recording, over "
            f"--llm-cost-max-record-spend ${format_usd(cap)}; the next live call was stopped"
        )
    return None
