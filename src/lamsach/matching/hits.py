"""The schema of a hit: one log record that matched one indicator."""

from __future__ import annotations

import pyarrow as pa

from lamsach.logs.schema import TIME

HIT_SCHEMA = pa.schema(
    [
        pa.field("time", TIME),
        pa.field("suspect", pa.string()),  # the internal host: the device to clean
        pa.field("other", pa.string()),  # the other side of the connection, if any
        pa.field("indicator", pa.string()),  # the listed value that matched
        pa.field("indicator_type", pa.string()),
        pa.field("sources", pa.list_(pa.string())),
        pa.field("tags", pa.list_(pa.string())),
        pa.field("observed", pa.string()),  # the value in the log that matched
        pa.field("field", pa.string()),  # which log column it was in: host, dst_ip, answers, ...
        pa.field("log_type", pa.string()),
        pa.field("file", pa.string()),
        pa.field("line", pa.int64()),
    ]
)
