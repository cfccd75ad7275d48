"""Composing a log entry: the offline composer against the floor any reader of a dump pays.

Baseline (same run, same text, same runs): one regex pass that cuts the dump into sentences and looks every
hex-looking word up in a dict of the stored run IDs. Labbook adds cue-phrase sections, prefix and name resolution,
stated-number reading and pairing, mismatch checks, the TL;DR and schema validation. Prints both times and their
ratio for a typical end-of-session dump (about 2 KB) and for a 500 KB paste, each against 10,000 stored runs, and
the time of the grounding check (which the LLM path will run on every model answer).
Targets against 10,000 runs: a typical dump composes in under 50 ms and its entry is checked in under 100 ms.

    .venv/bin/python bench/compose_log.py [--runs 10000]
"""

from __future__ import annotations

import argparse
import random
import re
import time
from collections.abc import Callable

from app.compose.log_entry.composer import ProjectFacts, RunFacts, compose_log_entry
from app.compose.log_entry.grounding import check_grounding

LINES = [
    "- tried {ref} with lr 0.05 -> auc .8{d}ish, didn't help vs {other}",
    "  - f1 between 0.6{d} and 0.7{d} on holdout",
    "open q: is the val split leaking by customer id?",
    "tomorrow: rerun {name} w/ 3 seeds, drop smote for good",
    "xgb {ref} about the same as lgbm but 2x slower to train. I think depth matters more",
]


def make_runs(count: int, rng: random.Random) -> list[RunFacts]:
    runs = []
    for i in range(count):
        run_id = f"{rng.getrandbits(128):032x}"
        metrics = {"val_auc": round(rng.random(), 4), "f1": round(rng.random(), 4)}
        runs.append(RunFacts(run_id, run_id, f"sweep-{i}-{rng.choice(['bold', 'calm'])}-hen", metrics, {"lr": "0.05"}))
    return runs


def make_dump(size: int, runs: list[RunFacts], rng: random.Random) -> str:
    lines: list[str] = []
    while sum(len(line) + 1 for line in lines) < size:
        a, b = rng.sample(runs, 2)
        template = rng.choice(LINES)
        lines.append(template.format(ref=a.key[:8], other=b.key[:10], name=a.run_name, d=rng.randint(0, 9)))
    return "\n".join(lines)


def baseline(text: str, runs: list[RunFacts]) -> int:
    ids = {run.key: run for run in runs}
    prefixes = {run.key[:8]: run for run in runs}
    found = 0
    for sentence in re.split(r"(?<=[.!?])\s+|\n", text):
        for word in re.findall(r"\b[0-9a-f]{6,32}\b", sentence):
            found += word in ids or word[:8] in prefixes
    return found


def best_of(repeats: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10_000)
    args = parser.parse_args()
    rng = random.Random(7)
    runs = make_runs(args.runs, rng)
    project = ProjectFacts("val_auc")
    for label, size, repeats in (("typical dump", 2_000, 5), ("500 KB paste", 500_000, 1)):
        text = make_dump(size, runs, rng)
        ours = best_of(repeats, lambda t=text: compose_log_entry(t, runs=runs, project=project))  # type: ignore[misc]
        floor = best_of(repeats, lambda t=text: baseline(t, runs))  # type: ignore[misc]
        entry = compose_log_entry(text, runs=runs, project=project)
        check = best_of(repeats, lambda t=text, e=entry: check_grounding(e, text=t, runs=runs))  # type: ignore[misc]
        print(  # noqa: T201
            f"{label:14} {len(text):>8,} chars, {args.runs:,} runs: compose {ours * 1000:8.1f} ms, "
            f"baseline {floor * 1000:7.1f} ms, ratio {ours / floor:6.1f}x; grounding check {check * 1000:7.1f} ms"
        )


if __name__ == "__main__":
    main()
