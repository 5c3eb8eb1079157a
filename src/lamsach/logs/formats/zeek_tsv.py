"""Zeek TSV logs (conn, dns, http, ssl, files and any other ``#path``), read in bulk by pyarrow.

The ``#fields`` header names the columns; only those the canonical schema needs are converted,
so a wide log costs little more than a narrow one. Comment lines (``#close``, a second header
after concatenation) and rows with the wrong number of fields are counted, never fatal.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from lamsach.logs.formats import LogFormat, ReadContext, ReadStats
from lamsach.logs.formats._rows import MAX_MICROS, MIN_MICROS
from lamsach.logs.schema import LOG_SCHEMA

NAME = "zeek-tsv"
BLOCK_SIZE = 16 << 20  # bytes per parsed block: ~100,000 records, amortising per-batch costs
MAX_HEADER_LINES = 64
DICTIONARY = pa.dictionary(pa.int32(), pa.string())

# Canonical column <- Zeek field names, first present wins (notice.log uses src/dst/p; the old
# files.log has tx_hosts/rx_hosts sets instead of the connection id).
IP_PORT_FIELDS: dict[str, tuple[str, ...]] = {
    "src_ip": ("id.orig_h", "src", "rx_hosts"),
    "src_port": ("id.orig_p",),
    "dst_ip": ("id.resp_h", "dst", "tx_hosts"),
    "dst_port": ("id.resp_p", "p"),
}
HOST_FIELDS = ("query", "server_name", "host")  # dns, ssl, http (a string-typed `host`)
HASH_FIELDS = ("md5", "sha1", "sha256")
BYTES_FIELDS = (("orig_bytes", "resp_bytes"), ("request_body_len", "response_body_len"))
NUMBER = r"^-?\d+(\.\d+)?$"
INTEGER = r"^-?\d+$"


class ZeekHeaderError(ValueError):
    """The file does not start with a usable Zeek ``#fields`` header."""


@dataclass(frozen=True)
class ZeekHeader:
    """What the ``#`` lines at the top of a Zeek TSV log say, and how long they are."""

    fields: tuple[str, ...]
    types: tuple[str, ...] = ()
    separator: str = "\t"
    set_separator: str = ","
    empty_field: str = "(empty)"
    unset_field: str = "-"
    path: str = ""
    lines: int = 0  # number of header lines
    size: int = 0  # bytes of header

    def type_of(self, name: str) -> str:
        index = self.fields.index(name)
        return self.types[index] if index < len(self.types) else ""


def _unescape(value: str) -> str:
    # Zeek writes the separator as an escape such as \x09.
    try:
        return value.encode("ascii", "replace").decode("unicode_escape")
    except UnicodeDecodeError:
        raise ZeekHeaderError(f"unreadable separator {value!r} in the Zeek header") from None


def parse_header(lines: list[bytes], size: int) -> ZeekHeader:
    """Build the header from the ``#`` lines at the top of a log (bytes, newline stripped)."""
    separator = "\t"
    meta: dict[str, list[str]] = {}
    for raw in lines:
        line = raw.decode("utf-8", "replace").rstrip("\r")
        if line.startswith("#separator"):
            separator = _unescape(line[len("#separator") :].strip()) or "\t"
            continue
        key, _, rest = line.partition(separator)
        meta[key] = rest.split(separator) if rest else []
    fields = meta.get("#fields")
    if not fields:
        raise ZeekHeaderError("no #fields line in the Zeek header")
    set_sep = meta.get("#set_separator", [","])
    return ZeekHeader(
        fields=tuple(fields),
        types=tuple(meta.get("#types", [])),
        separator=separator,
        set_separator=_unescape(set_sep[0]) if set_sep else ",",
        empty_field=(meta.get("#empty_field") or ["(empty)"])[0],
        unset_field=(meta.get("#unset_field") or ["-"])[0],
        path=(meta.get("#path") or [""])[0],
        lines=len(lines),
        size=size,
    )


def read_header(stream: BinaryIO) -> ZeekHeader:
    """Read the header from the start of a binary stream, leaving it at the first record.

    The stream must support ``peek`` (a ``BufferedReader``) so that the first record is not
    consumed.
    """
    lines: list[bytes] = []
    size = 0
    while len(lines) < MAX_HEADER_LINES:
        ahead = stream.peek(1)[:1]  # type: ignore[attr-defined]
        if ahead != b"#":
            break
        raw = stream.readline()
        size += len(raw)
        lines.append(raw.rstrip(b"\n"))
    return parse_header(lines, size)


def _sniff(head: list[str]) -> bool:
    has_fields = any(line.startswith("#fields") for line in head)
    return has_fields and any(line.startswith(("#separator", "#path")) for line in head)


@dataclass
class _Plan:
    """Which Zeek fields feed which canonical columns, for one header."""

    sources: dict[str, str] = field(default_factory=dict)  # canonical -> zeek field
    host_is_http: bool = False
    hash_fields: list[str] = field(default_factory=list)
    bytes_fields: tuple[str, str] | None = None
    uri: str | None = None

    def dictionary_fields(self) -> set[str]:
        """Fields whose values repeat a lot (clients, servers, names): read as dictionaries."""
        wanted = {self.sources.get(c) for c in ("src_ip", "dst_ip", "host")}
        if self.host_is_http:
            wanted.discard(self.sources.get("host"))  # edited as text below
        return {
            name for name in wanted if name is not None and name not in ("tx_hosts", "rx_hosts")
        }

    @property
    def include(self) -> list[str]:
        wanted = list(self.sources.values()) + self.hash_fields
        if self.bytes_fields:
            wanted.extend(self.bytes_fields)
        if self.uri:
            wanted.append(self.uri)
        return list(dict.fromkeys(wanted))


def plan_columns(header: ZeekHeader) -> _Plan:
    """Map a header's fields onto the canonical schema, by name and Zeek type."""
    present = set(header.fields)
    plan = _Plan()
    if "ts" in present:
        plan.sources["time"] = "ts"
    for canonical, names in IP_PORT_FIELDS.items():
        for name in names:
            if name in present:
                plan.sources[canonical] = name
                break
    if "proto" in present:
        plan.sources["proto"] = "proto"
    for name in HOST_FIELDS:
        if name in present:
            if header.type_of(name) == "addr":  # known_hosts: `host` is an address
                plan.sources.setdefault("src_ip", name)
                continue
            plan.sources["host"] = name
            plan.host_is_http = name == "host"
            break
    if plan.host_is_http and "uri" in present:
        plan.uri = "uri"
    if "answers" in present:
        plan.sources["answers"] = "answers"
    plan.hash_fields = [name for name in HASH_FIELDS if name in present]
    for pair in BYTES_FIELDS:
        if set(pair) <= present:
            plan.bytes_fields = pair
            break
    return plan


class LineTracker:
    """Turns record positions into file line numbers, given the rows pyarrow rejected."""

    def __init__(self, stats: ReadStats, line_offset: int) -> None:
        self.stats = stats
        self.line_offset = line_offset
        self.fields_line = ""  # the header's #fields line, to notice another one later
        self.rejected: list[int] = []  # 1-based physical row numbers, in order
        self.dropped = 0  # rejected rows already folded into earlier batches
        self.records = 0  # rows delivered so far

    @property
    def physical_rows(self) -> int:
        """Lines consumed so far: delivered rows (blank ones too) and rejected ones."""
        return self.records + self.dropped + len(self.rejected)

    def on_invalid(self, row: Any) -> str:
        number = row.number if row.number is not None else 0
        self.rejected.append(number)
        text = (row.text or "").rstrip("\r")
        if not text.startswith("#"):
            self.stats.skip("wrong-field-count", self.line_offset + number)
        elif text.startswith("#fields") and self.fields_line and text != self.fields_line:
            # Logs of another layout appended: their records are read with the first header
            # (and skipped when their field count differs), so say where it happened.
            self.stats.skip("zeek-fields-changed", self.line_offset + number)
        return "skip"

    def lines(self, num_rows: int) -> np.ndarray:
        """File line numbers of the next ``num_rows`` delivered rows."""
        k = np.arange(self.records, self.records + num_rows, dtype=np.int64)
        if self.rejected:
            # A delivered row k sits at physical row p = k + (rejected rows before it).
            rejected = np.asarray(self.rejected, dtype=np.int64) - 1  # 0-based
            shifted = rejected - (self.dropped + np.arange(len(rejected), dtype=np.int64))
            before = self.dropped + np.searchsorted(shifted, k, side="right")
            physical = k + before
            last = int(physical[-1]) if num_rows else -1
            done = int(np.searchsorted(rejected, last, side="right"))
            self.dropped += done
            del self.rejected[:done]
        else:
            physical = k + self.dropped
        self.records += num_rows
        return physical + 1 + self.line_offset


def _to_number(values: pa.Array, target: pa.DataType) -> pa.Array:
    try:
        return pc.cast(values, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        # Masked (btest) or damaged values become null rather than failing the whole block.
        good = pc.match_substring_regex(values, INTEGER if pa.types.is_integer(target) else NUMBER)
        good = pc.fill_null(good, False)
        try:
            return pc.cast(pc.if_else(good, values, pa.scalar(None, pa.string())), target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            # Digits out of the type's range (a port of 99999999999): null, one value at a time.
            return pa.array([_number_or_none(v, target) for v in values.to_pylist()], target)


def _number_or_none(text: str | None, target: pa.DataType) -> Any:
    try:
        return pa.scalar(text, pa.string()).cast(target).as_py() if text is not None else None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _to_time(values: pa.Array) -> pa.Array:
    seconds = _to_number(values, pa.float64())
    # Times outside the years 1-9999 (and inf, nan) are damage: null, as in every format.
    micros = pc.round(pc.multiply(seconds, 1_000_000.0))
    low, high = pa.scalar(float(MIN_MICROS)), pa.scalar(float(MAX_MICROS))
    inside = pc.and_(pc.greater_equal(micros, low), pc.less_equal(micros, high))
    micros = pc.if_else(pc.fill_null(inside, False), micros, pa.scalar(None, pa.float64()))
    return pc.cast(pc.cast(micros, pa.int64()), LOG_SCHEMA.field("time").type)


def _first_of_set(values: pa.Array, sep: str) -> pa.Array:
    return pc.list_element(pc.split_pattern(values, sep, max_splits=1), 0)


def _hashes(table: pa.RecordBatch, names: list[str]) -> pa.Array:
    columns = [table.column(name) for name in names]
    joined = pc.binary_join_element_wise(*columns, ",", null_handling="skip")
    empty = pc.equal(joined, "")
    return pc.split_pattern(pc.if_else(empty, pa.scalar(None, pa.string()), joined), ",")


def _http_url(host: pa.Array, uri: pa.Array) -> pa.Array:
    absolute = pc.fill_null(pc.starts_with(uri, "http"), False)
    relative = pc.fill_null(pc.starts_with(uri, "/"), False)
    built = pc.binary_join_element_wise("http://", host, uri, "")
    none = pa.scalar(None, pa.string())
    return pc.if_else(absolute, uri, pc.if_else(relative, built, none))


def to_canonical(
    raw: pa.RecordBatch,
    header: ZeekHeader,
    plan: _Plan,
    lines: np.ndarray,
    file: str,
    dictionary: bool = False,
) -> pa.RecordBatch:
    """Convert one parsed block of Zeek fields (all strings) into a canonical batch.

    With ``dictionary``, address and name columns stay dictionary-encoded (the kernel then
    looks each distinct value up once) instead of taking the canonical string type.
    """
    cols: dict[str, Any] = {}
    src = plan.sources
    sep = header.set_separator
    for canonical, name in src.items():
        values = raw.column(name)
        if canonical == "time":
            cols[canonical] = _to_time(values)
        elif canonical in ("src_port", "dst_port"):
            cols[canonical] = _to_number(values, pa.int32())
        elif canonical == "answers":
            # Answers hold addresses and, for CNAME/PTR records, names: the kernel takes both.
            cols[canonical] = pc.split_pattern(values, sep)
        elif header.type_of(name).startswith(("set", "vector", "table")):
            cols[canonical] = _first_of_set(values, sep)
        else:
            cols[canonical] = values
    if plan.host_is_http and "host" in cols:
        # An HTTP Host header may carry the port; the indicator is the name.
        cols["host"] = pc.replace_substring_regex(cols["host"], r":\d+$", "")
        if plan.uri:
            cols["url"] = _http_url(cols["host"], raw.column(plan.uri))
    if plan.hash_fields:
        cols["hashes"] = _hashes(raw, plan.hash_fields)
    if plan.bytes_fields:
        a, b = (_to_number(raw.column(n), pa.int64()) for n in plan.bytes_fields)
        cols["bytes"] = pc.add(pc.fill_null(a, 0), pc.fill_null(b, 0))
    n = raw.num_rows
    arrays = []
    for fld in LOG_SCHEMA:
        value = cols.get(fld.name)
        if fld.name == "log_type":
            value = pa.DictionaryArray.from_arrays(
                pa.array(np.zeros(n, dtype=np.int32)), pa.array([header.path or "zeek"])
            )
        elif fld.name == "file":
            value = pa.DictionaryArray.from_arrays(
                pa.array(np.zeros(n, dtype=np.int32)), pa.array([file])
            )
        elif fld.name == "line":
            value = pa.array(lines)
        if value is None:
            value = pa.nulls(n, fld.type)
        elif value.type != fld.type and not (dictionary and pa.types.is_dictionary(value.type)):
            value = value.cast(fld.type)
        arrays.append(value)
    if dictionary:
        return pa.RecordBatch.from_arrays(arrays, names=LOG_SCHEMA.names)
    return pa.RecordBatch.from_arrays(arrays, schema=LOG_SCHEMA)


def read_records(
    stream: IO[bytes] | pa.NativeFile,
    header: ZeekHeader,
    file: str,
    stats: ReadStats,
    line_offset: int | None = None,
    block_size: int | None = None,
    tracker: LineTracker | None = None,
    dictionary: bool = False,
) -> Iterator[pa.RecordBatch]:
    """Canonical batches of the records in ``stream``, which starts after the header.

    ``line_offset`` is the number of lines before the stream's first byte (the header's by
    default); a byte range of a big file passes its own. A ``tracker`` given by the caller
    tells afterwards how many lines the stream held. ``dictionary``: see ``to_canonical``.
    """
    plan = plan_columns(header)
    include = plan.include
    offset = header.lines if line_offset is None else line_offset
    tracker = tracker if tracker is not None else LineTracker(stats, offset)
    tracker.fields_line = "#fields" + header.separator + header.separator.join(header.fields)
    if not include:
        return
    try:
        encoded = plan.dictionary_fields() if dictionary else set()
        reader = _open_csv(stream, header, include, tracker, block_size, encoded)
    except pa.ArrowInvalid as exc:
        if "Empty CSV" in str(exc):  # a log with its header only: no records, no error
            return
        raise
    for raw in reader:
        if raw.num_rows == 0:
            continue
        lines = tracker.lines(raw.num_rows)
        # A blank line parses as a row of nothing: drop it, it is not a record.
        present = pc.is_valid(raw.column(0))
        if raw.column(0).null_count:
            for name in include[1:]:
                present = pc.or_(present, pc.is_valid(raw.column(name)))
        if raw.column(0).null_count and not pc.all(present).as_py():
            raw = raw.filter(present)
            lines = lines[present.to_numpy(zero_copy_only=False)]
            if raw.num_rows == 0:
                continue
        yield to_canonical(raw, header, plan, lines, file, dictionary)


def _open_csv(
    stream: IO[bytes] | pa.NativeFile,
    header: ZeekHeader,
    include: list[str],
    tracker: LineTracker,
    block_size: int | None,
    encoded: set[str],
) -> pacsv.CSVStreamingReader:
    return pacsv.open_csv(
        stream,
        read_options=pacsv.ReadOptions(
            column_names=list(header.fields),
            use_threads=False,
            block_size=block_size or BLOCK_SIZE,
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=header.separator,
            quote_char=False,
            double_quote=False,
            escape_char=False,
            newlines_in_values=False,
            ignore_empty_lines=False,
            invalid_row_handler=tracker.on_invalid,
        ),
        convert_options=pacsv.ConvertOptions(
            include_columns=include,
            column_types={name: DICTIONARY if name in encoded else pa.string() for name in include},
            null_values=[header.unset_field, header.empty_field, ""],
            strings_can_be_null=True,
        ),
    )


def _binary(stream: IO[Any]) -> IO[bytes]:
    # The reader hands text formats a TextIOWrapper; this format reads its bytes directly.
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        return buffer
    return io.BufferedReader(io.BytesIO(stream.read().encode("utf-8")))


def read(stream: IO[Any], ctx: ReadContext) -> Iterator[pa.RecordBatch]:
    binary = _binary(stream)
    if not hasattr(binary, "peek"):
        binary = io.BufferedReader(binary)  # type: ignore[type-var]
    try:
        header = read_header(binary)  # type: ignore[arg-type]
    except ZeekHeaderError:
        ctx.stats.skip("no-zeek-header", 1)
        return
    yield from read_records(binary, header, ctx.file, ctx.stats)


FORMAT = LogFormat(
    name=NAME,
    description="Zeek TSV logs with a #fields header (conn, dns, http, ssl, files, ...)",
    sniff=_sniff,
    read=read,
    priority=10,
)
