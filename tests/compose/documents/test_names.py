"""Names people know: a run reads `name (abcdef12)` in Markdown, linked to the MLflow UI when the project has a
tracking server, while the body keeps full keys; numbers have at most 4 significant digits; lists that grow with the
history are grouped and counted."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from app.analysis.model import Duplicate, Finding
from app.compose.contract import Composed
from app.compose.documents import check_document_grounding, compose_next_experiments
from app.compose.documents.next_experiments import render_markdown
from app.compose.documents.schemas import NextExperiments
from app.compose.escape import md_plain
from app.compose.labels import RunLabels, counted, labelled, named, plain_label, run_label, run_url
from app.compose.log_entry.facts import ProjectFacts, RunFacts
from app.compose.log_entry.kind import compose_entry
from tests.compose.documents.fixtures import RUNS, context, findings, planned
from tests.compose.documents.test_end_to_end import all_documents, setting  # noqa: F401 - the fixture

HEX = "9b22c4f0a1b2c3d4e5f60718293a4b5c"
OTHER = "0123456789abcdef0123456789abcdef"
MLFLOW = "http://mlflow.example:5000"
_LINK_TARGET_RE = re.compile(r"\]\([^)\s]*\)")
_HEX_RE = re.compile(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")


@pytest.mark.parametrize(
    ("key", "name", "label"),
    [
        (HEX, "lgbm-lr0.05", "lgbm-lr0.05 (9b22c4f0)"),
        (HEX, None, "9b22c4f0"),
        (HEX, "", "9b22c4f0"),
        ("name:baseline", None, "baseline"),
        ("name:baseline", "name:baseline", "baseline"),
        ("r-lr3", "lr3", "lr3 (r-lr3)"),
        ("nl63", "nl63", "nl63"),
    ],
    ids=["named", "no-name", "empty-name", "name-key", "name-key-as-name", "short-key", "name-is-key"],
)
def test_a_run_reads_by_name_and_short_key(key: str, name: str | None, label: str) -> None:
    assert plain_label(key, name) == label
    with labelled(RunLabels({key: name or ""})):
        assert run_label(key) == label
        assert named(f"- best `{key}`.") == f"- best {label}."


def test_a_label_is_escaped_as_a_person_s_text() -> None:
    with labelled(RunLabels({HEX: "<b>x</b> | [y](javascript:z)"})):
        assert run_label(HEX) == "&lt;b&gt;x&lt;/b&gt; \\| \\[y\\](javascript:z) (9b22c4f0)"


def test_with_a_tracking_server_the_label_links_to_the_run_in_the_mlflow_ui() -> None:
    labels = RunLabels.of([(HEX, HEX, "lgbm", "7"), (OTHER, OTHER, None, None)], tracking_uri=MLFLOW + "/")
    with labelled(labels):
        assert run_label(HEX) == f"[lgbm (9b22c4f0)]({MLFLOW}/#/experiments/7/runs/{HEX})"
        assert run_label(OTHER) == "01234567"  # no experiment: no page to link to
        assert run_label(HEX, link=False) == "lgbm (9b22c4f0)"


@pytest.mark.parametrize(
    ("uri", "url"),
    [
        ("http://ana:secret@mlflow.example:5000/", f"{MLFLOW}/#/experiments/7/runs/{HEX}"),
        ("https://host/mlflow", f"https://host/mlflow/#/experiments/7/runs/{HEX}"),
        ("file:///tmp/mlruns", None),
        ("sqlite:///mlflow.db", None),
        ("", None),
    ],
    ids=["credentials-left-out", "path", "file-store", "database", "none"],
)
def test_run_url(uri: str, url: str | None) -> None:
    assert run_url(uri, "7", HEX) == url


def test_a_full_run_id_in_a_person_s_words_reads_as_its_label_and_a_digest_stays() -> None:
    with labelled(RunLabels({HEX: "lgbm"})):
        assert named(f"run {HEX} won; data digest {OTHER}") == f"run lgbm (9b22c4f0) won; data digest {OTHER}"
    assert named(f"run {HEX} won") == "run 9b22c4f0 won"  # without labels, a run ID is shortened all the same


def test_a_document_links_its_runs_when_the_project_has_a_tracking_server() -> None:
    facts = findings()
    runs = {k: replace(r, run_id=k) for k, r in RUNS.items()}
    ctx = planned(context(runs=runs, tracking_uri=MLFLOW, experiments={k: "3" for k in runs}), facts)
    composed = compose_next_experiments(ctx, facts, target=None, deadline=None, budget_runs=None, budget_hours=None)
    assert f"[lr3 (r-lr3)]({MLFLOW}/#/experiments/3/runs/r-lr3) with val_auc 0.87" in composed.markdown
    assert composed.body.model_dump()["best"]["key"] == "r-lr3"  # the body keeps the key
    assert check_document_grounding(composed, ctx, facts) == []


def test_without_a_tracking_server_there_is_no_link() -> None:
    facts = findings()
    runs = {k: replace(r, run_id=k) for k, r in RUNS.items()}
    ctx = planned(context(runs=runs, experiments={k: "3" for k in runs}), facts)
    composed = compose_next_experiments(ctx, facts, target=None, deadline=None, budget_runs=None, budget_hours=None)
    assert "](" not in composed.markdown and "lr3 (r-lr3) with val_auc 0.87" in composed.markdown


def assert_no_hex_ids(doc: Composed) -> None:
    """No 32-hex run ID in the Markdown outside a link target."""
    text = _LINK_TARGET_RE.sub("]", doc.markdown)
    assert not _HEX_RE.search(text), (doc.kind, _HEX_RE.findall(text))


def test_a_log_entry_shows_runs_by_label_and_numbers_rounded() -> None:
    runs = [
        RunFacts(HEX, HEX, "lgbm-lr0.05", {"val_auc": 0.8200000000000001}, {}),
        RunFacts(OTHER, OTHER, None, {"val_auc": 0.00181964587519}, {}),
    ]
    dump = f"Tried lgbm-lr0.05 ({HEX}) and {OTHER}. lgbm won."
    with labelled(RunLabels.of([(HEX, HEX, "lgbm-lr0.05", "7"), (OTHER, OTHER, None, "7")], tracking_uri=MLFLOW)):
        composed = compose_entry(dump, runs=runs, project=ProjectFacts("val_auc"), title="t")
    assert "0.8200000000000001" not in composed.markdown and "0.00181964587519" not in composed.markdown
    assert composed.body.tldr.startswith("Best of the 2 cited runs: lgbm-lr0.05 (9b22c4f0) (val_auc 0.82)")
    assert f"[lgbm-lr0.05 (9b22c4f0)]({MLFLOW}/#/experiments/7/runs/{HEX})" in composed.markdown
    assert "val_auc 0.00182" in composed.markdown
    assert not _HEX_RE.search(_LINK_TARGET_RE.sub("]", composed.markdown))
    assert HEX in composed.body.run_ids  # JSON keeps the full key


_DECIMAL_RE = re.compile(r"(?<![\w.])-?\d+\.\d+(?![\w.])")


def test_every_number_in_every_document_has_at_most_4_significant_digits(setting) -> None:  # noqa: F811
    ctx, facts = setting
    noisy = {k: replace(r, metrics={m: v + 1e-9 for m, v in r.metrics.items()}) for k, r in ctx.runs.items()}
    ctx = replace(ctx, runs=noisy)
    for doc in all_documents(ctx, facts):
        for number in _DECIMAL_RE.findall(md_plain(doc.markdown)):
            digits = number.lstrip("-").replace(".", "").lstrip("0")
            assert len(digits) <= 4, (doc.kind, number)


def test_gains_within_the_noise_are_grouped_and_counted() -> None:
    gains = [0.001, 0.0064, 0.002, 0.0005, 0.003, 0.0041]
    keys = list(RUNS)[1:]
    noise = [
        Finding(
            "within_noise",
            f"{k} within the noise",
            run_ids=(k,),
            numbers={"gain": g, "believable_gain": 0.01},
            subject=k,
        )
        for k, g in zip(keys, gains, strict=True)
    ]
    facts = findings(findings=tuple(noise))
    ctx = planned(context(), facts)
    composed = compose_next_experiments(ctx, facts, target=None, deadline=None, budget_runs=None, budget_hours=None)
    line = (
        "- 6 gains within the noise (each over its run's closest earlier configuration), largest +0.0064 against a "
        "believable gain of 0.01: dup (r-dup), lr3 (r-lr3), "
    )
    assert line + "xgb2 (r-xgb2) and 3 more" in composed.markdown
    assert len(composed.body.model_dump()["low_roi"]) == 3 + 6  # the body keeps every one
    assert check_document_grounding(composed, ctx, facts) == []


def test_duplicates_are_grouped_and_counted_past_the_listed_ones() -> None:
    dups = tuple(Duplicate(k, "r-base", 60.0 + i) for i, k in enumerate(list(RUNS)[1:]) for _ in range(2))
    facts = findings(duplicates=dups)
    ctx = planned(context(), facts)
    composed = compose_next_experiments(ctx, facts, target=None, deadline=None, budget_runs=None, budget_hours=None)
    assert "- 12 runs repeat an earlier configuration, the costliest spent 65 s of compute: dup (r-dup) (of " in (
        composed.markdown
    )
    assert " and 9 more" in composed.markdown


@pytest.mark.parametrize(
    ("count", "items", "line"),
    [
        (6, ["a", "b", "c", "d", "e", "f"], "6 gains, largest +1: a, b, c and 3 more"),
        (15, ["a", "b"], "15 gains, largest +1: a, b and 13 more"),
        (2, ["a", "b"], "2 gains, largest +1: a and b"),
        (0, [], "0 gains, largest +1"),
    ],
)
def test_counted(count: int, items: list[str], line: str) -> None:
    assert counted(count, "gains", items, detail="largest +1") == line


def test_a_person_s_escaped_backtick_opens_no_code_span() -> None:
    with labelled(RunLabels({HEX: "lgbm"})):
        assert named(f"it\\`s bad (`{HEX}`)") == "it\\`s bad (lgbm (9b22c4f0))"
        assert named(f"``{HEX}`` and `` odd`key ``") == "lgbm (9b22c4f0) and `` odd`key ``"


def test_a_body_stored_before_low_return_kinds_renders_one_line_per_item() -> None:
    noise = [
        Finding("within_noise", f"{k} within the noise", run_ids=(k,), numbers={"gain": 0.001}, subject=k)
        for k in list(RUNS)[1:4]
    ]
    facts = findings(findings=tuple(noise))
    composed = compose_next_experiments(
        planned(context(), facts), facts, target=None, deadline=None, budget_runs=None, budget_hours=None
    )
    old = composed.body.model_dump(mode="json")
    for item in old["low_roi"]:
        del item["kind"], item["count"]
    with labelled(context().labels()):
        markdown = render_markdown(NextExperiments.model_validate(old), composed.title)
    assert "3 gains within the noise" in composed.markdown and "gains within the noise" not in markdown
    assert all(f"- {k.removeprefix('r-')} ({k}): {k} within the noise" in markdown for k in list(RUNS)[1:4])
