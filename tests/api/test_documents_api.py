"""The documents composed from the analysis, over HTTP on a seeded history: stored as entries, served as JSON or
Markdown, listed by kind, and refused with a 422 naming the field when a run or setting is wrong."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.compose import kinds
from tests.factories import hist_id, post_log, seed_history

BASE, SMOTE_B, SMOTE_C, SMOTE_D, WEIGHTS_B = (hist_id(d) for d in "13457")
KINDS = {
    "summaries": "phase_summary",
    "next-experiments": "next_experiments",
    "tried": "tried_answer",
    "decisions": "selection_decision",
    "reproductions": "reproduction_report",
    "briefs": "handover_brief",
}
DECISION = {
    "finalists": ["weights-b", "555555"],
    "criteria": [
        {"name": "ranking quality", "weight": 2, "metric": "val_auc", "why": "the campaign targets the top decile"},
        {"name": "churner recall", "weight": 1, "metric": "val_f1"},
    ],
    "selected": WEIGHTS_B,
    "rationale": "AUC matters most for the campaign list",
}
BODIES: dict[str, dict[str, Any]] = {
    "summaries": {"since": "2026-11-01"},
    "next-experiments": {"budget_runs": 5},
    "tried": {"proposal": "lightgbm with num_leaves=63"},
    "decisions": DECISION,
    "reproductions": {"run": "smote-c", "known": {"data_version": "churn-2026-10"}},
    "briefs": {"audience": "Sam"},
}


@pytest.fixture(autouse=True)
def history(client: TestClient) -> None:
    seed_history(client)


def post(client: TestClient, resource: str, body: dict[str, Any], **kw: Any) -> Any:
    return client.post(f"/v1/projects/churn/{resource}", json=body, **kw)


def created(client: TestClient, resource: str, body: dict[str, Any]) -> dict[str, Any]:
    response = post(client, resource, body)
    assert response.status_code == 201, response.text
    entry: dict[str, Any] = response.json()
    assert entry["kind"] == KINDS[resource]
    return entry


def field_of(response: Any) -> str:
    assert response.status_code == 422, response.text
    field: str = response.json()["error"]["field"]
    return field


@pytest.mark.parametrize("resource", list(KINDS))
def test_each_document_is_stored_listed_and_served_as_markdown(
    client: TestClient, resource: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        entry = created(client, resource, BODIES[resource])
    # The offline composer is grounded: every number and run it cites comes from the inputs.
    assert [r.getMessage() for r in caplog.records if r.name.startswith("app.")] == []
    assert (entry["version"], entry["provider"], entry["template"]) == (1, "offline", KINDS[resource])
    assert entry["schema_version"] == f"{KINDS[resource]}/1" and entry["template_version"]
    assert entry["markdown"].startswith("# ") and entry["run_ids"]
    # Markdown shows runs by name and short key; the JSON keeps the full keys.
    assert not re.search(r"(?<![0-9a-f/])[0-9a-f]{32}(?![0-9a-f])", entry["markdown"]), entry["markdown"]
    assert all(re.fullmatch(r"[0-9a-f]{32}", k) for k in entry["run_ids"])
    listed = client.get("/v1/projects/churn/entries", params={"kind": KINDS[resource]}).json()["items"]
    assert [e["id"] for e in listed] == [entry["id"]]
    versions = client.get(f"/v1/entries/{entry['id']}/versions").json()
    assert [(v["version"], v["edited_by"]) for v in versions] == [(1, "labbook")]
    markdown = post(client, resource, BODIES[resource], headers={"Accept": "text/markdown"})
    assert markdown.status_code == 201 and markdown.headers["content-type"].startswith("text/markdown")
    assert markdown.text == entry["markdown"]
    schema = client.get(f"/v1/schemas/{KINDS[resource]}").json()
    assert set(entry["body"]) <= set(schema["properties"])


def test_summary_names_the_plateaued_approach_and_the_best_run(client: TestClient) -> None:
    entry = created(client, "summaries", {})
    body = entry["body"]
    assert f"weights-b ({WEIGHTS_B[:8]}) with val_auc 0.87" in entry["markdown"]
    statuses = {a["name"]: a["status"] for a in body["approaches"]}
    assert statuses["smote"] == "plateaued"
    assert body["current_best"]["key"] == WEIGHTS_B and body["current_best"]["value"] == 0.87
    assert WEIGHTS_B in body["run_ids"]


def test_decision_records_weights_and_trade_offs(client: TestClient) -> None:
    entry = created(client, "decisions", DECISION)
    body = entry["body"]
    weights = {c["name"]: (c["weight"], round(c["normalised_weight"], 3)) for c in body["criteria"]}
    assert weights == {"ranking quality": (2, 0.667), "churner recall": (1, 0.333)}
    assert (body["selected"], body["top"]) == (WEIGHTS_B, WEIGHTS_B)
    assert [t["criterion"] for t in body["traded"]] == ["churner recall"]
    assert body["traded"][0]["best_key"] == SMOTE_D
    assert "AUC matters most for the campaign list" in entry["markdown"]
    assert set(entry["run_ids"]) >= {WEIGHTS_B, SMOTE_D}


def test_tried_finds_the_runs_that_did_it(client: TestClient) -> None:
    body = created(client, "tried", {"proposal": "lightgbm with num_leaves=63"})["body"]
    assert body["verdict"] in ("tried", "similar")
    matched = {r["key"] for r in body["exact"] + body["similar"]}
    assert {SMOTE_B, SMOTE_C} <= matched


def test_tried_reads_a_proposal_in_words_and_lists_every_run(client: TestClient) -> None:
    entry = created(client, "tried", {"proposal": "a lower learning rate on lightgbm"})
    body = entry["body"]
    assert (body["verdict"], body["family"], body["concepts"]) == ("tried", "lightgbm", ["learning_rate"])
    assert body["params"] == {"lr": "< 0.05"}  # below the first lightgbm run's
    assert {r["key"] for r in body["exact"]} == {SMOTE_C, SMOTE_D}
    assert {r["key"] for r in body["similar"]} == {hist_id("2"), SMOTE_B}  # no xgboost run, though it sets lr
    assert "Concepts: learning_rate." in entry["markdown"]


def test_reproduction_uses_the_known_fields(client: TestClient) -> None:
    body = created(client, "reproductions", BODIES["reproductions"])["body"]
    assert (body["key"], body["expected"]) == (SMOTE_C, 0.853)
    fields = {f["name"]: (f["value"], f["source"]) for f in body["fields"]}
    assert fields["data_version"] == ("churn-2026-10", "known")


def test_brief_tells_the_approaches_and_the_best(client: TestClient) -> None:
    body = created(client, "briefs", {})["body"]
    assert {"smote", "weights"} <= {a["name"] for a in body["approaches"]}
    assert body["current_best"]["key"] == WEIGHTS_B and body["goal"] == "predict churn"


class TestRefusals:
    def test_unknown_runs_name_the_field(self, client: TestClient) -> None:
        assert field_of(post(client, "reproductions", {"run": "nope"})) == "run"
        bad = DECISION | {"finalists": [WEIGHTS_B, "nope"]}
        assert field_of(post(client, "decisions", bad)) == "finalists[1]"
        assert field_of(post(client, "decisions", DECISION | {"selected": BASE})) == "selected"
        twice = DECISION | {"finalists": [WEIGHTS_B, "weights-b"]}
        assert field_of(post(client, "decisions", twice)) == "finalists[1]"
        no_metric = DECISION | {"criteria": [{"name": "speed", "weight": 1, "metric": "qps"}]}
        assert field_of(post(client, "decisions", no_metric)).startswith("criteria[0]")

    def test_ambiguous_prefix_is_refused(self, client: TestClient) -> None:
        client.post("/v1/projects/churn/runs/import", json={"table": "run_id,val_auc\n" + "7" * 31 + "0,0.5\n"})
        response = post(client, "reproductions", {"run": "777777"})
        assert field_of(response) == "run" and "matches 2 runs" in response.json()["error"]["message"]

    def test_bad_settings_name_the_field(self, client: TestClient) -> None:
        assert field_of(post(client, "summaries", {"since": "2026-11-05", "until": "2026-11-01"})) == "until"
        assert field_of(post(client, "next-experiments", {"budget_runs": 0})) == "budget_runs"
        assert field_of(post(client, "tried", {"proposal": " "})) == "proposal"
        assert field_of(post(client, "reproductions", {"run": SMOTE_C, "known": {"colour": "red"}})) == "known.colour"
        assert field_of(post(client, "decisions", DECISION | {"criteria": []})) == "criteria"

    def test_documents_are_recomposed_not_edited(self, client: TestClient) -> None:
        entry = created(client, "briefs", {})
        response = client.patch(f"/v1/entries/{entry['id']}", json={"tldr": "x", "reason": "r"})
        assert field_of(response) == "kind" and "recomposed" in response.json()["error"]["message"]

    def test_unknown_schema_kind_is_404(self, client: TestClient) -> None:
        response = client.get("/v1/schemas/poem")
        assert response.status_code == 404 and "handover_brief" in response.json()["error"]["message"]


def test_an_ungrounded_document_is_logged_and_still_stored(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Fault injection: the documents' grounding check reports a problem."""
    monkeypatch.setattr(kinds, "check_document_grounding", lambda *_: ["0.42 is in no input"])
    with caplog.at_level(logging.ERROR):
        entry = created(client, "briefs", {})
    assert [r.getMessage() for r in caplog.records if r.name == "app.services.entries"] == ["entries.grounding.failed"]
    assert client.get(f"/v1/entries/{entry['id']}").status_code == 200


@pytest.mark.parametrize(
    ("resource", "kind"),
    [("summaries", "phase_summary"), ("next-experiments", "next_experiments"), ("briefs", "handover_brief")],
)
def test_documents_whose_fields_are_all_optional_need_no_body(client: TestClient, resource: str, kind: str) -> None:
    response = client.post(f"/v1/projects/churn/{resource}")
    assert response.status_code == 201, response.text
    assert response.json()["kind"] == kind
    markdown = client.post(f"/v1/projects/churn/{resource}", headers={"Accept": "text/markdown"})
    assert markdown.status_code == 201 and markdown.text.startswith("# ")


@pytest.mark.parametrize(
    ("resource", "body", "field"),
    [
        ("next-experiments", '{"target": NaN}', "target"),
        ("next-experiments", '{"target": Infinity}', "target"),
        ("reproductions", '{"run": "smote-a", "known": {"seed": "' + "x" * 3000 + '"}}', "known.seed"),
    ],
)
def test_numbers_json_cannot_carry_and_oversized_answers_are_refused(
    client: TestClient, resource: str, body: str, field: str
) -> None:
    response = client.post(f"/v1/projects/churn/{resource}", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


class TestQuotesAndTheChosenModel:
    def test_log_questions_are_quoted_once_answered_ones_never(self, client: TestClient) -> None:
        post_log(client, text="Open question: is the split leaking?\nOpen question: is the validation set big enough?")
        created(client, "summaries", {})  # an earlier document holding the same questions: never quoted again
        post_log(client, text="Open question: is the validation set big enough?")
        post_log(client, text="Checked the split: no leakage, the gap comes from the class balance.")
        for resource in ("summaries", "briefs"):
            markdown = post(client, resource, {}, headers={"Accept": "text/markdown"}).text
            assert markdown.count("is the validation set big enough?") == 1, resource
            assert "is the split leaking?" not in markdown, resource

    def test_the_brief_and_summary_name_the_selected_run(self, client: TestClient) -> None:
        decision = DECISION | {"finalists": ["weights-b", "smote-d"], "selected": SMOTE_D, "rationale": "better recall"}
        created(client, "decisions", decision)
        for resource in ("summaries", "briefs"):
            entry = created(client, resource, {})
            assert entry["body"]["selected"] == SMOTE_D and entry["body"]["current_best"]["key"] == WEIGHTS_B
            markdown = post(client, resource, {}, headers={"Accept": "text/markdown"}).text
            assert "Chosen model: " in markdown and "Why the chosen one: better recall." in markdown, resource
