"""Mapping MLflow's records to Labbook's run fields: pure functions over plain dicts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.integrations.mlflow.mapping import (
    classify_key,
    datasets_version,
    map_run,
    merge_environment,
    parse_environment_files,
    parse_requirements,
)


def mapped(params: dict[str, str] | None = None, tags: dict[str, str] | None = None, **kw: Any) -> Any:
    values: dict[str, Any] = {
        "run_id": "r1",
        "experiment_id": "1",
        "run_name": None,
        "status": "FINISHED",
        "start_time_ms": 1_700_000_000_000,
        "end_time_ms": 1_700_000_060_000,
        "artifact_uri": "mlflow-artifacts:/1/r1/artifacts",
        "user_id": None,
        "params": params or {},
        "metrics": {},
        "tags": tags or {},
    }
    return map_run(**{**values, **kw})


@pytest.mark.parametrize(
    ("params", "tags", "expected"),
    [
        ({"seed": "42"}, {}, "42"),
        ({"random_state": "7"}, {}, "7"),
        ({"model.random_state": "7", "trainer.seed": "3"}, {}, "3"),  # `seed` outranks `random_state`
        ({"Random-State": "11"}, {}, "11"),
        ({}, {"seed": "5"}, "5"),
        ({"seed": "1"}, {"seed": "2"}, "1"),  # a param outranks a tag
        ({"random_state": "None"}, {}, None),  # sklearn's "unseeded" is no seed
        ({"n_estimators": "100", "seedling": "x"}, {}, None),
    ],
)
def test_seed(params: dict[str, str], tags: dict[str, str], expected: str | None) -> None:
    assert mapped(params, tags).seed == expected


@pytest.mark.parametrize(
    ("params", "tags", "datasets", "expected"),
    [
        ({"data_version": "v3"}, {}, [], "v3"),
        ({}, {"dataset_version": "2024-06-01"}, [], "2024-06-01"),
        ({}, {"data.hash": "ab12"}, [], "ab12"),
        ({}, {}, [{"name": "train", "digest": "fe2e8919", "context": "training"}], "train@fe2e8919"),
        (
            {},
            {},
            [{"name": "train", "digest": "aa"}, {"name": "eval", "digest": "bb"}, {"name": "train", "digest": "aa"}],
            "train@aa, eval@bb",
        ),
        ({"data_version": "v3"}, {}, [{"name": "train", "digest": "aa"}], "v3"),  # the recorded version wins
        ({"model_version": "7"}, {}, [], None),
    ],
)
def test_data_version(
    params: dict[str, str], tags: dict[str, str], datasets: list[dict[str, Any]], expected: str | None
) -> None:
    assert mapped(params, tags, datasets=datasets).data_version == expected


@pytest.mark.parametrize(
    ("params", "tags", "hardware", "split"),
    [
        ({}, {"hardware": "1x A100 80GB"}, "1x A100 80GB", None),
        ({"gpu": "A100", "num_gpus": "8"}, {}, "gpu=A100, num_gpus=8", None),
        ({}, {"compute_target": "aml-gpu-cluster"}, "aml-gpu-cluster", None),
        ({"split": "group k-fold by customer"}, {}, None, "group k-fold by customer"),
        ({"test_size": "0.2", "split_strategy": "stratified"}, {}, None, "split_strategy=stratified, test_size=0.2"),
        ({"lr": "0.1"}, {"team": "risk"}, None, None),
    ],
)
def test_hardware_and_split(
    params: dict[str, str], tags: dict[str, str], hardware: str | None, split: str | None
) -> None:
    run = mapped(params, tags)
    assert (run.hardware, run.split) == (hardware, split)


def test_system_tags() -> None:
    tags = {
        "mlflow.source.git.commit": "3f2a9c1d0e",
        "mlflow.source.name": "train.py",
        "mlflow.source.type": "LOCAL",
        "mlflow.user": "ana",
        "mlflow.parentRunId": "p1",
        "mlflow.runName": "bold-fox",
        "mlflow.note.content": "a human's note, with Labbook's section",
        "team": "risk",
    }
    run = mapped({}, tags, user_id="someone-else")
    assert (run.git_commit, run.source_name, run.source_type) == ("3f2a9c1d0e", "train.py", "LOCAL")
    assert (run.owner, run.parent_run_id, run.run_name) == ("ana", "p1", "bold-fox")
    assert "mlflow.note.content" not in run.tags and run.tags["team"] == "risk"


def test_a_run_that_records_nothing_keeps_every_field_empty() -> None:
    run = mapped({"lr": "0.1"}, {}, status="RUNNING", end_time_ms=None, metrics={"loss": float("nan"), "auc": 0.8})
    assert run.is_open
    assert run.metrics == {"auc": 0.8}  # NaN cannot be stored as JSON
    empty = ("parent_run_id", "git_commit", "source_name", "source_type", "owner", "data_version", "seed")
    assert all(getattr(run, name) is None for name in (*empty, "hardware", "split", "run_name", "end_time_ms"))
    assert (run.environment, run.datasets, run.models) == ({}, [], ())


def test_environment_from_params_and_tags() -> None:
    params = {"python_version": "3.11.9", "torch_version": "2.3.1", "env.numpy": "1.26.4", "model_version": "3"}
    tags = {"requirements": "pandas==2.2.2, scikit-learn>=1.4"}
    run = mapped(params, tags)
    assert run.environment["python"] == "3.11.9"
    assert run.environment["packages"] == {
        "torch": "2.3.1",
        "numpy": "1.26.4",
        "pandas": "2.2.2",
        "scikit-learn": ">=1.4",
    }
    assert "param:python_version" in run.environment["sources"]


def test_model_refs_mlflow3_and_mlflow2() -> None:
    assert [m.cache_uri for m in mapped(model_ids=["m-1", "m-1"]).models] == ["models:/m-1"]
    history = json.dumps([{"run_id": "r1", "artifact_path": "model", "flavors": {}}])
    refs = mapped({}, {"mlflow.log-model.history": history}).models
    assert [(m.cache_uri, m.model_id) for m in refs] == [("mlflow-artifacts:/1/r1/artifacts/model", None)]
    assert "mlflow.log-model.history" not in mapped({}, {"mlflow.log-model.history": history}).tags
    assert mapped({}, {"mlflow.log-model.history": "not json"}).models == ()


def test_parse_requirements() -> None:
    text = (
        "# generated\nmlflow==3.17.2\nscikit-learn==1.9.1\nnumpy<3,>=1.24\ncloudpickle\n-r extra.txt\n"
        "torch[cuda]==2.3 ; os\n"
    )
    assert parse_requirements(text) == {
        "mlflow": "3.17.2",
        "scikit-learn": "1.9.1",
        "numpy": "<3",
        "cloudpickle": "",
        "torch": "2.3",
    }


def test_environment_files() -> None:
    files = {
        "requirements.txt": "mlflow==3.17.2\nscikit-learn==1.9.1\n",
        "python_env.yaml": "python: 3.11.9\nbuild_dependencies:\n- pip==24.0\ndependencies:\n- -r requirements.txt\n",
        "conda.yaml": "dependencies:\n- python=3.11.9\n- pip:\n  - mlflow==3.17.2\n  - cloudpickle==3.0\n",
    }
    env = parse_environment_files(files, where="models:/m-1")
    assert env["python"] == "3.11.9"
    assert env["packages"] == {"mlflow": "3.17.2", "scikit-learn": "1.9.1", "cloudpickle": "3.0"}
    assert env["sources"][0] == "models:/m-1/requirements.txt"
    conda_only = parse_environment_files({"conda.yaml": files["conda.yaml"]}, where="m")
    assert conda_only["python"] == "3.11.9" and conda_only["packages"]["cloudpickle"] == "3.0"
    assert parse_environment_files({"conda.yaml": ": not yaml ["}, where="m") == {}
    assert parse_environment_files({}, where="m") == {}


def test_merge_environment_params_win() -> None:
    base = {"python": "3.11.9", "packages": {"torch": "2.3.1"}, "sources": ["param:python_version"]}
    model = {"python": "3.10.0", "packages": {"torch": "2.0", "numpy": "1.26"}, "sources": ["models:/m/req"]}
    merged = merge_environment(base, [model, {}])
    assert merged == {
        "python": "3.11.9",
        "packages": {"torch": "2.3.1", "numpy": "1.26"},
        "sources": ["param:python_version", "models:/m/req"],
    }
    assert base["packages"] == {"torch": "2.3.1"}  # not modified


def test_datasets_version_without_digests_is_none() -> None:
    assert datasets_version([{"name": "train"}]) is None


@pytest.mark.parametrize(
    ("key", "field"),
    [
        ("seed", "seed"),
        ("cfg/data/seed", "seed"),
        ("mlflow.source.git.commit", None),
        ("git_commit", "git_commit"),
        ("xgboost_version", "package"),
        ("schema_version", None),
        ("versions.my-lib", "package"),
    ],
)
def test_classify_key(key: str, field: str | None) -> None:
    kind = classify_key(key)
    assert (kind[0] if kind else None) == field
