"""API tokens: creating one (its secret shown once) and listing them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.services.schemas.common import Name, Slug, Strict


class TokenCreate(Strict):
    name: Name = Field(description="Who uses it; the default author of what it posts.")
    projects: list[Slug] | None = Field(default=None, description="Limit the token to these project slugs.")


class TokenPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str = Field(description="The first characters of the token, to recognise it.")
    projects: list[str] | None
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class TokenCreated(TokenPublic):
    token: str = Field(description="The secret. Shown once; only its hash is stored.")
