"""A research agent's `results.tsv` imports as it is: tab-separated, no run IDs, keep/discard/crash verdicts and a
one-line description of each change. Its rows get stable keys (re-importing changes nothing, appending adds only
the new rows), and the audit's findings name them as people count them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.factories import create_project, import_table

LOG = (Path(__file__).resolve().parents[1] / "data" / "agent_results.tsv").read_text()
APPENDED = LOG + "0c4d2e8\t0.998100\t42.5\tkeep\tqk-layernorm\n1d5e3f9\t0.997200\t42.6\tdiscard\tseed=7\n"


def _post_tsv(client: TestClient, text: str, content_type: str = "text/tab-separated-values") -> dict[str, Any]:
    response = client.post("/v1/projects/nanogpt/runs/import", content=text, headers={"Content-Type": content_type})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _project(client: TestClient) -> None:
    create_project(client, "nanogpt", primary_metric="val_bpb", metric_direction="min", min_effect=0.001)


def _runs(client: TestClient) -> list[dict[str, Any]]:
    response = client.get("/v1/projects/nanogpt/runs", params={"limit": 100})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_results_tsv_imports_with_row_keys_verdicts_and_changes(client: TestClient) -> None:
    _project(client)
    result = _post_tsv(client, LOG)
    assert (result["format"], result["created"], result["updated"]) == ("tsv", 19, 0)
    roles = {c["header"]: c["role"] for c in result["columns"]}
    assert roles == {
        "commit": "git_commit",
        "val_bpb": "metric",
        "memory_gb": "metric",
        "status": "status",
        "description": "notes",
    }
    assert [(w["line"], w["message"]) for w in result["warnings"]] == [
        (7, "val_bpb 0 on a crashed row is a placeholder, not a result; not stored"),
        (7, "memory_gb 0 on a crashed row is a placeholder, not a result; not stored"),
    ]
    runs = {run["run_name"].split()[0]: run for run in _runs(client)}
    assert len(runs) == 19
    first, crash, seed = runs["#1"], runs["#6"], runs["#9"]
    assert first["key"].startswith("row1-") and len(first["key"]) == len("row1-") + 8
    assert (first["git_commit"], first["tags"]["status"], first["tags"]["baseline"]) == ("4f1c2a9", "keep", "true")
    assert (crash["status"], crash["tags"]["status"], crash["metrics"]) == ("FAILED", "crash", {})
    assert crash["notes"] == "double n_embd to 1536"
    # A seed-only row has its parent's configuration (row 7, the last kept) and its own seed.
    assert seed["params"] == {**runs["#7"]["params"], "seed": "1337"}
    assert seed["seed"] == "1337"
    # Its own key=value pairs overlay the last kept row's, and its words are the parameter `change`.
    assert runs["#3"]["params"] == {"lr": "6e-4", "warmup_steps": "200"}
    assert runs["#5"]["params"]["change"] == "label smoothing 0.1"
    assert runs["#5"]["tags"]["change"] == "label smoothing 0.1"


def test_reimport_changes_nothing_and_an_appended_log_adds_only_its_rows(client: TestClient) -> None:
    _project(client)
    _post_tsv(client, LOG)
    keys = [run["key"] for run in _runs(client)]
    again = _post_tsv(client, LOG)
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 19)
    appended = _post_tsv(client, APPENDED)
    assert (appended["created"], appended["updated"], appended["unchanged"]) == (2, 0, 19)
    after = _runs(client)
    assert set(keys) < {run["key"] for run in after}
    assert sorted(run["run_name"] for run in after if run["key"] not in keys) == ["#20 qk-layernorm", "#21 seed=7"]


def test_a_pasted_log_is_sniffed_as_tab_separated(client: TestClient) -> None:
    _project(client)
    assert _post_tsv(client, LOG, "text/plain")["format"] == "tsv"
    create_project(client, "other", primary_metric="val_bpb", metric_direction="min")
    assert import_table(client, "other", LOG)["format"] == "tsv"


def test_the_audit_names_rows_and_numbers(client: TestClient) -> None:
    _project(client)
    _post_tsv(client, LOG)
    response = client.get("/v1/projects/nanogpt/findings")
    assert response.status_code == 200, response.text
    names = {run["key"]: run["run_name"].split()[0] for run in _runs(client)}
    audit = {
        (f["kind"], names[f["subject"]])
        for f in response.json()["findings"]
        if f["kind"]
        in ("unchanged_metric", "tried_again", "keep_not_best", "keep_within_noise", "collapse", "seed_only_progress")
    }
    assert {
        ("unchanged_metric", "#5"),
        ("seed_only_progress", "#9"),
        ("tried_again", "#11"),
        ("tried_again", "#18"),
        ("keep_not_best", "#13"),
        ("collapse", "#14"),
        ("keep_within_noise", "#10"),
    } <= audit
    markdown = client.get("/v1/projects/nanogpt/findings", headers={"Accept": "text/markdown"}).text
    assert "Run \\#14 lr=3e-3 collapsed: val_bpb 1.399 against 1.003" in markdown
    assert (
        'Run \\#11 Swap GELU for SwiGLU. tried a change again: \\#8 swap GELU for SwiGLU tried "swap GELU' in markdown
    )
    assert "row14-" not in markdown


def _document(client: TestClient, path: str, body: dict[str, Any]) -> str:
    response = client.post(f"/v1/projects/nanogpt/{path}", json=body, headers={"Accept": "text/markdown"})
    assert response.status_code == 201, response.text
    return response.text


def test_every_document_carries_the_audit(client: TestClient) -> None:
    _project(client)
    _post_tsv(client, LOG)
    summary = _document(client, "summaries", {})
    assert "## What the audit found" in summary and "## What to tell the agent next" in summary
    assert "**Collapses: changes that broke the model** (1): \\#14 lr=3e-3 (1.399 against 1.003" in summary
    assert "**Changes tried again** (2): \\#18 warmup_steps=200 after \\#3 warmup_steps=200 (1.016, then 0.9999)" in (
        summary
    )
    assert "- Do not retry these changes as they were: \u201clr=3e-3\u201d." in summary
    assert "**Crashed** (1): \\#6 double n_embd to 1536" in summary
    assert "These changes crashed; fix them before trying them again: \u201cdouble n_embd to 1536\u201d" in summary
    assert "by more than 0.001, the believable gain" in summary
    assert "## Lines of work" in summary
    assert (
        "- **architecture and capacity** (6 runs, 3 kept beyond the noise, 1 tried again, 1 crashed). Kept: \\#17 "
        "untie embedding and lm_head weights, \\#12 rotary embeddings" in summary
    )
    assert "- **regularisation and augmentation** (4 runs, none kept beyond the noise): exhausted" in summary
    plan = _document(client, "next-experiments", {})
    assert "## What the audit found" in plan and "Stop retrying changes already tried" in plan
    assert "Try lr = 3e-3" not in plan  # the change that collapsed is never advised again
    brief = _document(client, "briefs", {"audience": "the next agent run"})
    assert "## What to tell the agent next" in brief and "A new seed is not a change" in brief
    runs = {run["run_name"].split()[0]: run["key"] for run in _runs(client)}
    repro = _document(client, "reproductions", {"run": runs["#14"]})
    assert "**Collapses: changes that broke the model** (1)" in repro
    tried = _document(client, "tried", {"proposal": "warmup_steps=200"})
    assert "**Changes tried again** (1)" in tried


def test_was_it_tried_reads_the_changes_the_log_describes_in_words(client: TestClient) -> None:
    _project(client)
    _post_tsv(client, LOG)
    names = {run["key"]: run["run_name"].split()[0] for run in _runs(client)}
    for proposal, rows in [
        ("SwiGLU", ["#11", "#8"]),
        ("label smoothing", ["#5"]),
        ("untie the embeddings", ["#17"]),
        ("rotary embeddings", ["#12"]),
    ]:
        response = client.post("/v1/projects/nanogpt/tried", json={"proposal": proposal})
        assert response.status_code == 201, response.text
        body = response.json()["body"]
        assert (body["verdict"], [names[e["key"]] for e in body["exact"]]) == ("tried", rows), proposal
        assert body["unmatched"] == []
    response = client.post("/v1/projects/nanogpt/tried", json={"proposal": "mixture of experts"})
    assert response.json()["body"]["verdict"] == "new"
