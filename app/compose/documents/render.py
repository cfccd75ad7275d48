"""Markdown building blocks shared by the documents: numbers at 4 significant digits, runs by the names people know,
sections, bullet lists and tables. Pure string building.

A run is cited as its key in a code span (`cite`), the form the body's text and the grounding check read; the last
step of every document (`document`) and log entry shows each such span as the run's label (`app.compose.labels`):
`name (abcdef12)`, a link to the run in the MLflow UI when the project has a tracking server.

Every text that did not come from Labbook itself (names, a person's words, values from MLflow or a pasted table)
goes through `md_text` (`app.compose.escape`), and every sentence Labbook composed around such text through
`md_prose`, so nothing a person typed becomes markup; `table` and `cell` take cells already rendered."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from app.compose.escape import inline_code, md_prose, md_text, one_line
from app.compose.labels import RunLabels, counted, labelled, labelling, named, run_label
from app.parsing.fmt import fmt, fmt_gain, fmt_noise

__all__ = [
    "plural",
    "sentence",
    "cell",
    "cite",
    "cites",
    "counted",
    "document",
    "duration",
    "fmt",
    "fmt_gain",
    "fmt_noise",
    "labelled",
    "labelling",
    "named",
    "run_label",
    "RunLabels",
    "heading",
    "md_prose",
    "md_text",
    "one_line",
    "section",
    "table",
    "title_line",
    "versus",
]


def duration(seconds: float) -> str:
    """A compute time in seconds below 90 seconds, in minutes below 90 minutes, else in hours."""
    if seconds < 90:
        return f"{fmt(seconds)} s"
    return f"{fmt(seconds / 60)} min" if seconds < 5400 else f"{fmt(seconds / 3600)} h"


def cite(key: str) -> str:
    """A run key as inline code, surviving backticks inside it (the log entries' rendering)."""
    return inline_code(key)


CITE_LIMIT = 8


def cites(keys: Iterable[str], limit: int = CITE_LIMIT) -> str:
    """` (`a`, `b`)` or "" when there is nothing to cite; past `limit` keys, "and N more" (the body's evidence keeps
    them all), so an approach of 500 runs stays one readable line."""
    keys = list(dict.fromkeys(keys))
    if not keys:
        return ""
    shown = ", ".join(cite(k) for k in keys[:limit])
    return f" ({shown} and {len(keys) - limit} more)" if len(keys) > limit else f" ({shown})"


def versus(gain: float) -> str:
    """A gain as words before "the baseline": `0.07 better than`, `0.01 worse than` (the words carry the sign, so a
    gain never reads negative nor "+0.07 better"), `level with`."""
    if gain > 0:
        return f"{fmt(gain)} better than"
    return f"{fmt(-gain)} worse than" if gain < 0 else "level with"


def sentence(text: str) -> str:
    """A person's or the analysis's words as one escaped line (`md_text`) ending in a full stop (or the question or
    exclamation mark it has)."""
    text = one_line(text)
    return md_text(text if not text or text.endswith((".", "?", "!", "…")) else f"{text}.")


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def cell(markdown: str) -> str:
    """A table cell from Markdown already rendered (its words through `md_text`): one line, with `|` escaped, in code
    spans too (GFM splits the row before it reads the spans)."""
    return one_line(markdown).replace("|", "\\|")


def title_line(kind_title: str, project_name: str) -> str:
    """A document's title as plain text (the entry's `title`); `heading` renders it."""
    return f"{kind_title}: {one_line(project_name)}"


def heading(title: str) -> str:
    """The document's `# ` heading: its title, escaped (the project's name is a person's text)."""
    return f"# {md_text(title)}"


def section(heading: str, lines: Sequence[str], *, empty: str | None = None) -> list[str]:
    """`## heading` and its lines as one block; `empty` stands in for no lines, else the section is left out."""
    if not lines:
        return [f"## {heading}\n\n{empty}"] if empty is not None else []
    return [f"## {heading}\n\n" + "\n".join(lines)]


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def document(blocks: Iterable[str]) -> str:
    """The blocks as one document, every cited run shown by its label (`named`)."""
    return named("\n\n".join(b for b in blocks if b) + "\n")
