"""Markdown renderings of entries: what a person reads in a page, a Slack thread or an MLflow note.

Pure string building. The dump's words (and run names, table cells, warnings quoting them) show as they were typed
and never as markup: each goes through `app.compose.escape` (`md_text` inline, `md_cell` in a table, `md_prose`
for a warning Labbook wrote around run keys in code spans), which also keeps a line break from ending a bullet or a
row. A quoted item keeps its lines, each escaped. Numbers are shown as written in the dump (stated) or
with at most 4 significant digits (stored, `app.parsing.fmt.fmt`), so 0.858 never reads 0.8580000000000001. Runs are
cited as code spans and shown by their labels (`app.compose.labels.named`): `name (abcdef12)`, linked to MLflow.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from app.compose.escape import inline_code, md_cell, md_prose, md_text
from app.compose.labels import named
from app.compose.log_entry.schema import EntryWarning, Experiment, Item, LogEntry, StatedMetric
from app.parsing.fmt import fmt

QUOTED_NOTE = "*(quoted from the dump, not a result)*"
_ITEM_SECTIONS: tuple[tuple[str, str], ...] = (
    ("observations", "Observations"),
    ("conclusions", "Conclusions"),
    ("did_not_work", "What didn't work"),
    ("open_questions", "Open questions"),
    ("next_steps", "Next steps"),
)


def render_log_entry(entry: LogEntry, *, title: str) -> str:
    """`# title`, the TL;DR, then one `##` section per non-empty part of the entry, in reading order."""
    blocks = [f"# {md_text(title)}"]
    if entry.tldr.strip():
        blocks.append(f"**TL;DR:** {md_text(entry.tldr)}")
    blocks += _section("Hypothesis", _items(entry.hypothesis))
    blocks += _section("Experiments", _experiments(entry.experiments))
    for name, heading in _ITEM_SECTIONS:
        blocks += _section(heading, _items(getattr(entry, name)))
    blocks += _section("Related prior work", _related(entry))
    blocks += _section("Warnings", _warnings(entry.warnings))
    blocks += _section("Runs cited", [", ".join(inline_code(r) for r in entry.run_ids)] if entry.run_ids else [])
    return named("\n\n".join(blocks) + "\n")


def _related(entry: LogEntry) -> list[str]:
    """One bullet per earlier passage: where it is, its day, and its own words (escaped)."""
    lines = []
    for r in entry.related:
        where = f"entry {r.entry_id}" if r.entry_id is not None else f"log {r.log_id}"
        if r.kind != "log_entry":
            where = f"{r.kind.replace('_', ' ')} ({where})"
        lines.append(f"- {where}, {r.date}: {md_text(r.text)}")
    return ["\n".join(lines)] if lines else []


def format_number(value: float) -> str:
    """At most 4 significant digits (what the noise of a metric allows), never float noise (0.30000000000000004)."""
    return fmt(value)


def _section(heading: str, body: list[str]) -> list[str]:
    return [f"## {heading}", *body] if body else []


def _items(items: Sequence[Item]) -> list[str]:
    """Blocks: consecutive plain items form one bullet list; each quoted item is a blockquote of its own."""
    blocks: list[str] = []
    bullets: list[str] = []
    for item in items:
        if not item.quoted:
            bullets.append(f"- {md_text(item.text)}{_cites(item.run_ids)}")
            continue
        if bullets:
            blocks.append("\n".join(bullets))
            bullets = []
        blocks.append(_quote(item))
    if bullets:
        blocks.append("\n".join(bullets))
    return blocks


def _quote(item: Item) -> str:
    lines = [f"> {md_text(line)}".rstrip() for line in item.text.splitlines() or [""]]
    return "\n".join([*lines, ">", f"> {QUOTED_NOTE}{_cites(item.run_ids)}"])


def _cites(run_ids: Sequence[str]) -> str:
    return f" ({', '.join(inline_code(r) for r in run_ids)})" if run_ids else ""


def _experiments(experiments: Sequence[Experiment]) -> list[str]:
    if not experiments:
        return []
    rows = ["| Run | Change | Stated | Stored |", "|---|---|---|---|"]
    rows += [
        f"| {_run_cell(e)} | {md_cell(e.change)} | {_stated(e.stated)} | {_stored(e.stored)} |" for e in experiments
    ]
    return ["\n".join(rows)]


def _run_cell(experiment: Experiment) -> str:
    if experiment.run_id is not None:
        return inline_code(experiment.run_id).replace("|", "\\|")  # GFM splits the row before it reads the span
    if experiment.ref is not None:
        return f"{md_cell(experiment.ref)} (not a stored run)"
    return "—"


def _stated(stated: Iterable[StatedMetric]) -> str:
    parts = [f"{m.name}: {m.text}" if m.name else m.text for m in stated]
    return md_cell("; ".join(parts)) or "—"


def _stored(stored: dict[str, float]) -> str:
    return md_cell(", ".join(f"{name} {format_number(value)}" for name, value in stored.items())) or "—"


def _warnings(warnings: Sequence[EntryWarning]) -> list[str]:
    if not warnings:
        return []
    lines = []
    for w in warnings:
        where = f" (line {w.line})" if w.line is not None else ""
        lines.append(f"- **{md_text(w.code)}**{where}: {md_prose(w.message)}")
    return ["\n".join(lines)]
