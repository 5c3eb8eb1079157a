"""Suricata EVE chunks mapped by column (Arrow parse, polars expressions) instead of per line.

Gives what ``suricata``'s per-line reader gives; returns None (the caller reads the chunk per
line) when Arrow cannot parse the chunk or a field has a shape the expressions do not expect.
"""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from lamsach.logs.formats import ReadStats
from lamsach.logs.formats._columnar import (
    answers_as_read,
    arrow_table,
    has_boolean,
    has_non_text,
    host_expr,
    ip_series,
    micros_of,
    port_expr,
)
from lamsach.logs.schema import batch_from_columns

_ADDRESS_TYPES = ["A", "AAAA"]
# Fields the per-line reader takes only as text (anything else there means no value).
_TEXT_FIELDS = (
    ("proto",), ("dns", "type"), ("dns", "rrname"), ("dns", "rrtype"), ("dns", "rdata"),
    ("dns", "queries", "rrname"), ("dns", "query", "rrname"), ("dns", "answers", "rrname"),
    ("dns", "answers", "rrtype"), ("http", "hostname"), ("http", "url"), ("tls", "sni"),
    ("quic", "sni"), ("tls", "fingerprint"), ("fileinfo", "md5"), ("fileinfo", "sha1"),
    ("fileinfo", "sha256"), ("alert", "action"), ("flow", "action"), ("netflow", "action"),
)  # fmt: skip
_NUMBER_FIELDS = (
    ("src_port",), ("dest_port",), ("http", "http_port"), ("http", "length"), ("fileinfo", "size"),
    ("flow", "bytes_toserver"), ("flow", "bytes_toclient"), ("netflow", "bytes"),
)  # fmt: skip
_NO_LIST = pl.lit([], dtype=pl.List(pl.String))


class _Fields:
    """Nested fields by path, or a typed null where the chunk has no such field."""

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema

    def has(self, *path: str) -> bool:
        if path[0] not in self.schema.names:
            return False
        kind = self.schema.field(path[0]).type
        for name in path[1:]:
            if not pa.types.is_struct(kind) or kind.get_field_index(name) < 0:
                return False
            kind = kind.field(name).type
        return True

    def get(self, *path: str, dtype: pl.DataType | type[pl.DataType] = pl.String) -> pl.Expr:
        if not self.has(*path):
            return pl.lit(None, dtype=dtype)
        expr = pl.col(path[0])
        for name in path[1:]:
            expr = expr.struct.field(name)
        return expr

    def first_rrname(self, *path: str) -> pl.Expr:
        if not self.has(*path):
            return pl.lit(None, dtype=pl.String)
        return self.get(*path).list.first().struct.field("rrname")


def _dns_host(f: _Fields) -> pl.Expr:
    return host_expr(
        pl.coalesce(
            f.get("dns", "rrname"),
            f.first_rrname("dns", "queries"),
            f.first_rrname("dns", "query"),
            f.first_rrname("dns", "answers"),
        )
    )


def _dns_answers(f: _Fields) -> pl.Expr:
    pieces = [
        pl.when(f.get("dns", "rrtype").is_in(_ADDRESS_TYPES) & f.get("dns", "rdata").is_not_null())
        .then(pl.concat_list(f.get("dns", "rdata")))
        .otherwise(_NO_LIST)
    ]
    if f.has("dns", "answers"):
        answers = f.get("dns", "answers").list.eval(
            pl.element()
            .filter(pl.element().struct.field("rrtype").is_in(_ADDRESS_TYPES))
            .struct.field("rdata")
        )
        pieces.append(answers.fill_null(_NO_LIST))
    for rrtype in _ADDRESS_TYPES:
        if f.has("dns", "grouped", rrtype):
            pieces.append(f.get("dns", "grouped", rrtype).fill_null(_NO_LIST))
    return pl.concat_list(pieces).list.drop_nulls()


def _http_url(f: _Fields, host: pl.Expr) -> pl.Expr:
    path = f.get("http", "url")
    port = port_expr(f.get("http", "http_port", dtype=pl.Int64))
    other_port = port.is_not_null() & (port != 0) & (port != 80)
    bracketed = pl.when(host.str.contains(":", literal=True)).then("[" + host + "]").otherwise(host)
    authority = (
        pl.when(other_port).then(bracketed + ":" + port.cast(pl.String)).otherwise(bracketed)
    )
    slash = pl.when(path.str.starts_with("/")).then(path).otherwise("/" + path)
    return (
        pl.when(path.is_null() | (path == ""))
        .then(None)
        .when(path.str.slice(0, 12).str.contains("://", literal=True))
        .then(path)
        .when(host.is_not_null())
        .then("http://" + authority + slash)
    )


def _sum(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    return pl.when(a.is_null() & b.is_null()).then(None).otherwise(a.fill_null(0) + b.fill_null(0))


def _hashes(f: _Fields) -> pl.Expr:
    values = [
        pl.when(v.is_not_null() & (v != "")).then(pl.concat_list(v.str.to_lowercase()))
        .otherwise(_NO_LIST)
        for v in (f.get("fileinfo", name) for name in ("md5", "sha1", "sha256"))
    ]  # fmt: skip
    found = pl.concat_list(values)
    fingerprint = f.get("tls", "fingerprint").str.replace_all(":", "", literal=True)
    return (
        pl.when(fingerprint.is_not_null())
        .then(pl.concat_list(fingerprint.str.to_lowercase()))
        .when((pl.col("log_type") == "fileinfo") & (found.list.len() > 0))
        .then(found)
    )


def _checked(frame: pl.DataFrame, column: str) -> pl.Expr:
    # Checked as the per-line reader does; IPv6 written in full ("fe80:0000:...") compressed.
    return pl.lit(ip_series(frame.get_column(column)))


def _frame(table: pa.Table) -> pl.DataFrame:
    f = _Fields(table.schema)
    frame = pl.from_arrow(table.drop_columns(["timestamp"]))
    assert isinstance(frame, pl.DataFrame)
    et = pl.col("event_type")
    dns_here = (
        (et.is_in(["dns", "alert"]) & pl.col("dns").is_not_null())
        if f.has("dns")
        else pl.lit(False)
    )
    http_here = (
        (et.is_in(["http", "alert", "fileinfo"]) & pl.col("http").is_not_null())
        if f.has("http")
        else pl.lit(False)
    )
    sport = port_expr(f.get("src_port", dtype=pl.Int64))
    dport = port_expr(f.get("dest_port", dtype=pl.Int64))
    answer = f.get("dns", "type") == "answer"
    swap = dns_here & answer & (sport == 53) & (dport.is_null() | (dport != 53))
    http_host = host_expr(f.get("http", "hostname"))
    host = pl.when(http_here).then(http_host).otherwise(pl.when(dns_here).then(_dns_host(f)))
    host = pl.coalesce(host, host_expr(f.get("tls", "sni")), host_expr(f.get("quic", "sni")))
    flow_bytes = _sum(
        f.get("flow", "bytes_toserver", dtype=pl.Int64),
        f.get("flow", "bytes_toclient", dtype=pl.Int64),
    )
    size = (
        pl.when(et == "fileinfo")
        .then(f.get("fileinfo", "size", dtype=pl.Int64))
        .when(et == "flow")
        .then(flow_bytes)
        .when(et == "netflow")
        .then(f.get("netflow", "bytes", dtype=pl.Int64))
        .when(et == "http")
        .then(pl.when(http_here).then(f.get("http", "length", dtype=pl.Int64)))
        .when(et.is_in(["alert", "drop"]))
        .then(flow_bytes)
    )
    flow_action = f.get("flow", "action")
    action = (
        pl.when(et.is_in(["alert", "drop"]))
        .then(f.get("alert", "action"))
        .when((et == "flow") & flow_action.is_in(["drop", "reject"]))
        .then(flow_action)
        .when((et == "netflow") & f.get("netflow", "action").is_in(["drop", "reject"]))
        .then(f.get("netflow", "action"))
    )
    frame = frame.with_columns(et.alias("log_type"))
    src, dst = _checked(frame, "src_ip"), _checked(frame, "dest_ip")
    return frame.select(
        pl.when(swap).then(dst).otherwise(src).alias("src_ip"),
        pl.when(swap).then(dport).otherwise(sport).alias("src_port"),
        pl.when(swap).then(src).otherwise(dst).alias("dst_ip"),
        pl.when(swap).then(sport).otherwise(dport).alias("dst_port"),
        f.get("proto").str.to_lowercase().alias("proto"),
        host.alias("host"),
        pl.when(http_here).then(_http_url(f, http_host)).alias("url"),
        pl.when(dns_here).then(_dns_answers(f)).alias("answers"),
        _hashes(f).alias("hashes"),
        size.alias("bytes"),
        action.alias("action"),
        pl.col("log_type"),
    )


def fast_batch(
    lines: list[str], first_line: int, file: str, stats: ReadStats
) -> pa.RecordBatch | None:
    """The canonical batch of a chunk of EVE lines, or None to read it per line."""
    table = arrow_table(lines)
    if table is None or not {"timestamp", "event_type", "src_ip", "dest_ip"}.issubset(
        table.column_names
    ):
        return None
    if not all(pa.types.is_string(table.schema.field(n).type) for n in ("event_type", "src_ip")):
        return None
    if table.column("event_type").null_count:
        return None
    if has_boolean(table.schema, *_NUMBER_FIELDS) or has_non_text(table.schema, *_TEXT_FIELDS):
        return None
    micros = micros_of(table.column("timestamp"))
    if micros is None:
        return None
    out = _frame(table)
    # Addresses the per-line reader would refuse (it validates them) send the chunk there.
    if not answers_as_read(out.get_column("answers")):
        return None
    out = out.with_columns(
        pl.when(pl.col("answers").list.len() > 0).then(pl.col("answers")).alias("answers"),
        pl.Series("line", range(first_line, first_line + len(lines)), dtype=pl.Int64),
        pl.Series("time", micros),
    )
    keep = pl.col("src_ip").is_not_null() | pl.col("dst_ip").is_not_null()
    ignored = out.filter(~keep).select("log_type", "line").rows()
    out = out.filter(keep)
    columns = {name: out.get_column(name).to_arrow() for name in out.columns}
    columns["file"] = pa.array([file] * out.height, pa.string())
    batch = batch_from_columns(columns, out.height)
    for event_type, line_no in ignored:  # counted last: nothing can fail any more
        # stats and engine events carry no addresses: not an error, but said so.
        stats.skip(f"ignored: {event_type} event (not a network event)", line_no)
    return batch
