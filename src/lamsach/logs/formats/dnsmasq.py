"""dnsmasq and Pi-hole query logs (``log-queries``): queries and the answers given to them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO, Any

import pyarrow as pa

from lamsach.logs.formats import LogFormat, ReadContext
from lamsach.logs.formats._rows import RowBuffer, clean_host, ip_or_none, syslog_year
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


def _message(line: str, year: int | None) -> tuple[int | None, str | None]:
    """The time and the dnsmasq message of a line, or None when it is not a dnsmasq line."""
    stamp, _host, program, message = strip_syslog(line, year)
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


def read(stream: IO[Any], ctx: ReadContext) -> Iterator[pa.RecordBatch]:
    buffer = RowBuffer(ctx, COLUMNS)
    rows = buffer.rows
    stats = ctx.stats
    year = syslog_year(ctx)
    asked_by: dict[str, str] = {}  # query name -> the client that last asked for it
    chain_client: str | None = None  # client of the answer on the previous line (CNAME chains)
    previous_answer_line = -1
    for line_no, line in enumerate(stream, 1):
        if not line.strip():
            continue
        when, message = _message(line, year)
        if message is None:
            stats.skip("not a dnsmasq line", line_no)
            continue
        query = _QUERY.match(message)
        if query is not None:
            extra_ip, extra_port, _qtype, name, client = query.groups()
            host = clean_host(name)
            src = ip_or_none(extra_ip or client)
            if host is not None and src is not None:
                if len(asked_by) >= _MAX_PENDING:
                    asked_by.clear()
                asked_by[host] = src
            port = int(extra_port) if extra_port else None
            rows.append((when, src, port, host, None, None, "dns", line_no))
        else:
            answer = _ANSWER.match(message)
            if answer is None:
                stats.skip("ignored: not a query or answer line", line_no)
                continue
            extra_ip, _extra_port, source, name, value = answer.groups()
            host = clean_host(name)
            client = ip_or_none(extra_ip) if extra_ip else None
            if client is None and host is not None:
                client = asked_by.get(host)
            if client is None and previous_answer_line == line_no - 1:
                client = chain_client
            chain_client, previous_answer_line = client, line_no
            address = ip_or_none(value.split(" ", 1)[0])
            blocked = source.startswith(_BLOCKED)
            if address is None and not blocked:
                stats.skip("ignored: answer without an address (NODATA, NXDOMAIN, CNAME)", line_no)
                continue
            action = "block" if blocked else None
            last = rows[-1] if rows else None
            if (
                address is not None
                and last is not None
                and last[7] == line_no - 1
                and last[3] == host
                and last[4] is not None
            ):
                last[4].append(address)  # one record for the addresses of one answer
            else:
                answers = [address] if address is not None else None
                rows.append((when, client, None, host, answers, action, "dns", line_no))
        if len(rows) >= buffer.size:
            yield buffer.flush()
            rows = buffer.rows
    if rows:
        yield buffer.flush()


def sniff(head: list[str]) -> bool:
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
