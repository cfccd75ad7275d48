from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import text

from app import __version__
from app.api.deps import SessionDep
from app.services.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, operation_id="health")
def health(request: Request, session: SessionDep) -> Health:
    """Liveness and database reachability. Needs no token."""
    session.exec(text("SELECT 1"))  # type: ignore[call-overload]
    return Health(status="ok", version=__version__, database=request.app.state.engine.dialect.name)
