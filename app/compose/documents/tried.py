"""The `tried_answer` document: has this proposal been tried? The verdict, the matching runs with their values on the
metric in force and their approach's status, and how the near matches differ."""

from __future__ import annotations

from collections.abc import Sequence

from app.analysis.model import Findings, TriedMatch, TriedRun, TriedVerdict
from app.compose.contract import Composed, DocContext
from app.compose.documents.audit import HEADING as AUDIT_HEADING
from app.compose.documents.audit import audit_lines, audit_notes
from app.compose.documents.common import approach_by_run, body_run_ids
from app.compose.documents.render import cite, document, fmt, heading, md_prose, md_text, section, table, title_line
from app.compose.documents.schemas import ParamDiff, TriedAnswer, TriedMention, TriedRunNote
from app.compose.labels import labelling

KIND = "tried_answer"
TITLE = "Has this been tried"
MAX_SHOWN = 10  # runs per table in Markdown; the body lists every one


# A proposal whose words an earlier session states as done: "tried" when the best passage's search score reaches
# SAID_TRIED, else at least "similar" (the caller passes only passages that score MENTION_MIN_SCORE or more).
SAID_TRIED = 0.9


@labelling
def compose_tried(
    ctx: DocContext,
    findings: Findings,
    match: TriedMatch,
    *,
    proposal: str,
    mentions: Sequence[TriedMention] = (),
) -> Composed:
    verdict = match.verdict
    best = max(mentions, key=lambda m: m.score) if mentions else None
    answer = _answer(match, findings)
    if best is not None and verdict != "tried":
        said: TriedVerdict = "tried" if best.score >= SAID_TRIED else "similar"
        if verdict == "new" or said == "tried":
            where = f"entry {best.entry_id} ({best.date})"
            answer = (
                f"No run's parameters match it, but {where} says it in words."
                if verdict == "new"
                else f"{answer} {where} says it was done, in words."
            )
            verdict = said
    draft = TriedAnswer(
        proposal=proposal,
        verdict=verdict,
        metric=findings.metric,
        params=_params(match),
        family=match.proposal.family,
        unmatched=[] if _said(match) else list(match.proposal.unmatched),
        answer=answer,
        exact=[_note(t, findings) for t in match.exact],
        similar=[_note(t, findings) for t in match.similar],
        run_ids=[],
        concepts=list(match.proposal.concepts),
        mentions=list(mentions),
        audit=audit_notes(ctx, findings, {t.key for t in (*match.exact, *match.similar)}),
    )
    body = draft.model_copy(update={"run_ids": body_run_ids(draft.model_dump())})
    title = title_line(TITLE, ctx.project_name)
    return Composed(KIND, body, _markdown(heading(title), body), body.run_ids, title, body.schema_version)


def _said(match: TriedMatch) -> bool:
    """Tried by the words of runs' described changes (an agent log), not by parameters."""
    return match.verdict == "tried" and not match.proposal.params and not match.proposal.moves


def _params(match: TriedMatch) -> dict[str, str]:
    """The proposed values, and each moved key with its move in words ("C": "< 1", "scale_pos_weight": "on")."""
    params = dict(match.proposal.params)
    for move in match.proposal.moves:
        for key in move.signs:
            params.setdefault(key, move.wanted.get(key, ""))
    return params


def _note(t: TriedRun, findings: Findings) -> TriedRunNote:
    approach = approach_by_run(findings).get(t.key)
    return TriedRunNote(
        key=t.key,
        value=t.value,
        approach=t.approach or (approach.name if approach else None),
        approach_status=approach.status if approach else None,
        matched=list(t.matched),
        differing=[ParamDiff(param=c.key, run_value=c.before, proposed=c.after) for c in t.differing],
    )


def _answer(match: TriedMatch, findings: Findings) -> str:
    moves = match.proposal.moves
    if match.verdict == "tried":
        first = match.exact[0]
        value = f" and scored {findings.metric} {fmt(first.value)}" if first.value is not None else ""
        more = f" ({len(match.exact)} runs in all)" if len(match.exact) > 1 else ""
        if not moves and not match.proposal.params:  # read from an agent log's description of its change
            return f"Tried: {cite(first.key)} describes this change in the log{value}{more}."
        did = "made every proposed change" if moves else "ran every proposed value"
        return f"Tried: {cite(first.key)} {did}{value}{more}."
    if match.verdict == "similar":
        runs = f"{len(match.similar)} run" + ("s" if len(match.similar) != 1 else "")
        if any(move.beyond or move.anchor is not None for move in moves):
            return f"Similar: {runs} set the parameters, none beyond the proposed bound."
        if moves or match.proposal.open_change:
            return f"Similar: {runs} of the proposal's family or parameters, none with the whole change."
        return f"Similar: {runs} share some of the proposed values, none all of them."
    if match.proposal.family and not match.proposal.params and not moves:
        return f"New: no stored run is of the family {match.proposal.family}."
    return "New: no stored run has any of the proposed values."


def render_markdown(body: TriedAnswer, title: str) -> str:
    """The document's Markdown from its body and its title (without the leading `# `)."""
    return _markdown(heading(title), body)


def _markdown(title: str, body: TriedAnswer) -> str:
    asked = ", ".join(_asked(k, v) for k, v in body.params.items())
    asked = asked or ("the words of the changes the log describes" if body.verdict == "tried" else "no known parameter")
    blocks = [title, f"Proposal: “{md_text(body.proposal)}”", f"Read as: {asked}."]
    if body.family:
        blocks[-1] += f" Model family: {md_text(body.family)}."
    if body.concepts:
        blocks[-1] += f" Concepts: {', '.join(md_text(c) for c in body.concepts)}."
    blocks.append(f"**Verdict: {body.verdict}.** {md_prose(body.answer)}")
    blocks += section("Runs with every proposed value", _listed(body.exact, body.metric))
    blocks += section("Similar runs", _listed(body.similar, body.metric))
    blocks += section("Said in earlier entries", [_mention(m) for m in body.mentions])
    blocks += section("Not recognised", [f"- {md_text(u)}" for u in body.unmatched])
    blocks += section(AUDIT_HEADING, audit_lines(body.audit))
    return document(blocks)


def _mention(m: TriedMention) -> str:
    where = f"entry {m.entry_id}" if m.entry_id is not None else f"log {m.log_id}"
    return f"- {where}, {m.date} ({m.section.replace('_', ' ')}): “{md_text(m.text)}”"


_BOUNDS = ((">=", "at least"), ("<=", "at most"), (">", "above"), ("<", "below"))


def _moved(value: str) -> str | None:
    """A move's wanted value in words ("> 31" -> "above 31"), or None for a plain value."""
    for sign, words in _BOUNDS:
        if value.startswith(sign):
            return f"{words} {value[len(sign) :].strip()}"
    return value if value.split(" ", 1)[0] in ("on", "with", "without", "higher", "lower") else None


def _asked(key: str, value: str) -> str:
    """ "lr = 0.1"; a move as it reads: "C below 1", "scale_pos_weight on", "feature_set with calendar"."""
    if not value:
        return md_text(key)
    moved = _moved(value)
    return f"{md_text(key)} {md_text(moved)}" if moved else f"{md_text(key)} = {md_text(value)}"


def _listed(notes: list[TriedRunNote], metric: str) -> list[str]:
    """The first `MAX_SHOWN` runs as a table, and how many more the JSON body lists."""
    if not notes:
        return []
    blocks = [_table(notes[:MAX_SHOWN], metric)]
    if len(notes) > MAX_SHOWN:
        blocks.append(f"… and {len(notes) - MAX_SHOWN} more ({len(notes)} in all).")
    return blocks


def _table(notes: list[TriedRunNote], metric: str) -> str:
    rows = [
        [
            cite(n.key),
            fmt(n.value) if n.value is not None else "—",
            f"{md_text(n.approach)} ({n.approach_status})" if n.approach and n.approach_status else _text(n.approach),
            ", ".join(md_text(m) for m in n.matched) or "—",
            "; ".join(
                f"{md_text(d.param)}: {_text(d.run_value, 'unset')} (proposed {_text(_proposed(d.proposed), 'unset')})"
                for d in n.differing
            )
            or "—",
        ]
        for n in notes
    ]
    return table(["Run", md_text(metric), "Approach", "Matched", "Differs"], rows)


def _proposed(value: str | None) -> str | None:
    return (_moved(value) or value) if value else value


def _text(value: str | None, missing: str = "—") -> str:
    return md_text(value) if value else missing
