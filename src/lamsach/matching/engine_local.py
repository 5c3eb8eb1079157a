"""The local engine: run scan tasks on a pool of worker processes, one per core by default.

Each worker loads the index once from its file and calls the kernel on its batches; results
come back in task order, so the output does not depend on the number of workers. Workers are
forked from a server process that has the libraries loaded (see ``workers``).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import queue
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from multiprocessing.pool import Pool
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from lamsach.logs.formats import ReadStats, zeek_tsv
from lamsach.logs.reader import STDIN, is_compressed
from lamsach.matching.engine import (
    Matcher,
    PlanError,
    Progress,
    ScanTask,
    TaskResult,
    match_handed,
    merge_stats,
    scan_task,
    shift_lines,
)
from lamsach.matching.workers import worker_context

if TYPE_CHECKING:
    from lamsach.matching.fastpath import Screen

# Below this much data, starting worker processes (about a second each) costs more than it saves.
INLINE_BYTES = 32 << 20
COMPRESSION_RATIO = 8  # a compressed file counts as this many times its size
# A file also costs a fixed time, whatever its size (opening and detecting it, the set-up of its
# reader's and the kernel's work on each batch: about 10 ms): counted as this much data, so that
# a folder of hundreds of small logs is shared among the workers too.
FILE_BYTES = 1 << 20
# Below this much data read in this process, loading the prefilter's compiled loops costs more
# than the prefilter saves.
SCREEN_MIN_BYTES = 16 << 20
# Passed lines a worker's task hands back to the parent to read and match, at most; past this,
# the worker loads the index and matches them itself.
HAND_BACK_BYTES = 4 << 20

# State of a worker process, set once when it starts.
_WORKER: dict[str, Any] = {}


def default_matcher() -> Matcher:
    from lamsach.matching.kernel import match_batch

    return match_batch


def _init_worker(
    index_path: str,
    internal: Any,
    matcher: Matcher | None,
    progress: Any,
    screen: Screen | None,
) -> None:
    # Arrow and polars would start their own threads in every process: one core, one thread.
    os.environ["POLARS_MAX_THREADS"] = "1"
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    if isinstance(internal, list):
        from lamsach.matching.direction import InternalNetworks

        internal = InternalNetworks(internal)
    # The index is loaded (about half a second) only when a batch must be matched here: the lines
    # a screened task passes on go back to the parent, which loads the index once for all.
    _WORKER.update(index_path=index_path, internal=internal, matcher=matcher, progress=progress)
    _WORKER["screen"] = screen


def _match_in_worker(batch: pa.RecordBatch, _index: Any, internal: Any) -> pa.Table:
    if "index" not in _WORKER:
        from lamsach.matching.index import IndicatorIndex

        _WORKER["index"] = IndicatorIndex.load(_WORKER["index_path"])
        _WORKER["matcher"] = _WORKER["matcher"] or default_matcher()
    matched: pa.Table = _WORKER["matcher"](batch, _WORKER["index"], internal)
    return matched


def _report(nbytes: int, records: int, hits: int) -> None:
    channel = _WORKER.get("progress")
    if channel is not None:
        channel.put((nbytes, records, hits))


def _run_task(task: ScanTask) -> TaskResult:
    return scan_task(task, None, _WORKER["internal"], _match_in_worker, _report, _WORKER["screen"])


@dataclass
class ScanReport:
    """What a whole scan read, file by file, and what it could not read."""

    files: dict[str, ReadStats] = field(default_factory=dict)
    errors: list[PlanError] = field(default_factory=list)
    records: int = 0
    hits: int = 0

    @property
    def skipped(self) -> int:
        return sum(s.skipped_total for s in self.files.values())

    @property
    def unreadable(self) -> int:
        return sum(s.unreadable_total for s in self.files.values())

    @property
    def ignored(self) -> int:
        return sum(s.ignored_total for s in self.files.values())


def run_scan(
    tasks: list[ScanTask],
    index: Any,
    internal: Any,
    *,
    workers: int | None = None,
    index_path: str | Path | None = None,
    matcher: Matcher | None = None,
    on_hits: Callable[[pa.Table], None] | None = None,
    on_progress: Progress | None = None,
    report: ScanReport | None = None,
    prefilter: bool = True,
) -> ScanReport:
    """Scan every task, calling ``on_hits`` with each task's hits in task order.

    ``index`` may be None when ``index_path`` names its file: it is then loaded only by the
    processes that need it. ``prefilter``: screen Zeek TSV logs first (same results, faster).
    """
    report = report if report is not None else ScanReport()
    workers = max(1, workers or os.cpu_count() or 1)
    line_offsets: dict[str, int] = {}
    alone = workers == 1 or len(tasks) == 1 or _work_bytes(tasks) < INLINE_BYTES
    inline = [t for t in tasks if alone or t.path == STDIN]
    inline_orders = {t.order for t in inline}
    pooled = [t for t in tasks if t.order not in inline_orders]
    if index is None and index_path is None:
        raise ValueError("run_scan needs an index or its file")
    wanted = _IndexOnDemand(index, index_path)

    def collect(result: TaskResult) -> None:
        task = result.task
        if result.handed is not None:
            match_handed(result, wanted.get(), internal, local_matcher)
        if task.is_range:
            first = task.header.lines if task.header is not None else 0
            offset = line_offsets.get(task.path, first)
            shift_lines(result, offset)
            line_offsets[task.path] = offset + result.lines
        stats = report.files.get(task.path)
        if stats is None:
            report.files[task.path] = result.stats
        elif stats is not result.stats:
            merge_stats(stats, result.stats)
        if result.error:
            report.errors.append(PlanError(task.path, result.error))
        report.records += result.stats.records
        report.hits += result.hits.num_rows
        if on_hits is not None and result.hits.num_rows:
            on_hits(result.hits)

    def local_matcher(batch: pa.RecordBatch, index: Any, internal: Any) -> pa.Table:
        # The kernel (and polars with it) is imported when a batch is first matched here.
        matched: pa.Table = (matcher or default_matcher())(batch, index, internal)
        return matched

    screen = None
    if (
        prefilter
        and any(t.format == zeek_tsv.NAME for t in tasks)
        and (pooled or _work_bytes(inline) >= SCREEN_MIN_BYTES)
    ):
        screen = _screen(wanted)
    if not pooled:
        for task in inline:
            collect(scan_task(task, wanted.get(), internal, local_matcher, on_progress, screen))
        return report
    temporary = None
    if index_path is None:
        handle, temporary = tempfile.mkstemp(suffix=".lsidx")
        os.close(handle)
        index.save(temporary)
        index_path = temporary
    try:
        for result in _pool_results(
            pooled,
            inline,
            wanted,
            str(index_path),
            internal,
            matcher,
            workers,
            local_matcher,
            on_progress,
            screen,
        ):
            collect(result)
    finally:
        wanted.settle()
        if temporary is not None:
            os.unlink(temporary)
    return report


@dataclass
class _IndexOnDemand:
    """The index of a scan, loaded from its file the first time this process needs it."""

    index: Any
    path: str | Path | None
    _loading: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _loader: threading.Thread | None = field(default=None, repr=False)

    def get(self) -> Any:
        with self._loading:
            if self.index is None:
                from lamsach.matching.index import IndicatorIndex

                self.index = IndicatorIndex.load(self.path)  # type: ignore[arg-type]
        return self.index

    def load_meanwhile(self, matcher: Matcher | None) -> None:
        """Load the index and the kernel in a thread, while this process waits for its workers.

        The parent of screening workers matches the lines they hand back. Loaded when the first
        come back, the index and polars took half a second of a core the workers were using;
        loaded now, they take it while the workers' server starts, when the core is idle. A
        failure is left to ``get``, which tries again and raises.
        """
        if self.index is not None:
            return

        def load() -> None:
            with contextlib.suppress(Exception):
                self.get()
                if matcher is None:
                    default_matcher()

        self._loader = threading.Thread(target=load, name="lamsach-index", daemon=True)
        self._loader.start()

    def settle(self) -> None:
        """Wait for a load begun by ``load_meanwhile``: the process must not end inside it."""
        if self._loader is not None:
            self._loader.join()


def _screen(wanted: _IndexOnDemand) -> Screen:
    """The prefilter: as stored in the index file when there is one (made when it was saved),
    so that screening starts without loading the index; else made from the index."""
    from lamsach.matching.fastpath import Screen
    from lamsach.matching.prefilter import Prefilter

    stored = Prefilter.stored(wanted.path) if wanted.index is None and wanted.path else None
    return Screen(stored) if stored is not None else Screen.of(wanted.get())


def _work_bytes(tasks: list[ScanTask]) -> int:
    total = 0
    for task in tasks:
        if task.is_range:
            total += task.end - task.start
        elif task.path == STDIN:
            return INLINE_BYTES  # unknown: never small
        else:
            size = os.path.getsize(task.path)
            total += FILE_BYTES + (size * COMPRESSION_RATIO if is_compressed(task.path) else size)
    return total


def _pool_results(
    pooled: list[ScanTask],
    inline: list[ScanTask],
    wanted: _IndexOnDemand,
    index_path: str,
    internal: Any,
    matcher: Matcher | None,
    workers: int,
    local_matcher: Matcher,
    on_progress: Progress | None,
    screen: Screen | None,
) -> Iterator[TaskResult]:
    ctx = worker_context()
    channel = ctx.Queue() if on_progress is not None else None
    # Internal networks travel as text: the object holds a cache that does not pickle.
    networks = getattr(internal, "networks", None)
    portable = [str(n) for n in networks] if networks is not None else internal
    handing = replace(screen, hand_back=HAND_BACK_BYTES) if screen is not None else None
    if handing is not None:
        wanted.load_meanwhile(matcher)
    initargs = (index_path, portable, matcher, channel, handing)
    pool: Pool = ctx.Pool(min(workers, len(pooled)), _init_worker, initargs)
    try:
        pending = pool.imap(_run_task, pooled, chunksize=1)
        # Standard input cannot be read from a child process: the parent reads it meanwhile.
        small = screen if screen is not None and _work_bytes(inline) >= SCREEN_MIN_BYTES else None
        for task in inline:
            yield scan_task(task, wanted.get(), internal, local_matcher, on_progress, small)
        for _ in pooled:
            while True:
                try:
                    result = pending.next(timeout=0.1)
                    break
                except mp.TimeoutError:
                    _drain(channel, on_progress)
            _drain(channel, on_progress)
            yield result
        pool.close()
    finally:
        pool.terminate()
        pool.join()
    _drain(channel, on_progress)


def _drain(channel: Any, on_progress: Progress | None) -> None:
    if channel is None or on_progress is None:
        return
    while True:
        try:
            nbytes, records, hits = channel.get_nowait()
        except queue.Empty:
            return
        on_progress(nbytes, records, hits)
