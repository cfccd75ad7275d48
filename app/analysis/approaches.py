"""Lines of inquiry: which approach each run belongs to.

Precedence: a person's regrouping through the API (`approach_overrides`), then an approach tag (`approach`, then
`labbook.approach`, keys matched case-insensitively), then inference. An inferred approach is the run's model family
plus the categorical settings (non-numeric values, such as `scaler=standard`) that differ from the family's first
run; numeric changes (C, learning rate, depth) are a sweep within the approach. The baseline run forms the approach
"baseline" unless tagged or regrouped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from app.analysis.configs import is_numeric
from app.analysis.family import FAMILY_KEYSET, named_keys
from app.analysis.history import Step
from app.analysis.model import ApproachSource, RunView

UNLABELLED = "unlabelled"
BASELINE_APPROACH = "baseline"
APPROACH_TAGS = ("approach", "labbook.approach")
# Categorical keys that name files, runs or times rather than a way of modelling; never approach-defining.
_NOT_STRUCTURAL_RE = re.compile(r"(?:path|dir|file|uri|url|name|_id|^id|date|time|tag|note|comment)", re.IGNORECASE)
MAX_SETTING_VALUES = 8  # a categorical key with more distinct values in a family is an identifier, not a setting


def tag_approach(run: RunView) -> str | None:
    for key in named_keys(tuple(run.tags), APPROACH_TAGS):
        if value := run.tags[key].strip():
            return value
    return None


def assign_approaches(
    steps: Sequence[Step], overrides: Mapping[str, str], baseline: str | None
) -> list[tuple[str, ApproachSource, tuple[str, ...]]]:
    """Per step: the approach name, where it came from, and for an inferred one the keys that define it."""
    inferred = _inferred(steps)
    assigned: list[tuple[str, ApproachSource, tuple[str, ...]]] = []
    for step in steps:
        if (override := overrides.get(step.key, "").strip()) != "":
            assigned.append((override, "override", ()))
        elif (tagged := tag_approach(step.run)) is not None:
            assigned.append((tagged, "tag", ()))
        elif step.key == baseline:
            assigned.append((BASELINE_APPROACH, "inferred", ()))
        else:
            assigned.append(inferred[step.index])
    return assigned


def _inferred(steps: Sequence[Step]) -> list[tuple[str, ApproachSource, tuple[str, ...]]]:
    by_family: dict[str, list[Step]] = {}
    for step in steps:
        by_family.setdefault(step.family or UNLABELLED, []).append(step)
    out: list[tuple[str, ApproachSource, tuple[str, ...]]] = [("", "inferred", ())] * len(steps)
    for family, members in by_family.items():
        settings = _setting_keys(members)
        first = members[0].config
        for step in members:
            config = step.config
            keys = tuple([k for k in settings if k in config and config[k] != first.get(k)])
            name = " + ".join([family, *[f"{k}={config[k]}" for k in keys]]) if keys else family
            out[step.index] = (name, "inferred", keys)
    return out


def _setting_keys(members: Sequence[Step]) -> list[str]:
    """Keys whose values in this family are all categorical and few: the settings that make an approach."""
    keys: set[str] = set().union(*[step.config.keys() for step in members])
    return sorted(
        key
        for key in keys
        if key.strip().lower() not in FAMILY_KEYSET
        and not _NOT_STRUCTURAL_RE.search(key)
        and _categorical_and_few(key, members)
    )


def _categorical_and_few(key: str, members: Sequence[Step]) -> bool:
    """Whether the key's values are all non-numeric and at most `MAX_SETTING_VALUES`, stopping at the first value
    that rules it out (in most families a numeric one, in the first run)."""
    seen: set[str] = set()
    for step in members:
        value = step.config.get(key)
        if value is None or value in seen:
            continue
        if is_numeric(value) or len(seen) == MAX_SETTING_VALUES:
            return False
        seen.add(value)
    return True
