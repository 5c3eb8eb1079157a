"""``lamsach scan``: find the devices that talk to listed indicators in network logs."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

from lamsach.logs.reader import STDIN, LogReadError, check_options, expand_paths
from lamsach.matching.output import HitWriter, OutputError, output_format
from lamsach.matching.summary import HitSummary, listed

if TYPE_CHECKING:
    from lamsach.matching.engine_local import ScanReport

EXIT_CLEAN, EXIT_HITS, EXIT_ERROR = 0, 1, 2
INDEX_SUFFIX = ".lsidx"
SHOWN_HITS = 20  # hits printed on the terminal when no --out file is given
MAX_FILE_ROWS = 40  # files listed one by one in the summary
RANGES_PER_WORKER = 4


class RateColumn(ProgressColumn):
    """Records per second and hits so far."""

    def render(self, task: Task) -> Text:
        records = task.fields.get("records", 0)
        elapsed = task.elapsed or 0.0
        rate = records / elapsed if elapsed > 0 else 0.0
        return Text(f"{records:,} rec {rate:,.0f} rec/s {task.fields.get('hits', 0):,} hits")


def _fail(console: Console, message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(EXIT_ERROR)


def _is_index(path: str) -> bool:
    from lamsach.matching.index_file import MAGIC

    try:
        with open(path, "rb") as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def load_indicators(iocs: list[str], allow: list[str], console: Console) -> tuple[Any, str | None]:
    """The index to scan with, or None and its file when one index file is used as it is."""
    for path in iocs + allow:
        if not Path(path).exists():
            raise LogReadError(f"{path}: no such file")
    indexes = [p for p in iocs if _is_index(p)]
    lists = [p for p in iocs if p not in indexes]
    if len(indexes) == 1 and not lists and not allow:
        from lamsach.matching.index_file import check_index_file

        check_index_file(indexes[0])  # a cut file is said at once, not by every worker
        return None, indexes[0]  # loaded by the processes that scan, when they need it
    from lamsach.indicators.guards import read_allow_list
    from lamsach.matching.index import IndicatorIndex

    merged: dict[Any, Any] = {}

    def add(indicator: Any) -> None:
        known = merged.get(indicator.key)
        if known is None:
            merged[indicator.key] = indicator
        else:
            known.merge(indicator)

    for path in indexes:
        for indicator in IndicatorIndex.load(path).indicators():
            add(indicator)
    if lists:
        from lamsach.indicators.importer import import_paths

        result = import_paths(lists)
        for indicator in result.indicators:
            add(indicator)
        rejected = len(result.rejects)
        if rejected:
            console.print(f"[yellow]{rejected:,} list entries rejected while importing[/yellow]")
    allowed = [a for path in allow for a in read_allow_list(path)]
    return IndicatorIndex.build(merged.values(), allowed), None


def _options(mapping: str | None, option: list[str]) -> dict[str, str]:
    options: dict[str, str] = {}
    for item in option:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"--option wants KEY=VALUE, got {item!r}")
        options[key.strip()] = value.strip()
    if mapping:
        options["map"] = mapping
    return options


def scan(
    logs: list[str] = typer.Argument(..., help="Log files or folders; - for standard input."),
    ioc: list[str] = typer.Option(
        ..., "--ioc", "-i", help="Compiled index (.lsidx) or indicator list; repeatable."
    ),
    log_format: str | None = typer.Option(
        None, "--format", "-f", help="Read every log in this format instead of detecting it."
    ),
    mapping: str | None = typer.Option(
        None, "--map", help="Column mapping for generic CSV logs: time=ts,src_ip=client,..."
    ),
    option: list[str] = typer.Option(
        [], "--option", help="Format setting KEY=VALUE (e.g. year=2025, date_order=dmy)."
    ),
    internal: list[str] = typer.Option(
        [], "--internal", help="Internal network (CIDR), repeatable; default: private ranges."
    ),
    allow: list[str] = typer.Option([], "--allow", help="Allow-list file; repeatable."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Write every hit to this .csv, .jsonl or .parquet file."
    ),
    workers: int | None = typer.Option(
        None, "--workers", "-w", min=1, help="Worker processes (default: one per core)."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar and no summary."),
    prefilter: bool = typer.Option(
        True,
        "--prefilter/--no-prefilter",
        help="Screen Zeek TSV logs with the compiled first pass (same hits; off: slower).",
    ),
) -> None:
    """Scan logs against indicators and name the internal devices that contacted them.

    Logs are files, folders (every file under them) or - for standard input (with --format):
    plain, .gz, .bz2 or .zst, the format found per file. --ioc takes compiled indexes (.lsidx,
    from `lamsach ioc import --out`) or indicator lists in any format `lamsach ioc import` reads,
    built on the fly.

    Lines that cannot be parsed are counted and skipped, never fatal; the summary says how many,
    per file and reason, with the first line numbers.

    Exit status, as grep: 0 when no hits were found, 1 when hits were found, 2 on an error (a file
    or list that could not be read, a bad option), whether or not hits were found.
    """
    from lamsach.matching.engine import plan_tasks
    from lamsach.matching.engine_local import ScanReport, run_scan
    from lamsach.matching.index_file import IndexFileError

    console = Console(stderr=True, highlight=False)
    started = time.perf_counter()
    try:
        if out is not None:
            output_format(out)
        paths = expand_paths(logs)
        if STDIN in paths and not log_format:
            raise LogReadError("standard input needs --format")
        options = _options(mapping, option)
        check_options(options)
        internal_networks = _internal(internal)
        index, index_path = load_indicators(ioc, allow, console)
        # Opened before the scan, so that an output that cannot be written fails first.
        writer = HitWriter(out) if out is not None else None
    except (LogReadError, OutputError, ValueError) as exc:
        raise _fail(console, str(exc)) from None
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        raise _fail(console, f"{where}{exc.strerror or exc}") from None
    workers = workers or os.cpu_count() or 1
    # A few ranges per worker, so that a worker slowed down by other load does not hold the end.
    tasks, errors = plan_tasks(
        paths, log_format, parts=workers * RANGES_PER_WORKER, options=options
    )
    # A file met while walking a folder that is no known log (a README, a pcap) is passed over
    # with a note; a file named on the command line must be read.
    named = {str(Path(p)) for p in logs}
    passed_over = [e.path for e in errors if e.unrecognised and e.path not in named]
    errors = [e for e in errors if e.path not in passed_over]
    report = ScanReport(errors=errors)
    summary = HitSummary()
    shown: list[Any] = []

    def on_hits(hits: Any) -> None:
        summary.add(hits)
        if writer is not None:
            writer.write(hits)
        elif len(shown) < SHOWN_HITS:
            shown.extend(hits.slice(0, SHOWN_HITS - len(shown)).to_pylist())

    total = (
        None if STDIN in paths else sum(os.path.getsize(t.path) for t in tasks if not t.is_range)
    )
    if total is not None:
        total += sum(t.end - t.start for t in tasks if t.is_range)
    try:
        with _progress(console, quiet) as progress:
            bar = progress.add_task("scan", total=total, records=0, hits=0)

            def on_progress(nbytes: int, records: int, hits: int) -> None:
                fields = progress.tasks[bar].fields
                progress.update(
                    bar,
                    advance=nbytes,
                    records=fields["records"] + records,
                    hits=fields["hits"] + hits,
                )

            run_scan(
                tasks,
                index,
                internal_networks,
                workers=workers,
                index_path=index_path,
                on_hits=on_hits,
                on_progress=on_progress,
                report=report,
                prefilter=prefilter,
            )
            progress.update(bar, completed=total or 0, records=report.records, hits=report.hits)
    except KeyboardInterrupt:
        raise _fail(console, "interrupted") from None
    except IndexFileError as exc:  # damage the first look at the index could not see
        raise _fail(console, str(exc)) from None
    except Exception as exc:  # any failure must exit 2, never look like "hits found"
        raise _fail(console, f"scan failed: {exc!r}") from exc
    finally:
        if writer is not None:
            writer.close()
    if not quiet:
        out_console = Console(highlight=False)
        print_summary(out_console, report, summary, shown, out, time.perf_counter() - started)
        if passed_over:
            names = ", ".join(passed_over[:5]) + (" ..." if len(passed_over) > 5 else "")
            console.print(
                f"[yellow]Passed over {len(passed_over)} files in the folders that are not logs "
                f"in a known format: {names}[/yellow]"
            )
    for error in report.errors:
        console.print(f"[red]error:[/red] {error.path}: {error.message}", highlight=False)
    if report.errors:
        raise typer.Exit(EXIT_ERROR)
    raise typer.Exit(EXIT_HITS if report.hits else EXIT_CLEAN)


def _internal(networks: list[str]) -> Any:
    from lamsach.matching.direction import DEFAULT_INTERNAL, InternalNetworks

    if not networks:
        return DEFAULT_INTERNAL
    return InternalNetworks.from_strings(" ".join(networks))


def _progress(console: Console, quiet: bool) -> Progress:
    return Progress(
        TextColumn("[bold]scanning"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        RateColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=quiet,
        transient=False,
    )


def _reasons(stats: Any) -> str:
    parts = []
    for reason, count in stats.skipped.most_common():
        lines = ", ".join(str(n) for n in stats.examples.get(reason, []))
        parts.append(f"{reason}: {count:,}" + (f" (lines {lines})" if lines else ""))
    return "; ".join(parts)


def print_summary(
    console: Console,
    report: ScanReport,
    summary: HitSummary,
    shown: list[dict[str, Any]],
    out: Path | None,
    seconds: float,
) -> None:
    """The end-of-scan summary: files, hits by type, suspect hosts, what could not be read."""
    files = _table("Files read")
    for name, justify in (
        ("file", "left"),
        ("format", "left"),
        ("records", "right"),
        ("skipped", "right"),
        ("why skipped", "left"),
    ):
        files.add_column(name, justify=justify)  # type: ignore[arg-type]
    shown_files = list(report.files.items())
    if len(shown_files) > MAX_FILE_ROWS:
        # Many files: those with skipped lines first, the rest summed on one row.
        shown_files.sort(key=lambda item: -item[1].skipped_total)
        rest = shown_files[MAX_FILE_ROWS - 1 :]
        shown_files = shown_files[: MAX_FILE_ROWS - 1]
    else:
        rest = []
    for path, stats in shown_files:
        files.add_row(
            path, stats.format, f"{stats.records:,}", f"{stats.skipped_total:,}", _reasons(stats)
        )
    if rest:
        files.add_row(
            f"({len(rest):,} more files)",
            "",
            f"{sum(s.records for _, s in rest):,}",
            f"{sum(s.skipped_total for _, s in rest):,}",
            "",
        )
    console.print(files)
    if summary.total:
        types = _table("Hits by indicator type")
        types.add_column("type")
        types.add_column("hits", justify="right")
        for kind, count in summary.by_type.most_common():
            types.add_row(kind, f"{count:,}")
        console.print(types)
        hosts = _table("Suspect hosts (devices to check and clean)")
        for name in ("host", "hits", "first seen", "last seen", "indicators", "malware family"):
            hosts.add_column(name, justify="right" if name == "hits" else "left")
        for suspect in summary.ranked():
            hosts.add_row(
                suspect.host,
                f"{suspect.hits:,}",
                _when(suspect.first_seen),
                _when(suspect.last_seen),
                listed(suspect.indicators),
                listed(suspect.families),
            )
        console.print(hosts)
        if out is None and shown:
            _print_hits(console, shown, summary.total)
    line = (
        f"{report.records:,} records in {len(report.files):,} files, {seconds:.1f} s; "
        f"{report.hits:,} hits on {len(summary.suspects):,} suspect hosts"
    )
    if out is not None:
        line += f", written to {out}"
    console.print(line)
    if report.unreadable:
        console.print(
            f"[yellow]Skipped {report.unreadable:,} lines that lamsach could not read "
            "(reasons above).[/yellow]"
        )
    if report.ignored:
        # Understood but carrying no network record (a stats event, a DHCP line): not damage.
        console.print(f"Passed over {report.ignored:,} lines that hold no network record.")
    if report.errors:
        console.print(f"[red]Could not read {len(report.errors):,} files (errors below).[/red]")


def _print_hits(console: Console, shown: list[dict[str, Any]], total: int) -> None:
    title = f"Hits (first {len(shown)} of {total:,}; --out FILE writes them all)"
    table = _table(title)
    names = ("time", "suspect", "other", "indicator", "observed", "field", "log_type", "line")
    for name in names:
        table.add_column(name)
    for hit in shown:
        table.add_row(*(_when(hit[n]) if n == "time" else str(hit.get(n) or "") for n in names))
    console.print(table)


def _table(title: str) -> Table:
    # A title never wraps, however narrow the table under it.
    return Table(title=title, title_justify="left", min_width=len(title))


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""
