"""Settings: environment first (`LABBOOK_*`, plus the standard `DATABASE_URL`), then an optional TOML file.

No settings instance exists at import time; `get_settings()` builds one on first use, and `create_app(settings)`
lets tests pass their own.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def default_data_dir() -> Path:
    """XDG data home, so a service started from any folder finds the same data."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "labbook"


class Settings(BaseSettings):
    """Everything is offline and embedded by default: a SQLite file under `data_dir`, no LLM."""

    model_config = SettingsConfigDict(env_prefix="LABBOOK_", extra="forbid", populate_by_name=True)

    data_dir: Path = Field(default_factory=default_data_dir)
    # Comma-separated bearer tokens with full access. Kept as a string: pydantic-settings would JSON-decode a list.
    api_tokens: str = Field(default="", repr=False)
    # Standard name, read without the prefix.
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "database_url"), repr=False
    )
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    auto_migrate: bool = True
    # The base of links Labbook writes elsewhere (the entry links in MLflow run descriptions): LABBOOK_PUBLIC_URL.
    public_url: str = "http://127.0.0.1:8000"
    # MLflow's own variable, read without the prefix: the tracking server of projects that store no URI of their own.
    # Auth comes from MLflow's variables too (MLFLOW_TRACKING_TOKEN, MLFLOW_TRACKING_USERNAME/PASSWORD).
    mlflow_tracking_uri: str | None = Field(
        default=None, validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "mlflow_tracking_uri")
    )
    # Write-back delivery: `inprocess` runs a worker thread inside the service; `off` leaves it to `labbook worker`.
    outbox_worker: Literal["inprocess", "off"] = "inprocess"
    outbox_poll_seconds: float = Field(default=2.0, gt=0)
    outbox_backoff_base_seconds: float = Field(default=2.0, gt=0)
    outbox_backoff_max_seconds: float = Field(default=300.0, gt=0)
    log_level: str = "INFO"
    # Admission control (app/api/load.py): requests served at once (threads and pooled connections follow from it),
    # how many more may wait, and for how long, before the answer is 503 with Retry-After.
    max_concurrency: int = Field(default=8, ge=1, le=256)
    max_queue: int = Field(default=64, ge=0, le=10_000)
    queue_wait_seconds: float = Field(default=5.0, gt=0, le=60)
    # The in-process cache of findings and document inputs per project revision, bounded by the runs it holds
    # (about 3 KB each); 0 turns it off.
    analysis_cache_runs: int = Field(default=250_000, ge=0)
    # Retrieval (app/retrieval): past logs and entries embedded into Chroma. `on` indexes through the outbox and
    # serves search; `off` queues nothing and answers search with 404. A persistent Chroma under data_dir/chroma by
    # default, Chroma's own server (`chroma run`) when LABBOOK_CHROMA_URL is set.
    retrieval: Literal["on", "off"] = "on"
    chroma_url: str | None = None
    # `packaged` (all-MiniLM-L6-v2 int8, shipped in a package), a folder holding model.onnx and tokenizer.json, or
    # the model name of an OpenAI-compatible embeddings endpoint at LABBOOK_EMBEDDING_URL.
    embedding_model: str = "packaged"
    embedding_url: str | None = None
    embedding_api_key: str | None = Field(default=None, repr=False)
    # The packaged model's intra-op threads: 1 runs each embedding on one thread, so indexing never takes every core
    # requests need; 0 is one per core (at most 4), for a machine that only indexes (`labbook reindex`, a separate
    # `labbook worker`).
    embedding_threads: int = Field(default=1, ge=0, le=64)
    # The outbox's index jobs run the embedding model on a thread this many steps lower in scheduling priority
    # (Linux; elsewhere ignored; app/priority.py): under load, indexing yields the cores to requests and catches up
    # as the load falls. 0 runs it at the worker's own priority.
    index_nice: int = Field(default=10, ge=0, le=19)
    # A past statement is cited as related prior work only at or above this cosine similarity.
    related_min_similarity: float = Field(default=0.6, ge=0, le=1)
    # An optional model (app/llm): any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, a llama.cpp server) reads
    # brain dumps and phrases documents; unset, the offline composer does everything. Every answer is validated and
    # the offline document stands whenever it fails. A project turns it off with `llm: off`, a request with
    # `provider=offline`.
    llm_base_url: str | None = None
    llm_model: str = ""
    llm_api_key: str | None = Field(default=None, repr=False)
    llm_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    # The most tokens one answer may take (unset: the endpoint's own limit). A small local model can loop inside
    # a JSON object until its context is full; this ends the answer first.
    llm_max_tokens: int | None = Field(default=None, ge=16, le=100_000)
    # `json_object` asks the endpoint for JSON mode (OpenAI's response_format); `none` relies on the prompt alone,
    # for servers where JSON mode is slow (a llama.cpp grammar over a large vocabulary) or refused.
    llm_response_format: Literal["json_object", "none"] = "json_object"
    # Optional TOML file with the same keys (without the prefix); the environment wins over it.
    config_file: Path | None = Field(default=None, validation_alias=AliasChoices("LABBOOK_CONFIG", "config_file"))

    @field_validator("database_url", "mlflow_tracking_uri", "chroma_url", "embedding_url", "llm_base_url")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    @model_validator(mode="after")
    def _llm_needs_a_model(self) -> Settings:
        if self.llm_base_url and not self.llm_model.strip():
            raise ValueError("LABBOOK_LLM_BASE_URL is set: LABBOOK_LLM_MODEL must name the model to ask")
        return self

    @property
    def llm_enabled(self) -> bool:
        return self.llm_base_url is not None

    @property
    def env_tokens(self) -> tuple[str, ...]:
        return tuple(t.strip() for t in self.api_tokens.split(",") if t.strip())

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL, with PostgreSQL URLs pointed at the psycopg 3 driver."""
        if self.database_url is None:
            return f"sqlite:///{self.data_dir / 'labbook.db'}"
        url = self.database_url
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("LABBOOK_CONFIG")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)


def load_settings(**overrides: Any) -> Settings:
    return Settings(**overrides)


@lru_cache
def get_settings() -> Settings:
    return Settings()
