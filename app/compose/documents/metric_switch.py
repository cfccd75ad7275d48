"""The `metric_switch` document: the primary metric changed, from what to what, from when, why, and where it was
said (a brain dump or the API, with the log entry)."""

from __future__ import annotations

from typing import Literal

from app.analysis.model import MetricSwitch
from app.compose.contract import Composed, DocContext
from app.compose.documents.render import document, heading, md_text, title_line
from app.compose.documents.schemas import MetricSwitchRecord
from app.compose.labels import labelling

KIND = "metric_switch"
TITLE = "Metric switch"


@labelling
def compose_metric_switch(
    ctx: DocContext, switch: MetricSwitch, *, source: Literal["dump", "api"], log_id: int | None
) -> Composed:
    body = MetricSwitchRecord(
        from_metric=switch.previous_metric,
        from_direction=switch.previous_direction,
        to_metric=switch.metric,
        direction=switch.direction,
        effective=switch.effective,
        reason=switch.reason,
        source=source,
        log_id=log_id,
    )
    title = title_line(TITLE, ctx.project_name)
    return Composed(KIND, body, _markdown(heading(title), body), [], title, body.schema_version)


def render_markdown(body: MetricSwitchRecord, title: str) -> str:
    """The record's Markdown from its body and its title (without the leading `# `)."""
    return _markdown(heading(title), body)


def _markdown(title: str, body: MetricSwitchRecord) -> str:
    was = f"from **{md_text(body.from_metric)}** ({body.from_direction or body.direction}) " if body.from_metric else ""
    where = "a brain dump" if body.source == "dump" else "the API"
    if body.log_id is not None:
        where += f" (log entry {body.log_id})"
    blocks = [
        title,
        f"The primary metric changes {was}to **{md_text(body.to_metric)}** ({body.direction}), effective "
        f"{body.effective.isoformat()}.",
        f"## Why\n\n{md_text(body.reason) or 'No reason given.'}",
        f"## Source\n\nRecorded from {where}. Runs are judged on the new metric from this date on: the best run, "
        "the approach statuses and the noise follow it.",
    ]
    return document(blocks)
