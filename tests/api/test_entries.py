"""Entries: composed from every stored dump, served as JSON or Markdown, corrected by hand as new versions.

These tests assert structure and bookkeeping only; what the composer reads out of a dump is tested with the composer.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.compose.log_entry import kind as log_entry_kind
from app.compose.log_entry.schema import LogEntry
from app.storage import entries as entry_store
from tests.factories import (
    FULL_ID_DUMP,
    FULL_ID_TABLE,
    RUN_BASE,
    RUN_SMOTE,
    bearer,
    create_project,
    make_token,
    post_log,
)


def item(text: str, *run_ids: str) -> dict[str, Any]:
    return {"text": text, "run_ids": list(run_ids)}


def experiment(run_id: str | None, **overrides: Any) -> dict[str, Any]:
    fields = {"ref": run_id, "run_id": run_id, "change": "class weights", "context": "tried class weights", "line": 1}
    return fields | overrides


@pytest.fixture
def log(client: TestClient) -> dict[str, Any]:
    """A dump citing two full run IDs, posted with the table that stores those runs."""
    create_project(client, name="Churn model")
    return post_log(client, text=FULL_ID_DUMP, run_table=FULL_ID_TABLE, session_date="2026-11-20")


@pytest.fixture
def entry_id(log: dict[str, Any]) -> int:
    entry_id: int = log["log_entry"]["id"]
    return entry_id


def correct(client: TestClient, entry_id: int, **body: Any) -> Any:
    return client.patch(f"/v1/entries/{entry_id}", json={"reason": "the dump said weights, not smote"} | body)


class TestCreateLogComposesAnEntry:
    def test_answer_carries_the_composed_entry(self, log: dict[str, Any]) -> None:
        entry = log["log_entry"]
        assert entry["kind"] == "log_entry"
        assert entry["log_id"] == log["id"]
        assert entry["project"] == "churn"
        assert entry["version"] == 1
        assert (entry["provider"], entry["template"], entry["schema_version"]) == (
            "offline",
            "log_entry",
            "log_entry/1",
        )
        assert entry["template_version"]
        assert entry["body"]["schema_version"] == "log_entry/1"
        LogEntry.model_validate(entry["body"])
        assert entry["markdown"].startswith("# Churn model — log 2026-11-20\n")
        assert log["entry_id"] == entry["id"]

    def test_cites_runs_the_table_stored(self, log: dict[str, Any]) -> None:
        run_ids = log["log_entry"]["run_ids"]
        assert RUN_SMOTE in run_ids
        assert set(run_ids) <= {RUN_SMOTE, RUN_BASE}

    def test_reading_the_log_gives_its_entry_id(self, client: TestClient, log: dict[str, Any]) -> None:
        stored = client.get(f"/v1/logs/{log['id']}").json()
        assert stored["entry_id"] == log["log_entry"]["id"]
        assert stored["log_entry"] is None
        listed = client.get("/v1/projects/churn/logs").json()["items"]
        assert [item["entry_id"] for item in listed] == [log["log_entry"]["id"]]

    def test_a_dump_without_runs_gets_an_entry_too(self, client: TestClient) -> None:
        create_project(client)
        data = post_log(client, text="no runs today, just reading papers")
        assert data["log_entry"]["run_ids"] == []
        assert data["log_entry"]["markdown"].startswith("# ")

    def test_composer_crash_keeps_the_dump_and_answers_201(
        self, client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        def crash(*_args: object, **_kwargs: object) -> LogEntry:
            raise RuntimeError("composer bug")

        monkeypatch.setattr(log_entry_kind, "compose_log_entry", crash)
        create_project(client)
        with caplog.at_level(logging.ERROR):
            data = post_log(client, text=FULL_ID_DUMP, run_table=FULL_ID_TABLE)
        assert data["log_entry"] is None
        assert data["entry_id"] is None
        assert data["run_import"]["created"] == 2
        assert client.get(f"/v1/logs/{data['id']}").json()["text"] == FULL_ID_DUMP
        assert len(client.get("/v1/projects/churn/runs").json()["items"]) == 2
        assert any(r.getMessage() == "entries.compose.failed" for r in caplog.records)

    def test_failed_entry_write_leaves_no_half_entry_and_keeps_the_import(
        self, client: TestClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The entry row is written, then its version fails: the savepoint takes the row back, not the runs."""

        def fail(*_args: object, **_kwargs: object) -> None:
            raise RuntimeError("disk full")

        monkeypatch.setattr(entry_store, "add_version", fail)
        create_project(client)
        data = post_log(client, text=FULL_ID_DUMP, run_table=FULL_ID_TABLE)
        assert data["log_entry"] is None
        assert client.get("/v1/projects/churn/entries").json()["items"] == []
        assert len(client.get("/v1/projects/churn/runs").json()["items"]) == 2


class TestListEntries:
    def test_lists_the_stored_entry(self, client: TestClient, log: dict[str, Any]) -> None:
        response = client.get("/v1/projects/churn/entries")
        assert response.status_code == 200
        assert response.json() == {"items": [log["log_entry"]], "next_cursor": None}
        assert "Accept" in response.headers["vary"]

    def test_filters_by_kind(self, client: TestClient, log: dict[str, Any]) -> None:
        assert len(client.get("/v1/projects/churn/entries", params={"kind": "log_entry"}).json()["items"]) == 1
        assert client.get("/v1/projects/churn/entries", params={"kind": "phase_summary"}).json()["items"] == []

    def test_pages_in_arrival_order(self, client: TestClient) -> None:
        create_project(client)
        ids = [post_log(client, text=f"dump {i}")["log_entry"]["id"] for i in range(3)]
        first = client.get("/v1/projects/churn/entries", params={"limit": 2}).json()
        rest = client.get("/v1/projects/churn/entries", params={"limit": 2, "cursor": first["next_cursor"]}).json()
        assert [e["id"] for e in first["items"] + rest["items"]] == ids

    def test_markdown_joins_entries_and_links_the_next_page(self, client: TestClient) -> None:
        create_project(client)
        for i in range(3):
            post_log(client, text=f"dump {i}")
        markdown = {"Accept": "text/markdown"}
        first = client.get("/v1/projects/churn/entries", params={"limit": 2}, headers=markdown)
        assert first.headers["content-type"] == "text/markdown; charset=utf-8"
        documents = first.text.split("\n\n---\n\n")
        assert len(documents) == 2
        assert all(d.startswith("# ") for d in documents)
        link = first.headers["link"]
        assert link.startswith("<http://testserver/v1/projects/churn/entries?") and link.endswith('>; rel="next"')
        rest = client.get(link[1 : link.index(">")], headers=markdown)
        assert rest.text.startswith("# ")
        assert "\n---\n" not in rest.text
        assert "link" not in rest.headers

    def test_other_projects_are_404(self, anon: TestClient, client: TestClient, log: dict[str, Any]) -> None:
        create_project(client, "fraud")
        token = make_token(client, "fraud-team", ["fraud"])
        response = anon.get("/v1/projects/churn/entries", headers=bearer(token))
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "project_not_found"


class TestGetEntry:
    def test_json_by_default(self, client: TestClient, log: dict[str, Any], entry_id: int) -> None:
        response = client.get(f"/v1/entries/{entry_id}")
        assert response.status_code == 200
        assert response.json() == log["log_entry"]

    def test_markdown_when_asked(self, client: TestClient, log: dict[str, Any], entry_id: int) -> None:
        response = client.get(f"/v1/entries/{entry_id}", headers={"Accept": "text/markdown"})
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/markdown; charset=utf-8"
        assert response.headers["vary"] == "Accept"
        assert response.text == log["log_entry"]["markdown"]

    @pytest.mark.parametrize(
        ("accept", "markdown"),
        [
            ("text/markdown", True),
            ("text/markdown, */*;q=0.8", True),
            ("text/markdown, */*", True),
            ("text/*", True),
            ("application/json;q=0.5, text/markdown", True),
            ("application/json", False),
            ("*/*", False),
            ("text/markdown, application/json", False),
            ("text/markdown;q=0.5, application/json", False),
            ("text/markdown;q=0", False),
            ("text/markdown;q=oops", False),
            ("text/html", False),
            ("garbage", False),
        ],
    )
    def test_accept_header_decides(self, client: TestClient, entry_id: int, accept: str, markdown: bool) -> None:
        response = client.get(f"/v1/entries/{entry_id}", headers={"Accept": accept})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/markdown" if markdown else "application/json")

    def test_unknown_entry_is_404(self, client: TestClient) -> None:
        response = client.get("/v1/entries/999")
        assert response.status_code == 404
        assert response.json()["error"] == {"code": "entry_not_found", "message": "no entry 999", "field": "entry_id"}

    def test_unknown_version_is_404(self, client: TestClient, entry_id: int) -> None:
        response = client.get(f"/v1/entries/{entry_id}", params={"version": 2})
        assert response.status_code == 404
        assert response.json()["error"]["field"] == "version"

    def test_other_projects_entry_is_404(self, anon: TestClient, client: TestClient, entry_id: int) -> None:
        create_project(client, "fraud")
        token = make_token(client, "fraud-team", ["fraud"])
        for accept in ("application/json", "text/markdown"):
            response = anon.get(f"/v1/entries/{entry_id}", headers=bearer(token) | {"Accept": accept})
            assert response.status_code == 404
            assert response.json()["error"]["code"] == "entry_not_found"


class TestCorrectEntry:
    def test_adds_version_2_and_keeps_version_1(self, client: TestClient, log: dict[str, Any], entry_id: int) -> None:
        response = correct(client, entry_id, tldr="Class weights, not SMOTE.", next_steps=[item("tune weights")])
        assert response.status_code == 200
        corrected = response.json()
        assert corrected["version"] == 2
        assert corrected["body"]["tldr"] == "Class weights, not SMOTE."
        assert corrected["body"]["next_steps"] == [
            {"text": "tune weights", "run_ids": [], "line": None, "quoted": False}
        ]
        assert corrected["markdown"].startswith(
            "# Churn model — log 2026-11-20\n\n**TL;DR:** Class weights, not SMOTE."
        )
        assert "- tune weights" in corrected["markdown"]
        assert client.get(f"/v1/entries/{entry_id}").json() == corrected
        first = client.get(f"/v1/entries/{entry_id}", params={"version": 1}).json()
        original = log["log_entry"]
        assert first["version"] == 1
        assert (first["body"], first["markdown"], first["run_ids"]) == (
            original["body"],
            original["markdown"],
            original["run_ids"],
        )

    def test_sections_not_sent_are_kept(self, client: TestClient, log: dict[str, Any], entry_id: int) -> None:
        corrected = correct(client, entry_id, tldr="shorter").json()
        unchanged = {k: v for k, v in log["log_entry"]["body"].items() if k != "tldr"}
        assert {k: v for k, v in corrected["body"].items() if k != "tldr"} == unchanged

    def test_run_ids_are_recomputed_from_what_the_entry_cites(self, client: TestClient, entry_id: int) -> None:
        corrected = correct(
            client,
            entry_id,
            experiments=[experiment(RUN_BASE)],
            observations=[item("weights helped", RUN_SMOTE, RUN_BASE)],
            did_not_work=[],
            conclusions=[],
            hypothesis=[],
            open_questions=[],
            next_steps=[],
        ).json()
        assert corrected["run_ids"] == [RUN_BASE, RUN_SMOTE]
        assert corrected["body"]["run_ids"] == [RUN_BASE, RUN_SMOTE]

    def test_stored_metrics_come_from_the_run_not_the_request(self, client: TestClient, entry_id: int) -> None:
        sent = experiment(RUN_SMOTE, stored={"val_auc": 0.99}, run_name="made up")
        corrected = correct(client, entry_id, experiments=[sent, experiment(None, ref="lgbm-v9")]).json()
        first, unresolved = corrected["body"]["experiments"]
        assert first["stored"] == {"val_auc": 0.858}
        assert first["run_name"] is None
        assert unresolved["stored"] == {}
        assert "0.99" not in corrected["markdown"]

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"experiments": [experiment(RUN_SMOTE), experiment("deadbeef")]}, "experiments[1].run_id"),
            ({"observations": [item("ok", RUN_SMOTE), item("bad", RUN_BASE, "nope")]}, "observations[1].run_ids[1]"),
            ({"next_steps": [item("rerun", RUN_SMOTE[:8])]}, "next_steps[0].run_ids[0]"),
        ],
        ids=["experiment", "item", "prefix-is-not-an-id"],
    )
    def test_unknown_run_id_is_422_and_changes_nothing(
        self, client: TestClient, log: dict[str, Any], entry_id: int, body: dict[str, Any], field: str
    ) -> None:
        response = correct(client, entry_id, tldr="should not be stored", **body)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "input_invalid"
        assert response.json()["error"]["field"] == field
        assert client.get(f"/v1/entries/{entry_id}").json() == log["log_entry"]
        assert len(client.get(f"/v1/entries/{entry_id}/versions").json()) == 1

    def test_a_run_of_another_project_is_422(self, client: TestClient, entry_id: int) -> None:
        create_project(client, "fraud")
        post_log(client, "fraud", text="fraud runs", run_table="run_id,val_auc\nfraud-run-1,0.7\n")
        response = correct(client, entry_id, observations=[item("x", "fraud-run-1")])
        assert response.status_code == 422
        assert response.json()["error"]["field"] == "observations[0].run_ids[0]"

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"tldr": "no reason"}, "reason"),
            ({"tldr": "blank reason", "reason": "  "}, "reason"),
            ({"tldr": "x", "reason": "r", "warnings": []}, "warnings"),
            ({"tldr": "x" * 601, "reason": "r"}, "tldr"),
            ({"observations": [{"text": "x", "extra": 1}], "reason": "r"}, "observations.0.extra"),
        ],
        ids=["missing", "blank", "unknown-field", "tldr-too-long", "unknown-item-field"],
    )
    def test_invalid_body_is_422(
        self, client: TestClient, log: dict[str, Any], entry_id: int, body: dict[str, Any], field: str
    ) -> None:
        response = client.patch(f"/v1/entries/{entry_id}", json=body)
        assert response.status_code == 422
        assert response.json()["error"]["field"] == field
        assert client.get(f"/v1/entries/{entry_id}").json()["version"] == 1

    @pytest.mark.parametrize(
        ("body", "field"), [({}, "body"), ({"observations": None}, "observations")], ids=["nothing", "null-section"]
    )
    def test_nothing_to_correct_is_422(
        self, client: TestClient, entry_id: int, body: dict[str, Any], field: str
    ) -> None:
        response = correct(client, entry_id, **body)
        assert response.status_code == 422
        assert response.json()["error"]["field"] == field

    def test_unknown_entry_is_404(self, client: TestClient) -> None:
        response = correct(client, 999, tldr="x")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "entry_not_found"

    def test_other_projects_entry_is_404_and_unchanged(
        self, anon: TestClient, client: TestClient, log: dict[str, Any], entry_id: int
    ) -> None:
        create_project(client, "fraud")
        token = make_token(client, "fraud-team", ["fraud"])
        response = anon.patch(f"/v1/entries/{entry_id}", json={"tldr": "mine", "reason": "r"}, headers=bearer(token))
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "entry_not_found"
        assert client.get(f"/v1/entries/{entry_id}").json() == log["log_entry"]


class TestListEntryVersions:
    def test_every_version_with_who_and_why(self, anon: TestClient, client: TestClient, entry_id: int) -> None:
        token = make_token(client, "dana", ["churn"])
        response = anon.patch(f"/v1/entries/{entry_id}", json={"tldr": "v2", "reason": "typo"}, headers=bearer(token))
        assert response.status_code == 200
        correct(client, entry_id, tldr="v3", reason="clearer")
        versions = client.get(f"/v1/entries/{entry_id}/versions").json()
        assert [(v["version"], v["edited_by"], v["reason"]) for v in versions] == [
            (1, "labbook", "composed from log 1"),
            (2, "dana", "typo"),
            (3, "admin", "clearer"),
        ]
        assert [v["body"]["tldr"] for v in versions[1:]] == ["v2", "v3"]
        assert all(v["provider"] == "offline" for v in versions)
        assert client.get(f"/v1/entries/{entry_id}").json()["version"] == 3

    def test_unknown_entry_is_404(self, client: TestClient) -> None:
        assert client.get("/v1/entries/999/versions").status_code == 404

    def test_other_projects_entry_is_404(self, anon: TestClient, client: TestClient, entry_id: int) -> None:
        create_project(client, "fraud")
        token = make_token(client, "fraud-team", ["fraud"])
        response = anon.get(f"/v1/entries/{entry_id}/versions", headers=bearer(token))
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "entry_not_found"
