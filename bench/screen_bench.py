"""Time the prefilter's compiled pass alone, in this process, on the logs scan_bench.py made.

Prints, per log, the time a line takes in the separator pass and in the screening pass (the
file already read into memory), and for one byte range through ``scan_task`` as a worker runs it
(reading included). For tuning the loops: no worker start-up, no other process. Usage:

    .venv/bin/python bench/scan_bench.py --skip-grep   # once, to make the logs and the index
    .venv/bin/python bench/screen_bench.py             # 1.5 million lines of each log
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from lamsach.logs.formats import zeek_tsv
from lamsach.matching.direction import DEFAULT_INTERNAL
from lamsach.matching.engine import plan_tasks, scan_task
from lamsach.matching.fastpath import FileRange, Screen
from lamsach.matching.prefilter import Prefilter, screen
from lamsach.matching.prefilter_loops import separators

OUT = Path(__file__).resolve().parent / "out"


def per_line(seconds: float, lines: int) -> str:
    return f"{seconds / lines * 1e9:6.0f} ns"


def bench_log(path: Path, prefilter: Prefilter, lines_wanted: int) -> None:
    with open(path, "rb") as f:
        header = zeek_tsv.read_header(f)
    layout = Screen(prefilter).layout(header)
    assert layout is not None
    size = header.size + lines_wanted * 200  # about 170 bytes a DNS line, 135 a conn line
    blocks = [(b.copy(), s, e) for b, s, e, _ in FileRange(str(path), header.size, size).blocks()]
    lines = sum(int(np.count_nonzero(b[s:e] == 10)) for b, s, e in blocks)
    screen(blocks[0][0], blocks[0][1], blocks[0][2], layout, prefilter)  # load the loops
    best_seps = best_all = float("inf")
    room = max(e - s for _, s, e in blocks) // 4 + 64
    out, newlines = np.empty(room, np.int64), np.empty(room + 1, np.int64)
    for _ in range(3):
        started = time.perf_counter()
        for b, s, e in blocks:
            newlines[0] = 1
            separators(b, s, e, layout.separator, out, newlines)
        best_seps = min(best_seps, time.perf_counter() - started)
        started = time.perf_counter()
        for b, s, e in blocks:
            screen(b, s, e, layout, prefilter)
        best_all = min(best_all, time.perf_counter() - started)
    tasks, _ = plan_tasks([str(path)], parts=8)
    range_lines = range_time = 0.0
    for task in tasks[:2]:
        started = time.perf_counter()
        result = scan_task(task, None, DEFAULT_INTERNAL, None, None, Screen(prefilter, 1 << 30))
        range_time, range_lines = time.perf_counter() - started, result.lines
    print(
        f"{path.name:32s} {lines:>10,} lines  separators {per_line(best_seps, lines)}  "
        f"whole pass {per_line(best_all, lines)}  a range through scan_task "
        f"{per_line(range_time, int(range_lines))} a line"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_500_000, help="lines of each log")
    args = parser.parse_args()
    indexes = sorted(OUT.glob("index-*/index.lsidx"))
    made = [p for p in sorted(OUT.glob("*-*.log")) if ".head" not in p.name]
    logs = [p for kind in ("dns", "conn") for p in made if p.name.startswith(f"{kind}-")][:2]
    if not indexes or not logs:
        print("run bench/scan_bench.py first: it makes the logs and the index", file=sys.stderr)
        return 1
    prefilter = Prefilter.stored(indexes[0])
    if prefilter is None:
        print(f"{indexes[0]} holds no prefilter: delete it and run scan_bench.py", file=sys.stderr)
        return 1
    for log in logs:
        bench_log(log, prefilter, args.lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
