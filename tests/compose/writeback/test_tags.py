"""The labbook.* tags of each run, computed from findings built by hand (the analysis is tested on its own)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from app.analysis.model import (
    Approach,
    Duplicate,
    Finding,
    Findings,
    Noise,
    ParamChange,
    ReproGap,
    RunChange,
)
from app.compose.writeback.tags import MAX_VALUE_BYTES, is_managed, labbook_tags


def findings(**overrides: Any) -> Findings:
    base = Findings(
        metric="val_auc",
        direction="max",
        metric_switches=(),
        baseline=None,
        baseline_value=None,
        best=None,
        best_value=None,
        noise=Noise(source="min_effect", std=None, min_gain=0.005),
        changes={},
        approaches=(),
        duplicates=(),
        repro_gaps=(),
        stalled=False,
        findings=(),
        run_order=("r1", "r2", "r3", "r4"),
    )
    return replace(base, **overrides)


def approach(name: str, *runs: str, status: Any = "plateaued") -> Approach:
    return Approach(name=name, source="tag", run_ids=runs, status=status, computed_status=status, reason="")


def change(key: str, closest: str | None, *keys: str) -> RunChange:
    return RunChange(key=key, closest=closest, vs_closest=tuple(ParamChange(k, "1", "2") for k in keys))


@pytest.mark.parametrize(
    ("given", "run", "expected"),
    [
        ({"baseline": "r1", "baseline_value": 0.9}, "r1", {"labbook.finding.baseline": "true"}),
        ({"best": "r2", "best_value": 0.9954}, "r2", {"labbook.finding.current_best": "val_auc=0.9954"}),
        ({"best": "r2", "best_value": 12.0}, "r2", {"labbook.finding.current_best": "val_auc=12"}),
        ({"duplicates": (Duplicate("r3", "r1", 4.0),)}, "r3", {"labbook.finding.duplicate": "of r1"}),
        (
            {
                "changes": {"r4": change("r4", "r2", "C", "penalty")},
                "findings": (Finding("multi_change", "two changes", ("r4", "r2"), subject="r4"),),
            },
            "r4",
            {"labbook.finding.multi_change": "changed C, penalty vs r2"},
        ),
        (
            {"findings": (Finding("within_noise", "m", ("r3",), {"gain": 0.0004, "noise": 0.0021}, subject="r3"),)},
            "r3",
            {"labbook.finding.within_noise": "gain +0.0004 <= noise 0.0021"},
        ),
        (
            {"findings": (Finding("within_noise", "m", ("r3",), {"gain": 0.001}, subject="r3"),)},
            "r3",
            {"labbook.finding.within_noise": "gain +0.001 <= noise 0.005"},  # the noise threshold of the findings
        ),
        (
            {"repro_gaps": (ReproGap("r2", ("git_commit", "seed")),)},
            "r2",
            {"labbook.finding.repro_gap": "missing git_commit, seed"},
        ),
        (
            {"approaches": (approach("logreg-scaled", "r2", status="converging"),)},
            "r2",
            {"labbook.approach": "logreg-scaled", "labbook.approach_status": "converging"},
        ),
    ],
)
def test_each_run_level_finding_becomes_one_tag(given: dict[str, Any], run: str, expected: dict[str, str]) -> None:
    assert labbook_tags(findings(**given)) == {run: expected}


def test_tags_of_a_run_are_combined_in_a_fixed_order_and_runs_in_history_order() -> None:
    found = findings(
        approaches=(approach("rf", "r3", "r1"),),
        baseline="r1",
        best="r3",
        best_value=0.97,
        repro_gaps=(ReproGap("r3", ("seed",)), ReproGap("r2", ())),  # a gap with nothing missing says nothing
    )
    tags = labbook_tags(found)
    assert list(tags) == ["r1", "r3"]  # r2 and r4 have nothing to say
    assert list(tags["r3"]) == [
        "labbook.approach",
        "labbook.approach_status",
        "labbook.finding.current_best",
        "labbook.finding.repro_gap",
    ]
    assert tags["r1"] == {
        "labbook.approach": "rf",
        "labbook.approach_status": "plateaued",
        "labbook.finding.baseline": "true",
    }


def test_runs_outside_run_order_get_no_tags() -> None:
    assert labbook_tags(findings(baseline="gone", run_order=("r1",))) == {}


def test_multi_change_without_a_recorded_change_still_says_so() -> None:
    found = findings(findings=(Finding("multi_change", "m", ("r2",), subject="r2"),))
    assert labbook_tags(found) == {"r2": {"labbook.finding.multi_change": "changed more than one parameter"}}


def test_a_long_value_is_cut_to_mlflows_limit_on_a_character_boundary() -> None:
    keys = [f"paramètre_{i}" for i in range(1000)]
    found = findings(
        changes={"r2": change("r2", "r1", *keys)},
        findings=(Finding("multi_change", "m", ("r2",), subject="r2"),),
    )
    value = labbook_tags(found)["r2"]["labbook.finding.multi_change"]
    assert len(value.encode("utf-8")) <= MAX_VALUE_BYTES and value.endswith("…")
    assert value.startswith("changed paramètre_0, paramètre_1")


@pytest.mark.parametrize(
    ("key", "managed"),
    [
        ("labbook.finding.duplicate", True),
        ("labbook.approach_status", True),
        ("labbook.approach", False),  # people set it by hand to name an approach
        ("mlflow.note.content", False),
        ("labbook.entry_ids", False),
    ],
)
def test_which_tags_labbook_alone_writes(key: str, managed: bool) -> None:
    assert is_managed(key) is managed


def test_deterministic_for_10k_runs() -> None:
    keys = tuple(f"run{i:05d}" for i in range(10_000))
    found = findings(
        run_order=keys,
        approaches=tuple(approach(f"a{j}", *keys[j::10]) for j in range(10)),
        duplicates=tuple(Duplicate(k, keys[0], None) for k in keys[1::7]),
        repro_gaps=tuple(ReproGap(k, ("seed",)) for k in keys[::3]),
        changes={k: change(k, keys[0], "a", "b") for k in keys[::5]},
        findings=tuple(Finding("multi_change", "m", (k,), subject=k) for k in keys[::5]),
        best=keys[-1],
        best_value=0.99,
    )
    tags = labbook_tags(found)  # speed: bench/findings.py
    assert len(tags) == 10_000 and list(tags) == list(keys)
    assert tags == labbook_tags(found)
    assert tags[keys[5]]["labbook.finding.multi_change"] == f"changed a, b vs {keys[0]}"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.8 + 0.02, "0.82"),
        (0.9953712341, "0.9954"),
        (0.00181964587519, "0.00182"),
        (12.0, "12"),
        (1e-05, "1e-05"),
        (-0.25, "-0.25"),
    ],
)
def test_numbers_have_at_most_4_significant_digits_without_float_noise(value: float, text: str) -> None:
    assert (
        labbook_tags(findings(best="r1", best_value=value))["r1"]["labbook.finding.current_best"] == f"val_auc={text}"
    )


def test_values_are_plain_one_line_text_a_search_filter_can_match() -> None:
    """People name approaches (the `labbook.approach` tag, a table's approach column): the value keeps the name's
    characters, Markdown and HTML included, but loses line breaks and control characters."""
    name = "smote <script>alert(1)</script>\n*v2*\x1b[0m | [x](javascript:y)\u202e"
    tags = labbook_tags(findings(approaches=(approach(name, "r1"),)))
    assert tags["r1"]["labbook.approach"] == "smote <script>alert(1)</script> *v2* [0m | [x](javascript:y)"


def test_a_value_left_empty_by_its_control_characters_is_not_written() -> None:
    assert labbook_tags(findings(approaches=(approach("\n\t\x07", "r1"),))) == {
        "r1": {"labbook.approach_status": "plateaued"}
    }
