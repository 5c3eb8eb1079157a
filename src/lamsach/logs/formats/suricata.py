"""Suricata EVE JSON: dns, flow, http, tls, fileinfo and alert events (other network events too)."""

from __future__ import annotations

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
    "action",
    "log_type",
    "line",
)

_ADDRESS_TYPES = ("A", "AAAA")


def _dns_fields(dns: dict[str, Any]) -> tuple[str | None, list[str] | None]:
    """Query name and answer IPs from any EVE dns version (1: one line per record, 2: grouped
    or detailed answers, 3: ``queries``/``answers`` lists; alerts' ``query`` list)."""
    name = dns.get("rrname")
    for key in ("queries", "query"):  # "query" is how alerts carried it before version 3
        queries = dns.get(key)
        if name is None and isinstance(queries, list) and queries and isinstance(queries[0], dict):
            name = queries[0].get("rrname")
    values: list[Any] = []
    if dns.get("rrtype") in _ADDRESS_TYPES and "rdata" in dns:
        values.append(dns["rdata"])
    answers = dns.get("answers")
    if isinstance(answers, list):
        values.extend(
            a.get("rdata")
            for a in answers
            if isinstance(a, dict) and a.get("rrtype") in _ADDRESS_TYPES
        )
    grouped = dns.get("grouped")
    if isinstance(grouped, dict):
        for rrtype in _ADDRESS_TYPES:
            group = grouped.get(rrtype)
            if isinstance(group, list):
                values.extend(group)
    if name is None and isinstance(answers, list) and answers:
        first = answers[0]
        name = first.get("rrname") if isinstance(first, dict) else None
    return clean_host(name if isinstance(name, str) else None), ips_in(values) if values else None


def _http_fields(http: dict[str, Any]) -> tuple[str | None, str | None]:
    hostname = http.get("hostname")
    host = clean_host(hostname if isinstance(hostname, str) else None)
    path = http.get("url")
    if not isinstance(path, str) or not path:
        return host, None
    if "://" in path[:12]:
        return host, path  # the absolute form a proxy is asked for
    if host is None:
        return None, None
    port = to_port(http.get("http_port"))
    authority = f"{host}:{port}" if port and port != 80 else host
    if ":" in host:
        authority = f"[{host}]:{port}" if port and port != 80 else f"[{host}]"
    return host, f"http://{authority}{path if path.startswith('/') else '/' + path}"


def _hashes(fileinfo: dict[str, Any]) -> list[str] | None:
    found = [
        value.lower()
        for name in ("md5", "sha1", "sha256")
        if isinstance(value := fileinfo.get(name), str) and value
    ]
    return found or None


def _flow_bytes(flow: Any) -> int | None:
    if not isinstance(flow, dict):
        return None
    up, down = to_int(flow.get("bytes_toserver")), to_int(flow.get("bytes_toclient"))
    if up is None and down is None:
        return None
    return to_int((up or 0) + (down or 0))


def _row(event: dict[str, Any], event_type: str, line_no: int) -> tuple[Any, ...] | None:
    src, dst = ip_or_none(event.get("src_ip")), ip_or_none(event.get("dest_ip"))
    if src is None and dst is None:
        return None
    sport, dport = to_port(event.get("src_port")), to_port(event.get("dest_port"))
    host = url = answers = hashes = action = None
    size = None
    app = event.get(event_type)
    app = app if isinstance(app, dict) else {}
    dns = event.get("dns")
    if isinstance(dns, dict) and event_type in ("dns", "alert"):
        host, answers = _dns_fields(dns)
        # Before Suricata 7 an answer event runs server to client; the client is the suspect.
        if dns.get("type") == "answer" and sport == 53 and dport != 53:
            src, dst, sport, dport = dst, src, dport, sport
    http = event.get("http")
    if isinstance(http, dict) and event_type in ("http", "alert", "fileinfo"):
        host, url = _http_fields(http)
        if event_type == "http":
            size = to_int(http.get("length"))
    for layer in ("tls", "quic"):
        block = event.get(layer)
        if isinstance(block, dict) and isinstance(block.get("sni"), str) and host is None:
            host = clean_host(block["sni"])
    tls = event.get("tls")
    if isinstance(tls, dict) and isinstance(tls.get("fingerprint"), str):
        # The server certificate's SHA-1, as certificate block lists (abuse.ch SSLBL) give it.
        hashes = [tls["fingerprint"].replace(":", "").lower()]
    if event_type == "fileinfo":
        hashes = _hashes(app)
        size = to_int(app.get("size"))
    elif event_type in ("flow", "netflow"):
        size = _flow_bytes(app) if event_type == "flow" else to_int(app.get("bytes"))
        if app.get("action") in ("drop", "reject"):  # flow.action exists since Suricata 7
            action = app["action"]
    if event_type in ("alert", "drop"):
        alert = event.get("alert")
        if isinstance(alert, dict) and isinstance(alert.get("action"), str):
            action = alert["action"]
        if size is None:
            size = _flow_bytes(event.get("flow"))
    proto = event.get("proto")
    return (
        epoch_or_iso_micros(event.get("timestamp")),
        src,
        sport,
        dst,
        dport,
        proto.lower() if isinstance(proto, str) else None,
        host,
        url,
        answers,
        hashes,
        size,
        action,
        event_type,
        line_no,
    )


def _read_lines(lines: list[str], first_line: int, stats: ReadStats) -> Iterator[tuple[Any, ...]]:
    for line_no, event in json_lines(lines, first_line, stats):
        event_type = event.get("event_type") if isinstance(event, dict) else None
        if not isinstance(event_type, str):
            stats.skip("not an EVE event (no event_type)", line_no)
            continue
        row = _row(event, event_type, line_no)
        if row is None:
            # stats and engine events carry no addresses: not an error, but said so.
            stats.skip(f"ignored: {event_type} event (not a network event)", line_no)
            continue
        yield row


def read_lines(stream: IO[Any], ctx: ReadContext, fast: bool = True) -> Iterator[pa.RecordBatch]:
    """Batches of an EVE stream; ``fast`` tries each chunk with Arrow first."""
    # Imported here: it needs polars, which detecting a format must not load.
    from lamsach.logs.formats._suricata_fast import fast_batch

    return read_chunks(
        stream,
        ctx,
        COLUMNS,
        lambda lines, first: _read_lines(lines, first, ctx.stats),
        (lambda lines, first: fast_batch(lines, first, ctx.file, ctx.stats)) if fast else None,
    )


def read(stream: IO[Any], ctx: ReadContext) -> Iterator[pa.RecordBatch]:
    return read_lines(stream, ctx)


def sniff(head: list[str]) -> bool:
    event = first_json(head)
    return isinstance(event, dict) and "event_type" in event and "timestamp" in event


FORMAT = LogFormat(
    name="suricata-eve",
    description="Suricata EVE JSON (dns, flow, http, tls, fileinfo, alert and other events)",
    sniff=sniff,
    read=read,
    priority=20,
    splittable=True,
)
