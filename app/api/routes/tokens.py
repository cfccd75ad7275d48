from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import PrincipalDep, SessionDep
from app.api.params import TokenIdPath
from app.api.responses import errors
from app.services import auth
from app.services.schemas import TokenCreate, TokenCreated, TokenPublic

router = APIRouter(prefix="/tokens", tags=["tokens"])


@router.post("", status_code=201, response_model=TokenCreated, operation_id="create_token", responses=errors(403))
def create_token(body: TokenCreate, principal: PrincipalDep, session: SessionDep) -> TokenCreated:
    """Create a named bearer token, optionally limited to some projects. The secret is shown only in this answer."""
    auth.require_full_access(principal)
    return auth.create_token(session, body=body)


@router.get("", response_model=list[TokenPublic], operation_id="list_tokens", responses=errors(403))
def list_tokens(principal: PrincipalDep, session: SessionDep, include_revoked: bool = False) -> list[TokenPublic]:
    """List tokens: each one's name, the projects it is limited to (null: every project), when it was created,
    last used and revoked, never its secret. Needs a token with access to every project."""
    auth.require_full_access(principal)
    return auth.list_tokens(session, include_revoked=include_revoked)


@router.delete("/{token_id}", response_model=TokenPublic, operation_id="revoke_token", responses=errors(403))
def revoke_token(token_id: TokenIdPath, principal: PrincipalDep, session: SessionDep) -> TokenPublic:
    """Revoke a token by its id; it stops working at once. Needs a token with access to every project."""
    auth.require_full_access(principal)
    return auth.revoke_token(session, token_id=token_id)
