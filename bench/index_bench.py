"""Benchmark the compiled indicator index against a plain Python set matcher and DuckDB.

Generates (seeded) a list file of domains, IPv4 addresses and CIDR networks, one per line, and a
set of distinct look-up values (listed names, subdomains of listed names, look-alikes, random
names; listed addresses, addresses inside listed networks, random addresses). Each engine runs in
its own process so its memory (RSS growth over a process that imported the same libraries, and
the anonymous part of it: the data, without library code paged in) is its own; every engine must
find the same number of hits. Usage:

    .venv/bin/python bench/index_bench.py            # 1,000,000 domains, 200,000 IPs, 5,000 CIDRs
    .venv/bin/python bench/index_bench.py --small    # 50,000 domains, 10,000 IPs: a quick run
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil

ENGINES = ("lamsach", "python-set", "duckdb")
TLDS = ["com", "net", "org", "info", "xyz", "ru", "vn", "com.vn", "io", "top"]


def memory() -> tuple[int, int]:
    """The RSS, and its anonymous part: the data the process made, without the pages of library
    code it read in (on Linux; elsewhere the RSS again)."""
    rss = int(psutil.Process().memory_info().rss)
    try:
        with open("/proc/self/smaps_rollup") as f:
            anon = next(int(line.split()[1]) * 1024 for line in f if line.startswith("Anonymous:"))
    except (OSError, StopIteration):
        anon = rss
    return rss, anon


def grown(base: tuple[int, int]) -> dict[str, int]:
    now = memory()
    return {"rss": now[0] - base[0], "data": now[1] - base[1]}


# --- data --------------------------------------------------------------------------------------


def words(rng: np.random.Generator, n: int, lo: int = 4, hi: int = 14) -> list[str]:
    letters = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz0123456789-", dtype=np.uint8)
    lengths = rng.integers(lo, hi, n)
    raw = letters[rng.integers(0, 36, lengths.sum())].tobytes().decode()
    ends = np.cumsum(lengths)
    return [raw[e - k : e] for e, k in zip(ends.tolist(), lengths.tolist(), strict=True)]


def ipv4s(rng: np.random.Generator, n: int) -> list[str]:
    o = rng.integers(1, 255, (n, 4))
    return [f"{a}.{b}.{c}.{d}" for a, b, c, d in o.tolist()]


def generate(folder: Path, n_domains: int, n_ips: int, n_cidrs: int, n_queries: int, seed: int):
    rng = np.random.default_rng(seed)
    tld = np.array(TLDS)[rng.integers(0, len(TLDS), n_domains)].tolist()
    sub = rng.random(n_domains) < 0.3  # some listed names are themselves subdomains
    prefix = words(rng, n_domains, 2, 6)
    domains = sorted(
        {
            (f"{p}." if s else "") + f"{w}.{t}"
            for p, s, w, t in zip(prefix, sub.tolist(), words(rng, n_domains), tld, strict=True)
        }
    )
    ips = sorted(set(ipv4s(rng, n_ips)))
    prefixes = rng.integers(16, 29, n_cidrs)
    nets = rng.integers(1 << 24, 223 << 24, n_cidrs, dtype=np.int64)
    cidrs = sorted(
        {
            f"{(v >> 24) & 255}.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}/{p}"
            for v, p in zip(
                (nets & ~((1 << (32 - prefixes)) - 1)).tolist(), prefixes.tolist(), strict=True
            )
        }
    )
    list_file = folder / "list.txt"
    list_file.write_text("\n".join(domains + ips + cidrs) + "\n")

    # Look-up values: distinct, so the dedupe of the kernel gives no advantage here.
    q = n_queries
    picks = rng.integers(0, len(domains), q // 10)
    listed = [domains[i] for i in picks[: q // 20]]
    under = [
        f"{w}.{domains[i]}" for w, i in zip(words(rng, q // 20), picks[q // 20 :], strict=True)
    ]
    lookalike = [f"x{domains[i]}" for i in rng.integers(0, len(domains), q // 20)]
    tail = np.array(TLDS)[rng.integers(0, len(TLDS), q)].tolist()
    rest = [f"{a}.{b}.{t}" for a, b, t in zip(words(rng, q), words(rng, q), tail, strict=True)]
    host_q = list(dict.fromkeys(listed + under + lookalike + rest))[:q]
    ip_q = [ips[i] for i in rng.integers(0, len(ips), q // 20)] + ipv4s(rng, q)
    ip_q = list(dict.fromkeys(ip_q))[:q]
    (folder / "hosts.txt").write_text("\n".join(host_q) + "\n")
    (folder / "ips.txt").write_text("\n".join(ip_q) + "\n")
    return list_file


def read_lines(path: Path) -> list[str]:
    return path.read_text().split("\n")[:-1]


# --- engines (each in a child process) ---------------------------------------------------------


def run_lamsach(folder: Path) -> dict[str, Any]:
    import pyarrow as pa

    from lamsach.indicators.model import Indicator, IndicatorType
    from lamsach.matching.index import IndicatorIndex
    from lamsach.matching.kernel import match_batch

    hosts, ips = read_lines(folder / "hosts.txt"), read_lines(folder / "ips.txt")
    host_batch = pa.record_batch(
        [pa.array(hosts), pa.array(np.arange(len(hosts)))], ["host", "line"]
    )
    ip_batch = pa.record_batch([pa.array(ips), pa.array(np.arange(len(ips)))], ["dst_ip", "line"])
    out: dict[str, Any] = {}
    if os.environ.get("BENCH_PHASE") == "build":
        t0 = time.perf_counter()
        indicators = []
        for line in read_lines(folder / "list.txt"):
            if "/" in line:
                kind = IndicatorType.CIDR
            elif line.replace(".", "").isdigit():
                kind = IndicatorType.IPV4
            else:
                kind = IndicatorType.DOMAIN
            indicators.append(Indicator(kind, line, {"list.txt"}))
        t1 = time.perf_counter()
        base = memory()
        index = IndicatorIndex.build(indicators)
        t2 = time.perf_counter()
        index.save(folder / "list.lsidx")
        out.update(read_s=t1 - t0, build_s=t2 - t1, save_s=time.perf_counter() - t2)
        out["index_file"] = (folder / "list.lsidx").stat().st_size
        out["build_rss"] = grown(base)["rss"]
        return out
    base = memory()
    t0 = time.perf_counter()
    index = IndicatorIndex.load(folder / "list.lsidx")
    out["load_s"] = time.perf_counter() - t0
    out.update(grown(base))
    # Warm up, with enough rows that numba's compiled loop is loaded (about 0.4 s, once: small
    # batches are hashed without it).
    match_batch(host_batch.slice(0, 10_000), index)
    t0 = time.perf_counter()
    hits = match_batch(host_batch, index)
    out["host_s"] = time.perf_counter() - t0
    out["host_hits"] = len(set(hits.column("line").to_pylist()))
    t0 = time.perf_counter()
    hits = match_batch(ip_batch, index)
    out["ip_s"] = time.perf_counter() - t0
    out["ip_hits"] = len(set(hits.column("line").to_pylist()))
    out["nbytes"] = index.nbytes()  # with the look-up aids made on first use
    return out


def run_python(folder: Path) -> dict[str, Any]:
    import ipaddress

    hosts, ips = read_lines(folder / "hosts.txt"), read_lines(folder / "ips.txt")
    base = memory()
    t0 = time.perf_counter()
    domains: set[str] = set()
    addresses: set[int] = set()
    networks: dict[int, set[int]] = {}
    for line in read_lines(folder / "list.txt"):
        if "/" in line:
            net = ipaddress.IPv4Network(line)
            networks.setdefault(net.prefixlen, set()).add(int(net.network_address))
        elif line.replace(".", "").isdigit():
            addresses.add(int(ipaddress.IPv4Address(line)))
        else:
            domains.add(line)
    out: dict[str, Any] = {"build_s": time.perf_counter() - t0, **grown(base)}
    t0 = time.perf_counter()
    found = 0
    for host in hosts:
        labels = host.split(".")
        found += any(".".join(labels[i:]) in domains for i in range(len(labels)))
    out.update(host_s=time.perf_counter() - t0, host_hits=found)
    masks = {p: (0xFFFFFFFF << (32 - p)) & 0xFFFFFFFF for p in networks}
    t0 = time.perf_counter()
    found = 0
    for text in ips:
        ip = int(ipaddress.IPv4Address(text))
        found += ip in addresses or any(ip & masks[p] in nets for p, nets in networks.items())
    out.update(ip_s=time.perf_counter() - t0, ip_hits=found)
    return out


def run_duckdb(folder: Path) -> dict[str, Any]:
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads = 1")
    base = memory()
    t0 = time.perf_counter()
    con.execute(
        "CREATE TABLE raw AS SELECT column0 AS v FROM read_csv(?, header=false, "
        "columns={'column0': 'VARCHAR'}, delim='\\t', quote='')",
        [str(folder / "list.txt")],
    )
    con.execute(
        "CREATE MACRO ip4(c) AS (split_part(c, '.', 1)::UBIGINT << 24)"
        " + (split_part(c, '.', 2)::UBIGINT << 16) + (split_part(c, '.', 3)::UBIGINT << 8)"
        " + split_part(c, '.', 4)::UBIGINT"
    )
    con.execute(
        "CREATE TABLE domains AS SELECT v FROM raw WHERE NOT regexp_matches(v, '^[0-9./]+$')"
    )
    con.execute(
        "CREATE TABLE addresses AS SELECT ip4(v) AS ip FROM raw "
        "WHERE regexp_matches(v, '^[0-9.]+$')"
    )
    con.execute(
        "CREATE TABLE nets AS SELECT lo, lo + (1::UBIGINT << (32 - p)) - 1 AS hi FROM ("
        "SELECT ip4(split_part(v, '/', 1)) AS lo, split_part(v, '/', 2)::INT AS p FROM raw "
        "WHERE contains(v, '/'))"
    )
    con.execute("DROP TABLE raw")
    out: dict[str, Any] = {"build_s": time.perf_counter() - t0}
    out.update(grown(base))
    con.execute(
        "CREATE MACRO lines(path) AS TABLE SELECT column0 AS v FROM read_csv(path, header=false, "
        "columns={'column0': 'VARCHAR'}, delim='\\t', quote='')"
    )
    con.execute(
        "CREATE TABLE hq AS SELECT row_number() OVER () AS id, v AS h FROM lines(?)",
        [str(folder / "hosts.txt")],
    )
    con.execute(
        "CREATE TABLE iq AS SELECT row_number() OVER () AS id, v AS a FROM lines(?)",
        [str(folder / "ips.txt")],
    )
    t0 = time.perf_counter()
    (found,) = con.execute(
        "WITH parts AS (SELECT id, string_split(h, '.') AS p FROM hq), "
        "suffixes AS (SELECT id, array_to_string(list_slice(p, i, len(p)), '.') AS s "
        "FROM parts, range(1, len(p) + 1) AS r(i)) "
        "SELECT count(DISTINCT id) FROM suffixes JOIN domains ON s = v"
    ).fetchone()
    out.update(host_s=time.perf_counter() - t0, host_hits=found)
    t0 = time.perf_counter()
    (found,) = con.execute(
        "WITH q AS (SELECT id, ip4(a) AS ip FROM iq) "
        "SELECT count(DISTINCT id) FROM ("
        "SELECT id FROM q JOIN addresses USING (ip) "
        "UNION ALL SELECT id FROM q JOIN nets ON q.ip BETWEEN nets.lo AND nets.hi)"
    ).fetchone()
    out.update(ip_s=time.perf_counter() - t0, ip_hits=found)
    return out


def child(engine: str, folder: Path) -> None:
    # Import and start the libraries every engine could use first (polars' thread pool, Arrow's
    # allocator), so the RSS growth measured is the data, not a library's one-off start-up cost.
    import duckdb
    import polars as pl
    import pyarrow as pa
    import pyarrow.compute as pc

    duckdb.connect().execute("SELECT 42").fetchall()
    pl.Series([f"warm.up{i}" for i in range(100_000)]).hash(seed=1).sum()
    pc.sum(pc.count_substring(pa.array(["warm.up"] * 100_000), pattern="."))
    # And give back what the warm-up freed, so that no engine's data lands in pages it kept.
    pa.default_memory_pool().release_unused()
    if sys.platform == "linux":
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)

    runner = {"lamsach": run_lamsach, "python-set": run_python, "duckdb": run_duckdb}[engine]
    print(json.dumps(runner(folder)))


def spawn(engine: str, folder: Path, phase: str = "") -> dict[str, Any]:
    env = {**os.environ, "BENCH_PHASE": phase}
    cmd = [sys.executable, __file__, "--child", engine, "--folder", str(folder)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"{engine} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def mb(n: float) -> str:
    return f"{n / 2**20:,.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="50,000 domains, 10,000 IPs")
    parser.add_argument("--domains", type=int, default=1_000_000)
    parser.add_argument("--ips", type=int, default=200_000)
    parser.add_argument("--cidrs", type=int, default=5_000)
    parser.add_argument("--queries", type=int, default=500_000, help="distinct values per kind")
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.folder)
        return
    if args.small:
        args.domains, args.ips, args.cidrs, args.queries = 50_000, 10_000, 500, 50_000
    with tempfile.TemporaryDirectory(prefix="lamsach-index-bench-") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        list_file = generate(folder, args.domains, args.ips, args.cidrs, args.queries, args.seed)
        size = list_file.stat().st_size
        lines = sum(1 for _ in list_file.open())
        print(
            f"list file: {lines:,} lines, {mb(size)} MiB; {args.queries:,} host and IP look-ups "
            f"(generated in {time.perf_counter() - t0:.1f} s, seed {args.seed})"
        )
        results: dict[str, dict[str, Any]] = {}
        for engine in args.engines.split(","):
            if engine == "lamsach":
                built = spawn(engine, folder, "build")
                results[engine] = {**built, **spawn(engine, folder)}
            else:
                results[engine] = spawn(engine, folder)
        counts = {k: len(read_lines(folder / f"{k}s.txt")) for k in ("host", "ip")}
        report(results, size, counts)


def report(results: dict[str, dict[str, Any]], size: int, counts: dict[str, int]) -> None:
    head = [
        "engine",
        "build s",
        "load s",
        "hosts/s",
        "IPs/s",
        "RSS MiB",
        "RSS/list",
        "data MiB",
        "hits h/ip",
    ]
    rows = []
    for engine, r in results.items():
        rows.append(
            [
                engine,
                f"{r['build_s']:.2f}",
                f"{r['load_s']:.2f}" if "load_s" in r else "-",
                f"{counts['host'] / r['host_s']:,.0f}",
                f"{counts['ip'] / r['ip_s']:,.0f}",
                mb(r["rss"]),
                f"{r['rss'] / size:.2f}x",
                mb(r["data"]),
                f"{r['host_hits']:,}/{r['ip_hits']:,}",
            ]
        )
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
    for row in [head, *rows]:
        print("  ".join(str(x).rjust(w) for x, w in zip(row, widths, strict=True)))
    lam = results.get("lamsach")
    if lam:
        print(
            f"lamsach: list read into Indicator objects {lam['read_s']:.2f} s, build "
            f"{lam['build_s']:.2f} s, save {lam['save_s']:.2f} s, .lsidx {mb(lam['index_file'])} "
            f"MiB, index arrays {mb(lam['nbytes'])} MiB ({lam['nbytes'] / size:.2f}x the list)"
        )
    hits = {(r["host_hits"], r["ip_hits"]) for r in results.values()}
    print("all engines agree on the hits" if len(hits) == 1 else f"ENGINES DISAGREE: {hits}")


if __name__ == "__main__":
    main()
