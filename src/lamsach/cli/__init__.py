"""The ``lamsach`` command line: a thin layer over the package's parts (commands in ``app``).

``main`` looks at the arguments before anything heavy is imported: a scan big enough for worker
processes starts their server first, so that it loads its libraries (about a second) while this
process imports its own and reads the indicators.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys

EARLY_WORKERS_BYTES = 64 << 20  # logs this big are scanned by worker processes
# The options of ``lamsach scan`` that take a value (the rest of its arguments are logs).
SCAN_VALUE_OPTIONS = frozenset(
    {"--ioc", "-i", "--format", "-f", "--map", "--option", "--internal", "--allow", "--out", "-o"}
    | {"--workers", "-w"}
)


def main() -> None:
    if big_scan(sys.argv[1:]):
        from lamsach.matching.workers import prepare_workers

        prepare_workers()
    from lamsach.cli.app import app

    try:
        app()
    finally:
        # The command is done (its files closed): spare the exit a last walk of every object
        # (0.06 s with Arrow, polars and numba loaded, a tenth of a small scan).
        gc.freeze()


def big_scan(argv: list[str]) -> bool:
    """Whether the arguments ask for a scan that worker processes will share."""
    if len(argv) < 2 or argv[0] != "scan":
        return False
    workers = os.cpu_count() or 1
    logs: list[str] = []
    args = iter(argv[1:])
    for arg in args:
        name, _, value = arg.partition("=")
        if name in SCAN_VALUE_OPTIONS:
            value = value if value else next(args, "")
            if name in ("--workers", "-w"):
                workers = int(value) if value.isdigit() else workers
        elif arg.startswith("-w") and arg[2:].isdigit():
            workers = int(arg[2:])
        elif not arg.startswith("-"):
            logs.append(arg)
    return workers > 1 and _bytes_at_least(logs, EARLY_WORKERS_BYTES)


def _bytes_at_least(paths: list[str], enough: int, most_entries: int = 10_000) -> bool:
    """Whether the files named, and those in the folders named, hold ``enough`` bytes: counted
    until they do (a folder of many small files is not walked to its end)."""
    total = 0
    seen = 0
    for path in paths:
        if os.path.isfile(path):
            total += os.path.getsize(path)
        elif os.path.isdir(path):
            for folder, _, names in os.walk(path):
                for name in names:
                    seen += 1
                    with contextlib.suppress(OSError):  # gone meanwhile: the scan will say so
                        total += os.path.getsize(os.path.join(folder, name))
                    if total >= enough or seen >= most_entries:
                        return total >= enough
        if total >= enough:
            return True
    return False
