"""The second blind findings set (`blind5_*`): every case file is valid and loads, the format is strict, the labels
are consistent with the histories, and the runner runs end to end. The scores are reported (evals/README.md), not
asserted: the code that must meet the issue's targets comes after these cases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from evals import blind_findings2 as bf2
from evals.blind_findings2 import CASES_DIR, SAID_DIR, SWITCH_DIR, Case, SaidCase, SwitchCase

CASE_FILES = sorted(CASES_DIR.glob("*.yaml"))
SWITCH_FILES = sorted(SWITCH_DIR.glob("*.yaml"))
SAID_FILES = sorted(SAID_DIR.glob("*.yaml"))


def _count(pred: Any) -> int:
    return sum(1 for c in bf2.load_cases().values() if pred(c.labels))


def test_every_class_has_at_least_three_cases() -> None:
    assert _count(lambda lab: lab.approaches) >= 3
    assert _count(lambda lab: lab.approach_status) >= 3
    assert _count(lambda lab: lab.within_noise) >= 3  # with at least one within-noise run
    assert _count(lambda lab: lab.best_lead_beyond_noise is True) >= 3
    assert _count(lambda lab: lab.best_lead_beyond_noise is False) >= 3
    assert _count(lambda lab: lab.project_gaps) >= 3
    assert _count(lambda lab: lab.first_gap) >= 3
    assert _count(lambda lab: lab.nested_parents) >= 3
    assert len(SAID_FILES) >= 3
    dumps = [d for c in bf2.load_switch_cases().values() for d in c.dumps]
    assert sum(d.switch is not None for d in dumps) >= 20
    assert sum(d.switch is None for d in dumps) >= 15


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.stem)
def test_case_is_valid_and_builds_an_input(path: Path) -> None:
    case = Case.model_validate(yaml.safe_load(path.read_text()))
    inp = bf2.to_input(case)
    assert {r.key for r in inp.runs} == {r.key for r in case.runs}
    assert {r.parent_run_id for r in inp.runs if r.parent_run_id} == set(case.labels.nested_parents)


@pytest.mark.parametrize("path", SWITCH_FILES, ids=lambda p: p.stem)
def test_switch_case_is_valid(path: Path) -> None:
    SwitchCase.model_validate(yaml.safe_load(path.read_text()))


@pytest.mark.parametrize("path", SAID_FILES, ids=lambda p: p.stem)
def test_said_case_is_valid(path: Path) -> None:
    SaidCase.model_validate(yaml.safe_load(path.read_text()))


def test_why_lines_are_unique() -> None:
    whys = [c.why for c in bf2.load_cases().values()] + [c.why for c in bf2.load_switch_cases().values()]
    assert len(set(whys)) == len(whys)


def _raw() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(CASE_FILES[0].read_text())
    return raw


def test_format_is_strict_and_labels_are_checked() -> None:
    raw = _raw()
    raw["labels"]["groups"] = {}
    with pytest.raises(ValidationError):
        Case.model_validate(raw)
    raw = _raw()
    raw["labels"]["project_gaps"] = ["gpu"]
    with pytest.raises(ValidationError, match="reproducibility fields"):
        Case.model_validate(raw)
    raw = _raw()
    raw["labels"]["approach_status"] = {"nowhere": "active"}
    with pytest.raises(ValidationError, match="unlabelled lines"):
        Case.model_validate(raw)
    raw = _raw()
    raw["runs"][1]["tags"] = {**raw["runs"][1].get("tags", {}), "mlflow.parentRunId": raw["runs"][0]["key"]}
    with pytest.raises(ValidationError, match="nested_parents"):
        Case.model_validate(raw)


def test_phrase_matching() -> None:
    assert bf2.phrase_matches("leakage tenure_days", "Is the forest's gain just leakage through tenure_days?")
    assert not bf2.phrase_matches("warmup", "is the forest's gain real?")


def test_runner_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "summary.json"
    assert bf2.main(["-v", "--json", str(out)]) == 0
    summary = json.loads(out.read_text())
    assert summary["cases"] == len(CASE_FILES)
    assert set(summary["figures"]) == set(bf2.PR_FIGURES)
    assert summary["switch_dumps"] == sum(len(c.dumps) for c in bf2.load_switch_cases().values())
    printed = capsys.readouterr().out
    assert "grouping agreement" in printed and "approach status" in printed
    # the figures themselves are reported in evals/README.md, not gated here


def test_scorer_can_fail() -> None:
    cases = bf2.load_cases()

    def boom(_: Any) -> Any:
        raise RuntimeError("boom")

    summary = bf2.summarize([bf2.run_case(n, c, boom) for n, c in cases.items()])
    assert summary["grouping"]["agreement"] == 0.0
    assert summary["figures"]["repro_gap"]["recall"] == 0.0
    assert bf2.check(summary)
