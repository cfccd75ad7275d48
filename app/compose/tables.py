"""Turning a pasted table of ML runs into rows of runs.

Data scientists keep run tables in notebooks, wikis and spreadsheets, as Markdown pipe tables or CSV. This module
reads either, decides what each column means from its header (run ID, run name, model, hyperparameters, metrics,
tags, notes) and returns plain rows. What it cannot read raises `RunTableInvalid` naming the line and the column,
and what it had to interpret becomes a `TableWarning`, so the user can see every guess that was made.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from app.compose.numbers import parse_number
from app.errors import RunTableInvalid

Role = Literal["run_id", "run_name", "model", "params", "param", "metric", "tags", "tag", "notes", "ignored"]
TableFormat = Literal["markdown", "csv"]

# --- Column roles, keyed by the normalized header (see `normalize_metric_name`). ---------------------------------
RUN_ID_HEADERS = frozenset({"run_id", "runid", "id", "run_uuid", "mlflow_run_id", "run"})
RUN_NAME_HEADERS = frozenset({"run_name", "name", "display_name", "runname"})
MODEL_HEADERS = frozenset(
    {"model", "model_type", "algorithm", "algo", "estimator", "learner", "architecture", "arch", "model_family"}
)
PACKED_PARAMS_HEADERS = frozenset(
    "params parameters hyperparams hyperparameters key_hyperparams key_params config settings hparams".split()
)
NOTES_HEADERS = frozenset({"notes", "note", "comment", "comments", "remarks", "description", "observations"})
PACKED_TAGS_HEADERS = frozenset({"tags", "labels"})
# Index columns that spreadsheets and pandas add on their own ("Unnamed: 0"): they carry nothing about the run.
IGNORED_HEADER_RE = re.compile(r"unnamed_\d+|index|idx|row|row_no|row_number")

# Explicit prefixes force a role whatever the rest of the header says: "param.loss" is a parameter.
EXPLICIT_PREFIXES: Mapping[str, Role] = {
    "param": "param",
    "params": "param",
    "config": "param",
    "metric": "metric",
    "metrics": "metric",
    "summary": "metric",
    "tag": "tag",
    "tags": "tag",
}
_EXPLICIT_PREFIX_RE = re.compile(r"^(params?|config|metrics?|summary|tags?)\s*[.:/]\s*(.*)$", re.IGNORECASE)

# A header is a metric when one of its "_"-separated tokens (or a run of tokens) is one of these words,
# optionally followed by digits ("map10", "ap50")...
METRIC_WORDS = frozenset(
    (
        "auc roc_auc pr_auc acc accuracy f1 loss logloss rmse mae mse mape r2 precision recall ap map ndcg "
        "mrr bleu rouge perplexity ppl iou dice error err score brier ks gini kappa mcc latency throughput"
    ).split()
)
# ...or when a token ends or starts with one of these (written without a separator: "valauc", "f1score", "aucpr").
# Short or common words ("ap", "ks", "map", "acc" as a prefix) are left out: they end "heap", "blocks", "bitmap".
METRIC_SUFFIXES = tuple("auc acc accuracy f1 loss rmse mae mse mape ndcg mrr bleu iou error score".split())
METRIC_PREFIXES = ("auc", "accuracy", "f1", "rmse", "ndcg", "rouge", "bleu", "mrr")
# Split prefixes make a column a metric only when all its values are numbers ("val_split=random" is a parameter).
SPLIT_PREFIXES = ("val_", "valid_", "validation_", "test_", "train_", "eval_", "cv_", "holdout_", "oof_")
# A last token like these marks a parameter even when the header looks like a metric: "loss_fn", "test_size".
PARAM_HINT_TOKENS = frozenset(
    (
        "fn func function type kind name weight weights threshold size split frac fraction ratio seed steps "
        "epochs every interval samples batch path file dir set folds method mode strategy"
    ).split()
)

# Text cells (IDs, names, params, tags, notes) holding only these are empty.
EMPTY_TEXT = frozenset({"", "-", "--", "—", "–"})

_SEPARATOR_CELL_RE = re.compile(r":?-+:?")
_UNESCAPED_PIPE_RE = re.compile(r"(?<!\\)\|")
_NON_ALNUM_RE = re.compile(r"[\W_]+")
_MARKDOWN_WRAPPERS = ("**", "__", "`", "*")
_CSV_DELIMITERS = (",", ";", "\t")
_PACKED_SEPARATORS = ",;\n"
_BRACKETS = {"(": ")", "[": "]", "{": "}"}


@dataclass(frozen=True)
class Column:
    """One column of the table: `index` is 0-based; `name` is the param/metric/tag key for those roles."""

    index: int
    header: str
    role: Role
    name: str | None


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


@dataclass(frozen=True)
class ParsedTable:
    """The whole table: the format it was read as, what each column means, and its rows in order."""

    format: TableFormat
    columns: tuple[Column, ...]
    rows: tuple[ParsedRow, ...]


@dataclass(frozen=True)
class _Grid:
    """The cells of a table before any meaning is given to them, each row with its line number."""

    header_line: int
    header: tuple[str, ...]
    rows: tuple[tuple[int, tuple[str, ...]], ...]


@dataclass(frozen=True)
class _Vocabulary:
    """The project's own metric names: aliases (normalized alias -> canonical name) and known canonical names."""

    aliases: Mapping[str, str]
    known: frozenset[str]


@dataclass
class _RowBuilder:
    """A row being filled column by column; frozen into a `ParsedRow` at the end."""

    line: int
    run_id: str | None = None
    run_name: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    warnings: list[TableWarning] = field(default_factory=list)

    def warn(self, column: Column, message: str) -> None:
        self.warnings.append(TableWarning(self.line, column.header, message))

    def build(self) -> ParsedRow:
        notes = "; ".join(self.notes) or None
        return ParsedRow(
            self.line, self.run_id, self.run_name, self.params, self.metrics, self.tags, notes, tuple(self.warnings)
        )


# --- Public API ---------------------------------------------------------------------------------------------------


def normalize_metric_name(name: str) -> str:
    """Lowercase, runs of non-alphanumerics to "_", no "_" at the ends: "Val AUC", "val/auc" and "val-auc" agree."""
    return _NON_ALNUM_RE.sub("_", name.lower()).strip("_")


def detect_format(text: str) -> TableFormat:
    """Markdown if the first non-blank line has a "|": a CSV header with a pipe in it is rarer than a pipe table."""
    for line in _lines(text):
        if line.strip():
            return "markdown" if "|" in line else "csv"
    return "csv"


def parse_run_table(
    text: str,
    *,
    format: TableFormat | None = None,
    metric_aliases: Mapping[str, str] | None = None,
    known_metrics: Collection[str] = (),
) -> ParsedTable:
    """Read a pasted Markdown or CSV table of runs; raise `RunTableInvalid` naming the line of the first problem."""
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise RunTableInvalid("the table is empty")
    table_format = format or detect_format(text)
    grid = _read_markdown(text) if table_format == "markdown" else _read_csv(text)
    _check_shape(grid)
    columns = _classify_columns(grid, _vocabulary(metric_aliases, known_metrics))
    rows = tuple(_parse_row(line, cells, columns) for line, cells in grid.rows)
    _check_unique_runs(rows)
    return ParsedTable(table_format, columns, rows)


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


def _read_csv(text: str) -> _Grid:
    """Read CSV with the csv module (quoted cells may hold delimiters and newlines); skip blank rows."""
    lines = _lines(text)
    reader = csv.reader(
        (line + "\n" for line in lines), delimiter=_sniff_delimiter(lines), skipinitialspace=True, strict=True
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


# --- Giving columns a meaning -------------------------------------------------------------------------------------


def _vocabulary(aliases: Mapping[str, str] | None, known: Collection[str]) -> _Vocabulary:
    """Normalize the project's alias keys (and accept its known names either as given or normalized)."""
    normalized_aliases = {normalize_metric_name(alias): name for alias, name in (aliases or {}).items()}
    return _Vocabulary(normalized_aliases, frozenset(known) | {normalize_metric_name(name) for name in known})


def _classify_columns(grid: _Grid, vocabulary: _Vocabulary) -> tuple[Column, ...]:
    """Give every column a role, then reject tables that are ambiguous (duplicates) or unusable (no run key)."""
    columns = []
    for index, header in enumerate(grid.header):
        values = [cells[index] for _, cells in grid.rows]
        role, name = _column_role(header, values, vocabulary, grid.header_line, index)
        columns.append(Column(index, header, role, name))
    _check_duplicate_columns(columns, grid.header_line)
    if not any(column.role in ("run_id", "run_name") for column in columns):
        raise RunTableInvalid(
            f"line {grid.header_line}: no run ID or run name column; name one 'Run ID' or 'Run name'",
            line=grid.header_line,
        )
    return tuple(columns)


def _column_role(
    header: str, values: list[str], vocabulary: _Vocabulary, line: int, index: int
) -> tuple[Role, str | None]:
    """Explicit prefixes first, then the fixed header names, then metric detection; anything else is a param."""
    normalized = _checked_header(header, line, index)
    explicit = _EXPLICIT_PREFIX_RE.match(header.strip())
    if explicit:
        role = EXPLICIT_PREFIXES[explicit[1].lower()]
        name = _checked_header(explicit[2], line, index)
        return role, (_metric_name(name, vocabulary) if role == "metric" else name)
    fixed = _fixed_role(normalized)
    if fixed:
        return fixed, None
    metric = _metric_name(normalized, vocabulary)
    if _is_metric(normalized, metric, values, vocabulary):
        return "metric", metric
    return "param", normalized


def _checked_header(header: str, line: int, index: int) -> str:
    """The normalized header, or an error when there is nothing in it to name a key after."""
    if not header.strip():
        raise RunTableInvalid(f"line {line}: column {index + 1} has no header", line=line)
    normalized = normalize_metric_name(header)
    if not normalized:
        raise RunTableInvalid(f'line {line}: column {index + 1} header "{header}" has no letters or digits', line=line)
    return normalized


def _fixed_role(normalized: str) -> Role | None:
    """Roles named by the header itself: run ID, run name, model, packed params/tags, notes, index columns."""
    table: tuple[tuple[frozenset[str], Role], ...] = (
        (RUN_ID_HEADERS, "run_id"),
        (RUN_NAME_HEADERS, "run_name"),
        (MODEL_HEADERS, "model"),
        (PACKED_PARAMS_HEADERS, "params"),
        (NOTES_HEADERS, "notes"),
        (PACKED_TAGS_HEADERS, "tags"),
    )
    for headers, role in table:
        if normalized in headers:
            return role
    return "ignored" if IGNORED_HEADER_RE.fullmatch(normalized) else None


def _metric_name(normalized: str, vocabulary: _Vocabulary) -> str:
    """The project's canonical name for a metric header, so "AUC" and "val_auc" land in the same metric."""
    return vocabulary.aliases.get(normalized, normalized)


def _is_metric(normalized: str, metric: str, values: list[str], vocabulary: _Vocabulary) -> bool:
    """The project's own names always count; otherwise guess from metric words and split prefixes."""
    if normalized in vocabulary.aliases or metric in vocabulary.known:
        return True
    if metric.rsplit("_", 1)[-1] in PARAM_HINT_TOKENS:
        return False
    if _has_metric_word(metric):
        return True
    return metric.startswith(SPLIT_PREFIXES) and _all_numbers(values)


def _has_metric_word(name: str) -> bool:
    """Whether a metric word appears as a token ("val_auc"), with digits ("map10") or glued on ("valloss")."""
    padded = f"_{name}_"
    if any(f"_{word}_" in padded for word in METRIC_WORDS):
        return True
    for token in name.split("_"):
        if token.rstrip("0123456789") in METRIC_WORDS:
            return True
        if token.endswith(METRIC_SUFFIXES) or token.startswith(METRIC_PREFIXES):
            return True
    return False


def _all_numbers(values: list[str]) -> bool:
    """True when every value reads as a number or is missing, and at least one is a number."""
    seen_number = False
    for value in values:
        try:
            seen_number = parse_number(value).value is not None or seen_number
        except ValueError:
            return False
    return seen_number


def _column_key(column: Column) -> tuple[str, str] | None:
    """What a column fills in; two columns filling the same thing are duplicates. Packed columns merge instead."""
    if column.role in ("run_id", "run_name"):
        return column.role, ""
    if column.role == "model":
        return "param", "model"
    if column.role in ("param", "metric", "tag") and column.name is not None:
        return column.role, column.name
    return None


def _check_duplicate_columns(columns: list[Column], line: int) -> None:
    """Reject headers equal once normalized ("Val AUC", "val_auc") or filling the same key ("AUC" via an alias)."""
    by_header: dict[str, Column] = {}
    by_key: dict[tuple[str, str], Column] = {}
    for column in columns:
        key = _column_key(column)
        earlier = by_header.get(normalize_metric_name(column.header))
        reason = ""
        if earlier is None and key is not None and key in by_key:
            earlier = by_key[key]
            reason = f"; both read as {key[0].replace('_', ' ')}" + (f' "{key[1]}"' if key[1] else "")
        if earlier is not None:
            raise RunTableInvalid(
                f'line {line}: duplicate column "{column.header}" (also column {earlier.index + 1} '
                f'"{earlier.header}"{reason})',
                line=line,
            )
        by_header[normalize_metric_name(column.header)] = column
        if key is not None:
            by_key[key] = column


# --- Reading rows -------------------------------------------------------------------------------------------------


def _parse_row(line: int, cells: tuple[str, ...], columns: tuple[Column, ...]) -> ParsedRow:
    """Let each column read its cell, then insist on something that identifies the run."""
    row = _RowBuilder(line)
    for column in columns:
        _CELL_READERS[column.role](row, column, cells[column.index])
    if row.run_id is None and row.run_name is None:
        headers = " or ".join(f'"{c.header}"' for c in columns if c.role in ("run_id", "run_name"))
        raise RunTableInvalid(f"line {line}: the row has no run ID or run name; fill in column {headers}", line=line)
    return row.build()


def _check_unique_runs(rows: Sequence[ParsedRow]) -> None:
    """One table describes each run once: a run is keyed by its ID, or by its name when it has no ID."""
    first_lines: dict[tuple[str, str], int] = {}
    for row in rows:
        key = ("run ID", row.run_id) if row.run_id is not None else ("run name", row.run_name or "")
        if key in first_lines:
            raise RunTableInvalid(
                f'line {row.line}: {key[0]} "{key[1]}" appears twice (lines {first_lines[key]} and {row.line})',
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
        raise RunTableInvalid(f'line {row.line}, column "{column.header}": {error}', line=row.line) from None
    if parsed.warning is not None:
        row.warn(column, parsed.warning)
    if parsed.value is not None:
        row.metrics[_key_of(column)] = parsed.value


def _read_packed_params(row: _RowBuilder, column: Column, value: str) -> None:
    """`lr=0.05, depth=6`: each pair is a param; a word that is not a pair is kept in the notes, not lost."""
    for key, item in _packed_items(value, split_words=False):
        if item is None:
            row.warn(column, f"could not read '{key}' as key=value; kept in notes")
            row.notes.append(key)
        else:
            _put(row, row.params, key, item, column)


def _read_packed_tags(row: _RowBuilder, column: Column, value: str) -> None:
    """`team=nlp, baseline`: pairs are tags, a bare word w is the tag w=true."""
    for key, item in _packed_items(value, split_words=True):
        if item is None:
            _put(row, row.tags, key.lstrip("#"), "true", column)
        else:
            _put(row, row.tags, key, item, column)


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
}


# --- Packed cells -------------------------------------------------------------------------------------------------


def _packed_items(value: str, *, split_words: bool) -> list[tuple[str, str | None]]:
    """(key, value) pairs of a packed cell, written keys kept; (word, None) for a token that is not a pair."""
    text = value.strip()
    if _text(text) is None:
        return []
    as_json = _json_object(text)
    if as_json is not None:
        return as_json
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    items: list[tuple[str, str | None]] = []
    for chunk in _split_top_level(text):
        for token in _split_spaced(chunk, split_words=split_words):
            items.append(_key_value(token))
    return items


def _json_object(text: str) -> list[tuple[str, str | None]] | None:
    """A cell pasted from a config dump: `{"lr": 0.001}`; non-string values are kept as their JSON text."""
    if not (text.startswith("{") and text.endswith("}")):
        return None
    try:
        loaded = json.loads(text)
    except ValueError:
        return None
    if not isinstance(loaded, dict):
        return None
    return [(str(key), item if isinstance(item, str) else json.dumps(item)) for key, item in loaded.items()]


def _split_top_level(text: str) -> list[str]:
    """Split on "," ";" and newlines outside brackets and double quotes, so `layers=[64, 32]` stays whole."""
    parts: list[str] = []
    current: list[str] = []
    closers: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in _BRACKETS:
            closers.append(_BRACKETS[char])
        elif not quoted and closers and char == closers[-1]:
            closers.pop()
        elif not quoted and not closers and char in _PACKED_SEPARATORS:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]


def _split_spaced(chunk: str, *, split_words: bool) -> list[str]:
    """`lr=0.05 depth=6` is two pairs when every word has "="; `lr = 0.05` stays one. Tags split bare words too."""
    words = chunk.split()
    if len(words) > 1 and all("=" in word for word in words):
        return words
    if split_words and not any(sep in chunk for sep in "=:"):
        return words
    return [chunk]


def _key_value(token: str) -> tuple[str, str | None]:
    """Split on the first "=" (or, without one, the first ":"); quotes around key and value are dropped."""
    separator = "=" if "=" in token else ":"
    key, found, value = token.partition(separator)
    key = key.strip().strip("\"'").strip()
    if not found or not key:
        return token.strip(), None
    return key, value.strip().strip("\"'").strip()
