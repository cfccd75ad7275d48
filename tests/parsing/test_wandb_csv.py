"""A Weights & Biases runs-table export reads with W&B's conventions; run attributes read from any table.

The fixture is shaped like the CSV the W&B app's runs table exports: every cell quoted, the fixed columns Name, ID
(shown by the user), Agent, State, Notes, User, Tags, Created, Runtime and Sweep first, then config and summary keys
unprefixed, W&B's internal `_runtime`, `_step`, `_timestamp` and `_wandb` among them, "-" for no notes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.errors import RunTableInvalid
from app.parsing.tables import ParsedRow, ParsedTable, TableWarning, parse_run_table

EXPORT = (Path(__file__).resolve().parents[1] / "data" / "wandb_runs_export.csv").read_text()


@pytest.fixture(scope="module")
def export() -> ParsedTable:
    return parse_run_table(EXPORT, known_metrics=["val_auc"])


def _by_id(table: ParsedTable) -> dict[str | None, ParsedRow]:
    return {row.run_id: row for row in table.rows}


def _roles(table: ParsedTable) -> dict[str, tuple[str, str | None]]:
    return {column.header: (column.role, column.name) for column in table.columns}


# --- The W&B app's export -------------------------------------------------------------------------------------------


def test_export_is_recognised_and_every_column_has_its_w_and_b_role(export: ParsedTable) -> None:
    assert export.format == "csv"
    assert export.wandb
    assert _roles(export) == {
        "Name": ("run_name", None),
        "ID": ("run_id", None),
        "Agent": ("tag", "wandb.agent"),
        "State": ("status", None),
        "Notes": ("notes", None),
        "User": ("owner", None),
        "Tags": ("tags", None),
        "Created": ("start_time", None),
        "Runtime": ("duration", None),
        "Sweep": ("tag", "wandb.sweep"),
        "batch_size": ("param", "batch_size"),
        "epochs": ("param", "epochs"),
        "lr": ("param", "lr"),
        "model_type": ("model", None),
        "optimizer.name": ("param", "optimizer_name"),
        "seed": ("param", "seed"),
        "data_version": ("param", "data_version"),
        "_wandb": ("ignored", None),
        "_runtime": ("ignored", None),
        "_step": ("ignored", None),
        "_timestamp": ("ignored", None),
        "artifact/name": ("param", "artifact_name"),  # a text summary key: not a metric
        "best_epoch": ("param", "best_epoch"),
        "train_loss": ("metric", "train_loss"),
        "val/acc": ("metric", "val_acc"),
        "val/loss": ("metric", "val_loss"),
        "val_auc": ("metric", "val_auc"),
    }


def test_w_and_b_run_ids_key_the_runs(export: ParsedTable) -> None:
    assert [row.run_id for row in export.rows] == [
        "3k9x2abc",
        "9m1qz0xe",
        "p4t7w2lk",
        "a1b2c3d4",
        "e5f6g7h8",
        "i9j0k1l2",
        "m3n4o5p6",
        "q7r8s9t0",
    ]
    assert _by_id(export)["3k9x2abc"].run_name == "baseline-resnet18"


def test_finished_run(export: ParsedTable) -> None:
    row = _by_id(export)["3k9x2abc"]
    start = datetime(2025, 11, 10, 9, 0, tzinfo=UTC)
    assert row.fields == {
        "status": "FINISHED",
        "start_time": start,
        "end_time": start + timedelta(seconds=1800),
        "duration_s": 1800.0,
        "owner": "ana",
        "seed": "42",
        "data_version": "v3",
    }
    assert row.tags == {"wandb.state": "finished", "baseline": "true", "resnet": "true"}
    assert row.notes == "baseline, default augmentations"
    assert row.params["seed"] == "42"  # the seed stays a param too
    assert row.metrics == {"train_loss": 0.2143, "val_acc": 0.871, "val_loss": 0.3921, "val_auc": 0.9312}
    assert row.warnings == ()


def test_crashed_run_is_failed_and_keeps_the_w_and_b_word(export: ParsedTable) -> None:
    row = _by_id(export)["9m1qz0xe"]
    assert row.fields["status"] == "FAILED"
    assert row.tags["wandb.state"] == "crashed"
    assert row.fields["end_time"] == datetime(2025, 11, 10, 11, 50, 18, tzinfo=UTC)
    # an overflowed summary value is not a metric, and does not reject the export
    assert "val_auc" not in row.metrics
    assert row.warnings == (TableWarning(3, "val_auc", '"Infinity" is not a number; not stored as a metric'),)


def test_running_run_has_a_runtime_so_far_and_no_end(export: ParsedTable) -> None:
    row = _by_id(export)["p4t7w2lk"]
    assert row.fields["status"] == "RUNNING"
    assert row.fields["duration_s"] == 5400.0
    assert "end_time" not in row.fields
    assert row.notes is None  # W&B writes "-" for no notes
    assert row.tags == {"wandb.state": "running", "vit": "true", "long-run": "true"}


def test_sweep_runs_carry_the_sweep_as_a_tag_not_a_parent(export: ParsedTable) -> None:
    sweep = [row for row in export.rows if "wandb.sweep" in row.tags]
    assert [row.run_name for row in sweep] == [f"sweepy-sweep-{i}" for i in (1, 2, 3, 4)]
    assert {row.tags["wandb.sweep"] for row in sweep} == {"h8v3n1zq"}
    assert {row.tags["wandb.agent"] for row in sweep} == {"7xk2m9qa"}
    assert all("parent_run_id" not in row.fields for row in sweep)
    assert [row.fields["status"] for row in sweep] == ["FINISHED", "FINISHED", "FAILED", "KILLED"]


def test_empty_cells_record_nothing(export: ParsedTable) -> None:
    row = _by_id(export)["q7r8s9t0"]  # no user, no seed
    assert "owner" not in row.fields
    assert "seed" not in row.fields and "seed" not in row.params
    assert row.fields["data_version"] == "v4"
    failed = _by_id(export)["i9j0k1l2"]  # failed before logging metrics
    assert failed.metrics == {}
    assert "best_epoch" not in failed.params


def test_internal_keys_fill_nothing(export: ParsedTable) -> None:
    for row in export.rows:
        assert not {"step", "runtime", "timestamp", "wandb"} & (row.params.keys() | row.metrics.keys())


def test_export_without_ids_keys_runs_by_name() -> None:
    text = (
        '"Name","State","Notes","User","Tags","Created","Runtime","Sweep","lr","val_loss"\n'
        '"jolly-haze-4","finished","-","ana","","2025-11-10T09:00:00.000Z","60","","0.1","0.5"\n'
        '"exalted-darkness-6","failed","-","ana","","2025-11-10T10:00:00.000Z","30","","0.2",""\n'
    )
    table = parse_run_table(text)
    assert table.wandb
    assert [(row.run_id, row.run_name) for row in table.rows] == [
        (None, "jolly-haze-4"),
        (None, "exalted-darkness-6"),
    ]


def test_export_with_repeated_names_and_no_ids_says_to_export_the_ids() -> None:
    text = (
        "Name,State,Created,Runtime,lr\n"
        "base,finished,2025-11-10T09:00:00.000Z,60,0.1\n"
        "base,finished,2025-11-10T10:00:00.000Z,60,0.2\n"
    )
    with pytest.raises(RunTableInvalid) as caught:
        parse_run_table(text)
    assert 'run name "base" appears twice' in caught.value.message
    assert "run ID column" in caught.value.message


def test_unknown_state_keeps_the_word_and_says_so() -> None:
    (row,) = parse_run_table("Name,State,Created,Runtime\nr,preempted,2025-11-10T09:00:00Z,5\n").rows
    assert "status" not in row.fields
    assert row.tags == {"wandb.state": "preempted"}
    assert row.warnings == (TableWarning(2, "State", '"preempted" is not a run status; status left empty'),)


def test_tags_are_labels_split_on_commas_only() -> None:
    text = 'Name,State,Created,Tags\nr,finished,2025-11-10T09:00:00Z,"lr: warmup, team=vision ,  big model"\n'
    (row,) = parse_run_table(text).rows
    assert row.tags == {"wandb.state": "finished", "lr: warmup": "true", "team=vision": "true", "big model": "true"}


# --- Exports built from the public API (`api.runs()`), config and summary flattened with a prefix -------------------


API_EXPORT = """\
id,name,state,config.lr,config/seed,config._wandb,summary.val_loss,summary/val_auc,summary._step,summary._runtime,\
summary._timestamp,summary.best_model
3k9x2abc,jolly-haze-4,finished,0.001,42,{},0.39,0.93,29,1799.4,1762765199.8,resnet18-best
9m1qz0xe,exalted-darkness-6,crashed,0.004,,{},0.88,"{""_type"": ""histogram""}",3,1205.9,1762776617.2,
"""


def test_api_export_prefixes_make_params_and_metrics_and_internal_keys_are_ignored() -> None:
    table = parse_run_table(API_EXPORT)
    assert table.wandb
    roles = _roles(table)
    assert roles["config.lr"] == ("param", "lr")
    assert roles["config/seed"] == ("param", "seed")
    assert roles["summary.val_loss"] == ("metric", "val_loss")
    assert roles["summary/val_auc"] == ("metric", "val_auc")
    assert roles["state"] == ("status", None)
    for internal in ("config._wandb", "summary._step", "summary._runtime", "summary._timestamp"):
        assert roles[internal] == ("ignored", None)
    first, second = table.rows
    assert (first.run_id, first.params, first.metrics) == (
        "3k9x2abc",
        {"lr": "0.001", "seed": "42"},
        {"val_loss": 0.39, "val_auc": 0.93},
    )
    assert first.fields == {"status": "FINISHED", "seed": "42"}
    # a summary value that is not a number (a histogram, an artifact name) is skipped with a warning
    assert second.metrics == {"val_loss": 0.88}
    assert [w.column for w in second.warnings] == ["summary/val_auc"]
    assert first.warnings[0].column == "summary.best_model"
    assert second.fields == {"status": "FAILED"}


# --- The same run attributes in any table ---------------------------------------------------------------------------


def _one_row(text: str) -> ParsedRow:
    (row,) = parse_run_table(text).rows
    return row


def test_generic_table_with_run_attributes() -> None:
    text = (
        "| Run ID | Status | Started | Duration (s) | Owner | git commit | Hardware | Seed | AUC |\n"
        "|-|-|-|-|-|-|-|-|-|\n"
        "| r1 | Done | 2025-11-10 09:00:00+01:00 | 90 | ana | 3F2A9C1 | 1x A100 | 7 | 0.9 |\n"
    )
    table = parse_run_table(text)
    assert not table.wandb
    roles = _roles(table)
    assert [roles[h][0] for h in ("Status", "Started", "Duration (s)", "Owner", "git commit", "Hardware", "Seed")] == [
        "status",
        "start_time",
        "duration",
        "owner",
        "git_commit",
        "hardware",
        "param",
    ]
    (row,) = table.rows
    start = datetime(2025, 11, 10, 8, 0, tzinfo=UTC)
    assert row.fields == {
        "status": "FINISHED",
        "start_time": start,
        "duration_s": 90.0,
        "end_time": start + timedelta(seconds=90),
        "owner": "ana",
        "git_commit": "3f2a9c1",
        "hardware": "1x A100",
        "seed": "7",
    }
    assert row.params == {"seed": "7"}
    assert row.tags == {}  # W&B's state tag is for W&B exports only
    assert row.warnings == ()


@pytest.mark.parametrize(
    ("header", "value", "expected"),
    [
        ("Status", "needs review", ("param", "status")),  # not a run status
        ("Created", "2025-11-10", ("param", "created")),  # a date, not a time
        ("Created", "yesterday", ("param", "created")),
        ("commit", "initial version", ("param", "commit")),  # not a hash
        ("runtime", "90", ("param", "runtime")),  # no unit: seconds or minutes?
        ("duration_min", "90", ("param", "duration_min")),
        ("Runtime (s)", "1.5", ("duration", None)),
        ("State", "KILLED", ("status", None)),
        ("end_time", "2025-11-10T09:00:00Z", ("end_time", None)),
        ("_step", "10", ("ignored", None)),  # W&B's internal keys, in any table
        ("_wandb", "{}", ("ignored", None)),
        ("_custom", "1", ("param", "custom")),  # other leading underscores only in W&B exports
    ],
)
def test_run_attribute_roles_need_values_that_read_as_one(header: str, value: str, expected: tuple[str, str]) -> None:
    table = parse_run_table(f"Run ID,{header}\nr1,{value}\n")
    assert _roles(table)[header] == expected


def test_time_without_zone_is_read_as_utc_with_a_warning() -> None:
    row = _one_row("Run ID,start_time\nr1,2025-11-10T09:00:00\n")
    assert row.fields["start_time"] == datetime(2025, 11, 10, 9, 0, tzinfo=UTC)
    assert row.warnings == (TableWarning(2, "start_time", '"2025-11-10T09:00:00" has no time zone; read as UTC'),)


def test_duration_from_start_and_end() -> None:
    row = _one_row("Run ID,start_time,end_time\nr1,2025-11-10T09:00:00Z,2025-11-10T09:01:30Z\n")
    assert row.fields["duration_s"] == 90.0


def test_running_run_gets_no_end_time() -> None:
    row = _one_row("Run ID,status,start_time,duration_s\nr1,RUNNING,2025-11-10T09:00:00Z,90\n")
    assert "end_time" not in row.fields
    assert row.fields["duration_s"] == 90.0


def test_seed_from_packed_params_and_disagreeing_seeds() -> None:
    row = _one_row("| Run ID | Params |\n|-|-|\n| r1 | lr=0.1, random_state=3, data_version=2024-06 |\n")
    assert row.fields == {"seed": "3", "data_version": "2024-06"}
    row = _one_row("Run ID,seed,random_state\nr1,1,2\n")
    assert "seed" not in row.fields
    assert row.warnings == (TableWarning(2, None, 'seed="1" and random_state="2" disagree; seed left empty'),)


def test_bad_cell_in_a_w_and_b_attribute_column_warns_and_records_nothing() -> None:
    text = "Name,State,Created,Runtime,Commit\nr,finished,last tuesday,-5,not-a-sha\n"
    (row,) = parse_run_table(text).rows
    assert row.fields == {"status": "FINISHED"}
    assert [w.column for w in row.warnings] == ["Created", "Runtime", "Commit"]


def test_two_status_columns_are_duplicates() -> None:
    with pytest.raises(RunTableInvalid) as caught:
        parse_run_table("Run ID,Status,State\nr1,done,done\n")
    assert "both read as status" in caught.value.message
