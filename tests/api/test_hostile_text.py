"""Hostile text through the real app: a brain dump, run-table cells, run names, approach names, decision criteria and
rationales full of HTML, script links, table pipes and spreadsheet formulas. JSON keeps every text as written; every
Markdown answer shows it as text and makes no markup; every answer says `nosniff`."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import create_project, import_table
from tests.markdown_reader import assert_shows_as_text

MARKDOWN = {"Accept": "text/markdown"}
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
LINK = "[x](javascript:alert(1))"
IFRAME = '<iframe src="javascript:alert(1)"></iframe>'
PROJECT = f"Churn {SCRIPT}"
SMOTE = f"smote {IFRAME} | *v2*"
FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)"]
# A run table without run IDs: each run's key is `name:<its name>`, so run names reach every document's code spans.
ROWS = [
    ["run_name", "start_time", "model", "lr", "tag.approach", "notes", "val_auc", "val_f1"],
    [f"base {SCRIPT}", "2026-11-01T09:00:00Z", "logreg", "", "", FORMULAS[0], "0.800", "0.700"],
    [f"smote|a {LINK}", "2026-11-02T09:00:00Z", "lightgbm", "0.05", SMOTE, FORMULAS[1], "0.850", "0.760"],
    ["smote`b", "2026-11-03T09:00:00Z", "lightgbm", "0.04", SMOTE, FORMULAS[2], "0.852", "0.770"],
    ["smote-c", "2026-11-04T09:00:00Z", "lightgbm", "0.03", SMOTE, FORMULAS[3], "0.853", "0.780"],
    ["smote-d", "2026-11-05T09:00:00Z", "lightgbm", "0.02", SMOTE, "", "0.853", "0.790"],
    ["weights-a", "2026-11-06T09:00:00Z", "xgboost", "0.1", f"weights {IMG}", "", "0.860", "0.720"],
    ["weights-b", "2026-11-07T09:00:00Z", "xgboost", "0.05", f"weights {IMG}", "", "0.870", "0.730"],
]
TABLE = "".join(",".join('"' + c.replace('"', '""') + '"' for c in row) + "\n" for row in ROWS)
DUMP = f"""\
Tried SMOTE {IMG} on smote-c: val auc 0.853 {SCRIPT}
Conclusion: {LINK} beats | pipes ` and `ticks`
> quoted {IFRAME}
Next: # not a heading {IFRAME}
"""
CRITERION = f"auc | {SCRIPT}"
DECISION = {
    "finalists": ["weights-b", "smote-d"],
    "criteria": [
        {"name": CRITERION, "weight": 2, "metric": "val_auc", "why": f"{LINK} {IMG}"},
        {"name": "f1\nrecall", "weight": 1, "metric": "val_f1"},
    ],
    "rationale": f"{SCRIPT} the 0.87 | matters",
    "title": f"Pick {IMG}",
}
DOCUMENTS: dict[str, dict[str, Any]] = {
    "summaries": {},
    "next-experiments": {"budget_runs": 3},
    "tried": {"proposal": f"lightgbm lr=0.03 {SCRIPT}"},
    "decisions": DECISION,
    "reproductions": {"run": "smote-c", "known": {"data_version": f"{SCRIPT} | v3"}},
    "briefs": {"audience": f"Sam {IMG}"},
}


@pytest.fixture(autouse=True)
def history(client: TestClient) -> None:
    create_project(client, "churn", name=PROJECT, goal=f"predict churn {LINK}", primary_metric="val_auc")
    import_table(client, "churn", TABLE, "csv")


def markdown_of(response: Any) -> str:
    assert response.status_code in (200, 201), response.text
    assert response.headers["content-type"].startswith("text/markdown")
    assert response.headers["x-content-type-options"] == "nosniff"
    text: str = response.text
    return text


def assert_rows_whole(markdown: str) -> None:
    """Every table row has its header's number of cells: no `|` or line break in people's text split a row."""
    rendered = assert_shows_as_text(markdown)
    for row in rendered.rows:
        assert len(row) == len(rendered.rows[0]), f"a row lost its columns: {row}\n{markdown}"


class TestImportRuns:
    def test_cells_and_names_are_stored_as_written(self, client: TestClient) -> None:
        runs = {r["run_name"]: r for r in client.get("/v1/projects/churn/runs").json()["items"]}
        assert runs[f"base {SCRIPT}"]["notes"] == FORMULAS[0]
        assert runs[f"smote|a {LINK}"]["notes"] == FORMULAS[1]
        assert runs["smote`b"]["notes"] == FORMULAS[2] and runs["smote-c"]["notes"] == FORMULAS[3]
        assert runs["smote-c"]["tags"]["approach"] == SMOTE
        assert runs[f"base {SCRIPT}"]["key"] == f"name:base {SCRIPT}"


class TestCreateLog:
    def test_json_keeps_the_dump_and_its_items_as_written(self, client: TestClient) -> None:
        response = client.post("/v1/projects/churn/logs", json={"text": DUMP})
        assert response.status_code == 201, response.text
        assert response.headers["x-content-type-options"] == "nosniff"
        log = response.json()
        assert log["text"] == DUMP
        texts = [
            i["text"]
            for section in ("observations", "conclusions", "next_steps")
            for i in log["log_entry"]["body"][section]
        ]
        assert any(SCRIPT in t and IMG in t for t in texts), texts
        assert any(LINK in t for t in texts), texts

    def test_markdown_shows_the_dump_as_text(self, client: TestClient) -> None:
        markdown = markdown_of(client.post("/v1/projects/churn/logs", json={"text": DUMP}, headers=MARKDOWN))
        rendered = assert_shows_as_text(markdown, PROJECT, SCRIPT, IMG, LINK, IFRAME, "# not a heading")
        assert rendered.tags.count("h1") == 1
        assert_rows_whole(markdown)
        entry = client.get("/v1/projects/churn/entries", params={"kind": "log_entry"}).json()["items"][0]
        assert SCRIPT in entry["body"]["tldr"] or any(SCRIPT in i["text"] for i in entry["body"]["observations"])
        assert markdown_of(client.get(f"/v1/entries/{entry['id']}", headers=MARKDOWN)) == markdown


class TestDocuments:
    @pytest.mark.parametrize("resource", list(DOCUMENTS))
    def test_markdown_shows_people_s_text_as_text(self, client: TestClient, resource: str) -> None:
        response = client.post(f"/v1/projects/churn/{resource}", json=DOCUMENTS[resource], headers=MARKDOWN)
        markdown = markdown_of(response)
        rendered = assert_shows_as_text(markdown, PROJECT)
        assert rendered.tags.count("h1") == 1
        assert_rows_whole(markdown)
        runs = {r["key"] for r in client.get("/v1/projects/churn/runs").json()["items"]}
        quoted = {c for c in rendered.code if c.startswith("mlflow.")}  # a reproduction report's MLflow calls
        assert set(rendered.code) - quoted <= runs, "every code span is a run key, shown whole"

    def test_names_reach_the_documents_as_text(self, client: TestClient) -> None:
        summary = markdown_of(client.post("/v1/projects/churn/summaries", json={}, headers=MARKDOWN))
        assert_shows_as_text(summary, SMOTE, f"weights {IMG}")
        brief = markdown_of(client.post("/v1/projects/churn/briefs", json=DOCUMENTS["briefs"], headers=MARKDOWN))
        assert_shows_as_text(brief, f"Sam {IMG}", f"predict churn {LINK}")
        repro = client.post("/v1/projects/churn/reproductions", json=DOCUMENTS["reproductions"], headers=MARKDOWN)
        assert_shows_as_text(markdown_of(repro), f"{SCRIPT} | v3")

    def test_a_decision_keeps_its_criteria_in_json_and_shows_them_as_text(self, client: TestClient) -> None:
        response = client.post("/v1/projects/churn/decisions", json=DECISION)
        assert response.status_code == 201, response.text
        entry = response.json()
        assert [c["name"] for c in entry["body"]["criteria"]] == [CRITERION, "f1\nrecall"]
        assert entry["body"]["criteria"][0]["why"] == f"{LINK} {IMG}"
        assert entry["body"]["rationale"] == DECISION["rationale"] and entry["body"]["title"] == DECISION["title"]
        rendered = assert_shows_as_text(entry["markdown"], CRITERION, f"{LINK} {IMG}", DECISION["rationale"])
        assert rendered.rows[0][2:4] == [f"{CRITERION} (value / score)", "f1 recall (value / score)"]
        assert [len(row) for row in rendered.rows] == [5, 5, 5]

    def test_a_proposal_keeps_its_text_in_json(self, client: TestClient) -> None:
        entry = client.post("/v1/projects/churn/tried", json=DOCUMENTS["tried"]).json()
        assert entry["body"]["proposal"] == DOCUMENTS["tried"]["proposal"]
        assert_shows_as_text(entry["markdown"], DOCUMENTS["tried"]["proposal"])


class TestFindings:
    def test_markdown_shows_names_as_text(self, client: TestClient) -> None:
        markdown = markdown_of(client.get("/v1/projects/churn/findings", headers=MARKDOWN))
        rendered = assert_shows_as_text(markdown, f"{PROJECT} — findings on val_auc (max)")
        assert rendered.tags.count("h1") == 1

    def test_json_keeps_approach_names_as_written(self, client: TestClient) -> None:
        findings = client.get("/v1/projects/churn/findings").json()
        assert SMOTE in {a["name"] for a in findings["approaches"]}


class TestNosniff:
    @pytest.mark.parametrize(
        ("method", "path", "kwargs"),
        [
            ("get", "/v1/projects/churn", {}),
            ("get", "/v1/projects/churn/entries", {"headers": MARKDOWN}),
            ("get", "/v1/entries/999999", {}),  # an error answer
            ("post", "/v1/projects/churn/logs", {"content": b"{", "headers": {"Content-Type": "application/json"}}),
            ("post", "/v1/projects/churn/logs", {"content": b"\xff", "headers": {"Content-Type": "text/plain"}}),
            ("get", "/healthz", {}),
        ],
        ids=["json", "markdown-list", "404", "bad-json", "body-guard", "health"],
    )
    def test_every_answer_carries_it(self, client: TestClient, method: str, path: str, kwargs: dict[str, Any]) -> None:
        response = client.request(method.upper(), path, **kwargs)
        assert response.headers["x-content-type-options"] == "nosniff", (response.status_code, response.headers)

    def test_it_is_sent_once(self, client: TestClient) -> None:
        response = client.get("/v1/projects/churn/findings", headers=MARKDOWN)
        assert response.headers.get_list("x-content-type-options") == ["nosniff"]
