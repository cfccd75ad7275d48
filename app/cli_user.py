"""The `labbook` user commands: each calls a running server's HTTP API (`app.client`) and prints the answer for a
person at a terminal or plainly for a pipe (`app.terminal`). They import nothing of the service itself, so they work
the same against a laptop's demo and a team's shared server, and start in well under a second.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import click
import typer

from app.client import LabbookClient, resolve_target
from app.errors import InputInvalid, LabbookError
from app.terminal import Output

user_cli = typer.Typer()

UrlOpt = Annotated[
    str | None,
    typer.Option(
        "--url", envvar="LABBOOK_URL", help="The Labbook server; else the config file's, else http://127.0.0.1:8000."
    ),
]
TokenOpt = Annotated[
    str | None, typer.Option("--token", envvar="LABBOOK_TOKEN", help="Bearer token.", show_default=False)
]
ProjectArg = Annotated[str, typer.Argument(help="The project's slug.")]
DayOpt = Annotated[str | None, typer.Option(help="A day, YYYY-MM-DD.", show_default=False)]
FormatOpt = Annotated[str | None, typer.Option("--format", help="markdown or csv; detected when omitted.")]


@contextmanager
def _client(url: str | None, token: str | None) -> Iterator[LabbookClient]:
    target = resolve_target(url=url, token=token)
    if target.warning:
        typer.echo(f"warning: {target.warning}", err=True)
    with LabbookClient(url=target.url, token=target.token) as client:
        yield client


# --- Runs and brain dumps ---------------------------------------------------------------------------------------------


@user_cli.command("import")
def import_cmd(
    project: ProjectArg,
    table: Annotated[typer.FileText, typer.Argument(help="A Markdown or CSV run table; - reads standard input.")],
    fmt: FormatOpt = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Import runs from a pasted table file. Re-importing a run ID updates that run."""
    with _client(url, token) as client:
        result = client.import_table(project, table=table.read(), format=fmt)
    _echo_import(Output(), result)


@user_cli.command("sync")
def sync_cmd(
    project: ProjectArg,
    full: Annotated[bool, typer.Option("--full", help="Read every run again, not only new and open ones.")] = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Sync runs from the project's linked MLflow experiments; later syncs read only new and still-running runs."""
    out = Output()
    with _client(url, token) as client, out.progress(f"syncing {project} from MLflow"):
        result = client.sync(project, full=full)
    for exp in result["experiments"]:
        out.line(
            f"experiment {exp['experiment_id']} '{exp['name']}' ({exp['mode']}): {exp['runs_read']} read, "
            f"{exp['created']} created, {exp['updated']} updated, {exp['unchanged']} unchanged, "
            f"{exp['open_runs']} still running"
        )
    out.line(
        f"runs: {result['created']} created, {result['updated']} updated, {result['unchanged']} unchanged "
        f"from {result['tracking_uri']} in {result['seconds']:.1f} s"
    )


@user_cli.command("log")
def log_cmd(
    project: ProjectArg,
    notes: Annotated[
        typer.FileText | None,
        typer.Argument(help="The brain dump: a file, or - for standard input. Omitted: $EDITOR, or piped input."),
    ] = None,
    edit: Annotated[bool, typer.Option("--edit", "-e", help="Write (or finish) the dump in $EDITOR.")] = False,
    table: Annotated[typer.FileText | None, typer.Option("--table", help="A run table file to import too.")] = None,
    session_date: Annotated[str | None, typer.Option("--date", help="The session's day, YYYY-MM-DD.")] = None,
    author: Annotated[str | None, typer.Option("--author", help="Defaults to the token's name.")] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Record an end-of-session brain dump, stored verbatim, with an optional run table; prints the log entry. If the
    server cannot take a dump written in the editor, it is saved to a file to send later."""
    text, edited = _dump_text(notes, edit=edit)
    body = {"text": text, "run_table": table.read() if table else None}
    body |= {k: v for k, v in {"session_date": session_date, "author": author}.items() if v}
    try:
        with _client(url, token) as client:
            log = client.create_log(project, body=body)
    except LabbookError as exc:
        if edited:  # what was typed in the editor exists nowhere else
            exc.message += f"\nyour notes are saved in {_save_draft(project, text)}; send them with `labbook log "
            exc.message += f"{project} <that file>`"
        raise
    out = Output()
    out.line(f"log {log['id']} stored for {log['session_date']} by {log['author']}")
    if log.get("run_import"):
        _echo_import(out, log["run_import"])
    if log.get("log_entry"):
        out.line(f"\nentry {log['log_entry']['id']}:\n")
        out.markdown(log["log_entry"]["markdown"])


def _dump_text(notes: typer.FileText | None, *, edit: bool) -> tuple[str, bool]:
    """The dump's text, and whether it was written in the editor."""
    given = notes.read() if notes is not None else None
    if given is None and not edit and not sys.stdin.isatty():
        given = sys.stdin.read()
    edited = edit or given is None
    text = click.edit(given or "", extension=".md", require_save=True) if edited else given
    if text is None or not text.strip():
        raise InputInvalid("nothing to log: the brain dump is empty" + (" (or was not saved)" if edited else ""))
    return text, edited


def _save_draft(project: str, text: str) -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    path = Path(base) / "labbook" / "unsent" / f"{project}-{time.strftime('%Y%m%d-%H%M%S')}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _echo_import(out: Output, result: dict[str, Any]) -> None:
    out.line(f"runs: {result['created']} created, {result['updated']} updated, {result['unchanged']} unchanged")
    for warning in result["warnings"]:
        column = f", {warning['column']}" if warning.get("column") else ""
        out.line(f"  line {warning['line']}{column}: {warning['message']}")


# --- Analysis and documents: each prints Markdown. --------------------------------------------------------------------


def _echo_document(url: str | None, token: str | None, project: str, resource: str, body: dict[str, Any]) -> None:
    with _client(url, token) as client:
        markdown = client.create_document(project, resource=resource, body={k: v for k, v in body.items() if v})
    Output().markdown(markdown)


@user_cli.command("findings")
def findings_cmd(project: ProjectArg, url: UrlOpt = None, token: TokenOpt = None) -> None:
    """The project's findings on the metric in force: baseline, best run, seed noise, gains within noise, runs that
    changed several things, duplicates, stalls, reproduction gaps and approach statuses, each with its runs."""
    with _client(url, token) as client:
        Output().markdown(client.findings(project))


@user_cli.command("summary")
def summary_cmd(
    project: ProjectArg, since: DayOpt = None, until: DayOpt = None, url: UrlOpt = None, token: TokenOpt = None
) -> None:
    """Write a phase summary of the sessions between --since and --until: approaches, what closed, the best run."""
    _echo_document(url, token, project, "summaries", {"since": since, "until": until})


@user_cli.command("next")
def next_cmd(
    project: ProjectArg,
    deadline: DayOpt = None,
    budget_runs: Annotated[int | None, typer.Option(help="How many runs you can afford.")] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Propose the next experiments, ranked toward the target within the deadline and budget."""
    _echo_document(url, token, project, "next-experiments", {"deadline": deadline, "budget_runs": budget_runs})


@user_cli.command("tried")
def tried_cmd(
    project: ProjectArg,
    proposal: Annotated[str, typer.Argument(help='What you want to try, e.g. "lightgbm num_leaves=63".')],
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Has this been tried? The runs that match the proposal, exactly or in part, and how they did."""
    _echo_document(url, token, project, "tried", {"proposal": proposal})


@user_cli.command("repro")
def repro_cmd(
    project: ProjectArg,
    run: Annotated[str, typer.Argument(help="The run: its ID, a 6+ character prefix, or its name.")],
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Write a reproduction report for a run: its setup, the gaps to fill, and the value to expect."""
    _echo_document(url, token, project, "reproductions", {"run": run})


@user_cli.command("brief")
def brief_cmd(
    project: ProjectArg,
    audience: Annotated[str | None, typer.Option(help="Who it is for.")] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Write a handover brief: the goal, what was tried and why it stopped, decisions, the best run and the risks."""
    _echo_document(url, token, project, "briefs", {"audience": audience})


CriterionOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--criterion",
        "-c",
        help="METRIC[:max|min][:WEIGHT], e.g. val_auc:max:3 (repeat). Default: the primary metric.",
        show_default=False,
    ),
]
CriteriaFileOpt = Annotated[
    typer.FileText | None,
    typer.Option("--criteria", help="A JSON list of criteria as the API takes them (people's scores, `why`)."),
]


@user_cli.command("decide")
def decide_cmd(
    project: ProjectArg,
    finalists: Annotated[list[str], typer.Argument(help="The finalist runs: IDs, 6+ character prefixes or names.")],
    criterion: CriterionOpt = None,
    criteria: CriteriaFileOpt = None,
    select: Annotated[str | None, typer.Option("--select", help="The run chosen; default the top-ranked.")] = None,
    rationale: Annotated[str, typer.Option(help="Why this run.")] = "",
    title: Annotated[str | None, typer.Option(help="The decision's title.")] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Record a model selection decision: the finalists ranked by weighted criteria, the choice and its rationale,
    the trade-offs accepted. The selected run is tagged in MLflow."""
    with _client(url, token) as client:
        chosen = [_criterion(c) for c in criterion or []] + (_criteria_file(criteria) if criteria else [])
        if not chosen:
            stored = client.get_project(project)
            metric, direction = stored["primary_metric"], stored["metric_direction"]
            chosen = [{"name": metric, "metric": metric, "direction": direction, "weight": 1}]
        body = {"finalists": finalists, "criteria": chosen, "selected": select, "rationale": rationale, "title": title}
        markdown = client.create_document(project, resource="decisions", body={k: v for k, v in body.items() if v})
    Output().markdown(markdown)


def _criterion(spec: str) -> dict[str, Any]:
    metric, *rest = spec.split(":")
    direction = rest.pop(0) if rest and rest[0] in ("max", "min") else "max"
    try:
        weight = float(rest.pop(0)) if rest else 1.0
    except ValueError:
        weight = -1.0
    if not metric or rest or weight < 0:
        raise InputInvalid(
            f"--criterion '{spec}': write METRIC[:max|min][:WEIGHT], e.g. val_auc:max:3", field="criterion"
        )
    return {"name": metric, "metric": metric, "direction": direction, "weight": weight}


def _criteria_file(file: typer.FileText) -> list[dict[str, Any]]:
    try:
        data = json.loads(file.read())
    except json.JSONDecodeError as exc:
        raise InputInvalid(f"--criteria {file.name}: line {exc.lineno}: {exc.msg}", line=exc.lineno) from exc
    if not isinstance(data, list) or not all(isinstance(c, dict) for c in data):
        raise InputInvalid(f"--criteria {file.name}: expected a JSON list of criteria objects", field="criteria")
    return data


@user_cli.command("search")
def search_cmd(
    project: ProjectArg,
    query: Annotated[str, typer.Argument(help='What to look for, in any words, e.g. "why did we drop the forests".')],
    kind: Annotated[str | None, typer.Option(help="log_entry (sessions) or a document kind.")] = None,
    since: DayOpt = None,
    until: DayOpt = None,
    approach: Annotated[str | None, typer.Option(help="Only passages about this approach.")] = None,
    limit: Annotated[int, typer.Option(help="How many hits.", min=1, max=50)] = 10,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Search the project's past sessions and documents by meaning and by exact token (run IDs, names, parameters)."""
    params = {"q": query, "kind": kind, "since": since, "until": until, "approach": approach, "limit": limit}
    with _client(url, token) as client:
        markdown = client.search(project, params={k: v for k, v in params.items() if v is not None})
    Output().markdown(markdown)


# --- Projects ---------------------------------------------------------------------------------------------------------


@user_cli.command("projects")
def projects_cmd(url: UrlOpt = None, token: TokenOpt = None) -> None:
    """List the projects the token can see: slug, name, primary metric, target, deadline, linked experiments."""
    with _client(url, token) as client:
        projects = client.list_projects()
    rows = [
        [
            p["slug"],
            p["name"],
            f"{p['primary_metric']} ({p['metric_direction']})",
            "" if p["target_value"] is None else f"{p['target_value']:g}",
            p["deadline"] or "",
            ", ".join(p["mlflow_experiments"]),
        ]
        for p in projects
    ]
    Output().table(["slug", "name", "metric", "target", "deadline", "experiments"], rows)


OutputDirOpt = Annotated[Path, typer.Option("--output", "-o", help="The folder to write the two files to.")]


@user_cli.command("export")
def export_cmd(
    project: ProjectArg,
    output: OutputDirOpt = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Overwrite files of an earlier export.")] = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Export a project: its whole narrative as one Markdown report for an audit (<slug>-report.md), and a JSON
    backup of every row (<slug>-backup.json: settings, runs, brain dumps verbatim with their redaction audit,
    entries with every version, marks, metric switches, decisions; no tokens, no outbox) that `labbook restore`
    reads into another database."""
    report_path, backup_path = output / f"{project}-report.md", output / f"{project}-backup.json"
    for path in (report_path, backup_path):
        if path.exists() and not force:
            raise InputInvalid(f"{path} exists; --force overwrites it", field="output")
    out = Output()
    with _client(url, token) as client, out.progress(f"exporting {project}"):
        backup = client.export_backup(project)
        report = client.report(project)
    output.mkdir(parents=True, exist_ok=True)
    _write(backup_path, backup)  # the server's bytes as they came: every text exactly as stored
    _write(report_path, report.encode("utf-8"))
    counts = json.loads(backup)["counts"]
    out.line(f"wrote {report_path} and {backup_path}")
    out.table(["table", "rows"], [[name, n] for name, n in counts.items()])


def _write(path: Path, data: bytes) -> None:
    """All of it or nothing: an interrupted export leaves no half file under the final name."""
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(data)
    partial.replace(path)
