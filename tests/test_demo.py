"""The demo, end to end and for real: a local MLflow server started by `app.integrations.mlflow.server`, scikit-learn
models trained and logged, the project synced, the brain dumps posted. Seeded once per module (about 30 s), then
seeded again against a restarted server on a new port, which must change nothing but the project's tracking URI.
"""

from __future__ import annotations

import socket
import statistics
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import cast

import httpx
import pytest
from mlflow.tracking import MlflowClient
from sqlmodel import Session

from app.config import Settings
from app.demo import seed as demo
from app.demo.runs import git_commit
from app.demo.story import story
from app.integrations.mlflow import server as mlflow_server
from app.services import analysis as analysis_service
from app.services import outbox as outbox_service
from app.storage import entries as entry_store
from app.storage import logs as log_store
from app.storage import outbox as outbox_store
from app.storage import projects as project_store
from app.storage import runs as run_store
from app.storage.db import make_engine, migrate
from app.storage.models import Entry, Project, Run, SessionLog


@dataclass
class Seeded:
    first: demo.DemoSeeded
    second: demo.DemoSeeded
    first_url: str
    second_url: str
    engine_url: str
    notes: dict[str, str]  # run ID -> its MLflow run description after the second start's write-backs
    decision_urls: list[str]  # labbook.decision_url on the registered model versions, likewise
    steps: list[str]  # what the first start reported as it went
    rewritten: int  # tag writes the second start's write-backs sent


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    root = tmp_path_factory.mktemp("demo")
    base = Settings(data_dir=root, database_url=f"sqlite:///{root / 'labbook.db'}", outbox_worker="off")
    first_settings = base.model_copy(update={"public_url": "http://127.0.0.1:8000"})
    second_settings = base.model_copy(update={"public_url": "http://127.0.0.1:8123"})  # served on another port
    engine = make_engine(base.sqlalchemy_url)
    migrate(engine)
    sessions = outbox_store.session_factory(engine)
    steps: list[str] = []
    try:
        with demo.mlflow_server(base) as first_server, Session(engine) as session:
            first = demo.seed_demo(
                session, settings=first_settings, tracking_uri=first_server.url, progress=steps.append
            )
            session.commit()
            outbox_service.drain(sessions, first_settings)
        with demo.mlflow_server(base) as second_server, Session(engine) as session:
            second = demo.seed_demo(session, settings=second_settings, tracking_uri=second_server.url)
            session.commit()
            rewritten = outbox_service.drain(sessions, second_settings).writes
            client = MlflowClient(tracking_uri=second_server.url)
            runs = client.search_runs([client.get_experiment_by_name(demo.EXPERIMENT).experiment_id])
            notes = {r.info.run_id: r.data.tags.get("mlflow.note.content", "") for r in runs}
            versions = client.search_model_versions()
            decision_urls = [v.tags["labbook.decision_url"] for v in versions if "labbook.decision_url" in v.tags]
        yield Seeded(
            first,
            second,
            first_server.url,
            second_server.url,
            base.sqlalchemy_url,
            notes,
            decision_urls,
            steps,
            rewritten,
        )
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def db(seeded: Seeded) -> Iterator[Session]:
    engine = make_engine(seeded.engine_url)
    with Session(engine) as session:
        yield session
    engine.dispose()


@pytest.fixture(scope="module")
def project(db: Session) -> Project:
    return cast(Project, project_store.get_project_by_slug(db, demo.DEMO_SLUG))


@pytest.fixture(scope="module")
def runs(db: Session, project: Project) -> dict[str, Run]:
    stored = run_store.list_runs(db, project_id=cast(int, project.id), after_id=0, limit=1000)
    return {cast(str, r.run_name): r for r in stored}


@pytest.fixture(scope="module")
def dumps(db: Session, project: Project) -> list[SessionLog]:
    return log_store.list_logs(db, project_id=cast(int, project.id), after_id=0, limit=100)


@pytest.fixture(scope="module")
def entries(db: Session, project: Project) -> list[Entry]:
    return entry_store.list_entries(db, project_id=cast(int, project.id), kind="log_entry", after_id=0, limit=100)


class TestFirstStart:
    def test_logs_and_syncs_about_forty_runs(self, seeded: Seeded, runs: dict[str, Run]) -> None:
        assert seeded.first.logged and seeded.first.created
        assert 35 <= seeded.first.runs == len(runs) == len(story()) <= 45
        assert {r.source for r in runs.values()} == {"mlflow"}

    def test_one_baseline_tagged(self, runs: dict[str, Run]) -> None:
        assert [n for n, r in runs.items() if r.tags.get("baseline") == "true"] == ["baseline-logreg"]

    def test_sweep_children_point_at_their_parent(self, runs: dict[str, Run]) -> None:
        parent = runs["logreg-scaled-C-sweep"]
        children = sorted((r for r in runs.values() if r.parent_run_id == parent.run_id), key=_started)
        assert len(children) == 9
        aucs = [r.metrics["val_auc"] for r in children]
        assert aucs[-1] - aucs[-3] < aucs[2] - aucs[0]  # the sweep flattens: late gains are smaller than early ones

    def test_seed_repeats_differ_only_in_random_state(self, runs: dict[str, Run]) -> None:
        repeats = [r for r in runs.values() if r.tags.get("seed_repeat_of") == "hgb-lr0.1"]
        group = [runs["hgb-lr0.1"], *repeats]
        assert len(group) == 5
        assert len({r.params["random_state"] for r in group}) == 5
        assert len({frozenset((k, v) for k, v in r.params.items() if k != "random_state") for r in group}) == 1
        assert statistics.stdev(r.metrics["val_auc"] for r in group) > 0  # seeds make noise

    def test_exactly_one_run_lacks_its_git_commit(self, runs: dict[str, Run]) -> None:
        assert [n for n, r in runs.items() if not r.git_commit] == ["hgb-all-features"]
        assert {r.git_commit for r in runs.values() if r.git_commit} == {git_commit(d) for d in range(3)}

    def test_runs_carry_their_reproducibility_fields(self, runs: dict[str, Run]) -> None:
        run = runs["rf-n200-d8"]
        assert (run.data_version, run.split, run.hardware) == (
            "wdbc-v1",
            "stratified 80/20, random_state=0",
            "2 vCPU laptop",
        )
        assert (run.source_name, run.owner, run.seed) == ("train.py", "maya.chen", "0")
        assert run.datasets and run.datasets[0]["name"] == "wdbc-v1"
        assert all(r.metrics.keys() >= {"val_auc", "val_f1", "val_recall", "val_precision", "train_seconds"}
                   for r in runs.values() if r.run_name != "logreg-scaled-C-sweep")  # fmt: skip

    def test_environment_is_read_for_the_runs_with_a_logged_model(self, runs: dict[str, Run]) -> None:
        with_environment = sorted(n for n, r in runs.items() if r.environment)
        assert with_environment == ["hgb-lr0.1", "logreg-scaled-C1", "rf-n200-d8"]
        assert "scikit-learn" in str(runs["rf-n200-d8"].environment)

    def test_three_sessions_on_three_days(self, runs: dict[str, Run], dumps: list[SessionLog]) -> None:
        days = sorted({_started(r).date() for r in runs.values()})
        assert len(days) == 3 and days[2] - days[0] == timedelta(days=2)
        assert [d.session_date for d in dumps] == days

    def test_every_dump_has_an_entry_citing_runs(self, dumps: list[SessionLog], entries: list[Entry]) -> None:
        assert len(dumps) == len(entries) == 3
        assert all(e.log_id in {d.id for d in dumps} and len(e.run_ids) >= 5 for e in entries)

    def test_dumps_quote_the_stored_numbers(self, dumps: list[SessionLog], runs: dict[str, Run]) -> None:
        baseline, c1 = runs["baseline-logreg"], runs["logreg-scaled-C1"]
        assert f"{cast(str, baseline.run_id)[:8]}), val_auc {baseline.metrics['val_auc']:.4f}" in dumps[0].text
        assert f"at {c1.metrics['val_auc']:.4f}" in dumps[2].text
        for d in dumps:
            assert "hypothesis" in d.text and "next" in d.text and "?" in d.text

    def test_entries_find_no_wrong_numbers(self, entries: list[Entry]) -> None:
        codes = [w["code"] for e in entries for w in e.body["warnings"]]
        assert not [c for c in codes if "mismatch" in c or "unresolved" in c or "ambiguous" in c], codes

    def test_findings_tell_the_story(self, db: Session, project: Project, runs: dict[str, Run]) -> None:
        findings = analysis_service.project_findings(db, project=project)
        key = {cast(str, r.run_name): r.key for r in runs.values()}
        assert findings.baseline == key["baseline-logreg"]
        assert findings.noise.source == "seed_repeats"  # the forest's and boosting's seed repeats
        statuses = {a.name: a.status for a in findings.approaches}
        assert statuses["random-forest"] == "exhausted" and statuses["logreg-scaled"] == "plateaued"
        best = next(a for a in findings.approaches if a.name == "logreg-scaled")
        assert findings.best in best.run_ids
        gaps = {g.key: g.missing for g in findings.repro_gaps}
        assert "git_commit" in gaps[key["hgb-all-features"]]
        assert {f.subject for f in findings.of_kind("multi_change")} >= {key["rf-balanced-maxfeat0.5"]}

    def test_the_choice_of_model_is_recorded_once(self, db: Session, project: Project, runs: dict[str, Run]) -> None:
        decisions = entry_store.list_entries(
            db, project_id=cast(int, project.id), kind="selection_decision", after_id=0, limit=10
        )
        assert len(decisions) == 1  # the second start adds none
        body = decisions[0].body
        assert body["selected"] == runs["logreg-scaled-C1"].key
        assert set(decisions[0].run_ids) == {runs[n].key for n in demo.FINALISTS}


class TestSecondStart:
    def test_reuses_runs_project_and_dumps(self, seeded: Seeded) -> None:
        assert not seeded.second.logged and not seeded.second.created
        assert (seeded.second.runs, seeded.second.logs) == (seeded.first.runs, seeded.first.logs)

    def test_points_the_project_at_the_new_server(self, seeded: Seeded, project: Project) -> None:
        assert seeded.second_url != seeded.first_url
        assert project.tracking_uri == seeded.second.tracking_uri == seeded.second_url

    def test_write_back_links_follow_the_port_it_serves_on(self, seeded: Seeded) -> None:
        cited = [note for note in seeded.notes.values() if "/v1/entries/" in note]
        assert len(cited) >= 10
        assert all("127.0.0.1:8123/v1/entries/" in note and ":8000/" not in note for note in cited)
        assert seeded.decision_urls and all(
            u.startswith("http://127.0.0.1:8123/v1/entries/") for u in seeded.decision_urls
        )
        assert seeded.rewritten >= len(cited)

    def test_reports_each_step_once(self, seeded: Seeded) -> None:
        assert seeded.steps[0].startswith("logging the demo's runs") and len(seeded.steps) == len(set(seeded.steps))
        assert any("brain dumps" in step for step in seeded.steps)

    def test_the_servers_are_stopped(self, seeded: Seeded) -> None:
        for url in (seeded.first_url, seeded.second_url):
            with pytest.raises(httpx.TransportError):
                httpx.get(f"{url}/health", timeout=1)


class TestMlflowServer:
    def test_without_full_mlflow_the_error_says_what_to_install(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))  # a venv with no mlflow in it
        with pytest.raises(mlflow_server.MlflowServerError, match=r"pip install 'labbook\[demo\]'"):
            mlflow_server.LocalMlflowServer(tmp_path).start()

    def test_a_port_in_use_is_refused_before_starting(self, tmp_path: Path) -> None:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            with pytest.raises(mlflow_server.MlflowServerError, match=f"port {port} is in use"):
                mlflow_server.LocalMlflowServer(tmp_path, port=port).start()


def _started(run: Run) -> datetime:
    assert run.start_time is not None
    return run.start_time
