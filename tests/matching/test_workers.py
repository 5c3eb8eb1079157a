"""Scan workers are forked from a server that has loaded only what is safe to fork."""

from __future__ import annotations

import subprocess
import sys

from lamsach.matching.workers import worker_context


def test_the_fork_server_preload_leaves_threaded_libraries_out() -> None:
    # A fork copies only the calling thread: polars and Arrow run thread pools of their own, so
    # the server must not load them (each worker does, after the fork).
    code = (
        "import sys, lamsach.matching.worker_boot; "
        "print(sorted(m for m in ('polars', 'pyarrow') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_workers_come_from_the_fork_server_where_there_is_one() -> None:
    ctx = worker_context()
    assert ctx.get_start_method() in ("forkserver", "spawn")
    if sys.platform.startswith("linux"):
        assert ctx.get_start_method() == "forkserver"
