"""Zeek logs written as JSON lines (conn, dns, http, ssl, files ...), also inside Splunk exports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any

import pyarrow as pa

from lamsach.logs.formats import LogFormat, ReadContext, ReadStats
from lamsach.logs.formats._columnar import read_chunks
from lamsach.logs.formats._rows import (
    clean_host,
    epoch_or_iso_micros,
    first_json,
    ip_or_none,
    ips_in,
    json_lines,
    to_int,
    to_port,
)

COLUMNS = (
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
    "log_type",
    "line",
)

# Zeek's own log names, trusted from a Splunk source path; other names (a renamed file) are not.
_KNOWN_PATHS = frozenset((
    "conn", "dns", "http", "ssl", "files", "x509", "notice", "weird", "smtp", "ssh", "ftp",
    "dhcp", "rdp", "smb_files", "smb_mapping", "dce_rpc", "kerberos", "ntlm", "sip", "snmp",
    "tunnel", "intel", "software", "known_hosts", "quic",
))  # fmt: skip
_HASH_FIELDS = ("md5", "sha1", "sha256")


def _unwrap(record: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """The Zeek record inside a Splunk export row, with the log name from its source path."""
    result = record.get("result")
    if not isinstance(result, dict) or not isinstance(result.get("_raw"), str):
        return None, None
    try:
        inner = json.loads(result["_raw"])
    except (ValueError, RecursionError):  # RecursionError: hostile nesting
        return None, None
    if not isinstance(inner, dict):
        return None, None
    source = result.get("source")
    path = None
    if isinstance(source, str):
        path = source.rsplit("/", 1)[-1].split(".", 1)[0] or None
    return inner, path


def _is_zeek(record: dict[str, Any]) -> bool:
    return "ts" in record and (
        "id.orig_h" in record
        or isinstance(record.get("id"), dict)
        or "fuid" in record
        or "_path" in record
    )


def _log_type(record: dict[str, Any], hint: str | None) -> str:
    # Zeek writes "_path" only when configured to; otherwise the fields tell the log apart.
    path = record.get("_path")
    if isinstance(path, str) and path:
        return path
    if hint in _KNOWN_PATHS:
        return hint
    if "query" in record or "qtype_name" in record:
        return "dns"
    if "fuid" in record:
        return "files"
    if "method" in record or "status_code" in record or "trans_depth" in record:
        return "http"
    if "server_name" in record or "cipher" in record or "ja3" in record:
        return "ssl"
    if "conn_state" in record or "history" in record or "duration" in record:
        return "conn"
    return "zeek"


def _host_of(header: Any) -> str | None:
    # An HTTP Host header may carry a port ("example.com:8080") or be a bracketed IPv6 address.
    if not isinstance(header, str) or not header:
        return None
    if header.startswith("["):
        return clean_host(header[1:].split("]", 1)[0])
    if header.count(":") == 1:
        header = header.split(":", 1)[0]
    return clean_host(header)


def _http_url(record: dict[str, Any]) -> str | None:
    uri = record.get("uri")
    if not isinstance(uri, str) or not uri:
        return None
    if "://" in uri[:12]:
        return uri  # a request to a proxy carries the absolute URL
    host = record.get("host")
    if not isinstance(host, str) or not host:
        return None
    return f"http://{host}{uri if uri.startswith('/') else '/' + uri}"


def _hashes(record: dict[str, Any]) -> list[str] | None:
    found = [
        value.lower()
        for name in _HASH_FIELDS
        if isinstance(value := record.get(name), str) and value not in ("", "-")
    ]
    return found or None


def _sum_bytes(a: Any, b: Any) -> int | None:
    first, second = to_int(a), to_int(b)
    if first is None and second is None:
        return None
    return to_int((first or 0) + (second or 0))


def _row(record: dict[str, Any], hint: str | None, line_no: int) -> tuple[Any, ...] | None:
    log_type = _log_type(record, hint)
    ident = record.get("id")
    if isinstance(ident, dict):  # nested "id" object written by some JSON shippers
        src, sport = ident.get("orig_h"), ident.get("orig_p")
        dst, dport = ident.get("resp_h"), ident.get("resp_p")
    else:
        src, sport = record.get("id.orig_h"), record.get("id.orig_p")
        dst, dport = record.get("id.resp_h"), record.get("id.resp_p")
    if src is None and dst is None and log_type == "files":
        # files.log before Zeek 5 names the hosts only: the receiver is normally the client.
        rx, tx = record.get("rx_hosts"), record.get("tx_hosts")
        src = rx[0] if isinstance(rx, list) and rx else None
        dst = tx[0] if isinstance(tx, list) and tx else None
    src, dst = ip_or_none(src), ip_or_none(dst)
    host = url = answers = hashes = None
    size = None
    proto = record.get("proto")
    if log_type == "dns":
        host = clean_host(record.get("query"))
        raw_answers = record.get("answers")
        answers = ips_in(raw_answers) if isinstance(raw_answers, list) else None
    elif log_type == "http":
        host = _host_of(record.get("host"))
        url = _http_url(record)
        size = _sum_bytes(record.get("request_body_len"), record.get("response_body_len"))
        proto = proto or "tcp"
    elif log_type == "ssl":
        host = clean_host(record.get("server_name"))
        cert = record.get("resp_certificate_sha1")
        hashes = [cert.lower()] if isinstance(cert, str) and cert else None
        proto = proto or "tcp"
    elif log_type == "files":
        hashes = _hashes(record)
        size = to_int(record.get("seen_bytes"))
        if size is None:
            size = to_int(record.get("total_bytes"))
    elif log_type == "conn":
        size = _sum_bytes(record.get("orig_bytes"), record.get("resp_bytes"))
    if src is None and dst is None and host is None and hashes is None:
        return None
    return (
        epoch_or_iso_micros(record.get("ts")),
        src,
        to_port(sport),
        dst,
        to_port(dport),
        proto.lower() if isinstance(proto, str) else None,
        host,
        url,
        answers,
        hashes,
        size,
        log_type,
        line_no,
    )


def _read_lines(lines: list[str], first_line: int, stats: ReadStats) -> Iterator[tuple[Any, ...]]:
    for line_no, record in json_lines(lines, first_line, stats):
        if not isinstance(record, dict):
            stats.skip("not a JSON object", line_no)
            continue
        hint = None
        if "ts" not in record and "result" in record:
            record, hint = _unwrap(record)
            if record is None:
                stats.skip("Splunk export row without a Zeek record", line_no)
                continue
        if "ts" not in record:
            stats.skip("not a Zeek record (no ts)", line_no)
            continue
        row = _row(record, hint, line_no)
        if row is None:
            stats.skip("ignored: Zeek record without addresses, host or hashes", line_no)
            continue
        yield row


def read_lines(stream: IO[Any], ctx: ReadContext, fast: bool = True) -> Iterator[pa.RecordBatch]:
    """Batches of a Zeek JSON stream; ``fast`` tries each chunk with Arrow first."""
    # Imported here: it needs polars, which detecting a format must not load.
    from lamsach.logs.formats._zeek_json_fast import fast_batch

    return read_chunks(
        stream,
        ctx,
        COLUMNS,
        lambda lines, first: _read_lines(lines, first, ctx.stats),
        (lambda lines, first: fast_batch(lines, first, ctx.file)) if fast else None,
    )


def read(stream: IO[Any], ctx: ReadContext) -> Iterator[pa.RecordBatch]:
    return read_lines(stream, ctx)


def sniff(head: list[str]) -> bool:
    record = first_json(head)
    if not isinstance(record, dict):
        return False
    if "ts" not in record and "result" in record:
        record, _ = _unwrap(record)
        if record is None:
            return False
    return _is_zeek(record)


FORMAT = LogFormat(
    name="zeek-json",
    description="Zeek logs as JSON lines (conn, dns, http, ssl, files; Splunk exports too)",
    sniff=sniff,
    read=read,
    priority=20,
    splittable=True,
)
