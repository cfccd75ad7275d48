"""One place stores every kind: the grounding check runs for log entries too, and a pasted table is read once."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from app.compose.log_entry import kind as log_entry_kind
from app.compose.log_entry.grounding import GroundingReport
from app.services import runs as runs_service
from tests.factories import FULL_ID_DUMP, FULL_ID_TABLE, create_project, post_log


class TestALogEntryIsGroundingChecked:
    def test_a_grounded_entry_has_no_grounding_warning(self, client: TestClient) -> None:
        create_project(client)
        entry = post_log(client, text=FULL_ID_DUMP, run_table=FULL_ID_TABLE)["log_entry"]
        assert entry is not None
        assert "grounding_failed" not in [w["code"] for w in entry["body"]["warnings"]]

    def test_a_failed_check_is_logged_and_the_entry_is_stored_with_a_warning_per_problem(
        self, client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Fault injection: the log entry's grounding check reports two invented values."""
        problems = ("run 'ghost' is not a stored run", "number 0.99 is not written in the dump")

        def failing(*_args: object, **_kwargs: object) -> GroundingReport:
            return GroundingReport(checked=2, grounded=0, problems=problems)

        monkeypatch.setattr(log_entry_kind, "check_grounding", failing)
        create_project(client)
        with caplog.at_level(logging.ERROR):
            data = post_log(client, text=FULL_ID_DUMP, run_table=FULL_ID_TABLE)
        entry = data["log_entry"]
        assert entry is not None, "the entry is stored all the same"
        flagged = [w["message"] for w in entry["body"]["warnings"] if w["code"] == "grounding_failed"]
        assert flagged == list(problems)
        assert (
            "**grounding_failed**" in entry["markdown"]
            and "number 0.99 is not written in the dump" in entry["markdown"]
        )
        assert [r.getMessage() for r in caplog.records if r.name == "app.services.entries"] == [
            "entries.grounding.failed"
        ]
        stored = client.get(f"/v1/entries/{entry['id']}").json()
        assert stored["body"]["warnings"] == entry["body"]["warnings"]
        assert client.get(f"/v1/logs/{data['id']}").json()["text"] == FULL_ID_DUMP


def test_a_pasted_table_is_parsed_once_per_request(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """A spy on the table parser: importing the table and citing its runs share one reading."""
    calls: list[str] = []
    parse = runs_service.parse_run_table

    def counting(text: str, **kwargs: object) -> object:
        calls.append(text)
        return parse(text, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(runs_service, "parse_run_table", counting)
    create_project(client)
    entry = post_log(client, text=FULL_ID_DUMP, run_table=FULL_ID_TABLE)["log_entry"]
    assert len(calls) == 1
    assert entry is not None and entry["run_ids"], "the table's runs are cited"
