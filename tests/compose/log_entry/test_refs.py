"""Run references: full IDs, unique prefixes of 6+ hex characters, run names and MLflow UI links; never a guess."""

from __future__ import annotations

import pytest

from app.compose.log_entry.facts import RunFacts
from app.compose.log_entry.refs import RunIndex, find_references, resolve_explicit

FULL = "5c6d70a1e2f34b5c8d9e0f1a2b3c4d5e"
TWIN_A = "aa11bb22cc33dd44ee55ff6600112233"
TWIN_B = "aa11bb22ff33dd44ee55ff6600112233"
INDEX = RunIndex(
    [
        RunFacts(FULL, FULL, "bold-hen-42"),
        RunFacts(TWIN_A, TWIN_A, "baseline"),
        RunFacts(TWIN_B, TWIN_B, "baseline"),
        RunFacts("name:lgbm-v2", None, "lgbm-v2"),
    ]
)


def refs(text: str) -> list[tuple[str, str | None, tuple[str, ...]]]:
    return [(r.text, r.run.key if r.run else None, r.candidates) for r in find_references(text, INDEX)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"run {FULL} was best", [(FULL, FULL, (FULL,))]),
        (f"run {FULL.upper()} was best", [(FULL.upper(), FULL, (FULL,))]),
        ("smote (5c6d70a1) won", [("5c6d70a1", FULL, (FULL,))]),
        ("5c6d70 won", [("5c6d70", FULL, (FULL,))]),
        ("bold-hen-42 was fine", [("bold-hen-42", FULL, (FULL,))]),
        ("lgbm-v2 auc .86", [("lgbm-v2", "name:lgbm-v2", ("name:lgbm-v2",))]),
        (
            f"see http://mlflow.internal:5000/#/experiments/3/runs/{FULL} for it",
            [(f"http://mlflow.internal:5000/#/experiments/3/runs/{FULL}", FULL, (FULL,))],
        ),
        ("aa11bb22 vs the rest", [("aa11bb22", None, (TWIN_A, TWIN_B))]),
        ("deadbe3f was weird", [("deadbe3f", None, ())]),
    ],
)
def test_references_resolve_only_when_unique(
    text: str, expected: list[tuple[str, str | None, tuple[str, ...]]]
) -> None:
    assert refs(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "5c6d7 is too short to be a prefix",  # 5 characters
        "commit a1b2c3d4 has the fix",  # a commit hash, not a run
        "sha: 0a1b2c3d4e",
        "we trained for 100000 steps in a decade",  # digits only, letters only
        "the baseline is what we compare to",  # a name shared by two runs is a plain word
        "file at /tmp/ab12cd34ef/x.csv",
    ],
)
def test_words_that_are_not_run_references(text: str) -> None:
    assert refs(text) == []


def test_an_ambiguous_reference_is_flagged_not_guessed() -> None:
    (reference,) = find_references("aa11bb22 vs the rest", INDEX)
    assert reference.ambiguous and reference.run is None


def test_a_url_with_an_unknown_run_is_unknown_and_hides_its_hex() -> None:
    (reference,) = find_references("http://mlflow/#/experiments/1/runs/ffffffffffffffffffffffffffffffff", INDEX)
    assert (reference.kind, reference.run, reference.ambiguous) == ("url", None, False)


@pytest.mark.parametrize(
    ("reference", "key"),
    [(FULL, FULL), ("5c6d70a1", FULL), ("bold-hen-42", FULL), ("name:lgbm-v2", "name:lgbm-v2"), ("nope-1", None)],
)
def test_explicit_references_resolve_by_the_same_rules(reference: str, key: str | None) -> None:
    resolved = resolve_explicit(reference, INDEX)
    assert (resolved.run.key if resolved.run else None) == key


def test_prefix_lookup_scales_to_many_runs() -> None:
    many = RunIndex(RunFacts(f"{i:032x}", f"{i:032x}", None) for i in range(20_000))
    reference = resolve_explicit(f"{12_345:032x}"[:32], many)
    assert reference.run is not None and reference.run.key == f"{12_345:032x}"
