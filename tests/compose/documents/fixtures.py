"""A small hand-built project for the document tests: a declared baseline, a converging LightGBM line, a plateaued
XGBoost line with a duplicate, and an abandoned logistic regression. The findings are written by hand from
`app.analysis.model` types, so these tests do not depend on the analysis code."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from app.analysis.model import (
    AnalysisSettings,
    Approach,
    ApproachMark,
    Duplicate,
    Finding,
    Findings,
    MetricSwitch,
    Noise,
    ParamChange,
    ReproGap,
    RunChange,
    RunView,
)
from app.analysis.options import next_options
from app.compose.documents import DocContext, EntryDigest

TODAY = date(2024, 5, 20)


def run(key: str, day: int, auc: float, duration: float, **params: str) -> RunView:
    latency = {"r-lr3": 40.0, "r-xgb2": 12.0}.get(key)
    metrics = {"val_auc": auc} | ({"latency_ms": latency} if latency is not None else {})
    return RunView(
        key=key,
        name=key.removeprefix("r-"),
        params=params,
        metrics=metrics,
        session=date(2024, 5, day),
        duration_s=duration,
        seed="42" if key == "r-lr2" else None,
        git_commit="abc1234" if key == "r-lr3" else None,
    )


RUNS = {
    r.key: r
    for r in (
        run("r-base", 1, 0.80, 60, model="logreg", C="1.0"),
        run("r-lr1", 2, 0.85, 600, model="lgbm", lr="0.05", num_leaves="31"),
        run("r-xgb1", 2, 0.84, 900, model="xgb", eta="0.1", max_depth="6"),
        run("r-lr2", 3, 0.86, 620, model="lgbm", lr="0.1", num_leaves="31"),
        run("r-xgb2", 3, 0.841, 950, model="xgb", eta="0.1", max_depth="8"),
        run("r-lr3", 4, 0.87, 640, model="lgbm", lr="0.1", num_leaves="63"),
        run("r-dup", 5, 0.8405, 930, model="xgb", eta="0.1", max_depth="8"),
    )
}

LOG_1 = EntryDigest(
    id=1,
    kind="log_entry",
    created=date(2024, 5, 3),
    session_date=date(2024, 5, 3),
    tldr="More leaves helped LightGBM; deeper XGBoost trees did not.",
    run_ids=("r-lr3", "r-xgb2"),
    body={
        "conclusions": [{"text": "num_leaves 63 helped lgbm", "run_ids": ["r-lr3"], "line": 1}],
        "did_not_work": [{"text": "deeper xgb trees did not help", "run_ids": ["r-xgb2"], "line": 2}],
        "open_questions": [{"text": "is lr 0.2 too high?", "run_ids": [], "line": 3}],
    },
)
LOG_2 = EntryDigest(
    id=2,
    kind="log_entry",
    created=date(2024, 5, 10),
    session_date=None,
    tldr="Worried about drift.",
    body={"open_questions": [{"text": "does the March data drift?", "run_ids": [], "line": 1}]},
)
DECISION = EntryDigest(
    id=3,
    kind="selection_decision",
    created=date(2024, 5, 12),
    session_date=None,
    tldr="Picked LightGBM.",
    run_ids=("r-lr3",),
    body={"title": "Pick the LightGBM model", "selected": "r-lr3", "rationale": "best AUC, latency is fine"},
)


def context(**overrides: object) -> DocContext:
    values: dict[str, object] = {
        "project_slug": "churn",
        "project_name": "Churn 2024",
        "goal": "Predict 30-day churn",
        "primary_metric": "val_auc",
        "direction": "max",
        "target_value": None,
        "deadline": None,
        "today": TODAY,
        "public_url": "",
        "runs": RUNS,
        "entries": (LOG_1, LOG_2, DECISION),
    }
    return DocContext(**(values | overrides))  # type: ignore[arg-type]


def planned(ctx: DocContext, facts: Findings) -> DocContext:
    """The context with the analysis's options for a next run, as the service builds it for documents that plan."""
    return replace(ctx, options=next_options(ctx.runs, facts, AnalysisSettings()))


LGBM = Approach(
    name="lgbm",
    source="tag",
    run_ids=("r-lr1", "r-lr2", "r-lr3"),
    status="converging",
    computed_status="converging",
    reason="beats the baseline by 0.07; best-so-far rose 0.02 over its last 3 runs",
    best="r-lr3",
    best_value=0.87,
    gain_vs_baseline=0.07,
    recent_gain=0.02,
    best_so_far=(("r-lr1", 0.85), ("r-lr2", 0.86), ("r-lr3", 0.87)),
    family="lgbm",
    changed_keys=("lr", "num_leaves"),
)
XGB = Approach(
    name="xgb",
    source="tag",
    run_ids=("r-xgb1", "r-xgb2", "r-dup"),
    status="plateaued",
    computed_status="plateaued",
    reason="best-so-far rose 0.001 over its last 3 runs, below the noise 0.005",
    best="r-xgb2",
    best_value=0.841,
    gain_vs_baseline=0.041,
    recent_gain=0.001,
    best_so_far=(("r-xgb1", 0.84), ("r-xgb2", 0.841), ("r-dup", 0.841)),
    family="xgb",
)
LOGREG = Approach(
    name="logreg",
    source="inferred",
    run_ids=("r-base",),
    status="abandoned",
    computed_status="active",
    reason="too simple for this data",
    best="r-base",
    best_value=0.80,
    mark=ApproachMark(status="abandoned", reason="too simple for this data", by="ana"),
)


def findings(**overrides: object) -> Findings:
    values: dict[str, object] = {
        "metric": "val_auc",
        "direction": "max",
        "metric_switches": (),
        "baseline": "r-base",
        "baseline_value": 0.80,
        "best": "r-lr3",
        "best_value": 0.87,
        "noise": Noise(source="min_effect", std=None, min_gain=0.005),
        "changes": {
            "r-lr2": RunChange("r-lr2", closest="r-lr1", vs_closest=(ParamChange("lr", "0.05", "0.1"),)),
            "r-lr3": RunChange("r-lr3", closest="r-lr2", vs_closest=(ParamChange("num_leaves", "31", "63"),)),
        },
        "approaches": (LGBM, XGB, LOGREG),
        "duplicates": (Duplicate("r-dup", "r-xgb2", 930.0),),
        "repro_gaps": (ReproGap("r-lr3", ("data_version", "seed")),),
        "stalled": False,
        "findings": (
            Finding(
                "noise_unknown",
                "No seed repeats: the noise threshold is the minimum effect 0.005.",
                numbers={"min_gain": 0.005},
                severity="warning",
            ),
            Finding(
                "within_noise",
                "r-xgb2 beat r-xgb1 by 0.001, within the noise 0.005.",
                run_ids=("r-xgb2", "r-xgb1"),
                numbers={"gain": 0.001, "threshold": 0.005},
                subject="r-xgb2",
            ),
        ),
        "run_order": tuple(RUNS),
    }
    return Findings(**(values | overrides))  # type: ignore[arg-type]


SWITCH = MetricSwitch(
    metric="val_auc",
    direction="max",
    effective=date(2024, 5, 2),
    reason="accuracy hides the 7% minority class",
    previous_metric="val_acc",
    previous_direction="max",
    entry_id=9,
)
