"""The `tried_answer` document: has this proposal been tried? The verdict, the matching runs with their values on the
metric in force and their approach's status, and how the near matches differ."""

from __future__ import annotations

from app.analysis.model import Findings, TriedMatch, TriedRun
from app.compose.contract import Composed, DocContext
from app.compose.documents.common import approach_by_run, body_run_ids
from app.compose.documents.render import cite, document, fmt, heading, md_prose, md_text, section, table, title_line
from app.compose.documents.schemas import ParamDiff, TriedAnswer, TriedRunNote
from app.compose.labels import labelling

KIND = "tried_answer"
TITLE = "Has this been tried"


@labelling
def compose_tried(ctx: DocContext, findings: Findings, match: TriedMatch, *, proposal: str) -> Composed:
    draft = TriedAnswer(
        proposal=proposal,
        verdict=match.verdict,
        metric=findings.metric,
        params=dict(match.proposal.params),
        family=match.proposal.family,
        unmatched=list(match.proposal.unmatched),
        answer=_answer(match, findings),
        exact=[_note(t, findings) for t in match.exact],
        similar=[_note(t, findings) for t in match.similar],
        run_ids=[],
    )
    body = draft.model_copy(update={"run_ids": body_run_ids(draft.model_dump())})
    title = title_line(TITLE, ctx.project_name)
    return Composed(KIND, body, _markdown(heading(title), body), body.run_ids, title, body.schema_version)


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
    if match.verdict == "tried":
        first = match.exact[0]
        value = f" and scored {findings.metric} {fmt(first.value)}" if first.value is not None else ""
        more = f" ({len(match.exact)} runs in all)" if len(match.exact) > 1 else ""
        return f"Tried: {cite(first.key)} ran every proposed value{value}{more}."
    if match.verdict == "similar":
        return f"Similar: {len(match.similar)} runs share some of the proposed values, none all of them."
    return "New: no stored run has any of the proposed values."


def render_markdown(body: TriedAnswer, title: str) -> str:
    """The document's Markdown from its body and its title (without the leading `# `)."""
    return _markdown(heading(title), body)


def _markdown(title: str, body: TriedAnswer) -> str:
    asked = ", ".join(f"{md_text(k)} = {md_text(v)}" if v else md_text(k) for k, v in body.params.items())
    asked = asked or "no known parameter"
    blocks = [title, f"Proposal: “{md_text(body.proposal)}”", f"Read as: {asked}."]
    if body.family:
        blocks[-1] += f" Model family: {md_text(body.family)}."
    blocks.append(f"**Verdict: {body.verdict}.** {md_prose(body.answer)}")
    blocks += section("Runs with every proposed value", [_table(body.exact, body.metric)] if body.exact else [])
    blocks += section("Similar runs", [_table(body.similar, body.metric)] if body.similar else [])
    blocks += section("Not recognised", [f"- {md_text(u)}" for u in body.unmatched])
    return document(blocks)


def _table(notes: list[TriedRunNote], metric: str) -> str:
    rows = [
        [
            cite(n.key),
            fmt(n.value) if n.value is not None else "—",
            f"{md_text(n.approach)} ({n.approach_status})" if n.approach and n.approach_status else _text(n.approach),
            ", ".join(md_text(m) for m in n.matched) or "—",
            "; ".join(
                f"{md_text(d.param)}: {_text(d.run_value, 'unset')} (proposed {_text(d.proposed, 'unset')})"
                for d in n.differing
            )
            or "—",
        ]
        for n in notes
    ]
    return table(["Run", md_text(metric), "Approach", "Matched", "Differs"], rows)


def _text(value: str | None, missing: str = "—") -> str:
    return md_text(value) if value else missing
