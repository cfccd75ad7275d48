"""The FastAPI application: lifespan (engine, migrations), middleware, routers and error handlers. Nothing else."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import APIRouter, FastAPI

from app import __version__
from app.api import handlers, responses
from app.api.idempotency import Idempotency, declare_header
from app.api.load import Admission, LoadGate, capacity
from app.api.mcp.http import ChatEndpoint
from app.api.middleware import BodyGuard, SecurityHeaders
from app.api.routes import (
    approaches,
    documents,
    entries,
    exports,
    findings,
    health,
    logs,
    outbox,
    projects,
    runs,
    search,
    tokens,
)
from app.config import Settings, get_settings
from app.services import analysis as analysis_service
from app.services import index_queue, memory
from app.services.logs import OUTBOX_WRITERS
from app.services.outbox import OutboxWorker
from app.storage.db import make_engine, migrate, writer
from app.storage.outbox import session_factory

logger = logging.getLogger(__name__)

# An admitted request always finds a connection (app/api/load.py); a wait this long means the database itself is
# stuck, and the request fails instead of waiting for ever.
POOL_TIMEOUT_SECONDS = 10.0
# POSTs that take no Idempotency-Key: a token's secret is shown once and never stored, so no answer could be replayed.
NO_IDEMPOTENCY = ("/v1/tokens",)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    limits = capacity(settings.max_concurrency)
    chat = ChatEndpoint()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Threads and connections sized with the admission limit (app/api/load.py says why).
        anyio.to_thread.current_default_thread_limiter().total_tokens = limits.threads
        engine = make_engine(
            settings.sqlalchemy_url,
            pool_size=limits.pool_size,
            max_overflow=limits.max_overflow,
            pool_timeout=POOL_TIMEOUT_SECONDS,
        )
        if settings.auto_migrate:
            migrate(engine)
        app.state.engine = engine
        app.state.writer_engine = writer(engine)
        # Short transactions outside a request's (idempotency keys); they write, so they take the write lock up front.
        app.state.sessions = session_factory(writer(engine))
        analysis_service.configure_cache(max_runs=settings.analysis_cache_runs)
        index_queue.configure(enabled=settings.retrieval == "on")
        memory.configure(settings)
        # Write-back delivery inside the service by default; `off` when `labbook worker` runs it elsewhere.
        worker = (
            OutboxWorker(session_factory(writer(engine)), settings, extra_writers=OUTBOX_WRITERS)
            if settings.outbox_worker == "inprocess"
            else None
        )
        if worker is not None:
            worker.start()
        async with chat.running():
            yield
        if worker is not None:
            worker.stop()
        engine.dispose()

    app = FastAPI(
        title="Labbook",
        version=__version__,
        description="The narrative layer for ML experiments: brain dumps and run tables become searchable history.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.add_middleware(Idempotency, refused=NO_IDEMPOTENCY)  # inside BodyGuard: the body is bounded and checked
    app.add_middleware(BodyGuard, max_bytes=settings.max_body_bytes)
    # A request over capacity is answered 503 before its body is read.
    admission = Admission(limit=limits.requests, queue=settings.max_queue, wait_seconds=settings.queue_wait_seconds)
    app.state.admission = admission
    app.add_middleware(LoadGate, admission=admission)
    app.add_middleware(SecurityHeaders)  # added last, so outermost: the body guard's and the gate's refusals carry it
    handlers.install(app)
    v1 = APIRouter(prefix="/v1")
    for module in (projects, exports, findings, approaches, documents, runs, logs, entries, search, tokens, outbox):
        v1.include_router(module.router)
    app.include_router(v1)
    app.include_router(health.router)
    # The chat tools (MCP, streamable HTTP): the same tokens and services as /v1 (app/api/mcp/http.py).
    app.router.routes.append(chat.route())
    declare_header(app, refused=NO_IDEMPOTENCY)
    responses.install(app)
    return app
