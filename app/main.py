"""The FastAPI application: lifespan (engine, migrations), middleware, routers and error handlers. Nothing else."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from app import __version__
from app.api import handlers
from app.api.middleware import BodyGuard
from app.api.routes import approaches, documents, entries, findings, health, logs, outbox, projects, runs, tokens
from app.config import Settings, get_settings
from app.services import analysis as analysis_service
from app.services.outbox import OutboxWorker
from app.storage.db import make_engine, migrate
from app.storage.outbox import session_factory

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.sqlalchemy_url)
        if settings.auto_migrate:
            migrate(engine)
        app.state.engine = engine
        analysis_service.configure_cache(max_runs=settings.analysis_cache_runs)
        # Write-back delivery inside the service by default; `off` when `labbook worker` runs it elsewhere.
        worker = OutboxWorker(session_factory(engine), settings) if settings.outbox_worker == "inprocess" else None
        if worker is not None:
            worker.start()
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
    app.add_middleware(BodyGuard, max_bytes=settings.max_body_bytes)
    handlers.install(app)
    v1 = APIRouter(prefix="/v1")
    for module in (projects, findings, approaches, documents, runs, logs, entries, tokens, outbox):
        v1.include_router(module.router)
    app.include_router(v1)
    app.include_router(health.router)
    return app
