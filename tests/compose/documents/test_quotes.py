"""Summaries and briefs quote what people wrote in their log entries: each statement once, filed under the approach
it is about, a success never as a failure, an answered question never as open, and the chosen model as the
selection decision on record says. The real analysis over a built history, the real composers and renderers."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from app.analysis.findings import analyze
from app.analysis.model import AnalysisInput, Findings, RunView
from app.compose.contract import Composed
from app.compose.documents import (
    DocContext,
    EntryDigest,
    check_document_grounding,
    compose_brief,
    compose_phase_summary,
    filing,
)
from app.compose.documents import brief as brief_doc
from app.compose.documents import summary as summary_doc
from app.compose.documents.filing import file_quotes, is_success
from app.compose.documents.schemas import HandoverBrief, PhaseSummary
from tests.compose.documents.fixtures import planned

START = datetime(2024, 5, 1, 9, 0)
ROWS = [  # key, day, params, val_auc
    ("base", 0, {"model": "logreg", "C": "1.0"}, 0.80),
    ("lr05", 1, {"model": "lgbm", "learning_rate": "0.05", "num_leaves": "31"}, 0.850),
    ("lr10", 1, {"model": "lgbm", "learning_rate": "0.1", "num_leaves": "31"}, 0.860),
    ("nl63", 2, {"model": "lgbm", "learning_rate": "0.1", "num_leaves": "63"}, 0.872),
    ("rf6", 1, {"model": "random_forest", "max_depth": "6", "n_estimators": "200"}, 0.840),
    ("rf12", 2, {"model": "random_forest", "max_depth": "12", "n_estimators": "200"}, 0.846),
    ("rf12n", 3, {"model": "random_forest", "max_depth": "12", "n_estimators": "500"}, 0.847),
    ("svm1", 3, {"model": "svm", "kernel": "rbf", "gamma": "0.1"}, 0.78),
    ("svm2", 3, {"model": "svm", "kernel": "rbf", "gamma": "0.01"}, 0.79),
]


def history() -> tuple[RunView, ...]:
    return tuple(
        RunView(
            key=key,
            name=key,
            params=params,
            metrics={"val_auc": auc},
            tags={"baseline": "true"} if key == "base" else {"approach": params["model"]},
            when=START + timedelta(days=day, minutes=i),
            session=(START + timedelta(days=day)).date(),
            status="FINISHED",
            duration_s=60.0,
            source="mlflow",
        )
        for i, (key, day, params, auc) in enumerate(ROWS)
    )


def items(*texts: str | tuple[str, list[str]]) -> list[dict[str, Any]]:
    return [{"text": t, "run_ids": []} if isinstance(t, str) else {"text": t[0], "run_ids": t[1]} for t in texts]


def log(entry_id: int, day: int, answered: tuple[str, ...] = (), **sections: list[dict[str, Any]]) -> EntryDigest:
    when = date(2024, 5, day)
    return EntryDigest(entry_id, "log_entry", when, when, "", body=sections, answered=answered)


ENTRIES = (
    log(
        1,
        2,
        did_not_work=items(
            ("lgbm with 63 leaves is the best so far", ["nl63"]),  # a success, not a failure
            "the forest overfit once the trees got deeper",  # no run cited: "forest" names random_forest
            ("both lines stalled this week", ["lr10", "rf12", "rf6"]),  # most cited runs are the forest's
        ),
        open_questions=items(
            "would a smaller learning rate still help?",  # a parameter only lgbm's runs change
            "is the validation set big enough?",  # about no one approach
            "does a max_depth beyond 12 matter for the forest?",  # answered by entry 3
            "does the rbf kernel need scaling?",  # answered, as recorded in storage
        ),
    ),
    log(
        2,
        3,
        answered=("does the rbf kernel need scaling?",),  # asked again here, answered for both askings
        open_questions=items("is the validation set big enough?", "does the rbf kernel need scaling?"),
    ),
    EntryDigest(  # an earlier summary: its quotes are a document's, never quoted again
        4,
        "phase_summary",
        date(2024, 5, 3),
        None,
        "Phase summary",
        body={"open_questions": items("a question only an earlier summary holds?")},
    ),
    log(5, 4, observations=items("checked max_depth beyond 12 for the forest: made no difference")),
)


def decision(entry_id: int, selected: str, rationale: str, source: str = "person") -> EntryDigest:
    body = {"title": "Pick a model", "selected": selected, "rationale": rationale, "rationale_source": source}
    return EntryDigest(entry_id, "selection_decision", date(2024, 5, 5), None, "", (selected,), body)


@pytest.fixture(scope="module")
def setting() -> tuple[DocContext, Findings]:
    runs = history()
    findings = analyze(AnalysisInput(runs=runs, primary_metric="val_auc", direction="max"))
    ctx = DocContext(
        project_slug="churn",
        project_name="Churn",
        goal="Predict churn",
        primary_metric="val_auc",
        direction="max",
        target_value=None,
        deadline=None,
        today=date(2024, 5, 20),
        public_url="",
        runs={r.key: r for r in runs},
        entries=ENTRIES + (decision(6, "rf12n", "half the latency of lgbm at 0.847"),),
    )
    return planned(ctx, findings), findings


def both(ctx: DocContext, findings: Findings) -> tuple[Composed, Composed]:
    summary = compose_phase_summary(ctx, findings, since=None, until=None)
    brief = compose_brief(ctx, findings, audience="")
    for doc in (summary, brief):
        assert check_document_grounding(doc, ctx, findings) == [], doc.kind
    return summary, brief


def filed(body: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """Quote text -> every (place, section) it appears under in a summary or brief body."""
    out: dict[str, list[tuple[str, str]]] = {}
    for section in ("conclusions", "did_not_work", "open_questions"):
        for q in body.get(section, []):
            out.setdefault(q["text"], []).append(("general", section))
        for a in body["approaches"]:
            for q in a.get(section, []):
                out.setdefault(q["text"], []).append((a["name"], section))
    for r in body.get("risks", []):
        if r["kind"] == "open_question":
            out.setdefault(r["text"], []).append(("general", "open_questions"))
    return out


EXPECTED = {
    "lgbm with 63 leaves is the best so far": ("lgbm", "conclusions"),
    "the forest overfit once the trees got deeper": ("random_forest", "did_not_work"),
    "both lines stalled this week": ("random_forest", "did_not_work"),
    "would a smaller learning rate still help?": ("lgbm", "open_questions"),
    "is the validation set big enough?": ("general", "open_questions"),
    # an observation that finds no effect is a conclusion (and the answer to the question it closed)
    "checked max_depth beyond 12 for the forest: made no difference": ("random_forest", "conclusions"),
}


def test_each_statement_is_quoted_once_under_its_approach(setting: tuple[DocContext, Findings]) -> None:
    summary, brief = both(*setting)
    assert {t: places for t, places in filed(summary.body.model_dump()).items()} == {
        t: [where] for t, where in EXPECTED.items()
    }
    # the brief tells no conclusions: the success line is in neither of its failure lists
    assert filed(brief.body.model_dump()) == {t: [where] for t, where in EXPECTED.items() if where[1] != "conclusions"}


def test_the_markdown_quotes_each_statement_once(setting: tuple[DocContext, Findings]) -> None:
    summary, brief = both(*setting)
    for doc in (summary, brief):
        assert doc.markdown.count("is the validation set big enough?") == 1, doc.kind
        assert "an earlier summary" not in doc.markdown
        assert "does a max_depth beyond 12" not in doc.markdown  # answered by a later dump
        assert "rbf kernel need scaling" not in doc.markdown  # answered, as recorded
    assert "did not work (2024-05-02, entry 1): “lgbm with 63 leaves" not in summary.markdown
    assert "  - concluded (2024-05-02, entry 1): “lgbm with 63 leaves is the best so far” (nl63)" in summary.markdown
    assert "  - open question: “would a smaller learning rate still help?”" in brief.markdown


def test_no_approach_reads_dropped_while_active(setting: tuple[DocContext, Findings]) -> None:
    _, brief = both(*setting)
    assert isinstance(brief.body, HandoverBrief)
    for story in brief.body.approaches:
        assert story.outcome != "dropped" or story.status in ("abandoned", "exhausted"), story.name
    svm = next(s for s in brief.body.approaches if s.name == "svm")  # worse than the baseline on both runs
    assert (svm.outcome, svm.status) == ("paused", "active")
    assert svm.why.startswith("below the baseline on every scored run so far")
    assert "dropped (active)" not in brief.markdown


def test_the_chosen_model_is_the_selection_on_record(setting: tuple[DocContext, Findings]) -> None:
    summary, brief = both(*setting)
    assert isinstance(summary.body, PhaseSummary) and isinstance(brief.body, HandoverBrief)
    assert summary.body.selected == brief.body.selected == "rf12n"
    assert summary.body.current_best is not None and summary.body.current_best.key == "nl63"
    line = (
        "Chosen model: rf12n, selected on 2024-05-05 (entry 6); the best run on **val_auc** is nl63, another run. "
        "Why the chosen one: half the latency of lgbm at 0.847."
    )
    assert line in summary.markdown and line in brief.markdown


def test_the_latest_selection_of_the_best_says_it_is_the_same_run(setting: tuple[DocContext, Findings]) -> None:
    ctx, findings = setting
    later = decision(7, "nl63", "")
    summary, brief = both(replace(ctx, entries=ctx.entries + (later,)), findings)
    for doc in (summary, brief):
        assert "Chosen model: nl63, selected on 2024-05-05 (entry 7); it is also the best run on **val_auc**." in (
            doc.markdown
        )
    # a summary up to a day before any decision names no chosen model
    early = compose_phase_summary(ctx, findings, since=None, until=date(2024, 5, 4))
    assert isinstance(early.body, PhaseSummary) and early.body.selected is None
    assert "Chosen model" not in early.markdown


def test_a_ranking_s_rationale_is_no_reason_of_the_person_s(setting: tuple[DocContext, Findings]) -> None:
    ctx, findings = setting
    later = decision(7, "rf12", "No rationale given: the selected run's weighted total is 0, against 1", "ranking")
    summary, brief = both(replace(ctx, entries=ctx.entries + (later,)), findings)
    line = (
        "Chosen model: rf12, selected on 2024-05-05 (entry 7); the best run on **val_auc** is nl63, another run. "
        "The decision records no reason of its own for choosing it over the best."
    )
    assert line in summary.markdown and line in brief.markdown


NEW_FIELDS = {
    "phase_summary": ("conclusions", "did_not_work", "selected", "selection"),
    "handover_brief": ("did_not_work", "selected"),
}


def test_bodies_stored_before_still_validate_and_render(setting: tuple[DocContext, Findings]) -> None:
    summary, brief = both(*setting)
    for doc, module in ((summary, summary_doc), (brief, brief_doc)):
        old = doc.body.model_dump(mode="json", exclude=set(NEW_FIELDS[doc.kind]))
        for a in old["approaches"]:
            del a["open_questions"]
        body = type(doc.body).model_validate(old)
        markdown = module.render_markdown(body, doc.title)  # type: ignore[arg-type]
        assert markdown.startswith(f"# {doc.title}\n") and "Chosen model" not in markdown


@pytest.mark.parametrize(
    ("text", "success"),
    [
        ("lgbm is the best so far", True),
        ("more leaves helped", True),
        ("new best at 0.87", True),
        ("more leaves did not help", False),
        ("best so far, though lr 0.3 diverged", True),  # a best said outright stands
        ("still our best model, the deeper one overfit", True),
        ("no longer the best once seeds were repeated", False),
        ("C=0.1 is the sweet spot", True),
        ("helped, but it diverged at lr 0.3", False),
        ("the forest overfit", False),
        ("warmup made no difference", False),
    ],
)
def test_a_success_line_is_not_a_failure(text: str, success: bool) -> None:
    assert is_success(text) is success


@pytest.mark.parametrize(
    ("text", "approach"),
    [
        ("lgbm beat the random forest by a point", "lgbm"),
        ("the random forest never got within a point of lgbm", "random_forest"),
        ("would a smaller learning rate help?", "lgbm"),  # a parameter only lgbm's runs change
        ("are more estimators worth the time?", "random_forest"),
        ("RF: does bagging more trees matter?", "random_forest"),  # a usual name of the family
        ("does gamma matter for the SVM?", "svm"),
        ("is a deeper tree worth the time?", "random_forest"),  # "deeper" and "tree": the forest's parameters
        ("is the split leaking?", None),
        ("would more seeds change the ranking?", None),  # seeds are every approach's
        ("lgbm and the forest both stalled", None),  # about two approaches equally: about no one of them
    ],
)
def test_a_statement_citing_no_run_is_filed_by_its_words(
    setting: tuple[DocContext, Findings], text: str, approach: str | None
) -> None:
    _, findings = setting
    quotes = file_quotes([log(1, 2, open_questions=items(text))], findings.approaches)
    where = [a.name for a in findings.approaches if quotes.of(a.name, "open_questions")]
    assert where == ([approach] if approach else [])
    assert len(quotes.unfiled("open_questions")) == (0 if approach else 1)


@pytest.mark.parametrize(
    ("text", "approach"),
    [
        ("does the rbf kernel want scaled inputs?", "svm"),  # a word of its runs' parameter values
        ("is rf12n stable across seeds?", "random_forest"),  # a run's name, unresolved as a reference
        ("does the logreg baseline leak?", None),  # the baseline is not a line of inquiry
    ],
)
def test_its_runs_names_and_values_name_an_approach(
    setting: tuple[DocContext, Findings], text: str, approach: str | None
) -> None:
    ctx, findings = setting
    quotes = file_quotes([log(1, 2, open_questions=items(text))], findings.approaches[1:], ctx.runs)
    assert [a.name for a in findings.approaches if quotes.of(a.name, "open_questions")] == (
        [approach] if approach else []
    )


def test_an_observation_that_says_a_best_outright_is_a_conclusion(setting: tuple[DocContext, Findings]) -> None:
    _, findings = setting
    said = items(("num_leaves 63 works best", ["nl63"]), ("rf12 took 3 minutes", ["rf12"]))
    quotes = file_quotes([log(1, 2, observations=said)], findings.approaches)
    assert [q.text for q in quotes.of("lgbm", "conclusions")] == ["num_leaves 63 works best"]
    assert quotes.of("random_forest", "conclusions") == []  # an observation that concludes nothing is not quoted


def test_a_clause_split_from_a_line_is_about_the_approach_the_line_names(setting: tuple[DocContext, Findings]) -> None:
    _, findings = setting
    entry = log(
        1,
        2,
        conclusions=[{"text": "the svm is clearly behind", "line": 3}],
        did_not_work=[{"text": "not worth more runs", "line": 3}, {"text": "the queue was slow", "line": 4}],
        open_questions=[{"text": "is the split leaking?", "line": 3}],  # a question stays what it says
    )
    quotes = file_quotes([entry], findings.approaches)
    assert [q.text for q in quotes.of("svm", "did_not_work")] == ["not worth more runs"]
    assert [q.text for q in quotes.unfiled("did_not_work")] == ["the queue was slow"]
    assert [q.text for q in quotes.unfiled("open_questions")] == ["is the split leaking?"]


def test_the_same_question_in_other_words_is_quoted_once(setting: tuple[DocContext, Findings]) -> None:
    _, findings = setting
    entries = [
        log(1, 2, open_questions=items("Is the validation set big enough?")),
        log(2, 3, open_questions=items("still: is the validation set big enough", "is the test set big enough?")),
    ]
    quotes = file_quotes(entries, findings.approaches).unfiled("open_questions")
    assert [(q.text, q.entry_id) for q in quotes] == [
        ("Is the validation set big enough?", 1),
        ("is the test set big enough?", 2),
    ]


@pytest.mark.parametrize(
    ("text", "section"),
    [
        ("ALS 64 factors 0.201, 256 factors 0.204 -> factors don't matter much.", "conclusions"),
        ("BiLSTM 0.845 / 0.846, i.e. nothing over the tf-idf baseline beyond noise.", "conclusions"),
        ("lr 0.02 instead of 0.05: 293.5, no better.", "conclusions"),
        ("We're dropping the BiLSTM, not worth the GPU hours.", "did_not_work"),
        ("SMOTE did not help at all: worse than plain scale_pos_weight.", "did_not_work"),
        ("no difference with lbfgs, which did not converge either", "did_not_work"),
    ],
)
def test_a_finding_of_no_effect_is_a_conclusion_a_breakage_a_failure(text: str, section: str) -> None:
    assert filing._filed_as("did_not_work", text) == section


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("adding the weather features -> 291!! that's under the 300 target.", True),
        ("depth 8 gets 0.63 - past the 0.60 target!", True),
        ("C=0.1 barely moves it (0.42).", True),
        ("bs64 gets 0.889, still short of the 0.92 target", False),
        ("not under the target yet", False),
        ("lightgbm on 168 lags: 338.", False),
    ],
)
def test_an_observation_is_quoted_when_it_finds_a_best_the_target_or_no_effect(text: str, quoted: bool) -> None:
    assert filing._quoted_observation(text) is quoted


def test_the_brief_says_what_comes_next(setting: tuple[DocContext, Findings]) -> None:
    _, brief = both(*setting)
    assert isinstance(brief.body, HandoverBrief)
    assert 1 <= len(brief.body.next_steps) <= 3
    assert "## Next steps\n\n1. **" in brief.markdown
