"""A small HTTP client for the user commands of the CLI (`labbook import`, `labbook log`).

User commands talk to a running server over its public API, so the same CLI works against a laptop's demo and a
team's shared server. Server errors come back as `ApiError` carrying the server's code, message and line/field.
"""

from __future__ import annotations

from typing import Any

import httpx

from app.errors import LabbookError


class ApiError(LabbookError):
    """An error answer from the server, or no answer at all."""


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

    def _request_text(self, method: str, path: str, **kwargs: Any) -> str:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(f"cannot reach Labbook at {self._http.base_url}: {exc}") from exc
        if response.is_success:
            return response.text
        raise _api_error(response)

    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(f"cannot reach Labbook at {self._http.base_url}: {exc}") from exc
        if response.is_success:
            data: dict[str, Any] = response.json()
            return data
        raise _api_error(response)


def _api_error(response: httpx.Response) -> ApiError:
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return ApiError(f"HTTP {response.status_code}: {response.text[:200]}")
    where = {"line": error.get("line"), "field": error.get("field")}
    return ApiError(f"{error.get('message')} ({error.get('code')}, HTTP {response.status_code})", **where)
