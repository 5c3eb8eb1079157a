"""Load benchmark of the campaign portal: many unit officers saving and submitting at once.

The portal runs in a second process (``lamsach serve`` on a free loopback port) on a fresh
PostgreSQL database holding a province of 10,000 units (campaign/demo.py's load tree). Here, in
this process, httpx async clients play the officers: each opens its unit's report, saves figures
a few times and submits it; two coordinators look at the dashboard all along and send some
submitted reports back, so their officers edit and submit again. Afterwards the submissions are
counted in the database (every 200 answer to a submit must be there, none more) and the p95
latency of the dashboard is reported, under load and quiet, next to its JSON peer (the
completeness API) so the cost of rendering the page shows. Usage:

    .venv/bin/python bench/portal_load.py            # 10,000 units, 200 officers, 60 seconds
    .venv/bin/python bench/portal_load.py --quick    # 1,000 units, 20 officers, 10 seconds
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

PG_ADMIN = os.environ.get("LAMSACH_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
PASSWORD = "lamsach2022"


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    failures: Counter[str] = field(default_factory=Counter)
    failure_samples: list[str] = field(default_factory=list)
    submitted_ok: int = 0
    returned_ok: int = 0

    def record(self, kind: str, seconds: float, response: httpx.Response | None) -> bool:
        self.latencies[kind].append(seconds)
        if response is not None and response.is_success:
            return True
        status = response.status_code if response is not None else "transport"
        self.failures[f"{kind} {status}"] += 1
        if len(self.failure_samples) < 5:
            body = response.text[:200] if response is not None else ""
            self.failure_samples.append(f"{kind} {status} {body}")
        return False


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))
    return ordered[index]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- set-up ------------------------------------------------------------------------------------


def create_database() -> tuple[str, str]:
    name = f"lamsach_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return name, f"{base}/{name}"


def drop_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def load_tree(url: str, units: int, officers: int) -> tuple[int, str, list[tuple[str, int]], int]:
    from lamsach.campaign.demo import create_load_tree
    from lamsach.storage.db import engine_for_url, make_session_factory, session_scope
    from lamsach.storage.migrate import upgrade_url

    upgrade_url(url)
    engine = engine_for_url(url)
    try:
        with session_scope(make_session_factory(engine)) as db:
            info = create_load_tree(db, units=units, officers=officers, password=PASSWORD)
    finally:
        engine.dispose()
    return info.campaign_id, info.coordinator, info.officers, info.units


def count_submissions(url: str, campaign_id: int) -> dict[str, int]:
    """What the database holds after the run (the reports the load tree did not pre-fill)."""
    plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain) as conn:
        events = conn.execute(
            "SELECT e.action, count(*) FROM report_events e JOIN reports r ON r.id = e.report_id"
            " WHERE r.campaign_id = %s GROUP BY e.action",
            (campaign_id,),
        ).fetchall()
        changes = conn.execute(
            "SELECT count(*) FROM value_changes c JOIN reports r ON r.id = c.report_id"
            " WHERE r.campaign_id = %s",
            (campaign_id,),
        ).fetchone()
    found = {str(action): int(count) for action, count in events}
    found["value_changes"] = int(changes[0]) if changes else 0
    return found


def start_portal(url: str, port: int, data_dir: Path, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "LAMSACH_DATABASE_URL": url, "LAMSACH_DATA_DIR": str(data_dir)}
    command = [
        sys.executable,
        "-m",
        "lamsach",
        "serve",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    log = (data_dir / "portal.log").open("wb")
    return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)


async def wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(600):
            if process.poll() is not None:
                raise SystemExit("the portal process ended; see portal.log")
            try:
                if (await client.get(base + "/login")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("the portal did not start")


async def token_for(client: httpx.AsyncClient, username: str) -> str:
    response = await client.post(
        "/api/auth/token", json={"username": username, "password": PASSWORD}
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


# --- the simulated people ----------------------------------------------------------------------


def figures(rng: random.Random) -> dict[str, int | str]:
    total = rng.randint(5, 400)
    scanned = rng.randint(0, total)
    infected = rng.randint(0, scanned)
    malicious = rng.randint(0, 20)
    orgs = rng.randint(1, 60)
    return {
        "unit_name": "Đơn vị thử tải",
        "assessment": "Đã triển khai chiến dịch, rà quét và bóc gỡ mã độc.",
        "orgs_informed": orgs,
        "units_deployed": rng.randint(0, orgs),
        "computers_total": total,
        "computers_antivirus": rng.randint(0, total),
        "computers_scanned": scanned,
        "computers_infected": infected,
        "computers_cleaned": rng.randint(0, infected),
        "devices_malicious": malicious,
        "devices_handled": rng.randint(0, malicious),
        "awareness_activities": rng.randint(0, 30),
        "people_reached": rng.randint(0, 5000),
    }


async def timed(
    stats: Stats, kind: str, call: asyncio.Future[httpx.Response] | object
) -> httpx.Response | None:
    started = time.perf_counter()
    try:
        response: httpx.Response | None = await call  # type: ignore[misc]
    except httpx.HTTPError:
        response = None
    stats.record(kind, time.perf_counter() - started, response)
    return response


async def officer(
    client: httpx.AsyncClient, path: str, stop: float, stats: Stats, seed: int
) -> None:
    rng = random.Random(seed)
    while time.monotonic() < stop:
        report = await timed(stats, "open report", client.get(path))
        if report is None or not report.is_success:
            await asyncio.sleep(0.5)
            continue
        body = report.json()
        if body["status"] not in ("draft", "returned"):
            # Submitted and waiting: look at the task list now and then, like people do.
            await asyncio.sleep(rng.uniform(0.5, 2.0))
            await timed(stats, "tasks", client.get("/api/tasks"))
            continue
        revision = body["revision"]
        for _ in range(rng.randint(1, 3)):
            await asyncio.sleep(rng.uniform(0.2, 1.0))  # typing
            saved = await timed(
                stats, "save", client.put(path, json={"values": figures(rng), "revision": revision})
            )
            if saved is None or not saved.is_success:
                break
            revision = saved.json()["revision"]
        if time.monotonic() >= stop:
            break
        submitted = await timed(stats, "submit", client.post(path + "/submit"))
        if submitted is not None and submitted.is_success:
            stats.submitted_ok += 1


async def coordinator(
    client: httpx.AsyncClient, campaign: int, stop: float, stats: Stats, returns: set[int]
) -> None:
    """Watches the dashboard; sends back a few of the officers' submitted reports if ``returns``."""
    rng = random.Random(campaign)
    while time.monotonic() < stop:
        await timed(stats, "dashboard page", client.get(f"/campaigns/{campaign}"))
        data = await timed(
            stats,
            "completeness api",
            client.get(f"/api/campaigns/{campaign}/completeness?status=submitted"),
        )
        if returns and data is not None and data.is_success:
            recent = [u for u in data.json()["units"] if u["unit_id"] in returns]
            for unit in rng.sample(recent, min(3, len(recent))):
                path = f"/api/campaigns/{campaign}/units/{unit['unit_id']}/report/return"
                response = await timed(
                    stats,
                    "return",
                    client.post(path, json={"comment": "Đề nghị rà soát lại số liệu."}),
                )
                if response is not None and response.is_success:
                    stats.returned_ok += 1
        await asyncio.sleep(rng.uniform(0.5, 1.5))


async def quiet_dashboard(client: httpx.AsyncClient, campaign: int, rounds: int) -> Stats:
    stats = Stats()
    for _ in range(rounds):
        await timed(stats, "dashboard page", client.get(f"/campaigns/{campaign}"))
        await timed(
            stats, "completeness api", client.get(f"/api/campaigns/{campaign}/completeness")
        )
    return stats


async def run(args: argparse.Namespace, url: str, data_dir: Path) -> dict[str, object]:
    started = time.perf_counter()
    campaign, coordinator_name, officers, units = load_tree(url, args.units, args.officers)
    setup_seconds = time.perf_counter() - started
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = start_portal(url, port, data_dir, args.workers)
    try:
        await wait_ready(base, process)
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        timeout = httpx.Timeout(120.0)
        clients: list[httpx.AsyncClient] = []
        async with httpx.AsyncClient(base_url=base, timeout=timeout) as login_client:
            semaphore = asyncio.Semaphore(8)

            async def login(name: str) -> str:
                async with semaphore:
                    return await token_for(login_client, name)

            tokens = await asyncio.gather(*(login(name) for name, _ in officers))
            boss_token = await token_for(login_client, coordinator_name)
        for token in tokens:
            clients.append(
                httpx.AsyncClient(
                    base_url=base,
                    timeout=timeout,
                    limits=limits,
                    headers={"authorization": f"Bearer {token}"},
                )
            )
        bosses = [
            httpx.AsyncClient(
                base_url=base, timeout=timeout, headers={"authorization": f"Bearer {boss_token}"}
            )
            for _ in range(2)
        ]
        officer_units = {unit for _, unit in officers}
        stats = Stats()
        stop = time.monotonic() + args.duration
        load_started = time.perf_counter()
        await asyncio.gather(
            *(
                officer(client, f"/api/campaigns/{campaign}/units/{unit}/report", stop, stats, i)
                for i, (client, (_, unit)) in enumerate(zip(clients, officers, strict=True))
            ),
            *(
                coordinator(boss, campaign, stop, stats, officer_units if i == 0 else set())
                for i, boss in enumerate(bosses)
            ),
        )
        load_seconds = time.perf_counter() - load_started
        quiet = await quiet_dashboard(bosses[0], campaign, args.quiet_rounds)
        for client in [*clients, *bosses]:
            await client.aclose()
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    database = count_submissions(url, campaign)
    return {
        "stats": stats,
        "quiet": quiet,
        "database": database,
        "units": units,
        "officers": len(officers),
        "load_seconds": load_seconds,
        "setup_seconds": setup_seconds,
    }


def report(args: argparse.Namespace, result: dict[str, object]) -> bool:
    stats: Stats = result["stats"]  # type: ignore[assignment]
    quiet: Stats = result["quiet"]  # type: ignore[assignment]
    database: dict[str, int] = result["database"]  # type: ignore[assignment]
    seconds: float = result["load_seconds"]  # type: ignore[assignment]
    total = sum(len(v) for v in stats.latencies.values())
    print(
        f"\nportal load: {result['units']:,} units in the campaign, {result['officers']} officers"
        f" + 2 coordinators for {seconds:.0f} s against PostgreSQL, {args.workers} portal"
        f" worker process(es) (tree built in {result['setup_seconds']:.1f} s)"
    )
    print(f"requests: {total:,} ({total / seconds:.0f}/s), failed: {sum(stats.failures.values())}")
    print(f"{'request':<20}{'count':>8}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
    for label, source in (("", stats), (" (quiet)", quiet)):
        for kind, values in sorted(source.latencies.items()):
            print(
                f"{kind + label:<20}{len(values):>8}{statistics.median(values) * 1000:>10.0f}"
                f"{percentile(values, 0.95) * 1000:>10.0f}{max(values) * 1000:>10.0f}"
            )
    print(
        f"submissions answered 200: {stats.submitted_ok}; in the database: "
        f"{database.get('submitted', 0)} submitted events"
    )
    print(
        f"returns answered 200: {stats.returned_ok}; in the database: "
        f"{database.get('returned', 0)} returned events; value changes kept: "
        f"{database.get('value_changes', 0):,}"
    )
    for sample in stats.failure_samples:
        print("failure:", sample)
    lost = stats.submitted_ok != database.get("submitted", 0)
    returns_lost = stats.returned_ok != database.get("returned", 0)
    ok = not stats.failures and not lost and not returns_lost
    print(
        "RESULT:",
        "ok, no request failed and no submission lost" if ok else "FAILED",
        dict(stats.failures) if stats.failures else "",
    )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 units, 20 officers, 10 s")
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--officers", type=int, default=200)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--quiet-rounds", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2, help="portal worker processes")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()
    if args.quick:
        args.units, args.officers, args.duration, args.quiet_rounds = 1000, 20, 10.0, 5
    name, url = create_database()
    try:
        with tempfile.TemporaryDirectory(prefix="lamsach-bench-") as folder:
            result = asyncio.run(run(args, url, Path(folder)))
            ok = report(args, result)
            if not ok:
                log = (Path(folder) / "portal.log").read_text(errors="replace").splitlines()
                print("last lines of the portal's log:", *log[-40:], sep="\n")
    finally:
        if not args.keep:
            drop_database(name)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
