"""The `selection_decision` document: the criteria with their weights and why, the comparison table (raw values,
normalised scores, weighted totals, all from the `Ranking`), the decision, its rationale, and the trade-offs
accepted where the selected run is not the best on a criterion."""

from __future__ import annotations

from app.analysis.model import Findings, Ranking
from app.compose.contract import Composed, DocContext
from app.compose.documents.audit import HEADING as AUDIT_HEADING
from app.compose.documents.audit import audit_lines, audit_notes
from app.compose.documents.common import body_run_ids
from app.compose.documents.render import (
    cite,
    document,
    fmt,
    fmt_noise,
    heading,
    md_prose,
    md_text,
    section,
    table,
    title_line,
)
from app.compose.documents.schemas import (
    CriterionNote,
    FinalistRow,
    NoiseTieNote,
    ScoreCell,
    SelectionDecision,
    TradeOff,
)
from app.compose.labels import labelling
from app.errors import InputInvalid

KIND = "selection_decision"
TITLE = "Selection decision"


@labelling
def compose_decision(
    ctx: DocContext, findings: Findings, ranking: Ranking, *, selected: str | None, rationale: str, title: str | None
) -> Composed:
    rows = [
        FinalistRow(
            key=f.key,
            rank=f.rank,
            total=f.total,
            scores=[ScoreCell(criterion=s.criterion, value=s.value, score=s.score) for s in f.scores],
        )
        for f in ranking.finalists
    ]
    chosen = selected or ranking.top
    if chosen not in {r.key for r in rows}:
        raise InputInvalid(f"selected run {chosen!r} is not one of the finalists", field="selected")
    draft = SelectionDecision(
        title=title or f"Select {chosen}",
        criteria=[
            CriterionNote(
                name=c.name,
                metric=c.metric,
                direction=c.direction,
                weight=c.weight,
                normalised_weight=ranking.weights[c.name],
                why=c.why,
            )
            for c in ranking.criteria
        ],
        table=rows,
        top=ranking.top,
        selected=chosen,
        selected_is_top=chosen == ranking.top,
        rationale=rationale.strip() or _ranking_rationale(rows, chosen),
        rationale_source="person" if rationale.strip() else "ranking",
        traded=_trade_offs(rows, chosen, ranking),
        run_ids=[],
        noise_ties=[
            NoiseTieNote(
                criterion=t.criterion,
                spread=t.spread,
                seed_sd=findings.noise.std,
                believable_gain=t.believable_gain,
                top_without=t.top_without,
                decides=t.top_without is not None and t.top_without != ranking.top,
            )
            for t in ranking.noise_ties
        ],
        audit=audit_notes(ctx, findings, {row.key for row in rows}),
    )
    # The decision links its finalists (and the runs its criteria cite), not the other runs its audit names.
    body = draft.model_copy(update={"run_ids": body_run_ids(draft.model_dump(exclude={"audit"}))})
    title = title_line(TITLE, ctx.project_name)
    return Composed(KIND, body, _markdown(heading(title), body), body.run_ids, title, body.schema_version)


def _ranking_rationale(rows: list[FinalistRow], chosen: str) -> str:
    row, top = next(r for r in rows if r.key == chosen), rows[0]
    if row.key == top.key:
        return f"Highest weighted total ({fmt(row.total)}) across the criteria."
    return (
        f"No rationale given: the selected run's weighted total is {fmt(row.total)}, against {fmt(top.total)} for "
        f"the top of the ranking, {cite(top.key)}."
    )


def _trade_offs(rows: list[FinalistRow], chosen: str, ranking: Ranking) -> list[TradeOff]:
    """Each criterion where another finalist scores higher than the selected one, with the gap in raw values."""
    mine = {s.criterion: s for s in next(r for r in rows if r.key == chosen).scores}
    traded = []
    for c in ranking.criteria:
        best_row = max(rows, key=lambda r: next(s.score for s in r.scores if s.criterion == c.name))
        best = next(s for s in best_row.scores if s.criterion == c.name)
        own = mine[c.name]
        if best.score <= own.score:
            continue
        gap = abs(best.value - own.value) if best.value is not None and own.value is not None else None
        traded.append(
            TradeOff(criterion=c.name, selected_value=own.value, best_key=best_row.key, best_value=best.value, gap=gap)
        )
    return traded


def render_markdown(body: SelectionDecision, title: str) -> str:
    """The document's Markdown from its body and its title (without the leading `# `)."""
    return _markdown(heading(title), body)


def _markdown(title: str, body: SelectionDecision) -> str:
    criteria = [
        f"- **{md_text(c.name)}** ({md_text(c.metric or '') or 'scored by a person'}, "
        f"{'higher' if c.direction == 'max' else 'lower'} is better): weight {fmt(c.weight)}, "
        f"{fmt(c.normalised_weight)} normalised" + (f". Why: {md_text(c.why)}" if c.why.strip() else "")
        for c in body.criteria
    ]
    blocks = [title, f"**{md_text(body.title)}**"]
    blocks += section("Criteria", criteria)
    blocks += section("Comparison", [_table(body)])
    blocks += section("Within the noise", [_tie_line(t, body) for t in body.noise_ties])
    blocks += section("Decision", _decision(body))
    blocks += section("Rationale", [_rationale(body)])
    traded = [
        f"- {md_text(t.criterion)}: {_value(t.selected_value)} against {_value(t.best_value)} for {cite(t.best_key)}"
        + (f" (a gap of {fmt(t.gap)})" if t.gap is not None else "")
        for t in body.traded
    ]
    blocks += section("Trade-offs accepted", traded, empty="None: the selected run is best on every criterion.")
    blocks += section(AUDIT_HEADING, audit_lines(body.audit))
    blocks += section("Runs", [", ".join(cite(r) for r in body.run_ids)])
    return document(blocks)


def _decision(body: SelectionDecision) -> list[str]:
    deciding = [t for t in body.noise_ties if t.decides]
    if deciding:
        names = ", ".join(md_text(t.criterion) for t in deciding)
        note = f" The top rests on a gap within the noise on {names} (see above)."
    else:
        note = ""
    if body.selected_is_top:
        return [f"Selected {cite(body.selected)}, the top of the ranking.{note}"]
    traded = ", ".join(md_text(t.criterion) for t in body.traded) or "no criterion"
    return [
        f"Selected {cite(body.selected)}, **not** the top of the ranking ({cite(body.top)}). Traded on: {traded}.{note}"
    ]


def _tie_line(t: NoiseTieNote, body: SelectionDecision) -> str:
    """A criterion whose finalists lie within the noise, and what the decision would be without it."""
    sd = (
        f"seed sd {fmt_noise(t.seed_sd)}" if t.seed_sd is not None else "seed sd unknown, the configured minimum effect"
    )
    line = (
        f"- **{md_text(t.criterion)}**: the finalists span {fmt(t.spread)} on it, no more than the believable "
        f"gain {fmt(t.believable_gain)} ({sd}), yet normalisation scores them from 0 to 1 on it: it cannot separate "
        "them."
    )
    if t.top_without is None:
        return line + " It is the only criterion: repeat the finalists with new seeds before deciding on it."
    if t.decides:
        return line + f" Without it the top would be {cite(t.top_without)}, not {cite(body.top)}: the gap decides."
    return line + f" Without it the top is still {cite(t.top_without)}."


def _table(body: SelectionDecision) -> str:
    header = ["Rank", "Run", *(f"{md_text(c.name)} (value / score)" for c in body.criteria), "Weighted total"]
    rows = [
        [
            str(r.rank),
            cite(r.key) + (" ← selected" if r.key == body.selected else ""),
            *(f"{_value(s.value)} / {fmt(s.score)}" for s in r.scores),
            fmt(r.total),
        ]
        for r in body.table
    ]
    return table(header, rows)


def _rationale(body: SelectionDecision) -> str:
    """A person's rationale is their words; the ranking's names the top run as a code span."""
    return md_text(body.rationale) if body.rationale_source == "person" else md_prose(body.rationale)


def _value(value: float | None) -> str:
    return fmt(value) if value is not None else "—"
