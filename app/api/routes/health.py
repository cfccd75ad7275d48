from __future__ import annotations

import asyncio
import dataclasses

import anyio
import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app import __version__
from app.api.load import Admission
from app.services.schemas import Health, LoadPublic
from app.storage.db import ping

router = APIRouter(tags=["health"])

# The ping runs on a thread of its own, outside the limit requests share, and the pool keeps a connection for it
# (app/api/load.py): a service at capacity still answers here, and says so.
_PING_THREADS = anyio.CapacityLimiter(1)
PING_TIMEOUT_SECONDS = 3.0


@router.get(
    "/healthz",
    response_model=Health,
    operation_id="health",
    responses={503: {"model": Health, "description": "The database did not answer in time."}},
)
async def health(request: Request) -> Health | JSONResponse:
    """Liveness, database reachability and load. Needs no token, and never waits behind other requests."""
    admission: Admission = request.app.state.admission
    load = admission.snapshot()
    figures = LoadPublic(**{k: v for k, v in dataclasses.asdict(load).items() if k != "busy"})
    try:
        database = await asyncio.wait_for(
            anyio.to_thread.run_sync(ping, request.app.state.engine, limiter=_PING_THREADS), PING_TIMEOUT_SECONDS
        )
    except Exception:  # a timeout, or a database that refuses: either way, not healthy
        body = Health(status="unavailable", version=__version__, database="unreachable", load=figures)
        return JSONResponse(body.model_dump(), status_code=503)
    return Health(status="busy" if load.busy else "ok", version=__version__, database=database, load=figures)
