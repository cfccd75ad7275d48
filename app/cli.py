"""The `labbook` command.

Server-side commands (serve, demo, worker, migrate, restore, reindex, token) work on the local database in-process;
user commands (log, import, sync, findings, summary, export, ...: `app.cli_user`) call a running server's HTTP API, so
they work the same against a laptop's demo and a team's server. `mcp` serves the chat tools on stdio, calling a
server's API the same way.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import uvicorn
from pydantic import ValidationError
from sqlmodel import Session

from app.cli_user import TokenOpt, UrlOpt, user_cli
from app.client import resolve_target
from app.config import Settings, get_settings
from app.errors import ConfigInvalid, InputInvalid, LabbookError, field_name
from app.services import auth
from app.services.schemas import TokenCreate
from app.storage import outbox as outbox_store
from app.storage.db import make_engine, migrate, session_scope, writer
from app.terminal import Output

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
cli.add_typer(user_cli)  # the user commands, at the top level: `labbook log`, `labbook export`, ...

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
    if workers > 1 and settings.retrieval == "on" and not settings.chroma_url:
        # Embedded Chroma is one process's: two clients on one folder do not see each other's vectors and can corrupt
        # its index.
        raise ConfigInvalid(
            f"--workers {workers} with embedded Chroma: several processes cannot share its folder; set "
            "LABBOOK_CHROMA_URL to a Chroma server (`chroma run`), or LABBOOK_RETRIEVAL=off"
        )
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
        "worker). More than one needs the settings in the environment, and a Chroma server (LABBOOK_CHROMA_URL) "
        "unless LABBOOK_RETRIEVAL=off.",
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


@cli.command("restore")
def restore_cmd(
    backup: Annotated[Path, typer.Argument(help="A backup written by `labbook export` (<slug>-backup.json).")],
) -> None:
    """Read a project backup into this database (DATABASE_URL, or the SQLite file in the data dir), which must not
    hold that project: every row, each link mapped to the row it pointed at, ids kept where they are free. One
    transaction: all of it or nothing."""
    from app.services import backup as backup_service

    parsed = backup_service.read_backup(_read_json(backup))
    out = Output()
    with _session(get_settings()) as session, out.progress(f"restoring {parsed.project}", total=1) as step:
        result = backup_service.restore_project(session, backup=parsed, progress=step)
    out.line(f"restored project '{result.slug}': {sum(t.rows for t in result.tables)} rows")
    out.table(["table", "rows", "ids"], [[t.name, t.rows, "kept" if t.kept_ids else "new"] for t in result.tables])
    if {"entry", "session_log"} & set(result.renumbered):
        out.line("note: entries and brain dumps got new ids here; documents still cite them by the backup's ids")
    if get_settings().retrieval == "on":
        out.line(f"search: `labbook reindex {result.slug}` indexes its sessions and documents")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except OSError as exc:
        raise InputInvalid(f"cannot read {path}: {exc.strerror}", field="backup") from exc
    except json.JSONDecodeError as exc:
        raise InputInvalid(f"{path}: line {exc.lineno}: {exc.msg}", line=exc.lineno) from exc
    except UnicodeDecodeError as exc:
        raise InputInvalid(f"{path}: not UTF-8 text ({exc.reason})", field="backup") from exc


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


@cli.command("mcp")
def mcp_cmd(url: UrlOpt = None, token: TokenOpt = None) -> None:
    """Serve Labbook's chat tools (MCP) on standard input and output, for a desktop assistant that starts this
    command. Every tool calls the server at --url (LABBOOK_URL, else the config file's) with --token (LABBOOK_TOKEN,
    else the config file's) and its project scope."""
    from app.api.mcp.stdio import serve_stdio  # the MCP SDK loads in about a second: only this command needs it

    target = resolve_target(url=url, token=token)
    if not target.token:
        raise typer.BadParameter("set LABBOOK_TOKEN: every tool calls the server with it", param_hint="--token")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    if target.warning:
        logging.getLogger(__name__).warning(target.warning)
    serve_stdio(url=target.url, token=target.token)


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
