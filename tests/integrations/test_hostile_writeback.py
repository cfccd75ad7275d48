"""Hostile text written back to a real MLflow server: runs whose names and `labbook.approach` tags hold HTML, script
links and line breaks, synced through the API, and a brain dump full of markup citing them. The run description
(`mlflow.note.content`, which the MLflow UI renders as Markdown) shows people's words as text; the `labbook.*` tag
values are plain one-line text that an MLflow search filter matches as written. Never a mock."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

from app.compose.writeback.note import BEGIN, END, ENTRY_IDS_KEY, NOTE_KEY
from app.compose.writeback.tags import APPROACH_KEY, STATUS_KEY
from app.config import Settings
from app.services import outbox as outbox_service
from app.storage.outbox import session_factory
from tests.factories import create_project, post_log
from tests.markdown_reader import assert_shows_as_text
from tests.mlflow_server import MlflowServer

PUBLIC_URL = "https://labbook.hostile.test"
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
LINK = "[x](javascript:alert(1))"
HUMAN_NOTE = "Mine: <b>written by hand</b>, kept as it is."
# As a person might set it by hand in MLflow: markup and a line break in the approach's name.
APPROACH = f"smote {SCRIPT}\n*v2* | {LINK}"
APPROACH_ONE_LINE = f"smote {SCRIPT} *v2* | {LINK}"


@pytest.fixture
def hostile_client(settings: Settings) -> Iterator[TestClient]:
    from app.main import create_app
    from tests.conftest import ADMIN_TOKEN

    settings = settings.model_copy(update={"public_url": PUBLIC_URL})
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as client:
        yield client


def hostile_experiment(url: str) -> tuple[str, list[str]]:
    """Four finished runs of one approach (so the analysis judges it), each with a hostile name; the first carries a
    human's note."""
    client = MlflowClient(url)
    name = f"hostile-{uuid.uuid4().hex[:10]}"
    experiment_id = client.create_experiment(name)
    run_ids = []
    for i in range(4):
        run_id = client.create_run(experiment_id, run_name=f"trial-{i} {IMG}").info.run_id
        now = int(time.time() * 1000)
        tags = [RunTag(APPROACH_KEY, APPROACH)] + ([RunTag(NOTE_KEY, HUMAN_NOTE)] if i == 0 else [])
        client.log_batch(
            run_id,
            metrics=[Metric("val_auc", 0.8 + i / 100, now, 0)],
            params=[Param("seed", str(i)), Param("model", "lightgbm"), Param("lr", str(0.1 - i / 100))],
            tags=tags,
        )
        client.set_terminated(run_id)
        run_ids.append(run_id)
    return name, run_ids


def deliver(client: TestClient) -> outbox_service.DeliveryCounts:
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    return outbox_service.drain(session_factory(client.app.state.engine), settings)  # type: ignore[attr-defined]


def mlflow_tags(url: str, run_id: str) -> dict[str, str]:
    return dict(MlflowClient(url).get_run(run_id).data.tags)


@pytest.fixture
def synced(hostile_client: TestClient, mlflow_server: MlflowServer) -> list[str]:
    name, run_ids = hostile_experiment(mlflow_server.url)
    create_project(hostile_client, "hostile", mlflow_experiments=[name], tracking_uri=mlflow_server.url)
    response = hostile_client.post("/v1/projects/hostile/runs/sync")
    assert response.status_code == 200, response.text
    return run_ids


class TestRunNote:
    def test_the_section_shows_the_dump_as_text_and_the_human_note_is_kept(
        self, hostile_client: TestClient, mlflow_server: MlflowServer, synced: list[str]
    ) -> None:
        dump = f"Tried SMOTE {IMG} {LINK} {SCRIPT} | it did not help.\nRuns: {', '.join(synced)}\nNext: -->"
        entry: dict[str, Any] = post_log(hostile_client, "hostile", text=dump, run_ids=synced)["log_entry"]
        tldr = entry["body"]["tldr"]
        assert SCRIPT in tldr and IMG in tldr  # the entry keeps the words as written
        assert deliver(hostile_client).dead == 0
        tags = mlflow_tags(mlflow_server.url, synced[0])
        note = tags[NOTE_KEY]
        assert note.startswith(HUMAN_NOTE + "\n\n" + BEGIN) and note.endswith(END)
        section = note[note.index(BEGIN) :]
        assert section.count("<!--") == 2 and section.count("-->") == 2
        rendered = assert_shows_as_text(section, tldr, links=(f"{PUBLIC_URL}/v1/entries/",))
        assert rendered.tags.count("a") == 1
        assert tags[ENTRY_IDS_KEY] == str(entry["id"])


class TestRunTags:
    def test_values_are_one_plain_line_a_search_filter_matches(
        self, hostile_client: TestClient, mlflow_server: MlflowServer, synced: list[str]
    ) -> None:
        findings = hostile_client.get("/v1/projects/hostile/findings").json()
        assert APPROACH in {a["name"] for a in findings["approaches"]}  # JSON: the name as it was set
        response = hostile_client.post("/v1/projects/hostile/summaries", json={})  # queues the labbook.* tags
        assert response.status_code == 201, response.text
        assert deliver(hostile_client).dead == 0
        for run_id in synced:
            tags = mlflow_tags(mlflow_server.url, run_id)
            assert tags[APPROACH_KEY] == APPROACH_ONE_LINE and tags[STATUS_KEY]
            labbook = {k: v for k, v in tags.items() if k.startswith("labbook.")}
            assert all("\n" not in v and v.isprintable() for v in labbook.values()), labbook
        client = MlflowClient(mlflow_server.url)
        experiment = client.get_run(synced[0]).info.experiment_id
        found = client.search_runs([experiment], filter_string=f"tags.`{APPROACH_KEY}` = '{APPROACH_ONE_LINE}'")
        assert sorted(r.info.run_id for r in found) == sorted(synced)
