"""Text a person wrote, made safe for the place it goes, and still readable there as the same text.

One function per destination:

- Markdown (every Markdown answer, and the MLflow run description, which the MLflow UI renders as Markdown):
  `md_text` for a person's words inline, `md_cell` for them in a table cell, `md_prose` for a sentence Labbook
  composed around such words (its run keys already in code spans), `inline_code` for a run key or other code.
  HTML (`<script>`, `<img onerror>`, `<iframe>`, comments) arrives as entities, so it shows as text; links and
  images (`[x](javascript:...)`), emphasis, code spans and, at the start, block markers (`#`, `-`, `1.`) are
  backslash-escaped, so they show as the characters typed. Line breaks and control characters become spaces, so
  nothing can end a bullet or a table row. Digits and the `.`, `-`, `+` and `%` of a number are left as they are
  (only a leading `1.` or `- ` that would open a list is escaped), so a grounding check reads the same numbers, and
  `md_plain` undoes the escaping for it.
- Slack mrkdwn (`slack_text`) and HTML (`html_text`): the characters each of them treats as markup.
- MLflow tag values (`tag_value`): plain text, no escaping (a search filter must match the value as written), on one
  line without control characters, within MLflow's length limit.
- CSV a spreadsheet may open (`csv_cell`, `csv_text`): a text cell that a spreadsheet would run as a formula
  (`=HYPERLINK(...)`, `+cmd|...`, `-...`, `@SUM(...)`, a leading tab or carriage return) gets a leading `'`
  (OWASP's advice); numbers stay numbers. Stored values and JSON keep the text as written.
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterable

__all__ = [
    "csv_cell",
    "csv_text",
    "html_text",
    "inline_code",
    "md_cell",
    "md_plain",
    "md_prose",
    "md_text",
    "one_line",
    "slack_text",
    "tag_value",
]

# C0 and C1 controls (tab and line breaks among them), DEL, Unicode line and paragraph separators, and the
# bidirectional overrides and isolates that can make a text display as something else.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_BACKTICKS_RE = re.compile(r"`+")
_ASCII_PUNCTUATION = r"!-/:-@\[-`{-~"
# A backslash that would escape what follows it (or, at the end, whatever Labbook writes next).
_BACKSLASH_RE = re.compile(rf"\\(?=[{_ASCII_PUNCTUATION}]|$)")
_ENTITY_RE = re.compile(r"&(?=#?[0-9A-Za-z]+;)")  # `&lt;` written by a person shows as `&lt;`, not as `<`
# Code spans, emphasis, strikethrough, link and image brackets; `_` only at a word's edge (`val_auc` stays as it is:
# an underscore inside a word never makes emphasis).
_INLINE_RE = re.compile(r"[`*~\[\]]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
# What would open a block at the start of a line: a heading, a list item, a thematic break or a setext underline.
_LEADING_RE = re.compile(r"^(?:#|[-+=](?=\s|$|[-+=])|\d{1,9}(?=[.)](?:\s|$)))")
_ESCAPED_RE = re.compile(rf"\\([{_ASCII_PUNCTUATION}])")
_SLACK = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# MLflow's limit on a tag value is 5000 characters in older servers and 8000 in newer ones (`MAX_TAG_VAL_LENGTH` in
# mlflow/utils/validation.py); 5000 UTF-8 bytes holds on every server and every database backend.
MAX_TAG_VALUE_BYTES = 5000
_ELLIPSIS = "…"


def one_line(text: str) -> str:
    """`text` on one line: control characters and every run of whitespace become one space, trimmed."""
    return " ".join(_CONTROL_RE.sub(" ", text).split())


# -- Markdown ----------------------------------------------------------------------------------------------------------


def md_text(text: str) -> str:
    """A person's words inline in Markdown: on one line, and shown exactly as typed, never as markup."""
    return _escape(one_line(text), at_start=True)


def md_cell(text: str) -> str:
    """A person's words in a Markdown table cell: `md_text`, with `|` escaped so the row keeps its columns."""
    return md_text(text).replace("|", "\\|")


def md_prose(text: str) -> str:
    """A sentence Labbook composed, with a person's words in it and run keys as code spans (`inline_code`): the code
    spans are kept, everything else is escaped as `md_text` escapes it. A backtick that closes no span is escaped."""
    text = one_line(text)
    parts: list[str] = []
    start = 0
    for opening, closing in _code_spans(text):
        parts.append(_escape(text[start:opening], at_start=start == 0))
        parts.append(text[opening:closing])
        start = closing
    parts.append(_escape(text[start:], at_start=start == 0))
    return "".join(parts)


def inline_code(text: str) -> str:
    """Inline code that survives backticks inside the text (CommonMark: a longer fence, padded with spaces); a line
    break or control character becomes a space, so the span cannot end the line it is on."""
    text = _CONTROL_RE.sub(" ", text)
    ticks = max((len(run) for run in _BACKTICKS_RE.findall(text)), default=0)
    if ticks == 0:
        return f"`{text}`"
    fence = "`" * (ticks + 1)
    return f"{fence} {text} {fence}"


def md_plain(markdown: str) -> str:
    """The text `md_text` escaped, as a reader sees it: backslash escapes and entities undone (for checks that read
    the numbers a Markdown line states)."""
    return html.unescape(_ESCAPED_RE.sub(r"\1", markdown))


def _escape(text: str, *, at_start: bool) -> str:
    text = _BACKSLASH_RE.sub(r"\\\\", text)
    text = _ENTITY_RE.sub("&amp;", text).replace("<", "&lt;").replace(">", "&gt;")
    text = _INLINE_RE.sub(lambda m: "\\" + m[0], text)
    if at_start:
        text = _LEADING_RE.sub(lambda m: m[0] + "\\" if m[0][0].isdigit() else "\\" + m[0], text)
    return text


def _code_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every code span, as CommonMark finds them: a run of backticks closed by the next run of the
    same length."""
    runs = list(_BACKTICKS_RE.finditer(text))
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(runs):
        close = next((j for j in range(i + 1, len(runs)) if len(runs[j][0]) == len(runs[i][0])), None)
        if close is None:
            i += 1
            continue
        spans.append((runs[i].start(), runs[close].end()))
        i = close + 1
    return spans


# -- Slack and HTML ----------------------------------------------------------------------------------------------------


def slack_text(text: str) -> str:
    """A person's words in Slack mrkdwn: `&`, `<` and `>` as Slack's entities, so no link, mention (`<!channel>`) or
    user reference can be made from them."""
    return "".join(_SLACK.get(ch, ch) for ch in _CONTROL_RE.sub(lambda m: m[0] if m[0] == "\n" else " ", text))


def html_text(text: str) -> str:
    """A person's words in HTML text or a quoted attribute value."""
    return html.escape(_CONTROL_RE.sub(lambda m: m[0] if m[0] == "\n" else " ", text), quote=True)


# -- MLflow tags -------------------------------------------------------------------------------------------------------


def tag_value(text: str, *, max_bytes: int = MAX_TAG_VALUE_BYTES) -> str:
    """A tag value MLflow stores and its search filters match as written: one line, no control characters, at most
    `max_bytes` of UTF-8 (cut on a character boundary, with "…", when longer). No Markdown escaping."""
    value = one_line(text)
    data = value.encode("utf-8")
    if len(data) <= max_bytes:
        return value
    room = max_bytes - len(_ELLIPSIS.encode("utf-8"))
    return data[:room].decode("utf-8", errors="ignore").rstrip() + _ELLIPSIS


# -- CSV ---------------------------------------------------------------------------------------------------------------


def csv_cell(value: object) -> str:
    """One CSV cell: None is empty, numbers are written as they are, and a text a spreadsheet would run as a formula
    gets a leading `'` (a text that is a plain number, such as "-0.5", is left alone)."""
    if value is None:
        return ""
    text = str(value)
    if isinstance(value, str) and text.startswith(_FORMULA_START) and not _is_number(text):
        return "'" + text
    return text


def csv_text(header: Iterable[object], rows: Iterable[Iterable[object]]) -> str:
    """A whole CSV document (RFC 4180: quoted where needed, CRLF line ends), every cell through `csv_cell`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([csv_cell(c) for c in header])
    writer.writerows([csv_cell(c) for c in row] for row in rows)
    return out.getvalue()


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.strip() == text
