"""The project and the mix of `bench/load.py`: a project seeded through the API (runs from a CSV table, a few brain
dumps), and the requests of the mix: 70% reads of runs and entries, 25% brain dumps, 5% findings."""

from __future__ import annotations

import asyncio
import json
import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from load_generator import Pool, Request

MIX = (("GET runs", 0.35), ("GET entries", 0.20), ("GET entry", 0.15), ("POST logs", 0.25), ("GET findings", 0.05))
MODELS = {"lightgbm": 0.84, "xgboost": 0.835, "logreg": 0.80, "mlp": 0.825}
ENTRY_ID_RE = re.compile(rb'"entry_id":\s*(null|\d+)')


@dataclass
class RunRow:
    run_id: str
    name: str
    model: str
    features: str
    lr: str
    depth: int
    seed: int
    auc: float
    logloss: float


def make_runs(count: int, rng: random.Random) -> list[RunRow]:
    """Runs of a few models over features and hyperparameters, every configuration with up to three seeds, so the
    findings have baselines, noise, near neighbours and multi-changes to work through."""
    runs: list[RunRow] = []
    while len(runs) < count:
        model = rng.choice(sorted(MODELS))
        features, lr, depth = rng.choice(("v1", "v2", "v3")), rng.choice(("0.01", "0.03", "0.1")), rng.randint(3, 9)
        for seed in range(rng.choice((1, 1, 2, 3))):
            i = len(runs)
            auc = MODELS[model] + 0.004 * int(features[1]) + 0.02 * (i / count) + rng.gauss(0, 0.003)
            name = f"{model}-{features}-d{depth}-s{seed}-{i:04d}"
            runs.append(RunRow(f"{rng.getrandbits(128):032x}", name, model, features, lr, depth, seed, auc, 1.1 - auc))
    return runs[:count]


def runs_csv(runs: list[RunRow]) -> bytes:
    start = datetime(2026, 9, 1, 9, tzinfo=UTC)
    lines = ["run_id,run_name,model,features,lr,max_depth,seed,tag.approach,start_time,owner,val_auc,val_logloss"]
    for i, r in enumerate(runs):
        when = (start + timedelta(hours=i * 6)).strftime("%Y-%m-%dT%H:%M:%SZ")
        lines.append(
            f"{r.run_id},{r.name},{r.model},{r.features},{r.lr},{r.depth},{r.seed},{r.model}-{r.features},"
            f"{when},{('dana', 'li', 'sam')[i % 3]},{r.auc:.4f},{r.logloss:.4f}"
        )
    return ("\n".join(lines) + "\n").encode()


LINES = (
    "tried {a} ({model_a}, lr {lr_a}, depth {depth_a}): val auc {auc_a}, vs {b} at {auc_b}. {verdict}",
    "{name_a} beat {name_b} by about {gap} auc but that is inside the seed noise, so not calling it yet",
    "open q: do features {feat_a} leak the label? {a} jumped to {auc_a}, which looks too good",
    "next: rerun {name_a} with 3 seeds and drop {model_b} for now, {b} was 2x slower for the same auc",
    "{model_a} at depth {depth_a} ({a}) overfit: logloss {loss_a} on val while train kept falling",
    "didn't work: lr {lr_b} on {model_b} ({b}), auc stuck around {auc_b}",
    "hypothesis: {feat_a} helps {model_a} more than depth does; compare {a} and {b} once the rerun finishes",
)
VERDICTS = ("keeping it.", "not worth the extra trees.", "about the same, meh.", "best so far!")


def make_dump(runs: list[RunRow], rng: random.Random) -> dict[str, Any]:
    """A brain dump of a few lines citing one or two runs by ID prefix or name, its numbers sometimes a bit off."""
    lines = []
    for _ in range(rng.randint(2, 6)):
        a, b = rng.sample(runs, 2)
        stated = a.auc if rng.random() < 0.8 else a.auc + rng.choice((-0.01, 0.01))
        lines.append(
            rng.choice(LINES).format(
                a=a.run_id[: rng.choice((8, 10, 32))],
                b=b.run_id[:8],
                name_a=a.name,
                name_b=b.name,
                model_a=a.model,
                model_b=b.model,
                lr_a=a.lr,
                lr_b=b.lr,
                depth_a=a.depth,
                feat_a=a.features,
                auc_a=f"{stated:.3f}",
                auc_b=f"{b.auc:.3f}",
                loss_a=f"{a.logloss:.3f}",
                gap=f"{abs(a.auc - b.auc):.3f}",
                verdict=rng.choice(VERDICTS),
            )
        )
    body: dict[str, Any] = {"text": "\n".join(f"- {line}" for line in lines)}
    if rng.random() < 0.3:
        body["run_ids"] = [rng.choice(runs).run_id]
    return body


@dataclass
class Mix:
    """Draws the next request of the mix; learns entry IDs from the brain dumps' answers."""

    slug: str
    runs: list[RunRow]
    rng: random.Random
    entry_ids: list[int] = field(default_factory=list)
    entryless: int = 0  # brain dumps answered 201 without an entry
    dumps: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.dumps = [json.dumps(make_dump(self.runs, self.rng)).encode() for _ in range(400)]
        self._routes = [name for name, _ in MIX]
        self._weights = [weight for _, weight in MIX]
        model = self.runs[0].model
        self._run_lists = [
            f"/v1/projects/{self.slug}/runs?limit=50",
            f"/v1/projects/{self.slug}/runs?limit=50&param=model%3D{model}",
            f"/v1/projects/{self.slug}/runs?limit=20&metric=val_auc%3E%3D0.84",
        ]

    def next(self) -> Request:
        route = self.rng.choices(self._routes, self._weights)[0]
        if route == "GET entry" and not self.entry_ids:
            route = "GET entries"
        return self.request(route)

    def request(self, route: str) -> Request:
        if route == "GET runs":
            return route, "GET", self.rng.choice(self._run_lists), b""
        if route == "GET entries":
            return route, "GET", f"/v1/projects/{self.slug}/entries?limit=20", b""
        if route == "GET entry":
            return route, "GET", f"/v1/entries/{self.rng.choice(self.entry_ids)}", b""
        if route == "POST logs":
            return route, "POST", f"/v1/projects/{self.slug}/logs", self.rng.choice(self.dumps)
        return route, "GET", f"/v1/projects/{self.slug}/findings", b""

    def on_answer(self, route: str, status: int, body: bytes) -> None:
        found = ENTRY_ID_RE.search(body) if route == "POST logs" else None
        if found is None:
            return
        if found[1] == b"null":
            self.entryless += 1
        elif len(self.entry_ids) < 5000:
            self.entry_ids.append(int(found[1]))


async def seed(pool: Pool, runs: int, rng: random.Random) -> Mix:
    slug = f"load-{rng.getrandbits(32):08x}"
    project = {
        "slug": slug,
        "name": "Load benchmark",
        "goal": "Beat the churn baseline by 0.01 val AUC",
        "primary_metric": "val_auc",
        "metric_direction": "max",
    }
    await _expect(pool, "POST", "/v1/projects", json.dumps(project).encode(), 201)
    mix = Mix(slug, make_runs(runs, rng), rng)
    table = json.dumps({"table": runs_csv(mix.runs).decode(), "format": "csv"}).encode()
    await _expect(pool, "POST", f"/v1/projects/{slug}/runs/import", table, 200)
    for dump in mix.dumps[:5]:
        mix.on_answer("POST logs", 201, await _expect(pool, "POST", f"/v1/projects/{slug}/logs", dump, 201))
    return mix


async def _expect(pool: Pool, method: str, path: str, body: bytes, status: int) -> bytes:
    async with asyncio.timeout(120):
        got, payload = await pool.request(method, path, body)
    if got != status:
        raise SystemExit(f"seeding: {method} {path} answered {got}: {payload[:500]!r}")
    return payload
