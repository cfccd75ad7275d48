"""Quotes filed under the approach they are about, read through the service: a run only compared with is not the
subject, nor an approach named after "below the", and a statement that points back ("Both worse than the
baseline.") is about the approach its line names."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from evals.documents import DocLabels, DocumentsCase, DumpSpec, ProjectSpec, RunSpec, _project


def run(id: str, hour: int, auc: float, approach: str, **params: Any) -> RunSpec:
    return RunSpec(
        id=id,
        name=id.replace("_", "-"),
        start=datetime(2026, 3, 2, hour),
        params=params,
        metrics={"val_auc": auc},
        tags={"approach": approach, **({"baseline": "true"} if id == "base" else {})},
    )


RUNS = [
    run("base", 8, 0.90, "baseline", model="LogisticRegression", C=1.0),
    run("knn_raw", 9, 0.86, "neighbours-raw", model="KNeighborsClassifier", n_neighbors=5),
    run("svc_raw", 10, 0.88, "neighbours-raw", model="SVC", kernel="rbf"),
    run("lin_c1", 11, 0.95, "linear-scaled", model="LogisticRegression", C=1.0, scaler="standard"),
    run("lin_c10", 12, 0.951, "linear-scaled", model="LogisticRegression", C=10.0, scaler="standard"),
    run("forest_a", 13, 0.93, "forest", model="RandomForestClassifier", n_estimators=100),
    run("forest_b", 14, 0.931, "forest", model="RandomForestClassifier", n_estimators=400),
    run("gbm_a", 15, 0.94, "boosting", model="HistGradientBoostingClassifier", learning_rate=0.1),
]
DUMP = (
    "Tried knn-raw and svc-raw on the raw features: 0.86 and 0.88. Both worse than the baseline.\n"
    "Scaled the features, lin-c1 0.95, lin-c10 0.951.\n"
    "forests are stuck around 0.93, well below lin-c1 at 0.95.\n"
    "didn't work: boosting tops out near 0.94, clearly below the scaled logistic regression.\n"
)


def filed() -> dict[str, str | None]:
    case = DocumentsCase(
        kind="documents",
        why="filing",
        project=ProjectSpec(primary_metric="val_auc", direction="max"),
        runs=RUNS,
        dumps=[DumpSpec(date=date(2026, 3, 2), run_ids=[r.id for r in RUNS], text=DUMP)],
        labels=DocLabels(target_met=None, best=None, selected=None, min_candidates=None),
    )
    with _project("filing", case, 0) as p:
        p.post_log(DUMP, date(2026, 3, 2), [r.id for r in RUNS])
        body = p.document("summary").body
    out: dict[str, str | None] = {q["text"]: None for q in body["did_not_work"]}
    for a in body["approaches"]:
        out |= {q["text"]: a["name"] for q in a["did_not_work"]}
    return out


def test_each_statement_is_filed_under_what_it_is_about() -> None:
    where = filed()
    assert where["Both worse than the baseline."] == "neighbours-raw"
    assert where["forests are stuck around 0.93, well below lin-c1 at 0.95."] == "forest"
    assert where["boosting tops out near 0.94, clearly below the scaled logistic regression."] == "boosting"


def documents_of(dump: str, runs: list[RunSpec] = RUNS) -> tuple[Any, Any, Any]:
    case = DocumentsCase(
        kind="documents",
        why="filing",
        project=ProjectSpec(primary_metric="val_auc", direction="max", target=0.95),
        runs=runs,
        dumps=[DumpSpec(date=date(2026, 3, 2), run_ids=[r.id for r in runs], text=dump)],
        labels=DocLabels(target_met=None, best=None, selected=None, min_candidates=None),
    )
    with _project("proposed", case, 1) as p:
        p.post_log(dump, date(2026, 3, 2), [r.id for r in runs])
        return p.document("summary"), p.document("brief"), p.document("next", target=0.95)


def test_a_mark_a_dump_proposed_is_shown_beside_its_approach_until_confirmed() -> None:
    dump = DUMP.replace(
        "Both worse than the baseline.", "Both worse than the baseline. Dead end without scaling, dropping them."
    )
    summary, brief, _ = documents_of(dump)
    # the sentence is quoted once, as a failure of that approach; the proposal points to it
    said = "a dump proposes marking it abandoned (its words are quoted below; not confirmed yet)"
    for doc in (summary, brief):
        story = next(a for a in doc.body["approaches"] if a["name"] == "neighbours-raw")
        assert story["proposed"] == {"status": "abandoned", "reason": "Dead end without scaling, dropping them."}
        assert said in doc.markdown
        assert all(a["proposed"] is None for a in doc.body["approaches"] if a["name"] != "neighbours-raw")


def test_a_statement_about_an_approach_the_document_does_not_tell_is_filed_under_none() -> None:
    # the baseline's line is not told as an approach; its failure is no other approach's
    runs = [RUNS[0].model_copy(update={"params": {**RUNS[0].params, "solver": "lbfgs", "max_iter": 100}}), *RUNS[1:]]
    runs += [
        run("gbm_b", 16, 0.941, "boosting", model="HistGradientBoostingClassifier", learning_rate=0.1, max_iter=200)
    ]
    summary, _, _ = documents_of("didn't work: the baseline's lbfgs hit max_iter=100 without converging.\n", runs)
    told = {q["text"] for a in summary.body["approaches"] for q in a["did_not_work"]}
    assert not any("lbfgs" in t for t in told)
    assert any("lbfgs" in q["text"] for q in summary.body["did_not_work"])


def test_a_key_named_with_a_value_its_runs_gave_names_the_approach() -> None:
    runs = [
        *RUNS,
        run("gbm_lr02", 16, 0.92, "boosting", model="HistGradientBoostingClassifier", learning_rate=0.2),
        run("forest_lr", 17, 0.925, "forest", model="RandomForestClassifier", n_estimators=200, learning_rate=0.1),
    ]
    summary, _, _ = documents_of("didn't work:\n- lr 0.2 overshoots: 0.92\n", runs)
    boosting = next(a for a in summary.body["approaches"] if a["name"] == "boosting")
    assert [q["text"] for q in boosting["did_not_work"]] == ["lr 0.2 overshoots: 0.92"]


def test_a_switch_its_runs_turn_on_names_the_approach() -> None:
    # a line of one run changes no key: the switch it turns on is what names it
    runs = [*RUNS, run("lin_mix", 16, 0.952, "linear-aug", model="LogisticRegression", C=1.0, mixup="true")]
    summary, _, _ = documents_of("mixup helped a little, 0.952.\n", runs)
    line = next(a for a in summary.body["approaches"] if a["name"] == "linear-aug")
    assert [q["text"] for q in line["conclusions"]] == ["mixup helped a little, 0.952."]


def test_the_sentence_a_proposed_mark_quotes_is_said_once() -> None:
    dump = DUMP.replace(
        "Both worse than the baseline.", "Both worse than the baseline. Dead end without scaling, dropping them."
    )
    summary, brief, _ = documents_of(dump)
    for doc in (summary, brief):
        assert doc.markdown.count("Dead end without scaling, dropping them.") == 1
