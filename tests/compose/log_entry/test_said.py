"""Verdicts on approaches and answers to open questions, read from a dump's words."""

from __future__ import annotations

import pytest

from app.compose.log_entry.declarations import answered_questions, may_declare_verdict, proposed_marks
from app.compose.log_entry.facts import RunFacts

APPROACHES = [
    "random_forest",
    "lightgbm",
    "tabnet",
    "logistic_regression",
    "mixup_aug",
    "prophet",
    "vit",
    "gbm_objective",
    "mlp",
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The RF line is a dead end, dropping it.", [("random_forest", "abandoned")]),
        ("Giving up on random forest: never within a point of LightGBM.", [("random_forest", "abandoned")]),
        ("Not pursuing tabnet any further.", [("tabnet", "abandoned")]),
        ("Mixup: not pursuing this any further.", [("mixup_aug", "abandoned")]),
        ("Shelving the prophet line until we have holiday data.", [("prophet", "abandoned")]),
        ("We won't revisit logistic regression, it underfits.", [("logistic_regression", "abandoned")]),
        ("prophet is finished for us, killing that line: it is slow.", [("prophet", "abandoned")]),
        ("Tried tabnet again, six runs. Dead end.", [("tabnet", "abandoned")]),
        ("Spent the day on TabNet.\nIt's a dead end, dropping it: never close to LightGBM.", [("tabnet", "abandoned")]),
        ("Let's stop working on prophet.", [("prophet", "abandoned")]),
        ("Going with LightGBM.", [("lightgbm", "adopted")]),
        ("LightGBM is the winner, shipping it.", [("lightgbm", "adopted")]),
        ("LightGBM is the clear winner.", [("lightgbm", "adopted")]),
        ("Calling it: tabnet is a dead end.", [("tabnet", "abandoned")]),
        ("After six runs, we are giving up on tabnet.", [("tabnet", "abandoned")]),
        ("kill the mlp line, too slow to train", [("mlp", "abandoned")]),
        ("We're going with the forest, tabnet is dead.", [("tabnet", "abandoned"), ("random_forest", "adopted")]),
    ],
)
def test_a_verdict_proposes_a_mark_with_its_sentence(text: str, expected: list[tuple[str, str]]) -> None:
    marks = proposed_marks(text, approaches=APPROACHES)
    assert sorted((m.approach, m.status) for m in marks) == sorted(expected)
    assert all(m.reason in text for m in marks)
    assert may_declare_verdict(text)


@pytest.mark.parametrize(
    "text",
    [
        "Tabnet didn't help this time.",
        "Random forest worse today, will retry with more data.",
        "Not dropping tabnet yet.",
        "If tabnet fails again we'll drop it.",
        "Should we drop prophet?",
        "Tabnet looks like a dead end.",
        "The forest is not a dead end.",
        "AUC dropped 2 points with tabnet.",
        "Tabnet dropped to 0.71 after the change.",
        "Killed the tabnet run, it was OOM.",
        "Dropping the tenure feature from the forest.",
        "The feature engineering is a dead end.",
        "Tabnet beat the forest by a point.",
        "Parking ViT for now.",
        "We should go with lightgbm.",
        "gbm objective sweep meh today, huber no better than l2.",
        "ResNet looks plateaued, but let's give it one more lr sweep before calling it.",
        "TabNet killed it on the holdout.",
        "I'd go with lightgbm.",
        "Nobody wants to abandon tabnet.",
        "LightGBM is the winner on recall but not on AUC.",
        "Shipping the fix to the tabnet loader.",
        "the lightgbm run dropped 2 points",
        "Tabnet is a dead end unless we get more data.",
        "We dropped dropout from the mlp.",
    ],
)
def test_a_setback_negation_or_hypothetical_proposes_nothing(text: str) -> None:
    assert proposed_marks(text, approaches=APPROACHES) == []


def test_a_dump_without_verdict_words_needs_no_approaches() -> None:
    assert not may_declare_verdict("AUC 0.86 with the forest, tenure features helped. Open question: leakage?")


def test_contrary_verdicts_on_one_approach_cancel_out() -> None:
    text = "Going with tabnet. Actually tabnet is a dead end."
    assert proposed_marks(text, approaches=APPROACHES) == []


def test_a_wording_that_names_two_approaches_names_neither() -> None:
    assert proposed_marks("The forest line is a dead end.", approaches=["random_forest", "isolation_forest"]) == []


QUESTIONS = [
    "is the split leaking?",
    "why does WAPE jump in week 14?",
    "does the ViT need a longer warmup to beat the ResNet?",
    "open question, no idea yet.",
]


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("checked the split: no leakage, the gap comes from the class balance.", QUESTIONS[0]),
        ("Leakage through the split ruled out: ids are disjoint.", QUESTIONS[0]),
        ("Turns out the week 14 jump is Easter.", QUESTIONS[1]),
        (
            "Answer to the warmup question: 10 vs 2 epochs made no difference, warmup is not what holds the ViT back.",
            QUESTIONS[2],
        ),
    ],
)
def test_a_sentence_that_answers_an_open_question_is_found(text: str, question: str) -> None:
    found = answered_questions(text, open_questions=QUESTIONS)
    assert [(a.question, a.quote) for a in found] == [(question, text)]


@pytest.mark.parametrize(
    "text",
    [
        "Still no idea why WAPE jumps in week 14.",
        "Is the split leaking? need to check.",
        "Ran the ViT with a longer warmup again today.",
        "WAPE went down this week.",
        "The split looks fine to me.",
        "Will check whether the split leaks tomorrow.",
        "Next: verify the week 14 WAPE jump against the holiday calendar.",
    ],
)
def test_a_restated_question_or_unrelated_sentence_answers_nothing(text: str) -> None:
    assert answered_questions(text, open_questions=QUESTIONS) == []


def test_a_verdict_points_back_past_a_sentence_that_only_compares() -> None:
    text = "Spent the morning on mixup, three configs. None got near lightgbm. Dead end, dropping it."
    assert [(m.approach, m.status) for m in proposed_marks(text, approaches=APPROACHES)] == [("mixup_aug", "abandoned")]


def test_them_after_two_approaches_marks_each_but_it_marks_neither() -> None:
    text = "prophet and tabnet both lagged all week."
    both = proposed_marks(f"{text} Shelving them until the spring.", approaches=APPROACHES)
    assert sorted((m.approach, m.status) for m in both) == [("prophet", "abandoned"), ("tabnet", "abandoned")]
    assert proposed_marks(f"{text} Shelving it until the spring.", approaches=APPROACHES) == []


def test_a_verdict_looks_back_two_sentences_at_most() -> None:
    text = "Ran tabnet twice. The loader was slow. Then the GPU died. Lunch. It is a dead end."
    assert proposed_marks(text, approaches=APPROACHES) == []


RUNS = [
    RunFacts("9f3e" + "0" * 28, "9f3e" + "0" * 28, "tn-wide"),
    RunFacts("7c1d" + "0" * 28, "7c1d" + "0" * 28, "tn-deep"),
]
OF = {RUNS[0].key: "tabnet", RUNS[1].key: "tabnet"}


@pytest.mark.parametrize(
    "text",
    [
        "tn-wide 0.71, tn-deep 0.70. Both are a dead end.",
        "tn-wide and tn-deep never got past 0.71.\nWe're done with them.",
        "tn-wide (9f3e0000) 0.71 and tn-deep 0.70, dropping these.",
    ],
)
def test_runs_pointed_back_to_stand_for_their_approach(text: str) -> None:
    marks = proposed_marks(text, approaches=APPROACHES, runs=RUNS, approach_of=OF)
    assert [(m.approach, m.status) for m in marks] == [("tabnet", "abandoned")]


@pytest.mark.parametrize(
    "text",
    ["tn-wide is a dead end.", "Dropping tn-deep, the wide one stays.", "tn-wide 0.71. If it stalls again we drop it."],
)
def test_a_run_named_as_the_verdicts_subject_marks_no_approach(text: str) -> None:
    assert proposed_marks(text, approaches=APPROACHES, runs=RUNS, approach_of=OF) == []
