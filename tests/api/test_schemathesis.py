"""schemathesis against the OpenAPI spec, over the real app on a fresh database holding a small project.

Every operation gets the schema's examples, its boundary values (the coverage phase: the biggest IDs, a character
over each limit, each undeclared method) and random fuzzing, valid and invalid, bounded in examples per operation
and in time per request. No answer may be a 5xx, a status the operation does not declare, a body that does not
match its declared schema, or a 405 without `Allow`.

Not checked: whether the service accepts every schema-valid body (a run it does not know is a 422 whatever the
schema says) or refuses every invalid one. Nor whether `Allow` equals the methods of the spec's path: run keys may
hold slashes, so `GET .../runs/import` also reads the run `import`, and the 405 there says GET as well as POST.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.python.asgi import shutdown_lifespans

from tests.conftest import ADMIN_TOKEN
from tests.factories import FULL_ID_DUMP, FULL_ID_TABLE, RUN_BASE, RUN_SMOTE, create_project, import_table, post_log

MAX_EXAMPLES = 25  # per operation, for the fuzzing phase; the examples and coverage phases add their own cases
SEED = 20261202
# Real values, some of the time, so that requests reach past the 404 of a random slug or id.
KNOWN = {
    "slugs": ["churn"],
    "ids": [1],
    "run_keys": [RUN_SMOTE, RUN_BASE, RUN_BASE[:8]],
    "names": ["lightgbm"],
    "kinds": ["log_entry", "phase_summary"],
}
BINDINGS = {
    "path.slug": "slugs",
    "path.entry_id": "ids",
    "path.log_id": "ids",
    "path.token_id": "ids",
    "path.item_id": "ids",
    "path.run_key": "run_keys",
    "path.name": "names",
    "path.kind": "kinds",
}
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "response_schema_conformance",
    "content_type_conformance",
    "unsupported_method",
)
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "headers": {"Authorization": f"Bearer {ADMIN_TOKEN}"},
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
        "phases": {"stateful": {"enabled": False}},
        "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        "dictionaries": {name: {"values": values} for name, values in KNOWN.items()},
        "parameters": {key: {"dictionary": name, "probability": 0.5} for key, name in BINDINGS.items()},
    }
)
CALLS: Counter[str] = Counter()


def _schema() -> schemathesis.BaseSchema:
    """The spec, from an app that is never started (building the spec needs no database). Each test's requests go
    to the test's own app (`app=`), which holds its data; this one only tells schemathesis to call apps in-process."""
    from app.config import Settings
    from app.main import create_app

    app = create_app(Settings(data_dir="/nonexistent", api_tokens=ADMIN_TOKEN, database_url="sqlite://"))
    schema = schemathesis.openapi.from_dict(app.openapi(), config=CONFIG)
    schema.app = app
    return schema


schema = _schema()


@pytest.fixture
def app(client: TestClient) -> Iterator[Any]:
    """The test's app, holding a project with runs, a brain dump and its entry (log 1, entry 1) and a token."""
    create_project(client)
    import_table(client, "churn", FULL_ID_TABLE)
    post_log(client, text=FULL_ID_DUMP)
    assert client.post("/v1/tokens", json={"name": "ci"}).status_code == 201
    yield client.app
    # schemathesis started the app's lifespan again for its own calls (a second engine on the same database) and
    # would keep it until the process exits.
    shutdown_lifespans()


@pytest.fixture(scope="module", autouse=True)
def report(request: pytest.FixtureRequest) -> Iterator[None]:
    """How much was sent, printed after the file's tests (seen on a run without workers)."""
    started = time.monotonic()
    yield
    plugins = request.config.pluginmanager
    capture, terminal = plugins.get_plugin("capturemanager"), plugins.get_plugin("terminalreporter")
    if capture is not None and terminal is not None and CALLS:
        with capture.global_and_fixture_disabled():
            took = time.monotonic() - started
            terminal.write_line(f"\nschemathesis: {len(CALLS)} operations, {CALLS.total()} requests in {took:.0f} s")


@schema.parametrize()
# deadline: ms per request, so a hung request fails the run instead of stalling it. One app serves every example of
# an operation, as one server serves every client: what the examples store stays (the fixture is not reset).
@settings(deadline=10_000, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_api_keeps_to_its_spec(case: schemathesis.Case, app: Any) -> None:
    CALLS[case.operation.label] += 1
    case.call_and_validate(app=app)
