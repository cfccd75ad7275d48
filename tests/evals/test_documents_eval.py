"""The blind document eval: every case file validates, and the runner scores one case of each kind end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from evals import documents


def test_every_case_file_validates() -> None:
    cases = documents.load_cases()
    kinds = {c.kind for c in cases.values()}
    assert kinds == {"tried", "documents", "log_entry"}
    proposals = [p for c in cases.values() if isinstance(c, documents.TriedCase) for p in c.proposals]
    assert len(proposals) >= 30
    assert any(len(p.cite) > 8 for p in proposals)


def test_an_unknown_key_is_refused(tmp_path: Path) -> None:
    source = next(documents.CASES_DIR.glob("tried_*.yaml"))
    data = yaml.safe_load(source.read_text())
    data["proposals"][0]["verdit"] = "tried"
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ValidationError):
        documents.load_cases(tmp_path)


def test_a_label_citing_an_unknown_run_is_refused(tmp_path: Path) -> None:
    source = next(documents.CASES_DIR.glob("docs_*.yaml"))
    data = yaml.safe_load(source.read_text())
    data["labels"]["best"] = "no_such_run"
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ValidationError, match="unknown runs"):
        documents.load_cases(tmp_path)


@pytest.mark.parametrize("prefix", ["tried_", "docs_", "log_"])
def test_one_case_end_to_end(prefix: str, tmp_path: Path) -> None:
    name = sorted(n for n in documents.load_cases() if n.startswith(prefix))[0]
    out = tmp_path / "summary.json"
    assert documents.main(["--case", name, "--json", str(out)]) == 0
    summary = json.loads(out.read_text())
    assert summary["cases"] == 1
    assert summary["errors"] == {}
    if prefix == "tried_":
        assert summary["verdicts"]["total"] >= 5
        assert summary["cited_runs"]["labelled"] > 0
    elif prefix == "docs_":
        assert summary["self_contradiction_checks"]["total"] > 10
        assert summary["quotes"]["total"] > 0 and summary["next_steps"]["labelled"] > 0
    else:
        assert summary["log_entry_fragment_checks"]["total"] > 10


def test_markdown_checks_catch_what_they_name() -> None:
    assert documents.long_numbers("gain +0.00181964587519 and 0.8200000000000001, fine 0.8213") == [
        "0.00181964587519",
        "0.8200000000000001",
    ]
    key = "9b22c4f0" + "a" * 24
    assert documents.hex_ids(f"[lgbm (9b22c4f0)](http://mlflow/#/experiments/1/runs/{key})") == []
    assert documents.hex_ids(f"best run {key}") == [key]
    assert documents.noise_contradictions(
        "lgbm-a is within the noise of the baseline. lgbm-a is beyond the noise.", {key: "lgbm-a"}
    ) == [key]


def test_the_blind_set_meets_its_targets(tmp_path: Path) -> None:
    """The figures issue 15 names, on every blind case: a regression in any document class fails here."""
    out = tmp_path / "summary.json"
    assert documents.main(["--check", "--json", str(out)]) == 0, documents.check(json.loads(out.read_text()))


def test_the_holdout_set_meets_its_targets(tmp_path: Path) -> None:
    """The second set, in other domains and writing styles, holds the same targets."""
    out = tmp_path / "summary.json"
    holdout = documents.CASES_DIR.parent / "documents_holdout"
    assert len(documents.load_cases(holdout)) == 6
    assert documents.main(["--check", "--cases", str(holdout), "--json", str(out)]) == 0, documents.check(
        json.loads(out.read_text())
    )
