"""The log entry under the contract every kind follows: composed into a `Composed`, rendered from its body, held to
its grounding check, and marked with a `grounding_failed` warning per problem when the check fails (the entry is
still stored: a brain dump's entry is never lost to a composer bug)."""

from __future__ import annotations

from collections.abc import Sequence

from app.compose.contract import Composed, Sources
from app.compose.log_entry.composer import compose_log_entry
from app.compose.log_entry.facts import ProjectFacts, RunFacts
from app.compose.log_entry.grounding import check_grounding
from app.compose.log_entry.markdown import render_log_entry
from app.compose.log_entry.schema import EntryWarning, LogEntry, RelatedWork

KIND = "log_entry"


def compose_entry(
    text: str,
    *,
    runs: Sequence[RunFacts],
    project: ProjectFacts,
    title: str,
    run_ids: Sequence[str] = (),
    table_run_ids: Sequence[str] = (),
    related: Sequence[RelatedWork] = (),
) -> Composed:
    """The dump structured against the stored runs, with its Markdown under `title`; `related` are the earlier
    passages retrieval found close to it (the caller looked them up)."""
    entry = compose_log_entry(text, runs=runs, project=project, run_ids=run_ids, table_run_ids=table_run_ids)
    if related:
        entry = entry.model_copy(update={"related": list(related)})
    return composed_from(entry, title=title)


def composed_from(entry: LogEntry, *, title: str) -> Composed:
    return Composed(KIND, entry, render_markdown(entry, title), list(entry.run_ids), title, entry.schema_version)


def render_markdown(body: LogEntry, title: str) -> str:
    return render_log_entry(body, title=title)


def check(composed: Composed, sources: Sources) -> list[str]:
    """Every run the entry cites is stored and every number it states is written in the dump or stored."""
    if not isinstance(composed.body, LogEntry):
        raise TypeError(f"a log entry's body is a LogEntry, not {type(composed.body).__name__}")
    return list(check_grounding(composed.body, text=sources.dump, runs=sources.runs).problems)


def with_grounding_warnings(composed: Composed, problems: Sequence[str]) -> Composed:
    """The entry with one `grounding_failed` warning per problem, rendered again so its Markdown shows them."""
    if not isinstance(composed.body, LogEntry) or not problems:
        return composed
    warnings = [EntryWarning(code="grounding_failed", message=problem) for problem in problems]
    entry = composed.body.model_copy(update={"warnings": [*composed.body.warnings, *warnings]})
    return composed_from(entry, title=composed.title)
