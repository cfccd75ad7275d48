"""Entries stored by an earlier Labbook still read and render: every kind's body as it was written before the
documents named runs by name and grouped the lists that grow with the history
(`tests/data/entries_before_names.json`, exported from the demo project), validated by today's schemas, re-rendered
by today's renderers and served by the API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.compose import kinds
from app.storage import projects as project_store
from app.storage.models import Entry
from tests.factories import create_project

STORED = json.loads((Path(__file__).parents[1] / "data" / "entries_before_names.json").read_text())["entries"]
KINDS_STORED = sorted({e["kind"] for e in STORED})


def _ids(entry: dict[str, Any]) -> str:
    return f"{entry['kind']}-{STORED.index(entry)}"


def test_the_fixture_holds_every_document_kind() -> None:
    assert {"log_entry", "phase_summary", "next_experiments", "tried_answer", "selection_decision"} <= set(KINDS_STORED)
    assert {"reproduction_report", "handover_brief"} <= set(KINDS_STORED)


@pytest.mark.parametrize("stored", STORED, ids=_ids)
def test_validates_and_renders(stored: dict[str, Any]) -> None:
    kind = kinds.KINDS[stored["kind"]]
    body = kind.schema.model_validate(stored["body"])
    markdown = kinds.render(stored["kind"], body, "An earlier document")
    assert markdown.startswith("# An earlier document")
    # The runs it cites are still shown by their key's first characters (long lists are capped), the best first.
    shown = [key for key in stored["run_ids"] if key.removeprefix("name:")[:8] in markdown]
    assert shown or not stored["run_ids"], markdown[:2000]
    for field in ("current_best", "best"):
        best = stored["body"].get(field)
        if isinstance(best, dict):
            assert best["key"][:8] in markdown, markdown[:2000]


def test_the_api_serves_them_as_stored(client: TestClient, engine: Engine) -> None:
    create_project(client, "stored")
    ids = []
    with Session(engine) as session:
        project = project_store.get_project_by_slug(session, "stored")
        assert project is not None
        for stored in STORED:
            row = Entry(
                project_id=project.id,
                kind=stored["kind"],
                body=stored["body"],
                markdown=stored["markdown"],
                run_ids=stored["run_ids"],
                provider="offline",
                template=stored["template"],
                template_version=stored["template_version"],
                schema_version=stored["schema_version"],
            )
            session.add(row)
            session.flush()
            ids.append(row.id)
        session.commit()
    for entry_id, stored in zip(ids, STORED, strict=True):
        as_json = client.get(f"/v1/entries/{entry_id}")
        assert as_json.status_code == 200, as_json.text
        assert as_json.json()["body"] == stored["body"]
        as_markdown = client.get(f"/v1/entries/{entry_id}", headers={"Accept": "text/markdown"})
        assert as_markdown.status_code == 200
        assert as_markdown.text == stored["markdown"]
