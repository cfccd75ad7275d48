"""Ranking finalists on weighted criteria, transparently: every score can be recomputed by hand.

A criterion is a stored metric of the finalists (or a numeric parameter: latency budgets and model sizes are often
logged as parameters), or a person's score per finalist in [0, 1]. A metric criterion is min-max normalised across
the finalists, so the best finalist on it scores 1 and the worst 0 (all equal: 1 for all, it separates nobody); a
person's scores are already on that scale and are used as given (flipped for `direction="min"`). Weights are
normalised to sum to 1, and a finalist's total is the sum of weight x score. Ties on the total go to the better raw
value on the first criterion, then to the run key, so the order never depends on input order.

A single finalist is allowed: recording why the only candidate was accepted is still a decision worth auditing. It
scores 1 on every criterion.

Normalisation turns any gap into 1 vs 0, a gap within the noise too. Given the metric in force and its believable
gain (one run over another), a criterion on that metric whose finalists all lie within the believable gain is a
`NoiseTie`: it cannot separate them, and the ranking without it says what the decision would be otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from app.analysis.model import Criterion, CriterionScore, NoiseTie, RankedFinalist, Ranking, RunView
from app.errors import InputInvalid

_TOTAL_DIGITS = 12  # totals equal up to float noise (0.1 + 0.2) are ties


def rank_finalists(
    finalists: Sequence[RunView],
    criteria: Sequence[Criterion],
    *,
    metric: str | None = None,
    believable_gain: float | None = None,
) -> Ranking:
    """Rank `finalists` by the weighted, normalised `criteria`; raises `InputInvalid` naming the field at fault.
    With the metric in force and its believable gain, criteria on it that cannot separate the finalists are
    reported as noise ties."""
    _check_finalists(finalists)
    _check_criteria(criteria)
    raw = [_raw_values(finalists, criterion, i) for i, criterion in enumerate(criteria)]
    total_weight = sum(c.weight for c in criteria)
    weights = {c.name: c.weight / total_weight for c in criteria}
    ranked: list[tuple[float, RunView, tuple[CriterionScore, ...]]] = []
    for at, run in enumerate(finalists):
        scores = tuple(
            CriterionScore(criterion=c.name, value=values[at], score=_score(c, values, at))
            for c, values in zip(criteria, raw, strict=True)
        )
        total = sum(weights[s.criterion] * s.score for s in scores)
        ranked.append((total, run, scores))
    first, first_values = criteria[0], {run.key: raw[0][i] for i, run in enumerate(finalists)}

    def order(item: tuple[float, RunView, tuple[CriterionScore, ...]]) -> tuple[float, float, str]:
        value = first_values[item[1].key]
        return (-round(item[0], _TOTAL_DIGITS), -value if first.direction == "max" else value, item[1].key)

    ranked.sort(key=order)
    result = tuple(
        RankedFinalist(key=run.key, rank=rank, total=total, scores=scores)
        for rank, (total, run, scores) in enumerate(ranked, start=1)
    )
    ties = _noise_ties(finalists, criteria, raw, metric, believable_gain)
    return Ranking(criteria=tuple(criteria), weights=weights, finalists=result, top=result[0].key, noise_ties=ties)


def _noise_ties(
    finalists: Sequence[RunView],
    criteria: Sequence[Criterion],
    raw: Sequence[Sequence[float]],
    metric: str | None,
    believable_gain: float | None,
) -> tuple[NoiseTie, ...]:
    if metric is None or believable_gain is None or len(finalists) < 2:
        return ()
    ties = []
    for criterion, values in zip(criteria, raw, strict=True):
        spread = max(values) - min(values)
        if criterion.metric == metric and 0 < spread <= believable_gain:
            rest = [c for c in criteria if c.name != criterion.name]
            top = rank_finalists(finalists, rest).top if rest else None
            ties.append(NoiseTie(criterion.name, spread, believable_gain, top))
    return tuple(ties)


def _check_finalists(finalists: Sequence[RunView]) -> None:
    if not finalists:
        raise InputInvalid("name at least one finalist run", field="finalists")
    seen: set[str] = set()
    for i, run in enumerate(finalists):
        if run.key in seen:
            raise InputInvalid(f"finalist {run.key} is listed twice", field=f"finalists[{i}]")
        seen.add(run.key)


def _check_criteria(criteria: Sequence[Criterion]) -> None:
    if not criteria:
        raise InputInvalid("name at least one criterion", field="criteria")
    seen: set[str] = set()
    for i, criterion in enumerate(criteria):
        if not criterion.name.strip():
            raise InputInvalid("a criterion needs a name", field=f"criteria[{i}].name")
        if criterion.name in seen:
            raise InputInvalid(f"two criteria are named {criterion.name!r}", field=f"criteria[{i}].name")
        seen.add(criterion.name)
        if not (math.isfinite(criterion.weight) and criterion.weight > 0):
            raise InputInvalid(
                f"criterion {criterion.name!r} has weight {criterion.weight}; weights must be positive numbers",
                field=f"criteria[{i}].weight",
            )


def _raw_values(finalists: Sequence[RunView], criterion: Criterion, i: int) -> list[float]:
    """The stored value of a metric criterion, or the person's score, for each finalist in order."""
    if criterion.metric is not None:
        values = [_stored(run, criterion.metric) for run in finalists]
        lacking = [run.key for run, value in zip(finalists, values, strict=True) if value is None]
        if lacking:
            raise InputInvalid(
                f"criterion {criterion.name!r}: {', '.join(lacking)} {'has' if len(lacking) == 1 else 'have'} "
                f"no stored {criterion.metric!r} (metric or numeric parameter)",
                field=f"criteria[{i}].metric",
            )
        return [v for v in values if v is not None]
    keys = {run.key for run in finalists}
    strays = sorted(set(criterion.scores) - keys)
    if strays:
        raise InputInvalid(
            f"criterion {criterion.name!r} scores {', '.join(strays)}, which {'is' if len(strays) == 1 else 'are'} "
            "not a finalist",
            field=f"criteria[{i}].scores",
        )
    lacking = [run.key for run in finalists if run.key not in criterion.scores]
    if lacking:
        raise InputInvalid(
            f"criterion {criterion.name!r} has no metric, so it needs a score in [0, 1] for every finalist; "
            f"missing for {', '.join(lacking)}",
            field=f"criteria[{i}].scores",
        )
    bad = [key for key in criterion.scores if not 0.0 <= criterion.scores[key] <= 1.0]  # NaN fails too
    if bad:
        raise InputInvalid(
            f"criterion {criterion.name!r}: scores must be in [0, 1]; "
            + ", ".join(f"{key} has {criterion.scores[key]}" for key in bad),
            field=f"criteria[{i}].scores",
        )
    return [criterion.scores[run.key] for run in finalists]


def _stored(run: RunView, name: str) -> float | None:
    value = run.metrics.get(name)
    if value is not None and math.isfinite(value):
        return float(value)
    param = run.params.get(name)
    if param is None:
        return None
    try:
        number = float(param)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _score(criterion: Criterion, values: Sequence[float], at: int) -> float:
    value = values[at]
    if criterion.metric is None:
        return value if criterion.direction == "max" else 1.0 - value
    low, high = min(values), max(values)
    if high == low:
        return 1.0
    share = (value - low) / (high - low)
    return share if criterion.direction == "max" else 1.0 - share
