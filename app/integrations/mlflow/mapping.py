"""From what MLflow records about a run to Labbook's run fields: pure functions over plain dicts, no MLflow import.

A field is filled only from something the run recorded (a system tag, a param or tag whose name says what it is,
a logged dataset, a logged model's environment files); a run that records nothing keeps the field empty. Key
vocabularies match the last segment of a key, lower-cased (`trainer.seed`, `Random-State` and `seed` all count), so
a classification is computed once per distinct key and cached: 10,000 runs with the same 20 keys cost 20 lookups.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import yaml  # type: ignore[import-untyped]  # types-PyYAML is not a dev dependency; results are checked

# System tags MLflow sets (mlflow/utils/mlflow_tags.py).
PARENT_RUN_ID = "mlflow.parentRunId"
GIT_COMMIT = "mlflow.source.git.commit"
SOURCE_NAME = "mlflow.source.name"
SOURCE_TYPE = "mlflow.source.type"
USER = "mlflow.user"
RUN_NAME = "mlflow.runName"
LOG_MODEL_HISTORY = "mlflow.log-model.history"  # MLflow 2: the models a run logged, as JSON
NOTE = "mlflow.note.content"  # the run description; Labbook writes its own section there, so it is not read back
DATASET_CONTEXT = "mlflow.data.context"

# Not copied into Run.tags: large, and what matters in them is mapped to fields (or written by Labbook itself).
SKIPPED_TAGS = frozenset({LOG_MODEL_HISTORY, NOTE})
OPEN_STATUSES = frozenset({"RUNNING", "SCHEDULED"})

# Fields read from params and tags, by the last segment of the key. Earlier names win; for `hardware` and `split`
# every matching key is kept ("gpu=A100, num_gpus=8"), since together they are the description.
SEED_KEYS = ("seed", "random_seed", "random_state", "rng_seed", "global_seed", "manual_seed", "seed_value")
DATA_VERSION_KEYS = (
    "data_version",
    "dataset_version",
    "data_rev",
    "data_revision",
    "dataset_revision",
    "data_commit",
    "data_hash",
    "dataset_hash",
    "dataset_digest",
    "dvc_rev",
    "dvc_version",
)
GIT_COMMIT_KEYS = ("git_commit", "git_sha", "commit_sha", "git_revision")
HARDWARE_KEYS = (
    "hardware",
    "compute_target",
    "compute",
    "instance_type",
    "machine_type",
    "node_type",
    "accelerator",
    "gpu",
    "gpu_type",
    "gpu_name",
    "gpu_model",
    "num_gpus",
    "n_gpus",
    "gpus",
    "device",
    "cluster",
)
SPLIT_KEYS = (
    "split",
    "data_split",
    "split_strategy",
    "split_method",
    "split_type",
    "cv",
    "cv_strategy",
    "cv_folds",
    "n_folds",
    "folds",
    "n_splits",
    "test_size",
    "val_size",
    "valid_size",
    "validation_size",
    "validation_split",
    "val_split",
    "test_split",
    "holdout",
)
PYTHON_KEYS = ("python_version", "python", "py_version")
# `<library>_version` params and tags name library versions; anything else ending in _version (model_version,
# data_version) does not. Namespaced keys (`env.torch`, `versions.numpy`) name a package whatever it is.
KNOWN_LIBRARIES = frozenset(
    {
        "torch",
        "pytorch",
        "torchvision",
        "tensorflow",
        "tf",
        "keras",
        "jax",
        "jaxlib",
        "flax",
        "sklearn",
        "scikit_learn",
        "xgboost",
        "lightgbm",
        "catboost",
        "numpy",
        "pandas",
        "scipy",
        "polars",
        "transformers",
        "datasets",
        "accelerate",
        "peft",
        "tokenizers",
        "lightning",
        "pytorch_lightning",
        "mlflow",
        "cuda",
        "cudnn",
        "nccl",
        "onnx",
        "onnxruntime",
        "statsmodels",
        "prophet",
        "optuna",
    }
)
PACKAGE_NAMESPACES = frozenset({"env", "environment", "version", "versions", "package", "packages", "pkg", "lib"})
REQUIREMENTS_KEYS = ("requirements", "requirements_txt", "pip_requirements")
# The files of a logged model that describe its environment, in the order they are read.
ENVIRONMENT_FILES = ("requirements.txt", "python_env.yaml", "conda.yaml")
_EMPTY_VALUES = frozenset({"", "none", "null", "nan"})
_SEPARATORS = re.compile(r"[./:]")
_REQUIREMENT = re.compile(
    r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(===|==|~=|>=|<=|>|<|!=)?\s*([^;\s#,]*)"
)


@dataclass(frozen=True, slots=True)
class ModelRef:
    """A model a run logged: `cache_uri` keys its parsed environment in the artifact cache. `model_id` is set for
    MLflow 3 logged models (resolved through the tracking server); `artifact_uri` for MLflow 2 run artifacts."""

    cache_uri: str
    model_id: str | None = None
    artifact_uri: str | None = None


@dataclass(frozen=True, slots=True)
class TrackedRun:
    """One MLflow run, mapped. Times are epoch milliseconds as MLflow keeps them; `environment` holds what params and
    tags say, and the service merges in the logged models' environment (`models`) from the artifact cache."""

    run_id: str
    experiment_id: str
    run_name: str | None
    status: str | None
    start_time_ms: int | None
    end_time_ms: int | None
    artifact_uri: str | None
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]
    parent_run_id: str | None = None
    git_commit: str | None = None
    source_name: str | None = None
    source_type: str | None = None
    owner: str | None = None
    data_version: str | None = None
    datasets: list[dict[str, Any]] = field(default_factory=list)
    seed: str | None = None
    environment: dict[str, Any] = field(default_factory=dict)
    hardware: str | None = None
    split: str | None = None
    models: tuple[ModelRef, ...] = ()

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


def map_run(
    *,
    run_id: str,
    experiment_id: str,
    run_name: str | None,
    status: str | None,
    start_time_ms: int | None,
    end_time_ms: int | None,
    artifact_uri: str | None,
    user_id: str | None,
    params: Mapping[str, str],
    metrics: Mapping[str, float],
    tags: Mapping[str, str],
    datasets: Sequence[Mapping[str, Any]] = (),
    model_ids: Sequence[str] = (),
) -> TrackedRun:
    """Every Labbook field of one run, from MLflow's info, data and inputs/outputs as plain values."""
    found = _scan(params, tags)
    dataset_list = [dict(d) for d in datasets]
    return TrackedRun(
        run_id=run_id,
        experiment_id=experiment_id,
        run_name=run_name or tags.get(RUN_NAME) or None,
        status=status or None,
        start_time_ms=start_time_ms or None,
        end_time_ms=end_time_ms or None,
        artifact_uri=artifact_uri or None,
        params=dict(params),
        metrics=finite_metrics(metrics),
        tags={k: v for k, v in tags.items() if k not in SKIPPED_TAGS},
        parent_run_id=tags.get(PARENT_RUN_ID) or None,
        git_commit=tags.get(GIT_COMMIT) or _first(found, "git_commit"),
        source_name=tags.get(SOURCE_NAME) or None,
        source_type=tags.get(SOURCE_TYPE) or None,
        owner=tags.get(USER) or user_id or None,
        data_version=_first(found, "data_version") or datasets_version(dataset_list),
        datasets=dataset_list,
        seed=_first(found, "seed"),
        environment=_environment(found),
        hardware=_described(found, "hardware"),
        split=_described(found, "split"),
        models=model_refs(run_id=run_id, artifact_uri=artifact_uri, model_ids=model_ids, tags=tags),
    )


def finite_metrics(metrics: Mapping[str, float]) -> dict[str, float]:
    """NaN and infinities (a diverged loss) are dropped: JSON, and PostgreSQL's jsonb, have no way to store them."""
    return {k: float(v) for k, v in metrics.items() if v is not None and math.isfinite(v)}


def dataset_input(
    *, name: str, digest: str, source_type: str | None, source: str | None, context: str | None
) -> dict[str, Any]:
    """A logged dataset input as stored in Run.datasets. MLflow keeps the source as JSON (`{"uri": ...}`)."""
    entry: dict[str, Any] = {"name": name, "digest": digest}
    if source_type:
        entry["source_type"] = source_type
    location = _source_location(source)
    if location:
        entry["source"] = location
    if context:
        entry["context"] = context
    return entry


def datasets_version(datasets: Sequence[Mapping[str, Any]]) -> str | None:
    """`train@fe2e8919, eval@01ab23cd`: the logged datasets by name and digest, when no param or tag names a version.
    Evaluation-only inputs count too: a different eval set is a different experiment."""
    parts = [f"{d['name']}@{d['digest']}" for d in datasets if d.get("name") and d.get("digest")]
    return ", ".join(dict.fromkeys(parts)) or None


def model_refs(
    *, run_id: str, artifact_uri: str | None, model_ids: Sequence[str], tags: Mapping[str, str]
) -> tuple[ModelRef, ...]:
    """The models a run logged: MLflow 3 logged models by ID, else MLflow 2's `mlflow.log-model.history` tag."""
    refs = [ModelRef(cache_uri=f"models:/{model_id}", model_id=model_id) for model_id in dict.fromkeys(model_ids)]
    history = tags.get(LOG_MODEL_HISTORY)
    if refs or not history or not artifact_uri:
        return tuple(refs)
    try:
        logged = json.loads(history)
    except ValueError:
        return ()
    paths = [m.get("artifact_path") for m in logged if isinstance(m, dict) and m.get("run_id", run_id) == run_id]
    return tuple(
        ModelRef(cache_uri=f"{artifact_uri.rstrip('/')}/{p}", artifact_uri=f"{artifact_uri.rstrip('/')}/{p}")
        for p in dict.fromkeys(p for p in paths if isinstance(p, str) and p)
    )


# --- environment files ------------------------------------------------------------------------------------------------


def parse_environment_files(files: Mapping[str, str], *, where: str) -> dict[str, Any]:
    """A logged model's environment from the texts of its requirements.txt, python_env.yaml and conda.yaml (any may
    be missing): {"python": "3.11.9", "packages": {name: version}, "sources": [where/file, ...]}."""
    packages: dict[str, str] = {}
    python: str | None = None
    sources: list[str] = []
    if "requirements.txt" in files:
        packages.update(parse_requirements(files["requirements.txt"]))
        sources.append(f"{where}/requirements.txt")
    for name in ("python_env.yaml", "conda.yaml"):
        if name not in files:
            continue
        spec = _yaml(files[name])
        py, pip = (_python_env(spec) if name == "python_env.yaml" else _conda_env(spec)) if spec else (None, {})
        python = python or py
        for package, version in pip.items():
            packages.setdefault(package, version)
        if py or pip:
            sources.append(f"{where}/{name}")
    environment: dict[str, Any] = {}
    if python:
        environment["python"] = python
    if packages:
        environment["packages"] = packages
    if environment:
        environment["sources"] = sources
    return environment


def parse_requirements(text: str) -> dict[str, str]:
    """`scikit-learn==1.5.2` -> {"scikit-learn": "1.5.2"}; a requirement without a pinned version maps to its
    specifier (">=2.0") or "" so the package is still listed. Options (-r, --index-url) and comments are skipped."""
    packages: dict[str, str] = {}
    # A param holds one line: "numpy==1.26, pandas==2.2" lists packages with commas.
    lines = text.splitlines() if "\n" in text.strip() else text.split(",")
    for line in lines:
        stripped = line.split("#", 1)[0].strip()
        if not stripped or stripped.startswith("-"):
            continue
        match = _REQUIREMENT.match(stripped)
        if match is None:
            continue
        name, op, version = match.groups()
        packages[name.lower()] = version if op in ("==", "===") else f"{op}{version}" if op else ""
    return packages


def merge_environment(base: Mapping[str, Any], models: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """What params and tags say, completed by the logged models' files (params and tags win: they describe the run,
    a model's files describe where the model may be served)."""
    merged: dict[str, Any] = {
        k: (dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v) for k, v in base.items()
    }
    for env in models:
        if not env:
            continue
        if env.get("python") and not merged.get("python"):
            merged["python"] = env["python"]
        if env.get("packages"):
            merged["packages"] = {**env["packages"], **merged.get("packages", {})}
        merged["sources"] = [*merged.get("sources", []), *(s for s in env.get("sources", []) if s)]
    return merged


# --- params and tags ----------------------------------------------------------------------------------------------


@lru_cache(maxsize=8192)
def classify_key(key: str) -> tuple[str, int, str] | None:
    """(field, rank, name) for a param or tag key that records a Labbook field, else None. Rank orders keys of one
    field (lower wins); name is the package for `package` keys. MLflow's own `mlflow.*` tags are mapped explicitly."""
    lowered = key.strip().lower()
    if lowered.startswith("mlflow."):
        return None
    segments = [s.replace("-", "_").replace(" ", "_") for s in _SEPARATORS.split(lowered) if s]
    if not segments:
        return None
    leaf = segments[-1]
    # `data.version` and `git/commit` say what `data_version` and `git_commit` say.
    candidates = (leaf, f"{segments[-2]}_{leaf}") if len(segments) >= 2 else (leaf,)
    for name, keys in (
        ("seed", SEED_KEYS),
        ("data_version", DATA_VERSION_KEYS),
        ("git_commit", GIT_COMMIT_KEYS),
        ("hardware", HARDWARE_KEYS),
        ("split", SPLIT_KEYS),
        ("python", PYTHON_KEYS),
        ("requirements", REQUIREMENTS_KEYS),
    ):
        for candidate in candidates:
            if candidate in keys:
                return (name, keys.index(candidate), candidate)
    if len(segments) >= 2 and segments[-2] in PACKAGE_NAMESPACES:
        return ("package", 0, leaf)
    if leaf.endswith("_version") and leaf[: -len("_version")] in KNOWN_LIBRARIES:
        return ("package", 0, leaf[: -len("_version")])
    if leaf.endswith("_version") and leaf[: -len("_version")] in ("data", "dataset"):
        return ("data_version", 0, leaf)
    return None


Found = dict[str, list[tuple[int, str, str, str, str]]]  # field -> [(rank, key, value, origin, name)]


def _scan(params: Mapping[str, str], tags: Mapping[str, str]) -> Found:
    """Params first, then tags: a config value outranks an annotation of the same rank."""
    found: Found = {}
    for origin, values in (("param", params), ("tag", tags)):
        for key, value in values.items():
            kind = classify_key(key)
            if kind is None or value is None or value.strip().lower() in _EMPTY_VALUES:
                continue
            found.setdefault(kind[0], []).append((kind[1], key, value.strip(), f"{origin}:{key}", kind[2]))
    return found


def _first(found: Found, name: str) -> str | None:
    hits = found.get(name)
    if not hits:
        return None
    return min(hits, key=lambda hit: hit[0])[2]


def _described(found: Found, name: str) -> str | None:
    """The value of the only key, or every distinct key=value in rank order ("gpu=A100, num_gpus=8")."""
    hits = sorted(found.get(name, ()), key=lambda hit: hit[0])
    unique = list({hit[1]: hit for hit in hits}.values())
    if not unique:
        return None
    if len(unique) == 1:
        return unique[0][2]
    return ", ".join(f"{hit[1]}={hit[2]}" for hit in unique)


def _environment(found: Found) -> dict[str, Any]:
    environment: dict[str, Any] = {}
    sources: list[str] = []
    python = found.get("python")
    if python:
        best = min(python, key=lambda hit: hit[0])
        environment["python"] = best[2]
        sources.append(best[3])
    packages: dict[str, str] = {}
    for _, _, value, origin, _ in found.get("requirements", ()):
        parsed = parse_requirements(value)
        if parsed:
            packages.update(parsed)
            sources.append(origin)
    for _, _, value, origin, name in found.get("package", ()):
        packages[name.replace("_", "-")] = value
        sources.append(origin)
    if packages:
        environment["packages"] = packages
    if environment:
        environment["sources"] = sources
    return environment


def _source_location(source: str | None) -> str | None:
    if not source:
        return None
    try:
        parsed = json.loads(source)
    except ValueError:
        return source
    if isinstance(parsed, dict):
        for key in ("uri", "url", "path", "table_name", "source"):
            if isinstance(parsed.get(key), str) and parsed[key]:
                return str(parsed[key])
    return source


def _yaml(text: str) -> dict[str, Any] | None:
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    return loaded if isinstance(loaded, dict) else None


def _python_env(spec: Mapping[str, Any]) -> tuple[str | None, dict[str, str]]:
    """python_env.yaml: `python: 3.11.9`, `dependencies: [-r requirements.txt, ...]`."""
    python = spec.get("python")
    deps = [d for d in spec.get("dependencies") or [] if isinstance(d, str)]
    return (str(python) if python else None), parse_requirements("\n".join(deps))


def _conda_env(spec: Mapping[str, Any]) -> tuple[str | None, dict[str, str]]:
    """conda.yaml: `dependencies: [python=3.11.9, pip<=24, {pip: [mlflow==3.1, ...]}]`."""
    python: str | None = None
    pip: dict[str, str] = {}
    for dep in spec.get("dependencies") or []:
        if isinstance(dep, str) and re.match(r"^python\s*=", dep):
            python = dep.split("=", 1)[1].lstrip("=").strip() or None
        elif isinstance(dep, dict) and isinstance(dep.get("pip"), list):
            pip.update(parse_requirements("\n".join(str(d) for d in dep["pip"])))
    return python, pip


def epoch_ms_to_datetime(value: int | None) -> datetime | None:
    return datetime.fromtimestamp(value / 1000, tz=UTC) if value else None
