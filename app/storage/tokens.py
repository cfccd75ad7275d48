"""API token queries. Only hashes are stored."""

from __future__ import annotations

from sqlmodel import Session, col, select

from app.storage.models import ApiToken


def get_token_by_hash(session: Session, token_hash: str) -> ApiToken | None:
    return session.exec(select(ApiToken).where(ApiToken.token_hash == token_hash)).first()


def get_token(session: Session, token_id: int) -> ApiToken | None:
    return session.get(ApiToken, token_id)


def list_tokens(session: Session, *, include_revoked: bool) -> list[ApiToken]:
    query = select(ApiToken)
    if not include_revoked:
        query = query.where(col(ApiToken.revoked_at).is_(None))
    return list(session.exec(query.order_by(col(ApiToken.id))))


def add_token(session: Session, token: ApiToken) -> ApiToken:
    session.add(token)
    session.flush()
    return token
