"""The `labbook` command.

Server-side commands (serve, demo, migrate, token) work on the local database in-process; user commands (import,
log) call a running server's HTTP API, so they work the same against a laptop's demo and a team's server.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer
import uvicorn
from pydantic import ValidationError
from sqlmodel import Session

from app.client import LabbookClient
from app.config import Settings, get_settings
from app.errors import LabbookError, field_name
from app.services import auth
from app.services.schemas import TokenCreate
from app.storage import outbox as outbox_store
from app.storage.db import make_engine, migrate, session_scope, writer

if TYPE_CHECKING:
    from app.demo.seed import DemoSeeded

# The outbox, the demo and the app import MLflow (about 2 s): the server-side commands that need them import them
# when they run, so the user commands, which only call the HTTP API, start in well under a second.

_HELP = {"help_option_names": ["-h", "--help"]}
# pretty_exceptions off: LabbookError reaches main(), which prints its message and exits 1.
cli = typer.Typer(
    help="Labbook: the narrative layer for ML experiments.",
    context_settings=_HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
token_cli = typer.Typer(
    help="Create, list and revoke API tokens (works on the database directly).",
    context_settings=_HELP,
    no_args_is_help=True,
)
cli.add_typer(token_cli, name="token")

HostOpt = Annotated[str, typer.Option(help="Interface to listen on.")]
PortOpt = Annotated[int, typer.Option(help="Port to listen on.")]


@contextmanager
def _session(settings: Settings) -> Iterator[Session]:
    engine = make_engine(settings.sqlalchemy_url)
    try:
        migrate(engine)
        yield from session_scope(writer(engine))
    finally:
        engine.dispose()


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")


def _serve(settings: Settings, host: str, port: int, workers: int = 1) -> None:
    from app.main import create_app

    log_level = settings.log_level.lower()
    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level)
        return
    # Several processes on one port: each builds its app from the environment (`create_app()`), so the settings
    # must come from there, and the schema is brought up to date once, here, before any of them starts.
    if settings.auto_migrate:
        engine = make_engine(settings.sqlalchemy_url)
        migrate(engine)
        engine.dispose()
    os.environ["LABBOOK_AUTO_MIGRATE"] = "false"
    uvicorn.run("app.main:create_app", factory=True, host=host, port=port, workers=workers, log_level=log_level)


WorkersOpt = Annotated[
    int,
    typer.Option(
        min=1,
        max=64,
        help="Processes serving the port (each with LABBOOK_MAX_CONCURRENCY requests at once and its own outbox "
        "worker). More than one needs the settings in the environment.",
    ),
]


@cli.command()
def serve(host: HostOpt = "127.0.0.1", port: PortOpt = 8000, workers: WorkersOpt = 1) -> None:
    """Start the HTTP service (migrates the database first)."""
    settings = get_settings()
    _configure_logging(settings)
    _serve(settings, host, port, workers)


@cli.command("migrate")
def migrate_cmd() -> None:
    """Bring the database schema up to date."""
    settings = get_settings()
    engine = make_engine(settings.sqlalchemy_url)
    migrate(engine)
    engine.dispose()
    typer.echo(f"database is up to date ({engine.dialect.name})")


@cli.command("worker")
def worker_cmd(
    once: Annotated[bool, typer.Option("--once", help="Deliver what is due now, then exit (cron, tests).")] = False,
) -> None:
    """Deliver the write-back outbox to MLflow (run descriptions, labbook.* tags) with retries, until Ctrl-C or
    SIGTERM. Run it beside services started with LABBOOK_OUTBOX_WORKER=off."""
    from app.services import index_queue
    from app.services import memory as memory_service
    from app.services import outbox as outbox_service
    from app.services.logs import OUTBOX_WRITERS

    settings = get_settings()
    _configure_logging(settings)
    index_queue.configure(enabled=settings.retrieval == "on")  # an entry the worker composes is indexed too
    memory_service.configure(settings)
    engine = make_engine(settings.sqlalchemy_url)
    try:
        migrate(engine)
        sessions = outbox_store.session_factory(writer(engine))
        if once:
            counts = outbox_service.drain(sessions, settings, extra_writers=OUTBOX_WRITERS)
            typer.echo(f"outbox: {counts.delivered} delivered, {counts.retried} to retry, {counts.dead} dead")
            return
        worker = outbox_service.OutboxWorker(sessions, settings, extra_writers=OUTBOX_WRITERS)
        signal.signal(signal.SIGTERM, lambda *_: worker.request_stop())
        typer.echo(f"outbox worker: polling every {settings.outbox_poll_seconds:g} s (Ctrl-C stops)")
        try:
            worker.run()
        except KeyboardInterrupt:
            typer.echo("outbox worker stopped")
    finally:
        engine.dispose()


@cli.command("demo")
def demo_cmd(
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 8000,
    serve_: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve after seeding.")] = True,
    mlflow_port: Annotated[int, typer.Option(help="The local MLflow server's port; 0 picks a free one.")] = 0,
) -> None:
    """Start a local MLflow server, log a real experiment's history to it (scikit-learn on the bundled breast-cancer
    data), sync it into a demo project with three brain dumps, and serve Labbook. A second start reuses it all."""
    from app.demo import seed as demo
    from app.services import index_queue
    from app.services import memory as memory_service

    started = time.monotonic()
    # SIGTERM unwinds like Ctrl-C, so the MLflow server is stopped too: uvicorn re-raises the signal after its graceful
    # shutdown, which with the default handler would end the process on the spot.
    signal.signal(signal.SIGTERM, lambda signum, _: sys.exit(128 + signum))
    settings = _demo_settings(get_settings(), host=host, port=port)
    _configure_demo_logging(settings)
    index_queue.configure(enabled=settings.retrieval == "on")  # the demo's dumps and entries are searchable
    memory_service.configure(settings)
    progress = _Progress()
    progress("starting MLflow")
    with demo.mlflow_server(settings, port=mlflow_port) as mlflow_server:
        with _session(settings) as session:
            seeded = demo.seed_demo(session, settings=settings, tracking_uri=mlflow_server.url, progress=progress)
            token = demo.ensure_demo_token(session, settings=settings)
        if serve_:
            progress.clear()
            _echo_demo(seeded, token=token, url=settings.public_url)
            typer.echo(f"ready in {time.monotonic() - started:.1f} s")
            _serve(settings, host, port)  # its in-process worker writes the entries back to MLflow
            return
        progress("writing the entries back to MLflow")
        counts = _deliver_writebacks(settings)
    progress.clear()
    _echo_seeded(seeded, token=token, delivered=counts, data_dir=str(settings.data_dir))
    typer.echo(f"seeded in {time.monotonic() - started:.1f} s")


class _Progress:
    """One progress line on a terminal, rewritten step by step; one short line per step elsewhere (a log file)."""

    def __init__(self) -> None:
        self.tty = sys.stdout.isatty()
        self.width = 0

    def __call__(self, step: str) -> None:
        if not self.tty:
            typer.echo(f"demo: {step}")
            return
        line = f"demo: {step} ..."
        sys.stdout.write("\r" + line.ljust(self.width))
        sys.stdout.flush()
        self.width = len(line)

    def clear(self) -> None:
        if self.tty and self.width:
            sys.stdout.write("\r" + " " * self.width + "\r")
            sys.stdout.flush()
        self.width = 0


def _configure_demo_logging(settings: Settings) -> None:
    """The demo's console is for a person trying Labbook: warnings and errors only, unless LABBOOK_LOG_LEVEL asks for
    more. uvicorn still reports where it serves, and each request, at `settings.log_level`."""
    if "log_level" in settings.model_fields_set:
        _configure_logging(settings)
        return
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")


def _deliver_writebacks(settings: Settings) -> tuple[int, int]:
    """What serving would do in the background: write the entries back to MLflow (and index them) before its server
    stops.
    Returns (tag writes sent to MLflow, items to retry): a write-back MLflow already holds needs no write."""
    from app.services import outbox as outbox_service
    from app.services.logs import OUTBOX_WRITERS

    engine = make_engine(settings.sqlalchemy_url)
    try:
        counts = outbox_service.drain(outbox_store.session_factory(engine), settings, extra_writers=OUTBOX_WRITERS)
    finally:
        engine.dispose()
    return counts.writes, counts.retried


def _demo_settings(settings: Settings, *, host: str, port: int) -> Settings:
    """Entry links written back to MLflow point at this server, unless LABBOOK_PUBLIC_URL says otherwise."""
    if "public_url" in settings.model_fields_set:
        return settings
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return settings.model_copy(update={"public_url": f"http://{shown}:{port}"})


def _echo_demo(seeded: DemoSeeded, *, token: str, url: str) -> None:
    typer.echo(f"Labbook demo: project '{seeded.slug}' ({seeded.runs} runs, {seeded.logs} brain dumps)")
    typer.echo(f"  MLflow UI: {seeded.tracking_uri}")
    typer.echo(f"  Labbook:   {url}  (API docs at {url}/docs)")
    typer.echo(f"  Token:     {token}")
    typer.echo(f"  Try:       curl -H 'Authorization: Bearer {token}' {url}/v1/projects/{seeded.slug}/runs")


def _echo_seeded(seeded: DemoSeeded, *, token: str, delivered: tuple[int, int], data_dir: str) -> None:
    done, retry = delivered
    typer.echo(f"Labbook demo: project '{seeded.slug}' ({seeded.runs} runs, {seeded.logs} brain dumps) in {data_dir}")
    typer.echo(f"  written back to MLflow: {done} write-backs ({retry} to retry)")
    typer.echo(f"  Token:     {token}")
    typer.echo("MLflow and Labbook have stopped (--no-serve); `labbook demo` serves this data again.")


@token_cli.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="Who uses it; the default author of what it posts.")],
    project: Annotated[
        list[str] | None, typer.Option("--project", "-p", help="Limit to this project (repeat).")
    ] = None,
) -> None:
    """Create a token and print its secret (shown once)."""
    with _session(get_settings()) as session:
        created = auth.create_token(session, body=TokenCreate(name=name, projects=project or None))
    scope = ", ".join(created.projects) if created.projects else "all projects"
    typer.echo(f"token {created.id} '{created.name}' ({scope}):")
    typer.echo(created.token)


@token_cli.command("list")
def token_list(all_: Annotated[bool, typer.Option("--all", help="Include revoked tokens.")] = False) -> None:
    """List tokens (never their secrets)."""
    with _session(get_settings()) as session:
        tokens = auth.list_tokens(session, include_revoked=all_)
    for t in tokens:
        scope = ",".join(t.projects) if t.projects else "*"
        state = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "active"
        typer.echo(f"{t.id}\t{t.name}\t{t.prefix}…\t{scope}\t{state}")


@token_cli.command("revoke")
def token_revoke(token_id: Annotated[int, typer.Argument(help="The id shown by `labbook token list`.")]) -> None:
    """Revoke a token; it stops working at once."""
    with _session(get_settings()) as session:
        revoked = auth.revoke_token(session, token_id=token_id)
    typer.echo(f"token {revoked.id} '{revoked.name}' revoked")


# --- User commands: they call a running server's HTTP API. ------------------------------------------------------------

UrlOpt = Annotated[str, typer.Option("--url", envvar="LABBOOK_URL", help="The Labbook server.")]
TokenOpt = Annotated[
    str | None, typer.Option("--token", envvar="LABBOOK_TOKEN", help="Bearer token.", show_default=False)
]
_URL = "http://127.0.0.1:8000"
FormatOpt = Annotated[str | None, typer.Option("--format", help="markdown or csv; detected when omitted.")]


@cli.command("import")
def import_cmd(
    project: Annotated[str, typer.Argument(help="The project's slug.")],
    table: Annotated[typer.FileText, typer.Argument(help="A Markdown or CSV run table; - reads standard input.")],
    fmt: FormatOpt = None,
    url: UrlOpt = "http://127.0.0.1:8000",
    token: TokenOpt = None,
) -> None:
    """Import runs from a pasted table file. Re-importing a run ID updates that run."""
    with LabbookClient(url=url, token=token) as client:
        result = client.import_table(project, table=table.read(), format=fmt)
    _echo_import(result)


@cli.command("sync")
def sync_cmd(
    project: Annotated[str, typer.Argument(help="The project's slug.")],
    full: Annotated[bool, typer.Option("--full", help="Read every run again, not only new and open ones.")] = False,
    url: UrlOpt = "http://127.0.0.1:8000",
    token: TokenOpt = None,
) -> None:
    """Sync runs from the project's linked MLflow experiments; later syncs read only new and still-running runs."""
    with LabbookClient(url=url, token=token) as client:
        result = client.sync(project, full=full)
    for exp in result["experiments"]:
        typer.echo(
            f"experiment {exp['experiment_id']} '{exp['name']}' ({exp['mode']}): {exp['runs_read']} read, "
            f"{exp['created']} created, {exp['updated']} updated, {exp['unchanged']} unchanged, "
            f"{exp['open_runs']} still running"
        )
    typer.echo(
        f"runs: {result['created']} created, {result['updated']} updated, {result['unchanged']} unchanged "
        f"from {result['tracking_uri']} in {result['seconds']:.1f} s"
    )


@cli.command("log")
def log_cmd(
    project: Annotated[str, typer.Argument(help="The project's slug.")],
    notes: Annotated[typer.FileText, typer.Argument(help="The brain dump; - reads standard input.")],
    table: Annotated[typer.FileText | None, typer.Option("--table", help="A run table file to import too.")] = None,
    session_date: Annotated[str | None, typer.Option("--date", help="The session's day, YYYY-MM-DD.")] = None,
    author: Annotated[str | None, typer.Option("--author", help="Defaults to the token's name.")] = None,
    url: UrlOpt = "http://127.0.0.1:8000",
    token: TokenOpt = None,
) -> None:
    """Record an end-of-session brain dump, stored verbatim, with an optional run table; prints the log entry."""
    body = {"text": notes.read(), "run_table": table.read() if table else None}
    body |= {k: v for k, v in {"session_date": session_date, "author": author}.items() if v}
    with LabbookClient(url=url, token=token) as client:
        log = client.create_log(project, body=body)
    typer.echo(f"log {log['id']} stored for {log['session_date']} by {log['author']}")
    if log.get("run_import"):
        _echo_import(log["run_import"])
    if log.get("log_entry"):
        typer.echo(f"\nentry {log['log_entry']['id']}:\n")
        typer.echo(log["log_entry"]["markdown"])


def _echo_import(result: dict[str, Any]) -> None:
    typer.echo(f"runs: {result['created']} created, {result['updated']} updated, {result['unchanged']} unchanged")
    for warning in result["warnings"]:
        column = f", {warning['column']}" if warning.get("column") else ""
        typer.echo(f"  line {warning['line']}{column}: {warning['message']}")


# --- Documents from the analysis: each prints the document's Markdown. ------------------------------------------------

ProjectArg = Annotated[str, typer.Argument(help="The project's slug.")]
DayOpt = Annotated[str | None, typer.Option(help="A day, YYYY-MM-DD.", show_default=False)]


def _echo_document(url: str, token: str | None, project: str, resource: str, body: dict[str, Any]) -> None:
    with LabbookClient(url=url, token=token) as client:
        markdown = client.create_document(project, resource=resource, body={k: v for k, v in body.items() if v})
    typer.echo(markdown)


@cli.command("summary")
def summary_cmd(
    project: ProjectArg, since: DayOpt = None, until: DayOpt = None, url: UrlOpt = _URL, token: TokenOpt = None
) -> None:
    """Write a phase summary of the sessions between --since and --until: approaches, what closed, the best run."""
    _echo_document(url, token, project, "summaries", {"since": since, "until": until})


@cli.command("next")
def next_cmd(
    project: ProjectArg,
    deadline: DayOpt = None,
    budget_runs: Annotated[int | None, typer.Option(help="How many runs you can afford.")] = None,
    url: UrlOpt = _URL,
    token: TokenOpt = None,
) -> None:
    """Propose the next experiments, ranked toward the target within the deadline and budget."""
    _echo_document(url, token, project, "next-experiments", {"deadline": deadline, "budget_runs": budget_runs})


@cli.command("tried")
def tried_cmd(
    project: ProjectArg,
    proposal: Annotated[str, typer.Argument(help='What you want to try, e.g. "lightgbm num_leaves=63".')],
    url: UrlOpt = _URL,
    token: TokenOpt = None,
) -> None:
    """Has this been tried? The runs that match the proposal, exactly or in part, and how they did."""
    _echo_document(url, token, project, "tried", {"proposal": proposal})


@cli.command("repro")
def repro_cmd(
    project: ProjectArg,
    run: Annotated[str, typer.Argument(help="The run: its ID, a 6+ character prefix, or its name.")],
    url: UrlOpt = _URL,
    token: TokenOpt = None,
) -> None:
    """Write a reproduction report for a run: its setup, the gaps to fill, and the value to expect."""
    _echo_document(url, token, project, "reproductions", {"run": run})


@cli.command("brief")
def brief_cmd(
    project: ProjectArg,
    audience: Annotated[str | None, typer.Option(help="Who it is for.")] = None,
    url: UrlOpt = _URL,
    token: TokenOpt = None,
) -> None:
    """Write a handover brief: the goal, what was tried and why it stopped, decisions, the best run and the risks."""
    _echo_document(url, token, project, "briefs", {"audience": audience})


@cli.command("search")
def search_cmd(
    project: ProjectArg,
    query: Annotated[str, typer.Argument(help='What to look for, in any words, e.g. "why did we drop the forests".')],
    kind: Annotated[str | None, typer.Option(help="log_entry (sessions) or a document kind.")] = None,
    since: DayOpt = None,
    until: DayOpt = None,
    approach: Annotated[str | None, typer.Option(help="Only passages about this approach.")] = None,
    limit: Annotated[int, typer.Option(help="How many hits.", min=1, max=50)] = 10,
    url: UrlOpt = _URL,
    token: TokenOpt = None,
) -> None:
    """Search the project's past sessions and documents by meaning and by exact token (run IDs, names, parameters)."""
    params = {"q": query, "kind": kind, "since": since, "until": until, "approach": approach, "limit": limit}
    with LabbookClient(url=url, token=token) as client:
        markdown = client.search(project, params={k: v for k, v in params.items() if v is not None})
    typer.echo(markdown)


@cli.command("reindex")
def reindex_cmd(
    project: Annotated[str | None, typer.Argument(help="A project's slug; every project when omitted.")] = None,
) -> None:
    """Rebuild the search index from the database (Chroma under the data dir, or LABBOOK_CHROMA_URL): chunks whose
    text is unchanged are not embedded again; chunks of deleted sources are removed."""
    from app.services import memory as memory_service
    from app.storage import projects as project_store

    settings = get_settings()
    _configure_logging(settings)
    memory = memory_service.require(settings)
    engine = make_engine(settings.sqlalchemy_url)
    try:
        migrate(engine)
        with Session(writer(engine)) as session:
            projects = (
                [memory_service.project_or_404(session, project)]
                if project
                else project_store.list_projects(session, slugs=None, after_id=0, limit=1_000_000)
            )
            for one in projects:
                with typer.progressbar(length=1, label=f"{one.slug:<24}") as bar:

                    def step(done: int, total: int, bar: Any = bar) -> None:
                        bar.length = total
                        bar.update(1)

                    counts = memory_service.reindex(session, memory, project=one, progress=step)
                typer.echo(
                    f"{one.slug}: {counts.sources} sources, {counts.chunks} chunks "
                    f"({counts.embedded} embedded, {counts.deleted} removed)"
                )
    finally:
        engine.dispose()


def main() -> None:
    try:
        cli()
    except LabbookError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise SystemExit(1) from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = field_name(first["loc"], empty="")
        typer.echo(f"error: {where}: {first['msg']}", err=True)
        raise SystemExit(1) from exc
