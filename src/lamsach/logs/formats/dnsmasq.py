"""dnsmasq and Pi-hole query logs (``log-queries``): queries and the answers given to them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, tzinfo
from typing import IO, Any

import pyarrow as pa

from lamsach.logs.formats import LogFormat, ReadContext
from lamsach.logs.formats._rows import (
    RowBuffer,
    clean_host,
    head_without_bom,
    ip_or_none,
    local_zone,
    syslog_year,
    to_port,
    without_bom,
)
from lamsach.logs.formats._syslog import strip_syslog, to_micros

COLUMNS = ("time", "src_ip", "src_port", "host", "answers", "action", "log_type", "line")

_PROGRAMS = frozenset(("dnsmasq", "dnsmasq-dhcp", "pihole-FTL", "pihole"))
# Written to a file or stderr without syslog, every line still starts with the program name.
_PREFIX = re.compile(r"(dnsmasq(?:-dhcp)?|pihole-FTL)(?:\[\d+\])?: ")
# "log-queries=extra" adds a serial and the client: "17 192.168.1.5/41234 query[A] ...".
_EXTRA = r"(?:\d+ ([0-9A-Fa-f.:]+)/(\d+) )?"
_QUERY = re.compile(_EXTRA + r"query\[([\w-]+)\] (\S+) from ([0-9A-Fa-f.:]+)$")
_ANSWER = re.compile(
    _EXTRA + r"(reply|cached(?:-stale)?|config|[\w/.-]+(?: [\w-]+)?) (\S+) is (.+)$"
)
# Pi-hole answers blocked names itself; the source word says which list did it.
_BLOCKED = ("gravity blocked", "exactly blacklisted", "regex blacklisted", "exactly denied",
            "regex denied", "special domain", "blacklisted")  # fmt: skip
_MAX_PENDING = 100_000


def _message(line: str, year: int | None, zone: tzinfo = UTC) -> tuple[int | None, str | None]:
    """The time and the dnsmasq message of a line, or None when it is not a dnsmasq line."""
    stamp, _host, program, message = strip_syslog(line, year, zone)
    if program is None:
        prefix = _PREFIX.match(message)
        if prefix is None:
            return None, None
        program, message = prefix.group(1), message[prefix.end() :]
    if program not in _PROGRAMS:
        return None, None
    if program == "dnsmasq-dhcp":
        return to_micros(stamp), ""  # its own, but leases say nothing about names asked for
    return to_micros(stamp), message.rstrip()


class _Clients:
    """Who asked for a name: dnsmasq's answer lines do not say, the query line before did."""

    def __init__(self) -> None:
        self.asked_by: dict[str, str] = {}
        self.chain_client: str | None = None  # client of the answer on the line before
        self.chain_line = -1

    def asked(self, host: str | None, client: str | None) -> None:
        if host is not None and client is not None:
            if len(self.asked_by) >= _MAX_PENDING:
                self.asked_by.clear()
            self.asked_by[host] = client

    def answered(self, host: str | None, line_no: int) -> str | None:
        client = self.asked_by.get(host) if host is not None else None
        if client is None and self.chain_line == line_no - 1:
            client = self.chain_client  # the CNAME target answered right after its alias
        self.chain_client, self.chain_line = client, line_no
        return client


def read(stream: IO[Any], ctx: ReadContext) -> Iterator[pa.RecordBatch]:
    buffer = RowBuffer(ctx, COLUMNS)
    rows = buffer.rows
    stats = ctx.stats
    year = syslog_year(ctx)
    zone = local_zone(ctx)
    clients = _Clients()
    for line_no, line in enumerate(without_bom(stream), 1):
        if not line.strip():
            continue
        when, message = _message(line, year, zone)
        if message is None:
            stats.skip("not a dnsmasq line", line_no)
            continue
        query = _QUERY.match(message)
        if query is not None:
            extra_ip, extra_port, _qtype, name, client = query.groups()
            host, src = clean_host(name), ip_or_none(extra_ip or client)
            clients.asked(host, src)
            port = to_port(extra_port)
            rows.append((when, src, port, host, None, None, "dns", line_no))
        else:
            answer = _ANSWER.match(message)
            if answer is None:
                if "query[" in message:
                    stats.skip("unreadable query line", line_no)
                else:
                    stats.skip("ignored: not a query or answer line", line_no)
                continue
            extra_ip, extra_port, source, name, value = answer.groups()
            host = clean_host(name)
            client = clients.answered(host, line_no)
            if extra_ip:
                client = ip_or_none(extra_ip)
            port = to_port(extra_port)
            address = ip_or_none(value.split(" ", 1)[0])
            last = rows[-1] if rows else None
            if source.startswith(_BLOCKED):
                # The sinkhole address (0.0.0.0, or Pi-hole's own) is no real answer.
                rows.append((when, client, port, host, None, "block", "dns", line_no))
            elif address is None:
                stats.skip("ignored: answer without an address (NODATA, NXDOMAIN, CNAME)", line_no)
                continue
            elif last is not None and last[7] == line_no - 1 and last[3] == host and last[4]:
                last[4].append(address)  # one record for all the addresses of one answer
            else:
                rows.append((when, client, port, host, [address], None, "dns", line_no))
        if len(rows) >= buffer.size:
            yield buffer.flush()
            rows = buffer.rows
    if rows:
        yield buffer.flush()


def sniff(head: list[str]) -> bool:
    head = head_without_bom(head)
    # Most lines must be dnsmasq's: a router's syslog mixing in a few is left to other formats.
    ours = sum(1 for line in head if _message(line, 2000)[1] is not None)
    return ours > 0 and ours * 2 >= len(head)


FORMAT = LogFormat(
    name="dnsmasq",
    description="dnsmasq / Pi-hole query log (query, reply, cached, config, blocked lines)",
    sniff=sniff,
    read=read,
    priority=30,
)
