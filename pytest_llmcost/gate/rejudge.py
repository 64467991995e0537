"""Judging a results file again against another baseline: ``llm-cost report --baseline``.

The run's own verdicts keep their budget and price findings; only the comparison with the
baseline is made again, by :func:`.judge.rejudge`, with the rules the run was judged by.
"""

from __future__ import annotations

import dataclasses

from ..pricing import RateCard
from ..results import Results
from .baseline import Baseline
from .judge import Rules, RunVerdict, judge_run, rejudge

__all__ = ["judge_results"]


def judge_results(
    results: Results,
    baseline: Baseline,
    card: RateCard,
    *,
    rules: Rules | None = None,
    label: str | None = None,
    own: Baseline | None = None,
) -> tuple[Results, RunVerdict]:
    """``results`` with every verdict judged again against ``baseline``, and the run verdict.

    ``own`` is the run's own baseline when ``baseline`` is another (the base branch's): an
    increase over ``baseline`` that the run's own verdict did not find is one the change accepted
    in its own baseline, and shows as accepted. Its entries also lend their prompt segments to the
    usage they match, so a change the run did not measure is still explained.
    """
    rules = rules or results.rules
    verdicts = {
        nodeid: rejudge(
            results.verdicts.get(nodeid),
            nodeid,
            cost,
            entry=baseline.entries.get(nodeid),
            rules=rules,
            card=card,
            known=own.entries.get(nodeid) if own is not None else None,
            accept=own is not None,
        )
        for nodeid, cost in results.tests.items()
    }
    run = judge_run(
        verdicts.values(),
        results.tests,
        baseline_ids=baseline.entries,
        baseline_exists=baseline.exists,
        collected=results.collected,
        rules=rules,
        baseline=label or str(baseline.path or "llm-cost-baseline.json"),
    )
    return dataclasses.replace(results, verdicts=verdicts, rules=rules, run=run.to_json()), run
