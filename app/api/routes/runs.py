from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import ValidationError

from app.api.deps import CursorQuery, LimitQuery, ProjectDep, SessionDep, SettingsDep
from app.api.responses import errors
from app.errors import BodyInvalid, InputInvalid, UnsupportedMediaType, field_name
from app.services import runs as runs_service
from app.services import sync as sync_service
from app.services.schemas import Page, RunImportResult, RunPublic, RunTableImport, SyncResult

router = APIRouter(prefix="/projects/{slug}/runs", tags=["runs"])

_RAW_FORMATS: dict[str, Any] = {
    "text/csv": "csv",
    "text/tab-separated-values": "tsv",
    "text/markdown": "markdown",
    "text/plain": None,
}
_IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": RunTableImport.model_json_schema()},
            "text/markdown": {"schema": {"type": "string"}},
            "text/csv": {"schema": {"type": "string"}},
            "text/tab-separated-values": {"schema": {"type": "string"}},
        },
    }
}


async def read_table_body(request: Request) -> RunTableImport:
    """The table from a JSON body, or a raw text/csv, text/tab-separated-values, text/markdown or text/plain
    (auto-detected) body."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "application/json":
        try:
            return RunTableImport.model_validate_json(await request.body())
        except ValueError as exc:
            raise _json_error(exc) from exc
    if media not in _RAW_FORMATS:
        raise UnsupportedMediaType(
            "send application/json, text/markdown, text/csv or text/tab-separated-values, "
            f"not {media or 'no content type'}",
            field="body",
        )
    text = (await request.body()).decode("utf-8")  # the body guard already refused invalid UTF-8
    if not text.strip():
        raise BodyInvalid("the table is empty", field="body")
    return RunTableImport(table=text, format=_RAW_FORMATS[media])


def _json_error(exc: ValueError) -> Exception:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        field = field_name(first["loc"])
        if first["type"] == "json_invalid":
            return BodyInvalid(f"malformed JSON: {first['msg']}", field="body")
        message = f"unknown field '{field}'" if first["type"] == "extra_forbidden" else f"{field}: {first['msg']}"
        return InputInvalid(message, field=field)
    return BodyInvalid(str(exc), field="body")


TableBody = Annotated[RunTableImport, Depends(read_table_body)]


@router.post(
    "/import",
    response_model=RunImportResult,
    operation_id="import_runs",
    openapi_extra=_IMPORT_BODY,
    responses=errors(409),
)
def import_runs(body: TableBody, project: ProjectDep, session: SessionDep) -> RunImportResult:
    """Import runs from a pasted Markdown or CSV table. Re-importing a run ID updates that run. The answer says,
    line by line, what was created, updated or interpreted."""
    return runs_service.import_table(session, project=project, text=body.table, format=body.format)


@router.get("", response_model=Page[RunPublic], operation_id="list_runs")
def list_runs(
    project: ProjectDep,
    session: SessionDep,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
    metric: Annotated[list[str], Query(description="e.g. `val_auc>=0.85`, or a name: has it.")] = [],  # noqa: B006
    param: Annotated[list[str], Query(description="e.g. `model=lightgbm`, or a key: has it.")] = [],  # noqa: B006
    tag: Annotated[list[str], Query(description="e.g. `baseline=true`, or a key: has it.")] = [],  # noqa: B006
) -> Page[RunPublic]:
    """List a project's runs in import order, filtered by metric, param and tag (all filters must hold)."""
    return runs_service.list_runs(
        session, project=project, limit=limit, cursor=cursor, metric=metric, param=param, tag=tag
    )


@router.post("/sync", response_model=SyncResult, operation_id="sync_runs", responses=errors(409, 502))
def sync_runs(
    project: ProjectDep,
    session: SessionDep,
    settings: SettingsDep,
    full: Annotated[bool, Query(description="Read every run again, not only new and still-open ones.")] = False,
) -> SyncResult:
    """Sync runs from the project's linked MLflow experiments: params, final metrics, tags, status, times, parent
    run and reproducibility fields. Later syncs read only new runs and runs that were still running."""
    return sync_service.sync_project(
        session, project=project, full=full, default_tracking_uri=settings.mlflow_tracking_uri
    )


@router.get("/{run_key:path}", response_model=RunPublic, operation_id="get_run")
def get_run(run_key: str, project: ProjectDep, session: SessionDep) -> RunPublic:
    """Read one run by its run ID (or `name:<run name>` for runs known only by name)."""
    return runs_service.get_run(session, project=project, key=run_key)
