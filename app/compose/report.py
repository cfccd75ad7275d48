"""A project's whole narrative as one Markdown report, for an audit: the project, its findings now, the marks people
set, every session (the brain dump verbatim, its redaction audit, its log entry with every version's who and why),
and every document, in order.

The dumps are shown verbatim in fenced blocks (a fence longer than any in the text, so nothing inside can close it);
control characters, which a terminal or viewer could act on, are shown as escapes such as `\\x1b`. The backup JSON
holds every text exactly as written; only this rendering escapes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from app.compose.escape import inline_code, md_cell, md_text

_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_FENCE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})", re.MULTILINE)
_HEADING_RE = re.compile(r"^(#{1,6})(?=\s|$)")


@dataclass(frozen=True)
class ReportProject:
    slug: str
    name: str
    goal: str
    primary_metric: str
    direction: str
    target_value: float | None
    deadline: date | None
    experiments: Sequence[str]
    created_at: datetime
    runs: int


@dataclass(frozen=True)
class ReportMark:
    approach: str
    status: str
    reason: str
    by: str  # a person, or "log N (proposed)" for a mark a brain dump proposed
    at: datetime


@dataclass(frozen=True)
class ReportRedaction:
    field: str
    occurrences: int
    removed_sha256: str
    reason: str
    by: str
    at: datetime


@dataclass(frozen=True)
class ReportVersion:
    version: int
    by: str
    provider: str
    reason: str
    at: datetime


@dataclass(frozen=True)
class ReportEntry:
    id: int
    kind: str
    version: int
    created_at: datetime
    markdown: str
    versions: Sequence[ReportVersion]


@dataclass(frozen=True)
class ReportLog:
    id: int
    session_date: date
    author: str
    channel: str
    received_at: datetime
    received_sha256: str
    text: str
    run_table: str | None
    run_table_format: str | None
    redactions: Sequence[ReportRedaction]
    entries: Sequence[ReportEntry]


def render_report(
    project: ReportProject,
    *,
    findings_markdown: str,
    marks: Sequence[ReportMark],
    logs: Sequence[ReportLog],
    documents: Sequence[ReportEntry],
    now: datetime,
) -> str:
    parts = [
        f"# Project report: {md_text(project.name)} ({inline_code(project.slug)})",
        f"Written {_when(now)} by Labbook: every session, entry and document of the project, oldest first.",
        _project_section(project),
        "## Findings now\n\n" + demote(findings_markdown.strip(), 2),
        _marks_section(marks),
        "## Sessions\n\n" + ("\n\n".join(_log_section(log) for log in logs) or "No brain dumps."),
        "## Documents\n\n" + ("\n\n".join(_entry_section(e, level=3) for e in documents) or "No documents."),
    ]
    return "\n\n".join(parts) + "\n"


def _project_section(p: ReportProject) -> str:
    target = f", target {p.target_value:g}" if p.target_value is not None else ""
    deadline = f", deadline {p.deadline.isoformat()}" if p.deadline else ""
    experiments = ", ".join(inline_code(e) for e in p.experiments) or "none"
    return "\n".join(
        [
            "## Project",
            "",
            f"- Goal: {md_text(p.goal) or 'not stated'}",
            f"- Primary metric: {inline_code(p.primary_metric)} ({p.direction}){target}{deadline}",
            f"- Linked MLflow experiments: {experiments}",
            f"- Runs stored: {p.runs}",
            f"- Created: {_when(p.created_at)}",
        ]
    )


def _marks_section(marks: Sequence[ReportMark]) -> str:
    if not marks:
        return "## Approach marks\n\nNo approach was marked by a person or proposed by a brain dump."
    head = ["## Approach marks", "", "| approach | status | reason | by | when |", "|---|---|---|---|---|"]
    cells = ((md_cell(m.approach), m.status, md_cell(m.reason), md_cell(m.by), _when(m.at)) for m in marks)
    return "\n".join([*head, *("| " + " | ".join(row) + " |" for row in cells)])


def _log_section(log: ReportLog) -> str:
    lines = [
        f"### Session {log.session_date.isoformat()}: log {log.id}, {md_text(log.author)} ({md_text(log.channel)})",
        "",
        f"Received {_when(log.received_at)}; sha256 of the dump as received {inline_code(log.received_sha256)}.",
        "",
        "Brain dump, verbatim:",
        "",
        verbatim(log.text),
    ]
    if log.run_table:
        lines += ["", f"Run table ({log.run_table_format or 'detected'}), verbatim:", "", verbatim(log.run_table)]
    for r in log.redactions:
        lines += [
            "",
            f"- Redacted {_when(r.at)} by {md_text(r.by)}: {r.occurrences} occurrence(s) in {inline_code(r.field)} "
            f"(sha256 of the removed text {inline_code(r.removed_sha256)}). "
            f"Reason: {md_text(r.reason) or 'none given'}",
        ]
    lines += [x for e in log.entries for x in ("", _entry_section(e, level=4))]
    return "\n".join(lines)


def _entry_section(entry: ReportEntry, *, level: int) -> str:
    heading = "#" * level + f" Entry {entry.id}: {entry.kind}, version {entry.version} ({_when(entry.created_at)})"
    history = [
        f"- Version {v.version}, {_when(v.at)}: "
        + (f"composed by {md_text(v.provider)}" if v.version == 1 else f"corrected by {md_text(v.by)}")
        + (f". Reason: {md_text(v.reason)}" if v.reason else "")
        for v in entry.versions
    ]
    return "\n".join([heading, "", *history, "", demote(entry.markdown.strip(), level)])


def verbatim(text: str) -> str:
    """`text` in a fenced block that nothing inside can close, its control characters shown as escapes."""
    shown = _CONTROL_RE.sub(_escaped, text)
    longest = max((len(m[1]) for m in _FENCE_RE.finditer(shown)), default=0)
    fence = "~" * max(3, longest + 1)
    return f"{fence}text\n{shown}\n{fence}"


def _escaped(match: re.Match[str]) -> str:
    code = ord(match[0])
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def demote(markdown: str, levels: int) -> str:
    """Headings `levels` deeper (at most 6), outside fenced code, so a document nests under the report's headings."""
    out: list[str] = []
    fence: str | None = None
    for line in markdown.split("\n"):
        opened = _FENCE_RE.match(line)
        if opened and (fence is None or opened[1].startswith(fence)):
            fence = None if fence else opened[1]
        elif fence is None:
            line = _HEADING_RE.sub(lambda m: "#" * min(6, len(m[1]) + levels), line)
        out.append(line)
    return "\n".join(out)


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
