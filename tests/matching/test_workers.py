"""Scan workers are forked from a server that has loaded only what is safe to fork."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lamsach.matching.workers import worker_context


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="threads counted in /proc")
def test_the_fork_server_runs_one_thread_after_its_preload() -> None:
    # A fork copies only the calling thread: a thread of numpy's BLAS, of Arrow's allocator or
    # of polars in the server would be missing, its locks perhaps held, in every worker.
    code = (
        "import os, sys, lamsach.matching.worker_boot; "
        "print(len(os.listdir('/proc/self/task')), 'polars' in sys.modules, "
        "'pyarrow' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "False", "True"]


def test_workers_come_from_the_fork_server_where_there_is_one() -> None:
    ctx = worker_context()
    assert ctx.get_start_method() in ("forkserver", "spawn")
    if sys.platform.startswith("linux"):
        assert ctx.get_start_method() == "forkserver"
