"""Where scan worker processes come from.

Workers are forked from a server process that has imported the libraries and loaded the
compiled loops once (``worker_boot``), so each starts ready; where the system has no fork server
(Windows), they are spawned afresh. They are never forked from the scanning process itself:
polars and Arrow thread pools do not survive a fork, and the server never starts them.
"""

from __future__ import annotations

import multiprocessing as mp
from typing import Any


def worker_context() -> Any:
    """The multiprocessing context scan workers are started with."""
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["lamsach.matching.worker_boot"])
    return ctx


def prepare_workers() -> None:
    """Start the server workers are forked from now, so that it loads while the caller goes on."""
    if worker_context().get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()
