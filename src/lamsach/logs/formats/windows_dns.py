"""Windows DNS Server debug log (dns.log): the PACKET lines of queries and responses.

Dates follow the server's locale (``6/5/2013 10:20:53 AM``, ``05.06.2013 10:20:53``,
``2013-06-05 10:20:53``); slash dates are read day-first or month-first by the ``date_order``
option (``dmy``/``mdy``), else by any day above 12 in the file, else by the AM/PM designator.
A scan of a plain file settles the order from the whole file first (``plan``), so its lines
read alone; a stream learns it as it goes. Times are the server's local time: the ``tz``
option says which zone (UTC if not given).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, tzinfo
from typing import IO, Any

import pyarrow as pa

from lamsach.logs.formats import LogFormat, ReadContext
from lamsach.logs.formats._columnar import attempt, chunks, host_expr, ip_series, python_only_spaces
from lamsach.logs.formats._rows import (
    RowBuffer,
    clean_host,
    head_without_bom,
    ip_or_none,
    local_zone,
)
from lamsach.logs.formats._syslog import to_micros
from lamsach.logs.schema import batch_from_columns

COLUMNS = ("time", "src_ip", "dst_ip", "proto", "host", "action", "log_type", "line")

_PACKET = re.compile(
    r"(\d{1,4})([/.-])(\d{1,2})[/.-](\d{1,4}),? (\d{1,2}):(\d{2}):(\d{2})(?: ?([^\s\d]{1,4}))? +"
    r"[0-9A-Fa-f]+ PACKET +[0-9A-Fa-f]+ +(UDP|TCP) +(Snd|Rcv) +([0-9A-Fa-f.:]+) +"
    r"[0-9A-Fa-f]+ +(R)? *([QNU?]) \[[0-9A-Fa-f]+ ([^\]]*)\] +(\S+) +(\S+)"
)  # the bracket's last word is the response code; kept out of the regex, which stays linear
_LABEL_LENGTH = re.compile(r"\(\d+\)")
# Afternoon designators: English, and Vietnamese ("CH", chiều) since the servers here run it.
_PM = frozenset(("PM", "pm", "CH", "ch", "p.m.", "nachm."))
_NOT_QUERY = "ignored: not a standard query (update, notify)"
_HEADER_MARKS = ("Message logging key", "DNS Server log file creation", "Log file wrap")


def decode_name(raw: str) -> str | None:
    """``(3)www(6)google(3)com(0)`` or ``.www.google.com.`` as ``www.google.com``."""
    if raw.startswith("("):
        raw = _LABEL_LENGTH.sub(".", raw)
    return clean_host(raw.strip("."))


class _DateReader:
    """Turns the locale's date parts into times once the day/month order is known."""

    def __init__(self, option: str | None, zone: tzinfo = UTC) -> None:
        self.zone = zone
        self.forced = option if option in ("dmy", "mdy") else None
        self.seen: str | None = None  # order shown by a date whose day is above 12
        self.designator_order: str | None = None

    def note(self, first: int, sep: str, second: int, designator: str | None) -> None:
        if sep != "/" or first > 999:
            return  # dotted, dashed and year-first dates are never month-first
        if self.seen is None:
            if first > 12 >= second:
                self.seen = "dmy"
            elif second > 12 >= first:
                self.seen = "mdy"
        if designator and self.designator_order is None:
            # "AM/PM" is the US locale (month first); other designators (SA/CH) are day-first.
            self.designator_order = "mdy" if designator.upper() in ("AM", "PM") else "dmy"

    def order(self) -> str:
        return self.forced or self.seen or self.designator_order or "dmy"

    def micros(self, parts: tuple[Any, ...], order: str) -> int | None:
        first, sep, second, third, hh, mm, ss, designator = parts
        if first > 999:  # 2013-06-05: ISO order whatever the locale
            year, month, day = first, second, third
        elif sep in ".-" or order == "dmy":
            day, month, year = first, second, third
        else:
            month, day, year = first, second, third
        if designator is not None:
            hh %= 12
            if designator in _PM:
                hh += 12
        if year < 100:
            year += 2000
        try:
            return to_micros(datetime(year, month, day, hh, mm, ss, tzinfo=self.zone))
        except ValueError:
            return None


def _skip_reason(line: str) -> str | None:
    if not line.strip() or line[0] in " \t":
        return None  # blank, the header's key table or a packet's detail lines
    if "PACKET" in line:
        return "unreadable PACKET line"
    if line.startswith(_HEADER_MARKS):
        return None
    return "ignored: not a PACKET line"


def _slow_chunk(
    lines: list[str], first_line: int, dates: _DateReader, ctx: ReadContext
) -> pa.RecordBatch:
    stats = ctx.stats
    pending: list[tuple[Any, ...]] = []  # rows whose time is still date parts
    for line_no, line in enumerate(lines, first_line):
        match = _PACKET.match(line)
        if match is None:
            reason = _skip_reason(line)
            if reason is not None:
                stats.skip(reason, line_no)
            continue
        (first, sep, second, third, hh, mm, ss, designator) = match.groups()[:8]
        proto, direction, remote, response, opcode, flags, _qtype, name = match.groups()[8:]
        if not flags.split():
            stats.skip("unreadable PACKET line", line_no)
            continue
        rcode = flags.split()[-1]
        if opcode != "Q":
            stats.skip(_NOT_QUERY, line_no)
            continue
        # Rcv query / Snd response talk with a client; the other two are the server's own
        # recursion to another server, kept (the name still counts) with that server as dst.
        address = ip_or_none(remote)
        src, dst = (address, None) if (direction == "Rcv") != bool(response) else (None, address)
        first_n, second_n = int(first), int(second)
        dates.note(first_n, sep, second_n, designator)
        parts = (first_n, sep, second_n, int(third), int(hh), int(mm), int(ss), designator)
        action = rcode if response else None
        pending.append((parts, src, dst, proto.lower(), decode_name(name), action, "dns", line_no))
    # Dates are turned into times per chunk, once the chunk has shown the day/month order.
    order = dates.order()
    buffer = RowBuffer(ctx, COLUMNS)
    buffer.rows = [(dates.micros(row[0], order), *row[1:]) for row in pending]
    return buffer.flush()


def read_lines(stream: IO[Any], ctx: ReadContext, fast: bool = True) -> Iterator[pa.RecordBatch]:
    """Batches of a debug log; ``fast`` reads each chunk by column (polars) first."""
    dates = _DateReader(ctx.options.get("date_order"), local_zone(ctx))
    for first_line, lines in chunks(stream, max(1, ctx.batch_size)):
        batch = attempt(fast_chunk, lines, first_line, dates, ctx) if fast else None
        if batch is None:
            batch = _slow_chunk(lines, first_line, dates, ctx)
        if batch.num_rows:
            yield batch


def read(stream: IO[Any], ctx: ReadContext) -> Iterator[pa.RecordBatch]:
    return read_lines(stream, ctx)


def fast_chunk(
    lines: list[str], first_line: int, dates: _DateReader, ctx: ReadContext
) -> pa.RecordBatch | None:
    """The chunk read by column: the PACKET regex over all lines at once, times and addresses
    worked out once per distinct value. Called through ``attempt``: any surprise means the
    chunk is read per line."""
    import polars as pl  # here: detecting a format must not load polars

    text = pl.Series("text", lines, dtype=pl.String)
    if python_only_spaces(text):
        return None
    frame = text.str.extract_groups("^" + _PACKET.pattern).struct.unnest().with_row_index("index")
    names = frame.columns[1:]
    frame = frame.with_columns(pl.col(names[13]).str.extract(r"(\S+)\s*$").alias(names[13]))
    readable = pl.col(names[0]).is_not_null() & pl.col(names[13]).is_not_null()
    unmatched = frame.filter(~readable).get_column("index").to_list()
    packets = frame.filter(readable)
    opcode = pl.col(names[12])
    skips = [(i, _skip_reason(lines[i])) for i in unmatched]
    skips += [(i, _NOT_QUERY) for i in packets.filter(opcode != "Q").get_column("index")]
    queries = packets.filter(opcode == "Q")
    first, sep, second, third, hh, mm, ss, designator = names[:8]
    proto, direction, remote, response, _op, rcode, _qtype, name = names[8:]
    stamps = queries.select(
        pl.col(first).cast(pl.Int64),
        pl.col(sep),
        pl.col(second).cast(pl.Int64),
        pl.col(third).cast(pl.Int64),
        pl.col(hh).cast(pl.Int64),
        pl.col(mm).cast(pl.Int64),
        pl.col(ss).cast(pl.Int64),
        pl.col(designator),
    )
    for row in stamps.unique(maintain_order=True).iter_rows():  # in line order, as read
        dates.note(row[0], row[1], row[2], row[7])
    order = dates.order()
    times = {row: dates.micros(row, order) for row in stamps.unique().iter_rows()}
    queries = queries.with_columns(ip_series(queries.get_column(remote)))
    client_side = (pl.col(direction) == "Rcv") != pl.col(response).is_not_null()
    address = pl.col(remote)
    raw_name = pl.col(name)
    labels = (
        pl.when(raw_name.str.starts_with("("))
        .then(raw_name.str.replace_all(_LABEL_LENGTH.pattern, "."))
        .otherwise(raw_name)
    )
    out = queries.select(
        pl.when(client_side).then(address).alias("src_ip"),
        pl.when(~client_side).then(address).alias("dst_ip"),
        pl.col(proto).str.to_lowercase().alias("proto"),
        host_expr(labels.str.strip_chars(".")).alias("host"),
        pl.when(pl.col(response).is_not_null()).then(pl.col(rcode)).alias("action"),
        (pl.col("index").cast(pl.Int64) + first_line).alias("line"),
    )
    columns = {column: out.get_column(column).to_arrow() for column in out.columns}
    columns["time"] = pa.array([times[row] for row in stamps.iter_rows()], pa.int64())
    columns["log_type"] = pa.array(["dns"] * out.height)
    columns["file"] = pa.array([ctx.file] * out.height)
    batch = batch_from_columns(columns, out.height)
    for index, reason in sorted(skips):  # counted last: nothing can fail any more
        if reason is not None:
            ctx.stats.skip(reason, first_line + index)
    return batch


# A slash date whose first or second part is above 12: the only dates that tell the order.
_TELLING = re.compile(rb"^(?:(?:1[3-9]|[2-9]\d)/\d{1,2}|\d{1,2}/(?:1[3-9]|[2-9]\d))/\d", re.M)
_PLAN_BLOCK = 16 << 20


def plan(path: str) -> dict[str, str]:
    """The date order of a whole file, as the option that fixes it for every line: the first
    query whose slash date has a part above 12 decides, else the designator of the first query
    (AM/PM: month first), else nothing is fixed (day first, the reader's default)."""
    first_query: tuple[bool, str | None] = (False, None)
    dates = _DateReader(None)
    with open(path, "rb") as f:
        if f.read(3) != b"\xef\xbb\xbf":  # a byte-order mark, which the reader drops too
            f.seek(0)
        carry = b""
        while True:
            block = f.read(_PLAN_BLOCK)
            data = carry + block
            end = len(data) if not block else data.rfind(b"\n") + 1
            if not first_query[0]:
                first_query = _first_designator(data[:end])
            for found in _TELLING.finditer(data, 0, end):
                stop = data.find(b"\n", found.start(), end)
                dates.note(*_query_date(data[found.start() : stop if stop >= 0 else end]))
                if dates.seen is not None:
                    return {"date_order": dates.seen}
            if not block:
                break
            carry = data[end:]
    designator = first_query[1]
    if designator:
        return {"date_order": "mdy" if designator.upper() in ("AM", "PM") else "dmy"}
    return {}


def _query_date(raw: bytes) -> tuple[int, str, int, str | None]:
    """(first, separator, second, designator) of a query PACKET line; nothing telling else."""
    match = _PACKET.match(raw.decode("utf-8", "replace"))
    if match is None or match.group(13) != "Q" or not match.group(14).split():
        return 0, "-", 0, None
    return int(match.group(1)), match.group(2), int(match.group(3)), match.group(8)


def _first_designator(data: bytes) -> tuple[bool, str | None]:
    """Whether the data holds a query line, and the designator of the first (None if none)."""
    start = 0
    while start < len(data):
        stop = data.find(b"\n", start)
        stop = len(data) if stop < 0 else stop
        _first, sep, _second, designator = _query_date(data[start:stop])
        if sep != "-":
            return True, designator
        start = stop + 1
    return False, None


def sniff(head: list[str]) -> bool:
    head = head_without_bom(head)
    return any(line.startswith(_HEADER_MARKS) or _PACKET.match(line) for line in head)


FORMAT = LogFormat(
    name="windows-dns",
    description="Windows DNS Server debug log (PACKET lines, locale-dependent dates)",
    sniff=sniff,
    read=read,
    priority=30,
    splittable=True,
    plan=plan,
)
