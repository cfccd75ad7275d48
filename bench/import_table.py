"""Run-table import speed: Labbook's import of a pasted CSV against the floor any importer pays.

Baseline (same run, same data): `csv.reader` over the text plus one `executemany` of the raw cells into a SQLite
table with the same JSON columns. Labbook adds column recognition, number interpretation with warnings, metric
aliasing, the upsert against stored runs and the line-by-line answer. Prints both times and their ratio, for a
first import and for an unchanged re-import.

    .venv/bin/python bench/import_table.py [--rows 20000]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sqlite3
import tempfile
import time
from pathlib import Path

from sqlmodel import Session, select

from app.services import runs as runs_service
from app.storage.db import make_engine, migrate, session_scope
from app.storage.models import Project


def make_table(rows: int) -> str:
    lines = ["run_id,model,lr,num_leaves,val_auc,val_loss,notes"]
    for i in range(rows):
        lines.append(f"r{i:06d},lightgbm,0.0{i % 9 + 1},{16 << (i % 4)},0.{800 + i % 200},0.{300 + i % 100},note {i}")
    return "\n".join(lines) + "\n"


def baseline(text: str, folder: Path) -> float:
    start = time.perf_counter()
    reader = csv.reader(io.StringIO(text))
    next(reader)
    rows = [
        (r[0], json.dumps({"model": r[1], "lr": r[2], "num_leaves": r[3]}), json.dumps({"a": float(r[4])}), r[6])
        for r in reader
    ]
    db = sqlite3.connect(folder / "baseline.db")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE IF NOT EXISTS run (key TEXT UNIQUE, params TEXT, metrics TEXT, notes TEXT)")
    db.executemany("INSERT OR REPLACE INTO run VALUES (?, ?, ?, ?)", rows)
    db.commit()
    db.close()
    return time.perf_counter() - start


def labbook(text: str, folder: Path) -> tuple[float, float]:
    engine = make_engine(f"sqlite:///{folder / 'labbook.db'}")
    migrate(engine)
    times = []
    for _ in range(2):  # a first import, then an unchanged re-import
        start = time.perf_counter()
        for session in session_scope(engine):
            project = _project(session)
            runs_service.import_table(session, project=project, text=text, format="csv")
        times.append(time.perf_counter() - start)
    engine.dispose()
    return times[0], times[1]


def _project(session: Session) -> Project:
    project = session.exec(select(Project)).first()
    if project is None:
        project = Project(slug="bench", name="bench", primary_metric="val_auc", metric_direction="max")
        session.add(project)
        session.flush()
    return project


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args()
    text = make_table(args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        floor = baseline(text, folder)
        first, again = labbook(text, folder)
    print(f"rows: {args.rows}  table: {len(text.encode()) / 1e6:.2f} MB")
    print(f"baseline (csv.reader + executemany): {floor:.3f} s")
    print(f"labbook first import:                {first:.3f} s  ratio {first / floor:.1f}x")
    print(f"labbook unchanged re-import:         {again:.3f} s  ratio {again / floor:.1f}x")


if __name__ == "__main__":
    main()
