"""The audit's rules on small logs read as the import reads them: each finding where the rule says, none elsewhere."""

from __future__ import annotations

from app.analysis.findings import analyze
from app.analysis.model import AUDIT_KINDS, AnalysisInput, AnalysisSettings, Findings, RunView
from app.analysis.options import next_options
from app.analysis.tried import settings_in_words
from app.parsing.tables import parse_run_table

HEADER = "commit\tval_bpb\tmemory_gb\tstatus\tdescription\n"


def _audit(rows: str, min_effect: float = 0.001) -> tuple[Findings, dict[str, str]]:
    findings, names, _ = _analysed(rows, min_effect)
    return findings, names


def _analysed(rows: str, min_effect: float = 0.001) -> tuple[Findings, dict[str, str], tuple[RunView, ...]]:
    table = parse_run_table(HEADER + rows, read_words=settings_in_words)
    runs = tuple(
        RunView(
            key=r.key,
            run_id=r.run_id,
            name=r.run_name,
            params=r.params,
            metrics=r.metrics,
            tags=r.tags,
            status=r.fields.get("status"),
            seed=r.fields.get("seed"),
        )
        for r in table.rows
    )
    findings = analyze(AnalysisInput(runs, "val_bpb", "min", settings=AnalysisSettings(min_effect=min_effect)))
    return findings, {r.key: (r.run_name or "").split()[0] for r in table.rows}, runs


def _found(findings: Findings, names: dict[str, str]) -> set[tuple[str, str]]:
    return {(f.kind, names[f.subject or ""]) for f in findings.findings if f.kind in AUDIT_KINDS}


def test_a_keep_that_does_not_beat_the_best_names_what_it_trades_for() -> None:
    findings, names = _audit(
        "a000001\t1.0200\t52.3\tkeep\tbaseline\n"
        "a000002\t1.0100\t52.3\tkeep\tlr=6e-4\n"
        "a000003\t1.0120\t49.8\tkeep\tbatch_size=48 (fit in memory)\n"
    )
    (kept,) = [f for f in findings.findings if f.kind == "keep_not_best"]
    assert names[kept.subject or ""] == "#3"
    assert "lower memory_gb (49.8 vs 52.3): a trade-off, if that was the reason" in kept.message


def test_a_clear_gain_a_bad_step_and_a_crash_are_not_audit_findings() -> None:
    findings, names = _audit(
        "a000001\t1.0200\t40.0\tkeep\tbaseline\n"
        "a000002\t1.0100\t40.0\tkeep\tlr=6e-4\n"
        "a000003\t1.0140\t40.0\tdiscard\twarmup_steps=200\n"
        "a000004\t1.0050\t40.0\tkeep\tn_layer=14\n"
        "a000005\t0.0000\t0.0\tcrash\tdouble the width\n"
        "a000006\t1.0000\t40.0\tkeep\tweight_decay=0.1\n"
    )
    assert _found(findings, names) == set()


def test_a_value_equal_to_a_discarded_sibling_reads_as_a_possibly_stale_result() -> None:
    findings, names = _audit(
        "a000001\t1.0200\t40.0\tkeep\tbaseline\n"
        "a000002\t1.0100\t40.0\tkeep\tlr=6e-4\n"
        "a000003\t1.0140\t40.0\tdiscard\tn_layer=14\n"
        "a000004\t1.0140\t40.0\tdiscard\tswap GELU for SwiGLU\n"
    )
    (same,) = [f for f in findings.findings if f.kind == "unchanged_metric"]
    assert names[same.subject or ""] == "#4"
    assert "the run before it" in same.message and "stale log" in same.message


def test_a_retried_value_is_never_proposed_again() -> None:
    rows = (
        "a000001\t1.0200\t40.0\tkeep\tbaseline\n"
        "a000002\t1.0150\t40.0\tkeep\tlr=6e-4\n"
        "a000003\t1.0170\t40.0\tdiscard\tlr=1e-3\n"
        "a000004\t1.0160\t40.0\tdiscard\tn_layer=12\n"
        "a000005\t1.0100\t40.0\tkeep\tn_layer=14\n"
        "a000006\t1.0130\t40.0\tdiscard\tlr=1e-3\n"
        "a000007\t1.0050\t40.0\tkeep\twarmup_steps=200\n"
    )
    findings, names, runs = _analysed(rows)
    assert ("tried_again", "#6") in _found(findings, names)
    options = next_options({r.key: r for r in runs}, findings, AnalysisSettings(min_effect=0.001))
    proposed = {(o.key, o.value) for o in options.neighbours}
    assert ("n_layer", "12") in proposed  # a value tried on an older state only is still proposed on the best
    assert ("lr", "1e-3") not in proposed  # the change the log tried twice is not
