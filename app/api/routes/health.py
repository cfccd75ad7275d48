from __future__ import annotations

from fastapi import APIRouter

from app import __version__
from app.api.deps import SessionDep
from app.services.schemas import Health
from app.storage.db import ping

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, operation_id="health")
def health(session: SessionDep) -> Health:
    """Liveness and database reachability. Needs no token."""
    return Health(status="ok", version=__version__, database=ping(session))
