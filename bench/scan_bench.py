"""Benchmark ``lamsach scan`` against ``grep -F -f`` and ``rg -F -f`` on generated Zeek logs.

Generates (seeded, vectorised, cached under bench/out/) a Zeek dns.log and conn.log with planted
hits and lookalikes that must not match, and an index of listed domains, IPs and networks; then
times each tool on the same files and checks lamsach's hits exactly. Usage:

    .venv/bin/python bench/scan_bench.py                 # 10 million records per log
    .venv/bin/python bench/scan_bench.py --records 200000 --grep-records 100000
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

OUT = Path(__file__).resolve().parent / "out"
ROOT = Path(__file__).resolve().parent.parent
CHUNK = 1_000_000
ALPHABET = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz0123456789", dtype=np.uint8)
B62 = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", np.uint8)
LISTED_TLDS = ["com", "net", "org", "info", "xyz", "top", "ru", "cn", "vn", "io"]
BENIGN_TLDS = ["com", "net", "org", "vn", "com.vn", "gov.vn", "edu.vn", "io"]
START_TS = 1_730_000_000.0

DNS_FIELDS = [
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "proto",
    "trans_id",
    "rtt",
    "query",
    "qclass",
    "qclass_name",
    "qtype",
    "qtype_name",
    "rcode",
    "rcode_name",
    "AA",
    "TC",
    "RD",
    "RA",
    "Z",
    "answers",
    "TTLs",
    "rejected",
]
DNS_TYPES = [
    "time",
    "string",
    "addr",
    "port",
    "addr",
    "port",
    "enum",
    "count",
    "interval",
    "string",
    "count",
    "string",
    "count",
    "string",
    "count",
    "string",
    "bool",
    "bool",
    "bool",
    "bool",
    "count",
    "vector[string]",
    "vector[interval]",
    "bool",
]
CONN_FIELDS = [
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "proto",
    "service",
    "duration",
    "orig_bytes",
    "resp_bytes",
    "conn_state",
    "local_orig",
    "local_resp",
    "missed_bytes",
    "history",
    "orig_pkts",
    "orig_ip_bytes",
    "resp_pkts",
    "resp_ip_bytes",
    "tunnel_parents",
]
CONN_TYPES = [
    "time",
    "string",
    "addr",
    "port",
    "addr",
    "port",
    "enum",
    "string",
    "interval",
    "count",
    "count",
    "string",
    "bool",
    "bool",
    "count",
    "string",
    "count",
    "count",
    "count",
    "count",
    "set[string]",
]


def strings(rng: np.random.Generator, n: int, lo: int, hi: int, alphabet: np.ndarray) -> pa.Array:
    """``n`` random strings of length in [lo, hi] built straight into Arrow buffers."""
    lengths = rng.integers(lo, hi + 1, n)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    data = alphabet[rng.integers(0, len(alphabet), int(offsets[-1]))]
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def ipv4_text(values: np.ndarray) -> pa.Array:
    values = values.astype(np.uint32)
    parts = [pa.array((values >> s) & 255).cast(pa.string()) for s in (24, 16, 8, 0)]
    return pc.binary_join_element_wise(*parts, ".")


def fixed6(values: np.ndarray) -> pa.Array:
    """Seconds as Zeek writes them: six decimals."""
    micros = np.round(values * 1e6).astype(np.int64)
    whole = pa.array(micros // 1_000_000).cast(pa.string())
    frac = pc.utf8_lpad(pa.array(micros % 1_000_000).cast(pa.string()), 6, "0")
    return pc.binary_join_element_wise(whole, frac, ".")


def join(tlds: list[str], rng: np.random.Generator, labels: pa.Array) -> pa.Array:
    tld = pa.array(tlds).take(pa.array(rng.integers(0, len(tlds), len(labels))))
    return pc.binary_join_element_wise(labels, tld, ".")


@dataclass
class Index:
    domains: pa.Array
    ips: np.ndarray  # uint32
    ipv6: list[str]
    nets: list[tuple[int, int]]  # (network as int, prefix)

    @property
    def net_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        first = np.array([n for n, _ in self.nets], dtype=np.int64)
        size = np.array([1 << (32 - p) for _, p in self.nets], dtype=np.int64)
        return first, first + size - 1


def make_index(args: argparse.Namespace) -> Index:
    rng = np.random.default_rng(args.seed)
    labels = strings(rng, int(args.domains * 1.01), 8, 16, ALPHABET)
    domains = pc.unique(join(LISTED_TLDS, rng, labels))[: args.domains]
    # Listed IPs in 11-39.x.x.x, networks in their own /16 blocks of 40-99.x.x.x, benign
    # traffic elsewhere: no planted lookalike can fall inside another listed entry.
    ips = np.unique(rng.integers(11 << 24, 40 << 24, int(args.ips * 1.01)).astype(np.uint32))
    ips = rng.permutation(ips)[: args.ips]
    ipv6 = [str(ipaddress.IPv6Address((0x2A0B4000 << 96) + int(i))) for i in range(2000)]
    blocks = rng.choice(np.arange(40 << 8, 100 << 8), size=args.networks, replace=False)
    prefixes = rng.integers(20, 29, args.networks)
    nets = []
    for block, prefix in zip(blocks.tolist(), prefixes.tolist(), strict=True):
        size = 1 << (32 - prefix)
        slot = int(rng.integers(1, (1 << 16) // size - 1))  # never at the block's edges
        nets.append(((block << 16) + slot * size, prefix))
    return Index(domains, ips, ipv6, nets)


def write_lists(index: Index, folder: Path) -> None:
    (folder / "domains.txt").write_text("\n".join(index.domains.to_pylist()) + "\n")
    ips = ipv4_text(index.ips).to_pylist() + index.ipv6
    (folder / "ips.txt").write_text("\n".join(ips) + "\n")
    cidrs = [f"{ipaddress.IPv4Address(n)}/{p}" for n, p in index.nets]
    (folder / "cidrs.txt").write_text("\n".join(cidrs) + "\n")


def build_index(folder: Path) -> float:
    """Compile the lists into bench/out/index.lsidx with lamsach's own index builder."""
    sys.path.insert(0, str(ROOT / "src"))
    from lamsach.indicators.model import Indicator, IndicatorType
    from lamsach.matching.index import IndicatorIndex

    started = time.perf_counter()
    items: list[Indicator] = []
    for name, kind in (("domains.txt", IndicatorType.DOMAIN), ("cidrs.txt", IndicatorType.CIDR)):
        for value in (folder / name).read_text().split():
            items.append(Indicator(kind, value, {"bench"}, {"family:benchbot"}))
    for value in (folder / "ips.txt").read_text().split():
        kind = IndicatorType.IPV6 if ":" in value else IndicatorType.IPV4
        items.append(Indicator(kind, value, {"bench"}, {"family:benchbot"}))
    IndicatorIndex.build(items).save(folder / "index.lsidx")
    return time.perf_counter() - started


def zeek_header(path: str, fields: list[str], types: list[str]) -> bytes:
    lines = [
        "#separator \\x09",
        "#set_separator\t,",
        "#empty_field\t(empty)",
        "#unset_field\t-",
        f"#path\t{path}",
        "#open\t2024-10-27-03-33-20",
        "#fields\t" + "\t".join(fields),
        "#types\t" + "\t".join(types),
    ]
    return ("\n".join(lines) + "\n").encode()


def write_lines(f: object, columns: list[pa.Array]) -> None:
    line = pc.binary_join_element_wise(*columns, "\t")
    line = pc.binary_join_element_wise(line, "", "\n")
    data = line.buffers()[2]
    offsets = np.frombuffer(line.buffers()[1], dtype=np.int32, count=len(line) + 1)
    f.write(memoryview(data)[offsets[0] : offsets[-1]])  # type: ignore[attr-defined]


def const(value: str, n: int) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), [value]).cast(
        pa.string()
    )


@dataclass
class Planted:
    """Lines that must be hits, and lookalike lines that must not."""

    hits: dict[int, str] = field(default_factory=dict)  # line -> kind
    lookalikes: dict[int, str] = field(default_factory=dict)
    domain_hits: set[int] = field(default_factory=set)  # what a substring grep could find


def pick_rows(
    rng: np.random.Generator, n: int, kinds: list[str], each: int
) -> dict[str, np.ndarray]:
    rows = rng.choice(n, size=min(n, each * len(kinds)), replace=False)
    return {kind: rows[i :: len(kinds)] for i, kind in enumerate(kinds)}


def gen_dns(index: Index, n: int, path: Path, seed: int) -> Planted:
    rng = np.random.default_rng(seed + 1)
    planted = Planted()
    benign_labels = strings(rng, 200_000, 4, 12, ALPHABET)
    benign = join(BENIGN_TLDS, rng, pc.binary_join_element_wise("b", benign_labels, ""))
    subs = pa.array(["www", "api", "cdn", "mail", "static", "img", "login", "m"])
    clients = ipv4_text((10 << 24) + rng.integers(1 << 16, 1 << 20, 5000))
    answer_pool = ipv4_text(rng.integers(130 << 24, 160 << 24, 100_000))
    each = max(1, n // 20_000)
    kinds = [
        "exact",
        "subdomain",
        "deep",
        "upper",
        "answer",
        "not-prefix",
        "suffix-extra",
        "answer-outside",
    ]
    rows = pick_rows(rng, n, kinds, each)
    header = zeek_header("dns", DNS_FIELDS, DNS_TYPES)
    header_lines = header.count(b"\n")
    with open(path, "wb") as f:
        f.write(header)
        for start in range(0, n, CHUNK):
            m = min(CHUNK, n - start)
            ts = START_TS + (start + np.arange(m)) * 0.0005
            qi = rng.integers(0, len(benign), m)
            query = benign.take(pa.array(qi))
            sub = subs.take(pa.array(rng.integers(0, len(subs), m)))
            with_sub = rng.random(m) < 0.6
            query = pc.if_else(
                pa.array(with_sub), pc.binary_join_element_wise(sub, query, "."), query
            )
            nanswers = rng.integers(0, 3, m)
            a1 = answer_pool.take(pa.array(rng.integers(0, len(answer_pool), m)))
            a2 = answer_pool.take(pa.array(rng.integers(0, len(answer_pool), m)))
            answers = pc.if_else(
                pa.array(nanswers == 2),
                pc.binary_join_element_wise(a1, a2, ","),
                pc.if_else(pa.array(nanswers == 1), a1, const("-", m)),
            )
            ttls = pc.if_else(
                pa.array(nanswers == 2),
                const("300.000000,300.000000", m),
                pc.if_else(pa.array(nanswers == 1), const("60.000000", m), const("-", m)),
            )
            query, answers = _plant_dns(
                rng, index, rows, start, m, query, answers, planted, header_lines
            )
            qtype = rng.random(m) < 0.8
            nx = nanswers == 0
            cols = [
                fixed6(ts),
                pc.binary_join_element_wise("C", strings(rng, m, 17, 17, B62), ""),
                clients.take(pa.array(rng.integers(0, len(clients), m))),
                pa.array(rng.integers(1024, 65536, m)).cast(pa.string()),
                const("10.0.0.53", m),
                const("53", m),
                const("udp", m),
                pa.array(rng.integers(0, 65536, m)).cast(pa.string()),
                fixed6(rng.random(m) * 0.05),
                query,
                const("1", m),
                const("C_INTERNET", m),
                pc.if_else(pa.array(qtype), const("1", m), const("28", m)),
                pc.if_else(pa.array(qtype), const("A", m), const("AAAA", m)),
                pc.if_else(pa.array(nx), const("3", m), const("0", m)),
                pc.if_else(pa.array(nx), const("NXDOMAIN", m), const("NOERROR", m)),
                const("F", m),
                const("F", m),
                const("T", m),
                const("T", m),
                const("0", m),
                answers,
                ttls,
                const("F", m),
            ]
            write_lines(f, cols)
        f.write(b"#close\t2024-10-27-04-00-00\n")
    return planted


def _plant_dns(
    rng: np.random.Generator,
    index: Index,
    rows: dict[str, np.ndarray],
    start: int,
    m: int,
    query: pa.Array,
    answers: pa.Array,
    planted: Planted,
    header_lines: int,
) -> tuple[pa.Array, pa.Array]:
    """Put the planted values in their rows; only those rows go through Python."""
    new_query: dict[int, str] = {}
    new_answers: dict[int, str] = {}
    first, last = index.net_bounds
    for kind, all_rows in rows.items():
        local = _local(all_rows, start, m).tolist()
        old_answers = answers.take(pa.array(local, pa.int64())).to_pylist() if local else []
        for row, old in zip(local, old_answers, strict=True):
            line = header_lines + start + row + 1
            domain = index.domains[int(rng.integers(0, len(index.domains)))].as_py()
            if kind == "exact":
                new_query[row] = domain
            elif kind == "subdomain":
                new_query[row] = "www." + domain
            elif kind == "deep":
                new_query[row] = "a.b-c.d." + domain
            elif kind == "upper":
                new_query[row] = ("Mail." + domain).upper() + "."
            elif kind == "answer":
                ip = ipaddress.IPv4Address(int(index.ips[int(rng.integers(0, len(index.ips)))]))
                new_answers[row] = f"{ip},{old}" if old and old != "-" else str(ip)
            elif kind == "not-prefix":
                new_query[row] = "not" + domain
            elif kind == "suffix-extra":
                new_query[row] = domain + ".example.org"
            elif kind == "answer-outside":
                j = int(rng.integers(0, len(first)))
                outside = int(first[j]) - 1 if rng.random() < 0.5 else int(last[j]) + 1
                new_answers[row] = str(ipaddress.IPv4Address(outside))
            if kind in ("not-prefix", "suffix-extra", "answer-outside"):
                planted.lookalikes[line] = kind
            else:
                planted.hits[line] = kind
                if kind != "answer":
                    planted.domain_hits.add(line)
    return _replace(query, new_query, m), _replace(answers, new_answers, m)


def _replace(values: pa.Array, new: dict[int, str], m: int) -> pa.Array:
    if not new:
        return values
    mask = np.zeros(m, dtype=bool)
    order = sorted(new)
    mask[order] = True
    return pc.replace_with_mask(values, pa.array(mask), pa.array([new[r] for r in order]))


def _local(rows: np.ndarray, start: int, m: int) -> np.ndarray:
    return rows[(rows >= start) & (rows < start + m)] - start


def gen_conn(index: Index, n: int, path: Path, seed: int) -> Planted:
    rng = np.random.default_rng(seed + 2)
    planted = Planted()
    clients = (10 << 24) + rng.integers(1 << 16, 1 << 20, 5000)
    each = max(1, n // 20_000)
    kinds = ["ip", "net-first", "net-last", "inbound", "below-net", "above-net"]
    rows = pick_rows(rng, n, kinds, each)
    first, last = index.net_bounds
    header = zeek_header("conn", CONN_FIELDS, CONN_TYPES)
    header_lines = header.count(b"\n")
    states = pa.array(["SF", "S0", "REJ", "RSTO", "SH", "OTH"])
    history = pa.array(["ShADadfF", "S", "Sr", "ShADadR", "Dd", "ShAdDaFf"])
    services = pa.array(["-", "dns", "http", "ssl", "-", "ssl"])
    with open(path, "wb") as f:
        f.write(header)
        for start in range(0, n, CHUNK):
            m = min(CHUNK, n - start)
            src = clients[rng.integers(0, len(clients), m)].astype(np.int64)
            dst = rng.integers(130 << 24, 160 << 24, m).astype(np.int64)
            for kind, all_rows in rows.items():
                local = _local(all_rows, start, m)
                if not local.size:
                    continue
                j = rng.integers(0, len(first), local.size)
                if kind == "ip":
                    dst[local] = index.ips[rng.integers(0, len(index.ips), local.size)]
                elif kind == "net-first":
                    dst[local] = first[j]
                elif kind == "net-last":
                    dst[local] = last[j]
                elif kind == "inbound":  # a listed host reaching in: the suspect is the dst
                    src[local], dst[local] = (
                        index.ips[rng.integers(0, len(index.ips), local.size)],
                        src[local],
                    )
                elif kind == "below-net":
                    dst[local] = first[j] - 1
                elif kind == "above-net":
                    dst[local] = last[j] + 1
                target = planted.lookalikes if kind.endswith("-net") else planted.hits
                for row in local.tolist():
                    target[header_lines + start + row + 1] = kind
            ts = START_TS + (start + np.arange(m)) * 0.0003
            state = rng.integers(0, len(states), m)
            orig = rng.integers(0, 5000, m)
            resp = rng.integers(0, 200_000, m)
            cols = [
                fixed6(ts),
                pc.binary_join_element_wise("C", strings(rng, m, 17, 17, B62), ""),
                ipv4_text(src),
                pa.array(rng.integers(1024, 65536, m)).cast(pa.string()),
                ipv4_text(dst),
                pa.array(rng.choice([53, 80, 443, 8080, 22], m)).cast(pa.string()),
                pc.if_else(pa.array(rng.random(m) < 0.8), const("tcp", m), const("udp", m)),
                services.take(pa.array(state)),
                fixed6(rng.random(m) * 30),
                pa.array(orig).cast(pa.string()),
                pa.array(resp).cast(pa.string()),
                states.take(pa.array(state)),
                const("-", m),
                const("-", m),
                const("0", m),
                history.take(pa.array(state)),
                pa.array(orig // 500 + 1).cast(pa.string()),
                pa.array(orig + 40).cast(pa.string()),
                pa.array(resp // 1400 + 1).cast(pa.string()),
                pa.array(resp + 40).cast(pa.string()),
                const("-", m),
            ]
            write_lines(f, cols)
    return planted


@dataclass
class Run:
    """One timed command: wall time, peak memory of its process tree, output."""

    seconds: float
    peak_rss: int
    returncode: int
    stdout: bytes


def timed(command: list[str], env: dict[str, str] | None = None, stdout: Path | None = None) -> Run:
    """Run a command, sampling the RSS of it and its children every 20 ms."""
    sink = open(stdout, "wb") if stdout else subprocess.PIPE  # noqa: SIM115
    started = time.perf_counter()
    proc = psutil.Popen(command, stdout=sink, stderr=subprocess.PIPE, env=env)
    peak = 0
    while proc.poll() is None:
        try:
            tree = [proc, *proc.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.02)
    seconds = time.perf_counter() - started
    out, err = proc.communicate()
    if stdout:
        sink.close()  # type: ignore[union-attr]
    if proc.returncode not in (0, 1):
        sys.stderr.write(err.decode(errors="replace"))
    return Run(seconds, peak, proc.returncode, out or b"")


def grep_lines(path: Path) -> set[int]:
    lines: set[int] = set()
    with open(path, "rb") as f:
        for raw in f:
            number, _, _ = raw.partition(b":")
            lines.add(int(number))
    return lines


def head(path: Path, lines: int, target: Path) -> Path:
    if not target.exists():
        with open(path, "rb") as src, open(target, "wb") as dst:
            for _, raw in zip(range(lines), src, strict=False):
                dst.write(raw)
    return target


def planted_cache(name: str, make: object) -> Planted:
    path = OUT / f"{name}.planted.json"
    if path.exists():
        data = json.loads(path.read_text())
        return Planted(
            {int(k): v for k, v in data["hits"].items()},
            {int(k): v for k, v in data["lookalikes"].items()},
            set(data["domain_hits"]),
        )
    planted: Planted = make()  # type: ignore[operator]
    path.write_text(
        json.dumps(
            {
                "hits": planted.hits,
                "lookalikes": planted.lookalikes,
                "domain_hits": sorted(planted.domain_hits),
            }
        )
    )
    return planted


def row(
    tool: str,
    log: str,
    records: int,
    size: int,
    run: Run,
    cores: int,
    startup: float,
    steady_rate: float | None,
    check: str,
) -> list[str]:
    rate = records / run.seconds
    # On a busy machine the start-up alone can take longer than a short run: say so.
    steady = f"{steady_rate / cores:,.0f}" if steady_rate and steady_rate > 0 else "n/a"
    return [
        tool,
        log,
        f"{records:,}",
        f"{run.seconds:.2f}",
        f"{rate:,.0f}",
        f"{rate / cores:,.0f}",
        f"{startup:.2f}",
        steady,
        f"{size / run.seconds / 1e6:,.0f}",
        f"{run.peak_rss / 2**20:,.0f}",
        check,
    ]


def check_lamsach(hits_file: Path, planted: Planted) -> tuple[bool, str]:
    hits = pq.read_table(hits_file, columns=["line"]) if hits_file.exists() else None
    lines = set(hits.column("line").to_pylist()) if hits is not None else set()
    expected = set(planted.hits)
    missing = expected - lines
    extra = lines - expected
    lookalikes = lines & set(planted.lookalikes)
    ok = not missing and not extra
    text = f"found {len(expected & lines):,}/{len(expected):,}, false {len(extra):,}"
    text += f", lookalikes reported {len(lookalikes):,}"
    return ok, text


def check_grep(out: Path, planted: Planted, limit: int, domain_only: bool) -> str:
    matched = grep_lines(out)
    truth = planted.domain_hits if domain_only else set(planted.hits)
    truth = {n for n in truth if n <= limit}
    everything = {n for n in planted.hits if n <= limit}
    false = matched - everything
    return f"found {len(truth & matched):,}/{len(everything):,}, false {len(false):,}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000_000, help="records per log")
    parser.add_argument("--domains", type=int, default=1_000_000)
    parser.add_argument("--ips", type=int, default=200_000)
    parser.add_argument("--networks", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--grep-records",
        type=int,
        default=1_000_000,
        help="grep and rg read the first N records only (0: all); they are far slower",
    )
    parser.add_argument("--skip-grep", action="store_true")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    tag = f"{args.domains}-{args.ips}-{args.networks}-{args.seed}"
    lists = OUT / f"index-{tag}"
    lists.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    index = make_index(args)
    print(
        f"index lists: {len(index.domains):,} domains, {len(index.ips) + len(index.ipv6):,} IPs,"
        f" {len(index.nets):,} networks ({time.perf_counter() - t0:.1f} s to generate)"
    )
    if not (lists / "cidrs.txt").exists():
        write_lists(index, lists)
    index_file = lists / "index.lsidx"
    if not index_file.exists():
        print(f"index built in {build_index(lists):.1f} s")
    list_size = sum((lists / n).stat().st_size for n in ("domains.txt", "ips.txt", "cidrs.txt"))
    print(f"lists {list_size / 1e6:.1f} MB, index file {index_file.stat().st_size / 1e6:.1f} MB")
    logs = {}
    for name, make in (("dns", gen_dns), ("conn", gen_conn)):
        path = OUT / f"{name}-{args.records}-{args.seed}.log"
        t0 = time.perf_counter()

        def generate(make=make, path=path) -> Planted:  # type: ignore[no-untyped-def]
            return make(index, args.records, path, args.seed)

        fresh = not path.exists()
        planted = planted_cache(path.stem, generate)
        if fresh:
            print(
                f"generated {path.name}: {path.stat().st_size / 1e6:,.0f} MB in "
                f"{time.perf_counter() - t0:.1f} s"
            )
        logs[name] = (path, planted)
    env = dict(os.environ, LC_ALL="C")
    lamsach = str(Path(sys.executable).parent / "lamsach")
    rows = []
    ok = True
    for name, (path, planted) in logs.items():
        size = path.stat().st_size
        hits_file = OUT / f"hits-{name}.parquet"
        hits_file.unlink(missing_ok=True)
        command = [
            lamsach,
            "scan",
            str(path),
            "--ioc",
            str(index_file),
            "--out",
            str(hits_file),
            "--quiet",
            "--workers",
            str(args.workers),
        ]
        empty = OUT / f"empty-{name}.log"
        with open(path, "rb") as src:
            empty.write_bytes(b"".join(src.readline() for _ in range(8)))
        startup = timed([*command[:2], str(empty), *command[3:]]).seconds
        # The rate once started: the same command on the log's first fifth, the difference of
        # the two runs being the time the other four fifths took.
        fifth = args.records // 5
        first = head(path, fifth + 8, OUT / f"{path.stem}.head{fifth}.log")
        short = timed([*command[:2], str(first), *command[3:]]).seconds
        hits_file.unlink(missing_ok=True)
        run = timed(command)
        good, text = check_lamsach(hits_file, planted)
        ok = ok and good and run.returncode == 1
        marginal = (args.records - fifth) / (run.seconds - short) if run.seconds > short else None
        cells = (args.records, size, run, args.workers, startup, marginal, text)
        rows.append(row("lamsach scan", name, *cells))
        if args.skip_grep:
            continue
        limit = args.grep_records or args.records
        header_lines = 8
        part = head(path, limit + header_lines, OUT / f"{path.stem}.head{limit}.log")
        patterns = lists / ("domains.txt" if name == "dns" else "ips.txt")
        for tool, cmd in (
            ("grep -F -f", ["grep", "-F", "-n", "-f"]),
            ("rg -F -f", ["rg", "-F", "-n", "--no-heading", "-f"]),
        ):
            if shutil.which(cmd[0]) is None:
                continue
            out = OUT / f"{tool.split()[0]}-{name}.out"
            startup = timed([*cmd, str(patterns), str(empty)], env=env, stdout=out).seconds
            grun = timed([*cmd, str(patterns), str(part)], env=env, stdout=out)
            text = check_grep(out, planted, limit + header_lines, domain_only=name == "dns")
            steady = limit / (grun.seconds - startup) if grun.seconds > startup else None
            rows.append(row(tool, name, limit, part.stat().st_size, grun, 1, startup, steady, text))
    heads = [
        "tool",
        "log",
        "records",
        "s",
        "rec/s",
        "rec/s/core",
        "start-up s",
        "rec/s/core once started",
        "MB/s",
        "peak MB",
        "exactness",
    ]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(heads)]
    print()
    for line in [heads, *rows]:
        print(
            "  ".join(
                c.rjust(w) if 1 < i < 10 else c.ljust(w)
                for i, (c, w) in enumerate(zip(line, widths, strict=True))
            )
        )
    print(
        f"\nlamsach used {args.workers} worker processes (rec/s/core divides by that); grep "
        "and rg run on one core and, unless --grep-records 0, on the first records only.\n"
        "start-up: the same command on a log holding only the header (process start, index or "
        "pattern loading).\nonce started: lamsach, the records after the first fifth of the "
        "log over the time they added (a run on the first fifth alone gives it); grep and rg, "
        "the records over the time less the start-up.\nexactness: planted hits found / planted; "
        "false = records reported that hold no listed value (grep and rg: substring matches "
        "such as notevil.com, and IPs inside longer IPs); grep and rg cannot see network (CIDR) "
        "hits, nor case variants."
    )
    print("exact" if ok else "NOT EXACT: lamsach missed a planted hit or reported a non-hit")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
