"""`bench/load.py` end to end at a few requests a second: it starts a real `labbook serve`, seeds it, searches,
confirms, bursts, and prints its summary and figures. A smoke test of the benchmark, not a measurement."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SMALL = [
    "--rates", "5", "--refine", "0", "--step-duration", "1", "--duration", "2", "--skip-ceiling",
    "--burst-seconds", "1", "--generator-seconds", "0.3", "--runs", "60",
    "--settle-timeout", "10", "--recovery-timeout", "15",
]  # fmt: skip


def test_runs_end_to_end_and_prints_the_summary(tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DATABASE_URL", None)
    command = [sys.executable, str(ROOT / "bench" / "load.py"), *SMALL, "--json", str(out)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = done.stdout.split("== summary ==")[1]
    for line in ("database: SQLite", "generator ceiling:", "ceiling: skipped", "overload at 15 req/s for 1 s:"):
        assert line in summary, done.stdout
    assert "sustained 5 req/s (no ceiling measured)" in summary or "sustained: no rate tried held" in summary
    assert "recovery: " in summary and "server RSS peak:" in summary
    figures = json.loads(out.read_text())
    assert figures["config"]["database"] == "sqlite"
    assert [step["rate"] for step in figures["search"]] == [5]
    mixed = figures["phases"][0]
    assert mixed["all"]["count"] == 5
    assert set(mixed["routes"]) <= {"GET runs", "GET entries", "GET entry", "POST logs", "GET findings"}
    assert figures["overload"]["healthz_probes"] >= 1
    assert figures["server"]["rss_peak_mb"] > 0
