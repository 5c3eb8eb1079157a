"""Any CSV/TSV log with a header row, read through a column mapping (given, or guessed from
common header names): the fallback for exports no other format knows."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import IO, Any

import pyarrow as pa

from lamsach.logs.formats import LogFormat, ReadContext, ReadStats
from lamsach.logs.formats._rows import (
    RowBuffer,
    clean_host,
    epoch_or_iso_micros,
    head_without_bom,
    ip_or_none,
    ips_in,
    to_int,
)
from lamsach.logs.formats._syslog import to_micros

MAPPABLE = (
    "time",
    "src_ip",
    "src_port",
    "dst_ip",
    "dst_port",
    "proto",
    "host",
    "url",
    "answers",
    "hashes",
    "bytes",
    "action",
)
COLUMNS = (*MAPPABLE, "log_type", "line")
_NETWORK = ("src_ip", "dst_ip", "host", "url", "answers", "hashes")
_DELIMITERS = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}

# Header names seen in resolver, proxy and flow exports, compared without case and punctuation.
_ALIASES: dict[str, tuple[str, ...]] = {
    "time": ("time", "ts", "timestamp", "date", "datetime", "eventtime", "starttime", "start"),
    "src_ip": ("srcip", "src", "source", "sourceip", "sourceaddress", "client", "clientip",
               "cip", "sa", "saddr", "idorigh", "origh"),
    "src_port": ("srcport", "sport", "sp", "sourceport", "clientport", "idorigp"),
    "dst_ip": ("dstip", "dst", "destip", "destination", "destinationip", "destinationaddress",
               "da", "daddr", "serverip", "sip", "remoteip", "idresph"),
    "dst_port": ("dstport", "dport", "dp", "destport", "destinationport", "serverport",
                 "idrespp"),
    "proto": ("proto", "protocol", "pr", "transport"),
    "host": ("host", "hostname", "domain", "domainname", "query", "qname", "queryname",
             "dnsquery", "fqdn", "sni", "servername", "cshost"),
    "url": ("url", "requesturl", "fullurl", "csuri"),
    "answers": ("answers", "answer", "resolvedip", "responseip", "rdata"),
    "hashes": ("hash", "hashes", "md5", "sha1", "sha256", "filehash"),
    "bytes": ("bytes", "totalbytes", "byt", "ibyt"),
    "action": ("action", "disposition", "verdict"),
}  # fmt: skip
_ALIAS_TO_COLUMN = {alias: column for column, names in _ALIASES.items() for alias in names}
_NON_ALNUM = re.compile(r"[^a-z0-9]")
_LIST_SPLIT = re.compile(r"[\s;,|]+")
_HEX = re.compile(r"[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64}")


def guess_mapping(header: list[str]) -> dict[str, int]:
    """Canonical column -> header position, from the names alone (first match wins)."""
    mapping: dict[str, int] = {}
    for position, name in enumerate(header):
        column = _ALIAS_TO_COLUMN.get(_NON_ALNUM.sub("", name.strip().lower()))
        if column is not None and column not in mapping:
            mapping[column] = position
    return mapping


def _given_mapping(options: Mapping[str, str]) -> dict[str, str]:
    """canonical column -> header name, from ``map="time=ts,src_ip=client"`` or direct keys."""
    given = {key: value for key, value in options.items() if key in MAPPABLE and value}
    for pair in options.get("map", "").split(","):
        column, sep, name = pair.partition("=")
        if sep and column.strip() in MAPPABLE and name.strip():
            given[column.strip()] = name.strip()
    return given


def _delimiter(header_line: str, options: Mapping[str, str]) -> str:
    chosen = options.get("delimiter")
    if chosen:
        return _DELIMITERS.get(chosen, chosen[:1])
    counts = {d: header_line.count(d) for d in (",", "\t", ";", "|")}
    return max(counts, key=lambda d: counts[d])


def _time(value: str, time_format: str | None) -> int | None:
    if not value:
        return None
    if time_format:
        try:
            stamp = datetime.strptime(value, time_format)
        except ValueError:
            return None
        return to_micros(stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC))
    micros = epoch_or_iso_micros(value)
    if micros is not None and value.replace(".", "", 1).isdigit():
        seconds = float(value)
        if seconds > 1e14:  # microseconds
            return int(seconds)
        if seconds > 1e11:  # milliseconds
            return round(seconds * 1000)
    return micros


def _hashes(value: str) -> list[str] | None:
    found = [v for v in _LIST_SPLIT.split(value.lower()) if _HEX.fullmatch(v)]
    return found or None


def _records(reader: Any, stats: ReadStats, offset: int) -> Iterator[list[str]]:
    """The reader's records; one it cannot split (a field over the csv module's size limit, an
    unclosed quote at the end) is counted and the reading goes on."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error:
            stats.skip("unreadable CSV line", reader.line_num + offset)


def read(stream: IO[Any], ctx: ReadContext) -> Iterator[pa.RecordBatch]:
    stats = ctx.stats
    options = ctx.options
    first_line_no = 0
    header_line = ""
    for first_line_no, header_line in enumerate(stream, 1):  # noqa: B007 - used after the loop
        if header_line.strip():
            break
    if not header_line.strip():
        return
    header_line = header_line.removeprefix("\ufeff")  # Excel's "CSV UTF-8" starts with one
    delimiter = _delimiter(header_line, options)
    header = next(csv.reader([header_line], delimiter=delimiter))
    given = _given_mapping(options)
    if given:
        positions = {name.strip().lower(): i for i, name in enumerate(header)}
        missing = [f"{col}={name}" for col, name in given.items() if name.lower() not in positions]
        if missing:
            stats.skip(f"column mapping names columns not in the header: {missing}", first_line_no)
            return
        mapping = {col: positions[name.lower()] for col, name in given.items()}
    else:
        mapping = guess_mapping(header)
    if not any(column in mapping for column in _NETWORK):
        stats.skip("no column mapped to an address, host, URL or hash", first_line_no)
        return
    log_type = options.get("log_type", "csv")
    time_format = options.get("time_format")
    width = len(header)
    get = {column: mapping.get(column) for column in MAPPABLE}
    buffer = RowBuffer(ctx, COLUMNS)
    rows = buffer.rows
    reader = csv.reader(stream, delimiter=delimiter)
    for fields in _records(reader, stats, first_line_no):
        line_no = reader.line_num + first_line_no
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue
        if len(fields) < width:
            stats.skip("fewer fields than the header", line_no)
            continue
        value = {col: fields[pos].strip() if pos is not None else "" for col, pos in get.items()}
        row = (
            _time(value["time"], time_format),
            ip_or_none(value["src_ip"]),
            to_int(value["src_port"]),
            ip_or_none(value["dst_ip"]),
            to_int(value["dst_port"]),
            value["proto"].lower() or None,
            clean_host(value["host"]),
            value["url"] or None,
            ips_in(_LIST_SPLIT.split(value["answers"])) if value["answers"] else None,
            _hashes(value["hashes"]) if value["hashes"] else None,
            to_int(value["bytes"]),
            value["action"] or None,
            log_type,
            line_no,
        )
        if row[1] is None and row[3] is None and not any(row[6:10]):
            stats.skip("no address, host, URL or hash in the mapped columns", line_no)
            continue
        rows.append(row)
        if len(rows) >= buffer.size:
            yield buffer.flush()
            rows = buffer.rows
    if rows:
        yield buffer.flush()


def sniff(head: list[str]) -> bool:
    head = head_without_bom(head)
    # Last resort, asked after every other format: a header naming at least two known columns,
    # one of them an address, host or URL, and data lines as wide as the header.
    if len(head) < 2:
        return False
    delimiter = _delimiter(head[0], {})
    rows = list(csv.reader(head[:11], delimiter=delimiter))
    header = rows[0]
    if len(header) < 2 or any(ip_or_none(cell.strip()) for cell in header):
        return False
    mapping = guess_mapping(header)
    if len(mapping) < 2 or not any(column in mapping for column in _NETWORK):
        return False
    # A stray short or broken line among the first few is tolerated, as the reader does.
    widths = [len(row) == len(header) for row in rows[1:]]
    return sum(widths) >= max(1, len(widths) - 1)


FORMAT = LogFormat(
    name="csv",
    description="Generic CSV/TSV with a header (column mapping given with the format options)",
    sniff=sniff,
    read=read,
    priority=95,
)
