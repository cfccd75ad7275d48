"""What a brain dump says about the lines of work, over HTTP: a verdict on an approach is proposed (or applied when
the project says so) and confirmed or dismissed by a person; an answer to an earlier open question marks it answered."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.services import declarations
from tests.factories import create_project, import_table, post_log, seed_history

DEAD_END = "Tried the weights line again today.\nIt's a dead end, dropping it: never close to smote on recall."


def approaches(client: TestClient) -> dict[str, dict[str, Any]]:
    response = client.get("/v1/projects/churn/approaches")
    assert response.status_code == 200, response.text
    return {a["name"]: a for a in response.json()}


@pytest.fixture
def history(client: TestClient) -> None:
    seed_history(client)


@pytest.mark.usefixtures("history")
class TestDeclaredMark:
    def test_a_dump_declaring_a_line_dead_proposes_the_mark_with_its_sentence(self, client: TestClient) -> None:
        log = post_log(client, text=DEAD_END)
        weights = approaches(client)["weights"]
        assert weights["proposed_mark"]["status"] == "abandoned"
        assert weights["proposed_mark"]["reason"] == "It's a dead end, dropping it: never close to smote on recall."
        assert weights["proposed_mark"]["log_id"] == log["id"]
        assert weights["mark"] is None and weights["status"] == weights["computed_status"]
        assert approaches(client)["smote"]["proposed_mark"] is None  # only compared with
        listed = client.get("/v1/projects/churn/findings").json()["approaches"]
        assert next(a for a in listed if a["name"] == "weights")["proposed_mark"]["status"] == "abandoned"

    def test_confirming_applies_the_mark_in_the_confirming_persons_name(self, client: TestClient) -> None:
        post_log(client, text=DEAD_END)
        response = client.post("/v1/projects/churn/approaches/weights/mark/confirm")
        assert response.status_code == 200, response.text
        weights = response.json()
        assert weights["status"] == "abandoned" and weights["proposed_mark"] is None
        assert weights["mark"]["reason"].startswith("It's a dead end") and weights["mark"]["by"] == "admin"
        assert client.post("/v1/projects/churn/approaches/weights/mark/confirm").status_code == 404

    def test_dismissing_keeps_the_status(self, client: TestClient) -> None:
        post_log(client, text=DEAD_END)
        response = client.delete("/v1/projects/churn/approaches/weights/mark/proposal")
        assert response.status_code == 200, response.text
        assert response.json()["proposed_mark"] is None and response.json()["mark"] is None
        assert client.delete("/v1/projects/churn/approaches/weights/mark/proposal").status_code == 404

    def test_a_persons_mark_settles_the_proposal(self, client: TestClient) -> None:
        post_log(client, text=DEAD_END)
        body = {"status": "adopted", "reason": "it wins on calibration after all"}
        weights = client.put("/v1/projects/churn/approaches/weights/mark", json=body).json()
        assert weights["status"] == "adopted" and weights["proposed_mark"] is None

    def test_with_auto_apply_the_mark_is_applied_at_once(self, client: TestClient) -> None:
        patched = client.patch("/v1/projects/churn", json={"auto_apply_declared_marks": True})
        assert patched.status_code == 200 and patched.json()["auto_apply_declared_marks"] is True
        post_log(client, text=DEAD_END, author="dana")
        weights = approaches(client)["weights"]
        assert weights["status"] == "abandoned" and weights["proposed_mark"] is None
        assert weights["mark"]["by"] == "dana" and weights["mark"]["reason"].startswith("It's a dead end")

    def test_auto_apply_never_overrides_a_persons_mark(self, client: TestClient) -> None:
        client.patch("/v1/projects/churn", json={"auto_apply_declared_marks": True})
        client.put("/v1/projects/churn/approaches/weights/mark", json={"status": "adopted", "reason": "chosen"})
        post_log(client, text=DEAD_END)
        weights = approaches(client)["weights"]
        assert weights["mark"]["status"] == "adopted" and weights["proposed_mark"]["status"] == "abandoned"

    def test_auto_apply_cannot_be_null(self, client: TestClient) -> None:
        response = client.patch("/v1/projects/churn", json={"auto_apply_declared_marks": None})
        assert response.status_code == 422 and response.json()["error"]["field"] == "auto_apply_declared_marks"

    @pytest.mark.parametrize(
        "text",
        [
            "The weights line didn't help this time.",
            "weights worse today, will retry with more data.",
            "Not dropping weights yet.",
            "If weights fails again we'll drop it.",
        ],
    )
    def test_a_setback_or_a_hypothetical_proposes_nothing(self, client: TestClient, text: str) -> None:
        post_log(client, text=text)
        assert all(a["proposed_mark"] is None for a in approaches(client).values())

    def test_redacting_the_dump_redacts_the_quoted_reason(self, client: TestClient) -> None:
        log = post_log(client, text="weights is a dead end, dropping it (token sk-live-123 leaked in the config).")
        response = client.post(f"/v1/logs/{log['id']}/redactions", json={"strings": ["sk-live-123"], "reason": "key"})
        assert response.status_code in (200, 201), response.text
        reason = approaches(client)["weights"]["proposed_mark"]["reason"]
        assert "sk-live-123" not in reason and "[REDACTED]" in reason

    def test_a_failing_verdict_reader_keeps_the_dump_and_its_entry(
        self, client: TestClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Fault injection: the verdict reader raises."""

        def crash(*_args: object, **_kwargs: object) -> None:
            raise RuntimeError("verdicts bug")

        monkeypatch.setattr(declarations, "proposed_marks", crash)
        log = post_log(client, text=DEAD_END)
        assert log["log_entry"] is not None
        assert client.get(f"/v1/logs/{log['id']}").status_code == 200


class TestAnsweredQuestion:
    def test_an_answer_marks_the_question_answered_with_where(self, client: TestClient) -> None:
        seed_history(client)
        asked = post_log(client, text="Open question: is the split leaking?", session_date="2026-11-10")
        assert [q["question"] for q in client.get("/v1/projects/churn/questions?open=true").json()] == [
            "is the split leaking?"
        ]
        answer = "Checked the split: no leakage, the gap comes from the class balance."
        answering = post_log(client, text=answer, session_date="2026-11-11")

        assert client.get("/v1/projects/churn/questions?open=true").json() == []
        (listed,) = client.get("/v1/projects/churn/questions").json()
        assert listed["entry_id"] == asked["entry_id"] and listed["day"] == "2026-11-10"
        where = listed["answered"]
        assert (where["log_id"], where["entry_id"], where["quote"]) == (answering["id"], answering["entry_id"], answer)
        entry = client.get(f"/v1/entries/{asked['entry_id']}").json()
        assert [a["question"] for a in entry["answered_questions"]] == ["is the split leaking?"]
        page = client.get("/v1/projects/churn/entries").json()["items"]
        assert [e["answered_questions"] != [] for e in page] == [True, False]

    def test_an_answered_question_is_not_listed_as_open_in_the_phase_summary(self, client: TestClient) -> None:
        seed_history(client)
        post_log(client, text="Open question: is the split leaking?\nOpen question: why is f1 flat?")
        post_log(client, text="Checked the split: no leakage, the gap comes from the class balance.")
        response = client.post("/v1/projects/churn/summaries", json={})
        assert response.status_code == 201, response.text
        remaining = [q["text"] for q in response.json()["body"]["open_questions"]]
        assert remaining == ["why is f1 flat?"]

    def test_an_answer_filed_under_open_questions_is_not_listed_as_one(self, client: TestClient) -> None:
        seed_history(client)
        post_log(client, text="Open question: is the split leaking?")
        answering = post_log(client, text="Checked the split leakage question: no leakage, the gap is class balance.")
        filed = [q["text"] for q in answering["log_entry"]["body"]["open_questions"]]
        listed = client.get("/v1/projects/churn/questions").json()
        assert [(q["question"], q["answered"] is not None) for q in listed] == [("is the split leaking?", True)]
        assert len(filed) <= 1  # the composer may file the answer as a question; it is not listed as one

    def test_an_unrelated_dump_answers_nothing(self, client: TestClient) -> None:
        seed_history(client)
        post_log(client, text="Open question: is the split leaking?")
        post_log(client, text="The split looks fine to me. Weights got a small bump.")
        (listed,) = client.get("/v1/projects/churn/questions").json()
        assert listed["answered"] is None


RESAMPLING_CSV = """\
run_id,run_name,start_time,model,ratio,class_weight,tag.approach,val_auc
a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1,plain-lr,2026-10-01T09:00:00Z,logreg,,,,0.860
b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2,over-2x,2026-10-01T10:00:00Z,logreg,2,,resample,0.842
c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3,smote-k3,2026-10-01T11:00:00Z,logreg,1,,resample,0.851
d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4,cw-balanced,2026-10-01T12:00:00Z,logreg,,balanced,costw,0.848
"""


@pytest.fixture
def resampling(client: TestClient) -> None:
    create_project(client, "fraud", name="Fraud model")
    import_table(client, "fraud", RESAMPLING_CSV, "csv")


def proposed(client: TestClient) -> dict[str, str]:
    listed = client.get("/v1/projects/fraud/approaches").json()
    return {a["name"]: a["proposed_mark"]["status"] for a in listed if a["proposed_mark"]}


@pytest.mark.usefixtures("resampling")
class TestAVerdictPointingBackToRuns:
    def test_runs_of_one_approach_named_before_stand_for_it(self, client: TestClient) -> None:
        text = "Two more tries: over-2x got 0.842 and smote-k3 0.851. Neither beats plain-lr. Parking them for good."
        post_log(client, "fraud", text=text)
        assert proposed(client) == {"resample": "abandoned"}

    def test_runs_of_several_approaches_pointed_back_to_as_a_group_mark_each(self, client: TestClient) -> None:
        text = "Imbalance day: smote-k3 (c3c3c3c3) 0.851, cw-balanced (d4d4d4d4) 0.848.\nBoth are a dead end here."
        post_log(client, "fraud", text=text)
        assert proposed(client) == {"resample": "abandoned", "costw": "abandoned"}

    def test_a_run_named_in_the_verdict_is_no_verdict_on_its_approach(self, client: TestClient) -> None:
        post_log(client, "fraud", text="smote-k3 is a dead end, over-2x still worth a look.")
        assert proposed(client) == {}
