"""analyze end to end on small hand-built histories: each finding kind, its message and its evidence."""

from __future__ import annotations

import pytest

from app.analysis.findings import analyze
from app.analysis.model import (
    AnalysisInput,
    AnalysisSettings,
    Duplicate,
    Finding,
    MetricSwitch,
    ParamChange,
    ReproGap,
    RunChange,
    RunView,
)
from tests.analysis.builders import day, run, unstated_numbers

KIND_ORDER = [
    "metric_switch",
    "baseline",
    "missing_baseline",
    "current_best",
    "seed_noise",
    "noise_unknown",
    "approach_status",
    "stall",
    "within_noise",
    "multi_change",
    "duplicate",
    "repro_gap",
]


def kinds(findings: tuple[Finding, ...]) -> list[str]:
    return list(dict.fromkeys(f.kind for f in findings))


def test_duplicates_name_the_earliest_run_and_the_compute_they_cost() -> None:
    runs = (
        run("r1", 0, 0.80, params={"lr": "0.1", "opt": "adam"}, duration_s=100.0),
        run("r2", 1, 0.81, params={"lr": "0.10", "opt": " adam"}, duration_s=120.0, name="retry"),
        run("r3", 2, 0.79, params={"lr": "0.1", "opt": "adam"}, seed="1"),  # another seed: a seed repeat
        run("r4", 3, 0.80, params={"lr": "1e-1", "opt": "adam"}),  # duration unknown
        run("r5", 4, 0.82, params={"lr": "0.2", "opt": "adam"}, duration_s=50.0),
    )
    findings = analyze(AnalysisInput(runs=runs, primary_metric="auc"))
    assert findings.duplicates == (Duplicate("r2", "r1", 120.0), Duplicate("r4", "r1", None))
    first, second = findings.of_kind("duplicate")
    assert first.message == (
        "Run r2 repeats the configuration and seed of run r1; it took 120 s of compute. 2 repeat(s) of r1 cost "
        "120 s in total (1 with a known duration)."
    )
    assert first.run_ids == ("r2", "r1")
    assert second.message.startswith("Run r4 repeats the configuration and seed of run r1; its duration is unknown.")
    assert findings.changes["r2"] == RunChange("r2", closest="r1")


def test_a_run_changing_two_things_at_once_is_flagged_against_its_closest_configuration() -> None:
    runs = (
        run("r1", 0, 0.80, params={"lr": "0.1", "depth": "3", "opt": "adam"}),
        run("r2", 1, 0.70, params={"lr": "0.5", "depth": "8", "opt": "sgd"}),
        run("r3", 2, 0.82, params={"lr": "0.2", "depth": "5", "opt": "adam"}),  # 2 changes from r1, 3 from r2
        run("r4", 3, 0.83, params={"lr": "0.2", "depth": "5", "opt": "adam", "wd": "0.01"}),  # 1 change from r3
    )
    findings = analyze(AnalysisInput(runs=runs, primary_metric="auc"))
    assert findings.changes["r3"] == RunChange(
        "r3",
        closest="r1",
        vs_closest=(ParamChange("depth", "3", "5"), ParamChange("lr", "0.1", "0.2")),
    )
    assert findings.changes["r4"].closest == "r3"
    assert [f.subject for f in findings.of_kind("multi_change")] == ["r2", "r3"]
    r3 = findings.of_kind("multi_change")[1]
    assert r3.message == (
        "Run r3 changed 2 parameters at once relative to its closest earlier configuration, r1: depth 3 → 5, "
        "lr 0.1 → 0.2. Its effect cannot be attributed to any one change."
    )
    assert r3.numbers == {"depth.before": 3, "depth.after": 5, "lr.before": 0.1, "lr.after": 0.2, "n_changed": 2}


def test_switching_model_family_is_not_a_multi_change() -> None:
    runs = (
        run("r1", 0, 0.80, params={"model": "LogisticRegression", "C": "1"}),
        run("r2", 1, 0.85, params={"model": "RandomForestClassifier", "max_depth": "5"}),
    )
    findings = analyze(AnalysisInput(runs=runs, primary_metric="auc"))
    assert findings.changes["r2"].n_changed == 3
    assert not findings.of_kind("multi_change")


def test_missing_baseline_advises_a_simple_one_and_names_the_reference() -> None:
    runs = (run("r1", 0, 0.80, params={"lr": "0.1"}), run("r2", 1, 0.85, params={"lr": "0.2"}))
    findings = analyze(AnalysisInput(runs=runs, primary_metric="auc"))
    assert findings.baseline is None
    [finding] = findings.of_kind("missing_baseline")
    assert finding.severity == "warning"
    assert finding.message == (
        "No baseline run is declared. Run a simple baseline first (a majority-class or mean predictor, a linear "
        "model, or the default configuration) and mark it, so every gain has a reference; until then gains are "
        "measured against the first scored run, r1 (auc 0.8)."
    )
    assert findings.changes["r2"].vs_baseline == ()


@pytest.mark.parametrize(
    ("declared", "tags", "expected", "how"),
    [
        (frozenset({"r2"}), {}, "r2", "declared"),
        (frozenset(), {"r3": {"BASELINE": "True"}}, "r3", "tagged"),
        (frozenset({"r3"}), {"r2": {"baseline": "1"}}, "r2", "tagged"),  # the earliest wins
        (frozenset({"gone"}), {"r1": {"baseline": "no"}}, None, ""),
    ],
)
def test_baseline_is_declared_or_tagged(
    declared: frozenset[str], tags: dict[str, dict[str, str]], expected: str | None, how: str
) -> None:
    runs = tuple(
        run(k, i, 0.7 + i / 10, params={"lr": str(i)}, tags=tags.get(k, {})) for i, k in enumerate(["r1", "r2", "r3"])
    )
    findings = analyze(AnalysisInput(runs=runs, primary_metric="auc", declared_baselines=declared))
    assert findings.baseline == expected
    if expected is None:
        assert findings.of_kind("missing_baseline")
        return
    [finding] = findings.of_kind("baseline")
    assert finding.message == f"The baseline is run {expected} ({how}), with auc {findings.baseline_value:.1f}."


def test_changes_against_the_baseline() -> None:
    runs = (
        run("b", 0, 0.7, params={"lr": "0.1", "seed": "1"}, tags={"baseline": "true"}),
        run("r", 1, 0.8, params={"lr": "0.3", "seed": "2", "depth": "4"}),
    )
    findings = analyze(AnalysisInput(runs=runs, primary_metric="auc"))
    assert findings.changes["r"].vs_baseline == (ParamChange("depth", None, "4"), ParamChange("lr", "0.1", "0.3"))
    assert findings.changes["b"].vs_baseline == ()


def test_current_best_reports_the_gain_over_the_baseline() -> None:
    runs = (
        run("b", 0, 0.30, metric="rmse", params={"model": "mean"}, tags={"baseline": "true"}),
        run("r1", 1, 0.25, metric="rmse", params={"model": "ridge"}),
        run("r2", 2, 0.21, metric="rmse", params={"model": "ridge", "alpha": "2"}),
        run("r3", 3, 0.21, metric="rmse", params={"model": "ridge", "alpha": "3"}),  # a tie: the first keeps it
    )
    findings = analyze(AnalysisInput(runs=runs, primary_metric="rmse", direction="min"))
    assert (findings.best, findings.best_value) == ("r2", 0.21)
    [finding] = findings.of_kind("current_best")
    assert finding.message == (
        "The best run on rmse (lower is better) is r2, with 0.21: 0.09 better than the baseline b (0.3). Its lead "
        "over the runner-up r3 (the best run of another configuration) is 0 (0.21 vs 0.21), against a believable "
        "gain of 0.005 for these sides (seed sd unknown, the configured minimum effect): within the noise, so the "
        "best is not shown to be the best."
    )
    assert finding.run_ids == ("r2", "b", "r3")
    assert findings.best_lead is not None
    assert (findings.best_lead.runner_up, findings.best_lead.beyond_noise) == ("r3", False)


def stall_history(last: float) -> tuple[RunView, ...]:
    values = [(0, 0.70), (1, 0.85), (2, 0.851), (3, 0.849), (4, 0.852), (4, last)]
    return tuple(run(f"r{i}", i, v, day=d, params={"lr": str(i)}) for i, (d, v) in enumerate(values))


def test_a_stall_argues_for_reframing_or_a_time_box() -> None:
    findings = analyze(AnalysisInput(runs=stall_history(0.853), primary_metric="auc"))
    assert findings.stalled
    [finding] = findings.of_kind("stall")
    assert finding.severity == "warning"
    assert finding.message.startswith(
        "No gain beyond noise on auc over the last 3 sessions (2024-03-03 to 2024-03-05, 4 runs): the best rose by "
        "0.003, from 0.85 (run r1) to 0.853 (run r5), not more than the believable gain 0.005 (the configured "
        "minimum effect)."
    )
    assert "reframe the problem" in finding.message and "time box" in finding.message
    assert finding.run_ids == ("r5", "r1", "r2", "r3", "r4")


def test_no_stall_when_the_last_sessions_gained_beyond_noise() -> None:
    findings = analyze(AnalysisInput(runs=stall_history(0.90), primary_metric="auc"))
    assert not findings.stalled
    assert not findings.of_kind("stall")


def test_no_stall_with_too_few_sessions() -> None:
    runs = stall_history(0.853)
    findings = analyze(AnalysisInput(runs=runs, primary_metric="auc", settings=AnalysisSettings(stall_sessions=5)))
    assert not findings.stalled


def test_repro_gaps_per_run() -> None:
    runs = (
        run("full", 0, 0.8),
        run(
            "gaps", 1, 0.8, git_commit=None, environment={}, owner=" ", data_version=None, datasets=({"digest": "9f"},)
        ),
        RunView("bare", params={"random_state": "4"}),
    )
    findings = analyze(AnalysisInput(runs=runs, primary_metric="auc"))
    assert findings.repro_gaps == (  # both lack a commit "full" records: the one lacking more comes first
        ReproGap(
            "bare",
            ("git_commit", "data_version", "environment", "hardware", "source_name", "split", "owner"),
            recorded_elsewhere=1,
        ),
        ReproGap("gaps", ("git_commit", "environment", "owner"), recorded_elsewhere=1),
    )
    gap = findings.of_kind("repro_gap")[1]
    assert gap.message == (
        "Run gaps lacks 3 of 8 reproducibility fields: git commit, environment (Python and library versions), owner. "
        "The git commit is recorded by 1 other run: close this gap first."
    )


def test_a_metric_switch_changes_the_best_run_and_says_when_and_why() -> None:
    runs = (
        run("r1", 0, metrics={"auc": 0.90, "f1": 0.60}, params={"t": "0.5"}),
        run("r2", 1, metrics={"auc": 0.85, "f1": 0.70}, params={"t": "0.3"}),
        run("r3", 2, metrics={"auc": 0.95}, params={"t": "0.2"}),  # no f1: not scored after the switch
    )
    switch = MetricSwitch("f1", "max", day(1), "the clinic ships a yes/no flag.", previous_metric="auc")
    findings = analyze(AnalysisInput(runs=runs, primary_metric="auc", metric_switches=(switch,)))
    assert (findings.metric, findings.best, findings.best_value) == ("f1", "r2", 0.70)
    [finding] = findings.of_kind("metric_switch")
    assert finding.message == (
        "The primary metric switched from auc to f1 (higher is better) on 2024-03-02: the clinic ships a yes/no "
        "flag. The best run changed from r3 (auc 0.95) to r2 (f1 0.7)."
    )
    assert finding.run_ids == ("r3", "r2")
    before = analyze(AnalysisInput(runs=runs, primary_metric="auc"))
    assert (before.metric, before.best) == ("auc", "r3")


def test_findings_come_in_the_documented_order_and_state_only_their_numbers() -> None:
    runs = (
        run("b", 0, 0.70, params={"model": "dummy"}, tags={"baseline": "true"}, duration_s=5.0),
        run("r1", 1, 0.80, params={"model": "ridge", "alpha": "1"}, day=1),
        run("r2", 2, 0.803, params={"model": "ridge", "alpha": "2"}, day=2, git_commit=None),
        run("r3", 3, 0.79, params={"model": "ridge", "alpha": "9", "solver": "saga", "tol": "0.01"}, day=3),
        run("r4", 4, 0.801, params={"model": "ridge", "alpha": "2"}, day=4, duration_s=30.0),
        run("r5", 5, 0.79, params={"model": "ridge", "alpha": "2"}, day=4, seed="7"),
    )
    switch = MetricSwitch("auc", "max", day(0), "agreed at kickoff")
    findings = analyze(AnalysisInput(runs=runs, primary_metric="accuracy", metric_switches=(switch,)))
    order = [k for k in KIND_ORDER if k in kinds(findings.findings)]
    assert kinds(findings.findings) == order
    assert set(order) >= {"metric_switch", "baseline", "current_best", "seed_noise", "approach_status", "multi_change"}
    assert {"duplicate", "repro_gap", "stall", "within_noise"} <= set(order)
    for finding in findings.findings:
        assert unstated_numbers(finding) == [], finding.message


def test_history_order_is_by_time_with_timeless_runs_last() -> None:
    runs = (
        RunView("late", when=None, metrics={"auc": 0.1}),
        run("second", 2, 0.5),
        run("first", 1, 0.4),
        RunView("later", when=None, metrics={"auc": 0.2}),
    )
    findings = analyze(AnalysisInput(runs=runs, primary_metric="auc"))
    assert findings.run_order == ("first", "second", "late", "later")


def test_analyze_is_deterministic() -> None:
    runs = stall_history(0.853)
    assert analyze(AnalysisInput(runs=runs, primary_metric="auc")) == analyze(
        AnalysisInput(runs=runs, primary_metric="auc")
    )


def test_the_number_check_catches_an_unstated_number() -> None:
    finding = Finding("stall", "Run r12 rose by 0.5 on 2024-03-01, from 0.25.", ("r12",), {"rise": 0.5})
    assert unstated_numbers(finding) == ["0.25"]


def test_an_empty_history_has_only_the_baseline_and_noise_advice() -> None:
    findings = analyze(AnalysisInput(runs=(), primary_metric="auc"))
    assert [f.kind for f in findings.findings] == ["missing_baseline", "noise_unknown"]
    assert (findings.best, findings.approaches, findings.stalled) == (None, (), False)


def test_failed_runs_are_configurations_but_not_results() -> None:
    runs = (
        run("ok", 0, 0.80, params={"lr": "0.1"}),
        run("crash", 1, 0.99, params={"lr": "0.2"}, status="FAILED"),
        run("next", 2, 0.81, params={"lr": "0.2", "depth": "3"}),
    )
    findings = analyze(AnalysisInput(runs=runs, primary_metric="auc"))
    assert findings.best == "next"
    assert findings.changes["next"].closest == "crash"
    [approach] = findings.approaches
    assert approach.run_ids == ("ok", "crash", "next")
    assert [k for k, _ in approach.best_so_far] == ["ok", "next"]


def test_naive_times_sort_as_utc_among_aware_ones() -> None:
    aware = run("aware", 0, 0.5)  # 09:00 UTC
    naive = RunView("naive", when=aware.when.replace(tzinfo=None, hour=8) if aware.when else None, metrics={"auc": 0.4})
    findings = analyze(AnalysisInput(runs=(aware, naive), primary_metric="auc"))
    assert findings.run_order == ("naive", "aware")


def test_a_run_that_changed_everything_names_six_changes_and_counts_the_rest() -> None:
    first = {"model": "lgbm", **{f"p{j}": f"0.{j + 1}" for j in range(8)}}
    after = {"model": "lgbm", **{f"p{j}": f"0.{j + 2}" for j in range(8)}}
    found = analyze(
        AnalysisInput(runs=(run("a", 0, 0.8, params=first), run("b", 1, 0.81, params=after)), primary_metric="auc")
    )
    (flag,) = [f for f in found.findings if f.kind == "multi_change"]
    assert "changed 8 parameters at once" in flag.message
    assert flag.message.count("→") == 6 and "and 2 more" in flag.message
    assert len(found.changes["b"].vs_closest) == 8  # the RunChange keeps every change
    assert unstated_numbers(flag) == []
