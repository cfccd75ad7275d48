"""analyze on a 10,000-run history: it completes (bench/ times it) and agrees with plain recomputations."""

from __future__ import annotations

from collections import Counter

import pytest

from app.analysis.configs import normalise_value
from app.analysis.findings import analyze
from app.analysis.model import AnalysisInput, Findings, RunView
from tests.analysis.builders import synthetic_history


@pytest.fixture(scope="module")
def runs() -> tuple[RunView, ...]:
    return synthetic_history(10_000)


@pytest.fixture(scope="module")
def findings(runs: tuple[RunView, ...]) -> Findings:
    return analyze(AnalysisInput(runs=runs, primary_metric="auc"))


def test_every_run_is_placed(findings: Findings, runs: tuple[RunView, ...]) -> None:
    assert findings.run_order == tuple(r.key for r in runs)  # generated in time order
    assert len(findings.changes) == 10_000


def test_best_run_and_approaches(findings: Findings, runs: tuple[RunView, ...]) -> None:
    best = max(runs, key=lambda r: (r.metrics["auc"], -int(r.key[1:])))
    assert (findings.best, findings.best_value) == (best.key, best.metrics["auc"])
    assert len(findings.approaches) == 20
    assert {a.name for a in findings.approaches} == {f"a{i}" for i in range(0, 20, 2)} | {
        f"m{i}" for i in range(1, 20, 2)
    }
    assert all(len(a.run_ids) == 500 for a in findings.approaches)


def test_duplicates_agree_with_a_plain_count(findings: Findings, runs: tuple[RunView, ...]) -> None:
    def signature(r: RunView) -> tuple[frozenset[tuple[str, str]], str]:
        config = frozenset((k, normalise_value(v)) for k, v in r.params.items() if k != "random_state")
        return config, normalise_value(r.params["random_state"])

    counts = Counter(signature(r) for r in runs)
    assert len(findings.duplicates) == sum(n - 1 for n in counts.values())
    assert len(findings.of_kind("duplicate")) == len(findings.duplicates)


def test_multi_change_runs_changed_more_than_one_thing(findings: Findings) -> None:
    flagged = findings.of_kind("multi_change")
    assert flagged
    assert all(findings.changes[f.subject or ""].n_changed >= 2 for f in flagged)
    # each run changes one or two parameters of a recent run of its approach, so its closest is never further
    expected = {
        c.key for c in findings.changes.values() if c.n_changed >= 2 and all(p.key != "model" for p in c.vs_closest)
    }
    assert {f.subject for f in flagged} == expected
    within = [c for c in findings.changes.values() if all(p.key != "model" for p in c.vs_closest)]
    assert len(within) == 10_000 - 19  # only the first run of each other approach starts from another model
    assert max(c.n_changed for c in within) == 2


def test_repro_gaps_follow_the_missing_commits(findings: Findings) -> None:
    # the fields the generator never sets are project-level; one run in three lacks the commit the others record
    assert {g.field for g in findings.project_gaps} >= {"split", "owner"}
    assert len(findings.repro_gaps) == len(range(0, 10_000, 3))
    assert all(g.missing == ("git_commit",) for g in findings.repro_gaps)
