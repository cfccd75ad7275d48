"""Seed noise: pooled std from seed repeats, the unknown-noise advice, and gains within noise."""

from __future__ import annotations

import math

import pytest

from app.analysis.findings import analyze
from app.analysis.model import AnalysisInput, AnalysisSettings, Duplicate, Noise, SeedGroup
from app.analysis.noise import believable_gain
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
        pytest.approx(1.645 * pooled * math.sqrt(2)),  # type: ignore[arg-type]
        (
            SeedGroup(("a1", "a2", "a3"), pytest.approx(0.81), pytest.approx(std_a)),  # type: ignore[arg-type]
            SeedGroup(("b1", "b2"), pytest.approx(0.715), pytest.approx(std_b)),  # type: ignore[arg-type]
        ),
    )
    [finding] = findings.of_kind("seed_noise")
    assert finding.message == (
        "5 runs in 2 group(s) differ only in seed: the seed sd (pooled standard deviation) of auc is 0.01472 "
        "(largest group: 3 runs, mean 0.81, std 0.01). The believable gain of one run over another is 0.03424 "
        "(1.645 x seed sd x sqrt(2)); means over more seeds need less."
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
        "No runs differ only in seed, so the seed sd of auc is unknown; the configured minimum effect 0.01 stands in "
        "as the believable gain. Repeat the current best run (b) with 3 or more seeds to measure it."
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
        "Run r2 beat its closest earlier configuration, r1, on auc by 0.003 (0.803 vs 0.8), no more than the "
        "believable gain 0.005 (seed sd unknown, the configured minimum effect): not a believable improvement."
    )
    assert flagged[0].numbers == {
        "value": 0.803,
        "reference_value": 0.8,
        "gain": pytest.approx(0.003),
        "believable_gain": 0.005,
    }
    assert flagged[1].run_ids == ("r6", "r3")
    assert "the best comparable run before it" in flagged[1].message


def test_a_seed_repeat_is_not_flagged_as_an_improvement() -> None:
    runs = (
        run("r1", 0, 0.800, params={"lr": "0.1"}, seed="1"),
        run("r2", 1, 0.801, params={"lr": "0.1"}, seed="2"),
    )
    findings = analyze(AnalysisInput(runs=runs, primary_metric="auc", settings=AnalysisSettings(min_effect=0.01)))
    assert findings.changes["r2"].closest == "r1"
    assert not findings.of_kind("within_noise")


def test_the_believable_gain_accounts_for_the_repeats_behind_each_side() -> None:
    seeded = Noise("seed_repeats", 0.004, 1.645 * 0.004 * math.sqrt(2))
    assert believable_gain(seeded) == pytest.approx(seeded.min_gain)
    assert believable_gain(seeded, 3, 3) == pytest.approx(1.645 * 0.004 * math.sqrt(2 / 3))
    assert believable_gain(seeded, 3, 1) < believable_gain(seeded, 1, 1)
    unknown = Noise("min_effect", None, 0.01)
    assert believable_gain(unknown, 5, 5) == 0.01  # without a seed sd, the minimum effect whatever the repeats


def test_a_within_noise_flag_compares_only_comparable_runs() -> None:
    runs = (
        run("svm", 0, 0.800, params={"model": "svm", "C": "1"}),
        run("rf", 1, 0.801, params={"model": "random_forest", "C": "1"}),  # one change from svm, another family
        run("rf2", 2, 0.830, params={"model": "random_forest", "C": "1", "depth": "4"}),
        run("rf3", 3, 0.832, params={"model": "random_forest", "C": "1", "depth": "8"}),  # +0.002 over rf2: flagged
    )
    findings = analyze(AnalysisInput(runs=runs, primary_metric="auc", settings=AnalysisSettings(min_effect=0.005)))
    assert [f.subject for f in findings.of_kind("within_noise")] == ["rf3"]


def test_the_best_lead_over_another_approach_uses_the_seed_means() -> None:
    runs = (
        run("a1", 0, 0.800, params={"model": "svm"}, seed="1"),
        run("a2", 1, 0.804, params={"model": "svm"}, seed="2"),
        run("a3", 2, 0.802, params={"model": "svm"}, seed="3"),
        run("b1", 3, 0.805, params={"model": "random_forest"}, seed="1"),
    )
    findings = analyze(AnalysisInput(runs=runs, primary_metric="auc"))
    lead = findings.best_lead
    assert lead is not None and (lead.best, lead.runner_up, lead.runner_up_source) == ("b1", "a2", "approach")
    assert (lead.best_mean, lead.runner_up_mean, lead.n_best, lead.n_runner_up) == (
        0.805,
        pytest.approx(0.802),
        1,
        3,
    )
    assert lead.believable_gain == pytest.approx(believable_gain(findings.noise, 1, 3))
    assert lead.beyond_noise is False
    [best] = findings.of_kind("current_best")
    assert "within the noise" in best.message and best.numbers["lead"] == pytest.approx(0.003)


def test_no_best_lead_without_a_second_configuration() -> None:
    findings = analyze(AnalysisInput(runs=(run("a", 0, 0.8, params={"lr": "0.1"}),), primary_metric="auc"))
    assert findings.best_lead is None
