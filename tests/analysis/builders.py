"""Builders for hand-made histories and a seeded synthetic one (10,000 runs) for the analysis tests."""

from __future__ import annotations

import random
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from app.analysis.model import Finding, RunView
from app.parsing.fmt import fmt, fmt_noise

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
FULL_REPRO: dict[str, Any] = {
    "git_commit": "a1b2c3d",
    "data_version": "v1",
    "seed": "0",
    "environment": {"python": "3.11.9", "packages": {"scikit-learn": "1.5.0"}},
    "hardware": "cpu",
    "source_name": "train.py",
    "split": "80/20 stratified",
    "owner": "ana",
}


def run(
    key: str, i: int, value: float | None = None, metric: str = "auc", day: int | None = None, **kw: Any
) -> RunView:
    """Run `key`, the `i`-th in time (one minute apart; session day `day`, default the first), with the metric
    `value`, fully reproducible unless fields are overridden."""
    fields: dict[str, Any] = dict(FULL_REPRO) | kw
    fields.setdefault("metrics", {metric: value} if value is not None else {})
    when = T0 + timedelta(days=day or 0, minutes=i)
    return RunView(key=key, when=when, session=when.date(), **fields)


def day(n: int) -> date:
    return (T0 + timedelta(days=n)).date()


N_PARAMS = 15
METRICS = ("auc", "f1", "accuracy", "log_loss", "recall")


def synthetic_history(n: int = 10_000, approaches: int = 20, rng_seed: int = 7) -> tuple[RunView, ...]:
    """`approaches` approaches (every other one tagged) each start from their own configuration; each later run
    changes 1-2 numeric params of one of the last 5 runs of its approach, or (one run in 20) repeats one with
    another seed, or (one in 50) repeats one exactly."""
    rng = random.Random(rng_seed)
    starts = [
        {f"p{k}": str(rng.randint(1, 5)) for k in range(N_PARAMS - 1)} | {"model": f"m{a}"} for a in range(approaches)
    ]
    history: list[list[dict[str, str]]] = [[] for _ in starts]
    runs = []
    for i in range(n):
        a = i % approaches
        params = dict(rng.choice(history[a][-5:])) if history[a] else dict(starts[a])
        seed = "0"
        roll = rng.random() if history[a] else 0.06  # an approach's first run is its start, unchanged
        if roll < 0.05:
            seed = str(rng.randint(1, 9))
        elif roll >= 0.07:
            for key in rng.sample(sorted(params.keys() - {"model"}), rng.randint(1, 2)):
                params[key] = str(rng.randint(1, 40))
        history[a].append(params)
        metrics = {m: round(rng.random(), 4) for m in METRICS}
        runs.append(
            RunView(
                key=f"r{i:05d}",
                params=params | {"random_state": seed},
                metrics=metrics,
                tags={"approach": f"a{a}"} if a % 2 == 0 else {},
                when=T0 + timedelta(minutes=10 * i),
                duration_s=60.0,
                git_commit="abc" if i % 3 else None,
            )
        )
    return tuple(runs)


_NUMBER_RE = re.compile(r"(?<![\w.=-])-?\d+(?:\.\d+)?(?:e[+-]\d+)?(?![\w.]\w)")
_DATE_RE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


def unstated_numbers(finding: Finding) -> list[str]:
    """Numbers written in the message that are not `fmt` of one of the finding's numbers (run keys, the subject
    and ISO dates are names, not numbers)."""
    text = _DATE_RE.sub(" ", finding.message)
    for name in sorted({*finding.run_ids, finding.subject or ""} - {""}, key=len, reverse=True):
        text = text.replace(name, " ")
    allowed = {fmt(v) for v in finding.numbers.values()} | {fmt_noise(v) for v in finding.numbers.values()}
    return [n for n in _NUMBER_RE.findall(text) if n not in allowed and n.lstrip("-") not in allowed]
