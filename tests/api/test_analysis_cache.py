"""The cache of findings and document inputs per project revision, against the real app: an unchanged read is not
recomputed, every kind of write moves the revision, and a read after a write sees it at once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from app.services import analysis as analysis_service
from app.storage.models import Project
from tests.factories import hist_id, import_table, post_log, seed_history

BASE, SMOTE_C, WEIGHTS_B = hist_id("1"), hist_id("4"), hist_id("7")
NEW_BEST = "88888888888888888888888888888888"
NEW_RUN_CSV = (
    "run_id,run_name,start_time,model,lr,seed,val_auc,val_f1\n"
    f"{NEW_BEST},boost,2026-11-08T09:00:00Z,xgboost,0.02,0,0.9,0.74\n"
)


@pytest.fixture
def history(client: TestClient) -> None:
    seed_history(client)


@pytest.fixture
def analyses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One item per analysis the service computes (the spy wraps the real one)."""
    calls: list[int] = []
    real = analysis_service.analyze

    def spy(inp: Any) -> Any:
        calls.append(len(inp.runs))
        return real(inp)

    monkeypatch.setattr(analysis_service, "analyze", spy)
    return calls


def findings(client: TestClient) -> dict[str, Any]:
    response = client.get("/v1/projects/churn/findings")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def revision(engine: Engine) -> int:
    with Session(engine) as session:
        found = session.exec(select(Project.revision).where(Project.slug == "churn")).one()
    return found


@pytest.mark.usefixtures("history")
class TestCachedReads:
    def test_an_unchanged_read_is_answered_from_the_cache(self, client: TestClient, analyses: list[int]) -> None:
        first = findings(client)
        assert findings(client) == first
        assert client.get("/v1/projects/churn/approaches").status_code == 200
        assert client.get(f"/v1/projects/churn/runs/{WEIGHTS_B}/changes").status_code == 200
        assert analyses == [7]

    def test_a_cached_read_sees_a_new_run_at_once(self, client: TestClient, analyses: list[int]) -> None:
        assert findings(client)["best"] == WEIGHTS_B
        import_table(client, "churn", NEW_RUN_CSV, "csv")
        after = findings(client)
        assert (after["best"], after["best_value"]) == (NEW_BEST, 0.9)
        assert analyses == [7, 8]
        assert findings(client) == after and analyses == [7, 8]

    def test_a_document_reuses_the_cached_analysis_and_later_reads_see_its_entry(
        self, client: TestClient, engine: Engine, analyses: list[int]
    ) -> None:
        findings(client)
        response = client.post("/v1/projects/churn/next-experiments", json={})
        assert response.status_code == 201, response.text
        assert analyses == [7]  # the document read the cached analysis
        findings(client)
        assert analyses == [7, 7]  # storing the document moved the revision
        with Session(engine) as session:
            project = session.exec(select(Project).where(Project.slug == "churn")).one()
            entries = analysis_service.project_entries(session, project=project)
        assert entries[-1].id == response.json()["id"]

    def test_a_metric_switch_is_read_at_once(self, client: TestClient) -> None:
        assert findings(client)["metric"] == "val_auc"
        body = {"metric": "val_f1", "reason": "positives matter"}
        assert client.post("/v1/projects/churn/metric-switches", json=body).status_code == 201
        assert findings(client)["metric"] == "val_f1"

    def test_a_settings_change_is_read_at_once(self, client: TestClient) -> None:
        assert findings(client)["noise"]["min_gain"] == 0.005
        assert client.patch("/v1/projects/churn", json={"min_effect": 0.02}).status_code == 200
        assert findings(client)["noise"]["min_gain"] == 0.02


WRITES: dict[str, Callable[[TestClient], Any]] = {
    "run import": lambda c: import_table(c, "churn", NEW_RUN_CSV, "csv"),
    "run update": lambda c: import_table(c, "churn", f"run_id,val_auc\n{BASE},0.81\n", "csv"),
    "brain dump": lambda c: post_log(c, text=f"Tried {WEIGHTS_B[:8]} again, nothing new."),
    "entry correction": lambda c: c.patch(
        f"/v1/entries/{post_log(c, text='A first look.')['entry_id']}", json={"tldr": "Fixed.", "reason": "typo"}
    ),
    "approach mark": lambda c: c.put(
        "/v1/projects/churn/approaches/smote/mark", json={"status": "abandoned", "reason": "r"}
    ),
    "regrouping": lambda c: c.post("/v1/projects/churn/approaches/boosting/runs", json={"run_keys": [WEIGHTS_B]}),
    "baseline mark": lambda c: c.put(f"/v1/projects/churn/runs/{BASE}/baseline"),
    "settings": lambda c: c.patch("/v1/projects/churn", json={"stall_sessions": 5}),
    "metric switch": lambda c: c.post("/v1/projects/churn/metric-switches", json={"metric": "val_f1", "reason": "r"}),
    "document": lambda c: c.post("/v1/projects/churn/summaries", json={}),
}


@pytest.mark.usefixtures("history")
@pytest.mark.parametrize("write", sorted(WRITES))
def test_every_kind_of_write_moves_the_revision(client: TestClient, engine: Engine, write: str) -> None:
    before = revision(engine)
    response = WRITES[write](client)
    if hasattr(response, "status_code"):
        assert response.status_code < 300, response.text
    assert revision(engine) != before


@pytest.mark.usefixtures("history")
def test_reads_keep_the_revision(client: TestClient, engine: Engine) -> None:
    before = revision(engine)
    findings(client)
    for path in ("", "/runs", "/approaches", "/entries", "/logs", "/metric-switches"):
        assert client.get(f"/v1/projects/churn{path}").status_code == 200
    assert revision(engine) == before


@pytest.mark.usefixtures("history")
def test_a_session_reads_its_own_uncommitted_runs_and_the_cache_never_keeps_them(
    client: TestClient, engine: Engine
) -> None:
    from app.services import runs as runs_service

    findings(client)  # cached at the committed revision
    with Session(engine, expire_on_commit=False) as session:
        project = session.exec(select(Project).where(Project.slug == "churn")).one()
        runs_service.import_table(session, project=project, text=NEW_RUN_CSV, format="csv")
        assert analysis_service.project_findings(session, project=project).best == NEW_BEST
        session.rollback()
    assert findings(client)["best"] == WEIGHTS_B


class TestRevisionCache:
    def test_least_recently_used_values_go_first_by_weight(self) -> None:
        cache: analysis_service.RevisionCache[str] = analysis_service.RevisionCache(max_weight=10)
        for key in "abc":
            cache.get(key, lambda k=key: k * 3, weight=len)  # weight 1 + 3 each
        assert list(cache.values) == ["b", "c"]  # 12 > 10: "a" went
        cache.get("b", lambda: "never", weight=len)  # a hit refreshes "b"
        cache.get("d", lambda: "ddd", weight=len)
        assert list(cache.values) == ["b", "d"] and cache.weight == 8
        assert cache.get("big", lambda: "x" * 20, weight=len) == "x" * 20 and "big" not in cache.values

    def test_concurrent_misses_of_one_key_compute_it_once(self) -> None:
        cache: analysis_service.RevisionCache[int] = analysis_service.RevisionCache(max_weight=100)
        started, release, calls = threading.Event(), threading.Event(), []

        def compute() -> int:
            calls.append(1)
            started.set()
            release.wait(5)
            return 42

        results: list[int] = []
        threads = [threading.Thread(target=lambda: results.append(cache.get("k", compute, lambda _: 1)))]
        threads[0].start()
        started.wait(5)
        threads += [
            threading.Thread(target=lambda: results.append(cache.get("k", compute, lambda _: 1))) for _ in range(3)
        ]
        for thread in threads[1:]:
            thread.start()
        release.set()
        for thread in threads:
            thread.join(5)
        assert results == [42] * 4 and calls == [1]

    def test_a_failed_computation_is_not_kept(self) -> None:
        cache: analysis_service.RevisionCache[int] = analysis_service.RevisionCache(max_weight=100)

        def fail() -> int:
            raise RuntimeError("boom")

        with pytest.raises(RuntimeError):
            cache.get("k", fail, lambda _: 1)
        assert cache.get("k", lambda: 1, lambda _: 1) == 1 and not cache.pending


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    analysis_service.clear_cache()
    yield
    analysis_service.clear_cache()
