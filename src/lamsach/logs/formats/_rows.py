"""Row buffering and the value clean-ups (addresses, hosts, ports, times) the formats share."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyarrow as pa

from lamsach.logs.formats import ReadContext, ReadStats
from lamsach.logs.formats._syslog import parse_iso, to_micros
from lamsach.logs.schema import batch_from_columns

_IPV4_CHARS = frozenset("0123456789.")
# Dotted quad as ipaddress accepts it (no leading zeros), without building an object.
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")


BOM = "\ufeff"


def without_bom(lines: Iterable[str]) -> Iterator[str]:
    """The lines of a stream with a byte-order mark (as Windows tools write) dropped from the
    first; every other line passes untouched."""
    iterator = iter(lines)
    for first in iterator:
        yield first.removeprefix(BOM)
        break
    yield from iterator


def head_without_bom(head: list[str]) -> list[str]:
    """The sniffed first lines with a byte-order mark dropped from the first."""
    return [head[0].removeprefix(BOM), *head[1:]] if head else head


Row = tuple[Any, ...]


def json_lines(lines: list[str], first_line: int, stats: ReadStats) -> Iterator[tuple[int, Any]]:
    """The number and decoded value of each non-blank line of a JSON-lines chunk; a line that
    is not JSON is counted as such in ``stats`` and passed over."""
    loads = json.loads
    for line_no, line in enumerate(lines, first_line):
        if not line.strip():
            continue
        try:
            yield line_no, loads(line)
        except (ValueError, RecursionError):  # RecursionError: hostile nesting
            stats.skip("not valid JSON", line_no)


def first_json(head: list[str]) -> Any | None:
    """For sniffing JSON lines: the first value decoded from the first three lines, or None
    (also when one of them does not open an object before it)."""
    for line in head_without_bom(head)[:3]:
        if not line.lstrip().startswith("{"):
            return None
        try:
            return json.loads(line)
        except (ValueError, RecursionError):  # RecursionError: hostile nesting
            continue
    return None


def read_rows(
    stream: Iterable[str],
    ctx: ReadContext,
    columns: Sequence[str],
    row_of: Callable[[str, int], Row | str],
) -> Iterator[pa.RecordBatch]:
    """The read loop of a line format: ``row_of(line, number)`` gives the line's canonical row,
    or the reason it is skipped; blank lines are passed over without counting."""
    rows = RowBuffer(ctx, columns)
    skip = ctx.stats.skip
    for number, raw in enumerate(stream, 1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        row = row_of(line, number)
        if isinstance(row, str):
            skip(row, number)
            continue
        rows.rows.append(row)
        if len(rows.rows) >= rows.size:
            yield rows.flush()
    if rows.rows:
        yield rows.flush()


class RowBuffer:
    """Collects rows as tuples of the given canonical columns and turns them into a batch.

    Tuples are cheaper to build per line than dicts; they are transposed once per batch.
    ``file`` is added by the buffer and must not be among ``columns``.
    """

    def __init__(self, ctx: ReadContext, columns: Sequence[str]) -> None:
        self.ctx = ctx
        self.columns = tuple(columns)
        self.rows: list[tuple[Any, ...]] = []
        self.size = max(1, ctx.batch_size)

    def flush(self) -> pa.RecordBatch:
        rows, self.rows = self.rows, []
        if rows:
            columns = zip(*rows, strict=True)
            values: dict[str, Any] = {
                name: list(column) for name, column in zip(self.columns, columns, strict=True)
            }
        else:
            values = {name: [] for name in self.columns}
        values["file"] = [self.ctx.file] * len(rows)
        return batch_from_columns(values, len(rows))


def clean_host(name: Any) -> str | None:
    """A host name as logs give it, made comparable: trimmed, lower-case, no trailing dot.
    Anything but text (a number where a JSON log should have a name) gives None."""
    if not isinstance(name, str) or not name:
        return None
    name = name.strip().rstrip(".").lower()
    return name or None


_INT64 = 2**63
# Times outside years 1-9999 are damage, not data (and do not fit the schema's timestamp).
MIN_MICROS = -62_135_596_800 * 1_000_000
MAX_MICROS = 253_402_300_799 * 1_000_000


def to_int(value: Any) -> int | None:
    """An integer field (it must fit 64 bits), or None when absent, '-' or not a number."""
    if value is None or isinstance(value, bool):
        return None
    if not isinstance(value, int):
        try:
            value = int(value)
        except (TypeError, ValueError, OverflowError):
            return None
    return value if -_INT64 <= value < _INT64 else None


def to_port(value: Any) -> int | None:
    """A port field: an integer from 0 to 65535, else None."""
    number = to_int(value)
    return number if number is not None and 0 <= number <= 65535 else None


def micros_in_range(micros: int | None) -> int | None:
    """Microseconds since the epoch when they fall in years 1 to 9999, else None."""
    if micros is None or not MIN_MICROS <= micros <= MAX_MICROS:
        return None
    return micros


# Logs repeat the same few thousand addresses: parsing each once is most of the saving.
_IP_CACHE: dict[str, str | None] = {}
_IP_CACHE_SIZE = 100_000


def ip_or_none(text: Any) -> str | None:
    """The address if the text is an IPv4 or IPv6 one (IPv6 compressed, zone dropped), else None."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return _IP_CACHE[text]
    except KeyError:
        pass
    address = _parse_ip(text)
    if len(_IP_CACHE) >= _IP_CACHE_SIZE:
        _IP_CACHE.clear()
    _IP_CACHE[text] = address
    return address


def _parse_ip(text: str) -> str | None:
    if _IPV4_CHARS.issuperset(text):
        return text if _IPV4.fullmatch(text) else None
    if ":" not in text:
        return None
    try:
        # Compressed form: some logs write IPv6 addresses in full ("fe80:0000:...").
        return ipaddress.IPv6Address(text.strip("[]").split("%", 1)[0]).compressed
    except ValueError:
        return None


def ips_in(values: Iterable[Any]) -> list[str] | None:
    """The IP addresses among DNS answer values (names and other record data dropped)."""
    found = [ip for ip in map(ip_or_none, values) if ip is not None]
    return found or None


def epoch_or_iso_micros(value: Any) -> int | None:
    """A time given as epoch seconds (number or numeric text) or ISO 8601 text, in microseconds."""
    if value is None or isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float):
            return micros_in_range(round(value * 1_000_000))
        if isinstance(value, str):
            try:
                return micros_in_range(round(float(value) * 1_000_000))
            except ValueError:
                return to_micros(parse_iso(value.replace(" UTC", "+00:00")))
    except (OverflowError, ValueError):  # inf, nan
        return None
    if isinstance(value, datetime):
        return to_micros(value)
    return None


def syslog_year(ctx: ReadContext) -> int | None:
    """The ``year`` option, for syslog stamps (which have none) of logs from an earlier year."""
    text = ctx.options.get("year", "").strip()
    if not text:
        return None
    year = to_int(text)
    # A mistyped option would silently shift every time stamp: refuse it instead.
    if year is None or not 1970 <= year <= 9999:
        raise ValueError(f"option year={text!r}: not a year")
    return year


def check_options(options: dict[str, str]) -> None:
    """Refuse, before any file is read, a format option every reader would refuse (a mistyped
    year or zone), or one a reader would quietly not use (a date order it does not know)."""
    ctx = ReadContext(file="", stats=ReadStats(file=""), options=options)
    syslog_year(ctx)
    local_zone(ctx)
    order = options.get("date_order", "").strip()
    if order and order not in ("dmy", "mdy"):
        raise ValueError(f"option date_order={order!r}: not dmy or mdy")


def local_zone(ctx: ReadContext) -> tzinfo:
    """The ``tz`` option (``Asia/Ho_Chi_Minh`` or ``+07:00``) for logs stamped in local time
    without a zone; UTC when not given. A zone that is not understood is an error, not UTC."""
    name = ctx.options.get("tz", "").strip()
    if not name:
        return UTC
    if name[0] in "+-":
        try:
            return datetime.strptime(name.replace(":", ""), "%z").tzinfo or UTC
        except ValueError:
            raise ValueError(f"option tz={name!r}: not an offset such as +07:00") from None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"option tz={name!r}: unknown time zone") from None
