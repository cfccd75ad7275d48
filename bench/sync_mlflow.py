"""MLflow sync speed: Labbook's sync of an experiment's runs against a bare `MlflowClient.search_runs` over them.

Baseline (same run, same server, same runs): `MlflowClient(url).search_runs` paginated over every run of the
experiment, with the page size the sync uses. Labbook adds the mapping of each run (params, metrics, tags, times,
status), the upsert into its own database and the commit. Runs are shaped like the demo's: 10 params, 5 metrics
and 5 tags each, no logged models, distinct start times.
Targets: a first full sync into an empty Labbook database <= 1.5x the bare search; an incremental re-sync with
nothing changed <= 0.2x.

The MLflow store is populated once, in-process by bulk inserts into MLflow's own tables after MLflow created the
schema, and reused from `--store` on later runs (a marker file records the run count once population finished).
The timings go through a real `mlflow server --workers 1` on a free loopback port.

    .venv/bin/python bench/sync_mlflow.py [--runs 10000] [--store DIR] [--repeat 3] [--page-size N] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import random
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
from sqlalchemy import Engine
from sqlmodel import Session, select

from app.integrations.mlflow.server import LocalMlflowServer, MlflowServerError
from app.services import projects
from app.services import sync as sync_service
from app.services.auth import Principal
from app.services.schemas import ProjectCreate
from app.storage import projects as project_store
from app.storage.db import make_engine, migrate, session_scope
from app.storage.models import Run

EXPERIMENT = "bench-sync"
MARKER = "populated.json"
FULL_TARGET = 1.5
INCREMENTAL_TARGET = 0.2
BASE_TIME_MS = 1_795_000_000_000  # 2026-11-18, one run a minute from there

PARAM_KEYS = (
    "model",
    "C",
    "n_estimators",
    "max_depth",
    "learning_rate",
    "random_state",
    "data_version",
    "split",
    "scaler",
    "class_weight",
)
METRIC_KEYS = ("val_auc", "val_f1", "val_recall", "val_precision", "train_seconds")
TAG_KEYS = ("mlflow.source.git.commit", "mlflow.user", "mlflow.source.name", "mlflow.runName", "approach")
MODELS = ("logreg", "random_forest", "gradient_boosting", "svm")
APPROACHES = ("baseline", "tuned", "feature-select", "class-balance", "sweep-c", "sweep-depth")


# --- population -------------------------------------------------------------------------------------------------


def populate(store: Path, runs: int) -> tuple[float, bool]:
    """Fill `store` with `runs` runs unless a finished population of that size is there; (seconds, reused)."""
    marker = store / MARKER
    if marker.exists() and json.loads(marker.read_text()).get("runs") == runs:
        return 0.0, True
    if store.exists():
        shutil.rmtree(store)
    store.mkdir(parents=True)
    start = time.perf_counter()
    experiment_id, artifact_location = _create_schema(store)
    _bulk_insert(store / "mlflow.db", experiment_id, artifact_location, runs)
    seconds = time.perf_counter() - start
    marker.write_text(json.dumps({"runs": runs, "experiment": EXPERIMENT, "experiment_id": experiment_id}) + "\n")
    return seconds, False


def _create_schema(store: Path) -> tuple[int, str]:
    """MLflow's own store creates its tables (at the installed version's head) and the experiment."""
    sql_store = SqlAlchemyStore(f"sqlite:///{store / 'mlflow.db'}", str(store / "artifacts"))
    experiment_id = sql_store.create_experiment(EXPERIMENT)
    artifact_location = sql_store.get_experiment(experiment_id).artifact_location
    sql_store.engine.dispose()
    return int(experiment_id), artifact_location


def _bulk_insert(db_path: Path, experiment_id: int, artifact_location: str, count: int) -> None:
    """The rows `create_run` + `log_batch` + `update_run_info(FINISHED)` would write, in one transaction."""
    rng = random.Random(20261118)
    runs, params, metrics, latest, tags = [], [], [], [], []
    for i in range(count):
        run_id = f"{rng.getrandbits(128):032x}"
        model = MODELS[i % len(MODELS)]
        approach = APPROACHES[(i // 7) % len(APPROACHES)]
        name = f"{model}-{approach}-{i:05d}"
        train_seconds = round(rng.uniform(0.5, 90.0), 3)
        start_ms = BASE_TIME_MS + i * 60_000
        end_ms = start_ms + int(train_seconds * 1000) + 250
        runs.append(
            (
                run_id,
                name,
                "UNKNOWN",
                "",
                "",
                "dana",
                "FINISHED",
                start_ms,
                end_ms,
                None,
                "",
                "active",
                f"{artifact_location}/{run_id}/artifacts",
                experiment_id,
            )
        )
        values = (
            model,
            str(round(10 ** rng.uniform(-3, 2), 4)),
            str(rng.choice((100, 200, 300, 500))),
            str(rng.choice((3, 4, 6, 8, 12))),
            str(rng.choice((0.01, 0.03, 0.05, 0.1))),
            str(rng.randrange(5)),
            f"v{1 + i // 2500}",
            rng.choice(("random", "stratified", "group")),
            rng.choice(("standard", "minmax", "none")),
            rng.choice(("balanced", "none")),
        )
        params += [(key, value, run_id) for key, value in zip(PARAM_KEYS, values, strict=True)]
        auc = round(rng.uniform(0.90, 0.998), 4)
        scores = (auc, round(auc - rng.uniform(0.0, 0.08), 4), round(rng.uniform(0.85, 1.0), 4))
        values_f = (*scores, round(rng.uniform(0.85, 1.0), 4), train_seconds)
        for key, value in zip(METRIC_KEYS, values_f, strict=True):
            metrics.append((key, value, end_ms, run_id, 0, 0))
            latest.append((key, value, end_ms, 0, 0, run_id))
        tag_values = (f"{rng.getrandbits(160):040x}", "dana", "train.py", name, approach)
        tags += [(key, value, run_id) for key, value in zip(TAG_KEYS, tag_values, strict=True)]
    db = sqlite3.connect(db_path)
    try:
        with db:
            db.executemany(
                "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, "
                "start_time, end_time, deleted_time, source_version, lifecycle_stage, artifact_uri, experiment_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                runs,
            )
            db.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)", params)
            db.executemany(
                "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, ?)",
                metrics,
            )
            db.executemany(
                "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (?, ?, ?, ?, ?, ?)",
                latest,
            )
            db.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)", tags)
    finally:
        db.close()


# --- the MLflow server --------------------------------------------------------------------------------------------


@contextmanager
def mlflow_server(store: Path, timeout: float = 120) -> Iterator[str]:
    """`mlflow server --workers 1` on the store, a free loopback port; yields its URL, stops its process group."""
    server = LocalMlflowServer(store)
    try:
        server.start(timeout=timeout)
    except MlflowServerError as exc:
        sys.exit(f"{exc}\n(see {server.log_path})")
    try:
        yield server.url
    finally:
        server.stop()


# --- baseline -----------------------------------------------------------------------------------------------------


def sync_page_size() -> int:
    """The page size the sync asks MLflow for, so the baseline pays the same number of round trips."""
    return sync_service.SYNC_PAGE_SIZE


def bare_search(url: str, experiment_id: str, page_size: int) -> list[Any]:
    client = MlflowClient(tracking_uri=url)
    runs: list[Any] = []
    token = None
    while True:
        page = client.search_runs(experiment_ids=[experiment_id], max_results=page_size, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def check_shape(runs: list[Any], expected: int) -> None:
    problems = []
    if len(runs) != expected:
        problems.append(f"{len(runs)} runs, expected {expected}")
    for run in runs:
        counts = (len(run.data.params), len(run.data.metrics), len(run.data.tags))
        if counts != (len(PARAM_KEYS), len(METRIC_KEYS), len(TAG_KEYS)):
            problems.append(f"run {run.info.run_id}: params/metrics/tags {counts}")
            break
    if len({run.info.start_time for run in runs}) != len(runs):
        problems.append("start times are not distinct")
    if problems:
        sys.exit("the MLflow store is not what the bench expects: " + "; ".join(problems))


def experiment_id_of(url: str) -> str:
    experiment = MlflowClient(tracking_uri=url).get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        sys.exit(f"no experiment {EXPERIMENT!r} on the server")
    return str(experiment.experiment_id)


# --- Labbook ------------------------------------------------------------------------------------------------------


def fresh_labbook(path: Path, url: str) -> Engine:
    """A migrated Labbook database at `path` with one project linked to the experiment on `url`."""
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    body = ProjectCreate(
        slug="bench-sync",
        name="Sync bench",
        primary_metric="val_auc",
        metric_direction="max",
        mlflow_experiments=[EXPERIMENT],
        tracking_uri=url,
    )
    for session in session_scope(engine):
        projects.create_project(session, principal=Principal(name="bench"), body=body)
    return engine


def sync(engine: Engine, *, full: bool) -> Any:
    """One sync as the service runs it: its own transaction, committed at the end."""
    for session in session_scope(engine):
        project = project_store.get_project_by_slug(session, "bench-sync")
        assert project is not None
        result = sync_service.sync_project(session, project=project, full=full)
    return result


def stored_runs(engine: Engine) -> dict[str, int]:
    """Runs in Labbook's database, and how many of them carry the expected params, metrics and tags."""
    with Session(engine) as session:
        runs = session.exec(select(Run)).all()
    shaped = sum(
        set(PARAM_KEYS) <= set(run.params) and set(METRIC_KEYS) <= set(run.metrics) and set(TAG_KEYS) <= set(run.tags)
        for run in runs
    )
    return {"runs": len(runs), "shaped": shaped}


@dataclass
class Timings:
    bare: list[float] = field(default_factory=list)
    full: list[float] = field(default_factory=list)
    incremental: list[float] = field(default_factory=list)
    full_result: Any = None
    incremental_result: Any = None
    stored: dict[str, int] = field(default_factory=dict)


def measure(url: str, experiment_id: str, page_size: int, folder: Path, repeat: int, runs: int) -> Timings:
    """Rounds of: the bare search, a first full sync into an empty Labbook database, then an incremental re-sync
    with nothing changed into that database. Interleaved, so a change of machine load hits all three alike."""
    timings = Timings()
    for i in range(repeat):
        timings.bare.append(timed(lambda: bare_search(url, experiment_id, page_size))[0])
        engine = fresh_labbook(folder / f"labbook-{i}.db", url)
        seconds, timings.full_result = timed(lambda e=engine: sync(e, full=True))  # type: ignore[misc]
        timings.full.append(seconds)
        timings.stored = stored_runs(engine)
        if timings.stored != {"runs": runs, "shaped": runs}:
            sys.exit(f"the full sync stored {timings.stored}, expected {runs} runs with all their values")
        seconds, timings.incremental_result = timed(lambda e=engine: sync(e, full=False))  # type: ignore[misc]
        timings.incremental.append(seconds)
        if stored_runs(engine) != timings.stored:
            sys.exit(f"an incremental re-sync with nothing changed changed the stored runs: {stored_runs(engine)}")
        engine.dispose()
    return timings


def profile_full_sync(url: str, folder: Path, top: int = 15) -> None:
    engine = fresh_labbook(folder / "labbook-profile.db", url)
    profiler = cProfile.Profile()
    profiler.runcall(sync, engine, full=True)
    engine.dispose()
    for order in ("cumulative", "tottime"):
        print(f"\nprofile of one first full sync, top {top} by {order}:")
        pstats.Stats(profiler, stream=sys.stdout).strip_dirs().sort_stats(order).print_stats(top)
    # Labbook's own functions only (everything outside them is MLflow's client, the HTTP wait and SQLAlchemy).
    print(f"\nthe same profile, Labbook's own functions (app/), top {top} by cumulative:")
    app_dir = str(Path(sync_service.__file__).resolve().parents[1])
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(re.escape(app_dir), top)


# --- helpers ------------------------------------------------------------------------------------------------------


def timed(work: Callable[[], object]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def summary(times: list[float]) -> float:
    return statistics.median(times)


def verdict(ratio: float, target: float) -> str:
    return "PASS" if ratio <= target else "FAIL"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--store", type=Path, default=None, help="default ~/.cache/labbook/bench-mlflow-<runs>")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of the three timings; medians are reported")
    parser.add_argument("--page-size", type=int, default=None, help="baseline page size; default: the sync's")
    parser.add_argument("--profile", action="store_true", help="also profile one full sync (top 15)")
    args = parser.parse_args()
    store: Path = (args.store or Path.home() / ".cache" / "labbook" / f"bench-mlflow-{args.runs}").expanduser()

    seconds, reused = populate(store, args.runs)
    print(f"store: {store}  " + ("(reused)" if reused else f"(populated {args.runs} runs in {seconds:.1f} s)"))
    page_size = args.page_size or sync_page_size()
    page_source = "--page-size" if args.page_size else "app.services.sync.SYNC_PAGE_SIZE"
    with mlflow_server(store) as url:
        experiment_id = experiment_id_of(url)
        check_shape(bare_search(url, experiment_id, page_size), args.runs)  # also warms the server
        with tempfile.TemporaryDirectory() as tmp:
            t = measure(url, experiment_id, page_size, Path(tmp), args.repeat, args.runs)
            if args.profile:
                profile_full_sync(url, Path(tmp))
    floor, first, again = summary(t.bare), summary(t.full), summary(t.incremental)
    rows = [
        ("bare search_runs", t.bare, floor, None, None),
        ("labbook full sync (empty DB)", t.full, first, first / floor, FULL_TARGET),
        ("labbook incremental, unchanged", t.incremental, again, again / floor, INCREMENTAL_TARGET),
    ]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nruns: {args.runs}  page size: {page_size} ({page_source})  repeat: {args.repeat}, median reported")
    print(f"load average now: {load} on {os.cpu_count()} CPUs (other work on the machine widens the spread)")
    print(f"{'measurement':<32} {'median s':>9} {'ratio':>7} {'target':>7}  verdict  all timings (s)")
    for label, times, median, ratio, target in rows:
        ratio_text = f"{ratio:6.2f}x" if ratio is not None else f"{'':>7}"
        target_text = f"<={target:4.1f}x" if target is not None else f"{'':>7}"
        result = verdict(ratio, target) if ratio is not None and target is not None else "       "
        print(f"{label:<32} {median:9.3f} {ratio_text} {target_text}  {result:<7}  {[round(t, 3) for t in times]}")
    print(f"runs in Labbook after each full sync: {t.stored['runs']} ({t.stored['shaped']} with all values)")
    print(f"full sync result: {t.full_result!r}")
    print(f"incremental result: {t.incremental_result!r}")


if __name__ == "__main__":
    main()
