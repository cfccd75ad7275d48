"""Redacting a brain dump redacts what was composed from it: the log entry, each of its versions (a person's
correction too), and a document that quotes it; the audit records the entries' occurrences."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import create_project, post_log

SECRET = "sk-live-7f3a9c"
DUMP = (
    f"Tried class weights on lgbm, no gain. Conclusion: the weights line is done. Open question: does the token "
    f"{SECRET} in train.py still work?"
)


def test_the_secret_leaves_the_entry_its_versions_and_the_documents_quoting_it(client: TestClient) -> None:
    create_project(client)
    log = post_log(client, text=DUMP, session_date="2026-11-10")
    entry_id = log["entry_id"]
    entry = client.get(f"/v1/entries/{entry_id}").json()
    assert SECRET in entry["markdown"]
    edit = client.patch(f"/v1/entries/{entry_id}", json={"tldr": f"Weights done; rotate {SECRET}.", "reason": "tl;dr"})
    assert edit.status_code == 200, edit.text
    summary = client.post("/v1/projects/churn/summaries", json={})
    assert summary.status_code == 201, summary.text
    assert SECRET in summary.json()["markdown"]

    response = client.post(f"/v1/logs/{log['id']}/redactions", json={"strings": [SECRET], "reason": "a live key"})
    assert response.status_code in (200, 201), response.text

    for eid in (entry_id, summary.json()["id"]):
        stored = client.get(f"/v1/entries/{eid}")
        assert SECRET not in stored.text and "[REDACTED]" in stored.json()["markdown"]
        versions = client.get(f"/v1/entries/{eid}/versions")
        assert versions.status_code == 200 and SECRET not in versions.text
    assert SECRET not in client.get(f"/v1/entries/{entry_id}", headers={"Accept": "text/markdown"}).text
    audit = {r["field"]: r["occurrences"] for r in client.get(f"/v1/logs/{log['id']}").json()["redactions"]}
    assert audit["text"] == 1 and audit["entries"] >= 4
