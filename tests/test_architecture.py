"""STYLE.md's import rules, enforced by parsing every module under app/ with `ast` (nothing is imported).

The rules are data: `IMPORT_RULES`, `TYPES_RULES` and `CALL_RULES` below, one row per rule, and one parametrized test
runs each row over every file. `check_source` is the same checker applied to one source string, so the self-tests can
feed it synthetic violations and prove the rules can fail. A last check finds import cycles in app/ and evals/.

Layers, top to bottom: `api/`, `main.py`, `cli.py` (and `demo/`, which only the CLI imports; its user commands,
`cli_user.py`, reach the service through `client.py`, its HTTP API) → `services/` →
`storage/ integrations/ llm/ retrieval/` and the pure layers `compose/` → `analysis/` → `parsing/` (compose takes only
plain types from analysis). `errors.py` and `config.py` sit underneath everything and import nothing from above.
"""

from __future__ import annotations

import ast
import fnmatch
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "app"
EVALS = REPO / "evals"


# -- the checker -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Import:
    """One imported name: `from a import b, c` yields two. `target` is the module reached (`app.storage.runs` for
    `from app.storage import runs`, `sqlmodel` for `from sqlmodel import Session`)."""

    path: str
    line: int
    target: str
    statement: str
    name: str = ""  # the name bound from the target: "b" for `from a import b`, "" for `import a`


@dataclass(frozen=True)
class Call:
    path: str
    line: int
    name: str  # dotted callee as written: "print", "datetime.now", "?.today" when the base is an expression


@dataclass(frozen=True)
class Violation:
    rule: str
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    """`prefixes` are repo-relative: a folder ("app/api/") covers everything inside it, a file covers itself."""
    return any(path == p or (p.endswith("/") and path.startswith(p)) for p in prefixes)


def _matches(module: str, pattern: str) -> bool:
    """ "sqlmodel" matches sqlmodel and its submodules; "langchain*" matches any top-level package langchain…"""
    if pattern.endswith("*"):
        return fnmatch.fnmatchcase(module.split(".")[0], pattern)
    return module == pattern or module.startswith(pattern + ".")


@dataclass(frozen=True)
class ImportRule:
    """Files under `files` (minus `exempt_files`) must not import a module matching `forbidden`, unless it also
    matches `allowed`, or the exact statement is listed in `exceptions` for that file."""

    id: str
    why: str
    files: tuple[str, ...]
    forbidden: tuple[str, ...]
    allowed: tuple[str, ...] = ()
    exempt_files: tuple[str, ...] = ()
    exceptions: tuple[tuple[str, str], ...] = ()  # (file or folder, exact statement such as "from x import y")

    def covers(self, path: str) -> bool:
        return _under(path, self.files) and not _under(path, self.exempt_files)

    def violated_by(self, imp: Import) -> bool:
        if not self.covers(imp.path) or not any(_matches(imp.target, p) for p in self.forbidden):
            return False
        if any(_matches(imp.target, p) for p in self.allowed):
            return False
        return not any(_under(imp.path, (where,)) and imp.statement == stmt for where, stmt in self.exceptions)


@dataclass(frozen=True)
class CallRule:
    """Files under `files` (minus `exempt_files`) must not call anything whose dotted name matches `calls`."""

    id: str
    why: str
    files: tuple[str, ...]
    calls: tuple[str, ...]
    exempt_files: tuple[str, ...] = ()

    def violated_by(self, call: Call) -> bool:
        covered = _under(call.path, self.files) and not _under(call.path, self.exempt_files)
        return covered and any(fnmatch.fnmatchcase(call.name, p) for p in self.calls)


@dataclass(frozen=True)
class TypesOnlyRule:
    """Files under `files` may import from `source` only plain types (classes, constants), never a function or a
    whole module (whose functions would come with it)."""

    id: str
    why: str
    files: tuple[str, ...]
    source: str
    # (module, function): pure readings of plain values both layers need, each named here with its reason
    readers: tuple[tuple[str, str], ...] = ()

    def violated_by(self, imp: Import) -> bool:
        if not _under(imp.path, self.files) or not _matches(imp.target, self.source):
            return False
        if not imp.name or imp.target.endswith(f".{imp.name}"):
            return True  # `import app.analysis.x` or `from app.analysis import x`: a module
        return imp.name in top_level_functions(imp.target) and (imp.target, imp.name) not in self.readers


def _module_name(path: str) -> str:
    parts = path.removesuffix(".py").split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def app_modules() -> frozenset[str]:
    """Every module and package under app/ and evals/, so `from app.storage import runs` resolves to
    `app.storage.runs`."""
    files = [*APP.rglob("*.py"), *EVALS.rglob("*.py")]
    return frozenset(_module_name(p.relative_to(REPO).as_posix()) for p in files)


@cache
def top_level_functions(module: str) -> frozenset[str]:
    """The functions a module defines at its top level (what `from module import name` could call)."""
    path = REPO / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = REPO / module.replace(".", "/") / "__init__.py"
    tree = ast.parse(path.read_text(), filename=str(path))
    return frozenset(n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))


def _resolve_from(path: str, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    package = _module_name(path).split(".")
    if not path.endswith("__init__.py"):
        package = package[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports_in(path: str, tree: ast.AST) -> Iterator[Import]:
    # ast.walk, not tree.body: an import inside a function (cli.py imports app.main lazily) counts all the same.
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(path, node.lineno, alias.name, f"import {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            module = _resolve_from(path, node)
            written = "." * node.level + (node.module or "")
            for alias in node.names:
                submodule = f"{module}.{alias.name}"
                target = submodule if submodule in app_modules() else module
                yield Import(path, node.lineno, target, f"from {written} import {alias.name}", alias.name)


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    if isinstance(node, ast.Call):
        return f"{_dotted(node.func)}()"
    return "?"


def calls_in(path: str, tree: ast.AST) -> Iterator[Call]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield Call(path, node.lineno, _dotted(node.func))


# -- the rules ---------------------------------------------------------------------------------------------------------

LOWER_LAYERS = ("parsing", "analysis", "compose", "llm", "retrieval", "storage", "integrations")
# Everyone below services may import the plain types (dataclasses, schemas) of these pure layers, and parsing's
# functions (reading numbers and metric names).
SHARED_TYPES = ("app.analysis", "app.compose", "app.parsing")
# What each pure layer may import besides itself and app.errors: parsing nothing; analysis parsing, never compose;
# compose parsing and the plain types of analysis (`compose-takes-only-types-from-analysis`).
PURE_LAYER_IMPORTS = {"parsing": (), "analysis": ("app.parsing",), "compose": ("app.parsing", "app.analysis")}
SERVICES_MAY_IMPORT = ("app.services", *(f"app.{layer}" for layer in LOWER_LAYERS), "app.config", "app.errors")
# Inbound adapters call services; the session and the settings are their only other imports from below. The ORM
# models are allowed for the type annotations of dependencies (ProjectDep). Schemas reach api/ through
# app.services.schemas, so api/ does not need app.compose either (stricter than "everyone may import compose").
API_MAY_IMPORT = ("app.api", "app.services", "app.config", "app.errors", "app.storage.db", "app.storage.models")

IMPORT_RULES: tuple[ImportRule, ...] = (
    ImportRule(
        id="api-calls-services",
        why="api/ imports services, config, errors, the session (storage.db) and models for annotations only",
        files=("app/api/",),
        forbidden=("app",),
        allowed=API_MAY_IMPORT,
        exceptions=(("app/api/", "from app import __version__"),),
    ),
    ImportRule(
        id="services-call-lower-layers",
        why="services/ may import the lower layers, config and errors, never api/, main.py or cli.py",
        files=("app/services/",),
        forbidden=("app",),
        allowed=SERVICES_MAY_IMPORT,
    ),
    *(
        ImportRule(
            id=f"layer-{layer}",
            why=f"{layer}/ imports only itself, {', '.join(allowed) or 'no other layer'} and app.errors",
            files=(f"app/{layer}/",),
            forbidden=("app",),
            allowed=(f"app.{layer}", *allowed, "app.errors"),
        )
        for layer, allowed in PURE_LAYER_IMPORTS.items()
    ),
    *(
        ImportRule(
            id=f"layer-{layer}",
            # Settings are passed in, so the lower layers never read app.config.
            why=f"{layer}/ imports only itself, the plain types of analysis/ and compose/, parsing/ and app.errors",
            files=(f"app/{layer}/",),
            forbidden=("app",),
            allowed=(f"app.{layer}", *SHARED_TYPES, "app.errors"),
        )
        for layer in LOWER_LAYERS
        if layer not in PURE_LAYER_IMPORTS
    ),
    ImportRule(
        id="analysis-never-imports-compose",
        why="analysis/ computes the facts the documents arrange; it never depends on how they are written",
        files=("app/analysis/",),
        forbidden=("app.compose",),
    ),
    ImportRule(
        id="foundation-imports-nothing-above",
        why="errors.py, config.py and the package root sit under every layer, so they import nothing above them",
        files=("app/__init__.py", "app/errors.py", "app/config.py"),
        forbidden=("app",),
        allowed=("app.errors",),
    ),
    ImportRule(
        id="fastapi-only-in-api",
        why="only api/ and main.py import fastapi or starlette",
        files=("app/",),
        exempt_files=("app/api/", "app/main.py"),
        forbidden=("fastapi", "starlette"),
    ),
    ImportRule(
        id="sql-only-in-storage",
        why="only storage/ imports sqlalchemy, sqlmodel or alembic (it alone builds SQL)",
        files=("app/",),
        exempt_files=("app/storage/",),
        forbidden=("sqlalchemy", "sqlmodel", "alembic"),
        exceptions=(
            # The session is the one storage type the upper layers hold: they receive it and pass it down.
            ("app/services/", "from sqlmodel import Session"),
            ("app/api/deps.py", "from sqlmodel import Session"),
            ("app/cli.py", "from sqlmodel import Session"),
            ("app/demo/", "from sqlmodel import Session"),
        ),
    ),
    ImportRule(
        id="vector-store-only-in-retrieval",
        why="only retrieval/ imports chromadb or the embedding runtime",
        files=("app/",),
        exempt_files=("app/retrieval/",),
        forbidden=("chromadb", "onnxruntime", "tokenizers"),
    ),
    ImportRule(
        id="llm-sdks-only-in-llm",
        why="only llm/ imports openai or langchain",
        files=("app/",),
        exempt_files=("app/llm/",),
        forbidden=("openai", "langchain*"),
    ),
    ImportRule(
        id="no-tokenizer-downloads",
        why="tiktoken (and langchain-openai, which loads it) downloads its data file on first use and fails offline: "
        "token counts come from the endpoint's usage",
        files=("app/",),
        forbidden=("tiktoken", "langchain_openai"),
    ),
    ImportRule(
        id="mlflow-only-in-integrations-mlflow",
        why="only integrations/mlflow/ imports mlflow (and demo/, which logs the demo's runs with the MLflow client)",
        files=("app/",),
        exempt_files=("app/integrations/mlflow/", "app/demo/"),
        forbidden=("mlflow",),
    ),
    ImportRule(
        id="user-commands-call-the-api",
        why="the user commands (cli_user.py, with client.py and terminal.py) reach Labbook through its HTTP API only, "
        "so they work the same against any server: they import no services, storage, api or main",
        files=("app/cli_user.py", "app/client.py", "app/terminal.py"),
        forbidden=("app",),
        allowed=("app.cli_user", "app.client", "app.terminal", "app.errors"),
    ),
    ImportRule(
        id="demo-only-from-cli",
        why="only cli.py imports demo/: the service never depends on the demo (nor on scikit-learn through it)",
        files=("app/",),
        exempt_files=("app/cli.py", "app/demo/"),
        forbidden=("app.demo",),
    ),
    ImportRule(
        id="demo-imports-below-cli",
        why="demo/ imports services, integrations, storage, the shared types, config and errors, never api/ or cli.py",
        files=("app/demo/",),
        forbidden=("app",),
        allowed=(
            "app.demo",
            "app.services",
            "app.integrations",
            "app.storage",
            *SHARED_TYPES,
            "app.config",
            "app.errors",
        ),
    ),
    ImportRule(
        id="pure-layers-import-no-io",
        why="parsing/, analysis/ and compose/ do no I/O, read no clock and use no unseeded randomness",
        files=("app/parsing/", "app/analysis/", "app/compose/"),
        forbidden=(
            *("os", "pathlib", "shutil", "tempfile", "glob"),  # files
            *("socket", "subprocess", "requests", "httpx", "urllib.request", "http.client", "sqlite3"),  # the world
            *("time", "random", "secrets"),  # clock and randomness: pass `now` and a seeded rng in
        ),
    ),
)

TYPES_RULES: tuple[TypesOnlyRule, ...] = (
    TypesOnlyRule(
        id="compose-takes-only-types-from-analysis",
        why="compose/ arranges what analysis/ computed: services call the analysis and pass its results in, so only "
        "plain types (dataclasses, enums) cross from analysis/ into compose/, never its functions",
        files=("app/compose/",),
        source="app.analysis",
        # What a person wrote is read the way the analysis reads runs, so the two never disagree: a model family from
        # a run's params, two parameter values compared normalised, a proposal's words mapped to parameters, a
        # parameter diff in words, and whether a run's estimator draws random numbers as configured. Each is a pure
        # function of plain values, computing no finding.
        readers=(
            ("app.analysis.family", "family_of"),
            ("app.analysis.tried", "same_value"),
            ("app.analysis.tried", "match_proposal"),
            ("app.analysis.configs", "config_diff"),
            ("app.analysis.determinism", "needs_seed"),
        ),
    ),
)

TYPES_RULES += (
    TypesOnlyRule(
        id="llm-never-imports-the-composer",
        why="llm/ talks to a model; services call it and, on failure, the offline composer, so llm/ may take the "
        "plain types of compose/ (schemas) but never its functions",
        files=("app/llm/",),
        source="app.compose",
    ),
)

CALL_RULES: tuple[CallRule, ...] = (
    CallRule(
        id="pure-layers-open-no-files",
        why="parsing/, analysis/ and compose/ do no I/O: no open()",
        files=("app/parsing/", "app/analysis/", "app/compose/"),
        calls=("open",),
    ),
    CallRule(
        id="pure-layers-read-no-clock",
        why="parsing/, analysis/ and compose/ never read the clock: pass `now` in",
        files=("app/parsing/", "app/analysis/", "app/compose/"),
        calls=("*.now", "*.utcnow", "*.today", "time.time"),
    ),
    CallRule(
        id="no-print-in-app",
        why="app/ logs with logging.getLogger(__name__); only the CLI talks to a terminal",
        files=("app/",),
        exempt_files=("app/cli.py",),
        calls=("print",),
    ),
)


def _violations(path: str, tree: ast.AST) -> Iterator[Violation]:
    for imp in imports_in(path, tree):
        for rule in IMPORT_RULES:
            if rule.violated_by(imp):
                yield Violation(rule.id, path, imp.line, imp.statement)
        for t_rule in TYPES_RULES:
            if t_rule.violated_by(imp):
                yield Violation(t_rule.id, path, imp.line, imp.statement)
    for call in calls_in(path, tree):
        for c_rule in CALL_RULES:
            if c_rule.violated_by(call):
                yield Violation(c_rule.id, path, call.line, f"{call.name}(...)")


def check_source(path: str, source: str) -> list[Violation]:
    """Every rule applied to one module, as if it lived at `path` (repo-relative, e.g. "app/storage/x.py")."""
    return list(_violations(path, ast.parse(source, filename=path)))


@cache
def app_trees() -> tuple[tuple[str, ast.AST], ...]:
    files = sorted(APP.rglob("*.py"))
    return tuple((p.relative_to(REPO).as_posix(), ast.parse(p.read_text(), filename=str(p))) for p in files)


def _report(rule_id: str, why: str) -> list[str]:
    found = [v for path, tree in app_trees() for v in _violations(path, tree) if v.rule == rule_id]
    return [f"{v}  [{why}]" for v in found]


# -- the rules, over the whole of app/ ---------------------------------------------------------------------------------


@pytest.mark.parametrize("rule", IMPORT_RULES, ids=lambda rule: rule.id)
def test_import_rule(rule: ImportRule) -> None:
    violations = _report(rule.id, rule.why)
    assert not violations, "\n".join(violations)


@pytest.mark.parametrize("rule", CALL_RULES, ids=lambda rule: rule.id)
def test_call_rule(rule: CallRule) -> None:
    violations = _report(rule.id, rule.why)
    assert not violations, "\n".join(violations)


@pytest.mark.parametrize("rule", TYPES_RULES, ids=lambda rule: rule.id)
def test_types_only_rule(rule: TypesOnlyRule) -> None:
    violations = _report(rule.id, rule.why)
    assert not violations, "\n".join(violations)


@pytest.mark.parametrize("rule", TYPES_RULES, ids=lambda rule: rule.id)
def test_every_reader_is_still_used(rule: TypesOnlyRule) -> None:
    """A reader nobody imports any more is a hole waiting for a new violation: delete it."""
    used = {
        (i.target, i.name) for path, tree in app_trees() for i in imports_in(path, tree) if _under(path, rule.files)
    }
    assert set(rule.readers) <= used, set(rule.readers) - used


def test_the_service_loads_no_tokenizer() -> None:
    """The import rule reads the source; this runs it: the app and the model client import without tiktoken."""
    code = "import sys, app.main, app.llm.client, app.services.phrasing; print(sorted(m for m in sys.modules if "
    code += "m.split('.')[0] in ('tiktoken', 'langchain_openai')))"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_the_checker_sees_all_of_app() -> None:
    paths = {path for path, _ in app_trees()}
    assert {"app/main.py", "app/cli.py", "app/config.py", "app/api/deps.py", "app/storage/db.py"} <= paths
    assert all(path.startswith("app/") for path in paths)


@pytest.mark.parametrize(
    ("rule", "where", "statement"),
    [(rule, where, stmt) for rule in IMPORT_RULES for where, stmt in rule.exceptions],
    ids=lambda value: value.id if isinstance(value, ImportRule) else str(value),
)
def test_every_exception_is_still_needed(rule: ImportRule, where: str, statement: str) -> None:
    """An exception nobody uses any more is a hole waiting for a new violation: delete it."""
    used = [i for path, tree in app_trees() for i in imports_in(path, tree) if _under(path, (where,))]
    assert statement in {i.statement for i in used}, f"{rule.id}: no file under {where} says {statement!r}"


def test_rule_ids_are_unique() -> None:
    ids = [rule.id for rule in (*IMPORT_RULES, *TYPES_RULES, *CALL_RULES)]
    assert len(ids) == len(set(ids))


# -- the checker itself can fail ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "source", "expected"),
    [
        # layers
        ("app/storage/runs.py", "from app.services import auth", {"layer-storage"}),
        ("app/storage/runs.py", "from ..services import auth", {"layer-storage"}),
        ("app/storage/__init__.py", "from ..api import deps", {"layer-storage"}),
        ("app/storage/runs.py", "from app.config import Settings", {"layer-storage"}),
        ("app/storage/runs.py", "from . import models", set()),
        ("app/storage/runs.py", "from app.errors import RunNotFound", set()),
        ("app/llm/client.py", "from app.retrieval import index", {"layer-llm"}),
        ("app/llm/client.py", "import app.storage.models", {"layer-llm"}),
        ("app/llm/client.py", "from app.parsing.tables import ParsedTable", set()),
        ("app/integrations/mlflow/client.py", "from app.analysis import baseline", set()),
        ("app/integrations/slack/blocks.py", "from app.main import create_app", {"layer-integrations"}),
        ("app/services/logs.py", "from app.api.deps import SessionDep", {"services-call-lower-layers"}),
        ("app/services/logs.py", "from app import cli", {"services-call-lower-layers"}),
        ("app/services/logs.py", "from app.storage import logs\nfrom app.config import Settings", set()),
        ("app/api/routes/runs.py", "from app.storage import runs", {"api-calls-services"}),
        ("app/api/routes/runs.py", "from app.storage.runs import MetricFilter", {"api-calls-services"}),
        ("app/api/routes/runs.py", "from app.parsing.tables import parse_run_table", {"api-calls-services"}),
        ("app/api/routes/runs.py", "from app import __version__", set()),
        ("app/api/routes/runs.py", "from app import config", set()),
        ("app/api/routes/runs.py", "from ..deps import SessionDep\nfrom app.storage.models import Run", set()),
        ("app/errors.py", "from app.config import Settings", {"foundation-imports-nothing-above"}),
        ("app/config.py", "from app.errors import InputInvalid", set()),
        # the pure layers: parsing imports no layer, analysis never compose, compose only analysis's plain types
        ("app/parsing/tables.py", "from app.analysis.model import RunView", {"layer-parsing"}),
        ("app/parsing/tables.py", "from app.compose.markdown import inline_code", {"layer-parsing"}),
        ("app/parsing/tables.py", "from app.errors import RunTableInvalid\nfrom . import numbers", set()),
        ("app/parsing/tables.py", "import os", {"pure-layers-import-no-io"}),
        ("app/analysis/noise.py", "from app.parsing.fmt import fmt", set()),
        (
            "app/analysis/noise.py",
            "from app.compose.contract import Composed",
            {"layer-analysis", "analysis-never-imports-compose"},
        ),
        ("app/analysis/noise.py", "from app.storage.models import Run", {"layer-analysis"}),
        ("app/compose/markdown.py", "from app.parsing.numbers import parse_number", set()),
        ("app/compose/markdown.py", "from app.analysis.model import Findings, RunView", set()),
        ("app/compose/markdown.py", "from app.analysis.metric import gain", {"compose-takes-only-types-from-analysis"}),
        ("app/compose/markdown.py", "from app.analysis import configs", {"compose-takes-only-types-from-analysis"}),
        ("app/compose/markdown.py", "import app.analysis.noise", {"compose-takes-only-types-from-analysis"}),
        ("app/compose/markdown.py", "from app.storage.models import Run", {"layer-compose"}),
        ("app/services/runs.py", "from app.analysis.metric import gain", set()),
        # third-party packages
        ("app/services/runs.py", "from fastapi import HTTPException", {"fastapi-only-in-api"}),
        ("app/storage/db.py", "from starlette.requests import Request", {"fastapi-only-in-api"}),
        ("app/main.py", "from fastapi import FastAPI", set()),
        ("app/services/runs.py", "from sqlmodel import Session", set()),
        ("app/services/runs.py", "from sqlmodel import Session, select", {"sql-only-in-storage"}),
        ("app/services/runs.py", "import sqlalchemy as sa", {"sql-only-in-storage"}),
        ("app/api/routes/projects.py", "from sqlmodel import Session", {"sql-only-in-storage"}),
        ("app/api/routes/projects.py", "from sqlalchemy import text", {"sql-only-in-storage"}),
        ("app/api/routes/health.py", "from sqlalchemy import text", {"sql-only-in-storage"}),
        ("app/api/routes/health.py", "from sqlalchemy import select", {"sql-only-in-storage"}),
        ("app/cli.py", "from alembic import command", {"sql-only-in-storage"}),
        ("app/storage/db.py", "from alembic import command", set()),
        ("app/services/search.py", "import chromadb", {"vector-store-only-in-retrieval"}),
        ("app/retrieval/embedder.py", "import onnxruntime\nfrom tokenizers import Tokenizer", set()),
        ("app/services/advice.py", "from langchain_core.prompts import PromptTemplate", {"llm-sdks-only-in-llm"}),
        ("app/services/advice.py", "import openai", {"llm-sdks-only-in-llm"}),
        ("app/llm/client.py", "import openai\nimport langchain", set()),
        ("app/llm/client.py", "import tiktoken", {"no-tokenizer-downloads"}),
        ("app/llm/client.py", "from langchain_openai import ChatOpenAI", {"no-tokenizer-downloads"}),
        ("app/llm/client.py", "from app.compose.log_entry.schema import LogEntry", set()),
        ("app/llm/client.py", "from app.compose.phrasing import merge_log_entry", {"llm-never-imports-the-composer"}),
        ("app/llm/client.py", "from app.compose import kinds", {"llm-never-imports-the-composer"}),
        ("app/integrations/slack/post.py", "from mlflow import MlflowClient", {"mlflow-only-in-integrations-mlflow"}),
        ("app/integrations/mlflow/client.py", "from mlflow.tracking import MlflowClient", set()),
        # the user commands
        ("app/cli_user.py", "from app.client import LabbookClient\nfrom app.terminal import Output", set()),
        ("app/cli_user.py", "from app.services import logs", {"user-commands-call-the-api"}),
        ("app/client.py", "from app.storage.db import make_engine", {"user-commands-call-the-api"}),
        ("app/terminal.py", "from app.config import get_settings", {"user-commands-call-the-api"}),
        # the demo
        ("app/main.py", "from app.demo import seed", {"demo-only-from-cli"}),
        ("app/main.py", "import app.demo.runs", {"demo-only-from-cli"}),
        ("app/services/projects.py", "from app import demo", {"demo-only-from-cli", "services-call-lower-layers"}),
        ("app/cli.py", "from app.demo import seed as demo", set()),
        ("app/demo/seed.py", "from app.demo import runs\nfrom app.services import sync", set()),
        ("app/demo/seed.py", "from . import runs\nfrom app.integrations.mlflow.server import LocalMlflowServer", set()),
        ("app/demo/seed.py", "from app.api.deps import SessionDep", {"demo-imports-below-cli"}),
        ("app/demo/seed.py", "from app import cli", {"demo-imports-below-cli"}),
        ("app/demo/seed.py", "from sqlmodel import Session", set()),
        ("app/demo/seed.py", "from sqlmodel import select", {"sql-only-in-storage"}),
        ("app/demo/runs.py", "import mlflow.sklearn\nfrom mlflow.tracking import MlflowClient", set()),
        ("app/demo/runs.py", "from fastapi import FastAPI", {"fastapi-only-in-api"}),
        # pure layers
        ("app/compose/render.py", "import os", {"pure-layers-import-no-io"}),
        ("app/analysis/noise.py", "from pathlib import Path", {"pure-layers-import-no-io"}),
        ("app/analysis/noise.py", "import random", {"pure-layers-import-no-io"}),
        ("app/analysis/noise.py", "def f():\n    import subprocess\n", {"pure-layers-import-no-io"}),
        ("app/analysis/noise.py", "import httpx", {"pure-layers-import-no-io"}),
        ("app/analysis/noise.py", "from urllib.request import urlopen", {"pure-layers-import-no-io"}),
        ("app/analysis/noise.py", "from urllib.parse import quote\nimport csv, io, json", set()),
        ("app/analysis/noise.py", "text = open('runs.csv').read()", {"pure-layers-open-no-files"}),
        ("app/compose/render.py", "from datetime import datetime\nx = datetime.now()", {"pure-layers-read-no-clock"}),
        ("app/compose/render.py", "import datetime as dt\nx = dt.datetime.utcnow()", {"pure-layers-read-no-clock"}),
        (
            "app/compose/render.py",
            "from datetime import date\nx = date.today().isoformat()",
            {"pure-layers-read-no-clock"},
        ),
        (
            "app/compose/render.py",
            "import time\nx = time.time()",
            {"pure-layers-import-no-io", "pure-layers-read-no-clock"},
        ),
        ("app/compose/render.py", "from datetime import datetime, timedelta\nd = timedelta(days=1)", set()),
        ("app/services/logs.py", "from datetime import datetime\nx = datetime.now()", set()),
        # print
        ("app/services/logs.py", "print('saved')", {"no-print-in-app"}),
        ("app/storage/db.py", "def f():\n    print('x')\n", {"no-print-in-app"}),
        ("app/cli.py", "print('hello')", set()),
        ("app/services/logs.py", "logger.info('saved')", set()),
    ],
)
def test_checker_flags_synthetic_source(path: str, source: str, expected: set[str]) -> None:
    assert {v.rule for v in check_source(path, source)} == expected


def test_violation_names_file_line_and_import() -> None:
    source = "import json\n\nfrom app.services import auth\nprint('x')\n"
    found = sorted(str(v) for v in check_source("app/storage/tokens.py", source))
    assert found == ["app/storage/tokens.py:3: from app.services import auth", "app/storage/tokens.py:4: print(...)"]


def test_a_failing_rule_reports_every_offender() -> None:
    rule = next(r for r in IMPORT_RULES if r.id == "layer-storage")
    imports = imports_in("app/storage/x.py", ast.parse("from app.services import auth, demo\nimport app.api.deps"))
    assert [i.statement for i in imports if rule.violated_by(i)] == [
        "from app.services import auth",
        "from app.services import demo",
        "import app.api.deps",
    ]


# -- no circles: every import counts, those under TYPE_CHECKING too ----------------------------------------------------


def import_graph(trees: Iterable[tuple[str, ast.AST]]) -> dict[str, set[str]]:
    """Module -> the modules of app/ and evals/ it imports (ast.walk: imports under `if TYPE_CHECKING:` and inside
    functions count, since a circle through them is still a circle in the design)."""
    graph: dict[str, set[str]] = {}
    for path, tree in trees:
        own = _module_name(path)
        graph.setdefault(own, set())
        for imp in imports_in(path, tree):
            if imp.target.split(".")[0] in ("app", "evals") and imp.target != own:
                graph[own].add(imp.target)
    return graph


def import_cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted: every one is a circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


@cache
def evals_trees() -> tuple[tuple[str, ast.AST], ...]:
    files = sorted(EVALS.rglob("*.py"))
    return tuple((p.relative_to(REPO).as_posix(), ast.parse(p.read_text(), filename=str(p))) for p in files)


def test_no_import_cycles_in_app_or_evals() -> None:
    cycles = import_cycles(import_graph([*app_trees(), *evals_trees()]))
    assert cycles == [], "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_cycle_check_finds_a_circle_through_type_checking_imports() -> None:
    sources = {
        "app/analysis/approaches.py": "if TYPE_CHECKING:\n    from app.analysis.history import Step\n",
        "app/analysis/history.py": "from app.analysis.family import family_of\n",
        "app/analysis/family.py": "from app.analysis import approaches\n",
        "app/analysis/noise.py": "from app.analysis.model import Findings\n",
    }
    trees = [(path, ast.parse(source)) for path, source in sources.items()]
    assert import_cycles(import_graph(trees)) == [
        ["app.analysis.approaches", "app.analysis.family", "app.analysis.history"]
    ]
    del sources["app/analysis/approaches.py"]
    assert import_cycles(import_graph([(p, ast.parse(s)) for p, s in sources.items()])) == []
