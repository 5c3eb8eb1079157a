"""nfdump flow records exported with ``nfdump -o csv``, read in blocks with pyarrow's CSV reader.

The header names the columns (``ts,te,td,sa,da,sp,dp,pr,flg,...,ibyt,...``); the ``Summary``
trailer nfdump appends is not data. Times are the collector's clock, taken as UTC.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import IO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from lamsach.logs.formats import LogFormat, ReadContext
from lamsach.logs.formats._netfields import arrow_zone, proto_name
from lamsach.logs.formats._rows import local_zone
from lamsach.logs.schema import batch_from_columns

# nfdump 1.6/1.7 "-o csv" columns, used when the header was cut off (nfdump -q).
DEFAULT_HEADER = (
    "ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt,in,out,sas,das,smk,dmk,dtos,dir,"
    "nh,nhb,svln,dvln,ismc,odmc,idmc,osmc,mpls1,mpls2,mpls3,mpls4,mpls5,mpls6,mpls7,mpls8,"
    "mpls9,mpls10,cl,sl,al,ra,eng,exid,tr"
)
WANTED = ("ts", "sa", "da", "sp", "dp", "pr", "ibyt", "obyt")
BLOCK_CHARS = 1 << 22
_IP_CHARS = r"^[0-9A-Fa-f:.]+$"


# Current nfdump releases name the CSV columns in words; they are read as the short names.
RENAME = {
    "firstSeen": "ts",
    "lastSeen": "te",
    "duration": "td",
    "proto": "pr",
    "srcAddr": "sa",
    "dstAddr": "da",
    "srcPort": "sp",
    "dstPort": "dp",
    "inBytes": "ibyt",
    "bytes": "ibyt",
    "outBytes": "obyt",
}


def sniff(head: list[str]) -> bool:
    if not head:
        return False
    first = head[0].lstrip("\ufeff")
    if first.startswith("ts,te,td,sa,da,sp,dp,pr,"):
        return True
    names = set(first.split(","))
    return {"firstSeen", "srcAddr", "dstAddr"} <= names


def column_names(header: str) -> list[str]:
    """The header's column names in nfdump's short form; a repeated name keeps its first place."""
    names: list[str] = []
    for raw in header.split(","):
        name = RENAME.get(raw.strip(), raw.strip())
        names.append(name if name not in names else f"{name}#{len(names)}")
    return names


def _ints(values: pa.Array) -> pa.Array:
    digits = pc.match_substring_regex(values, r"^\d{1,18}$")
    return pc.cast(pc.if_else(digits, values, pa.scalar(None, pa.string())), pa.int64())


def _times(values: pa.Array, zone: str | None = None) -> pa.Array:
    # "2024-01-08 12:34:56.789": whole seconds by strptime, the fraction added as microseconds;
    # "1704717296.789" (nfdump's raw %tsr) is seconds since the epoch.
    raw = pc.extract_regex(values, r"^(?P<s>\d{1,11})(?:\.(?P<f>\d{1,6}))?$")
    is_raw = pc.fill_null(pc.is_valid(raw), False)
    whole = pc.cast(pc.if_else(is_raw, raw.field("s"), "0"), pa.int64())
    part = pc.utf8_rpad(pc.fill_null(pc.if_else(is_raw, raw.field("f"), ""), ""), 6, "0")
    epoch = pc.add(pc.multiply(whole, 1_000_000), pc.cast(part, pa.int64()))
    seconds = pc.strptime(
        pc.utf8_slice_codeunits(values, 0, 19), "%Y-%m-%d %H:%M:%S", "us", error_is_null=True
    )
    fraction = pc.utf8_slice_codeunits(values, 20, 26)
    digits = pc.match_substring_regex(fraction, r"^\d{1,6}$")
    padded = pc.utf8_rpad(pc.if_else(digits, fraction, "0"), 6, "0")
    micros = pc.cast(padded, pa.int64())
    stamps = pc.add(pc.cast(seconds, pa.int64()), micros)
    if zone is not None:  # the collector's local clock, named by the tz option
        local = pc.assume_timezone(
            pc.cast(stamps, pa.timestamp("us")),
            timezone=zone,
            ambiguous="earliest",
            nonexistent="earliest",
        )
        stamps = pc.cast(pc.cast(local, pa.timestamp("us", tz="UTC")), pa.int64())
    stamps = pc.if_else(is_raw, epoch, stamps)
    return pc.cast(stamps, pa.timestamp("us", tz="UTC"))


def _protocols(values: pa.Array) -> pa.Array:
    encoded = pc.dictionary_encode(values)
    names = pa.array([proto_name(text) for text in encoded.dictionary.to_pylist()], pa.string())
    return pc.take(names, encoded.indices)


def _block_batch(
    text: str, names: list[str], first_line: int, ctx: ReadContext
) -> pa.RecordBatch | None:
    invalid: list[int] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        if row.text and row.number is not None:
            ctx.stats.skip("bad flow line", first_line + row.number - 1)
        if row.number is not None:
            invalid.append(row.number)
        return "skip"

    table = pacsv.read_csv(
        io.BytesIO(text.encode("utf-8")),
        read_options=pacsv.ReadOptions(column_names=names, use_threads=False),
        # nfdump never quotes: a stray quote must not join lines into one value
        parse_options=pacsv.ParseOptions(
            quote_char=False, invalid_row_handler=on_invalid, ignore_empty_lines=False
        ),
        convert_options=pacsv.ConvertOptions(
            include_columns=[name for name in WANTED if name in names],
            column_types={name: pa.string() for name in names},
        ),
    )
    total = text.count("\n") + (0 if text.endswith("\n") else 1)
    lines = np.setdiff1d(np.arange(1, total + 1), np.asarray(invalid, dtype=np.int64))
    lines = lines + (first_line - 1)
    if len(lines) != table.num_rows:  # cannot happen without quoting; never guess line numbers
        for line in range(first_line, first_line + total):
            ctx.stats.skip("bad flow line", line)
        return None
    src, dst = table.column("sa").combine_chunks(), table.column("da").combine_chunks()
    good = pc.and_(
        pc.fill_null(pc.match_substring_regex(src, _IP_CHARS), False),
        pc.fill_null(pc.match_substring_regex(dst, _IP_CHARS), False),
    )
    good_np = good.to_numpy(zero_copy_only=False)
    # A blank line comes out as a row of empty strings: not data, but not an error either.
    blank = pc.fill_null(pc.equal(src, ""), True).to_numpy(zero_copy_only=False)
    for line in lines[~good_np & ~blank]:
        ctx.stats.skip("bad flow line", int(line))
    table = table.filter(good)
    if table.num_rows == 0:
        return None
    columns: dict[str, object] = {
        "src_ip": table.column("sa"),
        "dst_ip": table.column("da"),
        "line": pa.array(lines[good_np], pa.int64()),
        "log_type": pa.array(["flow"] * table.num_rows, pa.string()),
        "file": pa.array([ctx.file] * table.num_rows, pa.string()),
    }
    if "ts" in names:
        columns["time"] = _times(table.column("ts").combine_chunks(), arrow_zone(local_zone(ctx)))
    for name, key in (("src_port", "sp"), ("dst_port", "dp")):
        if key in names:
            ports = _ints(table.column(key).combine_chunks())
            in_range = pc.less_equal(ports, 65_535)
            columns[name] = pc.if_else(in_range, ports, pa.scalar(None, pa.int64()))
    if "pr" in names:
        columns["proto"] = _protocols(table.column("pr").combine_chunks())
    if "ibyt" in names:
        size = _ints(table.column("ibyt").combine_chunks())
        if "obyt" in names:
            size = pc.add(size, pc.fill_null(_ints(table.column("obyt").combine_chunks()), 0))
        columns["bytes"] = size
    return batch_from_columns(columns, table.num_rows)


def read(stream: IO[str], ctx: ReadContext) -> Iterator[pa.RecordBatch]:
    line_no = 0
    names = DEFAULT_HEADER.split(",")
    pending = ""
    while True:
        first = stream.readline()
        if not first:
            return
        line_no += 1
        if first.strip():
            break
    header = first.strip().lstrip("\ufeff")
    if header.startswith("ts,") or sniff([header]):
        names = column_names(header)
        missing = [name for name in ("sa", "da") if name not in names]
        if missing:
            ctx.stats.skip("header without addresses", line_no)
            return
    else:
        pending = first  # nfdump -q: no header, the first line is already a flow
        line_no -= 1
    finished = False
    while not finished:
        chunk = stream.read(BLOCK_CHARS)
        text = pending + chunk
        if not chunk:
            finished = True
        else:
            cut = text.rfind("\n") + 1
            text, pending = text[:cut], text[cut:]
        # nfdump ends its CSV with a "Summary" section that is not flow data.
        trailer = text.find("Summary") if "Summary" in text else -1
        if trailer >= 0 and (trailer == 0 or text[trailer - 1] == "\n"):
            text, finished = text[:trailer], True
        if text.strip():
            batch = _block_batch(text, names, line_no + 1, ctx)
            if batch is not None:
                for start in range(0, batch.num_rows, max(1, ctx.batch_size)):
                    yield batch.slice(start, ctx.batch_size)
        line_no += text.count("\n")


FORMAT = LogFormat(
    name="nfdump",
    description="nfdump flows exported as CSV (nfdump -o csv)",
    sniff=sniff,
    read=read,
    priority=20,
)
