"""Findings speed: loading a 10,000-run project and analysing it, against the plain pass that only loads it.

Baseline (same run, same database): `app.services.analysis.load_input`, the query and conversion to RunViews every
analysis pays. Labbook adds `analyze`: baseline, closest earlier configs (leave-one-out hashing), approaches and
statuses, seed noise, within-noise gains, duplicates, stalls, reproduction gaps. Prints the median of `--repeat`
timings of each, their ratio, analyze alone against its target (< 1 s for 10,000 runs) and analyze's memory peak.

Then what a request pays: `project_analysis` with an empty cache (load and analyse with the garbage collector paused,
what the first findings call after a write costs; target < 5 s and < 300 MB at 100,000 runs, the memory as the
`tracemalloc` peak of loading and analysing), and with the project unchanged (a cache hit: one revision lookup).

The project is stored in a temporary SQLite file through the real storage layer (migrations, `save_runs`): 15
parameters a run (model, feature set, seed, 12 hyperparameters), 5 metrics, 20 approaches (14 tagged, 6 left to
inference, whose families also have tagged lines, so their runs join those: 14 approaches found), seed repeats,
exact duplicates, durations and reproducibility fields, over 120 daily sessions.

`--random-search` also measures the worst case for configuration lookups, an Optuna-style random search: the same
number of runs in memory, one model and 15 continuous parameters drawn afresh every run, so no two runs share a
value and every run changes all 15 parameters from its closest earlier one (analyze time and memory peak).

    .venv/bin/python bench/findings.py [--runs 10000] [--repeat 5] [--random-search]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from app.analysis.findings import analyze
from app.analysis.model import AnalysisInput, RunView
from app.services import analysis as analysis_service
from app.services.analysis import collection_paused, load_input, project_analysis
from app.services.documents import create_next_experiments
from app.services.schemas import NextExperimentsCreate
from app.storage.db import make_engine, migrate, session_scope
from app.storage.models import Project
from app.storage.runs import save_runs

TARGET_S = 1.0
COLD_TARGET_S, COLD_TARGET_MB = 5.0, 300.0  # a request's load and analysis at 100,000 runs
FAMILIES = ("lightgbm", "xgboost", "random_forest", "mlp", "catboost", "logreg")
HYPER = {
    "learning_rate": ("0.01", "0.02", "0.05", "0.1", "0.2", "0.3"),
    "max_depth": ("3", "4", "6", "8", "10", "12"),
    "n_estimators": ("100", "200", "400", "800", "1600"),
    "l2": ("0", "0.1", "1", "3", "10"),
    "dropout": ("0", "0.1", "0.2", "0.3"),
    "batch_size": ("32", "64", "128", "256"),
    "subsample": ("0.5", "0.6", "0.8", "1.0"),
    "colsample": ("0.5", "0.7", "0.9", "1.0"),
    "min_child": ("1", "5", "10", "20", "50"),
    "max_bins": ("63", "127", "255"),
    "warmup": ("0", "100", "500"),
    "epochs": ("5", "10", "20", "40"),
}
START = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


def make_rows(count: int, project_id: int, rng: random.Random) -> list[dict[str, Any]]:
    approaches = [(f"approach-{i:02d}", FAMILIES[i % len(FAMILIES)], i < 14) for i in range(20)]
    history: dict[str, list[dict[str, str]]] = {name: [] for name, _, _ in approaches}
    rows = []
    for i in range(count):
        name, family, tagged = approaches[rng.randrange(20)] if i else approaches[0]
        params = _next_params(history[name], family, rng)
        history[name].append(params)
        rows.append(_row(i, count, project_id, name, tagged, params, rng))
    return rows


def _next_params(earlier: list[dict[str, str]], family: str, rng: random.Random) -> dict[str, str]:
    seed = str(rng.randint(0, 10**6))
    if not earlier:
        return {"model": family, "features": "v4", **{k: rng.choice(v) for k, v in HYPER.items()}, "seed": seed}
    source = dict(rng.choice(earlier[-30:]))
    roll = rng.random()
    if roll < 0.05:
        return source  # an exact duplicate, seed included
    if roll >= 0.10:  # else a seed repeat: same config, new seed
        for key in rng.sample(sorted(HYPER), 1 if roll < 0.85 else rng.choice((2, 3))):
            source[key] = rng.choice(HYPER[key])
    return {**source, "seed": seed}


def _row(
    i: int, count: int, project_id: int, approach: str, tagged: bool, params: dict[str, str], rng: random.Random
) -> dict[str, Any]:
    key = f"{rng.getrandbits(128):032x}"
    auc = 0.78 + 0.0008 * (i * 100 / count) + rng.gauss(0, 0.004)
    start = START + timedelta(minutes=i * 120 * 24 * 60 // count)
    duration = float(rng.randint(60, 5400))
    tags = {"mlflow.runName": f"{params['model']}-{i:05d}", **({"approach": approach} if tagged else {})}
    gap = i < count // 20  # an inherited first batch without commit or environment
    return {
        "project_id": project_id,
        "key": key,
        "run_id": key,
        "run_name": tags["mlflow.runName"],
        "source": "mlflow",
        "params": params,
        "metrics": {
            "val_auc": auc,
            "val_f1": auc - 0.2 + rng.gauss(0, 0.01),
            "val_logloss": 1.1 - auc + rng.gauss(0, 0.01),
            "train_seconds": duration,
            "inference_ms": rng.uniform(2, 40),
        },
        "tags": tags,
        "status": "FINISHED",
        "start_time": start,
        "end_time": start + timedelta(seconds=duration),
        "duration_s": duration,
        "git_commit": None if gap else f"{rng.getrandbits(40):010x}",
        "source_name": "train.py",
        "owner": rng.choice(("dana", "li", "sam")),
        "data_version": "churn-v4",
        "seed": params["seed"],
        "environment": {} if gap else {"python": "3.11.9", "packages": {params["model"]: "2.0.3"}},
        "hardware": "1x A10G",
        "split": "time split, last 8 weeks held out",
        "baseline": i == 0,
    }


def populate(engine: Engine, count: int) -> int:
    for session in session_scope(engine):
        project = Project(slug="bench", name="bench", primary_metric="val_auc", metric_direction="max")
        session.add(project)
        session.flush()
        project_id = int(project.id or 0)
        save_runs(session, make_rows(count, project_id, random.Random(20261201)))
    return project_id


def random_search(count: int, rng: random.Random) -> AnalysisInput:
    """`count` runs of one model, each with 15 continuous parameters no other run shares."""
    runs = tuple(
        RunView(
            key=f"r{i}",
            params={"model": "lightgbm", **{f"p{j}": f"{rng.random():.6f}" for j in range(15)}},
            metrics={"val_auc": rng.random()},
            when=START + timedelta(minutes=i),
        )
        for i in range(count)
    )
    return AnalysisInput(runs=runs, primary_metric="val_auc")


def _paused(inp: AnalysisInput) -> object:
    with collection_paused():
        return analyze(inp)


def peak_of(fn: Callable[[], object]) -> int:
    """The tracemalloc peak of one call, in bytes."""
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def timed(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def next_experiments(engine: Engine, project_id: int, *, cold: bool = True) -> None:
    """What `POST .../next-experiments` does in the service, rolled back so every repeat starts from the same state;
    `cold` empties the analysis cache first."""
    if cold:
        analysis_service.clear_cache()
    for session in session_scope(engine):
        project = session.get(Project, project_id)
        assert project is not None
        create_next_experiments(session, project=project, body=NextExperimentsCreate(), public_url="")
        session.rollback()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--random-search", action="store_true", help="also measure the random-search worst case")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'labbook.db'}")
        migrate(engine)
        project_id = populate(engine, args.runs)

        def load() -> Any:
            for session in session_scope(engine):
                project = session.get(Project, project_id)
                assert project is not None
                return load_input(session, project=project)
            raise AssertionError("no session")

        def request(cold: bool) -> Any:
            if cold:
                analysis_service.clear_cache()
            for session in session_scope(engine):
                project = session.get(Project, project_id)
                assert project is not None
                return project_analysis(session, project=project)
            raise AssertionError("no session")

        inp = load()
        plain = timed(load, args.repeat)
        full = timed(lambda: analyze(load()), args.repeat)
        alone = timed(lambda: analyze(inp), args.repeat)
        findings = analyze(inp)
        peak = peak_of(lambda: analyze(inp))
        paused = timed(lambda: _paused(inp), args.repeat)
        del findings
        cold = timed(lambda: request(True), args.repeat)
        cold_peak = peak_of(lambda: request(True))
        warm = timed(lambda: request(False), args.repeat)
        findings = request(False).findings
        document = timed(lambda: next_experiments(engine, project_id), max(1, args.repeat // 2))
        cached_document = timed(lambda: next_experiments(engine, project_id, cold=False), max(1, args.repeat // 2))
        engine.dispose()
    verdict = "meets" if alone < TARGET_S else "MISSES"
    cold_verdict = "meets" if cold < COLD_TARGET_S and cold_peak / 1e6 < COLD_TARGET_MB else "MISSES"
    print(f"runs: {len(inp.runs)}  approaches: {len(findings.approaches)}  findings: {len(findings.findings)}")
    print(f"baseline (load_input: query + RunViews): {plain:.3f} s")
    print(f"load_input + analyze:                    {full:.3f} s  ratio {full / plain:.2f}x")
    print(f"analyze alone:                           {alone:.3f} s  {verdict} the < {TARGET_S:.0f} s target")
    print(f"analyze memory peak (tracemalloc):       {peak / 1e6:.1f} MB")
    print(f"analyze alone, collector paused:         {paused:.3f} s")
    print(
        f"a request, empty cache (load + analyze): {cold:.3f} s  ratio {cold / plain:.2f}x  "
        f"peak {cold_peak / 1e6:.1f} MB  {cold_verdict} the < {COLD_TARGET_S:.0f} s, < {COLD_TARGET_MB:.0f} MB target"
    )
    print(f"a request, project unchanged (cached):   {warm * 1000:.2f} ms")
    print(f"a next-experiments document, end to end: {document:.3f} s  (load, analyze, compose, grounding check)")
    print(f"  the same with the analysis cached:     {cached_document:.3f} s")
    if args.random_search:
        worst = random_search(args.runs, random.Random(0))
        searched = timed(lambda: analyze(worst), args.repeat)
        verdict = "meets" if searched < TARGET_S else "MISSES"
        print(f"random search, {args.runs} runs x 15 continuous parameters:")
        print(f"  analyze alone:                         {searched:.3f} s  {verdict} the < {TARGET_S:.0f} s target")
        print(f"  analyze memory peak (tracemalloc):     {peak_of(lambda: analyze(worst)) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
