"""The `reproduction_report` document: the most likely setup of one run (each field as recorded, as the person says,
inferred from sibling runs, or missing), one question per gap, the checks a reproduction must pass, and the MLflow
logging calls that would have closed each gap. A field no run of the project records is said once, as a gap of the
project, with its question and logging call, not as a gap of this run.

The log's statements reach the setup through `log_statements` (every statement of every log entry, with the runs it
cites): a field the log says was not recorded for the run is a gap asked about as such ("can that code be
recovered, or should it be re-run?"). The metric check of a deterministic run asks for a match to rounding (its
stored value's last digit as shown) and says what a larger difference would mean; any other run's check allows the
believable gain, with the seed sd, both at 2 significant digits. The parameters list leaves out what the setup
table already shows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from app.analysis.model import Findings, LogStatement, Setup, SetupField
from app.compose.contract import Composed, DocContext, EntryDigest
from app.compose.documents.audit import HEADING as AUDIT_HEADING
from app.compose.documents.audit import audit_lines, audit_notes
from app.compose.documents.common import body_run_ids
from app.compose.documents.filing import LOG_ENTRY
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
from app.parsing.fmt import fmt, fmt_noise, fmt_plain

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
# A field the log says was not recorded for the run: can it be recovered, or must the run be redone?
_UNRECORDED_QUESTIONS = {
    "git_commit": "The log says {run} ran from code no commit records: can that code be recovered (a commit or a "
    "saved diff), or should it be re-run from a clean checkout with its commit logged?",
    "environment": "The log says {run}'s environment was not recorded: which Python and package versions did it "
    "run with, or should it be re-run in a pinned environment?",
}
_UNRECORDED_QUESTION = "The log says {run}'s {field} was not recorded: can it be recovered, or should the run be "
_UNRECORDED_QUESTION += "re-run with it logged?"
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
        questions=[_question(g, setup) for g in setup.gaps],
        checks=_checks(setup, findings.noise.std),
        documentation=[_documentation(g, setup) for g in setup.gaps if g in _LOGGING],
        run_ids=[],
        seed_sd=findings.noise.std,
        project_gaps=[
            ProjectGapNote(field=g, question=_PROJECT_QUESTIONS[g], code=_LOGGING[g][0], why=_LOGGING[g][1])
            for g in setup.project_gaps
            if g in _LOGGING
        ],
        tolerance_rule=setup.tolerance_rule,
        audit=audit_notes(ctx, findings, {setup.key}),
    )
    body = draft.model_copy(update={"run_ids": body_run_ids(draft.model_dump())})
    title = title_line(TITLE, ctx.project_name)
    return Composed(KIND, body, _markdown(heading(title), body), body.run_ids, title, body.schema_version)


def log_statements(entries: Sequence[EntryDigest]) -> list[LogStatement]:
    """Every statement of the log entries, verbatim, with the runs it cites and the entry's day: their sections'
    items, and their experiments' sentences (a sentence naming several runs cites them all); never one kept only as
    a quotation."""
    statements = []
    for entry in entries:
        if entry.kind != LOG_ENTRY:
            continue
        cited: dict[str, list[str]] = {}
        for name, value in entry.body.items():
            for item in value if isinstance(value, list) and name != "warnings" else ():
                if isinstance(item, Mapping) and not item.get("quoted"):
                    text = item.get("text", item.get("context"))
                    runs = item.get("run_ids", [item.get("run_id")])
                    if isinstance(text, str) and isinstance(runs, list):
                        cited.setdefault(text, []).extend(r for r in runs if isinstance(r, str))
        statements += [LogStatement(t, tuple(dict.fromkeys(r)), entry.day) for t, r in cited.items() if r]
    return statements


def _documentation(name: str, setup: Setup) -> DocAction:
    """The logging call that closes the gap; for code the log says was not recorded, also where to launch from."""
    code, why = _LOGGING[name]
    if name == "git_commit" and any(f.name == name and f.said for f in setup.fields):
        why += "; launch from a clean, committed checkout so the commit is the code that ran"
    return DocAction(field=name, code=code, why=why)


def _question(name: str, setup: Setup) -> Question:
    run = cite(setup.key)
    if any(f.name == name and f.said for f in setup.fields):
        text = _UNRECORDED_QUESTIONS.get(name, _UNRECORDED_QUESTION).format(run=run, field=name)
    else:
        text = _QUESTIONS.get(name, "What was {run}'s " + name + "?").format(run=run)
    return Question(field=name, question=text)


def _checks(setup: Setup, seed_sd: float | None) -> list[Check]:
    by_name = {f.name: f for f in setup.fields}
    checks = [] if setup.expected is None else [_metric_check(setup, setup.expected, seed_sd)]
    for name, what, known in (
        ("data_version", "the same data", "version / digest {value}"),
        ("git_commit", "the same code", "commit {value}"),
        ("environment", "the same environment", "{value}"),
    ):
        field = by_name.get(name)
        runs = [setup.key, *(field.evidence if field else ())]
        checks.append(
            Check(
                name=name,
                what=f"{what}: {_checked_value(name, field, setup, known)}",
                evidence=Evidence(run_ids=list(dict.fromkeys(runs))),
            )
        )
    return checks


def _checked_value(name: str, field: SetupField | None, setup: Setup, known: str) -> str:
    if field is not None and field.said and field.value:
        doubt = "the log says the run did not use it as recorded (see the questions)"
        return f"{known.format(value=field.value)}, but {doubt}"
    if field is not None and field.said:
        return "unknown, the log says it was not recorded (see the questions)"
    if field is not None and field.value:
        return known.format(value=field.value)
    if name in setup.project_gaps:
        return "unknown (no run of this project records it)"
    return "unknown (see the questions)"


def _metric_check(setup: Setup, expected: float, seed_sd: float | None) -> Check:
    """The metric a reproduction must reach: to rounding for a deterministic run, else within the believable gain."""
    numbers = {"expected": expected} | ({"tolerance": setup.tolerance} if setup.tolerance is not None else {})
    if setup.tolerance_rule == "rounding" and setup.tolerance is not None:
        what = (
            f"{setup.metric} comes out at {fmt(expected)} (the run's stored value) to its last digit, within ± "
            f"{fmt_plain(setup.tolerance)}: the estimator is deterministic, so the same data, code and environment "
            "give the same model and seed noise does not apply; a larger difference comes from other library "
            "versions or BLAS and thread settings, not chance"
        )
    else:
        numbers |= {"seed_sd": seed_sd} if seed_sd is not None and setup.tolerance is not None else {}
        what = f"{setup.metric} comes out at {fmt(expected)} (the run's stored value)" + _within(setup, seed_sd)
    return Check(name="metric", what=what, evidence=Evidence(run_ids=[setup.key], numbers=numbers))


def _within(setup: Setup, seed_sd: float | None) -> str:
    if setup.tolerance is None:
        return ""
    if seed_sd is None:
        minimum = "the configured minimum effect: no seed repeats measure the seed sd"
        return f", within ± {fmt_noise(setup.tolerance)} ({minimum})"
    return (
        f", within ± {fmt_noise(setup.tolerance)} (the believable gain of one run over another; seed sd "
        f"{fmt_noise(seed_sd)})"
    )


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
    shown = {f.name: f.value for f in body.fields if f.value}
    params = [f"- {md_text(k)} = {md_text(v)}" for k, v in body.params.items() if v not in shown.get(k, "")]
    empty = "None beyond the setup above." if body.params else "No parameters recorded."
    blocks += section("Parameters", params, empty=empty)
    blocks += section("What the person knows", [f"- {md_text(k)}: {md_text(v)}" for k, v in body.known.items()])
    questions = [f"- {md_text(q.field)}: {md_prose(q.question)}" for q in body.questions]
    blocks += section("Questions to answer", questions, empty="None.")
    checks = [f"- [ ] {md_text(c.name)}: {md_text(c.what)}{cites(c.evidence.run_ids)}" for c in body.checks]
    blocks += section("Checks for a reproduction", checks)
    docs = [f"- {d.field}: `{d.code}` ({d.why})" for d in body.documentation]
    recorded = "Nothing more for this run (see the gaps of the whole project)." if body.project_gaps else ""
    blocks += section("Documentation to add", docs, empty=recorded or "Nothing: every field is recorded.")
    blocks += section(AUDIT_HEADING, audit_lines(body.audit))
    return document(blocks)
