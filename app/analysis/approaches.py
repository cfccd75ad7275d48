"""Lines of inquiry: which approach each run belongs to.

Precedence: a person's regrouping through the API (`approach_overrides`), then an approach tag (`approach`, then
`labbook.approach`, keys matched case-insensitively), then, for a nested run, its parent's. The baseline run forms
the approach "baseline" unless tagged or regrouped, and repeats of its configuration go with it. An untagged run then
joins the named approach it continues (the same model family, and its closest earlier configuration in that
approach, or else most of its family's named runs there). What is left is inferred: one approach per model family.
Categorical settings (loss names, optimisers, sampling strategies) tried around a configuration are a sweep inside
the approach, as numeric ones are, not one approach per value. A sweep's parent run goes with the approach most of
its children are in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from app.analysis.family import named_keys
from app.analysis.history import Step
from app.analysis.model import ApproachSource, RunView

UNLABELLED = "unlabelled"
BASELINE_APPROACH = "baseline"
APPROACH_TAGS = ("approach", "labbook.approach")

Assigned = tuple[str, ApproachSource, tuple[str, ...]]


def tag_approach(run: RunView) -> str | None:
    for key in named_keys(tuple(run.tags), APPROACH_TAGS):
        if value := run.tags[key].strip():
            return value
    return None


def assign_approaches(steps: Sequence[Step], overrides: Mapping[str, str], baseline: str | None) -> list[Assigned]:
    """Per step: the approach name, where it came from, and for an inferred one the keys that define it (none: an
    inferred approach is its family)."""
    assigned: list[Assigned | None] = [_named(step, overrides) for step in steps]
    parent_of = _parents(steps)
    for step in steps:  # a nested run without a name of its own takes its parent's (a study is often tagged once)
        parent = parent_of.get(step.index)
        if assigned[step.index] is None and parent is not None and (named := assigned[parent]) is not None:
            assigned[step.index] = (named[0], "inferred", ())
    named_runs = [assigned[step.index] is not None and not step.nested_parent for step in steps]
    majority = _family_majority(steps, assigned, named_runs)
    base = next((step for step in steps if step.key == baseline), None)
    for step in steps:
        if assigned[step.index] is not None or step.nested_parent:
            continue
        if step is base:
            assigned[step.index] = (BASELINE_APPROACH, "inferred", ())
        elif base is not None and step.signature == base.signature and (of_base := assigned[base.index]) is not None:
            assigned[step.index] = (of_base[0], "inferred", ())  # a repeat of the baseline's configuration
        elif (joined := _continued(step, steps, assigned, named_runs, majority)) is not None:
            assigned[step.index] = (joined, "inferred", ())
            named_runs[step.index] = True
        else:
            family = step.family or (steps[p].family if (p := parent_of.get(step.index)) is not None else None)
            assigned[step.index] = (family or UNLABELLED, "inferred", ())
    return _place_parents(steps, assigned, parent_of)


def _named(step: Step, overrides: Mapping[str, str]) -> Assigned | None:
    if (override := overrides.get(step.key, "").strip()) != "":
        return (override, "override", ())
    if (tagged := tag_approach(step.run)) is not None:
        return (tagged, "tag", ())
    return None


def _parents(steps: Sequence[Step]) -> dict[int, int]:
    """Step index -> its nested parent's step index, for the runs whose parent is in the history."""
    parents = {step.run.run_id or step.key: step.index for step in steps if step.nested_parent}
    if not parents:  # no sweeps: most histories
        return {}
    return {
        step.index: parents[step.run.parent_run_id]
        for step in steps
        if step.run.parent_run_id in parents and parents[step.run.parent_run_id] != step.index
    }


def _family_majority(
    steps: Sequence[Step], assigned: Sequence[Assigned | None], named_runs: Sequence[bool]
) -> dict[str, str]:
    """Family -> the named approach holding more than half of that family's named runs, where one does."""
    by_family: dict[str, Counter[str]] = {}
    for step in steps:
        if named_runs[step.index] and step.family is not None and (named := assigned[step.index]) is not None:
            by_family.setdefault(step.family, Counter())[named[0]] += 1
    out: dict[str, str] = {}
    for family, counts in by_family.items():
        name, n = counts.most_common(1)[0]
        if 2 * n > counts.total():
            out[family] = name
    return out


def _continued(
    step: Step,
    steps: Sequence[Step],
    assigned: Sequence[Assigned | None],
    named_runs: Sequence[bool],
    majority: Mapping[str, str],
) -> str | None:
    """The named approach an untagged run continues: its closest earlier configuration's, when that run is of the
    same family and in a named approach; else the one most of its family's named runs are in. None without a
    family: "unlabelled" runs have nothing in common to go by."""
    if step.family is None:
        return None
    closest = steps[step.closest] if step.closest is not None else None
    if closest is not None and closest.family == step.family and named_runs[closest.index]:
        if (name := assigned[closest.index]) is not None:
            return name[0]
    return majority.get(step.family)


def _place_parents(
    steps: Sequence[Step], assigned: Sequence[Assigned | None], parent_of: Mapping[int, int]
) -> list[Assigned]:
    """A nested parent joins the approach most of its children are in (the first such on a tie); a person's
    regrouping of the parent stands, and a parent whose children have no approach keeps its own or its family."""
    children: dict[int, Counter[str]] = {}
    for child, parent in parent_of.items():
        if (name := assigned[child]) is not None:
            children.setdefault(parent, Counter())[name[0]] += 1
    out: list[Assigned] = []
    for step in steps:
        own = assigned[step.index]
        if step.nested_parent and (own is None or own[1] != "override"):
            counts = children.get(step.index)
            line = counts.most_common(1)[0][0] if counts else None
            if line is not None and (own is None or own[0] != line):
                own = (line, "inferred", ())
            elif own is None:
                own = (step.family or UNLABELLED, "inferred", ())
        assert own is not None  # every step was assigned above
        out.append(own)
    return out
