"""The blind findings set: every case file is valid and loads into an `AnalysisInput`, the format is strict, and the
runner runs end to end. The scores are reported (evals/README.md), not asserted: the lead decides on the targets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from evals import blind_findings
from evals.blind_findings import CASES_DIR, Case, load_cases, to_input

CASE_FILES = sorted(CASES_DIR.glob("*.yaml"))


def test_there_are_enough_cases() -> None:
    assert 12 <= len(CASE_FILES) <= 16


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.stem)
def test_case_is_valid_and_builds_an_input(path: Path) -> None:
    case = Case.model_validate(yaml.safe_load(path.read_text()))
    inp = to_input(case)
    assert 5 <= len(inp.runs) <= 25
    assert {r.key for r in inp.runs} == {r.key for r in case.runs}
    assert all(r.when is not None and r.when.tzinfo is not None and r.session == r.when.date() for r in inp.runs)


def test_why_lines_are_unique_and_domains_vary() -> None:
    cases = load_cases()
    assert len({c.why for c in cases.values()}) == len(cases)
    assert {c.project.direction for c in cases.values()} == {"max", "min"}
    assert any(c.metric_switches for c in cases.values())
    assert any(c.labels.missing_baseline for c in cases.values())
    assert any(c.labels.stall for c in cases.values())


def _raw() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(CASE_FILES[0].read_text())
    return raw


def test_unknown_keys_are_rejected() -> None:
    raw = _raw()
    raw["runs"][0]["colour"] = "blue"
    with pytest.raises(ValidationError):
        Case.model_validate(raw)
    raw = _raw()
    raw["labels"]["dupes"] = []
    with pytest.raises(ValidationError):
        Case.model_validate(raw)


def test_labels_must_cite_stored_runs_and_known_fields() -> None:
    raw = _raw()
    raw["labels"]["multi_change"] = ["not-a-run"]
    with pytest.raises(ValidationError, match="unknown runs"):
        Case.model_validate(raw)
    raw = _raw()
    raw["labels"]["repro_gaps"] = {raw["runs"][0]["key"]: ["gpu"]}
    with pytest.raises(ValidationError, match="reproducibility fields"):
        Case.model_validate(raw)


def test_run_defaults_apply_unless_the_run_overrides_them() -> None:
    raw = _raw()
    raw["run_defaults"]["owner"] = "default-owner"
    raw["runs"][0]["owner"] = None
    case = Case.model_validate(raw)
    assert case.runs[0].owner is None
    assert case.runs[1].owner == "default-owner"


def test_runner_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "summary.json"
    assert blind_findings.main(["-v", "--json", str(out)]) == 0
    summary = json.loads(out.read_text())
    assert summary["cases"] == len(CASE_FILES)
    assert set(summary["kinds"]) == set(blind_findings.TARGETS)
    assert summary["errors"] == {}
    printed = capsys.readouterr().out
    assert "approach status" in printed and "best run" in printed
    # the figures themselves are reported in evals/README.md, not gated here


def test_scorer_can_fail() -> None:
    cases = load_cases()
    results = [
        blind_findings.run_case(n, c, lambda inp: (_ for _ in ()).throw(RuntimeError("boom"))) for n, c in cases.items()
    ]
    summary = blind_findings.summarize(results)
    assert summary["kinds"]["duplicate"]["recall"] == 0.0
    assert blind_findings.check(summary)
