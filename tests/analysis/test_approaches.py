"""Approaches: families, assignment precedence, inferred names, computed statuses and people's marks."""

from __future__ import annotations

import pytest

from app.analysis.family import family_of
from app.analysis.findings import analyze
from app.analysis.model import AnalysisInput, AnalysisSettings, Approach, ApproachMark, Findings, RunView
from tests.analysis.builders import run


@pytest.mark.parametrize(
    ("params", "tags", "family"),
    [
        ({"model": "RandomForestClassifier"}, {}, "random_forest"),
        ({"Model_Type": "LogisticRegression"}, {}, "logistic_regression"),
        ({"estimator": "sklearn.ensemble.HistGradientBoostingClassifier"}, {}, "hist_gradient_boosting"),
        ({"model": "XGBClassifier"}, {}, "xgboost"),
        ({"algorithm": "xgb"}, {}, "xgboost"),
        ({"model": "LGBMRegressor"}, {}, "lightgbm"),
        ({"model": "lgbm"}, {}, "lightgbm"),
        ({"model": "GradientBoostingRegressor"}, {}, "gradient_boosting"),
        ({"model": "RandomForestClassifier(n_estimators=100)"}, {}, "random_forest"),
        ({"arch": "resnet50"}, {}, "resnet50"),
        ({"lr": "0.1"}, {"estimator_name": "LogisticRegression"}, "logistic_regression"),
        ({"lr": "0.1"}, {}, None),
        ({"model": "None"}, {}, None),
    ],
)
def test_family_of(params: dict[str, str], tags: dict[str, str], family: str | None) -> None:
    assert family_of(RunView("r", params=params, tags=tags)) == family


SETTINGS = AnalysisSettings(min_effect=0.01, recent_runs=3)


def history() -> tuple[RunView, ...]:
    """A baseline at 0.70 and four tagged approaches, each run its own configuration (no seed repeats), so the
    believable gain is the minimum effect 0.01."""
    values = {
        "plateau": [0.80, 0.85, 0.851, 0.852, 0.853],  # +0.153 over the baseline, +0.003 over the last 3
        "exhausted": [0.69, 0.705, 0.70, 0.68],  # best +0.005: not more than 0.01
        "converging": [0.72, 0.74, 0.76, 0.78],  # +0.08, and +0.06 over the last 3
        "active": [0.90, 0.91],  # two runs: too few
    }
    runs = [run("base", 0, 0.70, params={"model": "DummyClassifier"}, tags={"baseline": "yes"})]
    for name, series in values.items():
        for i, value in enumerate(series):
            key = f"{name[:4]}{i}"
            runs.append(run(key, len(runs), value, params={"x": str(len(runs))}, tags={"Approach": name}))
    return tuple(runs)


def by_name(findings: Findings) -> dict[str, Approach]:
    return {a.name: a for a in findings.approaches}


def test_statuses_from_the_baseline_and_the_recent_best_so_far() -> None:
    approaches = by_name(analyze(AnalysisInput(runs=history(), primary_metric="auc", settings=SETTINGS)))
    assert {name: a.status for name, a in approaches.items()} == {
        "baseline": "active",
        "plateau": "plateaued",
        "exhausted": "exhausted",
        "converging": "converging",
        "active": "active",
    }
    plateau = approaches["plateau"]
    assert plateau.source == "tag"
    assert plateau.best == "plat4"
    assert plateau.gain_vs_baseline == pytest.approx(0.153)
    assert plateau.recent_gain == pytest.approx(0.003)
    assert [v for _, v in plateau.best_so_far] == [0.80, 0.85, 0.851, 0.852, 0.853]
    assert plateau.reason == (
        "best auc 0.853 (run plat4) over 5 scored runs beats the baseline base (0.7) by 0.153, more than the "
        "believable gain 0.01 (the configured minimum effect), but its best-so-far rose only 0.003 over its last 3 "
        "runs, within that gain"
    )
    assert approaches["exhausted"].reason == (
        "best auc 0.705 (run exha1) over 4 scored runs is a gain of 0.005 over the baseline base (0.7), not more "
        "than the believable gain 0.01 (the configured minimum effect)"
    )
    assert approaches["converging"].recent_gain == pytest.approx(0.06)
    assert approaches["active"].recent_gain is None
    assert approaches["active"].reason == (
        "best auc 0.91 (run acti1) over 2 scored runs, a gain of 0.21 over the baseline base (0.7): too few to "
        "judge a trend (4 scored runs needed)"
    )


def test_every_approach_gets_a_status_finding_with_its_evidence() -> None:
    findings = analyze(AnalysisInput(runs=history(), primary_metric="auc", settings=SETTINGS))
    statuses = findings.of_kind("approach_status")
    assert [f.subject for f in statuses] == ["baseline", "plateau", "exhausted", "converging", "active"]
    plateau = statuses[1]
    assert plateau.message.startswith("Approach plateau is plateaued: best auc 0.853 (run plat4)")
    assert plateau.run_ids[:2] == ("plat4", "base")
    assert plateau.numbers == {
        "n_runs": 5,
        "best_value": 0.853,
        "believable_gain": 0.01,
        "reference_value": 0.70,
        "gain_vs_baseline": pytest.approx(0.153),
        "recent_gain": pytest.approx(0.003),
        "recent_runs": 3,
    }


def test_marks_override_the_status_and_keep_the_computed_one() -> None:
    marks = {"plateau": ApproachMark("abandoned", "too slow to train", by="ana")}
    findings = analyze(AnalysisInput(runs=history(), primary_metric="auc", settings=SETTINGS, approach_marks=marks))
    plateau = by_name(findings)["plateau"]
    assert (plateau.status, plateau.computed_status, plateau.reason) == ("abandoned", "plateaued", "too slow to train")
    [finding] = [f for f in findings.of_kind("approach_status") if f.subject == "plateau"]
    assert finding.message.startswith(
        "Approach plateau is marked abandoned by ana: too slow to train. Computed status: plateaued; best auc 0.853"
    )


def test_an_override_wins_over_the_tag() -> None:
    findings = analyze(
        AnalysisInput(runs=history(), primary_metric="auc", settings=SETTINGS, approach_overrides={"acti1": "plateau"})
    )
    approaches = by_name(findings)
    assert approaches["plateau"].run_ids[-1] == "acti1"
    assert approaches["plateau"].source == "override"
    assert approaches["active"].run_ids == ("acti0",)


def test_without_a_baseline_the_first_scored_run_is_the_reference() -> None:
    runs = tuple(r for r in history() if r.key != "base")
    findings = analyze(AnalysisInput(runs=runs, primary_metric="auc", settings=SETTINGS))
    plateau = by_name(findings)["plateau"]
    assert plateau.gain_vs_baseline == pytest.approx(0.053)
    assert "the first scored run plat0 (0.8), as no scored baseline exists" in plateau.reason


def test_an_inferred_approach_is_the_family_and_categorical_settings_are_a_sweep_inside_it() -> None:
    lr = "LogisticRegression"
    runs = (
        run("base", 0, 0.70, params={"model": lr, "C": "1"}, tags={"labbook.baseline": "true"}),
        run("lr1", 1, 0.75, params={"model": lr, "C": "0.1"}),
        run("lr2", 2, 0.76, params={"model": lr, "C": "0.1", "scaler": "standard"}),
        run("lr3", 3, 0.77, params={"model": lr, "C": "10", "scaler": "minmax"}),
        run("rf1", 4, 0.80, params={"model": "RandomForestClassifier", "max_depth": "5", "output_dir": "/tmp/a"}),
        run("rf2", 5, 0.81, params={"model": "RandomForestClassifier", "max_depth": "9", "output_dir": "/tmp/b"}),
        run("x1", 6, 0.50, params={"C": "3"}),
    )
    findings = analyze(AnalysisInput(runs=runs, primary_metric="auc"))
    assert {a.name: a.run_ids for a in findings.approaches} == {
        "baseline": ("base",),
        "logistic_regression": ("lr1", "lr2", "lr3"),
        "random_forest": ("rf1", "rf2"),
        "unlabelled": ("x1",),
    }
    rf = by_name(findings)["random_forest"]
    assert (rf.source, rf.family, rf.changed_keys) == ("inferred", "random_forest", ("max_depth", "output_dir"))
    assert by_name(findings)["logistic_regression"].changed_keys == ("C", "scaler")


def approaches_of(runs: tuple[RunView, ...]) -> dict[str, tuple[str, ...]]:
    findings = analyze(AnalysisInput(runs=runs, primary_metric="auc"))
    return {a.name: a.run_ids for a in findings.approaches}


GBM = {"model": "lightgbm", "lr": "0.1", "leaves": "31"}
RF = {"model": "random_forest", "depth": "8"}


def test_untagged_runs_join_the_tagged_line_they_continue() -> None:
    """Seed repeats and later steps of a tagged line, left untagged, are the same line: through their closest earlier
    configuration (a chain of repeats included), or through the tag most of their family's tagged runs carry (an
    early forest run before the forest was tagged). Another family's untagged runs beside them stay apart."""
    runs = (
        run("base", 0, 0.70, params={"model": "dummy"}, tags={"baseline": "true"}),
        run("g1", 1, 0.80, params=GBM, tags={"approach": "gbm"}, seed="1"),
        run("g2", 2, 0.79, params=GBM, seed="2"),
        run("g3", 3, 0.81, params=GBM, seed="3"),
        run("f1", 4, 0.75, params=RF),
        run("g4", 5, 0.85, params=GBM | {"lr": "0.05"}),
        run("f2", 6, 0.76, params=RF | {"depth": "12"}, tags={"labbook.approach": "forest"}),
        run("k1", 7, 0.60, params={"model": "knn", "k": "5"}),
    )
    assert approaches_of(runs) == {
        "baseline": ("base",),
        "gbm": ("g1", "g2", "g3", "g4"),
        "forest": ("f1", "f2"),
        "k_neighbors": ("k1",),
    }


def test_the_closest_earlier_configuration_decides_between_two_tagged_lines_of_one_family() -> None:
    runs = (
        run("a1", 0, 0.80, params=GBM, tags={"approach": "wide"}),
        run("b1", 1, 0.81, params=GBM | {"leaves": "7", "lr": "0.3"}, tags={"approach": "narrow"}),
        run("b2", 2, 0.82, params=GBM | {"leaves": "7", "lr": "0.2"}),
        run("a2", 3, 0.83, params=GBM | {"leaves": "63"}),
    )
    assert approaches_of(runs) == {"wide": ("a1", "a2"), "narrow": ("b1", "b2")}


def test_runs_without_a_family_never_join_a_tagged_line() -> None:
    runs = (
        run("t1", 0, 0.80, params={"lr": "0.1"}, tags={"approach": "warmup"}),
        run("u1", 1, 0.81, params={"lr": "0.2"}),
    )
    assert approaches_of(runs) == {"warmup": ("t1",), "unlabelled": ("u1",)}


def test_a_categorical_sweep_around_one_configuration_is_one_approach() -> None:
    centre = {"model": "distilbert", "lr": "3e-5", "loss": "cross_entropy", "optimizer": "adamw"}
    runs = (
        run("c1", 0, 0.81, params=centre),
        run("c2", 1, 0.84, params=centre | {"loss": "focal"}),
        run("c3", 2, 0.85, params=centre | {"loss": "label_smoothing"}),
        run("c4", 3, 0.79, params=centre | {"optimizer": "sgd"}),
        run("c5", 4, 0.83, params=centre | {"loss": "focal", "lr": "5e-5"}),
    )
    findings = analyze(AnalysisInput(runs=runs, primary_metric="auc"))
    [line] = findings.approaches
    assert (line.name, line.run_ids, line.changed_keys) == (
        "distilbert",
        ("c1", "c2", "c3", "c4", "c5"),
        ("loss", "lr", "optimizer"),
    )


def test_repeats_of_the_baseline_configuration_are_the_baseline() -> None:
    lr = {"model": "logreg", "C": "1"}
    runs = (
        run("base", 0, 0.70, params=lr, tags={"baseline": "true"}, seed="0"),
        run("rep", 1, 0.71, params=lr, seed="1"),
        run("tuned", 2, 0.72, params=lr | {"C": "0.1"}),
    )
    assert approaches_of(runs) == {"baseline": ("base", "rep"), "logistic_regression": ("tuned",)}


def sweep(parent_metric: float | None = None, parent_tags: dict[str, str] | None = None) -> tuple[RunView, ...]:
    """A baseline, then a nested sweep: a parent naming the search (its `algo` is not a model family), three children
    of one family, one of them a within-noise step; the parent starts first."""
    metrics = {"auc": parent_metric} if parent_metric is not None else {}
    return (
        run("base", 0, 0.70, params={"model": "logreg", "C": "1"}, tags={"baseline": "true"}),
        RunView(
            "p",
            run_id="p",
            params={"algo": "tpe", "max_evals": "3", "space": "lr,leaves"},
            metrics=metrics,
            tags=parent_tags or {},
            when=run("x", 1).when,
        ),
        run("k1", 2, 0.80, run_id="k1", parent_run_id="p", params=GBM),
        run("k2", 3, 0.85, run_id="k2", parent_run_id="p", params=GBM | {"lr": "0.05", "leaves": "63"}),
        run("k3", 4, 0.851, run_id="k3", parent_run_id="p", params=GBM | {"lr": "0.05", "leaves": "127"}),
    )


def test_a_sweeps_parent_is_neither_a_result_nor_a_change() -> None:
    findings = analyze(AnalysisInput(runs=sweep(parent_metric=0.851), primary_metric="auc"))
    assert findings.nested_parents == ("p",)
    assert findings.best == "k3"  # the parent started first with a copy of k3's value: that copy is not a result
    assert "p" not in {f.subject for f in findings.of_kind("multi_change")}
    assert {f.subject for f in findings.of_kind("within_noise")} == {"k3"}  # children are compared with each other
    assert {c.closest for c in findings.changes.values()} == {None, "base", "k1", "k2"}
    assert findings.changes["p"].closest is None
    assert {a.name: a.run_ids for a in findings.approaches} == {
        "baseline": ("base",),
        "lightgbm": ("p", "k1", "k2", "k3"),
    }
    gbm = by_name(findings)["lightgbm"]
    assert (gbm.family, gbm.changed_keys) == ("lightgbm", ("leaves", "lr"))


def test_a_sweeps_tag_on_its_parent_names_its_untagged_children() -> None:
    assert approaches_of(sweep(parent_tags={"approach": "gbm_search"})) == {
        "baseline": ("base",),
        "gbm_search": ("p", "k1", "k2", "k3"),
    }
