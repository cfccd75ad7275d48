"""The `labbook.*` tags a run carries in MLflow: its approach, the approach's status, and one tag per run-level
finding, so the MLflow UI (and a search like `tags."labbook.finding.duplicate" != ''`) shows what Labbook concluded
without opening Labbook. Pure: findings in, {run key: {tag: value}} out.

    labbook.approach                 logreg-scaled
    labbook.approach_status          plateaued
    labbook.finding.baseline         true
    labbook.finding.current_best     val_auc=0.9954
    labbook.finding.duplicate        of 1f3c...
    labbook.finding.multi_change     changed class_weight, max_features vs 9a0b...
    labbook.finding.within_noise     gain +0.0004 <= noise 0.0021
    labbook.finding.repro_gap        missing git_commit, seed

Numbers are the stored values (or the analysis's computed ones) to 4 significant digits, as the documents write
them, so a tag says what the finding says; gains are signed (+0.0064). A run with nothing to say gets no entry. A
value is plain text, never Markdown-escaped, so a search filter matches it as the approach or parameter was named; it
is put on one line without control characters and cut to MLflow's 5000-byte limit (`app.compose.escape.tag_value`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from app.analysis.model import Finding, Findings
from app.compose.escape import MAX_TAG_VALUE_BYTES, tag_value
from app.parsing.fmt import fmt, fmt_gain

APPROACH_KEY = "labbook.approach"
STATUS_KEY = "labbook.approach_status"
FINDING_PREFIX = "labbook.finding."
# The finding kinds that are about one run, in the order their tags are written.
RUN_FINDING_KINDS = ("baseline", "current_best", "duplicate", "multi_change", "within_noise", "repro_gap")
MAX_KEY_CHARS = 250
MAX_VALUE_BYTES = MAX_TAG_VALUE_BYTES


def finding_key(kind: str) -> str:
    return FINDING_PREFIX + kind


def is_managed(key: str) -> bool:
    """A tag only Labbook writes, so one that is no longer wanted can be deleted without asking. `labbook.approach`
    is not one: people set it by hand to name an approach."""
    return key == STATUS_KEY or key.startswith(FINDING_PREFIX)


def labbook_tags(findings: Findings) -> dict[str, dict[str, str]]:
    """{run key: {tag: value}} for every run of `findings.run_order` with something to say, in history order."""
    per_run: dict[str, dict[str, str]] = {}

    def put(key: str | None, tag: str, value: str) -> None:
        value = tag_value(value)
        if key is not None and value:
            per_run.setdefault(key, {})[tag] = value

    for approach in findings.approaches:
        for key in approach.run_ids:
            put(key, APPROACH_KEY, approach.name)
            put(key, STATUS_KEY, approach.status)
    if findings.baseline is not None:
        put(findings.baseline, finding_key("baseline"), "true")
    if findings.best is not None and findings.best_value is not None:
        put(findings.best, finding_key("current_best"), f"{findings.metric}={_num(findings.best_value)}")
    for duplicate in findings.duplicates:
        put(duplicate.key, finding_key("duplicate"), f"of {duplicate.of}")
    for key in _subjects(findings.of_kind("multi_change")):
        put(key, finding_key("multi_change"), _multi_change(findings, key))
    for finding in findings.of_kind("within_noise"):
        put(finding.subject, finding_key("within_noise"), _within_noise(findings, finding))
    for gap in findings.repro_gaps:
        if gap.missing:
            put(gap.key, finding_key("repro_gap"), "missing " + ", ".join(gap.missing))
    return _ordered(per_run, findings.run_order)


def _subjects(found: Iterable[Finding]) -> list[str]:
    return [f.subject for f in found if f.subject is not None]


def _multi_change(findings: Findings, key: str) -> str:
    change = findings.changes.get(key)
    if change is None or not change.vs_closest:
        return "changed more than one parameter"
    keys = ", ".join(c.key for c in change.vs_closest)
    return f"changed {keys} vs {change.closest}" if change.closest else f"changed {keys}"


def _within_noise(findings: Findings, finding: Finding) -> str:
    numbers = finding.numbers
    gain = numbers.get("gain")
    names = ("believable_gain", "noise", "threshold", "min_gain")
    noise = next((numbers[n] for n in names if n in numbers), findings.noise.min_gain)
    return f"gain {fmt_gain(gain)} <= noise {_num(noise)}" if gain is not None else f"gain <= noise {_num(noise)}"


def _ordered(per_run: Mapping[str, dict[str, str]], run_order: Iterable[str]) -> dict[str, dict[str, str]]:
    """History order (runs missing from `run_order` are left out) and a fixed tag order within each run."""
    rank = {tag: i for i, tag in enumerate((APPROACH_KEY, STATUS_KEY, *map(finding_key, RUN_FINDING_KINDS)))}
    return {
        key: dict(sorted(per_run[key].items(), key=lambda kv: rank.get(kv[0], len(rank))))
        for key in run_order
        if key in per_run
    }


def _num(value: float) -> str:
    """The value to 4 significant digits, as every document writes it (`app.parsing.fmt.fmt`): no float noise
    (0.8200000000000001 reads 0.82), no digits finer than the noise (0.00181964587519 reads 0.00182)."""
    return fmt(value)
