"""Validated model answers by (model, sha256 of the exact prompt): recomposing an unchanged entry asks nothing."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from app.storage.models import LlmResponse


def get_response(session: Session, *, model: str, prompt_sha256: str) -> LlmResponse | None:
    statement = select(LlmResponse).where(LlmResponse.model == model, LlmResponse.prompt_sha256 == prompt_sha256)
    return session.exec(statement).first()


def save_response(session: Session, response: LlmResponse) -> None:
    """Keep the answer unless one for the same prompt is stored already (another worker asked at the same time)."""
    if get_response(session, model=response.model, prompt_sha256=response.prompt_sha256) is not None:
        return
    try:
        with session.begin_nested():
            session.add(response)
    except IntegrityError:
        pass  # the other worker's answer stands
