"""Time lamsach's EVTX reader against python-evtx on a generated Sysmon log.

Writes (seeded, cached under bench/out/) an EVTX file of Sysmon events 3 and 22 with the tests'
EVTX writer, then reads it with ``read_log`` (the ``evtx`` Rust parser, one chunk at a time)
and with python-evtx rendering each record to XML, as Event Viewer would; python-evtx reads
only the first ``--peer-records`` records, being far slower. Both must give the same rows there.

    .venv/bin/python bench/evtx_bench.py [--records 200000] [--peer-records 2000]
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil

from lamsach.logs.formats import ReadStats
from lamsach.logs.reader import read_log

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
PER_CHUNK = 120  # records a 64 KiB chunk holds with these events


def _evtx_files() -> Any:
    """The tests' EVTX helpers (writer, and python-evtx as the peer), loaded by path."""
    if "evtx_files" in sys.modules:
        return sys.modules["evtx_files"]
    spec = importlib.util.spec_from_file_location("evtx_files", ROOT / "tests/logs/evtx_files.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["evtx_files"] = module  # dataclasses look their module up while being made
    spec.loader.exec_module(module)
    return module


def generate(records: int, seed: int) -> Path:
    path = OUT / f"sysmon-{records}-s{seed}.evtx"
    if path.exists():
        return path
    writer = _evtx_files()
    rng = random.Random(seed)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    chunks, chunk = [], []
    for n in range(records):
        when = start + timedelta(seconds=n)
        if rng.random() < 0.5:
            data = [
                ("UtcTime", when.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]),
                ("Protocol", rng.choice(["tcp", "udp"])),
                (
                    "SourceIp",
                    f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
                ),
                ("SourcePort", rng.randrange(1024, 65535)),
                ("DestinationIp", f"{rng.randrange(1, 224)}.{rng.randrange(256)}.0.{n % 250 + 1}"),
                ("DestinationHostname", "-"),
                ("DestinationPort", rng.choice([53, 80, 443, 8080])),
            ]
            event = writer.Event(3, n + 1, when, data)
        else:
            data = [
                ("UtcTime", when.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]),
                ("QueryName", f"h{n}.example{rng.randrange(1000)}.vn"),
                ("QueryStatus", "0"),
                ("QueryResults", f"::ffff:203.0.113.{n % 250 + 1};"),
            ]
            event = writer.Event(22, n + 1, when, data)
        chunk.append(event)
        if len(chunk) == PER_CHUNK:
            chunks.append(chunk)
            chunk = []
    if chunk:
        chunks.append(chunk)
    OUT.mkdir(parents=True, exist_ok=True)
    path.write_bytes(writer.evtx_bytes(chunks))
    return path


def read_lamsach(path: Path, limit: int | None = None) -> tuple[list[dict[str, Any]], float]:
    started = time.process_time()
    rows = []
    for batch in read_log(str(path), "sysmon-evtx", stats=ReadStats(file=str(path))):
        rows += batch.to_pylist()
        if limit is not None and len(rows) >= limit:
            break
    return rows[:limit], time.process_time() - started


def read_python_evtx(path: Path, limit: int) -> tuple[list[dict[str, Any]], float]:
    started = time.process_time()
    rows = _evtx_files().rows_by_python_evtx(path, limit)
    return rows, time.process_time() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--peer-records", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    path = generate(args.records, args.seed)
    size = path.stat().st_size / 1e6
    rows, seconds = read_lamsach(path)
    rss = psutil.Process().memory_info().rss / 2**20
    theirs, peer_seconds = read_python_evtx(path, args.peer_records)
    mine = rows[: len(theirs)]
    fields = [k for k in theirs[0] if k != "time"] if theirs else []
    same = [{k: r[k] for k in fields} for r in mine] == [{k: r[k] for k in fields} for r in theirs]
    print(f"{path.name}: {size:.1f} MB, {args.records:,} records")
    print(f"{'reader':<26}{'records':>10}{'CPU s':>9}{'records/s':>12}")
    print(
        f"{'lamsach (evtx, Rust)':<26}{len(rows):>10,}{seconds:>9.2f}{len(rows) / seconds:>12,.0f}"
    )
    print(
        f"{'python-evtx (XML)':<26}{len(theirs):>10,}{peer_seconds:>9.2f}"
        f"{len(theirs) / peer_seconds:>12,.0f}"
    )
    print(f"peak RSS {rss:.0f} MiB; the first {len(theirs):,} rows agree: {same}")
    return 0 if same and len(rows) == args.records else 1


if __name__ == "__main__":
    sys.exit(main())
