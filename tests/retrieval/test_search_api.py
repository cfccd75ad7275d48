"""Search and indexing through the real app: embedded Chroma in the test's data dir (or the `chroma run` server
scripts/test starts), the packaged model, the outbox worker's delivery driven by the test."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from tests.conftest import ADMIN_TOKEN
from tests.factories import bearer, create_project, make_token, post_log
from tests.retrieval.conftest import drain

DUMPS = [
    (
        "2026-10-01",
        "Random forest with 500 trees: val auc 0.81, but it overfits the holdout badly. Dropping the forests.",
    ),
    (
        "2026-10-02",
        "Feature scaling: standardising the numeric columns lifted logreg from 0.78 to 0.83. max_depth unused.",
    ),
    ("2026-10-03", "Target encoding of merchant_id leaked the label through the time split; removed it."),
]


def _history(client: TestClient, slug: str = "churn") -> list[dict[str, object]]:
    create_project(client, slug)
    return [post_log(client, slug, text=text, session_date=day) for day, text in DUMPS]


def _hits(client: TestClient, q: str, slug: str = "churn", **params: object) -> list[dict[str, object]]:
    response = client.get(f"/v1/projects/{slug}/search", params={"q": q, **params})
    assert response.status_code == 200, response.text
    hits: list[dict[str, object]] = response.json()["hits"]
    return hits


def test_a_question_in_other_words_finds_the_session_that_answers_it(client: TestClient) -> None:
    logs = _history(client)
    drain(client)
    hits = _hits(client, "why did we abandon RF?")
    assert hits[0]["log_id"] == logs[0]["id"]
    assert hits[0]["entry_id"] == logs[0]["log_entry"]["id"]  # type: ignore[index]
    assert hits[0]["link"] == f"/v1/entries/{hits[0]['entry_id']}"
    assert hits[0]["date"] == "2026-10-01" and hits[0]["kind"] == "log_entry"
    assert len({h["log_id"] for h in hits}) == len(hits)  # a session once, its dump and entry together
    assert _hits(client, "what leaked?")[0]["log_id"] == logs[2]["id"]


def test_an_exact_token_is_found_and_its_words_marked(client: TestClient) -> None:
    logs = _history(client)
    drain(client)
    hit = _hits(client, "max_depth")[0]
    assert hit["log_id"] == logs[1]["id"] and hit["exact"] is True
    spans = hit["highlights"]
    assert [str(hit["snippet"])[s:e] for s, e in spans] == ["max_depth"]  # type: ignore[misc, union-attr]


def test_search_says_how_many_entries_are_not_indexed_yet(client: TestClient) -> None:
    _history(client)
    before = client.get("/v1/projects/churn/search", params={"q": "forests"}).json()
    assert before["not_indexed"] == 6 and before["note"] == "6 entries not indexed yet"
    assert before["hits"] == []
    drain(client)
    after = client.get("/v1/projects/churn/search", params={"q": "forests"}).json()
    assert after["not_indexed"] == 0 and after["note"] is None and after["hits"]
    # Index items are not write-backs: the outbox does not list them.
    assert client.get("/v1/outbox").json()["items"] == []


def test_filters_by_day_and_kind(client: TestClient) -> None:
    logs = _history(client)
    drain(client)
    hits = _hits(client, "forests", since="2026-10-02")
    assert logs[0]["id"] not in {h["log_id"] for h in hits} and hits
    assert {h["log_id"] for h in _hits(client, "forests", until="2026-10-01")} == {logs[0]["id"]}
    assert _hits(client, "forests", kind="phase_summary") == []


def test_markdown_answer_escapes_the_persons_words(client: TestClient) -> None:
    create_project(client)
    post_log(client, text="Tried <script>alert(1)</script> label smoothing: no gain.", session_date="2026-10-01")
    drain(client)
    response = client.get(
        "/v1/projects/churn/search", params={"q": "label smoothing"}, headers={"Accept": "text/markdown"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/markdown")
    assert "<script>" not in response.text and "**label** **smoothing**: no gain" in response.text


def test_no_token_scope_reaches_another_projects_chunks(client: TestClient) -> None:
    _history(client, "churn")
    create_project(client, "fraud")
    post_log(
        client, "fraud", text="Isolation forest for unknown fraud patterns did nothing.", session_date="2026-10-05"
    )
    drain(client)
    scoped = make_token(client, "fraud-only", projects=["fraud"])
    other = client.get("/v1/projects/churn/search", params={"q": "forests"}, headers=bearer(scoped))
    assert other.status_code == 404
    own = client.get("/v1/projects/fraud/search", params={"q": "random forest overfit"}, headers=bearer(scoped))
    assert own.status_code == 200
    assert all("500 trees" not in str(h["snippet"]) for h in own.json()["hits"])
    assert len(own.json()["hits"]) == 1


def test_unchanged_content_is_not_embedded_again_and_a_redaction_reaches_the_index(client: TestClient) -> None:
    from sqlmodel import Session

    from app.services import memory

    create_project(client)
    log = post_log(
        client, text="The api key sk-live-123456 was pasted here. Random forest overfit.", session_date="2026-10-01"
    )
    drain(client)
    settings = client.app.state.settings  # type: ignore[attr-defined]
    with Session(client.app.state.writer_engine) as session:  # type: ignore[attr-defined]
        from app.storage import projects as project_store

        project = project_store.get_project_by_slug(session, "churn")
        assert project is not None
        again = memory.reindex(session, memory.require(settings), project=project)
    assert again.chunks > 0 and again.embedded == 0
    response = client.post(f"/v1/logs/{log['id']}/redactions", json={"strings": ["sk-live-123456"], "reason": "secret"})
    assert response.status_code == 200, response.text
    drain(client)
    chunks = memory.require(settings).store.hashes(_collection(client, memory), source=f"log:{log['id']}")
    assert chunks
    texts = _documents(client, memory, list(chunks))
    assert texts and all("sk-live-123456" not in t for t in texts) and any("[REDACTED]" in t for t in texts)


def _collection(client: TestClient, memory: object) -> str:
    from sqlmodel import Session

    from app.storage import projects as project_store

    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        project = project_store.get_project_by_slug(session, "churn")
        assert project is not None
        return memory.require(client.app.state.settings).collection(project)  # type: ignore[attr-defined]


def _documents(client: TestClient, memory: object, ids: list[str]) -> list[str]:
    store = memory.require(client.app.state.settings).store  # type: ignore[attr-defined]
    got = store._collection(_collection(client, memory), create=False).get(ids=ids, include=["documents"])
    return [str(d) for d in got["documents"]]


def test_a_new_entry_cites_related_prior_work_above_the_threshold(client: TestClient) -> None:
    """The request answers without waiting on the embedding model; the dump's index job adds the related work to
    the entry's current version (no new version: it is a cross-reference, not a reading of the dump)."""
    create_project(client)
    first = post_log(
        client,
        text="Target encoding of merchant_id leaked the label through the time split.",
        session_date="2026-10-01",
    )
    post_log(client, text="Tried a bigger batch size on the GPU box: training is faster.", session_date="2026-10-02")
    drain(client)
    later = post_log(
        client,
        text="Target encoding on merchant id leaks again through the time split, like before.",
        session_date="2026-10-05",
    )
    assert later["log_entry"]["body"]["related"] == []  # type: ignore[index]
    drain(client)
    entry = client.get(f"/v1/entries/{later['entry_id']}").json()
    related = entry["body"]["related"]
    assert [r["log_id"] for r in related] == [first["id"]]
    assert related[0]["similarity"] >= 0.6 and related[0]["date"] == "2026-10-01"
    assert "## Related prior work" in entry["markdown"]
    versions = client.get(f"/v1/entries/{later['entry_id']}/versions").json()
    assert [v["version"] for v in versions] == [1]
    assert "## Related prior work" in versions[0]["markdown"]
    from sqlmodel import Session

    from app.services.entries import attach_related

    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        assert attach_related(session, int(later["id"])) == "related prior work unchanged (1)"  # type: ignore[arg-type]
        session.commit()
    assert client.get(f"/v1/entries/{later['entry_id']}").json()["updated_at"] == entry["updated_at"]


def test_a_caller_that_waits_gets_the_related_work_in_the_answer(client: TestClient) -> None:
    create_project(client)
    first = post_log(client, text="Target encoding of merchant_id leaked the label.", session_date="2026-10-01")
    post_log(client, text="Tried a bigger batch size on the GPU box: training is faster.", session_date="2026-10-02")
    drain(client)
    body = {"text": "Target encoding on merchant id leaks the label again, like before.", "session_date": "2026-10-05"}
    response = client.post("/v1/projects/churn/logs", params={"wait": "true"}, json=body)
    assert response.status_code == 201, response.text
    related = response.json()["log_entry"]["body"]["related"]
    assert [r["log_id"] for r in related] == [first["id"]]


def test_indexing_never_blocks_a_write_when_chroma_is_down(tmp_path: Path, settings: Settings) -> None:
    from app.main import create_app
    from app.storage.models import OutboxItem

    down = settings.model_copy(update={"chroma_url": "http://127.0.0.1:9"})  # nothing listens on the discard port
    with TestClient(create_app(down), headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as client:
        create_project(client)
        log = post_log(client, text="Random forest overfit; dropping it.", session_date="2026-10-01")
        assert log["log_entry"] is not None  # composed without related work
        drain(client)
        from sqlmodel import Session, select

        with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
            items = session.exec(select(OutboxItem).where(OutboxItem.kind == "index")).all()
        assert items and all(
            i.state == "pending" and i.attempts == 1 and "Chroma" in (i.last_error or "") for i in items
        )
        response = client.get("/v1/projects/churn/search", params={"q": "forest"})
        assert response.status_code == 503 and response.headers["Retry-After"]
        assert response.json()["error"]["code"] == "retrieval_unavailable"


def test_search_is_404_when_retrieval_is_off(settings: Settings) -> None:
    """Off is a configuration, not an outage: nothing to retry, so no 503 and no Retry-After."""
    from app.main import create_app

    off = settings.model_copy(update={"retrieval": "off"})
    with TestClient(create_app(off), headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as client:
        create_project(client)
        response = client.get("/v1/projects/churn/search", params={"q": "forest"})
    assert response.status_code == 404 and "Retry-After" not in response.headers
    assert response.json()["error"]["code"] == "retrieval_off"
    assert "LABBOOK_RETRIEVAL" in response.json()["error"]["message"]


@pytest.mark.parametrize("q", ["", " " * 3])
def test_an_empty_query_names_the_field(client: TestClient, q: str) -> None:
    create_project(client)
    response = client.get("/v1/projects/churn/search", params={"q": q})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "query.q"


def test_a_brief_links_the_earlier_summary_that_discusses_each_approach(client: TestClient) -> None:
    from tests.factories import seed_history

    seed_history(client)
    post_log(client, text="smote runs plateau around 0.853; class weights look better.", session_date="2026-11-07")
    summary = client.post("/v1/projects/churn/summaries", json={})
    assert summary.status_code == 201, summary.text
    drain(client)
    brief = client.post("/v1/projects/churn/briefs", json={})
    assert brief.status_code == 201, brief.text
    stories = {s["name"]: s for s in brief.json()["body"]["approaches"]}
    linked = {name: [d["entry_id"] for d in s["earlier"]] for name, s in stories.items()}
    assert linked["smote"] == [summary.json()["id"]] and linked["weights"] == [summary.json()["id"]]
    assert f"/v1/entries/{summary.json()['id']})" in brief.json()["markdown"]
    assert "earlier documents: [phase summary," in brief.json()["markdown"]
