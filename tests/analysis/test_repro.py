"""Reproduction gaps that matter: project-level fields, deterministic estimators and the gap to close first."""

from __future__ import annotations

import pytest

from app.analysis.determinism import needs_seed
from app.analysis.findings import analyze
from app.analysis.model import AnalysisInput, ProjectGap, RunView
from tests.analysis.builders import run


@pytest.mark.parametrize(
    ("params", "needed"),
    [
        ({"model": "logistic_regression", "solver": "lbfgs"}, False),
        ({"model": "LogisticRegression"}, False),  # the default solver, lbfgs
        ({"model": "logreg", "solver": "liblinear"}, False),
        ({"model": "logreg", "solver": "saga"}, True),
        ({"model": "logreg", "solver": "liblinear", "dual": "True"}, True),
        ({"model": "logreg", "solver": "liblinear", "penalty": "l1"}, True),  # L1 coordinate descent, random order
        ({"model": "LogisticRegression", "solver": "liblinear", "l1_ratio": "1.0"}, True),
        ({"model": "LogisticRegression", "solver": "liblinear", "l1_ratio": "0"}, False),
        ({"model": "sklearn.linear_model.Ridge", "solver": "cholesky"}, False),
        ({"model": "ridge_classifier", "solver": "sag"}, True),
        ({"model": "LinearRegression"}, False),
        ({"model": "lasso", "selection": "random"}, True),
        ({"model": "svc", "kernel": "rbf", "probability": "false"}, False),
        ({"model": "SVC", "probability": "true"}, True),
        ({"estimator": "GaussianNB"}, False),
        ({"classifier": "KNeighborsClassifier", "n_neighbors": "5"}, False),
        ({"model": "arima", "order": "(2,1,2)"}, False),
        ({"model": "exponential_smoothing"}, False),
        ({"model": "dummy", "strategy": "most_frequent"}, False),
        ({"model": "dummy", "strategy": "stratified"}, True),
        ({"model": "sgd_regressor"}, True),
        ({"model": "random_forest"}, True),
        ({"model": "lightgbm", "bagging_fraction": "0.8"}, True),
        ({"model": "mlp"}, True),
        ({"model": "prophet"}, True),
        ({"lr": "0.1"}, True),  # no family: Labbook cannot tell, so it asks
    ],
)
def test_needs_seed(params: dict[str, str], needed: bool) -> None:
    assert needs_seed(RunView("r", params=params)) is needed


def test_a_field_no_run_records_is_one_project_gap_not_a_gap_per_run() -> None:
    runs = tuple(run(f"r{i}", i, 0.8 + i / 100, hardware=None, split=" ") for i in range(4))
    findings = analyze(AnalysisInput(runs=runs, primary_metric="auc"))
    assert findings.project_gaps == (ProjectGap("hardware", 4), ProjectGap("split", 4))
    assert findings.repro_gaps == ()
    (note, other) = findings.of_kind("project_gap")
    assert note.subject == "hardware" and note.numbers == {"runs": 4}
    assert note.message.startswith("No run of this project records the hardware (4 runs lack it)")
    assert not findings.of_kind("repro_gap")


def test_one_run_keeps_its_own_gaps() -> None:
    findings = analyze(AnalysisInput(runs=(run("only", 0, 0.8, hardware=None),), primary_metric="auc"))
    assert findings.project_gaps == ()
    assert [(g.key, g.missing) for g in findings.repro_gaps] == [("only", ("hardware",))]


def test_a_seed_is_no_gap_for_a_deterministic_estimator_and_no_run_seeded_is_a_project_gap() -> None:
    runs = (
        run("logreg", 0, 0.7, seed=None, params={"model": "logistic_regression", "solver": "lbfgs"}),
        run("rf1", 1, 0.8, seed=None, params={"model": "random_forest"}),
        run("rf2", 2, 0.81, seed=None, params={"model": "random_forest", "max_depth": "8"}),
    )
    findings = analyze(AnalysisInput(runs=runs, primary_metric="auc"))
    assert findings.project_gaps == (ProjectGap("seed", 2),)  # the logistic regression lacks none
    assert findings.repro_gaps == ()


def test_a_commit_or_data_version_its_siblings_record_is_ranked_first() -> None:
    runs = (
        run("a", 0, 0.7, owner=None, environment={}),
        run("b", 1, 0.7, seed=None, params={"model": "random_forest"}),
        run("c", 2, 0.7, data_version=None),
        run("d", 3, 0.7),
    )
    findings = analyze(AnalysisInput(runs=runs, primary_metric="auc"))
    assert [g.key for g in findings.repro_gaps] == ["c", "b", "a"]
    first = findings.of_kind("repro_gap")[0]
    assert first.subject == "c" and first.numbers["recorded_elsewhere"] == 3
    assert "The data version is recorded by 3 other runs: close this gap first." in first.message


def test_the_setup_lists_a_project_gap_apart_and_needs_no_seed_of_a_deterministic_run() -> None:
    from app.analysis.setup import likely_setup

    runs = tuple(
        run(f"r{i}", i, 0.8, seed=None, hardware=None, params={"model": "logistic_regression", "C": str(i + 1)})
        for i in range(3)
    )
    findings = analyze(AnalysisInput(runs=runs, primary_metric="auc"))
    setup = likely_setup("r1", runs, findings, {})
    by_name = {f.name: f for f in setup.fields}
    assert by_name["seed"].source == "not_needed"
    assert (by_name["hardware"].source, by_name["hardware"].note) == ("missing", "no run of this project records it")
    assert (setup.gaps, setup.project_gaps) == ((), ("hardware",))
    known = likely_setup("r1", runs, findings, {"hardware": "a100"})
    assert known.project_gaps == () and {f.name: f.source for f in known.fields}["hardware"] == "known"
