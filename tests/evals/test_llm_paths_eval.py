"""The phrasing-path eval (`evals.llm_paths`) on a small subset: the offline path and the scripted model's path both
stay grounded on every document, the scripted path's documents are the model's (not fallbacks), and phrasing
changes no labelled fact (coverage as offline)."""

from __future__ import annotations

from typing import Any

import pytest

from evals import llm_paths

LOG_CASES = ["churn_smote_example", "churn_prompt_injection"]
DOC_CASES = ["tried_churn_tabular", "docs_fraud_target_met", "log_fragments_ctr"]


@pytest.fixture(scope="module")
def summary() -> dict[str, Any]:
    log_cases, doc_cases = llm_paths.select_cases(LOG_CASES, None, DOC_CASES, None)
    assert len(log_cases) == len(LOG_CASES) and len(doc_cases) == len(DOC_CASES)
    return llm_paths.run(["offline", "scripted"], log_cases=log_cases, doc_cases=doc_cases)


def test_grounding_is_one_on_every_path(summary: dict[str, Any]) -> None:
    for name, path in summary["paths"].items():
        assert path["errors"] == {}, name
        for kind, figures in path["kinds"].items():
            assert figures["grounding"]["score"] == 1.0, (name, kind)
    assert llm_paths.grounded_everywhere(summary)


def test_the_offline_path_asks_no_model(summary: dict[str, Any]) -> None:
    offline = summary["paths"]["offline"]["all"]
    assert offline["documents"] > 0 and offline["asked"] == 0 and offline["fallback_rate"] is None


def test_the_scripted_path_is_phrased_by_the_model(summary: dict[str, Any]) -> None:
    scripted = summary["paths"]["scripted"]
    kinds = set(scripted["kinds"])
    assert {"log_entry", "tried_answer", "phase_summary", "next_experiments", "handover_brief"} <= kinds
    for kind, figures in scripted["kinds"].items():
        assert figures["asked"] == figures["documents"] > 0, kind
        assert figures["model_phrased"] > 0, kind
        assert figures["model_latency_ms"] is not None, kind
    assert scripted["all"]["fallback_rate"] is not None and scripted["all"]["fallback_rate"] < 0.5
    phrased = [d for d in scripted["documents"] if d["phrasing"] == "model"]
    assert phrased and all(d["model_ms"] is not None for d in phrased)


def test_phrasing_keeps_the_labelled_facts(summary: dict[str, Any]) -> None:
    offline, scripted = (summary["paths"][p]["kinds"] for p in ("offline", "scripted"))
    for kind in offline:
        assert scripted[kind]["coverage"] == offline[kind]["coverage"], kind


def test_the_table_lists_every_path_and_kind(summary: dict[str, Any]) -> None:
    lines = llm_paths.render(summary)
    assert any(line.startswith("log_entry") and "scripted" in line for line in lines)
    assert any(line.startswith("all") and "offline" in line for line in lines)
