"""The likely setup of a run: recorded, known, inferred from agreeing siblings, or missing; and its tolerance."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from app.analysis.model import REPRO_FIELDS, Approach, LogStatement, Noise, RunView, SeedGroup, SetupField
from app.analysis.setup import likely_setup, render_environment
from app.errors import InputInvalid, RunNotFound
from tests.analysis.test_tried import make_findings

T0 = datetime(2024, 3, 1, 9)


def run(key: str, minute: int, **fields: object) -> RunView:
    return RunView(key, run_id=key, when=T0 + timedelta(minutes=minute), **fields)  # type: ignore[arg-type]


TARGET = run(
    "t",
    5,
    params={"lr": "0.1", "random_state": "7"},
    metrics={"auc": 0.84},
    git_commit="abc1234",
    source_name="train.py",
    environment={"python": "3.11.7", "packages": {"scikit-learn": "1.5.2", "numpy": "1.26.4"}},
)
SIBLINGS = [
    run("s1", 1, source_name="train.py", hardware="a100", split="time-based 80/20", owner="ana"),
    run("s2", 2, source_name="train.py", hardware="a100", split="random 80/20"),
    run("s3", 8, source_name="train.py", hardware="a100", data_version="v3"),
    run("other", 3, source_name="eval.py", hardware="cpu", data_version="v1", owner="bo"),
]
RUNS = [TARGET, *SIBLINGS]


def by_name(fields: tuple[SetupField, ...]) -> dict[str, SetupField]:
    return {f.name: f for f in fields}


def test_each_field_says_where_it_comes_from() -> None:
    setup = likely_setup("t", RUNS, make_findings(RUNS), {"owner": "carla"})
    fields = by_name(setup.fields)
    assert [f.name for f in setup.fields] == list(REPRO_FIELDS)
    assert (fields["git_commit"].source, fields["git_commit"].value) == ("run", "abc1234")
    assert fields["seed"].value == "7" and fields["seed"].source == "run"  # from the random_state parameter
    assert fields["environment"].value == "python 3.11.7; numpy 1.26.4, scikit-learn 1.5.2"
    assert (fields["owner"].source, fields["owner"].value) == ("known", "carla")
    hardware = fields["hardware"]
    assert (hardware.source, hardware.value, hardware.evidence) == ("inferred", "a100", ("s1", "s2", "s3"))
    assert hardware.note == "inferred from 3 sibling runs that agree; confirm"
    assert (fields["data_version"].source, fields["data_version"].evidence) == ("inferred", ("s3",))
    assert fields["data_version"].note == "inferred from 1 sibling run; confirm"
    # the siblings disagree on the split; the eval.py run is not a sibling
    assert (fields["split"].source, fields["split"].value) == ("missing", None)
    assert "disagree" in fields["split"].note
    assert setup.gaps == ("data_version", "hardware", "split")
    assert setup.params == {"lr": "0.1", "random_state": "7"}


def test_expected_value_and_tolerance_from_seed_noise() -> None:
    noise = Noise("seed_repeats", std=0.004, min_gain=0.008, groups=(SeedGroup(("s1", "s2"), 0.8, 0.004),))
    setup = likely_setup("t", RUNS, replace(make_findings(RUNS), noise=noise), {})
    assert (setup.metric, setup.expected, setup.noise_source) == ("auc", 0.84, "seed_repeats")
    assert setup.tolerance == pytest.approx(0.008)


def test_tolerance_without_repeats_is_the_minimum_gain() -> None:
    setup = likely_setup("t", RUNS, make_findings(RUNS), {})
    assert (setup.tolerance, setup.noise_source) == (0.005, "min_effect")
    assert likely_setup("s1", RUNS, make_findings(RUNS), {}).expected is None  # no stored auc


def test_siblings_by_approach_when_no_entry_point() -> None:
    runs = [
        run("x", 0, hardware="t4"),
        run("y", 1),
        run("z", 2, hardware="v100"),  # another approach: ignored
    ]
    approach = Approach("lgbm", "tag", ("x", "y"), "active", "active", "")
    setup = likely_setup("y", runs, replace(make_findings(runs), approaches=(approach,)), {})
    hardware = by_name(setup.fields)["hardware"]
    assert (hardware.source, hardware.value, hardware.evidence) == ("inferred", "t4", ("x",))


def test_siblings_by_parent_run() -> None:
    runs = [
        run("parent", 0, owner="ana"),
        run("child1", 1, parent_run_id="parent"),
        run("child2", 2, parent_run_id="parent", owner="ana"),
        run("stranger", 3, owner="bo"),
    ]
    owner = by_name(likely_setup("child1", runs, make_findings(runs), {}).fields)["owner"]
    assert (owner.source, owner.value, owner.evidence) == ("inferred", "ana", ("parent", "child2"))


def test_only_the_nearest_five_each_side_are_asked() -> None:
    far = [run(f"far{i}", i, source_name="a.py", hardware="k80") for i in range(3)]
    near = [run(f"near{i}", 10 + i, source_name="a.py", hardware="a100") for i in range(5)]
    target = run("t", 20, source_name="a.py")
    after = [run(f"after{i}", 30 + i, source_name="a.py", hardware="a100") for i in range(7)]
    runs = [*far, *near, target, *after]
    hardware = by_name(likely_setup("t", runs, make_findings(runs), {}).fields)["hardware"]
    assert hardware.value == "a100" and len(hardware.evidence) == 10
    assert not any(key.startswith("far") for key in hardware.evidence)


def test_a_recorded_field_wins_over_what_the_person_says_and_notes_the_difference() -> None:
    commit = by_name(likely_setup("t", RUNS, make_findings(RUNS), {"git_commit": "fff0000"}).fields)["git_commit"]
    assert (commit.source, commit.value) == ("run", "abc1234")
    assert "fff0000" in commit.note


def test_datasets_stand_in_for_a_missing_data_version() -> None:
    runs = [run("d", 0, datasets=({"name": "train", "digest": "3f2a9c1d"},))]
    field = by_name(likely_setup("d", runs, make_findings(runs), {}).fields)["data_version"]
    assert (field.source, field.value) == ("run", "train (digest 3f2a9c1d)")


def test_a_run_id_finds_the_run_too() -> None:
    runs = [RunView("name:x", run_id="abc123", metrics={"auc": 0.7})]
    assert likely_setup("abc123", runs, make_findings(runs), {}).key == "name:x"


def test_unknown_run_and_unknown_known_field_are_refused() -> None:
    with pytest.raises(RunNotFound) as missing:
        likely_setup("nope", RUNS, make_findings(RUNS), {})
    assert missing.value.field == "run"
    with pytest.raises(InputInvalid) as invalid:
        likely_setup("t", RUNS, make_findings(RUNS), {"gpu": "a100"})
    assert invalid.value.field == "known.gpu"


@pytest.mark.parametrize(
    ("environment", "text"),
    [
        ({}, None),
        ({"python": "3.11.7"}, "python 3.11.7"),
        ({"packages": {"torch": "2.3.0"}}, "torch 2.3.0"),
        ({"python": "3.12", "packages": {"b": "1", "a": "2"}, "sources": ["x"]}, "python 3.12; a 2, b 1"),
    ],
)
def test_render_environment(environment: dict[str, object], text: str | None) -> None:
    assert render_environment(environment) == text


def test_with_analyze_seed_repeats_set_the_tolerance() -> None:
    from app.analysis.findings import analyze
    from app.analysis.model import AnalysisInput
    from tests.analysis.builders import run as built

    runs = (
        built("s0", 0, 0.80, params={"lr": "0.1", "seed": "0"}, seed="0"),
        built("s1", 1, 0.82, params={"lr": "0.1", "seed": "1"}, seed="1"),
        built("s2", 2, 0.81, params={"lr": "0.1", "seed": "2"}, seed="2"),
        built("x", 3, 0.85, params={"lr": "0.2", "seed": "0"}, seed="0", hardware=None),
    )
    findings = analyze(AnalysisInput(runs=runs, primary_metric="auc"))
    assert findings.noise.source == "seed_repeats" and findings.noise.std is not None
    setup = likely_setup("x", runs, findings, {})
    assert setup.tolerance == pytest.approx(findings.noise.min_gain) and setup.expected == 0.85
    hardware = by_name(setup.fields)["hardware"]
    assert (hardware.source, hardware.value) == ("inferred", "cpu")
    assert setup.gaps == ("hardware",)


def test_a_deterministic_run_matches_to_rounding_whatever_the_seed_noise() -> None:
    """A ridge fit is the same model on the same data, code and environment: its tolerance is its stored value's
    rounding, not the believable gain measured on a forest's seeds."""
    runs = [
        run("ridge", 0, params={"estimator": "Ridge", "alpha": "3"}, metrics={"auc": 0.71234}),
        run("forest", 1, params={"estimator": "ExtraTreesRegressor", "seed": "1"}, metrics={"auc": 0.7}),
        run("whole", 2, params={"estimator": "Lasso"}, metrics={"auc": 2.0}),
    ]
    noise = Noise("seed_repeats", std=0.004, min_gain=0.0093, groups=(SeedGroup(("forest",), 0.7, 0.004),))
    facts = replace(make_findings(runs), noise=noise)
    ridge = likely_setup("ridge", runs, facts, {})
    assert (ridge.tolerance_rule, ridge.tolerance) == ("rounding", pytest.approx(0.00005))  # shown as 0.7123
    assert likely_setup("whole", runs, facts, {}).tolerance == pytest.approx(0.5)  # shown as 2
    forest = likely_setup("forest", runs, facts, {})
    assert (forest.tolerance_rule, forest.tolerance) == ("believable_gain", 0.0093)


def test_siblings_share_the_runs_session_and_model_family() -> None:
    """One launch script for every model: a same-day run of another family, or a run of another day, may have run
    other code, so neither is asked."""
    day1, day2 = datetime(2024, 3, 1, 9), datetime(2024, 3, 2, 9)
    runs = [
        RunView(
            "old-xgb", run_id="old-xgb", when=day1, params={"model": "xgboost"}, git_commit="c1", source_name="fit.py"
        ),
        RunView(
            "xgb-a", run_id="xgb-a", when=day2, params={"model": "XGBClassifier"}, git_commit="c2", source_name="fit.py"
        ),
        RunView(
            "lgbm",
            run_id="lgbm",
            when=day2 + timedelta(minutes=1),
            params={"model": "lightgbm"},
            git_commit="c3",
            source_name="fit.py",
        ),
        RunView(
            "xgb-b", run_id="xgb-b", when=day2 + timedelta(minutes=2), params={"model": "xgboost"}, source_name="fit.py"
        ),
    ]
    commit = by_name(likely_setup("xgb-b", runs, make_findings(runs), {}).fields)["git_commit"]
    assert (commit.source, commit.value, commit.evidence) == ("inferred", "c2", ("xgb-a",))


def test_a_sweeps_children_are_siblings_but_not_of_another_family() -> None:
    runs = [
        run("sweep", 0, params={"model": "svr"}, git_commit="s1"),
        run("svr-1", 1, parent_run_id="sweep", params={"model": "SVR", "C": "1"}),
        run("knn-1", 2, parent_run_id="sweep", params={"model": "knn"}, git_commit="k9"),
    ]
    commit = by_name(likely_setup("svr-1", runs, make_findings(runs), {}).fields)["git_commit"]
    assert (commit.source, commit.value, commit.evidence) == ("inferred", "s1", ("sweep",))


SCRATCH_RUNS = [
    run("base", 0, params={"model": "catboost"}, git_commit="9f1e", source_name="go.py"),
    run("hacked", 1, params={"model": "catboost"}, source_name="go.py"),
    run("dirty", 2, params={"model": "catboost"}, git_commit="9f1e", source_name="go.py"),
]


def test_the_log_saying_the_code_was_not_recorded_is_a_gap_never_inferred() -> None:
    said = [
        LogStatement("hacked came from a notebook copy with local edits, nothing committed", ("hacked",), T0.date()),
        LogStatement("dirty: uncommitted changes to the loss; base is clean", ("dirty", "base")),
    ]
    setup = likely_setup("hacked", SCRATCH_RUNS, make_findings(SCRATCH_RUNS), {}, said)
    commit = by_name(setup.fields)["git_commit"]
    assert (commit.source, commit.value, commit.evidence) == ("missing", None, ())
    assert commit.said == "(2024-03-01) “hacked came from a notebook copy with local edits, nothing committed”"
    assert commit.note.startswith("not recorded: the log says (2024-03-01) “hacked came")
    assert "git_commit" in setup.gaps
    # a recorded commit with changes on top is doubted: kept, and a gap
    dirty = likely_setup("dirty", SCRATCH_RUNS, make_findings(SCRATCH_RUNS), {}, said)
    commit = by_name(dirty.fields)["git_commit"]
    assert (commit.source, commit.value) == ("run", "9f1e") and "uncommitted changes" in commit.note
    assert "git_commit" in dirty.gaps
    # the clause about another run, and a statement not citing the run, say nothing of it
    base = likely_setup("base", SCRATCH_RUNS, make_findings(SCRATCH_RUNS), {}, said)
    assert by_name(base.fields)["git_commit"].said == "" and "git_commit" not in base.gaps


def test_the_data_version_shows_the_logged_datasets_digest() -> None:
    runs = [
        run("one", 0, data_version="2024-q1", datasets=({"name": "2024-q1", "digest": "77aa01"},)),
        run("two", 1, data_version="2024-q1", datasets=({"name": "train", "digest": "5b"}, {"name": "val"})),
    ]
    fields = [by_name(likely_setup(k, runs, make_findings(runs), {}).fields)["data_version"] for k in ("one", "two")]
    assert [f.value for f in fields] == ["2024-q1 (digest 77aa01)", "2024-q1; train (digest 5b), val"]
