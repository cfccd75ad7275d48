"""Reference definitions for the findings evals, deliberately naive: the closest earlier configuration is found by
comparing every run with every earlier one (O(n^2)), so it checks the analyzer's fast hashing rather than sharing its
shortcuts. The generator in `evals.histories` uses it to keep its margins, and the scorers in
`evals.findings_scorers` to score statuses. The definitions are those of docs/definitions.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from app.analysis.model import AnalysisSettings, ApproachStatus

# Margins, in units of the noise threshold: a gain of at most LOW counts as none, one of at least HIGH as real.
LOW = 0.45
HIGH = 2.5
_SEED_KEYS = frozenset(k.casefold() for k in AnalysisSettings().seed_keys)
_UNSET = frozenset({"", "none", "null", "nan", "na", "n/a", "nil", "-"})


# --- reference definitions ----------------------------------------------------------------------------------------


def is_seed_key(key: str) -> bool:
    return key.casefold() in _SEED_KEYS


def _unset(value: str | None) -> str:
    """A value that means "not set" ("None", "", "nan", ...) is the same as the key being absent."""
    text = (value or "").strip()
    return "" if text.casefold() in _UNSET else text


def distance(a: Mapping[str, str], b: Mapping[str, str]) -> int:
    """Parameters that differ (a key absent or unset on one side counts), seeds ignored."""
    keys = {k for k in (*a, *b) if not is_seed_key(k)}
    return sum(1 for k in keys if _unset(a.get(k)) != _unset(b.get(k)))


def closest_indices(params: Mapping[str, str], earlier: Sequence[Mapping[str, str]]) -> list[int]:
    """Every earlier configuration at the smallest distance (ties included); [] when there is none."""
    distances = [distance(params, other) for other in earlier]
    if not distances:
        return []
    best = min(distances)
    return [i for i, d in enumerate(distances) if d == best]


def change_counts(params: Sequence[Mapping[str, str]]) -> list[int | None]:
    """Per run in history order: parameters changed vs its closest earlier config (None for the first run)."""
    return [min((distance(p, q) for q in params[:i]), default=None) for i, p in enumerate(params)]


def family_switches(params: Sequence[Mapping[str, str]], family_key: str = "model") -> list[bool]:
    """Per run: its closest earlier config (the most recent of the ties) is of another model family. Such a run
    starts a new line of inquiry, so its many changes are not a `multi_change`."""
    out = []
    for i, p in enumerate(params):
        near = closest_indices(p, params[:i])
        out.append(bool(near) and params[near[-1]].get(family_key) != p.get(family_key))
    return out


def seed_of(params: Mapping[str, str]) -> str | None:
    return next((v for k, v in sorted(params.items()) if is_seed_key(k)), None)


def duplicates_of(params: Sequence[Mapping[str, str]]) -> dict[int, int]:
    """Run index -> the earliest earlier index with the same normalised config and the same seed. A run with the
    same config and another seed is a seed repeat: it measures noise, so it is not a duplicate."""
    found: dict[int, int] = {}
    for i, p in enumerate(params):
        same = (j for j in range(i) if distance(p, params[j]) == 0 and seed_of(p) == seed_of(params[j]))
        j = next(same, None)
        if j is not None:
            found[i] = j
    return found


def status_of(values: Sequence[float], baseline: float, thr: float, recent: int = 3) -> ApproachStatus | None:
    """The approach status by docs/definitions.md, or None where a reading of them could go either way."""
    if len(values) <= 2:
        return "active"
    lead = max(values) - baseline
    if lead <= LOW * thr:
        return "exhausted"
    if lead < HIGH * thr:
        return None
    best_so_far = [max(values[: i + 1]) for i in range(len(values))]
    rises = [best_so_far[-1] - best_so_far[-recent - 1], best_so_far[-1] - best_so_far[-recent]]
    if min(rises) >= HIGH * thr:
        return "converging"
    if max(rises) <= LOW * thr:
        return "plateaued"
    return None


def stalled_of(values: Sequence[float], sessions: Sequence[int], thr: float, window: int) -> bool | None:
    """No gain beyond noise over the last `window` sessions (True), a real gain in the last session (False)."""
    last = sessions[-1]
    before = [v for v, s in zip(values, sessions, strict=True) if s <= last - window]
    inside = [v for v, s in zip(values, sessions, strict=True) if s > last - window]
    final_before = [v for v, s in zip(values, sessions, strict=True) if s < last]
    if before and max(inside) - max(before) <= LOW * thr:
        return True
    if final_before and max(values) - max(final_before) >= HIGH * thr:
        return False
    return None


# --- scorers ------------------------------------------------------------------------------------------------------
