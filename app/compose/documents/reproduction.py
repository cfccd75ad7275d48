"""The `reproduction_report` document: the most likely setup of one run (each field as recorded, as the person says,
inferred from sibling runs, or missing), one question per gap, the checks a reproduction must pass, and the MLflow
logging calls that would have closed each gap. A field no run of the project records is said once, as a gap of the
project, with its question and logging call, not as a gap of this run."""

from __future__ import annotations

from collections.abc import Mapping

from app.analysis.model import Findings, Setup
from app.compose.contract import Composed, DocContext
from app.compose.documents.common import body_run_ids
from app.compose.documents.render import cite, cites, document, heading, md_prose, md_text, section, table, title_line
from app.compose.documents.schemas import (
    Check,
    DocAction,
    Evidence,
    FieldNote,
    ProjectGapNote,
    Question,
    ReproductionReport,
)
from app.compose.labels import labelling
from app.parsing.fmt import fmt

KIND = "reproduction_report"
TITLE = "Reproduction report"

_QUESTIONS = {
    "git_commit": "Which commit of the code produced {run}? (a branch name is not enough)",
    "data_version": "Which version or snapshot of the data did {run} read, and with which digest?",
    "seed": "Which random seed(s) did {run} use?",
    "environment": "Which Python and package versions did {run} run with?",
    "hardware": "On which hardware (CPU/GPU type and count) did {run} run?",
    "source_name": "Which script or entry point started {run}, with which command line?",
    "split": "How was the data split for {run} (train/validation/test, and how)?",
    "owner": "Who ran {run}, and who can answer questions about it?",
}
_PROJECT_QUESTIONS = {
    "git_commit": "Which commit of the code produced the project's runs?",
    "data_version": "Which version or snapshot of the data do the project's runs read?",
    "seed": "Which random seeds do the project's runs use?",
    "environment": "Which Python and package versions do the project's runs use?",
    "hardware": "On which hardware (CPU/GPU type and count) do the project's runs run?",
    "source_name": "Which script or entry point starts the project's runs?",
    "split": "How is the data split (train/validation/test, and how)?",
    "owner": "Who runs the project's experiments, and who can answer questions about them?",
}
_LOGGING = {
    "git_commit": ('mlflow.set_tag("mlflow.source.git.commit", commit_sha)', "records the exact code"),
    "data_version": (
        'mlflow.log_input(mlflow.data.from_pandas(df, source=data_uri, name="train"), context="training")',
        "records the dataset with its digest",
    ),
    "seed": ('mlflow.log_param("seed", seed)', "lets a rerun draw the same randomness"),
    "environment": ('mlflow.log_artifact("requirements.txt")', "pins the package versions"),
    "hardware": ('mlflow.set_tag("hardware", gpu_name)', "explains speed and numeric differences"),
    "source_name": ('mlflow.set_tag("mlflow.source.name", "train.py")', "names the entry point"),
    "split": ('mlflow.log_param("split", split_spec)', "records how the data was split"),
    "owner": ('mlflow.set_tag("mlflow.user", user)', "names who to ask"),
}


@labelling
def compose_reproduction(ctx: DocContext, findings: Findings, setup: Setup, *, known: Mapping[str, str]) -> Composed:
    draft = ReproductionReport(
        key=setup.key,
        metric=setup.metric,
        expected=setup.expected,
        tolerance=setup.tolerance,
        noise_source=setup.noise_source,
        fields=[
            FieldNote(name=f.name, value=f.value, source=f.source, evidence=list(f.evidence), note=f.note)
            for f in setup.fields
        ],
        params=dict(setup.params),
        known=dict(known),
        questions=[
            Question(field=g, question=_QUESTIONS.get(g, "What was {run}'s " + g + "?").format(run=cite(setup.key)))
            for g in setup.gaps
        ],
        checks=_checks(setup, findings.noise.std),
        documentation=[
            DocAction(field=g, code=_LOGGING[g][0], why=_LOGGING[g][1]) for g in setup.gaps if g in _LOGGING
        ],
        run_ids=[],
        seed_sd=findings.noise.std,
        project_gaps=[
            ProjectGapNote(field=g, question=_PROJECT_QUESTIONS[g], code=_LOGGING[g][0], why=_LOGGING[g][1])
            for g in setup.project_gaps
            if g in _LOGGING
        ],
    )
    body = draft.model_copy(update={"run_ids": body_run_ids(draft.model_dump())})
    title = title_line(TITLE, ctx.project_name)
    return Composed(KIND, body, _markdown(heading(title), body), body.run_ids, title, body.schema_version)


def _checks(setup: Setup, seed_sd: float | None) -> list[Check]:
    by_name = {f.name: f for f in setup.fields}
    checks = []
    if setup.expected is not None:
        numbers = {"expected": setup.expected} | ({"tolerance": setup.tolerance} if setup.tolerance is not None else {})
        numbers |= {"seed_sd": seed_sd} if seed_sd is not None and setup.tolerance is not None else {}
        sd = f"seed sd {fmt(seed_sd)}" if seed_sd is not None else "seed sd unknown, the configured minimum effect"
        within = (
            f" within ± {fmt(setup.tolerance)} (the believable gain of one run over another; {sd})"
            if setup.tolerance is not None
            else ""
        )
        checks.append(
            Check(
                name="metric",
                what=f"{setup.metric} comes out at {fmt(setup.expected)}{within} (the run's stored value)",
                evidence=Evidence(run_ids=[setup.key], numbers=numbers),
            )
        )
    for name, what in (
        ("data_version", "the same data: version / digest {value}"),
        ("git_commit", "the same code: commit {value}"),
        ("environment", "the same environment: {value}"),
    ):
        field = by_name.get(name)
        unknown = (
            "unknown (no run of this project records it)"
            if name in setup.project_gaps
            else "unknown (see the questions)"
        )
        value = field.value if field and field.value else unknown
        runs = [setup.key, *(field.evidence if field else ())]
        checks.append(
            Check(name=name, what=what.format(value=value), evidence=Evidence(run_ids=list(dict.fromkeys(runs))))
        )
    return checks


def render_markdown(body: ReproductionReport, title: str) -> str:
    """The document's Markdown from its body and its title (without the leading `# `)."""
    return _markdown(heading(title), body)


def _markdown(title: str, body: ReproductionReport) -> str:
    blocks = [title, f"Run {cite(body.key)}, judged on **{md_text(body.metric)}**."]
    rows = [
        [
            md_text(f.name),
            md_text(f.value or "") or "—",
            f.source,
            ", ".join(cite(r) for r in f.evidence) or "—",
            md_text(f.note) or "—",
        ]
        for f in body.fields
    ]
    blocks += section("Most likely setup", [table(["Field", "Value", "Source", "From runs", "Note"], rows)])
    if body.project_gaps:
        names = ", ".join(md_text(g.field) for g in body.project_gaps)
        lead = f"No run of this project records {names}: gaps of the project, said once, not gaps of this run."
        notes = [
            f"- {md_text(g.field)}: {md_prose(g.question)} Log it in the launch code: `{g.code}` ({g.why})."
            for g in body.project_gaps
        ]
        blocks += section("Gaps of the whole project", [lead, "", *notes])
    params = [f"- {md_text(k)} = {md_text(v)}" for k, v in body.params.items()]
    blocks += section("Parameters", params, empty="No parameters recorded.")
    blocks += section("What the person knows", [f"- {md_text(k)}: {md_text(v)}" for k, v in body.known.items()])
    questions = [f"- {md_text(q.field)}: {md_prose(q.question)}" for q in body.questions]
    blocks += section("Questions to answer", questions, empty="None.")
    checks = [f"- [ ] {md_text(c.name)}: {md_text(c.what)}{cites(c.evidence.run_ids)}" for c in body.checks]
    blocks += section("Checks for a reproduction", checks)
    docs = [f"- {d.field}: `{d.code}` ({d.why})" for d in body.documentation]
    recorded = "Nothing more for this run (see the gaps of the whole project)." if body.project_gaps else ""
    blocks += section("Documentation to add", docs, empty=recorded or "Nothing: every field is recorded.")
    return document(blocks)
