"""``lamsach ioc``: import, inspect, check and export indicator lists."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lamsach.cli import ioc_index
from lamsach.indicators.export import EXPORT_FORMATS, export
from lamsach.indicators.formats import FORMAT_NAMES, get_format
from lamsach.indicators.formats.base import Reject
from lamsach.indicators.guards import AllowListError, GuardSettings, read_allow_list
from lamsach.indicators.importer import ImportResult, import_paths
from lamsach.indicators.model import Indicator, IndicatorType

EXIT_OK, EXIT_ERROR = 0, 2
SHOWN_PER_REASON = 20  # rejects printed per reason with --show-rejects
SHOWN_TOTAL = 400

app = typer.Typer(help="Import, inspect, check and export indicator lists.", no_args_is_help=True)
app.command("stats")(ioc_index.stats)
app.command("check")(ioc_index.check)


def _fail(console: Console, message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(EXIT_ERROR)


@app.command("import")
def import_(
    paths: list[Path] = typer.Argument(..., help="List files or folders (maltrail, MISP feed)."),
    format: str | None = typer.Option(
        None, "--format", help=f"Force the format: {', '.join(FORMAT_NAMES)}, tsv."
    ),
    source: str | None = typer.Option(None, "--source", help="List name (default: file name)."),
    column: str | None = typer.Option(
        None, "--column", help="CSV/TSV value column: header name or 1-based number."
    ),
    allow: Path | None = typer.Option(
        None, "--allow", help="Allow-list: domains, IPs, CIDRs that must never match."
    ),
    max_prefix_v4: int = typer.Option(
        16, "--max-prefix-v4", min=0, max=32, help="Refuse IPv4 networks wider than this."
    ),
    max_prefix_v6: int = typer.Option(
        32, "--max-prefix-v6", min=0, max=128, help="Refuse IPv6 networks wider than this."
    ),
    show_rejects: bool = typer.Option(
        False, "--show-rejects", help="List rejected lines with file and line number."
    ),
    rejects_out: Path | None = typer.Option(
        None, "--rejects-out", help="Write every rejected line to this TSV file."
    ),
    out: Path | None = typer.Option(None, "--out", help="Write the compiled index (.lsidx)."),
) -> None:
    """Read indicator lists (formats detected), normalise, guard, merge and report."""
    console = Console()
    if format is not None:
        try:
            get_format(format)
        except ValueError as exc:
            raise _fail(console, str(exc)) from None
    allowed: list[Indicator] = []
    if allow is not None:
        try:
            allowed = read_allow_list(allow)
        except AllowListError as exc:
            raise _fail(console, str(exc)) from None
    started = time.perf_counter()
    result = import_paths(
        paths,
        format=format,
        source=source,
        column=column,
        guard=GuardSettings(max_prefix_v4=max_prefix_v4, max_prefix_v6=max_prefix_v6),
    )
    elapsed = time.perf_counter() - started
    _print_summary(console, result, elapsed, len(allowed))
    if show_rejects:
        _print_rejects(console, result.rejects + result.warnings)
    if rejects_out is not None:
        _write_rejects(rejects_out, result.rejects + result.warnings)
    for report in result.errors:
        message = f"{report.file}: {report.error}"
        console.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    if out is not None:
        from lamsach.matching.index import IndicatorIndex

        try:
            IndicatorIndex.build(result.indicators, allow=allowed).save(out)
        except OSError as exc:
            raise _fail(console, f"cannot write {out}: {exc}") from None
        console.print(f"index written to {out} ({len(result.indicators):,} indicators)")
    if not result.files:
        raise _fail(console, "no indicator list found in the paths given")
    if result.errors:
        raise typer.Exit(EXIT_ERROR)


def _print_summary(console: Console, result: ImportResult, elapsed: float, allowed: int) -> None:
    lines = sum(report.entries for report in result.files)
    files = len(result.files) - len(result.errors)
    console.print(
        f"{files:,} files read, {lines:,} entries, {len(result.indicators):,} unique indicators "
        f"in {elapsed:.1f} s" + (f"; {allowed:,} allow-list entries" if allowed else ""),
        highlight=False,
    )
    if result.skipped_files:
        skipped = escape(", ".join(result.skipped_files))
        console.print(f"skipped (not lists): {skipped}", highlight=False)
    counts = result.counts
    table = Table(title="Indicators by type")
    table.add_column("type")
    table.add_column("count", justify="right")
    for kind in IndicatorType:
        if counts.get(kind.value):
            table.add_row(kind.value, f"{counts[kind.value]:,}")
    table.add_row("[bold]total[/bold]", f"[bold]{sum(counts.values()):,}[/bold]")
    console.print(table)
    for title, tally in (
        ("Rejected by reason", result.reject_counts),
        ("Kept narrower (warnings)", result.warning_counts),
    ):
        if not tally:
            continue
        table = Table(title=title)
        table.add_column("reason")
        table.add_column("count", justify="right")
        for reason, count in tally.most_common():
            table.add_row(reason, f"{count:,}")
        console.print(table)
    if result.files:
        formats = sorted({r.format for r in result.files if r.format})
        console.print(f"formats: {', '.join(formats) or '-'}", highlight=False)


def _print_rejects(console: Console, rejects: list[Reject]) -> None:
    shown_per: dict[str, int] = {}
    hidden = 0
    shown = 0
    for reject in rejects:
        if shown_per.get(reject.reason, 0) >= SHOWN_PER_REASON or shown >= SHOWN_TOTAL:
            hidden += 1
            continue
        shown_per[reject.reason] = shown_per.get(reject.reason, 0) + 1
        shown += 1
        where, text = escape(reject.location), escape(repr(reject.text))
        console.print(
            f"{where}: [yellow]{reject.reason}[/yellow] {text}"
            + (f" ({escape(reject.message)})" if reject.message else ""),
            highlight=False,
            soft_wrap=True,
        )
    if hidden:
        console.print(
            f"... {hidden:,} more not shown (at most {SHOWN_PER_REASON} per reason; "
            "--rejects-out FILE writes them all)",
            highlight=False,
        )


def _write_rejects(path: Path, rejects: list[Reject]) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("file\tline\treason\ttext\tmessage\n")
        for reject in rejects:
            text = reject.text.replace("\t", " ")
            line = "" if reject.line is None else reject.line
            out.write(f"{reject.file}\t{line}\t{reject.reason}\t{text}\t{reject.message}\n")


@app.command("export")
def export_(
    index: Path = typer.Argument(..., help="Compiled index file (.lsidx)."),
    format: str = typer.Option(..., "--format", help=f"One of: {', '.join(EXPORT_FORMATS)}."),
    out: Path | None = typer.Option(
        None, "--out", help="Output file (a folder for suricata); default: standard output."
    ),
    types: str | None = typer.Option(
        None, "--types", help="Only these types, comma-separated (e.g. ipv4,ipv6,cidr)."
    ),
    zone: str = typer.Option("rpz.lamsach.", "--zone", help="Zone name for --format rpz."),
) -> None:
    """Write the index's indicators for a resolver, IDS, firewall or another CTI tool."""
    console = Console(stderr=True)
    if format not in EXPORT_FORMATS:
        raise _fail(console, f"unknown format {format!r} (known: {', '.join(EXPORT_FORMATS)})")
    wanted = None
    if types:
        try:
            wanted = frozenset(IndicatorType(name.strip()) for name in types.split(","))
        except ValueError as exc:
            raise _fail(console, str(exc)) from None
    if format == "suricata" and out is None:
        raise _fail(console, "--format suricata writes several files: give --out FOLDER")
    from lamsach.matching.index import IndicatorIndex

    try:
        loaded = IndicatorIndex.load(index)
    except (OSError, ValueError) as exc:
        raise _fail(console, str(exc)) from None
    result = export(loaded.indicators(), format, types=wanted, zone=zone)
    try:
        _write_export(result.files, out)
    except OSError as exc:
        raise _fail(console, f"cannot write {out}: {exc}") from None
    skipped = ", ".join(f"{count:,} {kind}" for kind, count in sorted(result.skipped.items()))
    console.print(
        f"{result.written:,} indicators written as {format}"
        + (f"; not expressible in {format}: {skipped}" if skipped else ""),
        highlight=False,
    )


def _write_export(files: dict[str, str], out: Path | None) -> None:
    if "" in files:
        if out is None:
            typer.echo(files[""], nl=False)
        else:
            out.write_text(files[""], encoding="utf-8")
        return
    assert out is not None
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
