"""The analysis queries: runs as plain views in history order, baseline marks, regroupings and approach marks."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import cast

import pytest
from sqlmodel import Session

from app.storage import analysis as store
from app.storage import entries as entry_store
from app.storage.models import Entry, Project, Run, SessionLog


@pytest.fixture
def project(session: Session) -> Project:
    project = Project(slug="churn", name="Churn", primary_metric="val_auc", metric_direction="max")
    session.add(project)
    session.commit()
    return project


def pid(project: Project) -> int:
    return cast(int, project.id)


def add_run(session: Session, project: Project, key: str, **fields: object) -> Run:
    run = Run(project_id=pid(project), key=key, **fields)  # type: ignore[arg-type]
    session.add(run)
    session.flush()
    return run


def add_dump_entry(
    session: Session, project: Project, body: dict[str, object], *, kind: str = "log_entry", day: int = 2
) -> tuple[SessionLog, Entry]:
    """A brain dump and the entry composed from it, with `body`."""
    log = SessionLog(
        project_id=pid(project), text="x", author="a", session_date=date(2026, 11, day), received_sha256="0"
    )
    session.add(log)
    session.flush()
    entry = Entry(
        project_id=pid(project),
        kind=kind,
        log_id=log.id,
        body=body,
        markdown="",
        provider="offline",
        template=kind,
        template_version="1",
        schema_version=f"{kind}/1",
    )
    session.add(entry)
    session.flush()
    return log, entry


def test_runs_come_as_views_in_history_order(session: Session, project: Project) -> None:
    late = datetime(2026, 11, 3, 9, tzinfo=UTC)
    early = datetime(2026, 11, 1, 9, tzinfo=UTC)
    add_run(session, project, "b", start_time=late, params={"lr": "0.1"}, metrics={"val_auc": 0.8}, seed="7")
    add_run(session, project, "a", start_time=early, environment={"python": "3.11"}, git_commit="abc")
    add_run(session, project, "name:t", run_name="t", source="table", created_at=datetime(2026, 11, 5, tzinfo=UTC))
    session.commit()
    views = store.analysis_runs(session, project_id=pid(project))
    assert [v.key for v in views] == ["a", "b", "name:t"]
    a, b, t = views
    assert (a.session, a.git_commit, dict(a.environment)) == (date(2026, 11, 1), "abc", {"python": "3.11"})
    assert (dict(b.params), dict(b.metrics), b.seed) == ({"lr": "0.1"}, {"val_auc": 0.8}, "7")
    assert (t.name, t.session, t.when) == ("t", date(2026, 11, 5), datetime(2026, 11, 5, tzinfo=UTC))


def test_a_table_run_takes_the_day_of_the_dump_that_brought_it(session: Session, project: Project) -> None:
    add_run(session, project, "r1", created_at=datetime(2026, 11, 9, tzinfo=UTC))
    log = SessionLog(project_id=pid(project), text="x", author="a", session_date=date(2026, 11, 2), received_sha256="0")
    session.add(log)
    session.flush()
    entry = Entry(
        project_id=pid(project),
        kind="log_entry",
        log_id=log.id,
        markdown="",
        run_ids=["r1"],
        provider="offline",
        template="log_entry",
        template_version="1",
        schema_version="log_entry/1",
    )
    session.add(entry)
    session.commit()
    days = store.dump_days(session, project_id=pid(project))
    assert days == {"r1": date(2026, 11, 2)}
    assert store.analysis_runs(session, project_id=pid(project), dump_days=days)[0].session == date(2026, 11, 2)
    assert store.log_days(session, log_ids=[cast(int, log.id)]) == {log.id: date(2026, 11, 2)}
    assert [e.id for e in store.entries_of_kind(session, project_id=pid(project), kinds=["log_entry"])] == [entry.id]
    assert store.entries_of_kind(session, project_id=pid(project), kinds=["metric_switch"]) == []


def test_one_baseline_per_project(session: Session, project: Project) -> None:
    other = Project(slug="other", name="Other", primary_metric="auc", metric_direction="max")
    session.add(other)
    session.flush()
    add_run(session, project, "a")
    add_run(session, project, "b")
    add_run(session, other, "a", baseline=True)
    store.set_baseline(session, project_id=pid(project), key="a")
    store.set_baseline(session, project_id=pid(project), key="b")
    session.commit()
    assert store.baseline_keys(session, project_id=pid(project)) == ["b"]
    assert store.baseline_keys(session, project_id=pid(other)) == ["a"]
    store.set_baseline(session, project_id=pid(project), key=None)
    assert store.baseline_keys(session, project_id=pid(project)) == []


def test_regrouping_replaces_and_can_be_undone(session: Session, project: Project) -> None:
    store.assign_approach(session, project_id=pid(project), run_keys=["a", "b", "a"], approach="smote", by="ann")
    store.assign_approach(session, project_id=pid(project), run_keys=["b"], approach="weights", by="bob")
    session.commit()
    assert store.approach_overrides(session, project_id=pid(project)) == {"a": "smote", "b": "weights"}
    assert store.unassign_approach(session, project_id=pid(project), run_key="a") is True
    assert store.unassign_approach(session, project_id=pid(project), run_key="a") is False
    assert store.approach_overrides(session, project_id=pid(project)) == {"b": "weights"}


def test_an_approach_mark_is_replaced_then_removed(session: Session, project: Project) -> None:
    store.set_approach_mark(session, project_id=pid(project), name="smote", status="abandoned", reason="leaks", by="a")
    store.set_approach_mark(session, project_id=pid(project), name="smote", status="adopted", reason="fixed", by="b")
    session.commit()
    [mark] = store.approach_marks(session, project_id=pid(project))
    assert (mark.name, mark.status, mark.reason, mark.marked_by) == ("smote", "adopted", "fixed", "b")
    assert store.delete_approach_mark(session, project_id=pid(project), name="smote") is True
    assert store.delete_approach_mark(session, project_id=pid(project), name="smote") is False
    assert store.approach_marks(session, project_id=pid(project)) == []


def test_tags_labbook_wrote_back_are_not_read_as_a_persons_tags(session: Session, project: Project) -> None:
    written = {"labbook.approach": "smote", "labbook.finding.duplicate": "of r0", "labbook.entry_ids": "3"}
    ours = {"labbook.approach": "smote", "labbook.finding.duplicate": "of r0"}
    add_run(session, project, "r1", tags=written | {"team": "risk"}, labbook_tags=ours)
    add_run(session, project, "r2", tags={"labbook.approach": "by-hand", "labbook.approach_status": "active"})
    session.commit()
    views = {v.key: v for v in store.analysis_runs(session, project_id=pid(project))}
    assert dict(views["r1"].tags) == {"team": "risk"}
    # a labbook.approach a person set in MLflow (Labbook never queued one for this run) still names its approach
    assert dict(views["r2"].tags) == {"labbook.approach": "by-hand"}


def test_the_open_questions_of_earlier_dumps_entries_are_read_out_of_their_bodies(
    session: Session, project: Project
) -> None:
    """What a new dump may answer: the texts of the open questions of the entries of earlier dumps, in order, on
    SQLite and PostgreSQL alike; bodies without a list of questions, and questions without text, ask nothing."""

    def dump_with(body: dict[str, object], kind: str = "log_entry") -> tuple[int, int]:
        log, entry = add_dump_entry(session, project, body, kind=kind)
        return cast(int, log.id), cast(int, entry.id)

    asked = {"open_questions": [{"text": "is the split leaking?", "line": 2}, {"text": "why 0.9 AUC?"}]}
    _, first = dump_with(asked)
    dump_with({"open_questions": "not a list"})
    dump_with({"tldr": "nothing asked"})
    dump_with({"open_questions": [{"text": ""}, {"line": 3}, "loose text"]})
    _, other_kind = dump_with({"open_questions": [{"text": "asked in a summary"}]}, kind="phase_summary")
    _, second = dump_with({"open_questions": [{"text": "does 'depth' help? \u00e9t\u00e9"}]})
    last_log, _ = dump_with({"open_questions": [{"text": "asked by the dump itself"}]})
    session.commit()
    found = store.open_questions_before(session, project_id=pid(project), kind="log_entry", log_id=last_log)
    assert found == [(first, ["is the split leaking?", "why 0.9 AUC?"]), (second, ["does 'depth' help? \u00e9t\u00e9"])]
    assert other_kind not in dict(found)


def test_an_entrys_open_questions_are_read_again_once_its_body_changes(session: Session, project: Project) -> None:
    _, entry = add_dump_entry(session, project, {"open_questions": [{"text": "is the key sk-123 leaking?"}]})
    later, _ = add_dump_entry(session, project, {}, day=3)
    session.commit()

    def asked() -> list[tuple[int, list[str]]]:
        return store.open_questions_before(
            session, project_id=pid(project), kind="log_entry", log_id=cast(int, later.id)
        )

    assert asked() == [(entry.id, ["is the key sk-123 leaking?"])]
    entry_store.redact_entries(session, project_id=pid(project), secret="sk-123", replacement="[REDACTED]")
    session.commit()
    assert asked() == [(entry.id, ["is the key [REDACTED] leaking?"])]
    entry.body, entry.version = {"open_questions": []}, entry.version + 1
    session.add(entry)
    session.commit()
    assert asked() == []
