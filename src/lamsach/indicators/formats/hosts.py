"""Hosts-file block lists (``0.0.0.0 evil.com``): the names are the indicators, exact hosts."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from pathlib import Path

from lamsach.indicators.formats.base import IndicatorFormat, RawEntry, ReadContext, split_comment
from lamsach.indicators.model import Indicator, IndicatorType

# Names every hosts file carries for the machine itself; they are not part of the block list.
_BUILTIN_NAMES = frozenset(
    {
        "localhost",
        "localhost.localdomain",
        "local",
        "broadcasthost",
        "ip6-localhost",
        "ip6-loopback",
        "ip6-localnet",
        "ip6-mcastprefix",
        "ip6-allnodes",
        "ip6-allrouters",
        "ip6-allhosts",
        "0.0.0.0",
    }
)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _sniff(head: str, path: Path) -> bool:
    lines = [value for value in map(split_comment, head.splitlines()) if value]
    if not lines:
        return False
    hosts_like = 0
    for value in lines:
        parts = value.split()
        if len(parts) >= 2 and _is_ip(parts[0]):
            hosts_like += 1
    return hosts_like >= max(1, int(0.8 * len(lines)))


def read_hosts(text: str, ctx: ReadContext) -> Iterator[RawEntry]:
    tags = ctx.tags
    for number, line in enumerate(text.splitlines(), start=1):
        value = split_comment(line)
        if not value:
            continue
        parts = value.split()
        if len(parts) == 1 and not _is_ip(parts[0]):
            # Merged block lists put the odd bare name among the hosts lines.
            yield RawEntry(parts[0], number, type_hint=IndicatorType.HOSTNAME, tags=tags)
            continue
        if len(parts) < 2 or not _is_ip(parts[0]):
            ctx.reject(number, "bad-hosts-line", line, "expected an address and host names")
            continue
        for name in parts[1:]:
            if name.lower() in _BUILTIN_NAMES:
                ctx.reject(number, "hosts-builtin", line, f"{name} is the machine's own name")
                continue
            yield RawEntry(name, number, type_hint=IndicatorType.HOSTNAME, tags=tags)


def write_hosts(indicators: Iterable[Indicator], sink: str = "0.0.0.0") -> Iterator[str]:
    """Lines of a hosts file sending every listed name to ``sink``.

    A hosts file only knows exact names, so a domain is written as itself (its subdomains are not
    covered: use the RPZ export for a resolver).
    """
    yield "# lamsach block list: listed names resolve to an unroutable address\n"
    for indicator in indicators:
        if indicator.type in (IndicatorType.DOMAIN, IndicatorType.HOSTNAME):
            yield f"{sink} {indicator.value}\n"


FORMAT = IndicatorFormat("hosts", "hosts file (0.0.0.0 evil.com)", _sniff, read_hosts, priority=40)
