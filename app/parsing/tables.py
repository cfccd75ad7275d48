"""Turning a pasted table of ML runs into rows of runs.

Data scientists keep run tables in notebooks, wikis and spreadsheets, as Markdown pipe tables or CSV. This module
reads either, decides what each column means from its header (run ID, run name, model, hyperparameters, metrics,
tags, notes) and returns plain rows. What it cannot read raises `RunTableInvalid` naming the line and the column,
and what it had to interpret becomes a `TableWarning`, so the user can see every guess that was made.
Deciding what a column means lives in `app.parsing.columns`, and splitting packed params/tags cells in
`app.parsing.packed`; this module reads the cells and fills the rows.

Besides params, metrics and tags, a row carries the run attributes its table records, in `ParsedRow.fields`
(keys in `RUN_FIELDS`): status in MLflow's words, start and end time (UTC), duration in seconds, owner, git
commit, hardware, and the seed and data version also read from the params of those names. What the table does not
record is absent, never guessed; the one thing derived is end = start + duration (or duration = end - start) for
a run that is not still running.

A Weights & Biases runs-table export (`ParsedTable.wandb`) is read with W&B's conventions: Name is the run name,
ID the run ID, State the status (W&B's word also kept as the tag `wandb.state`, since "crashed" and "failed" both
become FAILED), Created the start time, Runtime the duration in seconds, User the owner, Tags one tag per label
(`label=true`, like any tags column), Notes the notes, and Sweep, Group, Job Type, Agent and Hostname the tags
`wandb.sweep`, `wandb.group`, ... (a sweep is not a run, so it is not made the parent run). Config columns are
params, summary columns are metrics when numeric (a summary cell that is not a number, such as a histogram or an
artifact name, is skipped with a warning instead of rejecting the export), and W&B's `_step`, `_runtime`,
`_timestamp` and `_wandb` keys are ignored.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from app.errors import RunTableInvalid
from app.parsing.agent import (
    AGENT_STATUS_WORDS,
    CHANGE_PARAM,
    KEEP_WORDS,
    accumulate,
    read_change,
    row_key,
    row_name,
    says_baseline,
)
from app.parsing.columns import (
    EMPTY_TEXT,
    FIELD_MAX_LENGTH,
    GIT_COMMIT_RE,
    Column,
    Role,
    build_vocabulary,
    classify_columns,
    is_keyless,
    is_wandb_export,
    normalize_metric_name,
    parse_time,
    status_word,
)
from app.parsing.numbers import parse_number
from app.parsing.packed import packed_items

__all__ = [
    "Column",
    "ParsedRow",
    "ParsedTable",
    "RUN_FIELDS",
    "Role",
    "TableFormat",
    "TableWarning",
    "detect_format",
    "normalize_metric_name",
    "parse_run_table",
]

TableFormat = Literal["markdown", "csv", "tsv"]

_SEPARATOR_CELL_RE = re.compile(r":?-+:?")
_UNESCAPED_PIPE_RE = re.compile(r"(?<!\\)\|")
_MARKDOWN_WRAPPERS = ("**", "__", "`", "*")
_CSV_DELIMITERS = (",", ";", "\t")

# The run attributes a row may carry in `ParsedRow.fields`, named as the Run model's fields.
RUN_FIELDS = (
    "status",
    "start_time",
    "end_time",
    "duration_s",
    "owner",
    "git_commit",
    "hardware",
    "seed",
    "data_version",
)
# Params that also give a run attribute, as the key is written in a column header (normalized) or a packed cell.
_SEED_PARAMS = ("seed", "random_seed", "random_state", "rng_seed", "Seed")
_DATA_VERSION_PARAMS = ("data_version", "dataset_version")
_FIELD_PARAMS = frozenset(_SEED_PARAMS + _DATA_VERSION_PARAMS)
_NOT_ENDED = frozenset({"RUNNING", "SCHEDULED"})


@dataclass(frozen=True)
class TableWarning:
    """Something read by interpretation rather than literally; `column` is the header as written."""

    line: int
    column: str | None
    message: str


@dataclass(frozen=True)
class ParsedRow:
    """One run as read from one table row; `line` is where the row starts in the submitted text."""

    line: int
    run_id: str | None
    run_name: str | None
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]
    notes: str | None
    warnings: tuple[TableWarning, ...]
    # Run attributes the table records (keys in RUN_FIELDS), only those with a value.
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The stored run's key: its run ID, or `name:<run name>` for a run known only by name."""
        return self.run_id if self.run_id else f"name:{self.run_name}"


@dataclass(frozen=True)
class ParsedTable:
    """The whole table: the format it was read as, what each column means, and its rows in order.

    `wandb` is set when the table is a Weights & Biases runs export, read with W&B's column conventions."""

    format: TableFormat
    columns: tuple[Column, ...]
    rows: tuple[ParsedRow, ...]
    wandb: bool = False


@dataclass(frozen=True)
class _Grid:
    """The cells of a table before any meaning is given to them, each row with its line number."""

    header_line: int
    header: tuple[str, ...]
    rows: tuple[tuple[int, tuple[str, ...]], ...]


@dataclass
class _RowBuilder:
    """A row being filled column by column; frozen into a `ParsedRow` at the end."""

    line: int
    wandb: bool = False
    run_id: str | None = None
    run_name: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    warnings: list[TableWarning] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)
    # The row's cells as written and the table's columns, for what is read across rows (an agent log's row keys).
    cells: tuple[str, ...] = ()
    columns: tuple[Column, ...] = ()

    def warn(self, column: Column | None, message: str) -> None:
        self.warnings.append(TableWarning(self.line, column.header if column else None, message))

    def build(self) -> ParsedRow:
        if not _FIELD_PARAMS.isdisjoint(self.params):
            self._fields_from_params("seed", _SEED_PARAMS)
            self._fields_from_params("data_version", _DATA_VERSION_PARAMS)
        if "start_time" in self.fields:
            self._derive_times()
        notes = "; ".join(self.notes) or None
        return ParsedRow(
            self.line,
            self.run_id,
            self.run_name,
            self.params,
            self.metrics,
            self.tags,
            notes,
            tuple(self.warnings),
            self.fields,
        )

    def _fields_from_params(self, name: str, keys: tuple[str, ...]) -> None:
        """The seed (or data version) is also a run attribute, when the params give exactly one value for it."""
        given = {key: self.params[key] for key in keys if key in self.params}
        if not given:
            return
        values = set(given.values())
        if len(values) > 1:
            written = " and ".join(f'{key}="{value}"' for key, value in given.items())
            self.warn(None, f"{written} disagree; {name.replace('_', ' ')} left empty")
            return
        (value,) = values
        if len(value) > FIELD_MAX_LENGTH[name]:
            self.warn(None, f"{name.replace('_', ' ')} longer than {FIELD_MAX_LENGTH[name]} characters; left empty")
            return
        self.fields[name] = value

    def _derive_times(self) -> None:
        """end = start + duration, or duration = end - start, for a run that has ended (or whose status is not
        given); a running run's runtime is how long it has run so far, not when it ended."""
        start = self.fields["start_time"]
        if self.fields.get("status") in _NOT_ENDED:
            return
        end, duration = self.fields.get("end_time"), self.fields.get("duration_s")
        if end is None and duration is not None:
            self.fields["end_time"] = start + timedelta(seconds=duration)
        elif end is not None and duration is None and end >= start:
            self.fields["duration_s"] = (end - start).total_seconds()


# --- Public API ---------------------------------------------------------------------------------------------------


def detect_format(text: str) -> TableFormat:
    """Markdown if the first non-blank line has a "|": a CSV header with a pipe in it is rarer than a pipe table.
    Tab-separated when that line has more tabs than commas and than semicolons (a research agent's `results.tsv`)."""
    for line in _lines(text):
        if line.strip():
            if "|" in line:
                return "markdown"
            return "tsv" if line.count("\t") > max(line.count(","), line.count(";")) else "csv"
    return "csv"


def parse_run_table(
    text: str,
    *,
    format: TableFormat | None = None,
    metric_aliases: Mapping[str, str] | None = None,
    known_metrics: Collection[str] = (),
    read_words: WordsReader | None = None,
) -> ParsedTable:
    """Read a pasted Markdown or CSV table of runs; raise `RunTableInvalid` naming the line of the first problem."""
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise RunTableInvalid("the table is empty")
    table_format = format or detect_format(text)
    if table_format == "markdown":
        grid = _read_markdown(text)
    else:
        grid = _read_csv(text, "\t" if table_format == "tsv" else None)
    _check_shape(grid)
    columns = classify_columns(
        grid.header,
        grid.header_line,
        [cells for _, cells in grid.rows],
        build_vocabulary(metric_aliases, known_metrics),
    )
    wandb = is_wandb_export(grid.header)
    if is_keyless(columns):
        read = [_read_row(line, cells, columns) for line, cells in grid.rows]
        rows = tuple(b.build() for b in agent_rows(read, read_words))
    else:
        rows = tuple(_parse_row(line, cells, columns, wandb=wandb) for line, cells in grid.rows)
    _check_unique_runs(rows, wandb=wandb)
    return ParsedTable(table_format, columns, rows, wandb)


# --- Reading cells ------------------------------------------------------------------------------------------------


def _lines(text: str) -> list[str]:
    """Split on newlines only (not on the form feeds `str.splitlines` also honours), so line numbers match editors."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _read_markdown(text: str) -> _Grid:
    """Collect the pipe-table lines; blank lines around the table are fine, any other text is an error."""
    records: list[tuple[int, tuple[str, ...]]] = []
    ended_at: int | None = None
    for number, line in enumerate(_lines(text), start=1):
        if not line.strip():
            if records and ended_at is None:
                ended_at = number
            continue
        if not _UNESCAPED_PIPE_RE.search(line):
            raise RunTableInvalid(
                f'line {number}: "{line.strip()}" is not part of the table (table lines have "|" between cells); '
                "remove it",
                line=number,
            )
        if ended_at is not None:
            raise RunTableInvalid(
                f"line {number}: a second table starts after the blank line {ended_at}; paste one table at a time",
                line=number,
            )
        cells = _split_pipes(line)
        if not all(_SEPARATOR_CELL_RE.fullmatch(cell) for cell in cells):
            records.append((number, cells))
    return _grid(records)


def _split_pipes(line: str) -> tuple[str, ...]:
    """Cells of one pipe-table line: outer pipes optional, `\\|` is a literal pipe, cells trimmed."""
    body = line.strip()
    body = body.removeprefix("|")
    if body.endswith("|") and not body.endswith("\\|"):
        body = body[:-1]
    return tuple(_clean_markdown_cell(cell.replace("\\|", "|")) for cell in _UNESCAPED_PIPE_RE.split(body))


def _clean_markdown_cell(cell: str) -> str:
    """Trim, and unwrap `code`, **bold** and *italic*: people bold the best run, the value is unchanged."""
    cell = cell.strip()
    for wrapper in _MARKDOWN_WRAPPERS:
        inner = cell[len(wrapper) : -len(wrapper)]
        if cell.startswith(wrapper) and cell.endswith(wrapper) and inner.strip() and wrapper not in inner:
            return inner.strip()
    return cell


def _read_csv(text: str, delimiter: str | None = None) -> _Grid:
    """Read CSV (or, with `delimiter` tab, TSV) with the csv module (quoted cells may hold delimiters and
    newlines); skip blank rows. Without a delimiter, the header line's is used."""
    lines = _lines(text)
    reader = csv.reader(
        (line + "\n" for line in lines),
        delimiter=delimiter or _sniff_delimiter(lines),
        skipinitialspace=True,
        strict=True,
    )
    records: list[tuple[int, tuple[str, ...]]] = []
    start = 1
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                records.append((start, tuple(cell.strip() for cell in cells)))
            start = reader.line_num + 1
    except csv.Error as error:
        raise RunTableInvalid(_csv_error_message(start, error), line=start) from None
    return _grid(records)


def _sniff_delimiter(lines: Sequence[str]) -> str:
    """The delimiter used most in the header line, among ",", ";" and tab; a comma on ties or when there is none."""
    header = next((line for line in lines if line.strip()), "")
    return max(_CSV_DELIMITERS, key=header.count)


def _csv_error_message(line: int, error: csv.Error) -> str:
    """Explain the csv module's terse errors in terms of what the user typed."""
    if "unexpected end of data" in str(error):
        return f"line {line}: a quoted cell that starts in this row is never closed (missing '\"')"
    return f"line {line}: could not read the row as CSV ({error})"


def _grid(records: list[tuple[int, tuple[str, ...]]]) -> _Grid:
    """The first non-blank record is the header, the rest are rows."""
    if not records:
        raise RunTableInvalid("the table is empty")
    (header_line, header), *rows = records
    return _Grid(header_line, header, tuple(rows))


def _check_shape(grid: _Grid) -> None:
    """A table needs rows, and every row needs one cell per header column."""
    if not grid.rows:
        raise RunTableInvalid(f"line {grid.header_line}: the table has a header but no rows", line=grid.header_line)
    for line, cells in grid.rows:
        if len(cells) != len(grid.header):
            raise RunTableInvalid(f"line {line}: expected {len(grid.header)} cells, got {len(cells)}", line=line)


# --- Reading rows -------------------------------------------------------------------------------------------------


def _read_row(line: int, cells: tuple[str, ...], columns: tuple[Column, ...], *, wandb: bool = False) -> _RowBuilder:
    """Let each column read its cell."""
    row = _RowBuilder(line, wandb, cells=cells, columns=columns)
    for column in columns:
        _CELL_READERS[column.role](row, column, cells[column.index])
    return row


def _parse_row(line: int, cells: tuple[str, ...], columns: tuple[Column, ...], *, wandb: bool = False) -> ParsedRow:
    """Let each column read its cell, then insist on something that identifies the run."""
    row = _read_row(line, cells, columns, wandb=wandb)
    if row.run_id is None and row.run_name is None:
        headers = " or ".join(f'"{c.header}"' for c in columns if c.role in ("run_id", "run_name"))
        raise RunTableInvalid(f"line {line}: the row has no run ID or run name; fill in column {headers}", line=line)
    return row.build()


_CHANGE_HEADERS = ("description", "change", "changes")
# Reads a change written in words into settings against the log's own key=value changes; None when it cannot.
WordsReader = Callable[[str, Sequence[Mapping[str, str]]], dict[str, str] | None]
_TAG_LENGTH = 500


def agent_rows(rows: list[_RowBuilder], read_words: WordsReader | None = None) -> list[_RowBuilder]:
    """Key, name and configure the rows of a table that names no run: a research agent's result log.

    Each row is keyed by its position and cells (`agent.row_key`) and named `#N <description>`. The status word
    (`keep`, `discard`, `crash`) is the tag `status` (`_read_status`); the description is the change: the tag `change`,
    its `key=value` pairs parameters, its other words read by `read_words` into settings against the log's own
    `key=value` changes ("increase LR to 0.04" -> lr=0.04), else kept as the parameter `change`. A crashed row's
    metric of 0 is the log's placeholder, dropped. With keep verdicts, each row's parameters are its parent's
    overlaid with its own (`agent.accumulate`)."""
    if not rows:
        return rows
    columns = rows[0].columns
    notes = [column for column in columns if column.role == "notes"]
    change = next((c for c in notes if normalize_metric_name(c.header) in _CHANGE_HEADERS), notes[0] if notes else None)
    words: list[str | None] = []
    changes: list[tuple[_RowBuilder, dict[str, str], str | None]] = []
    for position, row in enumerate(rows, start=1):
        description = _text(row.cells[change.index]) if change is not None else None
        row.run_id = row_key(position, row.cells)
        row.run_name = row_name(position, description)
        words.append(row.tags.get("status"))
        if description is not None:
            row.tags.setdefault("change", description[:_TAG_LENGTH])
            if says_baseline(description):
                row.tags.setdefault("baseline", "true")
            changes.append((row, *read_change(description)))
        if row.fields.get("status") == "FAILED":
            for metric in [name for name, value in row.metrics.items() if value == 0]:
                del row.metrics[metric]
                row.warn(None, f"{metric} 0 on a crashed row is a placeholder, not a result; not stored")
    assigned = [assignments for _, assignments, _ in changes if assignments]
    for row, assignments, said in changes:
        assert change is not None  # a row has a description only through the change column
        read = read_words(said, assigned) if said is not None and read_words is not None else None
        for key, value in {**(read or {}), **assignments}.items():
            _put(row, row.params, key, value, change)
        if said is not None and read is None:
            _put(row, row.params, CHANGE_PARAM, said, change)
    if any(word in KEEP_WORDS for word in words):
        configured = accumulate([(row.params, word) for row, word in zip(rows, words, strict=True)])
        for row, params in zip(rows, configured, strict=True):
            row.params = params
    return rows


def _check_unique_runs(rows: Sequence[ParsedRow], *, wandb: bool = False) -> None:
    """One table describes each run once: a run is keyed by its ID, or by its name when it has no ID."""
    first_lines: dict[tuple[str, str], int] = {}
    for row in rows:
        key = ("run ID", row.run_id) if row.run_id is not None else ("run name", row.run_name or "")
        if key in first_lines:
            hint = (
                "; W&B run names need not be unique: export with the run ID column shown"
                if wandb and key[0] == "run name"
                else ""
            )
            raise RunTableInvalid(
                f'line {row.line}: {key[0]} "{key[1]}" appears twice (lines {first_lines[key]} and {row.line}){hint}',
                line=row.line,
            )
        first_lines[key] = row.line


def _text(value: str) -> str | None:
    """A text cell's value, None when it is empty or a dash."""
    value = value.strip()
    return None if value in EMPTY_TEXT else value


def _key_of(column: Column) -> str:
    """The key of a param/metric/tag column, which classification always sets."""
    assert column.name is not None, f"column {column.header!r} with role {column.role} has no key"
    return column.name


def _put(row: _RowBuilder, target: dict[str, str], key: str, value: str, column: Column) -> None:
    """Store a param or tag; when two cells give the same key, the first wins and the user is told."""
    text = _text(value)
    if text is None or not key:
        return
    if key in target and target[key] != text:
        row.warn(column, f'"{key}" given twice ("{target[key]}" and "{text}"); kept "{target[key]}"')
        return
    target[key] = text


def _read_run_id(row: _RowBuilder, column: Column, value: str) -> None:
    row.run_id = _text(value)


def _read_run_name(row: _RowBuilder, column: Column, value: str) -> None:
    row.run_name = _text(value)


def _read_model(row: _RowBuilder, column: Column, value: str) -> None:
    _put(row, row.params, "model", value, column)


def _read_param(row: _RowBuilder, column: Column, value: str) -> None:
    _put(row, row.params, _key_of(column), value, column)


def _read_tag(row: _RowBuilder, column: Column, value: str) -> None:
    _put(row, row.tags, _key_of(column), value, column)


def _read_notes(row: _RowBuilder, column: Column, value: str) -> None:
    text = _text(value)
    if text is not None:
        row.notes.append(text)


def _read_ignored(row: _RowBuilder, column: Column, value: str) -> None:
    """Index columns carry nothing about the run."""


def _read_metric(row: _RowBuilder, column: Column, value: str) -> None:
    """A metric must be a number; a missing value is just absent, an interpreted one comes with a warning."""
    try:
        parsed = parse_number(value)
    except ValueError as error:
        if row.wandb:  # a W&B summary holds text, histograms and media too: not metrics, but no reason to refuse
            row.warn(column, f"{error}; not stored as a metric")
            return
        raise RunTableInvalid(f'line {row.line}, column "{column.header}": {error}', line=row.line) from None
    if parsed.warning is not None:
        row.warn(column, parsed.warning)
    if parsed.value is not None:
        row.metrics[_key_of(column)] = parsed.value


def _read_packed_params(row: _RowBuilder, column: Column, value: str) -> None:
    """`lr=0.05, depth=6`: each pair is a param; a word that is not a pair is kept in the notes, not lost."""
    for key, item in packed_items(value, split_words=False):
        if item is None:
            row.warn(column, f"could not read '{key}' as key=value; kept in notes")
            row.notes.append(key)
        else:
            _put(row, row.params, key, item, column)


def _read_packed_tags(row: _RowBuilder, column: Column, value: str) -> None:
    """`team=nlp, baseline`: pairs are tags, a bare word w is the tag w=true. W&B's Tags cell lists free-text labels
    separated by commas: each label, as written, is the tag label=true."""
    if row.wandb:
        for label in value.split(","):
            _put(row, row.tags, label.strip(), "true", column)
        return
    for key, item in packed_items(value, split_words=True):
        if item is None:
            _put(row, row.tags, key.lstrip("#"), "true", column)
        else:
            _put(row, row.tags, key, item, column)


def _read_status(row: _RowBuilder, column: Column, value: str) -> None:
    """MLflow's word for the status; a W&B export also keeps W&B's own word as the tag `wandb.state`."""
    text = _text(value)
    if text is None:
        return
    if row.wandb:
        _put(row, row.tags, "wandb.state", text.lower(), column)
    elif text.lower() in AGENT_STATUS_WORDS:  # an agent's verdict: keep, discard, crash
        _put(row, row.tags, "status", text.lower(), column)
    word = status_word(text)
    if word is None:
        row.warn(column, f'"{text}" is not a run status; status left empty')
        return
    row.fields["status"] = word


def _read_time(row: _RowBuilder, column: Column, value: str, name: str) -> None:
    text = _text(value)
    if text is None:
        return
    parsed = parse_time(text)
    if parsed is None:
        row.warn(column, f'"{text}" is not an ISO 8601 date and time; {name.replace("_", " ")} left empty')
        return
    when, zoned = parsed
    if not zoned:
        row.warn(column, f'"{text}" has no time zone; read as UTC')
    row.fields[name] = when


def _read_start_time(row: _RowBuilder, column: Column, value: str) -> None:
    _read_time(row, column, value, "start_time")


def _read_end_time(row: _RowBuilder, column: Column, value: str) -> None:
    _read_time(row, column, value, "end_time")


def _read_duration(row: _RowBuilder, column: Column, value: str) -> None:
    """Seconds, as W&B's Runtime gives them."""
    try:
        parsed = parse_number(value)
    except ValueError as error:
        row.warn(column, f"{error}; duration left empty")
        return
    if parsed.value is None:
        return
    if parsed.value < 0:
        row.warn(column, f'"{value.strip()}" is negative; duration left empty')
        return
    if parsed.warning is not None:
        row.warn(column, parsed.warning)
    row.fields["duration_s"] = parsed.value


def _read_text_field(row: _RowBuilder, column: Column, value: str, name: str) -> None:
    text = _text(value)
    if text is None:
        return
    limit = FIELD_MAX_LENGTH[name]
    if len(text) > limit:
        row.warn(column, f"longer than {limit} characters; {name.replace('_', ' ')} left empty")
        return
    row.fields[name] = text


def _read_owner(row: _RowBuilder, column: Column, value: str) -> None:
    _read_text_field(row, column, value, "owner")


def _read_hardware(row: _RowBuilder, column: Column, value: str) -> None:
    _read_text_field(row, column, value, "hardware")


def _read_git_commit(row: _RowBuilder, column: Column, value: str) -> None:
    text = _text(value)
    if text is None:
        return
    if GIT_COMMIT_RE.fullmatch(text) is None:
        row.warn(column, f'"{text}" is not a git commit hash; git commit left empty')
        return
    row.fields["git_commit"] = text.lower()


_CELL_READERS: Mapping[Role, Callable[[_RowBuilder, Column, str], None]] = {
    "run_id": _read_run_id,
    "run_name": _read_run_name,
    "model": _read_model,
    "params": _read_packed_params,
    "param": _read_param,
    "metric": _read_metric,
    "tags": _read_packed_tags,
    "tag": _read_tag,
    "notes": _read_notes,
    "ignored": _read_ignored,
    "status": _read_status,
    "start_time": _read_start_time,
    "end_time": _read_end_time,
    "duration": _read_duration,
    "owner": _read_owner,
    "git_commit": _read_git_commit,
    "hardware": _read_hardware,
}
