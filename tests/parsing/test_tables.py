"""parse_run_table turns pasted Markdown or CSV run tables into runs, or says which line and column is wrong."""

from __future__ import annotations

from collections.abc import Collection, Mapping

import pytest

from app.errors import RunTableInvalid
from app.parsing.tables import (
    Column,
    ParsedRow,
    ParsedTable,
    TableFormat,
    TableWarning,
    detect_format,
    normalize_metric_name,
    parse_run_table,
)

EXAMPLE = """\
| Run ID | Model | Key hyperparams | Val AUC | Notes |
|---|---|---|---|---|
| 5c6d70a1 | lightgbm+smote | lr=0.05, num_leaves=31 | 0.858 | smote on train only |
| 9b22c4f0 | lightgbm | lr=0.05, num_leaves=31 | .861ish | |
| 0d81ee3b | xgboost | eta=0.1; max_depth=6 | 85.7% | 2x slower |
"""


def _parse(
    text: str,
    *,
    format: TableFormat | None = None,
    aliases: Mapping[str, str] | None = None,
    known: Collection[str] = (),
) -> ParsedTable:
    return parse_run_table(text, format=format, metric_aliases=aliases, known_metrics=known)


def _error(
    text: str,
    *,
    format: TableFormat | None = None,
    aliases: Mapping[str, str] | None = None,
) -> RunTableInvalid:
    with pytest.raises(RunTableInvalid) as caught:
        _parse(text, format=format, aliases=aliases)
    return caught.value


def _roles(
    text: str, *, aliases: Mapping[str, str] | None = None, known: Collection[str] = ()
) -> dict[str, tuple[str, str | None]]:
    table = _parse(text, aliases=aliases, known=known)
    return {column.header: (column.role, column.name) for column in table.columns}


# --- normalize_metric_name and detect_format ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Val AUC", "val_auc"),
        ("val/auc", "val_auc"),
        (" F1-score ", "f1_score"),
        ("__Test  Loss__", "test_loss"),
        ("mAP@10", "map_10"),
        ("Max Depth", "max_depth"),
        ("#", ""),
    ],
)
def test_normalize_metric_name(name: str, expected: str) -> None:
    assert normalize_metric_name(name) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (EXAMPLE, "markdown"),
        ("\n\nRun ID | AUC\n", "markdown"),
        ("run_id,auc\na,1\n", "csv"),
        ("", "csv"),
        ("run_id;auc\n", "csv"),
    ],
)
def test_detect_format(text: str, expected: str) -> None:
    assert detect_format(text) == expected


# --- The example table ---------------------------------------------------------------------------------------------


def test_example_table_columns() -> None:
    table = parse_run_table(EXAMPLE)
    assert table.format == "markdown"
    assert table.columns == (
        Column(0, "Run ID", "run_id", None),
        Column(1, "Model", "model", None),
        Column(2, "Key hyperparams", "params", None),
        Column(3, "Val AUC", "metric", "val_auc"),
        Column(4, "Notes", "notes", None),
    )


def test_example_table_rows() -> None:
    rows = parse_run_table(EXAMPLE).rows
    assert rows[0] == ParsedRow(
        line=3,
        run_id="5c6d70a1",
        run_name=None,
        params={"model": "lightgbm+smote", "lr": "0.05", "num_leaves": "31"},
        metrics={"val_auc": 0.858},
        tags={},
        notes="smote on train only",
        warnings=(),
    )
    assert rows[1].metrics == {"val_auc": 0.861}
    assert rows[1].notes is None
    assert rows[1].warnings == (TableWarning(4, "Val AUC", '".861ish" read as 0.861 (approximate)'),)
    assert rows[2].params == {"model": "xgboost", "eta": "0.1", "max_depth": "6"}
    assert rows[2].metrics == {"val_auc": 0.857}
    assert rows[2].warnings == (TableWarning(5, "Val AUC", '"85.7%" read as 0.857'),)
    assert [row.line for row in rows] == [3, 4, 5]


# --- Markdown variants ---------------------------------------------------------------------------------------------


def test_markdown_without_outer_pipes_and_with_blank_lines_around() -> None:
    text = "\n\nRun ID | Val AUC\n---|:---:\nabc | 0.9\n\n\n"
    table = parse_run_table(text)
    assert table.format == "markdown"
    assert [(row.line, row.run_id, row.metrics) for row in table.rows] == [(5, "abc", {"val_auc": 0.9})]


def test_markdown_escaped_pipe_is_a_literal_pipe() -> None:
    text = "| Run ID | Notes |\n|---|---|\n| a | left \\| right |\n"
    (row,) = parse_run_table(text).rows
    assert row.notes == "left | right"


def test_markdown_crlf_nbsp_and_bold_best_value() -> None:
    text = "| Run ID | Val AUC |\r\n|---|---|\r\n| `a1` | **0.91** |\r\n| b2\u00a0| 0.88 |\r\n"
    rows = parse_run_table(text).rows
    assert [(row.run_id, row.metrics) for row in rows] == [("a1", {"val_auc": 0.91}), ("b2", {"val_auc": 0.88})]


def test_markdown_title_line_before_the_table_is_an_error() -> None:
    error = _error("My runs\n| Run ID | AUC |\n|---|---|\n| a | 1 |\n", format="markdown")
    assert error.line == 1
    assert "line 1" in error.message and '"My runs"' in error.message


def test_markdown_text_after_the_table_is_an_error() -> None:
    error = _error("| Run ID | AUC |\n|---|---|\n| a | 1 |\nthat's all\n")
    assert error.line == 4
    assert "line 4" in error.message and "that's all" in error.message


def test_markdown_second_table_after_a_blank_line_is_an_error() -> None:
    error = _error("| Run ID | AUC |\n|---|---|\n| a | 1 |\n\n| b | 2 |\n")
    assert error.line == 5
    assert "line 5" in error.message and "blank line 4" in error.message


# --- CSV variants --------------------------------------------------------------------------------------------------


def test_csv_with_quoted_cells_holding_commas_and_newlines() -> None:
    text = 'run_id,params,val_auc,notes\nr1,"lr=0.1, depth=6",0.9,"first line\nsecond line"\nr2,lr=0.2,"1,234",\n'
    table = parse_run_table(text)
    assert table.format == "csv"
    first, second = table.rows
    assert first.params == {"lr": "0.1", "depth": "6"}
    assert first.notes == "first line\nsecond line"
    assert (second.line, second.metrics) == (4, {"val_auc": 1234.0})
    assert second.warnings == (TableWarning(4, "val_auc", '"1,234" read as 1234'),)


def test_semicolon_csv() -> None:
    text = "Run ID;Val AUC;Max Depth\nr1;0,91;6\n"
    (row,) = parse_run_table(text).rows
    assert (row.run_id, row.metrics, row.params) == ("r1", {"val_auc": 0.91}, {"max_depth": "6"})


def test_tab_separated_csv_with_blank_lines_and_bom() -> None:
    text = "\ufeffrun name\tloss\n\nbaseline\t0.3\n\n\nbigger\t0.25\n"
    rows = parse_run_table(text).rows
    assert [(row.line, row.run_name, row.metrics) for row in rows] == [
        (3, "baseline", {"loss": 0.3}),
        (6, "bigger", {"loss": 0.25}),
    ]


def test_csv_unclosed_quote_names_the_row_line() -> None:
    error = _error('run_id,notes\nr1,ok\nr2,"never closed\n')
    assert error.line == 3
    assert "line 3" in error.message and "never closed" in error.message


# --- Errors, each with its line ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "fragments"),
    [
        (
            "| Run ID | AUC | Notes |\n|---|---|---|\n| a | 1 | x |\n| b | 2 |\n",
            4,
            ["line 4", "expected 3 cells, got 2"],
        ),
        ("\n| Run ID | AUC |\n|---|---|\n", 2, ["line 2", "header but no rows"]),
        ("run_id,AUC\n", 1, ["line 1", "header but no rows"]),
        (
            "| Run ID | Val AUC | val_auc |\n|-|-|-|\n| a | 1 | 2 |\n",
            1,
            ["line 1", 'duplicate column "val_auc"', 'column 2 "Val AUC"'],
        ),
        ("| Run ID | | AUC |\n|-|-|-|\n| a | 1 | 2 |\n", 1, ["line 1", "column 2 has no header"]),
        ("| Run ID | # | AUC |\n|-|-|-|\n| a | 1 | 2 |\n", 1, ["line 1", 'column 2 header "#"']),
        (
            "| Run ID | Val AUC |\n|-|-|\n| a | 0.8 |\n| b | 0.9 |\n| c | good |\n",
            5,
            ["line 5", 'column "Val AUC"', '"good" is not a number'],
        ),
        (
            "| Run ID | Name | AUC |\n|-|-|-|\n| a | x | 1 |\n| - |  | 2 |\n",
            4,
            ["line 4", "no run ID or run name", '"Run ID" or "Name"'],
        ),
        ("| Run ID | AUC |\n|-|-|\n| a | 1 |\n| b | 2 |\n| a | 3 |\n", 5, ["line 5", 'run ID "a"', "lines 3 and 5"]),
        ("| Name | AUC |\n|-|-|\n| base | 1 |\n| base | 2 |\n", 4, ["line 4", 'run name "base"', "lines 3 and 4"]),
        ("| Run ID | Run | AUC |\n|-|-|-|\n| a | b | 1 |\n", 1, ['duplicate column "Run"', "run id"]),
    ],
)
def test_errors_name_the_line(text: str, line: int, fragments: list[str]) -> None:
    error = _error(text)
    assert error.line == line
    for fragment in fragments:
        assert fragment in error.message


@pytest.mark.parametrize("text", ["", "   \n\n \t\n"])
def test_empty_text_is_an_error_without_line(text: str) -> None:
    error = _error(text)
    assert (error.line, error.message) == (None, "the table is empty")


def test_same_name_with_different_ids_is_fine() -> None:
    rows = parse_run_table("| Run ID | Name | AUC |\n|-|-|-|\n| a | base | 1 |\n| b | base | 2 |\n").rows
    assert [row.run_id for row in rows] == ["a", "b"]


# --- Column roles --------------------------------------------------------------------------------------------------


def test_alias_maps_a_metric_header_to_the_canonical_name() -> None:
    table = _parse("| Run ID | AUC |\n|-|-|\n| a | 0.9 |\n", aliases={"auc": "val_auc"})
    assert table.columns[1] == Column(1, "AUC", "metric", "val_auc")
    assert table.rows[0].metrics == {"val_auc": 0.9}


def test_alias_keys_are_normalized() -> None:
    roles = _roles("| Run ID | ROC AUC |\n|-|-|\n| a | 0.9 |\n", aliases={"ROC-AUC": "val_auc"})
    assert roles["ROC AUC"] == ("metric", "val_auc")


def test_duplicate_after_alias_mapping_is_an_error() -> None:
    error = _error("| Run ID | AUC | Val AUC |\n|-|-|-|\n| a | 1 | 2 |\n", aliases={"auc": "val_auc"})
    assert error.line == 1
    assert 'duplicate column "Val AUC" (also column 2 "AUC"; both read as metric "val_auc")' in error.message


def test_known_metrics_force_a_metric_role() -> None:
    text = "| Run ID | custom_thing |\n|-|-|\n| a | 3 |\n"
    assert _roles(text)["custom_thing"] == ("param", "custom_thing")
    assert _roles(text, known={"custom_thing"})["custom_thing"] == ("metric", "custom_thing")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("param.loss", ("param", "loss")),
        ("params.Max Depth", ("param", "max_depth")),
        ("param:lr", ("param", "lr")),
        ("config.batch", ("param", "batch")),
        ("config/lr", ("param", "lr")),
        ("metric.custom", ("metric", "custom")),
        ("metrics.custom", ("metric", "custom")),
        ("metric:custom", ("metric", "custom")),
        ("summary.custom", ("metric", "custom")),
        ("tag.team", ("tag", "team")),
        ("tags.team", ("tag", "team")),
        ("tag:Team Name", ("tag", "team_name")),
    ],
)
def test_explicit_prefixes_force_a_role(header: str, expected: tuple[str, str]) -> None:
    assert _roles(f"| Run ID | {header} |\n|-|-|\n| a | 1 |\n")[header] == expected


def test_metric_prefix_goes_through_aliases() -> None:
    roles = _roles("| Run ID | metric.AUC |\n|-|-|\n| a | 1 |\n", aliases={"auc": "val_auc"})
    assert roles["metric.AUC"] == ("metric", "val_auc")


@pytest.mark.parametrize(
    ("header", "value", "expected"),
    [
        ("Run", "x", ("run_id", None)),
        ("MLflow Run ID", "x", ("run_id", None)),
        ("Display Name", "x", ("run_name", None)),
        ("Algorithm", "x", ("model", None)),
        ("Hyperparameters", "x=1", ("params", None)),
        ("Remarks", "x", ("notes", None)),
        ("Labels", "x", ("tags", None)),
        ("Unnamed: 0", "0", ("ignored", None)),
        ("Test Accuracy", "0.9", ("metric", "test_accuracy")),
        ("F1-score", "0.9", ("metric", "f1_score")),
        ("ROC AUC", "0.9", ("metric", "roc_auc")),
        ("valauc", "0.9", ("metric", "valauc")),
        ("mAP@10", "0.9", ("metric", "map_10")),
        ("AP50", "0.9", ("metric", "ap50")),
        ("p95 latency (ms)", "12", ("metric", "p95_latency_ms")),
        ("val_custom", "0.9", ("metric", "val_custom")),
        ("val_split", "random", ("param", "val_split")),
        ("test_size", "0.2", ("param", "test_size")),
        ("loss_fn", "focal", ("param", "loss_fn")),
        ("num_blocks", "4", ("param", "num_blocks")),
        ("Max Depth", "6", ("param", "max_depth")),
        ("learning rate", "0.1", ("param", "learning_rate")),
    ],
)
def test_roles_from_headers(header: str, value: str, expected: tuple[str, str | None]) -> None:
    key_header = "Run name" if expected[0] == "run_id" else "Run ID"
    roles = _roles(f"{key_header},{header}\nr1,{value}\n")
    assert roles[header] == expected


def test_ignored_column_contributes_nothing() -> None:
    (row,) = parse_run_table("Unnamed: 0,Run ID,AUC\n0,a,0.5\n").rows
    assert (row.params, row.metrics, row.tags, row.notes) == ({}, {"auc": 0.5}, {}, None)


# --- Cells ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "params"),
    [
        ("lr=1e-3, depth=6", {"lr": "1e-3", "depth": "6"}),
        ("lr: 1e-3; depth: 6", {"lr": "1e-3", "depth": "6"}),
        ("lr=1e-3 depth=6", {"lr": "1e-3", "depth": "6"}),
        ("lr = 1e-3", {"lr": "1e-3"}),
        ('{"lr": 0.001, "opt": "adam", "layers": [64, 32]}', {"lr": "0.001", "opt": "adam", "layers": "[64, 32]"}),
        ("{lr: 0.001, depth: 6}", {"lr": "0.001", "depth": "6"}),
        ("layers=[64, 32], act=relu", {"layers": "[64, 32]", "act": "relu"}),
        ("Num Leaves=31", {"Num Leaves": "31"}),
        ("lr=, depth=6", {"depth": "6"}),
        ("-", {}),
        ("", {}),
    ],
)
def test_packed_params_variants(cell: str, params: dict[str, str]) -> None:
    (row,) = parse_run_table(f"Run ID\tParams\na\t{cell}\n").rows
    assert row.params == params
    assert row.warnings == ()


def test_packed_params_word_without_value_goes_to_notes_with_warning() -> None:
    text = "| Run ID | Params | Notes |\n|-|-|-|\n| a | lr=0.1, smote | tuned |\n"
    (row,) = parse_run_table(text).rows
    assert row.params == {"lr": "0.1"}
    assert row.notes == "smote; tuned"
    assert row.warnings == (TableWarning(3, "Params", "could not read 'smote' as key=value; kept in notes"),)


def test_param_given_twice_keeps_the_first_and_warns() -> None:
    text = "| Run ID | Params | lr |\n|-|-|-|\n| a | lr=0.1 | 0.2 |\n"
    (row,) = parse_run_table(text).rows
    assert row.params == {"lr": "0.1"}
    assert row.warnings == (TableWarning(3, "lr", '"lr" given twice ("0.1" and "0.2"); kept "0.1"'),)


def test_packed_tags_pairs_and_bare_words() -> None:
    text = "| Run ID | Tags | tag.owner |\n|-|-|-|\n| a | team=nlp, baseline #smote | ana |\n"
    (row,) = parse_run_table(text).rows
    assert row.tags == {"team": "nlp", "baseline": "true", "smote": "true", "owner": "ana"}


def test_empty_values_are_absent() -> None:
    text = "| Run ID | Model | Depth | Val AUC | Notes |\n|-|-|-|-|-|\n| a |  | - | n/a |  |\n"
    (row,) = parse_run_table(text).rows
    assert (row.params, row.metrics, row.notes, row.warnings) == ({}, {}, None, ())


def test_nan_metric_is_absent_with_a_warning() -> None:
    (row,) = parse_run_table("Run ID,Val AUC\na,NaN\n").rows
    assert row.metrics == {}
    assert row.warnings == (TableWarning(2, "Val AUC", '"NaN" read as missing'),)


def test_run_name_only_table() -> None:
    (row,) = parse_run_table("| Run name | loss |\n|-|-|\n| baseline | 0.3 |\n").rows
    assert (row.run_id, row.run_name, row.metrics) == (None, "baseline", {"loss": 0.3})
