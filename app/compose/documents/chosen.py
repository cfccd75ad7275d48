"""The chosen model: the run the most recent selection decision selected, told next to the best on the metric.

A team may choose a run that is not the best on the metric in force (a latency budget, a simpler model, a best that
came later); a summary or brief that names only the metric's best contradicts the decision on record. So both name the
chosen run and say how it relates to the best: the same run, or another one and why, in the decision's own words."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from app.compose.contract import EntryDigest
from app.compose.documents.render import cite, fmt, fmt_noise, md_text, sentence
from app.compose.documents.schemas import BestNote, DecisionNote

SELECTION_DECISION = "selection_decision"


def decision_note(entry: EntryDigest) -> DecisionNote:
    body: Mapping[str, Any] = entry.body
    selected = body.get("selected")
    return DecisionNote(
        entry_id=entry.id,
        day=entry.day,
        title=str(body.get("title") or entry.tldr),
        decision=f"selected {selected}" if selected else entry.tldr,
        rationale=str(body.get("rationale") or ""),
        run_ids=list(entry.run_ids) or ([str(selected)] if selected else []),
        rationale_source=source if (source := body.get("rationale_source")) in ("person", "ranking") else None,
    )


def latest_selection(entries: Iterable[EntryDigest], until: date | None = None) -> tuple[str, DecisionNote] | None:
    """The run the most recent selection decision (on or before `until`) selected, and that decision."""
    decisions = [
        e
        for e in entries
        if e.kind == SELECTION_DECISION
        and isinstance(e.body.get("selected"), str)
        and e.body["selected"]
        and (until is None or e.day <= until)
    ]
    if not decisions:
        return None
    last = max(decisions, key=lambda e: (e.day, e.id))
    return str(last.body["selected"]), decision_note(last)


def chosen_line(
    selected: str,
    decision: DecisionNote | None,
    best: BestNote | None,
    metric: str,
    selected_value: float | None = None,
) -> str:
    """ "Chosen model: ..." and how it relates to the best on the metric: the same run, or another one (tied with it
    when the best leads by no more than the believable gain) and why it was chosen."""
    line = f"Chosen model: {cite(selected)}"
    if decision is not None:
        line += f", selected on {decision.day.isoformat()} (entry {decision.entry_id})"
    if best is None:
        return line + "."
    if best.key == selected:
        return line + f"; it is also the best run on **{md_text(metric)}**."
    line += f"; the best run on **{md_text(metric)}** is {cite(best.key)}, another run"
    believable = best.believable_gain if best.believable_gain is not None else best.noise_threshold
    if selected_value is not None:
        lead = abs(best.value - selected_value)
        if lead <= believable:
            line += (
                f", ahead by {fmt(lead)} ({fmt(best.value)} vs {fmt(selected_value)}), within the believable gain "
                f"{fmt_noise(believable)}: on **{md_text(metric)}** the two are tied"
            )
    if decision is not None and decision.rationale.strip() and decision.rationale_source != "ranking":
        return line + f". Why the chosen one: {sentence(decision.rationale)}"
    return line + ". The decision records no reason of its own for choosing it over the best."
