"""What the log says a run did not record, read clause by clause."""

from __future__ import annotations

import pytest

from app.analysis.model import LogStatement, RunView
from app.analysis.unrecorded import says_unrecorded, unrecorded_fields


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ("trained out of a scratch dir, so there is no commit for it", ["git_commit"]),
        ("the git hash was never logged", ["git_commit"]),
        ("forgot to commit before launching", ["git_commit"]),
        ("launched from a dirty worktree", ["git_commit"]),
        ("patched the collate script by hand first", ["git_commit"]),
        ("conda env wasn't pinned anywhere", ["environment"]),
        ("reran it on a fresh docker image", ["environment"]),
        ("bumped the torch packages in between", ["environment"]),
        ("I didn't set the random seed", ["seed"]),
        ("neither the seed nor the dataset snapshot were recorded", ["data_version", "seed"]),
        ("untracked csv, no data version saved", ["data_version"]),
        # no doubt: the opposite said, or nothing about a setup field
        ("clean checkout, no local edits", []),
        ("no seed repeats for this one yet", []),
        ("the script does not log the calibration curve", []),
        ("no gain over the baseline without feature scaling", []),
        ("no data leakage between the folds", []),
    ],
)
def test_says_unrecorded(text: str, fields: list[str]) -> None:
    assert says_unrecorded(text) == fields


def test_a_statement_citing_several_runs_speaks_of_the_ones_its_clause_names() -> None:
    runs = {k: RunView(k, run_id=k + "0000000", name=n) for k, n in (("a1", "cnn-aug"), ("b2", "cnn-base"))}
    said = [LogStatement("cnn-aug used local patches to the augmenter; cnn-base ran from main", ("a1", "b2"))]
    assert list(unrecorded_fields(runs["a1"], said)) == ["git_commit"]
    assert unrecorded_fields(runs["b2"], said) == {}
