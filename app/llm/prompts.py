"""Prompt templates: `prompts/<task>.md.j2`, YAML front matter over a Jinja2 body, loaded and rendered strictly.

The front matter declares every variable the body uses, and loading checks the two agree, so a template edit that
uses a new variable without declaring it (or leaves a stale declaration) fails at load, naming the file, rather than
at a model call. Rendering is strict too: a missing or unexpected variable is a caller bug (`PromptVariableMissing`).
Callers format numbers; templates only loop and branch.

User-written text goes in data blocks, between a line `<<<NAME` and a line `NAME>>>`, which every template tells
the model are data, never instructions. So that text cannot close its block early (a dump containing `DUMP>>>`),
every value a template prints has marker-shaped `<<<WORD` / `WORD>>>` broken apart (`_defuse`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import jinja2
import jinja2.meta
import yaml  # type: ignore[import-untyped]  # types-PyYAML is not a dev dependency; the result is validated below
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.errors import PromptInvalid, PromptVariableMissing, field_name

TEMPLATE_NAMES = (
    "log_entry",
    "phase_summary",
    "next_experiments",
    "selection_decision",
    "reproduction_report",
    "tried_answer",
    "handover_brief",
    "metric_switch",
)
SUFFIX = ".md.j2"

# `app/`, computed without touching the file system (no I/O at import time).
_APP_DIR = Path(__file__).parent.parent
_FRONT_MATTER = re.compile(r"\A---\r?\n(?P<meta>.*?)\r?\n---\r?\n(?P<body>.*)\Z", re.DOTALL)
_MARKER = re.compile(r"<<<(?=[A-Z])|(?<=[A-Z])>>>")


class Template(BaseModel):
    """A template's front matter. `extra="forbid"`: a misspelt key is an error, not a silently ignored one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    description: str = Field(min_length=1)
    variables: dict[str, str]


@dataclass(frozen=True)
class PromptTemplate:
    meta: Template
    body: str
    path: Path
    # Compiled once at load; not part of the template's identity.
    compiled: jinja2.Template = field(repr=False, compare=False)


@dataclass(frozen=True)
class RenderedPrompt:
    """What a generated document records about its prompt: name, version and the sha256 of the exact text sent."""

    name: str
    version: str
    text: str
    sha256: str


def _defuse(value: object) -> object:
    """Break `<<<WORD` and `WORD>>>` apart in printed text, so data cannot open or close a data block."""
    if isinstance(value, str):
        return _MARKER.sub(lambda m: "<< <" if m.group() == "<<<" else "> >>", value)
    return value


# trim_blocks and lstrip_blocks let block tags sit on their own lines without leaving blank lines in the output.
_ENV = jinja2.Environment(
    undefined=jinja2.StrictUndefined,
    autoescape=False,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    finalize=_defuse,
)


def prompts_dir() -> Path:
    """`app/prompts` inside an installed wheel, else `<repo>/prompts` in a source checkout or editable install."""
    for candidate in (_APP_DIR / "prompts", _APP_DIR.parent / "prompts"):
        if candidate.is_dir():
            return candidate
    raise PromptInvalid(f"no prompts folder: neither {_APP_DIR / 'prompts'} nor {_APP_DIR.parent / 'prompts'} exists")


@cache
def load_template(name: str, directory: Path | None = None) -> PromptTemplate:
    """The template `<directory>/<name>.md.j2` (default `prompts_dir()`), checked; `PromptInvalid` names the file."""
    if not name.isidentifier():
        raise PromptInvalid(f"invalid prompt name {name!r}")
    path = (directory or prompts_dir()) / f"{name}{SUFFIX}"
    if not path.is_file():
        raise PromptInvalid(f"{path}: no such prompt template")
    return _parse(path, path.read_text(encoding="utf-8"))


def template_version(name: str) -> str:
    """The version in the template's front matter, stored on every document it produces."""
    return load_template(name).meta.version


def render(name: str, variables: Mapping[str, object]) -> RenderedPrompt:
    """The template filled in with exactly its declared variables; `PromptVariableMissing` otherwise."""
    template = load_template(name)
    _check_given(template, variables)
    try:
        text = template.compiled.render(dict(variables))
    except jinja2.UndefinedError as exc:  # a mapping without a key the template reads, e.g. project.goal
        raise PromptVariableMissing(f"prompt {name}: {exc.message}") from exc
    sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return RenderedPrompt(name=name, version=template.meta.version, text=text, sha256=sha256)


def _parse(path: Path, text: str) -> PromptTemplate:
    match = _FRONT_MATTER.match(text)
    if match is None:
        raise PromptInvalid(f"{path}: no front matter (a '---' line, YAML, a '---' line, then the body)")
    meta = _validate_meta(path, match["meta"])
    body = match["body"]
    try:
        ast = _ENV.parse(body)
    except jinja2.TemplateSyntaxError as exc:
        raise PromptInvalid(f"{path}: body line {exc.lineno}: {exc.message}") from exc
    _check_declared(path, meta, jinja2.meta.find_undeclared_variables(ast))
    return PromptTemplate(meta=meta, body=body, path=path, compiled=_ENV.from_string(ast))


def _validate_meta(path: Path, source: str) -> Template:
    try:
        meta = Template.model_validate(yaml.safe_load(source))
    except yaml.YAMLError as exc:
        raise PromptInvalid(f"{path}: front matter is not valid YAML: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(f"{field_name(e['loc'], empty='front matter')}: {e['msg']}" for e in exc.errors())
        raise PromptInvalid(f"{path}: invalid front matter: {problems}") from exc
    stem = path.name.removesuffix(SUFFIX)
    if meta.name != stem:
        raise PromptInvalid(f"{path}: front matter name {meta.name!r} is not the file's name {stem!r}")
    return meta


def _check_declared(path: Path, meta: Template, used: set[str]) -> None:
    undeclared, unused = sorted(used - meta.variables.keys()), sorted(meta.variables.keys() - used)
    problems = [f"used but not declared: {', '.join(undeclared)}"] if undeclared else []
    problems += [f"declared but not used: {', '.join(unused)}"] if unused else []
    if problems:
        raise PromptInvalid(f"{path}: variables {'; '.join(problems)}")


def _check_given(template: PromptTemplate, variables: Mapping[str, object]) -> None:
    declared = template.meta.variables.keys()
    if missing := sorted(declared - variables.keys()):
        raise PromptVariableMissing(f"prompt {template.meta.name}: missing variable(s) {', '.join(missing)}")
    if unexpected := sorted(variables.keys() - declared):
        raise PromptVariableMissing(f"prompt {template.meta.name}: unexpected variable(s) {', '.join(unexpected)}")
