"""The canonical record schema every log format is read into, and helpers to build batches."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

TIME = pa.timestamp("us", tz="UTC")

LOG_SCHEMA = pa.schema(
    [
        pa.field("time", TIME),
        pa.field("src_ip", pa.string()),
        pa.field("src_port", pa.int32()),
        pa.field("dst_ip", pa.string()),
        pa.field("dst_port", pa.int32()),
        pa.field("proto", pa.string()),  # tcp, udp, icmp, ... lower-case
        pa.field("host", pa.string()),  # DNS query name, HTTP Host, TLS SNI, proxy host
        pa.field("url", pa.string()),  # full URL when the log has one
        pa.field("answers", pa.list_(pa.string())),  # IPs in a DNS answer
        pa.field("hashes", pa.list_(pa.string())),  # file hashes (md5/sha1/sha256), hex
        pa.field("bytes", pa.int64()),
        pa.field("action", pa.string()),  # allow, block, ... as the device said it
        pa.field("log_type", pa.dictionary(pa.int32(), pa.string())),  # dns, conn, http, ...
        pa.field("file", pa.dictionary(pa.int32(), pa.string())),
        pa.field("line", pa.int64()),  # 1-based line (or record) number in the file
    ]
)

COLUMNS: tuple[str, ...] = tuple(LOG_SCHEMA.names)


def batch_from_columns(columns: Mapping[str, Any], num_rows: int | None = None) -> pa.RecordBatch:
    """Build a canonical batch from whichever columns a format has; the rest are null.

    Values may be Python lists or Arrow arrays; they are cast to the canonical types.
    """
    unknown = set(columns) - set(COLUMNS)
    if unknown:
        raise ValueError(f"not canonical log columns: {sorted(unknown)}")
    if num_rows is None:
        num_rows = len(next(iter(columns.values()))) if columns else 0
    arrays = []
    for field in LOG_SCHEMA:
        value = columns.get(field.name)
        if value is None:
            arrays.append(pa.nulls(num_rows, field.type))
            continue
        arr = value if isinstance(value, pa.Array | pa.ChunkedArray) else pa.array(value)
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        if arr.type != field.type:
            arr = arr.cast(field.type)
        arrays.append(arr)
    return pa.RecordBatch.from_arrays(arrays, schema=LOG_SCHEMA)


def batch_from_rows(rows: Sequence[Mapping[str, Any]]) -> pa.RecordBatch:
    """Build a canonical batch from per-record dicts (for the slower, line-by-line formats)."""
    columns = {name: [row.get(name) for row in rows] for name in COLUMNS}
    return batch_from_columns(columns, len(rows))
