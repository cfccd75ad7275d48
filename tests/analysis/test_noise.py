"""Seed noise: pooled std from seed repeats, the unknown-noise advice, and gains within noise."""

from __future__ import annotations

import math

import pytest

from app.analysis.findings import analyze
from app.analysis.model import AnalysisInput, AnalysisSettings, Duplicate, Noise, SeedGroup
from tests.analysis.builders import run


def test_pooled_seed_std_from_two_groups() -> None:
    runs = (
        run("a1", 0, 0.80, params={"lr": "0.1"}, seed="1"),
        run("a2", 1, 0.82, params={"lr": "0.10"}, seed="2"),
        run("a3", 2, 0.81, params={"lr": "1e-1", "random_state": "3"}, seed=None),
        run("b1", 3, 0.70, params={"lr": "0.5"}, seed="1"),
        run("b2", 4, 0.73, params={"lr": "0.5"}, seed="2"),
        run("c1", 5, 0.60, params={"lr": "0.9"}, seed="1"),  # one seed only: no group
        run("c2", 6, 0.90, params={"lr": "0.9"}, seed="1", status="FAILED"),  # not scored
    )
    findings = analyze(AnalysisInput(runs=runs, primary_metric="auc"))
    std_a = math.sqrt(((0.80 - 0.81) ** 2 + (0.82 - 0.81) ** 2 + 0) / 2)
    std_b = math.sqrt(2 * 0.015**2)
    pooled = math.sqrt((2 * std_a**2 + 1 * std_b**2) / 3)
    assert findings.noise == Noise(
        "seed_repeats",
        pytest.approx(pooled),  # type: ignore[arg-type]
        pytest.approx(2 * pooled),  # type: ignore[arg-type]
        (
            SeedGroup(("a1", "a2", "a3"), pytest.approx(0.81), pytest.approx(std_a)),  # type: ignore[arg-type]
            SeedGroup(("b1", "b2"), pytest.approx(0.715), pytest.approx(std_b)),  # type: ignore[arg-type]
        ),
    )
    [finding] = findings.of_kind("seed_noise")
    assert finding.message == (
        "5 runs in 2 group(s) differ only in seed: the pooled standard deviation of auc is 0.01472 (largest group: "
        "3 runs, mean 0.81, std 0.01). A gain must exceed 0.02944 (2 x std) to be believed."
    )
    assert finding.run_ids == ("a1", "a2", "a3", "b1", "b2")
    assert not findings.of_kind("noise_unknown")
    # repeats with other seeds measure noise; only the same seed again is a duplicate
    assert findings.duplicates == (Duplicate("c2", "c1", None),)


def test_without_repeats_noise_is_the_minimum_effect_and_repeats_are_suggested() -> None:
    runs = (run("a", 0, 0.8, params={"lr": "0.1"}), run("b", 1, 0.9, params={"lr": "0.2"}))
    findings = analyze(AnalysisInput(runs=runs, primary_metric="auc", settings=AnalysisSettings(min_effect=0.01)))
    assert findings.noise == Noise("min_effect", None, 0.01)
    [finding] = findings.of_kind("noise_unknown")
    assert finding.message == (
        "No runs differ only in seed, so the noise on auc is unknown; the configured minimum effect 0.01 stands in "
        "for it. Repeat the current best run (b) with 3 or more seeds to measure it."
    )
    assert finding.run_ids == ("b",)


def test_gain_within_noise_over_the_closest_configuration_is_flagged() -> None:
    runs = (
        run("r1", 0, 0.800, params={"lr": "0.1"}),
        run("r2", 1, 0.803, params={"lr": "0.2"}),  # +0.003 over r1: within 0.005
        run("r3", 2, 0.850, params={"lr": "0.3"}),  # +0.047: believable
        run("r4", 3, 0.849, params={"lr": "0.4"}),  # worse: not an improvement
        run("r5", 4, 0.99, params={"lr": "0.6"}, status="FAILED"),
        run("r6", 5, 0.852, params={"lr": "0.6", "depth": "3"}),  # closest r5 failed: against the best before (r3)
    )
    findings = analyze(AnalysisInput(runs=runs, primary_metric="auc"))
    flagged = findings.of_kind("within_noise")
    assert [f.subject for f in flagged] == ["r2", "r6"]
    assert flagged[0].message == (
        "Run r2 beat its closest earlier configuration, r1, on auc by 0.003 (0.803 vs 0.8), no more than the noise "
        "threshold 0.005: not a believable improvement."
    )
    assert flagged[0].numbers == {
        "value": 0.803,
        "reference_value": 0.8,
        "gain": pytest.approx(0.003),
        "min_gain": 0.005,
    }
    assert flagged[1].run_ids == ("r6", "r3")
    assert "the best run before it" in flagged[1].message


def test_a_seed_repeat_is_not_flagged_as_an_improvement() -> None:
    runs = (
        run("r1", 0, 0.800, params={"lr": "0.1"}, seed="1"),
        run("r2", 1, 0.801, params={"lr": "0.1"}, seed="2"),
    )
    findings = analyze(AnalysisInput(runs=runs, primary_metric="auc", settings=AnalysisSettings(min_effect=0.01)))
    assert findings.changes["r2"].closest == "r1"
    assert not findings.of_kind("within_noise")
