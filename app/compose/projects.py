"""The projects a token can see, as Markdown (`GET /v1/projects` with `Accept: text/markdown`): one bullet per
project with the slug every per-project request takes, its goal, primary metric, target and deadline. Names and
goals are people's text, escaped as in every Markdown answer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from app.compose.escape import inline_code, md_text
from app.parsing.fmt import fmt


@dataclass(frozen=True)
class ProjectLine:
    slug: str
    name: str
    goal: str
    metric: str
    direction: str
    target: float | None
    deadline: date | None


def render_projects(projects: Sequence[ProjectLine]) -> str:
    """`# Projects`, then `- **name** (`slug`): goal. Primary metric `m` (max), target 0.87, due 2026-12-01.`"""
    lines = ["# Projects", ""]
    lines += [f"- {_line(p)}" for p in projects] or ["- no projects this token can see"]
    return "\n".join(lines) + "\n"


def _line(p: ProjectLine) -> str:
    goal = f": {md_text(p.goal.rstrip(' .'))}" if p.goal.strip(" .") else ""
    plan = [f"Primary metric {inline_code(p.metric)} ({p.direction})"]
    plan += [f"target {fmt(p.target)}"] if p.target is not None else []
    plan += [f"due {p.deadline.isoformat()}"] if p.deadline is not None else []
    return f"**{md_text(p.name)}** ({inline_code(p.slug)}){goal}. {', '.join(plan)}."
