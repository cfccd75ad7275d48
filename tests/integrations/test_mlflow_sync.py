"""The MLflow sync against a real MLflow tracking server: field mapping, incremental reads, pagination, merging with
table-imported runs, the artifact cache, and errors. Each test creates its own experiment."""

from __future__ import annotations

import logging
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
import sklearn
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from sklearn.linear_model import LogisticRegression
from sqlmodel import Session, select

from app.errors import ExperimentNotFound, TrackingNotConfigured, TrackingUnavailable
from app.integrations.mlflow.runs import RunReader
from app.services import runs as runs_service
from app.services import sync as sync_service
from app.storage.models import ArtifactCache, Project, Run, TrackingSync
from tests.live import free_port
from tests.mlflow_server import MlflowServer


def new_experiment(server: MlflowServer) -> tuple[MlflowClient, str, str]:
    client = MlflowClient(server.url)
    name = f"sync-{uuid.uuid4().hex[:10]}"
    return client, client.create_experiment(name), name


def make_project(session: Session, *experiments: str, tracking_uri: str | None = None) -> Project:
    project = Project(
        slug=f"p-{uuid.uuid4().hex[:8]}",
        name="Churn",
        primary_metric="val_auc",
        metric_direction="max",
        mlflow_experiments=list(experiments),
        tracking_uri=tracking_uri,
    )
    session.add(project)
    session.commit()
    return project


def stored(session: Session, project: Project) -> dict[str, Run]:
    session.expire_all()
    return {r.key: r for r in session.exec(select(Run).where(Run.project_id == project.id))}


def log_run(
    client: MlflowClient,
    experiment_id: str,
    *,
    params: dict[str, Any] | None = None,
    metrics: dict[str, float] | None = None,
    tags: dict[str, str] | None = None,
    finish: bool = True,
    start_time: int | None = None,
    name: str | None = None,
) -> str:
    run = client.create_run(experiment_id, start_time=start_time, run_name=name)
    run_id = run.info.run_id
    now = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric(k, v, now, 0) for k, v in (metrics or {}).items()],
        params=[Param(k, str(v)) for k, v in (params or {}).items()],
        tags=[RunTag(k, v) for k, v in (tags or {}).items()],
    )
    if finish:
        client.set_terminated(run_id)
    return run_id


@contextmanager
def fluent(server: MlflowServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """MLflow's fluent API (log_model, log_input, nested runs) pointed at the server; its chatter is not our test."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(server.url)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        mlflow.set_tracking_uri(previous)


def sync(session: Session, project: Project, *, full: bool = False) -> Any:
    result = sync_service.sync_project(session, project=project, full=full)
    session.commit()
    return result


# --- mapping ----------------------------------------------------------------------------------------------------------


@pytest.fixture
def logged_sweep(mlflow_server: MlflowServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A parent run with a dataset input and an sklearn model, and a nested child run of the sweep."""
    client, experiment_id, name = new_experiment(mlflow_server)
    frame = pd.DataFrame({"tenure": [1.0, 5.0, 9.0, 2.0], "churned": [1, 0, 0, 1]})
    with fluent(mlflow_server, monkeypatch):
        with mlflow.start_run(experiment_id=experiment_id, run_name="sweep") as parent:
            mlflow.log_params({"seed": 42, "data_version": "2024-06-01", "split": "group k-fold by customer"})
            mlflow.set_tags({"mlflow.source.git.commit": "3f2a9c1d0e4b", "hardware": "1x A100 80GB"})
            mlflow.log_metric("val_auc", 0.861)
            dataset = mlflow.data.from_pandas(frame, source="s3://bucket/churn.parquet", name="churn-train")
            mlflow.log_input(dataset, context="training")
            model = LogisticRegression().fit(frame[["tenure"]], frame["churned"])
            # Pinned requirements: MLflow would otherwise infer them in a subprocess, which takes seconds.
            pins = [f"scikit-learn=={sklearn.__version__}", f"pandas=={pd.__version__}"]
            mlflow.sklearn.log_model(model, name="model", pip_requirements=pins)
            with mlflow.start_run(experiment_id=experiment_id, run_name="trial-1", nested=True) as child:
                mlflow.log_params({"random_state": 7, "lr": 0.05})
                mlflow.log_metric("val_auc", 0.855)
        array = mlflow.data.from_numpy(np.arange(6).reshape(3, 2), source="s3://bucket/eval.npy", name="eval")
    return {
        "client": client,
        "experiment_id": experiment_id,
        "name": name,
        "parent": parent.info.run_id,
        "child": child.info.run_id,
        "digest": dataset.digest,
        "numpy_digest": array.digest,
    }


def test_maps_every_field(session: Session, mlflow_server: MlflowServer, logged_sweep: dict[str, Any]) -> None:
    project = make_project(session, logged_sweep["name"], tracking_uri=mlflow_server.url)
    result = sync(session, project)
    assert (result.created, result.updated, result.unchanged, result.open_runs) == (2, 0, 0, 0)
    assert result.experiments[0].experiment_id == logged_sweep["experiment_id"]
    assert result.experiments[0].mode == "full" and result.tracking_uri == mlflow_server.url

    runs = stored(session, project)
    parent, child = runs[logged_sweep["parent"]], runs[logged_sweep["child"]]
    info = logged_sweep["client"].get_run(parent.run_id).info
    assert parent.source == "mlflow" and parent.run_name == "sweep" and parent.status == "FINISHED"
    assert parent.experiment_id == logged_sweep["experiment_id"]
    assert parent.params == {"seed": "42", "data_version": "2024-06-01", "split": "group k-fold by customer"}
    assert parent.metrics == {"val_auc": 0.861}
    assert parent.tags["hardware"] == "1x A100 80GB"
    assert parent.start_time is not None and parent.end_time is not None
    assert int(parent.start_time.timestamp() * 1000) == info.start_time
    assert parent.duration_s == pytest.approx((info.end_time - info.start_time) / 1000)
    assert parent.git_commit == "3f2a9c1d0e4b"
    assert parent.source_type == "LOCAL" and parent.source_name and parent.owner == info.user_id
    assert parent.seed == "42" and parent.data_version == "2024-06-01"
    assert parent.hardware == "1x A100 80GB" and parent.split == "group k-fold by customer"
    assert parent.datasets == [
        {
            "name": "churn-train",
            "digest": logged_sweep["digest"],
            "source_type": "s3",
            "source": "s3://bucket/churn.parquet",
            "context": "training",
        }
    ]
    assert parent.environment["packages"]["scikit-learn"] == sklearn.__version__
    assert parent.environment["python"].startswith("3.")
    assert any(s.endswith("/requirements.txt") for s in parent.environment["sources"])
    assert parent.artifact_uri == info.artifact_uri and parent.synced_at is not None

    # The sweep's trial keeps its link; what it did not record stays empty.
    assert child.parent_run_id == parent.run_id and child.run_name == "trial-1"
    assert child.seed == "7" and child.params["lr"] == "0.05"
    assert (child.git_commit, child.data_version, child.hardware, child.split) == (None, None, None, None)
    assert child.datasets == [] and child.environment == {}


def test_dataset_digest_stands_in_for_a_missing_data_version(
    session: Session, mlflow_server: MlflowServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, experiment_id, _ = new_experiment(mlflow_server)
    with fluent(mlflow_server, monkeypatch):
        dataset = mlflow.data.from_numpy(np.arange(6).reshape(3, 2), source="s3://bucket/x.npy", name="features")
        with mlflow.start_run(experiment_id=experiment_id) as run:
            mlflow.log_input(dataset, context="eval")
    project = make_project(session, experiment_id, tracking_uri=mlflow_server.url)
    sync(session, project)
    synced = stored(session, project)[run.info.run_id]
    assert synced.data_version == f"features@{dataset.digest}"
    assert synced.datasets[0]["context"] == "eval" and synced.datasets[0]["digest"] == dataset.digest


def test_a_second_full_sync_reads_no_model_artifacts_again(
    session: Session, mlflow_server: MlflowServer, logged_sweep: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(session, logged_sweep["experiment_id"], tracking_uri=mlflow_server.url)
    reads: list[str] = []
    real = RunReader.model_environment

    def counting(self: RunReader, model: Any) -> Any:
        reads.append(model.cache_uri)
        return real(self, model)

    monkeypatch.setattr(RunReader, "model_environment", counting)
    sync(session, project)
    assert len(reads) == 1  # the parent's model; the child logged none, so nothing is read for it
    cache = session.exec(select(ArtifactCache)).all()
    assert [c.uri for c in cache] == reads and cache[0].content["packages"]["scikit-learn"] == sklearn.__version__
    fetched_at = cache[0].fetched_at

    result = sync(session, project, full=True)
    assert (result.created, result.updated, result.unchanged) == (0, 0, 2)
    assert result.experiments[0].mode == "full"
    assert len(reads) == 1
    session.expire_all()
    assert [(c.uri, c.fetched_at) for c in session.exec(select(ArtifactCache)).all()] == [(reads[0], fetched_at)]
    assert stored(session, project)[logged_sweep["parent"]].environment["packages"]["scikit-learn"]


# --- incremental --------------------------------------------------------------------------------------------------


def test_incremental_sync_reads_new_and_open_runs_only(session: Session, mlflow_server: MlflowServer) -> None:
    client, experiment_id, _ = new_experiment(mlflow_server)
    done = log_run(client, experiment_id, params={"lr": "0.1"}, metrics={"val_auc": 0.8}, tags={"stage": "old"})
    running = log_run(client, experiment_id, params={"lr": "0.2"}, finish=False)
    project = make_project(session, experiment_id, tracking_uri=mlflow_server.url)

    first = sync(session, project)
    assert (first.created, first.open_runs) == (2, 1)
    state = session.exec(select(TrackingSync).where(TrackingSync.project_id == project.id)).one()
    assert state.open_run_ids == [running] and state.max_start_time_ms is not None
    assert stored(session, project)[running].status == "RUNNING"

    # In MLflow: the finished run's tag changes, the running run finishes, a new run appears.
    client.set_tag(done, "stage", "new")
    client.log_metric(running, "val_auc", 0.83)
    client.set_terminated(running)
    added = log_run(client, experiment_id, params={"lr": "0.3"}, metrics={"val_auc": 0.81})

    second = sync(session, project)
    assert second.experiments[0].mode == "incremental"
    assert (second.experiments[0].runs_read, second.created, second.updated, second.open_runs) == (2, 1, 1, 0)
    runs = stored(session, project)
    assert runs[done].tags["stage"] == "old"  # finished at the last sync: not read again
    assert runs[running].status == "FINISHED" and runs[running].metrics == {"val_auc": 0.83}
    assert runs[running].end_time is not None and runs[added].metrics == {"val_auc": 0.81}

    nothing = sync(session, project)
    assert (nothing.experiments[0].runs_read, nothing.created, nothing.updated) == (0, 0, 0)

    full = sync(session, project, full=True)
    assert full.experiments[0].mode == "full"
    assert (full.experiments[0].runs_read, full.created, full.updated, full.unchanged) == (3, 0, 1, 2)
    assert stored(session, project)[done].tags["stage"] == "new"


def test_runs_started_in_the_same_millisecond_as_the_newest_are_not_missed(
    session: Session, mlflow_server: MlflowServer
) -> None:
    client, experiment_id, _ = new_experiment(mlflow_server)
    moment = int(time.time() * 1000)
    first = log_run(client, experiment_id, start_time=moment)
    project = make_project(session, experiment_id, tracking_uri=mlflow_server.url)
    sync(session, project)
    twin = log_run(client, experiment_id, start_time=moment)
    result = sync(session, project)
    assert (result.experiments[0].runs_read, result.created) == (1, 1)
    assert set(stored(session, project)) == {first, twin}


def test_deleted_runs_are_not_synced(session: Session, mlflow_server: MlflowServer) -> None:
    client, experiment_id, _ = new_experiment(mlflow_server)
    kept = log_run(client, experiment_id)
    gone = log_run(client, experiment_id)
    client.delete_run(gone)
    project = make_project(session, experiment_id, tracking_uri=mlflow_server.url)
    sync(session, project)
    assert set(stored(session, project)) == {kept}


def test_pagination_reads_every_run(
    session: Session, mlflow_server: MlflowServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, experiment_id, _ = new_experiment(mlflow_server)
    run_ids = {log_run(client, experiment_id, params={"i": str(i)}) for i in range(7)}
    assert {r.run_id for r in RunReader(mlflow_server.url, page_size=2).runs(experiment_id)} == run_ids

    monkeypatch.setattr(sync_service, "SYNC_PAGE_SIZE", 3)
    project = make_project(session, experiment_id, tracking_uri=mlflow_server.url)
    assert sync(session, project).created == 7
    assert set(stored(session, project)) == run_ids


def test_open_runs_are_read_back_in_batches(mlflow_server: MlflowServer) -> None:
    client, experiment_id, _ = new_experiment(mlflow_server)
    open_ids = [log_run(client, experiment_id, finish=False) for _ in range(3)]
    reader = RunReader(mlflow_server.url, page_size=2)
    newest = max(r.start_time_ms or 0 for r in reader.runs(experiment_id))
    again = reader.runs(experiment_id, started_since_ms=newest + 1, run_ids=open_ids[:2])
    assert sorted(r.run_id for r in again) == sorted(open_ids[:2])


# --- merging with tables, linking ---------------------------------------------------------------------------------


def test_a_table_imported_run_is_merged_not_duplicated(session: Session, mlflow_server: MlflowServer) -> None:
    client, experiment_id, name = new_experiment(mlflow_server)
    run_id = log_run(client, experiment_id, params={"model": "lightgbm"}, metrics={"val_auc": 0.861})
    project = make_project(session, name, tracking_uri=mlflow_server.url)
    header = "| Run ID | Model | lr | Val AUC | Notes |\n|---|---|---|---|---|\n"
    table = f"{header}| {run_id} | lgbm | 0.05 | 0.86 | smote |\n"
    runs_service.import_table(session, project=project, text=table, format=None)
    session.commit()
    assert stored(session, project)[run_id].source == "table"

    result = sync(session, project)
    assert (result.created, result.updated) == (0, 1)
    runs = stored(session, project)
    assert list(runs) == [run_id]
    merged = runs[run_id]
    assert merged.source == "mlflow" and merged.notes == "smote"
    assert merged.params["model"] == "lightgbm" and merged.params["lr"] == "0.05"  # MLflow wins, the table's rest stays
    assert merged.metrics["val_auc"] == 0.861 and merged.status == "FINISHED"

    again = sync(session, project, full=True)
    assert (again.updated, again.unchanged) == (0, 1)
    assert stored(session, project)[run_id].notes == "smote"


def test_experiments_by_id_and_name_once_each(session: Session, mlflow_server: MlflowServer) -> None:
    client, experiment_id, name = new_experiment(mlflow_server)
    log_run(client, experiment_id)
    project = make_project(session, experiment_id, name, tracking_uri=mlflow_server.url)
    result = sync(session, project)
    assert [(e.experiment_id, e.name, e.runs_read) for e in result.experiments] == [(experiment_id, name, 1)]


def test_a_new_tracking_server_means_a_full_read(session: Session, mlflow_server: MlflowServer) -> None:
    client, experiment_id, _ = new_experiment(mlflow_server)
    log_run(client, experiment_id)
    project = make_project(session, experiment_id, tracking_uri=mlflow_server.url)
    sync(session, project)
    project.tracking_uri = mlflow_server.url.replace("127.0.0.1", "localhost")
    session.add(project)
    session.commit()
    result = sync(session, project)
    assert result.experiments[0].mode == "full" and result.unchanged == 1


# --- errors -------------------------------------------------------------------------------------------------------


def test_unknown_experiment_is_named(session: Session, mlflow_server: MlflowServer) -> None:
    project = make_project(session, "no-such-experiment-xyz", tracking_uri=mlflow_server.url)
    with pytest.raises(ExperimentNotFound) as caught:
        sync_service.sync_project(session, project=project)
    assert "no-such-experiment-xyz" in caught.value.message and caught.value.field == "mlflow_experiments"


def test_deleted_experiment_is_not_found(session: Session, mlflow_server: MlflowServer) -> None:
    client, experiment_id, _ = new_experiment(mlflow_server)
    client.delete_experiment(experiment_id)
    project = make_project(session, experiment_id, tracking_uri=mlflow_server.url)
    with pytest.raises(ExperimentNotFound, match="deleted"):
        sync_service.sync_project(session, project=project)


def test_no_linked_experiments(session: Session) -> None:
    project = make_project(session, tracking_uri="http://127.0.0.1:1")
    with pytest.raises(TrackingNotConfigured) as caught:
        sync_service.sync_project(session, project=project)
    assert caught.value.field == "mlflow_experiments"


def test_no_tracking_uri(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    project = make_project(session, "1")
    with pytest.raises(TrackingNotConfigured) as caught:
        sync_service.sync_project(session, project=project, default_tracking_uri=None)
    assert caught.value.field == "tracking_uri"


def test_a_server_that_is_down_fails_fast(session: Session) -> None:
    project = make_project(session, "1", tracking_uri=f"http://user:secret@127.0.0.1:{free_port()}")
    started = time.monotonic()
    with pytest.raises(TrackingUnavailable) as caught:
        sync_service.sync_project(session, project=project)
    assert time.monotonic() - started < 5
    assert caught.value.field == "tracking_uri" and "does not answer" in caught.value.message
    assert "secret" not in caught.value.message and "user:***@" in caught.value.message


def test_a_proxy_answering_502_is_unavailable(session: Session) -> None:
    """A gateway in front of MLflow that is up while MLflow is not."""

    class BadGateway(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self.send_response(502)
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    gateway = ThreadingHTTPServer(("127.0.0.1", 0), BadGateway)
    thread = threading.Thread(target=gateway.serve_forever, daemon=True)
    thread.start()
    try:
        project = make_project(session, "1", tracking_uri=f"http://127.0.0.1:{gateway.server_address[1]}")
        with pytest.raises(TrackingUnavailable, match="HTTP 502"):
            sync_service.sync_project(session, project=project)
    finally:
        gateway.shutdown()
        gateway.server_close()


def test_the_sync_is_logged(session: Session, mlflow_server: MlflowServer, caplog: pytest.LogCaptureFixture) -> None:
    client, experiment_id, _ = new_experiment(mlflow_server)
    log_run(client, experiment_id)
    project = make_project(session, experiment_id, tracking_uri=mlflow_server.url)
    caplog.set_level(logging.INFO, logger="app.services.sync")
    sync(session, project)
    [record] = [r for r in caplog.records if r.getMessage() == "runs.sync"]
    assert (record.__dict__["runs_created"], record.__dict__["project_id"]) == (1, project.id)
