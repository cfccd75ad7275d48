"""The TL;DR of a log entry, assembled from the entry's own statements and stored numbers, never paraphrased."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet

from app.compose.labels import plain_label
from app.compose.log_entry.facts import ProjectFacts
from app.compose.log_entry.refs import RunIndex
from app.compose.log_entry.schema import Experiment, Item, Section
from app.parsing.fmt import fmt

_MAX_PART = 140
# Where a long statement may end early and still read whole: after a sentence, a semicolon or a comma.
_CLAUSE_END = re.compile(r"[.;!?](?=\s)|,(?=\s)")
# "Next I want to try ...": the label already says it is next.
_NEXT_LEAD = re.compile(
    r"^\W*next\b(?:\s+steps?\b)?\s*[:,-]?\s*(?:(?:i|we)\b\s*)?(?:(?:want|would like|'d like|plan)\b\s*)?(?:to\s+)?",
    re.IGNORECASE,
)
_DECIDES = re.compile(
    r"\b(?:candidate|going with|go with|sticking with|stick with|settled on|we pick|picked|pick|choose|chose|chosen|"
    r"winner|ship|shipping|final model|is the best|best so far|our best)\b",
    re.IGNORECASE,
)


def tldr(
    sections: Mapping[Section, Sequence[Item]],
    experiments: Sequence[Experiment],
    index: RunIndex,
    project: ProjectFacts,
    attached: AbstractSet[str] = frozenset(),
) -> str:
    """Best cited run on the primary metric, the session's last decision (else its first conclusion), its first
    failure, and its first next step."""
    parts: list[str] = []
    best = _best_cited(experiments, index, project, attached)
    if best:
        parts.append(best)
    for section, label in (("conclusions", ""), ("did_not_work", "Didn't work: "), ("next_steps", "Next: ")):
        said = [i for i in sections[section] if not i.quoted]  # type: ignore[index]
        # the session's decision ("X is the candidate", "going with Y"), its last one, sums it up best
        decided = [i for i in said if section == "conclusions" and _DECIDES.search(i.text)]
        item = decided[-1] if decided else next(iter(said), None)
        if item:
            text = _NEXT_LEAD.sub("", item.text) if section == "next_steps" else item.text
            parts.append(f"{label}{_short(text or item.text)}")
    if not parts:
        first = next((i for i in sections["observations"] if not i.quoted), None)
        parts.append(_short(first.text) if first else "Nothing to report.")
    return " ".join(p if p.endswith((".", "?", "!", "…")) else f"{p}." for p in parts)


def _best_cited(
    experiments: Sequence[Experiment], index: RunIndex, project: ProjectFacts, attached: AbstractSet[str]
) -> str | None:
    """The best of the cited runs; of the runs attached to the dump when two or more of them are scored (a run of an
    earlier session named for comparison, "well below lgbm-63 at 0.86", is not this session's best)."""
    metric = project.primary_metric
    scored = [(e.stored[metric], e) for e in experiments if e.run_id and metric in e.stored]
    own = [(v, e) for v, e in scored if e.run_id in attached]
    if len(own) >= 2 and len(own) < len(scored):
        value, experiment = (max if project.metric_direction == "max" else min)(own, key=lambda pair: pair[0])
        run = index.by_key(experiment.run_id or "")
        label = plain_label(experiment.run_id or "", run.run_name if run else None)
        return f"Best of the runs attached to the dump: {label} ({metric} {fmt(value)})"
    if len(scored) < 2:
        return None
    pick = max if project.metric_direction == "max" else min
    value, experiment = pick(scored, key=lambda pair: pair[0])
    run = index.by_key(experiment.run_id or "")
    label = plain_label(experiment.run_id or "", run.run_name if run else None)
    return f"Best of the {len(scored)} cited runs: {label} ({metric} {fmt(value)})"


def _short(text: str) -> str:
    """At most `_MAX_PART` characters: whole when it fits, else its first sentence or clause that fits, else cut at
    a word boundary so no number is cut in half."""
    text = " ".join(text.split())
    if len(text) <= _MAX_PART:
        return text
    ends = [m.end() for m in _CLAUSE_END.finditer(text, 0, _MAX_PART + 1) if m.end() >= _MAX_PART // 3]
    if ends:
        return text[: ends[-1]].rstrip(" ,;:")
    return text[:_MAX_PART].rsplit(" ", 1)[0] + " …"
