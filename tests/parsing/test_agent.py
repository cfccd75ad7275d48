"""What an agent's result log says of each row: its key, its name, its change, its configuration."""

from __future__ import annotations

import pytest

from app.parsing.agent import accumulate, read_change, row_key, row_name, same_change, says_baseline
from app.parsing.tables import detect_format, parse_run_table


def test_a_row_key_is_its_position_and_a_hash_of_its_cells() -> None:
    cells = ("4f1c2a9", "1.021340", "keep", "baseline")
    assert row_key(1, cells) == row_key(1, [" 4f1c2a9", "1.021340 ", "keep", "baseline"])
    assert row_key(1, cells).startswith("row1-") and len(row_key(1, cells)) == 13
    assert row_key(2, cells) != row_key(1, cells)
    assert row_key(1, cells) != row_key(1, ("4f1c2a9", "1.021341", "keep", "baseline"))


def test_a_row_name_is_cut_at_a_word() -> None:
    assert row_name(3, "warmup_steps=200") == "#3 warmup_steps=200"
    long = row_name(12, "rotary embeddings instead of learned absolute positions in every layer")
    assert long.startswith("#12 rotary embeddings instead of learned") and long.endswith("…")
    assert len(long) <= len("#12 ") + 48
    assert row_name(4, None) == "#4"


@pytest.mark.parametrize(
    ("description", "assignments", "words"),
    [
        ("warmup_steps=500 lr=3e-4", {"warmup_steps": "500", "lr": "3e-4"}, None),
        ("lr=3e-4 (was 1e-3)", {"lr": "3e-4"}, None),
        ("swap GELU for SwiGLU", {}, "swap GELU for SwiGLU"),
        ("seed=43", {"seed": "43"}, None),
        ("baseline", {}, None),
        ("Baseline (default config).", {}, None),
        ("depth=8 and add dropout", {"depth": "8"}, "and add dropout"),
    ],
)
def test_a_description_is_its_assignments_and_its_words(
    description: str, assignments: dict[str, str], words: str | None
) -> None:
    assert read_change(description) == (assignments, words)


def test_the_same_change_in_other_words_case_and_punctuation() -> None:
    assert same_change("Add weight decay.", "add  weight decay")
    assert same_change("lr=3e-4 warmup=100", "warmup=100 lr=3e-4")
    assert not same_change("lambda_l2=1.0", "lambda_l2=10")
    assert says_baseline("baseline (default config)") and not says_baseline("beat the baseline with lr=3e-4")


def test_each_row_builds_on_the_last_kept_row() -> None:
    rows = [({}, "keep"), ({"lr": "6e-4"}, "keep"), ({"wd": "0.1"}, "discard"), ({"seed": "7"}, "keep"), ({}, None)]
    assert accumulate(rows) == [
        {},
        {"lr": "6e-4"},
        {"lr": "6e-4", "wd": "0.1"},
        {"lr": "6e-4", "seed": "7"},
        {"lr": "6e-4", "seed": "7"},
    ]


def test_tabs_are_sniffed_and_a_keyless_csv_reads_too() -> None:
    assert detect_format("commit\tval_bpb\tstatus\tdescription\n") == "tsv"
    assert detect_format("a,b\tc,d\n") == "csv"
    table = parse_run_table("model,auc\nlgbm,0.81\nlogreg,0.78\n")
    assert [(r.run_name, r.params) for r in table.rows] == [("#1", {"model": "lgbm"}), ("#2", {"model": "logreg"})]
    # Without keep verdicts no row inherits another's parameters.
    assert table.rows[1].run_id is not None and table.rows[1].run_id.startswith("row2-")


def test_a_change_in_words_is_read_into_settings_against_the_logs_own_keys() -> None:
    from app.analysis.tried import settings_in_words

    log = (
        "commit\tval_bpb\tstatus\tdescription\n"
        "a1b2c3d\t1.0200\tkeep\tbaseline\n"
        "b2c3d4e\t1.0100\tkeep\tlr=6e-4 warmup_steps=200\n"
        "c3d4e5f\t1.0050\tkeep\tincrease LR to 1e-3\n"
        "d4e5f6a\t1.0060\tdiscard\tlower lr to 3e-4 and warmup 100\n"
        "e5f6a7b\t1.0040\tdiscard\tswap GELU for SwiGLU\n"
        "f6a7b8c\t1.0070\tdiscard\tmore warmup\n"
    )
    rows = parse_run_table(log, read_words=settings_in_words).rows
    assert rows[2].params == {"lr": "1e-3", "warmup_steps": "200"}  # its own lr over its parent's
    assert rows[3].params == {"lr": "3e-4", "warmup_steps": "100"}
    assert rows[4].params == {"lr": "1e-3", "warmup_steps": "200", "change": "swap GELU for SwiGLU"}
    assert rows[5].params["change"] == "more warmup"  # a direction, not a value: kept in words
    assert rows[2].tags["change"] == "increase LR to 1e-3"  # the description itself stays as written
    assert parse_run_table(log).rows[2].params["change"] == "increase LR to 1e-3"  # without a reader
