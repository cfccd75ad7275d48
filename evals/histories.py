"""Labelled experimental histories, generated in code with known truth, for the findings evals.

Each history is an `AnalysisInput` (runs with model-family, numeric and categorical parameters, seeds, start times over
several sessions, durations and reproducibility fields) plus the `Truth` the generator meant to put in it. The truth
is the generator's intent; every run's value is placed with margins well away from any threshold, and each attempt is
checked against the brute-force reference in `evals.reference` (retried on a fresh sub-seed if a margin is
violated), so the truth does not hinge on one reading of a definition:

- values are "goodness" in units of the noise threshold `thr` (the pooled seed std where repeats exist, else the
  history's `min_effect`); a gain counts as none when it is at most LOW x thr, as real when at least HIGH x thr, and
  nothing is ever placed in between (any threshold read between 0.45 x std and 2.5 x std gives the same labels);
- seed repeat groups have a sample std of exactly `thr`, and every duplicate sits sqrt(2) x thr below its original, so
  the pooled seed std is `thr` whether or not an analyzer pools duplicate pairs with the seed groups;
- approach status trajectories: exhausted never beats the baseline (every run <= baseline - 0.3 thr); plateaued beats
  it by >= HIGH and its best-so-far does not rise over its last 4 runs (except within-noise runs, < LOW in all);
  converging beats it and its last run raises the best-so-far by >= HIGH; active has 2 runs;
- stalled histories: no run in the last 4 sessions beats the best before them by more than LOW; the others end with a
  breakthrough (>= HIGH over the best so far) in the last session.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from app.analysis.model import (
    REPRO_FIELDS,
    AnalysisInput,
    AnalysisSettings,
    ApproachMark,
    ApproachStatus,
    Direction,
    MarkStatus,
    MetricSwitch,
    RunView,
)
from evals import reference as ref

LOW = ref.LOW
HIGH = ref.HIGH
STALL_WINDOW = 4  # sessions kept free of real gains in a stalled history (settings.stall_sessions is 3)
SQRT2 = 2**0.5

FAMILIES: dict[str, dict[str, tuple[str, ...]]] = {
    "logreg": {
        "C": ("0.01", "0.1", "1.0", "10.0"),
        "penalty": ("l1", "l2"),
        "class_weight": ("none", "balanced"),
        "max_iter": ("100", "200", "500", "1000"),
    },
    "lightgbm": {
        "num_leaves": ("15", "31", "63", "127"),
        "learning_rate": ("0.01", "0.03", "0.05", "0.1"),
        "min_child_samples": ("10", "20", "50"),
        "feature_fraction": ("0.6", "0.8", "1.0"),
    },
    "xgboost": {
        "max_depth": ("3", "4", "6", "8"),
        "eta": ("0.01", "0.05", "0.1", "0.3"),
        "subsample": ("0.6", "0.8", "1.0"),
        "colsample_bytree": ("0.5", "0.7", "1.0"),
    },
    "random_forest": {
        "n_estimators": ("100", "200", "500", "1000"),
        "max_depth": ("8", "16", "32", "none"),
        "max_features": ("sqrt", "log2", "0.5"),
        "min_samples_leaf": ("1", "2", "5", "10"),
    },
    "mlp": {
        "hidden_units": ("64", "128", "256", "512"),
        "dropout": ("0.0", "0.1", "0.3"),
        "lr": ("0.001", "0.0003", "0.0001"),
        "epochs": ("10", "20", "40"),
    },
    "svm": {
        "C": ("0.1", "1.0", "10.0", "100.0"),
        "kernel": ("rbf", "linear", "poly"),
        "gamma": ("scale", "auto"),
        "tol": ("0.0001", "0.001", "0.01"),
    },
    "catboost": {
        "depth": ("4", "6", "8", "10"),
        "l2_leaf_reg": ("1", "3", "10"),
        "learning_rate": ("0.02", "0.05", "0.1"),
    },
}
APPROACH_NAMES = {
    "logreg": "baseline",
    "lightgbm": "gbdt-tuning",
    "xgboost": "xgb-trees",
    "random_forest": "forest",
    "mlp": "neural-net",
    "svm": "kernel-svm",
    "catboost": "catboost-cats",
}
METRICS_MAX = ("val_auc", "val_f1", "val_accuracy")
METRICS_MIN = ("val_logloss", "val_rmse")
OWNERS = ("dana", "li", "sam", "priya")

Role = Literal[
    "baseline", "repeat", "free", "improve", "final_improve", "breakthrough", "worse", "noise", "dup", "capped"
]
MANDATORY: frozenset[str] = frozenset({"improve", "final_improve", "breakthrough"})


@dataclass(frozen=True)
class ApproachTruth:
    name: str  # the tag value (tagged histories) or the generator's own name (inferred)
    family: str
    runs: tuple[str, ...]
    status: ApproachStatus  # the designed (computed) status
    mark: MarkStatus | None
    scored: bool  # False for the baseline's own approach, and everywhere in histories without a baseline


@dataclass(frozen=True)
class Truth:
    baseline: str | None
    duplicates: dict[str, str]  # run key -> the earliest run with the same normalised config
    duplicate_compute_s: float
    multi_change: frozenset[str]
    change_counts: dict[str, int]  # run key -> params changed vs its closest earlier config (first run absent)
    repro_gaps: frozenset[tuple[str, str]]  # (run key, REPRO_FIELDS name)
    within_noise: frozenset[str]
    stalled: bool
    best: str
    best_on_previous_metric: str | None  # metric-switch histories: the best run on the metric before the switch
    approaches: tuple[ApproachTruth, ...]
    noise_source: Literal["seed_repeats", "min_effect"]
    threshold: float


@dataclass(frozen=True)
class History:
    name: str
    inp: AnalysisInput
    truth: Truth
    traits: tuple[str, ...]  # what the history was built to contain, for the verbose report


@dataclass
class _Plan:
    name: str
    family: str
    status: ApproachStatus | None  # None for the baseline's approach
    roles: list[Role]
    runs: list[str] = field(default_factory=list)
    best: float | None = None


@dataclass
class _Run:
    key: str
    approach: str
    family: str
    params: dict[str, str]
    g: float  # goodness on the metric in force, higher is better
    session: int
    role: Role


def generate(seed: int = 0, count: int = 40) -> list[History]:
    """`count` histories, deterministic for a seed."""
    return [_one(seed, index) for index in range(count)]


def _one(seed: int, index: int) -> History:
    for attempt in range(400):
        rng = random.Random(f"labbook-findings:{seed}:{index}:{attempt}")
        history = _Builder(rng, f"h{seed}-{index:03d}").build()
        if history is not None:
            return history
    raise RuntimeError(f"history {seed}/{index}: no attempt kept its margins")


class _Builder:
    def __init__(self, rng: random.Random, name: str) -> None:
        self.rng, self.name = rng, name
        self.has_baseline = rng.random() < 0.8
        self.repeats = rng.random() < 0.7
        self.stall = rng.random() < 0.35
        self.switch = rng.random() < 0.35
        self.tagged = rng.random() < 0.5
        self.partly_tagged = self.tagged and rng.random() < 0.5
        self.gaps = rng.random() < 0.6
        self.thr = round(rng.uniform(0.003, 0.008), 4)
        self.base = rng.uniform(0.70, 0.84)
        self.features = rng.choice(("v2", "v3", "v3+lags"))
        self.runs: list[_Run] = []
        self.plans: dict[str, _Plan] = {}
        self.window_best: float | None = None

    # -- schedule ------------------------------------------------------------------------------------------------

    def _plans(self) -> list[_Plan]:
        rng = self.rng
        statuses: list[ApproachStatus] = [s for s in ("plateaued", "exhausted", "converging") if rng.random() < 0.75]
        while len(statuses) < 2:
            statuses = list(dict.fromkeys([*statuses, rng.choice(("plateaued", "exhausted", "converging"))]))
        if "plateaued" in statuses:  # plateaued first: it sets the high-water mark early
            statuses.remove("plateaued")
            statuses.insert(0, "plateaued")
        rest = statuses[1:]
        rng.shuffle(rest)
        statuses = statuses[:1] + rest
        if not self.stall or rng.random() < 0.5:
            statuses.append("active")
        families = rng.sample([f for f in FAMILIES if f != "logreg"], len(statuses))
        return [
            _Plan(APPROACH_NAMES[f], f, s, _roles(rng, s, self.stall)) for f, s in zip(families, statuses, strict=True)
        ]

    def _slots(self, plans: list[_Plan]) -> list[tuple[str | None, Role]]:
        rng = self.rng
        slots: list[tuple[str | None, Role]] = [("baseline", "baseline")]
        if self.repeats:
            slots += [("baseline", "repeat"), ("baseline", "repeat")]
        queue = [p for p in plans if not (p.status == "active" and not self.stall)]
        pending = {p.name: list(p.roles) for p in queue}
        while queue:
            plan = rng.choice(queue[:2])
            slots.append((plan.name, pending[plan.name].pop(0)))
            if not pending[plan.name]:
                queue.remove(plan)
        extras: list[tuple[str | None, Role]] = [(None, "noise")] * rng.choice((0, 1, 1, 2))
        extras += [(None, "dup")] * rng.choice((1, 1, 2, 3))
        first = len(slots) // 4 + 3
        for extra in extras:
            slots.insert(rng.randrange(first, len(slots) + 1), extra)
        slots += [(p.name, role) for p in plans if p.status == "active" and not self.stall for role in p.roles]
        return slots

    def _sessions(self, n: int, start: int) -> list[int]:
        count = self.rng.randint(7, 9)
        cuts = sorted(self.rng.sample(range(start + 1, n), count - 1))
        return [sum(1 for c in cuts if c <= i) for i in range(n)]

    # -- values --------------------------------------------------------------------------------------------------

    def build(self) -> History | None:
        plans = self._plans()
        baseline_plan = _Plan("baseline", "logreg", None, [])
        self.plans = {p.name: p for p in [baseline_plan, *plans]}
        slots = self._slots(plans)
        sessions = self._sessions(len(slots), 3 if self.repeats else 1)
        self.n_sessions = sessions[-1] + 1
        for (approach, role), session in zip(slots, sessions, strict=True):
            if not self._add(approach, role, session):
                return None
        return _finish(self)

    def _add(self, approach: str | None, role: Role, session: int) -> bool:
        in_window = self.stall and session >= self.n_sessions - STALL_WINDOW
        if in_window and self.window_best is None:
            self.window_best = self._global_best()
        if role == "baseline":
            params = self._fresh("logreg")
            self._put("baseline", params, self.base, session, role)
            return True
        if role == "repeat":
            first = self.runs[0]
            step = len(self.runs)  # the group is {b, b - thr, b - 2 thr}: sample std exactly thr
            return self._put(
                "baseline", {**first.params, "seed": self._seed()}, first.g - step * self.thr, session, role
            )
        if role == "noise":
            return self._noise(session)
        if role == "dup":
            return self._dup(session)
        assert approach is not None
        return self._planned(self.plans[approach], role, session, in_window)

    def _planned(self, plan: _Plan, role: Role, session: int, in_window: bool) -> bool:
        for _ in range(12):
            params = self._mutate(plan) if plan.runs else self._fresh(plan.family)
            if params is None:
                continue
            value = self._value(plan, role, params, in_window)
            if value is not None:
                self._put(plan.name, params, value, session, role)
                return True
        return False

    def _value(self, plan: _Plan, role: Role, params: dict[str, str], in_window: bool) -> float | None:
        rng, thr = self.rng, self.thr
        near = [self.runs[i].g for i in ref.closest_indices(params, [r.params for r in self.runs])]
        gb = self._global_best()
        cap = float("inf")
        if plan.status == "exhausted":
            cap = self.base - 0.3 * thr
        if in_window:
            cap = min(cap, (self.window_best or gb) - 0.3 * thr)
        if role == "capped":
            cap = min(cap, gb - 0.3 * thr)
        wants_gain = role in MANDATORY or (role in ("free", "capped") and rng.random() < 0.35)
        if wants_gain:
            floor = max([*near, plan.best if plan.best is not None else -1.0]) + HIGH * thr
            target = floor + rng.uniform(0.5, 1.5) * thr
            if gb - 0.05 * thr < target < gb + HIGH * thr:
                target = gb + rng.uniform(HIGH + 0.5, HIGH + 1.5) * thr
            if role == "breakthrough":
                target = max(target, gb + rng.uniform(HIGH + 0.5, HIGH + 1.5) * thr)
            if target <= cap:
                return target
            if role in MANDATORY:
                return None
        low = min([*near, plan.best if plan.best is not None else 9.0, cap + 0.2 * thr])
        return low - rng.uniform(0.2, 2.0) * thr

    def _noise(self, session: int) -> bool:
        best = max(self.runs, key=lambda r: r.g)
        plan = self.plans[best.approach]
        if plan.status == "active":
            return True  # a third run would take the approach out of "too few runs"
        for _ in range(12):
            params = self._mutate(plan, source=best, changes=1)
            if params is None:
                continue
            near = [self.runs[i].g for i in ref.closest_indices(params, [r.params for r in self.runs])]
            value = best.g + self.rng.uniform(0.15, 0.35) * self.thr
            if all(0.1 * self.thr < value - g <= LOW * self.thr for g in near):
                return self._put(plan.name, params, value, session, "noise")
        return True

    def _dup(self, session: int) -> bool:
        pool = [r for r in self.runs if r.role not in ("baseline", "repeat", "dup")]
        pool = [r for r in pool if self.plans[r.approach].status != "active"]
        if not pool:
            return True
        original = self.rng.choice(pool)
        return self._put(original.approach, dict(original.params), original.g - SQRT2 * self.thr, session, "dup")

    # -- helpers -------------------------------------------------------------------------------------------------

    def _put(self, approach: str, params: dict[str, str], g: float, session: int, role: Role) -> bool:
        key = f"{self.rng.getrandbits(128):032x}"
        self.runs.append(_Run(key, approach, self.plans[approach].family, params, g, session, role))
        plan = self.plans[approach]
        plan.runs.append(key)
        plan.best = g if plan.best is None else max(plan.best, g)
        return True

    def _global_best(self) -> float:
        return max(r.g for r in self.runs)

    def _seed(self) -> str:
        return str(self.rng.randint(0, 99_999))

    def _fresh(self, family: str) -> dict[str, str]:
        grid = FAMILIES[family]
        params = {"model": family, "features": self.features}
        params.update({k: self.rng.choice(values) for k, values in grid.items()})
        return {**params, "seed": self._seed()}

    def _mutate(self, plan: _Plan, *, source: _Run | None = None, changes: int | None = None) -> dict[str, str] | None:
        """An earlier config of the approach with 1 key changed (mostly) or 2-3; None if it already exists."""
        rng = self.rng
        if source is None:
            mine = [r for r in self.runs if r.approach == plan.name and r.role != "dup"]
            source = max(mine, key=lambda r: r.g) if rng.random() < 0.5 else rng.choice(mine)
        grid = FAMILIES[source.family]  # categorical keys too: a sweep inside the approach, tagged or not
        if changes is None:
            changes = 1 if rng.random() < 0.8 else rng.choice((2, 3))
        params = dict(source.params)
        for key in rng.sample(sorted(grid), min(changes, len(grid))):
            params[key] = rng.choice([v for v in grid[key] if v != params[key]])
        params["seed"] = self._seed()
        existing = [r.params for r in self.runs]
        if any(ref.distance(params, other) == 0 for other in existing):
            return None
        return params


def _roles(rng: random.Random, status: ApproachStatus, stall: bool) -> list[Role]:
    free: list[Role] = ["free"]
    if status == "exhausted":
        return free * rng.randint(5, 7)
    if status == "plateaued":
        worse: list[Role] = ["worse"]
        return ["improve", "improve", *free * rng.randint(0, 3), *worse * 4]
    if status == "converging":
        return free * rng.randint(3, 5) + ["final_improve"]
    return ["capped", "capped"] if stall else ["free", "breakthrough"]


# --- assembly: margins checked, then runs, input and truth ----------------------------------------------------------


def _finish(b: _Builder) -> History | None:
    if not _margins_hold(b):
        return None
    rng = b.rng
    metric, direction, old = _metrics(rng, b.switch)
    old_values = _old_metric(b) if old is not None else None
    if old_values is not None and old_values[1] == _best_key(b):
        return None
    dates = _dates(rng, b.n_sessions)
    gaps = _gaps(b) if b.gaps else {}
    approach_tag = rng.choice(("approach", "labbook.approach"))
    how = rng.choice(("api", "tag", "labbook_tag")) if b.has_baseline else None
    views = [
        _view(b, i, run, metric, direction, old, old_values, dates, gaps.get(run.key, ()), approach_tag, how)
        for i, run in enumerate(b.runs)
    ]
    switches: tuple[MetricSwitch, ...] = ()
    if old is not None:
        effective = dates[b.n_sessions // 2]
        reason = "the clinic ships a yes/no flag, so the decision metric is what matters"
        switches = (
            MetricSwitch(metric, direction, effective, reason, previous_metric=old[0], previous_direction=old[1]),
        )
    marks = _marks(b) if b.tagged and b.has_baseline else {}
    settings = AnalysisSettings(min_effect=b.thr if not b.repeats else 0.02)
    ordered = list(reversed(views)) if rng.random() < 0.3 else views  # storage order need not be history order
    inp = AnalysisInput(
        runs=tuple(ordered),
        primary_metric=old[0] if old is not None else metric,
        direction=old[1] if old is not None else direction,
        metric_switches=switches,
        declared_baselines=frozenset({b.runs[0].key}) if how == "api" else frozenset(),
        approach_marks={name: ApproachMark(status, f"{status} after review") for name, status in marks.items()},
        settings=settings,
    )
    return History(b.name, inp, _truth(b, gaps, marks, old_values), _traits(b, gaps, ordered is not views))


def _margins_hold(b: _Builder) -> bool:
    thr, runs = b.thr, b.runs
    params = [r.params for r in runs]
    for i, run in enumerate(runs[1:], start=1):
        near = [runs[j].g for j in ref.closest_indices(run.params, params[:i])]
        mine = [r.g for r in runs[:i] if r.approach == run.approach]
        against = [*near, max(r.g for r in runs[:i]), *([max(mine)] if mine else [])]
        gains = [run.g - g for g in against]
        if run.role == "noise":
            if not all(0.1 * thr < gain <= LOW * thr for gain in gains):
                return False
        elif any(-0.05 * thr < gain < HIGH * thr for gain in gains):
            return False
    for plan in b.plans.values():
        values = [r.g for r in runs if r.approach == plan.name]
        if plan.status is not None and ref.status_of(values, b.base, thr) != plan.status:
            return False
    stalled = ref.stalled_of([r.g for r in runs], [r.session for r in runs], thr, STALL_WINDOW)
    return stalled is b.stall


def _best_key(b: _Builder) -> str:
    return max(b.runs, key=lambda r: r.g).key


def _metrics(rng: random.Random, switch: bool) -> tuple[str, Direction, tuple[str, Direction] | None]:
    def pick(exclude: str | None = None) -> tuple[str, Direction]:
        direction: Direction = "max" if rng.random() < 0.7 else "min"
        names = [m for m in (METRICS_MAX if direction == "max" else METRICS_MIN) if m != exclude]
        return rng.choice(names), direction

    metric, direction = pick()
    return metric, direction, pick(metric) if switch else None


def _old_metric(b: _Builder) -> tuple[dict[str, float], str]:
    """Goodness on the metric before the switch: close to the new one, except one run that was best on it."""
    values = {r.key: r.g + b.rng.uniform(-0.3, 0.3) * b.thr for r in b.runs}
    best_new = _best_key(b)
    candidates = [r for r in b.runs if r.key != best_new and r.role not in ("baseline", "repeat", "dup")]
    chosen = b.rng.choice(candidates)
    values[chosen.key] = max(values.values()) + 5 * b.thr
    return values, chosen.key


def _value_of(g: float, direction: Direction) -> float:
    return g if direction == "max" else 1.2 - g


def _dates(rng: random.Random, count: int) -> list[date]:
    day = date(2026, 9, 1) + timedelta(days=rng.randint(0, 60))
    out = []
    for _ in range(count):
        out.append(day)
        day += timedelta(days=rng.choice((1, 1, 2, 3, 6)))
    return out


# Families whose runs, as generated, are deterministic (docs/definitions.md, "Reproduction gap"): logistic regression
# with the default lbfgs solver and SVC without probability estimates. A missing seed is no gap for them.
DETERMINISTIC = frozenset({"logreg", "svm"})


def _gaps(b: _Builder) -> dict[str, tuple[str, ...]]:
    """Inherited runs from the first two sessions with blanked reproducibility fields (seed only on a stochastic
    family and where no other run shares the config, so blanking it cannot change a seed group). Only some runs are
    blanked, so no field is missing on every run (a project-level gap, not scored here)."""
    params = [r.params for r in b.runs]
    early = [(i, r) for i, r in enumerate(b.runs) if r.session <= 1]
    chosen = b.rng.sample(early, min(len(early), b.rng.randint(3, 6)))
    gaps = {}
    for i, run in chosen:
        alone = all(ref.distance(run.params, p) > 0 for j, p in enumerate(params) if j != i)
        seeded = alone and run.family not in DETERMINISTIC
        fields = [f for f in REPRO_FIELDS if seeded or f != "seed"]
        gaps[run.key] = tuple(sorted(b.rng.sample(fields, b.rng.randint(1, 4)), key=REPRO_FIELDS.index))
    return gaps


def _view(
    b: _Builder,
    index: int,
    run: _Run,
    metric: str,
    direction: Direction,
    old: tuple[str, Direction] | None,
    old_values: tuple[dict[str, float], str] | None,
    dates: list[date],
    missing: tuple[str, ...],
    approach_tag: str,
    how: str | None,
) -> RunView:
    rng = b.rng
    metrics = {metric: _value_of(run.g, direction), "inference_ms": round(rng.uniform(2, 40), 2)}
    if old is not None and old_values is not None:
        metrics[old[0]] = _value_of(old_values[0][run.key], old[1])
    tags = {"mlflow.runName": f"{run.family}-{index:02d}"}
    if b.tagged and not _untagged(b, run):
        tags[approach_tag] = run.approach
    if index == 0 and how in ("tag", "labbook_tag"):
        tags["baseline" if how == "tag" else "labbook.baseline"] = "true"
    params = {k: v for k, v in run.params.items() if not ("seed" in missing and k == "seed")}
    day = dates[run.session]
    when = datetime.combine(day, time(9, 0), tzinfo=UTC) + timedelta(minutes=20 * index + rng.randint(0, 9))
    fields = {
        "git_commit": f"{rng.getrandbits(40):010x}",
        "data_version": f"churn-{b.features}",
        "seed": run.params.get("seed"),
        "environment": {"python": "3.11.9", "packages": {run.family: "1.4.2", "numpy": "1.26.4"}},
        "hardware": rng.choice(("cpu-16", "1x A10G")),
        "source_name": "train.py",
        "split": "time split, last 8 weeks held out",
        "owner": rng.choice(OWNERS),
    }
    for name in missing:
        fields[name] = {} if name == "environment" else None
    return RunView(
        key=run.key,
        run_id=run.key,
        name=tags["mlflow.runName"],
        params=params,
        metrics=metrics,
        tags=tags,
        when=when,
        session=day,
        status="FINISHED",
        duration_s=_duration(b, run),
        source="mlflow",
        **fields,  # type: ignore[arg-type]
    )


def _untagged(b: _Builder, run: _Run) -> bool:
    """In a partly tagged history, about a third of the runs carry no approach tag: each still belongs to its tagged
    line (it is of that line's family, and a line is one family). Drawn from the run's key, not `b.rng`, so the rest
    of the history does not depend on it."""
    return b.partly_tagged and random.Random(f"{b.name}:{run.key}:untagged").random() < 0.35


def _duration(b: _Builder, run: _Run) -> float:
    return float(random.Random(f"{run.key}:{run.params.get('model')}").randint(60, 3600))


def _marks(b: _Builder) -> dict[str, MarkStatus]:
    if b.rng.random() >= 0.3:
        return {}
    plans = [p for p in b.plans.values() if p.status in ("exhausted", "plateaued", "converging")]
    plan = b.rng.choice(plans)
    return {plan.name: "adopted" if plan.status == "converging" else "abandoned"}


def _truth(
    b: _Builder,
    gaps: dict[str, tuple[str, ...]],
    marks: dict[str, MarkStatus],
    old: tuple[dict[str, float], str] | None,
) -> Truth:
    runs = b.runs
    params = [r.params for r in runs]
    dups = {runs[i].key: runs[j].key for i, j in ref.duplicates_of(params).items()}
    counts = {runs[i].key: n for i, n in enumerate(ref.change_counts(params)) if n is not None}
    switched = dict(zip((r.key for r in runs), ref.family_switches(params), strict=True))
    approaches = tuple(
        ApproachTruth(
            plan.name,
            plan.family,
            tuple(plan.runs),
            plan.status or "active",
            marks.get(plan.name),
            scored=b.has_baseline and plan.status is not None,
        )
        for plan in b.plans.values()
    )
    return Truth(
        baseline=runs[0].key if b.has_baseline else None,
        duplicates=dups,
        duplicate_compute_s=sum(_duration(b, r) for r in runs if r.key in dups),
        multi_change=frozenset(k for k, n in counts.items() if n > 1 and not switched[k]),
        change_counts=counts,
        repro_gaps=frozenset((key, name) for key, names in gaps.items() for name in names),
        within_noise=frozenset(r.key for r in runs if r.role == "noise"),
        stalled=b.stall,
        best=_best_key(b),
        best_on_previous_metric=old[1] if old is not None else None,
        approaches=approaches,
        noise_source="seed_repeats" if b.repeats else "min_effect",
        threshold=b.thr,
    )


def _traits(b: _Builder, gaps: dict[str, tuple[str, ...]], reversed_order: bool) -> tuple[str, ...]:
    traits = [
        "baseline" if b.has_baseline else "no-baseline",
        "seed-repeats" if b.repeats else "min-effect",
        "tagged" if b.tagged else "inferred",
    ]
    traits += ["partly-tagged"] if b.partly_tagged else []
    traits += [name for name, on in (("stall", b.stall), ("switch", b.switch), ("gaps", bool(gaps))) if on]
    traits += ["reversed-order"] if reversed_order else []
    return tuple(traits + sorted({p.status for p in b.plans.values() if p.status}))
