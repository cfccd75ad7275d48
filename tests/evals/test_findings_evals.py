"""The findings evals: generated histories keep their truth, the reference is right on the subtle cases, the scorers
can fail, and `analyze` plus every document composer meet the targets on a small seed set (the CI gate)."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from app.analysis.findings import analyze
from app.analysis.model import AnalysisInput, Findings
from evals import findings, findings_scorers
from evals.histories import STALL_WINDOW, History, generate

HISTORIES = generate(seed=0, count=40)


def _values(history: History) -> tuple[list[str], list[float], list[int]]:
    """Run keys, goodness on the metric in force (higher is better) and session index, in history order, read back
    from the stored RunViews rather than the generator's internals."""
    inp = history.inp
    metric, direction = (
        (inp.metric_switches[-1].metric, inp.metric_switches[-1].direction)
        if inp.metric_switches
        else (inp.primary_metric, inp.direction)
    )
    runs = sorted(inp.runs, key=lambda r: r.when or datetime.min.replace(tzinfo=UTC))
    days = sorted({r.session or date.min for r in runs})
    sign = 1.0 if direction == "max" else -1.0
    return (
        [r.key for r in runs],
        [sign * r.metrics[metric] for r in runs],
        [days.index(r.session or date.min) for r in runs],
    )


# --- the histories ------------------------------------------------------------------------------------------------


def test_generation_is_deterministic_per_seed() -> None:
    again = generate(seed=0, count=3)
    assert [h.inp for h in again] == [h.inp for h in HISTORIES[:3]]
    assert [h.inp.runs[0].key for h in generate(seed=1, count=3)] != [h.inp.runs[0].key for h in again]


def test_histories_cover_every_case() -> None:
    traits = Counter(t for h in HISTORIES for t in h.traits)
    for trait in ("no-baseline", "min-effect", "stall", "switch", "gaps", "reversed-order", "tagged", "inferred"):
        assert traits[trait] >= 3, trait
    for status in ("plateaued", "exhausted", "converging", "active"):
        assert traits[status] >= 10, status
    assert sum(len(h.truth.within_noise) for h in HISTORIES) >= 10
    assert sum(len(h.truth.duplicates) for h in HISTORIES) >= 20
    assert any(a.mark for h in HISTORIES for a in h.truth.approaches)


@pytest.mark.parametrize("history", HISTORIES[:20], ids=[h.name for h in HISTORIES[:20]])
def test_truth_holds_on_the_stored_values(history: History) -> None:
    keys, values, sessions = _values(history)
    truth = history.truth
    thr = truth.threshold
    assert keys[values.index(max(values))] == truth.best
    assert findings_scorers.stalled_of(values, sessions, thr, STALL_WINDOW) is truth.stalled
    baseline = values[0]
    for approach in truth.approaches:
        if approach.scored:
            mine = [v for k, v in zip(keys, values, strict=True) if k in set(approach.runs)]
            assert findings_scorers.status_of(mine, baseline, thr) == approach.status, approach.name


def test_a_metric_switch_changes_the_best_run() -> None:
    switched = [h for h in HISTORIES if h.inp.metric_switches]
    assert switched
    for history in switched:
        assert history.truth.best_on_previous_metric not in (None, history.truth.best)


# --- the brute-force reference ------------------------------------------------------------------------------------


def test_closest_config_can_be_another_run_than_the_one_mutated() -> None:
    a = {"model": "lgbm", "lr": "0.1", "leaves": "31", "depth": "6", "seed": "1"}
    b = {**a, "lr": "0.05", "seed": "2"}  # one change from a
    c = {**a, "lr": "0.05", "leaves": "63", "seed": "3"}  # two changes from a (mutated from it), one from b
    assert findings_scorers.change_counts([a, b, c]) == [None, 1, 1]
    assert findings_scorers.closest_indices(c, [a, b]) == [1]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ({"x": "1", "seed": "1"}, {"x": "1", "seed": "2"}, 0),
        ({"x": "1", "random_state": "1"}, {"x": "1"}, 0),
        ({"x": "1", "depth": "None"}, {"x": "1"}, 0),
        ({"x": "1"}, {"x": "2", "y": "3"}, 2),
    ],
)
def test_distance_ignores_seeds_and_unset_values(a: dict[str, str], b: dict[str, str], expected: int) -> None:
    assert findings_scorers.distance(a, b) == expected


def test_a_change_of_model_family_is_not_a_multi_change() -> None:
    a = {"model": "logreg", "C": "1.0", "seed": "1"}
    b = {"model": "lightgbm", "num_leaves": "31", "learning_rate": "0.05", "seed": "2"}
    c = {**b, "num_leaves": "63", "learning_rate": "0.1"}
    assert findings_scorers.change_counts([a, b, c]) == [None, 4, 2]
    assert findings_scorers.family_switches([a, b, c]) == [False, True, False]


def test_a_duplicate_repeats_config_and_seed() -> None:
    a = {"x": "1", "seed": "1"}
    assert findings_scorers.duplicates_of([a, {**a, "seed": "2"}, dict(a)]) == {2: 0}


# --- the scorers can fail -----------------------------------------------------------------------------------------


def _broken(**changes: object) -> findings.Analyzer:
    def analyzer(inp: AnalysisInput) -> Findings:
        return dataclasses.replace(analyze(inp), **changes)  # type: ignore[arg-type]

    return analyzer


def test_dropping_duplicates_lowers_recall() -> None:
    summary = findings.evaluate(0, 8, analyzer=_broken(duplicates=()), documents=False)
    assert summary["types"]["duplicate"]["tp"] == 0
    assert summary["types"]["duplicate"]["recall"] == 0.0
    assert any(problem.startswith("duplicate recall") for problem in findings.failures(summary))


def test_flagging_every_run_lowers_precision() -> None:
    def noisy(inp: AnalysisInput) -> Findings:
        out = analyze(inp)
        extra = tuple(dataclasses.replace(out.findings[0], kind="multi_change", subject=r.key) for r in inp.runs)
        return dataclasses.replace(out, findings=out.findings + extra, approaches=())

    summary = findings.evaluate(0, 8, analyzer=noisy, documents=False)
    assert summary["types"]["multi_change"]["precision"] < 0.95
    assert summary["approach_status"]["accuracy"] == 0.0
    assert summary["approach_grouping"]["agreement"] == 0.0
    assert len(findings.failures(summary)) == 3


def test_one_approach_per_run_fails_the_grouping() -> None:
    def split(inp: AnalysisInput) -> Findings:
        out = analyze(inp)
        each = tuple(
            dataclasses.replace(a, name=f"{a.name}/{k}", run_ids=(k,)) for a in out.approaches for k in a.run_ids
        )
        return dataclasses.replace(out, approaches=each)

    summary = findings.evaluate(0, 8, analyzer=split, documents=False)
    assert summary["approach_grouping"]["agreement"] < 0.95
    assert any(f.startswith("approach grouping") for f in findings.failures(summary))


# --- the gate -----------------------------------------------------------------------------------------------------


def test_small_seed_set_meets_every_target() -> None:
    summary = findings.evaluate(seed=7, count=10)
    assert findings.failures(summary) == []
    assert summary["grounding"]["documents"] >= 60
    assert summary["approach_status"]["total"] >= 20
    assert all(summary["types"][kind]["tp"] > 0 for kind in ("duplicate", "multi_change", "repro_gap"))


def test_main_writes_the_json_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "findings.json"
    assert findings.main(["--seed", "3", "--histories", "2", "--json", str(target), "--check", "-v"]) == 0
    summary = json.loads(target.read_text())
    assert summary["histories"] == 2 and set(summary["types"]) == set(findings_scorers.FINDING_TYPES)
    assert "approach status" in capsys.readouterr().out
