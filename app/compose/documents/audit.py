"""The audit in every document: what an experiment loop got wrong, grouped by kind, and what to tell the agent; and
the loop's lines of work in its phase summary.

The findings come from `app.analysis.audit` (kept without beating the best, kept within the noise, a seed kept as
progress, a change tried again, a change that may not have taken effect, a collapse). A document lists those on the
runs it covers, one counted line per kind naming the latest runs with their numbers, then what the next loop should
be told: the changes not to retry, the ones it keeps retrying, the bar a keep must clear.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from app.analysis.lines import BASELINE_LINE
from app.analysis.model import AUDIT_KINDS, Findings, RunView
from app.compose.contract import DocContext
from app.compose.documents.render import cite, fmt, fmt_gain, fmt_noise, md_text, plural
from app.compose.documents.schemas import AuditNote, Evidence, LineNote
from app.compose.labels import GROUP_LIMIT, listed
from app.parsing.agent import KEEP_WORDS

__all__ = [
    "ADVICE_HEADING",
    "HEADING",
    "LINES_HEADING",
    "advice_lines",
    "audit_lines",
    "audit_notes",
    "line_lines",
    "line_notes",
]

HEADING = "What the audit found"
LINES_HEADING = "Lines of work"
EXHAUSTED_AFTER = 3  # a line none of whose last 3 scored runs was kept beyond the noise is exhausted
_WEAK = ("keep_not_best", "keep_within_noise", "seed_only_progress")
ADVICE_HEADING = "What to tell the agent next"

_TITLES = {
    "collapse": "Collapses: changes that broke the model",
    "crashed": "Crashed",
    "tried_again": "Changes tried again",
    "keep_not_best": "Kept without beating the running best",
    "keep_within_noise": "Kept for a gain within the noise",
    "seed_only_progress": "A new seed kept as progress",
    "unchanged_metric": "Exactly the same value as before: the change may not have taken effect",
}
_ORDER = (
    "collapse",
    "crashed",
    "tried_again",
    "keep_not_best",
    "keep_within_noise",
    "seed_only_progress",
    "unchanged_metric",
)


def audit_notes(ctx: DocContext, findings: Findings, subjects: Collection[str] | None = None) -> list[AuditNote]:
    """The audit findings, in history order; with `subjects`, only those whose runs include one of them."""
    notes = []
    for f in findings.findings:
        if f.kind not in AUDIT_KINDS or f.subject is None:
            continue
        if subjects is not None and not set(f.run_ids).intersection(subjects):
            continue
        run = ctx.runs.get(f.subject)
        change = (run.tags.get("change") or "").strip() or None if run is not None else None
        notes.append(
            AuditNote(
                kind=f.kind,
                subject=f.subject,
                text=f.message,
                evidence=Evidence(run_ids=list(f.run_ids), numbers=dict(f.numbers)),
                change=change,
            )
        )
    for key in findings.run_order:  # an agent log's crashed rows: their changes, to fix before trying again
        run = ctx.runs.get(key)
        if run is None or (run.status or "").upper() != "FAILED" or "change" not in run.tags:
            continue
        if subjects is None or key in subjects:
            change = run.tags["change"].strip() or None
            notes.append(
                AuditNote(
                    kind="crashed",
                    subject=key,
                    text=f"Run {key} crashed.",
                    evidence=Evidence(run_ids=[key]),
                    change=change,
                )
            )
    return notes


def audit_lines(notes: Sequence[AuditNote]) -> list[str]:
    """One line per kind: its title, how many, and the latest runs with their numbers."""
    lines = []
    for kind in _ORDER:
        group = [n for n in notes if n.kind == kind]
        if not group:
            continue
        items = [_ITEMS[kind](n) for n in reversed(group)]
        lines.append(f"- **{_TITLES[kind]}** ({len(group)}): {listed(items, total=len(group))}")
    return lines


def advice_lines(notes: Sequence[AuditNote]) -> list[str]:
    """What the next loop should be told, from the audit: never guesses, only what the findings show."""
    lines = []
    collapsed = _changes([n for n in notes if n.kind == "collapse"])
    if collapsed:
        lines.append(f"- Do not retry these changes as they were: {collapsed}.")
    crashed = _changes([n for n in notes if n.kind == "crashed"])
    if crashed:
        lines.append(f"- These changes crashed; fix them before trying them again: {crashed}.")
    again = _changes([n for n in notes if n.kind == "tried_again"])
    if again:
        lines.append(f"- Stop retrying changes already tried (the log has each one's result): {again}.")
    bar = next((n.evidence.numbers["believable_gain"] for n in notes if "believable_gain" in n.evidence.numbers), None)
    weak = [n for n in notes if n.kind in ("keep_not_best", "keep_within_noise")]
    if weak:
        clear = f" by more than {fmt_noise(bar)}, the believable gain" if bar is not None else ""
        lines.append(
            f"- Keep a change only when it beats the running best{clear}; "
            f"{len(weak)} kept {'row does' if len(weak) == 1 else 'rows do'} not, so the kept state may hold "
            "changes that did nothing."
        )
    if any(n.kind == "seed_only_progress" for n in notes):
        lines.append("- A new seed is not a change: repeat seeds to measure the noise, never keep one as progress.")
    unchanged = [n for n in notes if n.kind == "unchanged_metric"]
    if unchanged:
        lines.append(
            f"- Check that a change takes effect, and clear the run's log before each run, before judging it: "
            f"{len(unchanged)} {'row logged' if len(unchanged) == 1 else 'rows logged'} exactly an earlier value."
        )
    return lines


def _changes(group: Sequence[AuditNote]) -> str:
    """The changes named once each, as the log describes them (else the run), most recent first."""
    said = [f"\u201c{md_text(n.change)}\u201d" if n.change else cite(n.subject) for n in reversed(group)]
    return listed(list(dict.fromkeys(said)), limit=GROUP_LIMIT + 2)


def _other(note: AuditNote) -> str | None:
    others = [k for k in note.evidence.run_ids if k != note.subject]
    return others[0] if others else None


def _n(note: AuditNote, name: str) -> float | None:
    return note.evidence.numbers.get(name)


def _collapse(note: AuditNote) -> str:
    value, reference, loss = _n(note, "value"), _n(note, "reference_value"), _n(note, "loss")
    if value is None or reference is None or loss is None:
        return cite(note.subject)
    other = _other(note)
    against = f" of {cite(other)}" if other else ""
    return f"{cite(note.subject)} ({fmt(value)} against {fmt(reference)}{against}, {fmt(loss)} worse)"


def _tried_again(note: AuditNote) -> str:
    other, earlier, value = _other(note), _n(note, "earlier_value"), _n(note, "value")
    if other is None:
        return cite(note.subject)
    before = fmt(earlier) if earlier is not None else "no result"
    now = fmt(value) if value is not None else "no result"
    return f"{cite(note.subject)} after {cite(other)} ({before}, then {now})"


def _keep_not_best(note: AuditNote) -> str:
    value, best = _n(note, "value"), _n(note, "running_best")
    if value is None or best is None:
        return cite(note.subject)
    return f"{cite(note.subject)} ({fmt(value)} against the best {fmt(best)})"


def _keep_within_noise(note: AuditNote) -> str:
    gain, bar = _n(note, "gain"), _n(note, "believable_gain")
    if gain is None or bar is None:
        return cite(note.subject)
    return f"{cite(note.subject)} ({fmt_gain(gain)}, believable gain {fmt_noise(bar)})"


def _seed_only(note: AuditNote) -> str:
    other = _other(note)
    return f"{cite(note.subject)} (only the seed differs from {cite(other)})" if other else cite(note.subject)


def _unchanged(note: AuditNote) -> str:
    other, value = _other(note), _n(note, "value")
    if other is None or value is None:
        return cite(note.subject)
    return f"{cite(note.subject)} (same {fmt(value)} as {cite(other)})"


_ITEMS: dict[str, Callable[[AuditNote], str]] = {
    "collapse": _collapse,
    "crashed": lambda note: cite(note.subject),
    "tried_again": _tried_again,
    "keep_not_best": _keep_not_best,
    "keep_within_noise": _keep_within_noise,
    "seed_only_progress": _seed_only,
    "unchanged_metric": _unchanged,
}


def line_notes(ctx: DocContext, findings: Findings, keys: Collection[str]) -> list[LineNote]:
    """The lines of work (`ctx.lines`, computed by the analysis) of the runs in `keys`, in the order each first
    appears; [] for a history whose runs do not describe their change, which reads by its approaches instead."""
    grouped: dict[str, list[RunView]] = {}
    for key in findings.run_order:
        if key in keys and key in ctx.lines and key in ctx.runs:
            grouped.setdefault(ctx.lines[key], []).append(ctx.runs[key])
    weak = {f.subject for f in findings.findings if f.kind in _WEAK}
    retried = {f.subject for f in findings.of_kind("tried_again")}
    notes = []
    for name, members in grouped.items():
        scored = [r for r in members if r.score(findings.metric) is not None]
        kept = [r.key for r in scored if _kept(r) and r.key not in weak and r.key != findings.baseline]
        recent = scored[-EXHAUSTED_AFTER:]
        exhausted = (
            name != BASELINE_LINE
            and len(scored) >= EXHAUSTED_AFTER
            and not any(_kept(r) and r.key not in weak for r in recent)
        )
        notes.append(
            LineNote(
                name=name,
                run_ids=[r.key for r in members],
                kept=kept,
                retried=[r.key for r in members if r.key in retried],
                crashed=[r.key for r in members if (r.status or "").upper() == "FAILED"],
                exhausted=exhausted,
            )
        )
    return notes


def _kept(run: RunView) -> bool:
    return (run.tags.get("status") or "").strip().lower() in KEEP_WORDS


def line_lines(lines: Sequence[LineNote]) -> list[str]:
    """One line per line of work: how many runs, what was kept, what was retried or crashed, whether it is done."""
    out = []
    for line in lines:
        facts = [plural(len(line.run_ids), "run")]
        facts.append(f"{len(line.kept)} kept beyond the noise" if line.kept else "none kept beyond the noise")
        if line.retried:
            facts.append(f"{len(line.retried)} tried again")
        if line.crashed:
            facts.append(f"{len(line.crashed)} crashed")
        text = f"- **{md_text(line.name)}** ({', '.join(facts)})"
        if line.exhausted:
            text += f": exhausted, none of its last {EXHAUSTED_AFTER} scored runs was kept beyond the noise"
        if line.kept:
            text += f". Kept: {listed([cite(k) for k in reversed(line.kept)], limit=GROUP_LIMIT + 1)}"
        out.append(text + ".")
    return out
