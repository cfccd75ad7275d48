"""Labbook's section of an MLflow run's description (`mlflow.note.content`) and its `labbook.*` tags. Pure text.

The section sits between two HTML comments, which the MLflow UI's Markdown does not show:

    <a human's note, kept as written>

    <!-- labbook:begin -->
    **Labbook**
    - 2026-11-25 · Class weights beat SMOTE. · [entry 12](https://labbook.example/v1/entries/12)
    <!-- labbook:end -->

`merge_note` replaces an old section in place (so text a human wrote above or below it stays where it was) or,
the first time, appends the section below the human's note. The whole note is kept within `MAX_VALUE_BYTES`
(MLflow's portable limit; servers truncate silently past 8000): older entries are dropped first (a last line links
to the project's full list), then the TL;DR of the one remaining entry is shortened, then dropped; the link of
every entry shown is always kept. The human's text is never cut: a human note that alone fills the budget gets the
minimal section (the newest entry's date and link, and the "more" line), even if the note then exceeds the budget.
A section whose end marker is missing (a server truncated it) runs to the end of the note and is replaced whole.

The MLflow UI renders the note as Markdown, so a TL;DR (a person's words) is escaped like every Markdown answer
(`md_text`): HTML shows as text, and no TL;DR can open or close the comments that mark the section.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from app.compose.escape import md_text, one_line
from app.compose.labels import named

BEGIN = "<!-- labbook:begin -->"
END = "<!-- labbook:end -->"
NOTE_KEY = "mlflow.note.content"
ENTRY_IDS_KEY = "labbook.entry_ids"
MAX_KEY_CHARS = 250
MAX_VALUE_BYTES = 5000
HEADING = "**Labbook**"
_ELLIPSIS = "…"
_SECTION_RE = re.compile(re.escape(BEGIN) + r".*?(?:" + re.escape(END) + r"|\Z)", re.DOTALL)


@dataclass(frozen=True)
class NoteEntry:
    """One entry about the run, as its line in the section shows it."""

    id: int
    day: date
    tldr: str


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def entry_url(public_url: str, entry_id: int) -> str:
    return f"{public_url.rstrip('/')}/v1/entries/{entry_id}"


def entries_url(public_url: str, project_slug: str) -> str:
    return f"{public_url.rstrip('/')}/v1/projects/{project_slug}/entries"


def human_text(note: str | None) -> str:
    """The note without Labbook's section(s): what a human wrote."""
    return _SECTION_RE.sub("", note or "").strip()


def merge_note(existing: str | None, section: str) -> str:
    """`existing` with its Labbook section replaced by `section` (in place), or `section` appended below it."""
    existing = existing or ""
    match = _SECTION_RE.search(existing)
    if match is None:
        human = existing.rstrip()
        return f"{human}\n\n{section}" if human else section
    before = existing[: match.start()]
    after = _SECTION_RE.sub("", existing[match.end() :])  # a second (duplicated) section goes too
    return f"{before}{section}{after}"


def build_note(
    existing: str | None,
    entries: Sequence[NoteEntry],
    *,
    public_url: str,
    project_slug: str,
    max_bytes: int = MAX_VALUE_BYTES,
) -> str:
    """The run's whole new note: the human's text and a section listing `entries`, within `max_bytes` if possible.
    No entries (the last one stopped citing the run): the section is removed, the human's text stays."""
    if not entries:
        return _SECTION_RE.sub("", existing or "").rstrip()
    # Measure the human's text where it will stand: with an empty section merged in, exactly as the real one will be.
    placeholder = merge_note(existing, BEGIN + END)
    budget = max_bytes - utf8_len(placeholder) + utf8_len(BEGIN + END)
    return merge_note(
        existing, render_section(entries, public_url=public_url, project_slug=project_slug, budget=budget)
    )


def render_section(entries: Sequence[NoteEntry], *, public_url: str, project_slug: str, budget: int) -> str:
    """The section, newest entry first, trimmed to `budget` UTF-8 bytes (see the module docstring for how)."""
    ordered = sorted(entries, key=lambda e: (e.day, e.id), reverse=True)
    more = entries_url(public_url, project_slug)
    for keep in range(len(ordered), 0, -1):
        text = _section(ordered[:keep], len(ordered) - keep, public_url=public_url, more_url=more)
        if utf8_len(text) <= budget:
            return text
    if not ordered:
        return _section([], 0, public_url=public_url, more_url=more)
    newest, rest = ordered[0], len(ordered) - 1
    shortened = _shortened(newest, rest, public_url=public_url, more_url=more, budget=budget)
    if shortened is not None:
        return shortened
    return _section([NoteEntry(newest.id, newest.day, "")], rest, public_url=public_url, more_url=more)


def _shortened(entry: NoteEntry, rest: int, *, public_url: str, more_url: str, budget: int) -> str | None:
    """The section with the longest prefix of the entry's TL;DR (and "…") that fits; None if not even one char."""
    tldr = one_line(entry.tldr)  # cut as written, then escaped whole by `_line`: no escape is cut in half
    low, high, best = 1, len(tldr), None
    while low <= high:
        mid = (low + high) // 2
        short = NoteEntry(entry.id, entry.day, tldr[:mid].rstrip() + _ELLIPSIS)
        text = _section([short], rest, public_url=public_url, more_url=more_url)
        if utf8_len(text) <= budget:
            best, low = text, mid + 1
        else:
            high = mid - 1
    return best


def _section(entries: Sequence[NoteEntry], more: int, *, public_url: str, more_url: str) -> str:
    lines = [BEGIN, HEADING, *(_line(e, public_url) for e in entries)]
    if more:
        lines.append(f"- {more} more {'entry' if more == 1 else 'entries'}: {more_url}")
    lines.append(END)
    return "\n".join(lines)


def _line(entry: NoteEntry, public_url: str) -> str:
    tldr = named(md_text(entry.tldr))  # a full run ID in a TL;DR reads as the run's label
    parts = [entry.day.isoformat(), *([tldr] if tldr else []), f"[entry {entry.id}]({entry_url(public_url, entry.id)})"]
    return "- " + " · ".join(parts)


def entry_ids_value(entry_ids: Iterable[int], *, max_bytes: int = MAX_VALUE_BYTES) -> str:
    """Comma-separated ids, ascending; when they do not fit, the oldest (lowest) are dropped."""
    ids = sorted(set(entry_ids))
    while ids and utf8_len(",".join(map(str, ids))) > max_bytes:
        ids = ids[max(1, len(ids) // 20) :]  # drop 5% at a time: hundreds of ids are trimmed in a few steps
    return ",".join(map(str, ids))


def check_tags(tags: dict[str, str]) -> dict[str, str]:
    """The tags unchanged; ValueError if a key or value is outside MLflow's limits (a bug, never user input)."""
    for key, value in tags.items():
        if not key or len(key) > MAX_KEY_CHARS:
            raise ValueError(f"tag key {key[:40]!r}... is not 1-{MAX_KEY_CHARS} characters")
        if key != NOTE_KEY and utf8_len(value) > MAX_VALUE_BYTES:
            raise ValueError(f"tag {key!r} is {utf8_len(value)} bytes, over {MAX_VALUE_BYTES}")
    return tags


def run_tags(
    existing_note: str | None,
    entries: Sequence[NoteEntry],
    *,
    public_url: str,
    project_slug: str,
) -> dict[str, str]:
    """Every tag Labbook writes to one run: its note and `labbook.entry_ids`."""
    note = build_note(existing_note, entries, public_url=public_url, project_slug=project_slug)
    return check_tags({NOTE_KEY: note, ENTRY_IDS_KEY: entry_ids_value(e.id for e in entries)})
