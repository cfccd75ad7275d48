"""Runs by the names people know: `lgbm-lr0.05 (9b22c4f0)` instead of a 32-character run ID.

A run's label is its run name (escaped as a person's text: people name runs) and the first 8 characters of its key;
a run without a name reads `9b22c4f0`, a `name:<run name>` key reads as the name. When the project has a tracking
server, the label links to the run in the MLflow UI (`<tracking-uri>/#/experiments/<id>/runs/<run id>`).

Composers cite a run as its key in a code span (`inline_code`), the form bodies store and grounding checks read;
`named` is the last step of rendering and shows every such span, and every full run ID written out in a person's
words, as the run's label. The labels in force are set for a rendering with `labelled` (the composers take them from
their `DocContext`); without them a run reads by its short key. JSON bodies keep full keys.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, ParamSpec, Protocol, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

from app.compose.escape import md_text

__all__ = [
    "GROUP_LIMIT",
    "RunLabels",
    "counted",
    "labelled",
    "labelling",
    "listed",
    "named",
    "plain_label",
    "run_label",
    "run_url",
    "short_key",
]

SHORT = 8
NAME_PREFIX = "name:"
GROUP_LIMIT = 3  # a grouped list names this many and counts the rest
_HEX_ID_RE = re.compile(r"(?<![0-9A-Za-z/])(?:[0-9a-f]{32}|row\d+-[0-9a-f]{8})(?![0-9A-Za-z])")
# An agent log's row key (`app.parsing.agent.row_key`): its name, `#N <description>`, says which row it is.
_ROW_KEY_RE = re.compile(r"row\d+-[0-9a-f]{8}")
_TICKS_RE = re.compile(r"`+")
_HEX_KEY_RE = re.compile(r"[0-9a-f]{32}")
_URL_SAFE = ":/#?&=%+,;~!$*'.-_@"  # everything else (spaces, parentheses, brackets) is percent-encoded


@dataclass(frozen=True, slots=True)
class RunLabels:
    """The project's runs as a reader knows them: {key: run name} and {key: URL of the run in the MLflow UI}."""

    names: Mapping[str, str] = field(default_factory=dict)
    links: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, runs: Iterable[tuple[str, str | None, str | None, str | None]], *, tracking_uri: str) -> RunLabels:
        """From (key, run_id, run name, experiment_id) rows; links only for MLflow runs of an http(s) server."""
        names: dict[str, str] = {}
        links: dict[str, str] = {}
        for key, run_id, name, experiment_id in runs:
            names[key] = name or ""
            url = run_url(tracking_uri, experiment_id, run_id)
            if url:
                links[key] = url
        return cls(names, links)

    def knows(self, key: str) -> bool:
        return key in self.names


class _Labelled(Protocol):
    def labels(self) -> RunLabels: ...


_LABELS: ContextVar[RunLabels | None] = ContextVar("run_labels", default=None)
P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def labelled(labels: RunLabels) -> Iterator[RunLabels]:
    """Render with `labels` in force (runs shown by name, linked), whatever the renderer's depth."""
    token = _LABELS.set(labels)
    try:
        yield labels
    finally:
        _LABELS.reset(token)


def labelling(compose: Callable[P, R]) -> Callable[P, R]:
    """A composer whose first argument is its `DocContext`: its Markdown shows the context's runs by their labels."""

    @wraps(compose)
    def with_labels(*args: P.args, **kwargs: P.kwargs) -> R:
        ctx: Any = args[0] if args else kwargs.get("ctx")
        if ctx is None or not hasattr(ctx, "labels"):
            return compose(*args, **kwargs)
        with labelled(ctx.labels()):
            return compose(*args, **kwargs)

    return with_labels


def run_url(tracking_uri: str, experiment_id: str | None, run_id: str | None) -> str | None:
    """The run's page in the MLflow UI, or None when there is no http(s) server or the run is not an MLflow run.
    Any user name and password in the tracking URI are left out: a link is shown to everyone who reads."""
    if not (tracking_uri and experiment_id and run_id):
        return None
    parts = urlsplit(tracking_uri.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
    base = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
    return quote(f"{base}/#/experiments/{experiment_id}/runs/{run_id}", safe=_URL_SAFE)


def short_key(key: str) -> str:
    """The key's first 8 characters; a `name:` key has none (it reads as its name)."""
    return "" if key.startswith(NAME_PREFIX) else key[:SHORT]


def plain_label(key: str, name: str | None) -> str:
    """The label as plain text (a TL;DR, a tag): `name (abcdef12)`, `abcdef12`, or the name of a `name:` key."""
    if key.startswith(NAME_PREFIX) and (not name or name == key):
        name = key[len(NAME_PREFIX) :]
    if name and _ROW_KEY_RE.fullmatch(key) and name.startswith("#"):
        return name
    short = short_key(key)
    return f"{name} ({short})" if name and short and name != key and not name.startswith(short) else name or short


def run_label(key: str, *, link: bool = True) -> str:
    """The run as Markdown: `name (abcdef12)`, `abcdef12` without a name, the name of a `name:` key; linked to the
    MLflow UI when the labels in force know its page. `|` is escaped too, so a label can sit in a table cell."""
    labels = _LABELS.get() or RunLabels()
    text = md_text(plain_label(key, labels.names.get(key))).replace("|", "\\|")
    url = labels.links.get(key) if link else None
    return f"[{text}]({url})" if url else text


def named(markdown: str) -> str:
    """`markdown` with each code span that holds a run key, and each full run ID written out, as the run's label."""
    labels = _LABELS.get()
    parts: list[str] = []
    start = 0
    for opening, closing in _spans(markdown):
        parts.append(_bare_ids(markdown[start:opening], labels))
        parts.append(_span(markdown[opening:closing], labels))
        start = closing
    parts.append(_bare_ids(markdown[start:], labels))
    return "".join(parts)


def _spans(markdown: str) -> list[tuple[int, int]]:
    """(start, end) of the code spans of Markdown: a run of backticks, not escaped by a backslash (`md_text` writes a
    person's backtick as `\\``), closed by the next run of the same length."""
    runs = [m for m in _TICKS_RE.finditer(markdown) if not _escaped(markdown, m.start())]
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(runs):
        width = len(runs[i][0])
        close = next((j for j in range(i + 1, len(runs)) if len(runs[j][0]) == width), None)
        if close is None:
            i += 1
            continue
        spans.append((runs[i].start(), runs[close].end()))
        i = close + 1
    return spans


def _escaped(text: str, at: int) -> bool:
    """Whether an odd number of backslashes stands right before `at`."""
    start = at
    while start > 0 and text[start - 1] == "\\":
        start -= 1
    return (at - start) % 2 == 1


def _span(span: str, labels: RunLabels | None) -> str:
    ticks = len(span) - len(span.lstrip("`"))
    inner = span[ticks:-ticks]
    if ticks > 1 and inner.startswith(" ") and inner.endswith(" ") and inner.strip():
        inner = inner[1:-1]
    unescaped = inner.replace("\\|", "|")  # in a table row, `cell` wrote a key's `|` as `\|`
    if labels is not None and labels.knows(inner):
        return run_label(inner)
    if labels is not None and labels.knows(unescaped):
        return run_label(unescaped)
    if unescaped.startswith(NAME_PREFIX) or _HEX_KEY_RE.fullmatch(unescaped) or _ROW_KEY_RE.fullmatch(unescaped):
        return run_label(unescaped)
    return span


def _bare_ids(text: str, labels: RunLabels | None) -> str:
    """A full run ID (or an agent log's row key) in a person's words reads as its label (no link: it may sit inside
    other markup). With labels in force only the project's runs are replaced, so a 32-hex digest of a data set stays
    as written."""

    def label(match: re.Match[str]) -> str:
        key = match[0]
        return run_label(key, link=False) if labels is None or labels.knows(key) else key

    return _HEX_ID_RE.sub(label, text)


def listed(items: Sequence[str], *, limit: int = GROUP_LIMIT, total: int | None = None) -> str:
    """`a, b, c and 3 more`, `a and b`, `a`: items already rendered; `total` counts items not given too."""
    items = list(dict.fromkeys(items))
    shown = items[:limit]
    more = max(len(items), total or 0) - len(shown)
    if more > 0:
        return f"{', '.join(shown)} and {more} more" if shown else ""
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} and {shown[-1]}" if shown else ""


def counted(count: int, what: str, items: Sequence[str], *, detail: str = "", limit: int = GROUP_LIMIT) -> str:
    """One line for a list that grows with the history: `6 gains within the noise, largest +0.0064: a, b, c and 3
    more`. `count` may exceed the items given (the rest are counted, not named); `what` is the noun phrase as it goes
    with `count`, `detail` what sums the group up."""
    head = f"{count} {what}" + (f", {detail}" if detail else "")
    shown = listed(items, limit=limit, total=count)
    return f"{head}: {shown}" if shown else head
