"""Giving each column of a pasted run table a meaning, from its header alone (and, for a few, its values).

A run table's headers are whatever people typed: "Run ID", "Val AUC", "param.loss", "Key hyperparams". This module
decides the role of every column (run ID, run name, model, packed params or tags, one param, one metric, one tag,
notes, an index to ignore) and the key it fills, using a fixed header vocabulary plus the project's own metric names
and aliases, so that the same metric lands under the same name across tables. Explicit prefixes win over the
vocabulary, and anything not recognised is a parameter, because a wrong guess there loses nothing. Tables whose
columns collide once normalized are rejected with `RunTableInvalid`
naming the header line, rather than being read by a guess the user cannot see.

Run attributes (status, start and end time, duration, owner, git commit, hardware) get roles of their own when the
header names them and every value reads as one (a "Status" column of "done"/"failed", a "Created" column of ISO
times); otherwise the column falls back to the rules above. A Weights & Biases runs-table export (see
`is_wandb_export`) is read with W&B's conventions: its fixed columns (Name, State, Notes, User, Tags, Created,
Runtime, Sweep, ...) by their W&B meaning, `config.x`/`summary.x` as param/metric x, and W&B's internal `_step`,
`_runtime`, `_timestamp` and `_wandb` keys ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from app.errors import RunTableInvalid
from app.parsing.numbers import parse_number

Role = Literal[
    "run_id",
    "run_name",
    "model",
    "params",
    "param",
    "metric",
    "tags",
    "tag",
    "notes",
    "ignored",
    # Run attributes, each filling one field of the run rather than a param, metric or tag.
    "status",
    "start_time",
    "end_time",
    "duration",
    "owner",
    "git_commit",
    "hardware",
]
FIELD_ROLES: frozenset[Role] = frozenset(
    {"status", "start_time", "end_time", "duration", "owner", "git_commit", "hardware"}
)

# --- Column roles, keyed by the normalized header (see `normalize_metric_name`). ---------------------------------
RUN_ID_HEADERS = frozenset({"run_id", "runid", "id", "run_uuid", "mlflow_run_id", "run"})
RUN_NAME_HEADERS = frozenset({"run_name", "name", "display_name", "runname"})
MODEL_HEADERS = frozenset(
    {"model", "model_type", "algorithm", "algo", "estimator", "learner", "architecture", "arch", "model_family"}
)
PACKED_PARAMS_HEADERS = frozenset(
    "params parameters hyperparams hyperparameters key_hyperparams key_params config settings hparams".split()
)
NOTES_HEADERS = frozenset(
    {"notes", "note", "comment", "comments", "remarks", "description", "observations", "change", "changes"}
)
PACKED_TAGS_HEADERS = frozenset({"tags", "labels"})
# Index columns that spreadsheets and pandas add on their own ("Unnamed: 0"): they carry nothing about the run.
IGNORED_HEADER_RE = re.compile(r"unnamed_\d+|index|idx|row|row_no|row_number")

# Run attributes named by the header; the column takes the role only when every value reads as one (see
# `_field_role`), so a "Status" column of free text stays a parameter.
STATUS_HEADERS = frozenset({"status", "state", "run_status", "run_state"})
START_TIME_HEADERS = frozenset({"start_time", "started", "started_at", "start", "created", "created_at"})
END_TIME_HEADERS = frozenset({"end_time", "ended", "ended_at", "end", "finished_at", "completed_at"})
# Only headers that say the unit: a bare "duration" or "runtime" may be minutes (W&B's "Runtime" is seconds).
DURATION_HEADERS = frozenset(
    "duration_s duration_sec duration_secs duration_seconds runtime_s runtime_sec runtime_seconds "
    "elapsed_s elapsed_sec elapsed_seconds wall_time_s".split()
)
OWNER_HEADERS = frozenset({"user", "owner", "author", "created_by", "username", "mlflow_user"})
GIT_COMMIT_HEADERS = frozenset(
    "commit git_commit git_sha commit_sha git_hash commit_hash git_revision mlflow_source_git_commit".split()
)
HARDWARE_HEADERS = frozenset({"hardware", "gpu_type"})
# Run statuses as people and tools write them -> MLflow's words. W&B's "crashed" (no heartbeat) is a failure.
STATUS_WORDS: Mapping[str, str] = {
    "running": "RUNNING",
    "finished": "FINISHED",
    "failed": "FAILED",
    "crashed": "FAILED",
    "killed": "KILLED",
    "pending": "SCHEDULED",
    "scheduled": "SCHEDULED",
    "queued": "SCHEDULED",
    "completed": "FINISHED",
    "done": "FINISHED",
    "succeeded": "FINISHED",
    "success": "FINISHED",
    "error": "FAILED",
    "errored": "FAILED",
    "cancelled": "KILLED",
    "canceled": "KILLED",
    "stopped": "KILLED",
    # A research agent's verdict on its experiment (autoresearch's results.tsv); the word is also kept as a tag.
    "keep": "FINISHED",
    "kept": "FINISHED",
    "discard": "FINISHED",
    "discarded": "FINISHED",
    "crash": "FAILED",
}
GIT_COMMIT_RE = re.compile(r"[0-9a-fA-F]{7,64}")
# Longest text each field holds (the Run model's column sizes); a longer value is not read into the field.
FIELD_MAX_LENGTH: Mapping[str, int] = {
    "owner": 200,
    "git_commit": 64,
    "hardware": 500,
    "seed": 64,
    "data_version": 500,
}

# --- Weights & Biases runs-table exports. ---------------------------------------------------------------------------
# The W&B app's runs table exports as CSV with these fixed columns first, then one column per config key and one
# per summary key (nested keys flattened with "."), both unprefixed. Scripts that build the CSV from the public API
# (`api.runs()`) usually prefix them instead: `config.lr` / `config/lr`, `summary.val_loss`.
WANDB_MARKER_HEADERS = frozenset({"created", "runtime"})
WANDB_ROLES: Mapping[str, tuple[Role, str | None]] = {
    "state": ("status", None),
    "created": ("start_time", None),
    "runtime": ("duration", None),  # seconds
    "user": ("owner", None),
    "gpu_type": ("hardware", None),
    "commit": ("git_commit", None),
    "sweep": ("tag", "wandb.sweep"),  # a sweep is not a run, so not a parent run: kept as a tag
    "group": ("tag", "wandb.group"),
    "job_type": ("tag", "wandb.job_type"),
    "agent": ("tag", "wandb.agent"),
    "hostname": ("tag", "wandb.hostname"),
    "updated": ("ignored", None),  # last heartbeat or edit, not when the run ended
}
# W&B's own keys start with "_": in the summary the last step, the runtime and the time of the last log, and
# `_wandb` bookkeeping in both. These are never a param or a metric, in a W&B export or any other table.
_WANDB_INTERNAL_RE = re.compile(
    r"(?:config|summary)\s*[./]\s*_.*|_(?:step|runtime|timestamp|wandb\w*)", re.IGNORECASE | re.DOTALL
)
# How W&B writes a summary value that overflowed (a diverged loss): not a metric, but the column still is one.
_INFINITIES = frozenset({"infinity", "-infinity", "+infinity", "inf", "-inf", "+inf"})
_WANDB_PREFIX_RE = re.compile(r"^(?:config|summary)\s*[./]", re.IGNORECASE)

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
        "mrr bleu rouge perplexity ppl iou dice error err score brier ks gini kappa mcc latency throughput "
        "wer cer regret reward hd95 hausdorff psnr ssim fid smape wmape qini auuc ece lb leaderboard mase wape rmsse "
        "crps pinball faithfulness relevance frr far bpb bpc memory_gb mem_gb vram_gb peak_memory peak_mem_gb "
        "tokens_per_sec tok_per_sec samples_per_sec steps_per_sec it_per_sec mfu"
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

_NON_ALNUM_RE = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class Column:
    """One column of the table: `index` is 0-based; `name` is the param/metric/tag key for those roles."""

    index: int
    header: str
    role: Role
    name: str | None


@dataclass(frozen=True)
class _Vocabulary:
    """The project's own metric names: aliases (normalized alias -> canonical name) and known canonical names."""

    aliases: Mapping[str, str]
    known: frozenset[str]


def normalize_metric_name(name: str) -> str:
    """Lowercase, runs of non-alphanumerics to "_", no "_" at the ends: "Val AUC", "val/auc" and "val-auc" agree."""
    return _NON_ALNUM_RE.sub("_", name.lower()).strip("_")


def build_vocabulary(aliases: Mapping[str, str] | None, known: Collection[str]) -> _Vocabulary:
    """Normalize the project's alias keys (and accept its known names either as given or normalized)."""
    normalized_aliases = {normalize_metric_name(alias): name for alias, name in (aliases or {}).items()}
    return _Vocabulary(normalized_aliases, frozenset(known) | {normalize_metric_name(name) for name in known})


def is_wandb_export(header: Sequence[str]) -> bool:
    """A W&B runs-table export: Name and State with Created or Runtime, or W&B's config./summary. prefixes."""
    normalized = {normalize_metric_name(name) for name in header}
    if {"name", "state"} <= normalized and normalized & WANDB_MARKER_HEADERS:
        return True
    return any(_WANDB_PREFIX_RE.match(name.strip()) for name in header)


def parse_time(text: str) -> tuple[datetime, bool] | None:
    """An ISO 8601 date and time ("2025-11-13T09:48:11.000Z", W&B's form) in UTC, and whether it had a time zone
    (one without is read as UTC); None when the text is not one. A bare date is not a time and is refused."""
    text = text.strip()
    if len(text) < 16 or not text[:4].isdigit():
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC), False
    return when.astimezone(UTC), True


def status_word(text: str) -> str | None:
    """MLflow's word for a run status as written ("finished", "Crashed", "FAILED"), None when it is not one."""
    return STATUS_WORDS.get(text.strip().lower())


def classify_columns(
    header: Sequence[str], header_line: int, rows: Sequence[Sequence[str]], vocabulary: _Vocabulary
) -> tuple[Column, ...]:
    """Give every column a role, then reject tables that are ambiguous (duplicates) or unusable (no run key).

    `header` is the header row as written, on line `header_line`; `rows` are the cells of the other rows.
    """
    wandb = is_wandb_export(header)
    columns = []
    for index, name_as_written in enumerate(header):
        values = [cells[index] for cells in rows]
        role, name = _column_role(name_as_written, values, vocabulary, header_line, index, wandb=wandb)
        columns.append(Column(index, name_as_written, role, name))
    _check_duplicate_columns(columns, header_line)
    return tuple(columns)


def is_keyless(columns: Sequence[Column]) -> bool:
    """No column names the run (no run ID, no run name): a research agent's result log, one experiment a row,
    whose rows are keyed by their position and content (`app.parsing.agent.row_key`)."""
    return not any(column.role in ("run_id", "run_name") for column in columns)


def _column_role(
    header: str, values: list[str], vocabulary: _Vocabulary, line: int, index: int, *, wandb: bool = False
) -> tuple[Role, str | None]:
    """W&B's internal keys, explicit prefixes, W&B's fixed columns, the fixed header names, run attributes, then
    metric detection; anything else is a param."""
    stripped = header.strip()
    if _WANDB_INTERNAL_RE.fullmatch(stripped) or (wandb and stripped.startswith("_")):
        return "ignored", None
    normalized = _checked_header(header, line, index)
    explicit = _EXPLICIT_PREFIX_RE.match(stripped)
    if explicit:
        role = EXPLICIT_PREFIXES[explicit[1].lower()]
        name = _checked_header(explicit[2], line, index)
        return role, (_metric_name(name, vocabulary) if role == "metric" else name)
    if wandb and normalized in WANDB_ROLES:
        return WANDB_ROLES[normalized]
    fixed = _fixed_role(normalized)
    if fixed:
        return fixed, None
    field_role = _field_role(normalized, values)
    if field_role:
        return field_role, None
    metric = _metric_name(normalized, vocabulary)
    # W&B exports put every summary key, text ones too ("artifact/name"), among the columns: numbers only there.
    if _is_metric(normalized, metric, values, vocabulary) and (not wandb or _all_numbers(values, _INFINITIES)):
        return "metric", metric
    return "param", normalized


def _field_role(normalized: str, values: list[str]) -> Role | None:
    """A run attribute named by the header, when every value reads as one (and at least one is given)."""
    table: tuple[tuple[frozenset[str], Role, Callable[[str], bool]], ...] = (
        (STATUS_HEADERS, "status", lambda v: status_word(v) is not None),
        (START_TIME_HEADERS, "start_time", lambda v: parse_time(v) is not None),
        (END_TIME_HEADERS, "end_time", lambda v: parse_time(v) is not None),
        (DURATION_HEADERS, "duration", _is_seconds),
        (OWNER_HEADERS, "owner", lambda v: len(v) <= FIELD_MAX_LENGTH["owner"]),
        (GIT_COMMIT_HEADERS, "git_commit", lambda v: GIT_COMMIT_RE.fullmatch(v) is not None),
        (HARDWARE_HEADERS, "hardware", lambda v: len(v) <= FIELD_MAX_LENGTH["hardware"]),
    )
    for headers, role, reads in table:
        if normalized in headers:
            given = [value.strip() for value in values if value.strip() not in EMPTY_TEXT]
            return role if given and all(reads(value) for value in given) else None
    return None


def _is_seconds(value: str) -> bool:
    try:
        seconds = parse_number(value)
    except ValueError:
        return False
    return seconds.warning is None and seconds.value is not None and seconds.value >= 0


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


def _all_numbers(values: list[str], also_missing: frozenset[str] = frozenset()) -> bool:
    """True when every value reads as a number or is missing (or in `also_missing`), and at least one is a number."""
    seen_number = False
    for value in values:
        if value.strip().lower() in also_missing:
            continue
        try:
            seen_number = parse_number(value).value is not None or seen_number
        except ValueError:
            return False
    return seen_number


def _column_key(column: Column) -> tuple[str, str] | None:
    """What a column fills in; two columns filling the same thing are duplicates. Packed columns merge instead."""
    if column.role in ("run_id", "run_name") or column.role in FIELD_ROLES:
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
        if column.role == "ignored":
            continue  # contributes nothing, so it collides with nothing (W&B's "_runtime" next to its "Runtime")
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
