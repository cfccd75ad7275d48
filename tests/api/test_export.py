"""A project's backup (`GET .../export`), restored by `labbook restore` into another database, compared row by row.

The rows compared are found from the tables' foreign keys alone (`owned_rows`): every row linked, directly or through
its parents, to the project, in every table of the schema. So a new table that belongs to a project is compared
(and fails the comparison) without anyone remembering it here, and `test_every_table_is_backed_up_or_excluded` asks
that it be listed in app.storage.backup. IDs may differ between the two databases; content and links may not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from fastapi.testclient import TestClient
from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table, or_, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel
from typer.testing import CliRunner

from app.cli import cli
from app.config import Settings, get_settings
from app.main import create_app
from app.storage import backup as backup_store
from app.storage import sync as sync_store
from app.storage.db import make_engine
from app.storage.models import TrackingSync
from tests.conftest import ADMIN_TOKEN
from tests.factories import create_project, hist_id, import_table, post_log, seed_history

FORMULA = "+cmd|' /C calc'!A0"
HYPERLINK = '=HYPERLINK("http://evil.example/?q=1","click me")'
HOSTILE = "<script>alert(1)</script> [x](javascript:alert(1)) \x1b]0;owned\x07 \u202etxt.exe | @SUM(1+1)"
QUOTED_HYPERLINK = HYPERLINK.replace('"', '""')
HOSTILE_TABLE = (
    "run_id,run_name,model,formula,notes,val_auc,val_f1\n"
    f'{"8" * 32},"{QUOTED_HYPERLINK}",lightgbm,"{FORMULA}","{HOSTILE}",0.861,0.75\n'
)
DUMP = (
    "Tried the weights line again today.\nIt's a dead end, dropping it: never close to smote on recall.\n"
    f"Open question: is the split leaking?\nconfig had sk-live-123 in it. {HOSTILE}\n"
)
DUMP_TABLE = "| Run ID | Val AUC | formula |\n|---|---|---|\n| 99999999 | 0.84 | =1+2 |\n"


# -- the rows of a project, found from the schema's foreign keys -------------------------------------------------------


def owner_condition(table: Table, owned: Mapping[str, set[int]]) -> Any:
    """Rows of `table` linked to an owned row (any foreign key into an owned table), or None: no such link."""
    if table.name == "project":
        return table.c.id.in_(owned["project"])
    linked = [
        c.in_(owned[fk.column.table.name])
        for c in table.columns
        for fk in c.foreign_keys
        if fk.column.table.name in owned
    ]
    return or_(*linked) if linked else None


def project_tables(metadata: MetaData) -> list[str]:
    """Every table with a path of foreign keys to `project`, parents first."""
    owned: dict[str, set[int]] = {"project": set()}
    names = []
    for table in metadata.sorted_tables:
        if owner_condition(table, owned) is not None:
            owned[table.name] = set()
            names.append(table.name)
    return names


def owned_rows(engine: Engine, slug: str) -> dict[str, list[dict[str, Any]]]:
    project = SQLModel.metadata.tables["project"]
    rows: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        owned = {"project": {conn.execute(select(project.c.id).where(project.c.slug == slug)).scalar_one()}}
        for table in SQLModel.metadata.sorted_tables:
            condition = owner_condition(table, owned)
            if condition is None:
                continue
            found = [dict(m) for m in conn.execute(select(table).where(condition).order_by(table.c.id)).mappings()]
            rows[table.name], owned[table.name] = found, {r["id"] for r in found}
    return rows


def assert_same_rows(source: dict[str, list[dict[str, Any]]], target: dict[str, list[dict[str, Any]]]) -> None:
    """Row for row (in id order), every column equal, except ids, which may differ, and links, which must point at the
    corresponding row; `project.revision` is a cache key, fresh after a restore."""
    ids: dict[str, dict[int, int]] = {}
    for name in project_tables(SQLModel.metadata):
        if name in backup_store.NOT_BACKED_UP:
            continue
        mine, theirs = source[name], target[name]
        assert len(theirs) == len(mine), f"{name}: {len(theirs)} rows restored of {len(mine)}"
        ids[name] = {a["id"]: b["id"] for a, b in zip(mine, theirs, strict=True)}
        links = backup_store.links(name)
        for a, b in zip(mine, theirs, strict=True):
            for column, value in a.items():
                if column == "id" or (name, column) == ("project", "revision"):
                    continue
                expected = ids[links[column]].get(value) if column in links and value is not None else value
                assert b[column] == expected, f"{name}.{column} of row {a['id']}: {b[column]!r} != {expected!r}"


# -- a project that uses every table -----------------------------------------------------------------------------------


def build_project(client: TestClient, session: Session) -> dict[str, Any]:
    seed_history(client)
    assert client.patch("/v1/projects/churn", json={"goal": f"predict churn {HOSTILE} {HYPERLINK}"}).status_code == 200
    import_table(client, "churn", HOSTILE_TABLE, "csv")
    assert client.put(f"/v1/projects/churn/runs/{hist_id('1')}/baseline").status_code == 200
    asked = post_log(client, text=DUMP, run_table=DUMP_TABLE, session_date="2026-11-10", author=f"dana {FORMULA}")
    answer = "Checked the split: no leakage, the gap comes from the class balance."
    post_log(client, text=answer, session_date="2026-11-11")
    redacted = client.post(f"/v1/logs/{asked['id']}/redactions", json={"strings": ["sk-live-123"], "reason": HYPERLINK})
    assert redacted.status_code == 200, redacted.text
    fix = {"tldr": f"weights is dead {HOSTILE}", "reason": f"clearer {FORMULA}"}
    assert client.patch(f"/v1/entries/{asked['entry_id']}", json=fix).status_code == 200
    regroup = client.post("/v1/projects/churn/approaches/smote/runs", json={"run_keys": [hist_id("6")]})
    assert regroup.status_code == 200, regroup.text
    mark = {"status": "adopted", "reason": f"best recall {HYPERLINK}"}
    assert client.put("/v1/projects/churn/approaches/smote/mark", json=mark).status_code == 200
    switch = {"metric": "val_f1", "reason": f"recall matters {HOSTILE}", "effective_date": "2026-11-12"}
    assert client.post("/v1/projects/churn/metric-switches", json=switch).status_code == 201
    decision = {
        "finalists": [hist_id("5"), hist_id("7")],
        "criteria": [{"name": "F1", "metric": "val_f1", "weight": 2, "why": FORMULA}],
        "rationale": HYPERLINK,
    }
    assert client.post("/v1/projects/churn/decisions", json=decision).status_code == 201
    assert client.post("/v1/projects/churn/summaries", json={}).status_code == 201
    # Where an MLflow sync stopped (written as the sync service writes it; no MLflow server needed for that).
    state = TrackingSync(project_id=_project_id(session, "churn"), experiment_id="7", experiment_name=f"x {FORMULA}")
    state.tracking_uri, state.max_start_time_ms, state.open_run_ids = "http://mlflow:5000", 1_765_000_000_123, ["ab"]
    state.runs_seen, state.last_sync_at = 8, datetime(2026, 11, 12, 9, 30, 1, 123456, tzinfo=UTC)
    sync_store.save_sync_state(session, state)
    session.commit()
    return asked


def _project_id(session: Session, slug: str) -> int:
    project = SQLModel.metadata.tables["project"]
    return int(session.execute(select(project.c.id).where(project.c.slug == slug)).scalar_one())


@pytest.fixture
def restore(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, other_database_url: str) -> Iterator[Any]:
    """`labbook restore FILE` on the other database, through Typer's runner."""
    monkeypatch.setenv("DATABASE_URL", other_database_url)
    monkeypatch.setenv("LABBOOK_DATA_DIR", str(tmp_path / "restore-data"))
    monkeypatch.setenv("LABBOOK_RETRIEVAL", "off")
    monkeypatch.delenv("LABBOOK_CONFIG", raising=False)
    get_settings.cache_clear()

    def run(path: Path) -> Result:
        return CliRunner().invoke(cli, ["restore", str(path)])

    yield run
    get_settings.cache_clear()


@pytest.fixture
def other_engine(other_database_url: str) -> Iterator[Engine]:
    engine = make_engine(Settings(database_url=other_database_url).sqlalchemy_url)
    yield engine
    engine.dispose()


@pytest.fixture
def other_client(tmp_path: Path, other_database_url: str) -> Iterator[TestClient]:
    """The service on the other database."""
    settings = Settings(
        data_dir=tmp_path / "other-data",
        api_tokens=ADMIN_TOKEN,
        database_url=other_database_url,
        outbox_worker="off",
        auto_migrate=False,
    )
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as other:
        yield other


def export(client: TestClient, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    response = client.get("/v1/projects/churn/export")
    assert response.status_code == 200, response.text
    path = tmp_path / "churn-backup.json"
    path.write_bytes(response.content)
    return path, response.json()


# -- the tests ---------------------------------------------------------------------------------------------------------


def unclassified(metadata: MetaData) -> set[str]:
    """Tables neither backed up nor excluded with a reason, and project tables a backup leaves out silently."""
    listed = set(backup_store.BACKUP_TABLES) | set(backup_store.NOT_BACKED_UP)
    return (set(metadata.tables) - listed) | (set(project_tables(metadata)) - listed)


def test_every_table_is_backed_up_or_excluded() -> None:
    assert set(backup_store.BACKUP_TABLES).isdisjoint(backup_store.NOT_BACKED_UP)
    assert unclassified(SQLModel.metadata) == set()
    # every backed-up table belongs to a project; the outbox is the one project table left out, on purpose
    assert set(project_tables(SQLModel.metadata)) - set(backup_store.BACKUP_TABLES) == {"outbox"}
    assert set(backup_store.BACKUP_TABLES) <= set(project_tables(SQLModel.metadata))


def test_a_new_project_table_is_caught() -> None:
    metadata = MetaData()
    for table in SQLModel.metadata.sorted_tables:
        table.to_metadata(metadata)
    Table("note", metadata, Column("id", Integer, primary_key=True), Column("run_id", ForeignKey("run.id")))
    Table("setting", metadata, Column("id", Integer, primary_key=True))
    assert unclassified(metadata) == {"note", "setting"}


def test_the_backup_keeps_every_text_as_written(client: TestClient, session: Session, tmp_path: Path) -> None:
    asked = build_project(client, session)
    _, backup = export(client, tmp_path)
    assert backup["format"] == "labbook.project-backup" and backup["version"] == 1 and backup["project"] == "churn"
    assert all(backup["counts"][name] >= 1 for name in backup_store.BACKUP_TABLES), backup["counts"]
    assert "outbox" not in backup["tables"] and "api_token" not in backup["tables"]
    run = next(r for r in backup["tables"]["run"] if r["key"] == "8" * 32)
    assert (run["run_name"], run["params"]["formula"], run["notes"]) == (HYPERLINK, FORMULA, HOSTILE)
    log = next(r for r in backup["tables"]["session_log"] if r["id"] == asked["id"])
    assert log["text"] == DUMP.replace("sk-live-123", "[REDACTED]") and log["run_table"] == DUMP_TABLE
    assert log["author"] == f"dana {FORMULA}"
    # The dump's redaction, and the one of the entry composed from it (the secret left that too).
    redactions = {r["field"]: r for r in backup["tables"]["redaction"]}
    assert set(redactions) <= {"text", "entries"} and len(backup["tables"]["redaction"]) == len(redactions)
    redaction = redactions["text"]
    assert (redaction["log_id"], redaction["reason"], redaction["occurrences"]) == (asked["id"], HYPERLINK, 1)
    versions = [v for v in backup["tables"]["entry_version"] if v["entry_id"] == asked["entry_id"]]
    assert [(v["version"], v["reason"]) for v in versions][1:] == [(2, f"clearer {FORMULA}")]


def test_restore_into_an_empty_database_keeps_every_row_and_id(
    client: TestClient,
    session: Session,
    engine: Engine,
    tmp_path: Path,
    restore: Any,
    other_engine: Engine,
    other_client: TestClient,
) -> None:
    build_project(client, session)
    path, _ = export(client, tmp_path)
    done = restore(path)
    assert done.exit_code == 0, done.output
    assert done.output.splitlines()[0].startswith("restored project 'churn': ")
    source, target = owned_rows(engine, "churn"), owned_rows(other_engine, "churn")
    assert_same_rows(source, target)
    for name in backup_store.BACKUP_TABLES:  # a new database: the documents' "entry 12" is entry 12 here too
        assert [r["id"] for r in target[name]] == [r["id"] for r in source[name]], name
    assert "new ids" not in done.output
    # the ids kept, the database hands out the next ones (PostgreSQL's sequences moved past them)
    newer = post_log(other_client, text="after the move", session_date="2026-11-20")
    assert newer["id"] == max(r["id"] for r in source["session_log"]) + 1


def test_restore_beside_other_projects_maps_every_link(
    client: TestClient,
    session: Session,
    engine: Engine,
    tmp_path: Path,
    restore: Any,
    other_client: TestClient,
    other_engine: Engine,
) -> None:
    build_project(client, session)
    create_project(other_client, "other")
    import_table(other_client, "other", HOSTILE_TABLE, "csv")
    post_log(other_client, "other", text="first day on the other problem")
    before = owned_rows(other_engine, "other")
    path, _ = export(client, tmp_path)
    done = restore(path)
    assert done.exit_code == 0, done.output
    assert "entries and brain dumps got new ids here" in done.output
    target = owned_rows(other_engine, "churn")
    assert_same_rows(owned_rows(engine, "churn"), target)
    assert target["project"][0]["id"] != owned_rows(engine, "churn")["project"][0]["id"]  # renumbered, links mapped
    assert owned_rows(other_engine, "other") == before  # the other project is untouched
    # the service on the restored database reads it as the original did
    assert other_client.get("/v1/projects/churn/runs").json() == client.get("/v1/projects/churn/runs").json()


class TestRestoreRefuses:
    """What `labbook restore` refuses, before writing anything: the database is left as it was."""

    @pytest.fixture
    def backup(self, client: TestClient, tmp_path: Path) -> dict[str, Any]:
        seed_history(client)
        post_log(client, text="smote didn't help", session_date="2026-11-10")
        return export(client, tmp_path)[1]

    def restore_changed(self, restore: Any, tmp_path: Path, backup: dict[str, Any]) -> str:
        path = tmp_path / "changed.json"
        path.write_text(json.dumps(backup))
        done = restore(path)
        assert done.exit_code == 1
        return str(done.exception.message)

    def test_a_project_the_database_holds(self, restore: Any, tmp_path: Path, backup: dict[str, Any]) -> None:
        assert restore(tmp_path / "churn-backup.json").exit_code == 0
        message = self.restore_changed(restore, tmp_path, backup)
        assert message == "a project 'churn' exists in this database; restore reads a backup into one that lacks it"

    @pytest.mark.parametrize(
        ("change", "expected"),
        [
            (lambda b: b["tables"]["run"].pop(), "tables.run holds 6 rows, the backup counts 7: it is incomplete"),
            (lambda b: b.update(version=2), "the backup is version 2; this Labbook reads up to version 1"),
            (lambda b: b["tables"]["run"][0].update(colour="red"), "tables.run[0]: no column 'colour' in table run"),
            (lambda b: b["tables"]["entry"][0].update(log_id=99), "tables.entry[0].log_id: links to session_log 99"),
            (lambda b: b["tables"].update(outbox=[]), "no table 'outbox' is part of a project backup"),
            (lambda b: b.pop("tables"), "not a Labbook project backup: tables: Field required"),
            (lambda b: b["tables"]["run"][0].update(created_at="yesterday"), "tables.run[0].created_at: Invalid"),
        ],
        ids=["truncated", "newer", "unknown-column", "broken-link", "outbox", "not-a-backup", "bad-datetime"],
    )
    def test_a_backup_that_is_not_whole(
        self, restore: Any, tmp_path: Path, backup: dict[str, Any], other_engine: Engine, change: Any, expected: str
    ) -> None:
        change(backup)
        assert self.restore_changed(restore, tmp_path, backup).startswith(expected)
        with other_engine.connect() as conn:  # nothing was written
            assert conn.execute(select(SQLModel.metadata.tables["run"].c.id)).first() is None

    def test_a_file_that_is_not_json_names_the_line(self, restore: Any, tmp_path: Path) -> None:
        path = tmp_path / "broken.json"
        path.write_text('{"format": "labbook.project-backup",\n  "version": 1,,\n}')
        done = restore(path)
        assert done.exit_code == 1 and done.exception.line == 2
        assert done.exception.message.startswith(f"{path}: line 2: Expecting property name")


class TestReport:
    def test_the_narrative_in_order_with_every_version(self, client: TestClient, session: Session) -> None:
        asked = build_project(client, session)
        response = client.get("/v1/projects/churn/report")
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/markdown")
        report = response.text
        headings = [line for line in report.splitlines() if line.startswith("## ")]
        assert headings == ["## Project", "## Findings now", "## Approach marks", "## Sessions", "## Documents"]
        assert report.index("### Session 2026-11-10") < report.index("### Session 2026-11-11")
        assert f"#### Entry {asked['entry_id']}: log_entry, version 2" in report
        assert "corrected by admin" in report and "Reason: clearer" in report
        assert "Redacted" in report and "1 occurrence(s) in `text`" in report
        for kind in ("metric_switch", "selection_decision", "phase_summary"):
            assert f": {kind}, version 1" in report

    def test_hostile_text_is_escaped_where_it_is_rendered(self, client: TestClient, session: Session) -> None:
        build_project(client, session)
        report = client.get("/v1/projects/churn/report").text
        assert "\x1b" not in report and "\u202e" not in report and "\x07" not in report
        assert "\\x1b]0;owned\\x07" in report  # the dump, verbatim in its fence, shows the escape sequence as text
        outside_fences = re.sub(r"~~~+text\n.*?\n~~~+", "", report, flags=re.DOTALL)
        assert "<script>" not in outside_fences and "&lt;script&gt;" in outside_fences
        assert "[x](javascript:" not in outside_fences and "\\[x\\](javascript:" in outside_fences
