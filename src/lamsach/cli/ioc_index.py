"""``lamsach ioc stats`` and ``lamsach ioc check``: questions asked of a compiled index."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from lamsach.indicators.model import Indicator

if TYPE_CHECKING:
    from lamsach.matching.index import IndicatorIndex


def _load(path: str) -> IndicatorIndex:
    # The index and its libraries are imported when a command needs them: start-up stays short.
    from lamsach.matching.index import IndicatorIndex
    from lamsach.matching.index_file import IndexFileError

    try:
        return IndicatorIndex.load(path)
    except IndexFileError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def stats(
    index: str = typer.Argument(..., help="Compiled index file."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Counts of a compiled index by indicator type and source."""
    idx = _load(index)
    report: dict[str, Any] = {
        "file": index,
        "file_size": Path(index).stat().st_size,
        "built_at": idx.built_at.isoformat(),
        "indicators": len(idx),
        "allow_list": idx.allow_count(),
        "by_type": dict(sorted(idx.counts().items())),
        "by_source": idx.sources(),
    }
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    typer.echo(f"Index       {index}")
    typer.echo(f"File size   {_size(report['file_size'])}")
    typer.echo(f"Built       {report['built_at']}")
    typer.echo(f"Indicators  {report['indicators']:,}")
    typer.echo(f"Allow-list  {report['allow_list']:,}")
    typer.echo("By type:")
    for name, count in report["by_type"].items():
        typer.echo(f"  {name:<10} {count:>12,}")
    typer.echo("By source:")
    if not report["by_source"]:
        typer.echo("  (no source names)")
    for name, count in report["by_source"].items():
        typer.echo(f"  {count:>12,}  {name}")


def check(
    index: str = typer.Argument(..., help="Compiled index file."),
    values: list[str] = typer.Argument(..., help="IPs, host names, URLs or hashes to look up."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object per value."),
) -> None:
    """Say for each value whether and why it is listed.

    Exit status: 1 when any value is listed, 0 when none is, 2 on error (unreadable index, or a
    value that is no IP, host name, URL or hash while none is listed).
    """
    from lamsach.matching.observed import classify_query

    idx = _load(index)
    any_listed = False
    any_bad = False
    for value in values:
        query = classify_query(value)
        if query is None:
            any_bad = True
            _say(as_json, value, "invalid", [], "not an IP, host name, URL or hash")
            continue
        found = idx.lookup(value)
        if found:
            any_listed = True
            _say(as_json, value, "listed", found, f"LISTED ({len(found)} indicator(s))")
        elif idx.allow.query(query):
            _say(as_json, value, "allowed", [], "not listed (on the allow-list)")
        else:
            _say(as_json, value, "not-listed", [], "not listed")
    if any_listed:
        raise typer.Exit(1)
    if any_bad:
        raise typer.Exit(2)


def _say(as_json: bool, value: str, status: str, found: list[Indicator], text: str) -> None:
    if as_json:
        record = {"value": value, "status": status, "indicators": [_describe(i) for i in found]}
        typer.echo(json.dumps(record, ensure_ascii=False))
        return
    typer.echo(f"{value}: {text}", err=status == "invalid")
    for ind in found:
        d = _describe(ind)
        line = f"  {d['type']} {d['value']}  sources: {', '.join(d['sources']) or '-'}"
        if d["files"]:
            line += f"  files: {', '.join(d['files'])}"
        if d["tags"]:
            line += f"  tags: {', '.join(d['tags'])}"
        for key in ("first_seen", "last_seen", "expires"):
            if d[key]:
                line += f"  {key.replace('_', ' ')}: {d[key]}"
        typer.echo(line)


def _describe(ind: Indicator) -> dict[str, Any]:
    return {
        "type": ind.type.value,
        "value": ind.value,
        "sources": sorted(ind.sources),
        "files": sorted(ind.files),
        "tags": sorted(ind.tags),
        "first_seen": ind.first_seen.isoformat() if ind.first_seen else None,
        "last_seen": ind.last_seen.isoformat() if ind.last_seen else None,
        "expires": ind.expires.isoformat() if ind.expires else None,
        "confidence": ind.confidence,
    }


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{n:,} B" if unit == "B" else f"{size:.1f} {unit} ({n:,} B)"
        size /= 1024
    return f"{n:,} B"
