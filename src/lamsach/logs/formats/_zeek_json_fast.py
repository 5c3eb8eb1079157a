"""Zeek JSON chunks mapped by column (Arrow parse, polars expressions) instead of per line.

Gives exactly what ``zeek_json``'s per-line reader gives for conn, dns, http, ssl and the other
logs without special fields; returns None (the caller reads the chunk per line) for anything
else: files.log, Splunk wrappers, nested ``id`` objects, records without addresses.
"""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from lamsach.logs.formats._columnar import (
    answers_as_read,
    arrow_table,
    has_boolean,
    has_non_text,
    host_expr,
    ip_series,
    ips_expr,
    micros_of,
    port_expr,
)
from lamsach.logs.schema import batch_from_columns

_STRING = pl.String
# Fields the per-line reader takes only as text (anything else there means no value).
_TEXT_FIELDS = ("_path", "proto", "query", "host", "uri", "server_name", "resp_certificate_sha1")


def _col(names: set[str], name: str) -> pl.Expr:
    return pl.col(name) if name in names else pl.lit(None, dtype=_STRING)


def _present(names: set[str], *fields: str) -> pl.Expr:
    found = [pl.col(name).is_not_null() for name in fields if name in names]
    return pl.any_horizontal(found) if found else pl.lit(False)


def _kind(names: set[str]) -> pl.Expr:
    # The same order of tests as the per-line reader's _log_type.
    return (
        pl.when(_col(names, "_path").is_not_null() & (_col(names, "_path") != ""))
        .then(_col(names, "_path"))
        .when(_present(names, "query", "qtype_name"))
        .then(pl.lit("dns"))
        .when(_present(names, "fuid"))
        .then(pl.lit("files"))
        .when(_present(names, "method", "status_code", "trans_depth"))
        .then(pl.lit("http"))
        .when(_present(names, "server_name", "cipher", "ja3"))
        .then(pl.lit("ssl"))
        .when(_present(names, "conn_state", "history", "duration"))
        .then(pl.lit("conn"))
        .otherwise(pl.lit("zeek"))
    )


def _sum(names: set[str], a: str, b: str) -> pl.Expr:
    if a not in names and b not in names:
        return pl.lit(None, dtype=pl.Int64)
    first = pl.col(a).cast(pl.Int64) if a in names else pl.lit(None, dtype=pl.Int64)
    second = pl.col(b).cast(pl.Int64) if b in names else pl.lit(None, dtype=pl.Int64)
    return (
        pl.when(first.is_null() & second.is_null())
        .then(None)
        .otherwise(first.fill_null(0) + second.fill_null(0))
    )


def _http_host(header: pl.Expr) -> pl.Expr:
    bare = (
        pl.when(header.str.starts_with("["))
        .then(header.str.extract(r"^\[([^\]]*)", 1))
        .when(header.str.count_matches(":") == 1)
        .then(header.str.split(":").list.first())
        .otherwise(header)
    )
    return host_expr(bare)


def _http_url(names: set[str]) -> pl.Expr:
    uri, header = _col(names, "uri"), _col(names, "host")
    absolute = uri.str.slice(0, 12).str.contains("://", literal=True)
    path = pl.when(uri.str.starts_with("/")).then(uri).otherwise(pl.lit("/") + uri)
    return (
        pl.when(uri.is_null() | (uri == ""))
        .then(None)
        .when(absolute)
        .then(uri)
        .when(header.is_not_null() & (header != ""))
        .then(pl.lit("http://") + header + path)
    )


def fast_batch(lines: list[str], first_line: int, file: str) -> pa.RecordBatch | None:
    """The canonical batch of a chunk of Zeek JSON lines, or None to read it per line."""
    # A JSON null is a present key to the per-line reader (it tells logs apart by their keys)
    # but an absent one to Arrow.
    if any(":null" in line or ": null" in line for line in lines):
        return None
    table = arrow_table(lines)
    if table is None or "ts" not in table.column_names or "result" in table.column_names:
        return None
    if "id" in table.column_names or "tx_hosts" in table.column_names:
        return None  # nested id objects and old files.log: the per-line reader knows them
    numbers = ("id.orig_p", "id.resp_p", "orig_bytes", "resp_bytes", "request_body_len")
    if has_boolean(table.schema, *((name,) for name in (*numbers, "response_body_len"))):
        return None
    if has_non_text(table.schema, *((name,) for name in _TEXT_FIELDS)):
        return None
    micros = micros_of(table.column("ts"))
    if micros is None:
        return None
    frame = pl.from_arrow(table.drop_columns(["ts"]))
    assert isinstance(frame, pl.DataFrame)
    names = set(frame.columns)
    kind = pl.col("log_type")
    frame = frame.with_columns(_kind(names).alias("log_type"))
    if frame.select((kind == "files").any()).item():
        return None
    certificate = _col(names, "resp_certificate_sha1").str.to_lowercase()
    proto = _col(names, "proto").str.to_lowercase()
    out = frame.select(
        _col(names, "id.orig_h").alias("src_ip"),
        port_expr(_col(names, "id.orig_p")).alias("src_port"),
        _col(names, "id.resp_h").alias("dst_ip"),
        port_expr(_col(names, "id.resp_p")).alias("dst_port"),
        pl.when(kind.is_in(["http", "ssl"]))
        .then(proto.fill_null("tcp"))
        .otherwise(proto)
        .alias("proto"),
        pl.when(kind == "dns")
        .then(host_expr(_col(names, "query")))
        .when(kind == "http")
        .then(_http_host(_col(names, "host")))
        .when(kind == "ssl")
        .then(host_expr(_col(names, "server_name")))
        .alias("host"),
        pl.when(kind == "http").then(_http_url(names)).alias("url"),
        (
            pl.when(kind == "dns").then(ips_expr(pl.col("answers")))
            if "answers" in names
            else pl.lit(None, dtype=pl.List(_STRING))
        ).alias("answers"),
        pl.when((kind == "ssl") & (certificate.is_not_null()) & (certificate != ""))
        .then(pl.concat_list(certificate))
        .alias("hashes"),
        pl.when(kind == "conn")
        .then(_sum(names, "orig_bytes", "resp_bytes"))
        .when(kind == "http")
        .then(_sum(names, "request_body_len", "response_body_len"))
        .alias("bytes"),
        kind,
    )
    # Checked as the per-line reader checks them (Zeek writes them well; damage does not).
    out = out.with_columns(ip_series(out.get_column("src_ip")), ip_series(out.get_column("dst_ip")))
    # Answers as the per-line reader gives them (IPv6 compressed), else it reads the chunk.
    if not answers_as_read(out.get_column("answers")):
        return None
    empty = out.select(
        (
            pl.col("src_ip").is_null()
            & pl.col("dst_ip").is_null()
            & pl.col("host").is_null()
            & pl.col("hashes").is_null()
        ).any()
    ).item()
    if empty:
        return None
    columns = {name: out.get_column(name).to_arrow() for name in out.columns}
    columns["time"] = micros
    columns["file"] = pa.array([file] * len(lines))
    columns["line"] = pa.array(range(first_line, first_line + len(lines)), pa.int64())
    return batch_from_columns(columns, len(lines))
