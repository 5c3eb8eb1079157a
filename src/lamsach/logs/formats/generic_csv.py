"""Any CSV/TSV log with a header row, read through a column mapping (given, or guessed from
common header names): the fallback for exports no other format knows."""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from lamsach.logs.formats import LogFormat, ReadContext, ReadStats
from lamsach.logs.formats._columnar import (
    PYTHON_WHITESPACE,
    attempt,
    chunks,
    host_expr,
    ip_series,
)
from lamsach.logs.formats._rows import (
    RowBuffer,
    clean_host,
    epoch_or_iso_micros,
    head_without_bom,
    ip_or_none,
    ips_in,
    micros_in_range,
    to_int,
    to_port,
)
from lamsach.logs.formats._syslog import to_micros
from lamsach.logs.schema import batch_from_columns

if TYPE_CHECKING:
    import polars as pl

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
_LIST = pa.list_(pa.string())
_NOTHING = "no address, host, URL or hash in the mapped columns"
Row = tuple[Any, ...]
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
    if value.replace(".", "", 1).isdigit():
        try:
            seconds = float(value)
        except ValueError:  # "²" is a digit to isdigit, not to float
            return None
        if seconds > 1e14:  # microseconds
            return micros_in_range(int(seconds))
        if seconds > 1e11:  # milliseconds
            return micros_in_range(round(seconds * 1000))
    return epoch_or_iso_micros(value)


def _hashes(value: str) -> list[str] | None:
    found = [v for v in _LIST_SPLIT.split(value.lower()) if _HEX.fullmatch(v)]
    return found or None


@dataclass(frozen=True)
class _Layout:
    """What the header and the options say about the rows."""

    delimiter: str
    width: int
    positions: dict[str, int | None]  # canonical column -> field position
    log_type: str
    time_format: str | None


def _layout(header_line: str, line_no: int, ctx: ReadContext) -> _Layout | None:
    options = ctx.options
    delimiter = _delimiter(header_line, options)
    header = next(csv.reader([header_line], delimiter=delimiter))
    given = _given_mapping(options)
    if given:
        positions = {name.strip().lower(): i for i, name in enumerate(header)}
        missing = [f"{col}={name}" for col, name in given.items() if name.lower() not in positions]
        if missing:
            ctx.stats.skip(f"column mapping names columns not in the header: {missing}", line_no)
            return None
        mapping = {col: positions[name.lower()] for col, name in given.items()}
    else:
        mapping = guess_mapping(header)
    if not any(column in mapping for column in _NETWORK):
        ctx.stats.skip("no column mapped to an address, host, URL or hash", line_no)
        return None
    return _Layout(
        delimiter=delimiter,
        width=len(header),
        positions={column: mapping.get(column) for column in MAPPABLE},
        log_type=options.get("log_type", "csv"),
        time_format=options.get("time_format"),
    )


def _answers(value: str) -> list[str] | None:
    return ips_in(_LIST_SPLIT.split(value)) if value else None


def _records(lines: Iterable[str], offset: int, layout: _Layout, stats: ReadStats) -> Iterator[Row]:
    """Rows by the csv module, line by line; line numbers are the reader's plus ``offset``.

    A record the module cannot split (a field over its size limit) is counted and reading goes on.
    """
    reader = csv.reader(lines, delimiter=layout.delimiter)
    get = layout.positions
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error:
            stats.skip("unreadable CSV line", reader.line_num + offset)
            continue
        line_no = reader.line_num + offset
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue
        if len(fields) < layout.width:
            stats.skip("fewer fields than the header", line_no)
            continue
        value = {col: fields[pos].strip() if pos is not None else "" for col, pos in get.items()}
        row = (
            _time(value["time"], layout.time_format),
            ip_or_none(value["src_ip"]),
            to_port(value["src_port"]),
            ip_or_none(value["dst_ip"]),
            to_port(value["dst_port"]),
            value["proto"].lower() or None,
            clean_host(value["host"]),
            value["url"] or None,
            _answers(value["answers"]),
            _hashes(value["hashes"]) if value["hashes"] else None,
            to_int(value["bytes"]),
            value["action"] or None,
            layout.log_type,
            line_no,
        )
        if row[1] is None and row[3] is None and not any(row[6:10]):
            stats.skip(_NOTHING, line_no)
            continue
        yield row


def _by_value(values: list[str], function: Callable[[str], Any]) -> list[Any]:
    # Times, ports and answer lists repeat: each distinct text is converted once.
    done = {text: function(text) for text in set(values)}
    return [done[text] for text in values]


def _fast_chunk(
    lines: list[str], first_line: int, layout: _Layout, ctx: ReadContext
) -> pa.RecordBatch | None:
    """A chunk without quotes or blank lines read by Arrow's CSV reader and mapped by column;
    None (read per line) when Arrow cannot take it exactly."""
    import polars as pl  # here: detecting a format must not load polars

    if any('"' in line or not line.strip() for line in lines):
        return None
    names = [f"c{i}" for i in range(layout.width)]
    try:
        table = pacsv.read_csv(
            io.BytesIO("".join(lines).encode("utf-8", "replace")),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=False),
            parse_options=pacsv.ParseOptions(delimiter=layout.delimiter, quote_char=False),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowException:
        return None  # a row of another width, among others
    if table.num_rows != len(lines):
        return None
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    empty = pl.Series([""] * len(lines), dtype=pl.String)

    def text(column: str) -> pl.Series:
        position = layout.positions[column]
        if position is None:
            return empty
        return frame.get_column(names[position]).str.strip_chars(PYTHON_WHITESPACE)

    time_format = layout.time_format
    out = pl.DataFrame(
        {
            "src_ip": ip_series(text("src_ip")),
            "dst_ip": ip_series(text("dst_ip")),
            "proto": text("proto").str.to_lowercase(),
            "host": text("host"),
            "url": text("url"),
            "action": text("action"),
        }
    ).select(
        pl.col("src_ip"),
        pl.col("dst_ip"),
        pl.when(pl.col("proto") != "").then(pl.col("proto")).alias("proto"),
        host_expr(pl.col("host")).alias("host"),
        pl.when(pl.col("url") != "").then(pl.col("url")).alias("url"),
        pl.when(pl.col("action") != "").then(pl.col("action")).alias("action"),
    )
    columns: dict[str, Any] = {name: out.get_column(name).to_arrow() for name in out.columns}
    columns["time"] = _by_value(text("time").to_list(), lambda v: _time(v, time_format))
    columns["src_port"] = _by_value(text("src_port").to_list(), to_port)
    columns["dst_port"] = _by_value(text("dst_port").to_list(), to_port)
    columns["bytes"] = _by_value(text("bytes").to_list(), to_int)
    columns["answers"] = pa.array(_by_value(text("answers").to_list(), _answers), _LIST)
    hashes = _by_value(text("hashes").to_list(), lambda v: _hashes(v) if v else None)
    columns["hashes"] = pa.array(hashes, _LIST)
    columns["log_type"] = [layout.log_type] * len(lines)
    columns["file"] = [ctx.file] * len(lines)
    columns["line"] = list(range(first_line, first_line + len(lines)))
    batch = batch_from_columns(columns, len(lines))
    nothing = pc.and_kleene(
        pc.and_kleene(batch.column("src_ip").is_null(), batch.column("dst_ip").is_null()),
        pc.and_kleene(
            pc.and_kleene(batch.column("host").is_null(), batch.column("url").is_null()),
            pc.and_kleene(batch.column("answers").is_null(), batch.column("hashes").is_null()),
        ),
    )
    for line_no in batch.filter(nothing).column("line").to_pylist():
        ctx.stats.skip(_NOTHING, line_no)
    return batch.filter(pc.invert(nothing))


def read_lines(stream: IO[Any], ctx: ReadContext, fast: bool = True) -> Iterator[pa.RecordBatch]:
    """Batches of a delimited log; ``fast`` reads quote-free chunks with Arrow first.

    From the first chunk with a quote on, the csv module reads the rest of the file, since a
    quoted field may run over lines and so over chunks.
    """
    header_no = 0
    header_line = ""
    for header_no, header_line in enumerate(stream, 1):  # noqa: B007 - used after the loop
        if header_line.strip():
            break
    if not header_line.strip():
        return
    layout = _layout(header_line.removeprefix("\ufeff"), header_no, ctx)
    if layout is None:
        return
    buffer = RowBuffer(ctx, COLUMNS)
    rest: Iterable[str] = stream
    offset = header_no
    if fast:
        for first, lines in chunks(stream, buffer.size):
            offset = header_no + first - 1
            batch = attempt(_fast_chunk, lines, offset + 1, layout, ctx)
            if batch is not None:
                if batch.num_rows:
                    yield batch
                continue
            if any('"' in line for line in lines):
                rest = itertools.chain(lines, stream)
                break
            buffer.rows = list(_records(lines, offset, layout, ctx.stats))
            if buffer.rows:
                yield buffer.flush()
        else:
            return
    for row in _records(rest, offset, layout, ctx.stats):
        buffer.rows.append(row)
        if len(buffer.rows) >= buffer.size:
            yield buffer.flush()
    if buffer.rows:
        yield buffer.flush()


def read(stream: IO[Any], ctx: ReadContext) -> Iterator[pa.RecordBatch]:
    return read_lines(stream, ctx)


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
