"""Retrieval on, for real: the packaged embedding model and Chroma, embedded in the test's data dir or, when
`LABBOOK_TEST_CHROMA_URL` names a `chroma run` server (scripts/test starts one for a second pass), that server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.conftest import ADMIN_TOKEN

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

    from app.config import Settings

CHROMA_URL = os.environ.get("LABBOOK_TEST_CHROMA_URL")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"retrieval": "on", "chroma_url": CHROMA_URL})


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as test_client:
        yield test_client


def drain(client: TestClient) -> None:
    """Run the outbox worker's delivery until nothing is due: what the in-process worker does in the background."""
    from app.services import outbox as outbox_service
    from app.services.logs import OUTBOX_WRITERS
    from app.storage.outbox import session_factory

    app = client.app
    sessions = session_factory(app.state.writer_engine)  # type: ignore[attr-defined]
    outbox_service.drain(sessions, app.state.settings, extra_writers=OUTBOX_WRITERS)  # type: ignore[attr-defined]
