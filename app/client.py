"""A small HTTP client for the user commands of the CLI (`labbook log`, `labbook summary`, `labbook export`, ...).

User commands talk to a running server over its public API, so the same CLI works against a laptop's demo and a
team's shared server. Server errors come back as `ApiError` carrying the server's code, message and line/field.

Which server, and which token: `--url`/`--token`, else `LABBOOK_URL`/`LABBOOK_TOKEN`, else the `url` and `token`
keys of `~/.config/labbook/config.toml` (`$XDG_CONFIG_HOME/labbook/config.toml`), else `http://127.0.0.1:8000` and
no token.
"""

from __future__ import annotations

import os
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from app.errors import ConfigInvalid, LabbookError

DEFAULT_URL = "http://127.0.0.1:8000"
_CONFIG_KEYS = frozenset({"url", "token"})


class ApiError(LabbookError):
    """An error answer from the server, or no answer at all."""


@dataclass(frozen=True)
class Target:
    url: str
    token: str | None
    warning: str | None = None  # e.g. a config file with a token that others can read


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "labbook" / "config.toml"


def resolve_target(*, url: str | None, token: str | None, path: Path | None = None) -> Target:
    """The server and token to use: what was given (option or environment), else the config file, else defaults."""
    path = path or config_path()
    config = read_config(path) if (url is None or token is None) and path.exists() else {}
    token = token if token is not None else config.get("token")
    warning = None
    if token is not None and "token" in config and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        warning = f"{path} holds a token and others can read it: chmod 600 {path}"
    return Target(url=url or config.get("url") or DEFAULT_URL, token=token, warning=warning)


def read_config(path: Path) -> dict[str, str]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigInvalid(f"{path}: {exc}") from exc
    for key, value in data.items():
        if key not in _CONFIG_KEYS:
            raise ConfigInvalid(f"{path}: unknown key '{key}' (known: url, token)", field=key)
        if not isinstance(value, str) or not value:
            raise ConfigInvalid(f"{path}: '{key}' must be a non-empty string", field=key)
    return dict(data)


class LabbookClient:
    def __init__(self, *, url: str, token: str | None, timeout: float = 60) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout)

    def __enter__(self) -> LabbookClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._http.close()

    def import_table(self, project: str, *, table: str, format: str | None) -> dict[str, Any]:
        return self._request("POST", f"/v1/projects/{project}/runs/import", json={"table": table, "format": format})

    def sync(self, project: str, *, full: bool = False) -> dict[str, Any]:
        """Sync runs from the project's linked MLflow experiments (the server reads MLflow, not this machine)."""
        # A first sync of a large experiment reads every run: allow it longer than other requests.
        return self._request("POST", f"/v1/projects/{project}/runs/sync", params={"full": full}, timeout=600)

    def create_log(self, project: str, *, body: dict[str, Any]) -> dict[str, Any]:
        return self._request("POST", f"/v1/projects/{project}/logs", json=body)

    # --- Documents: answered as Markdown, ready to print. ---

    def create_document(self, project: str, *, resource: str, body: dict[str, Any]) -> str:
        """POST /v1/projects/{project}/{resource} (summaries, next-experiments, tried, reproductions, briefs)."""
        headers = {"Accept": "text/markdown"}
        return self._request_text("POST", f"/v1/projects/{project}/{resource}", json=body, headers=headers)

    def search(self, project: str, *, params: dict[str, Any]) -> str:
        """The search answer as Markdown."""
        return self._request_text(
            "GET", f"/v1/projects/{project}/search", params=params, headers={"Accept": "text/markdown"}
        )

    def findings(self, project: str) -> str:
        """The project's findings as Markdown."""
        return self._request_text("GET", f"/v1/projects/{project}/findings", headers={"Accept": "text/markdown"})

    def get_project(self, project: str) -> dict[str, Any]:
        return self._request("GET", f"/v1/projects/{project}")

    def list_projects(self) -> list[dict[str, Any]]:
        """Every project the token can see, page after page."""
        projects: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page = self._request("GET", "/v1/projects", params={"limit": 200, **({"cursor": cursor} if cursor else {})})
            projects += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return projects

    # --- A whole project: its backup exactly as the server wrote it, and its report. ---

    def export_backup(self, project: str) -> bytes:
        return self._send("GET", f"/v1/projects/{project}/export", timeout=600).content

    def report(self, project: str) -> str:
        return self._request_text("GET", f"/v1/projects/{project}/report", timeout=600)

    def _request_text(self, method: str, path: str, **kwargs: Any) -> str:
        return self._send(method, path, **kwargs).text

    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        data: dict[str, Any] = self._send(method, path, **kwargs).json()
        return data

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(f"cannot reach Labbook at {self._http.base_url}: {exc}") from exc
        if response.is_success:
            return response
        raise _api_error(response)


def _api_error(response: httpx.Response) -> ApiError:
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return ApiError(f"HTTP {response.status_code}: {response.text[:200]}")
    line, field = error.get("line"), error.get("field")
    where = f", line {line}" if line is not None else f", field {field}" if field else ""
    message = f"{error.get('message')} ({error.get('code')}, HTTP {response.status_code}{where})"
    return ApiError(
        message, line=line if isinstance(line, int) else None, field=field if isinstance(field, str) else None
    )
