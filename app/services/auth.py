"""Bearer tokens: full-access ones from `LABBOOK_API_TOKENS`, and named, hashed, optionally scoped ones in the DB.

A token limited to some projects must not learn that other projects exist, so every lookup of a project outside
its scope answers exactly like a project that does not exist (404).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session

from app.config import Settings
from app.errors import Forbidden, InputInvalid, TokenNotFound, Unauthorized
from app.services.schemas import TokenCreate, TokenCreated, TokenPublic
from app.storage import tokens as token_store
from app.storage.models import ApiToken
from app.storage.types import utcnow

TOKEN_PREFIX = "lbk_"
_TOUCH_EVERY = timedelta(minutes=1)  # avoid a write on every request just to record last use


@dataclass(frozen=True)
class Principal:
    """Who is calling: a token's name (the default author) and the projects it may see (None: all)."""

    name: str
    projects: frozenset[str] | None = None
    token_id: int | None = None

    @property
    def full_access(self) -> bool:
        return self.projects is None

    def can_see(self, slug: str) -> bool:
        return self.projects is None or slug in self.projects


def hash_token(token: str) -> str:
    # Tokens are 256-bit random strings, so a fast hash is enough; no salt or KDF is needed against guessing.
    return hashlib.sha256(token.encode()).hexdigest()


def authenticate(session: Session, *, settings: Settings, authorization: str | None) -> Principal:
    token = _bearer(authorization)
    for env_token in settings.env_tokens:
        if hmac.compare_digest(env_token.encode(), token.encode()):
            return Principal(name="admin")
    stored = token_store.get_token_by_hash(session, hash_token(token))
    if stored is None or stored.revoked_at is not None:
        raise Unauthorized("the bearer token is unknown or revoked")
    _touch(stored)
    projects = None if stored.projects is None else frozenset(stored.projects)
    return Principal(name=stored.name, projects=projects, token_id=stored.id)


def _bearer(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send 'Authorization: Bearer <token>'")
    return token.strip()


def _touch(stored: ApiToken) -> None:
    now = utcnow()
    if stored.last_used_at is None or now - stored.last_used_at > _TOUCH_EVERY:
        stored.last_used_at = now


def require_full_access(principal: Principal) -> None:
    if not principal.full_access:
        raise Forbidden("managing tokens needs a token with access to every project")


def create_token(session: Session, *, body: TokenCreate) -> TokenCreated:
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    projects = None if body.projects is None else sorted(set(body.projects))
    if projects == []:
        raise InputInvalid("a scoped token needs at least one project", field="projects")
    stored = token_store.add_token(
        session, ApiToken(name=body.name, token_hash=hash_token(secret), prefix=secret[:10], projects=projects)
    )
    return TokenCreated(**TokenPublic.model_validate(stored).model_dump(), token=secret)


def list_tokens(session: Session, *, include_revoked: bool = False) -> list[TokenPublic]:
    return [TokenPublic.model_validate(t) for t in token_store.list_tokens(session, include_revoked=include_revoked)]


def revoke_token(session: Session, *, token_id: int) -> TokenPublic:
    stored = token_store.get_token(session, token_id)
    if stored is None:
        raise TokenNotFound(f"no token with id {token_id}")
    if stored.revoked_at is None:
        stored.revoked_at = utcnow()
        session.flush()
    return TokenPublic.model_validate(stored)


def token_is_active(session: Session, secret: str) -> bool:
    stored = token_store.get_token_by_hash(session, hash_token(secret))
    return stored is not None and stored.revoked_at is None
