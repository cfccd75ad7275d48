"""Open-loop load on a real `labbook serve`: the highest rate of a mixed load it sustains, as a share of a ceiling
measured in the same run, and what happens past it.

The mix (70% reads, 25% brain dumps, 5% findings) arrives at a fixed rate on loopback whether or not earlier
requests were answered, from a generator in this process (`bench/load_generator.py`); the server is a subprocess.
1. The generator's own ceiling: the same open loop against a bare asyncio responder (`ceiling_app.py --raw`).
2. The ceiling: a trivial FastAPI `GET /ping` under uvicorn run as `labbook serve` runs it (`bench/ceiling_app.py`);
   its highest rate with 0 errors and p95 < 100 ms.
3. `labbook serve` on a temporary data dir (SQLite) or `--database-url` (PostgreSQL), seeded through the API with a
   project, `--runs` imported runs (models, features, hyperparameters, seed repeats) and a few brain dumps.
4. The search: the mix at each of `--rates` for `--step-duration` s, then bisection between the last rate that held
   and the first that did not; a rate holds with 0 errors and brain-dump (POST logs) p95 < 100 ms. The rate found
   is confirmed for `--duration` s.
5. Overload: `--burst-factor` times the sustained rate for `--burst-seconds`; the share of 503s and other errors,
   whether /healthz answered during it, the time until /healthz and a normal read are back under
   max(3x their idle p50, 100 ms) (3 polls in a row, every 100 ms), and whether a normal request succeeds after.

Latencies are of 2xx answers, from each request's scheduled time. Only the public HTTP API is used, so the script
measures any checkout: point `--labbook` (or `--python` with PYTHONPATH) at it.

    PYTHONPATH=. .venv/bin/python bench/load.py [--database-url postgresql://...] [--rates 25,50,100]
        [--step-duration 20] [--duration 60] [--skip-ceiling] [--json out.json] [--serve-args "--workers 2"]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from load_generator import Driver, Phase, Pool, ms, percentile, report, timed
from load_mix import ENTRY_ID_RE, Mix, seed
from load_servers import HOST, RssSampler, Server, ceiling_python, labbook_command, rss_bytes, server_env, workers_of

HERE = Path(__file__).resolve().parent
P95_TARGET_S = 0.100
DEFAULT_RATES = (25, 50, 75, 100, 150, 200, 300, 400, 600, 800)
GENERATOR_RATES = (500, 1000, 2500, 5000, 10000, 20000)
CEILING_RATES = (250, 500, 750, 1000, 1500, 2000, 3000, 4000, 6000)


# ---------------------------------------------------------------- phases


@dataclass
class Normal:
    """What normal looks like at idle: a probe passes when /healthz and a runs list both answer 200 under their
    thresholds, max(3x idle p50, 100 ms)."""

    health_p50: float
    read_p50: float
    read_path: str

    @property
    def thresholds(self) -> tuple[float, float]:
        return max(3 * self.health_p50, P95_TARGET_S), max(3 * self.read_p50, P95_TARGET_S)

    async def probe(self, pool: Pool) -> bool:
        health_max, read_max = self.thresholds
        status, latency = await timed(pool.request("GET", "/healthz"), max(1.0, 2 * health_max))
        if status != 200 or latency > health_max:
            return False
        status, latency = await timed(pool.request("GET", self.read_path), max(1.0, 2 * read_max))
        return status == 200 and latency <= read_max

    async def wait(self, pool: Pool, bound: float) -> float | None:
        """Seconds until 3 probes in a row pass, polled every 100 ms; None if not within `bound`."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        streak_start: float | None = None
        streak = 0
        while loop.time() - start < bound:
            tick = loop.time()
            if await self.probe(pool):
                streak_start = loop.time() if streak == 0 else streak_start
                streak += 1
                if streak == 3:
                    assert streak_start is not None
                    return streak_start - start
            else:
                streak = 0
            await asyncio.sleep(max(0.0, 0.1 - (loop.time() - tick)))
        return None


async def measure_idle(pool: Pool, read_path: str) -> Normal:
    health, read = [], []
    for _ in range(20):
        health.append((await timed(pool.request("GET", "/healthz"), 5))[1])
        read.append((await timed(pool.request("GET", read_path), 5))[1])
    return Normal(percentile(health, 50) or 0.0, percentile(read, 50) or 0.0, read_path)


def holds(phase: Phase, route: str) -> bool:
    """0 errors of any kind, and `route`'s p95 under the target (every route's, in a phase too short to send it)."""
    total = phase.total()
    stats = phase.routes.get(route) or total
    p95 = percentile(stats.latencies, 95)
    return total.errors == 0 and p95 is not None and p95 < P95_TARGET_S


async def search(
    rates: Sequence[float], step: Callable[[float, float], Any], refine: int, step_seconds: float
) -> tuple[list[tuple[float, bool]], float | None]:
    """Step up through `rates` until one fails, then bisect `refine` times between the last pass and that fail."""
    tried: list[tuple[float, bool]] = []
    passed: float | None = None
    failed: float | None = None
    for rate in rates:
        ok = await step(rate, step_seconds)
        tried.append((rate, ok))
        if not ok:
            failed = rate
            break
        passed = rate
    for _ in range(refine):
        if passed is None or failed is None or failed - passed <= max(5.0, 0.1 * passed):
            break
        rate = float(round((passed + failed) / 2))
        ok = await step(rate, step_seconds)
        tried.append((rate, ok))
        passed, failed = (rate, failed) if ok else (passed, rate)
    return tried, passed


@dataclass
class Bench:
    args: argparse.Namespace
    tmp: Path
    out: dict[str, Any] = field(default_factory=dict)
    token: str = field(default_factory=lambda: f"bench-load-{random.getrandbits(64):016x}")

    def driver(self, pool: Pool, on_answer: Any = None) -> Driver:
        return Driver(pool, cap=self.args.max_in_flight, timeout=self.args.timeout, on_answer=on_answer)

    # ------------------------------------------------ 1 and 2: the generator and the ceiling

    async def generator_ceiling(self) -> float:
        """The highest rate at which this generator, against a bare responder that costs far less than the client,
        gets every answer back with p95 < 100 ms from the scheduled time: the criterion the ceiling is held to."""
        server = Server([sys.executable, str(HERE / "ceiling_app.py"), "--raw"], dict(os.environ), self.tmp / "raw.log")
        server.start()
        pool = Pool(HOST, server.port)
        held, share, steps = 0.0, 0.0, []
        try:
            await server.wait_healthy("/ping")
            for rate in GENERATOR_RATES:
                phase = Phase(f"generator {rate}", rate, self.args.generator_seconds)
                await self.driver(pool).run(phase, lambda: ("GET /ping", "GET", "/ping", b""))
                pool.close()
                steps.append(phase.summary())
                if not holds(phase, "GET /ping"):
                    break
                held, share = rate, steps[-1]["generator"]["cpu_share"]
        finally:
            pool.close()
            server.stop()
        self.out["generator"] = {"ceiling": held, "cpu_share_at_ceiling": share, "steps": steps}
        print(f"generator ceiling: {held:g} req/s open-loop against a bare responder ({share:.0%} of a core there)")
        return held

    async def ceiling(self, generator: float) -> float | None:
        workers = workers_of(self.args.serve_args)
        command = [ceiling_python(self.args), str(HERE / "ceiling_app.py"), "--workers", str(workers)]
        server = Server(command, dict(os.environ), self.tmp / "ceiling.log")
        server.start()
        pool = Pool(HOST, server.port)
        steps: list[dict[str, Any]] = []
        try:
            await server.wait_healthy("/ping")

            async def step(rate: float, seconds: float) -> bool:
                phase = Phase(f"ceiling {rate:g}", rate, seconds)
                await self.driver(pool).run(phase, lambda: ("GET /ping", "GET", "/ping", b""))
                pool.close()
                ok = holds(phase, "GET /ping")
                steps.append(phase.summary())
                line = phase.summary()["all"]
                print(
                    f"  ceiling {rate:6g} req/s: p95 {line['p95_ms']} ms, errors {phase.total().errors}"
                    f" -> {'holds' if ok else 'fails'}"
                )
                await asyncio.sleep(1)
                return ok

            # Rates the generator cannot hold would measure the generator (none held: measure anyway).
            rates = [r for r in CEILING_RATES if r <= 0.9 * generator] if generator else list(CEILING_RATES)
            rates = rates or [CEILING_RATES[0]]
            tried, found = await search(rates, step, self.args.refine, self.args.ceiling_step_duration)
        finally:
            pool.close()
            server.stop()
        limited = bool(tried) and all(ok for _, ok in tried) and rates[-1] < CEILING_RATES[-1]
        self.out["ceiling"] = {"rate": found, "generator_limited": limited, "steps": steps, "workers": workers}
        note = " (at the generator's limit: the true ceiling is higher)" if limited else ""
        print(f"ceiling: {'none' if found is None else f'{found:g}'} req/s{note}")
        return found

    # ------------------------------------------------ 3 to 5: Labbook

    async def labbook(self, ceiling: float | None) -> None:
        data_dir = self.tmp / "data"
        data_dir.mkdir()
        server = Server(
            labbook_command(self.args), server_env(self.args, data_dir, self.token), self.tmp / "labbook.log"
        )
        server.start()
        rss = RssSampler(server)
        pool = Pool(HOST, server.port, token=self.token)
        try:
            await server.wait_healthy("/healthz")
            rss.start()
            mix = await seed(pool, self.args.runs, random.Random(self.args.seed))
            normal = await measure_idle(pool, mix.request("GET runs")[2])
            self.out["idle"] = {
                "healthz_p50_ms": ms(normal.health_p50),
                "read_p50_ms": ms(normal.read_p50),
                "rss_mb": round(rss_bytes(server.pid) / 1e6, 1),
                "runs": len(mix.runs),
            }
            print(
                f"labbook: {len(mix.runs)} runs seeded; idle p50 /healthz {ms(normal.health_p50)} ms, "
                f"runs list {ms(normal.read_p50)} ms; RSS {rss_bytes(server.pid) / 1e6:.0f} MB"
            )
            sustained = await self.find_sustained(server, pool, mix, normal, rss)
            await self.overload(server, pool, mix, normal, rss, sustained)
        finally:
            rss.stop()
            pool.close()
            server.stop()
            self.out["server"] = {
                "rss_peak_mb": round(rss.overall / 1e6, 1),
                "restarts": server.restarts,
                "log": server.log_problems(),
            }
        self.summary(ceiling)

    async def mix_phase(self, pool: Pool, mix: Mix, rss: RssSampler, name: str, rate: float, seconds: float) -> Phase:
        rss.reset()
        entryless = mix.entryless
        phase = Phase(name, rate, seconds)
        await self.driver(pool, mix.on_answer).run(phase, mix.next)
        pool.close()
        phase.extra.update(rss_peak_mb=round(rss.peak / 1e6, 1), dumps_without_entry=mix.entryless - entryless)
        report(phase)
        self.out.setdefault("phases", []).append(phase.summary())
        return phase

    async def settle(self, server: Server, pool: Pool, normal: Normal, rss: RssSampler) -> None:
        """Back to idle-normal before the next step; a server that does not get there is killed and restarted."""
        took = await normal.wait(pool, self.args.settle_timeout)
        if took is None:
            print(f"  the server was not back to normal {self.args.settle_timeout:g} s after the step: restarted")
            server.stop(kill=True)
            server.start()
            server.restarts += 1
            pool.close()
            await server.wait_healthy("/healthz")

    async def find_sustained(
        self, server: Server, pool: Pool, mix: Mix, normal: Normal, rss: RssSampler
    ) -> float | None:
        async def step(rate: float, seconds: float) -> bool:
            await self.settle(server, pool, normal, rss)
            ok = holds(await self.mix_phase(pool, mix, rss, f"mix at {rate:g} req/s", rate, seconds), "POST logs")
            print(f"  -> {'holds' if ok else 'fails'} (0 errors and POST logs p95 < 100 ms)")
            return ok

        rates = [float(r) for r in self.args.rates]
        tried, found = await search(rates, step, self.args.refine, self.args.step_duration)
        self.out["search"] = [{"rate": rate, "holds": ok} for rate, ok in tried]
        confirmed = None
        for rate in sorted({r for r, ok in tried if ok and found is not None and r <= found}, reverse=True)[:2]:
            print(f"confirmation at {rate:g} req/s for {self.args.duration:g} s:")
            await self.settle(server, pool, normal, rss)
            phase = await self.mix_phase(pool, mix, rss, f"confirmation at {rate:g} req/s", rate, self.args.duration)
            if holds(phase, "POST logs"):
                confirmed = rate
                break
            print("  -> fails on the longer run")
        self.out["sustained"] = confirmed
        return confirmed

    async def overload(
        self, server: Server, pool: Pool, mix: Mix, normal: Normal, rss: RssSampler, sustained: float | None
    ) -> None:
        base = sustained or min(float(r) for r in self.args.rates)
        rate = self.args.burst_factor * base
        await self.settle(server, pool, normal, rss)
        print(f"overload: {rate:g} req/s ({self.args.burst_factor:g}x {base:g}) for {self.args.burst_seconds:g} s")
        rss.reset()
        entryless = mix.entryless
        phase = Phase(f"overload at {rate:g} req/s", rate, self.args.burst_seconds)
        driver = self.driver(pool, mix.on_answer)
        probes = Pool(HOST, server.port, token=self.token)  # its own connections, not queued behind the burst's
        health: list[bool] = []
        stop = asyncio.Event()
        prober = asyncio.get_running_loop().create_task(_probe_health(probes, health, stop))
        await driver.send(phase, mix.next)
        stop.set()  # the clock of the recovery starts now; the probes still out are counted when they end
        recovery = await normal.wait(probes, self.args.recovery_timeout)
        await prober
        after = await _after(probes, mix)
        await driver.drain()
        pool.close()
        probes.close()
        phase.extra.update(rss_peak_mb=round(rss.peak / 1e6, 1), dumps_without_entry=mix.entryless - entryless)
        report(phase)
        total = phase.total()
        self.out["overload"] = {
            **phase.summary(),
            "share_503": round(total.shed / total.count, 3) if total.count else 0.0,
            "share_other_errors": round((total.errors - total.shed) / total.count, 3) if total.count else 0.0,
            "healthz_answered": sum(health),
            "healthz_probes": len(health),
            "recovery_s": None if recovery is None else round(recovery, 2),
            "recovery_bound_s": self.args.recovery_timeout,
            "after": after,
        }
        if recovery is None:
            print(f"  never back to normal within {self.args.recovery_timeout:g} s: killed")
            server.stop(kill=True)

    # ------------------------------------------------ the summary

    def summary(self, ceiling: float | None) -> None:
        out = self.out
        print("\n== summary ==")
        db = "PostgreSQL" if self.args.database_url else "SQLite"
        print(f"database: {db}; serve args: {self.args.serve_args or '(none)'}")
        print(f"generator ceiling: {out['generator']['ceiling']:g} req/s (open loop, bare responder)")
        if out.get("ceiling"):
            limited = " (at the generator's limit)" if out["ceiling"]["generator_limited"] else ""
            print(f"ceiling (trivial JSON, same stack): {'none' if ceiling is None else f'{ceiling:g}'} req/s{limited}")
        else:
            print("ceiling: skipped")
        sustained = out.get("sustained")
        if sustained is None:
            out["share_of_ceiling"] = None
            print("sustained: no rate tried held (0 errors, POST logs p95 < 100 ms)")
        elif ceiling:
            out["share_of_ceiling"] = round(sustained / ceiling, 2)
            print(f"sustained {sustained:g} req/s = {sustained / ceiling:.2f} of the ceiling {ceiling:g} req/s")
        else:
            out["share_of_ceiling"] = None
            print(f"sustained {sustained:g} req/s (no ceiling measured)")
        over = out["overload"]
        print(
            f"overload at {over['rate']:g} req/s for {over['seconds']:g} s: 503 share {over['share_503']:.2f}, "
            f"other errors {over['share_other_errors']:.2f}, "
            f"/healthz answered {over['healthz_answered']}/{over['healthz_probes']}"
        )
        after = ", ".join(f"{k} {v}" for k, v in over["after"].items())
        if over["recovery_s"] is None:
            print(f"recovery: never back to normal within {over['recovery_bound_s']:g} s (then killed); {after}")
        else:
            print(f"recovery: {over['recovery_s']:.2f} s after the burst stopped; afterwards {after}")
        entryless = sum(p["dumps_without_entry"] for p in [*out["phases"], over])
        print(f"brain dumps answered 201 without an entry: {entryless}")
        server = out["server"]
        print(
            f"server RSS peak: {server['rss_peak_mb']:.0f} MB; restarts: {server['restarts']}; "
            f"trouble lines in its log: {server['log']['lines']}"
        )
        if server["log"]["first"]:
            print(f"  first: {server['log']['first']}")
        if server["log"].get("cause"):
            print(f"  its cause: {server['log']['cause']}")


async def _probe_health(pool: Pool, answers: list[bool], stop: asyncio.Event) -> None:
    """GET /healthz every half second until `stop` is set, each allowed 2 s, then waits for the probes already sent;
    records whether each answered 200."""
    tasks = set()

    async def one() -> None:
        answers.append((await timed(pool.request("GET", "/healthz"), 2))[0] == 200)

    while not stop.is_set():
        task = asyncio.get_running_loop().create_task(one())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)
    if tasks:
        await asyncio.wait(set(tasks))


async def _after(pool: Pool, mix: Mix) -> dict[str, Any]:
    """A normal read and a brain dump once the service is back: their statuses (and the dump's entry)."""
    _, method, path, _ = mix.request("GET runs")
    read, _ = await timed(pool.request(method, path), 10)
    _, method, path, body = mix.request("POST logs")
    try:
        async with asyncio.timeout(10):
            status, payload = await pool.request(method, path, body)
    except (TimeoutError, OSError, EOFError, ValueError):
        return {"GET runs": read, "POST logs": None}
    found = ENTRY_ID_RE.search(payload)
    return {"GET runs": read, "POST logs": status, "entry_id": int(found[1]) if found else None}


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    rates = ",".join(str(r) for r in DEFAULT_RATES)
    parser.add_argument("--database-url", help="a PostgreSQL database to use (and fill) instead of SQLite")
    parser.add_argument("--rates", type=_rates, default=list(DEFAULT_RATES), help=f"req/s steps (default {rates})")
    parser.add_argument("--refine", type=int, default=2, help="bisection steps after the first failing rate")
    parser.add_argument("--step-duration", type=float, default=20, help="seconds per search step")
    parser.add_argument("--duration", type=float, default=60, help="seconds of the confirmation at the rate found")
    parser.add_argument("--ceiling-step-duration", type=float, default=10, help="seconds per ceiling step")
    parser.add_argument("--skip-ceiling", action="store_true", help="do not measure the trivial-endpoint ceiling")
    parser.add_argument("--burst-factor", type=float, default=3, help="overload rate, times the sustained rate")
    parser.add_argument("--burst-seconds", type=float, default=10)
    parser.add_argument("--recovery-timeout", type=float, default=60, help="give up on recovery after this long")
    parser.add_argument(
        "--settle-timeout",
        type=float,
        default=20,
        help="restart the server if a step leaves it slower than normal for this long",
    )
    parser.add_argument("--max-in-flight", type=int, default=2000, help="the generator's cap on open requests")
    parser.add_argument("--timeout", type=float, default=10, help="client timeout (counted as an error)")
    parser.add_argument("--generator-seconds", type=float, default=1.5, help="seconds per generator step")
    parser.add_argument("--runs", type=int, default=300, help="runs to import into the project")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--labbook", help="the labbook console script to serve (default: next to this interpreter)")
    parser.add_argument("--python", help="an interpreter that imports the checkout to serve (with PYTHONPATH)")
    parser.add_argument("--serve-args", default="", help='extra arguments of `labbook serve`, e.g. "--workers 2"')
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="set in the servers' env")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    return parser.parse_args(argv)


def _rates(text: str) -> list[float]:
    return sorted(float(r) for r in text.split(",") if r.strip())


@contextmanager
def more_open_files() -> Iterator[None]:
    """Lift the soft limit on open files to the hard one: every request in flight holds a connection."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="labbook-load-") as folder:
        bench = Bench(args, Path(folder))
        bench.out["config"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
        bench.out["config"].pop("database_url", None)  # it may hold a password
        bench.out["config"]["database"] = "postgresql" if args.database_url else "sqlite"
        generator = await bench.generator_ceiling()
        ceiling = None if args.skip_ceiling else await bench.ceiling(generator)
        await bench.labbook(ceiling)
        return bench.out


def main() -> None:
    args = parse_args()
    try:
        import uvloop

        runner: Callable[[Any], Any] = uvloop.run
    except ImportError:
        runner = asyncio.run
    with more_open_files():
        out = runner(run(args))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
        print(f"figures written to {args.json}")


if __name__ == "__main__":
    main()
