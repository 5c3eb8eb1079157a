"""DNS response policy zones (BIND, Unbound, Knot, PowerDNS): written for resolvers, read back.

A domain is two records, ``evil.com CNAME .`` and ``*.evil.com CNAME .`` (NXDOMAIN for the name
and every subdomain); an exact host name only the first. Addresses and networks are IP triggers
(``32.4.3.2.1.rpz-ip``), which make the resolver refuse answers pointing there. Read back, any
blocking policy (NXDOMAIN, NODATA, drop, a walled-garden CNAME or local A/AAAA data) lists its
owner; pass-through rules are allow rules and are rejected as such.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from lamsach.indicators.formats.base import IndicatorFormat, RawEntry, ReadContext
from lamsach.indicators.model import Indicator, IndicatorType

_RECORD = re.compile(
    r"(?P<owner>\S+)\s+(?:(?:\d+|IN)\s+)*(?P<rtype>CNAME|A|AAAA|TXT)\s+(?P<rdata>[^;\s]+)"
    r"(?:\s.*)?",
    re.IGNORECASE,
)
# Triggers on the resolver's side of the exchange, not on what a device looked up.
_OTHER_TRIGGERS = frozenset({"rpz-nsdname", "rpz-nsip", "rpz-client-ip"})


def write_rpz(
    indicators: Iterable[Indicator], zone: str = "rpz.lamsach.", now: datetime | None = None
) -> Iterator[str]:
    """A complete zone file: $TTL, SOA with a date serial, NS, then one policy per indicator."""
    origin = zone if zone.endswith(".") else zone + "."
    serial = (now or datetime.now(UTC)).strftime("%Y%m%d%H")
    yield f"$TTL 300\n$ORIGIN {origin}\n"
    yield f"@ IN SOA localhost. hostmaster.localhost. ({serial} 3600 600 604800 300)\n"
    yield "@ IN NS localhost.\n"
    yield "; lamsach block list: listed names answer NXDOMAIN, listed addresses are refused\n"
    for indicator in indicators:
        kind = indicator.type
        if kind in (IndicatorType.DOMAIN, IndicatorType.HOSTNAME):
            yield f"{indicator.value} CNAME .\n"
            if kind is IndicatorType.DOMAIN:
                yield f"*.{indicator.value} CNAME .\n"
        elif kind in (IndicatorType.IPV4, IndicatorType.IPV6, IndicatorType.CIDR):
            yield f"{_ip_trigger(ipaddress.ip_network(indicator.value))}.rpz-ip CNAME .\n"


def _ip_trigger(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    if network.version == 4:
        octets = str(network.network_address).split(".")
        return ".".join([str(network.prefixlen), *reversed(octets)])
    # IPv6 triggers spell the address in reverse groups with "zz" for the "::" run.
    compressed = str(network.network_address)
    if "::" in compressed:
        head, tail = compressed.split("::")
        parts = [*(head.split(":") if head else []), "zz", *(tail.split(":") if tail else [])]
    else:
        parts = compressed.split(":")
    return ".".join([str(network.prefixlen), *reversed(parts)])


def _parse_ip_trigger(labels: list[str]) -> str:
    prefix, *rest = labels
    parts = list(reversed(rest))
    if len(parts) == 4 and all(part.isdigit() for part in parts):
        return f"{'.'.join(parts)}/{prefix}"
    if "zz" in parts:
        at = parts.index("zz")
        text = ":".join(parts[:at]) + "::" + ":".join(parts[at + 1 :])
    else:
        text = ":".join(parts)
    return f"{text}/{prefix}"


def _sniff(head: str, path: Path) -> bool:
    return bool(re.search(r"\bSOA\b", head)) and bool(re.search(r"CNAME\s+\.", head))


def read_rpz(text: str, ctx: ReadContext) -> Iterator[RawEntry]:
    origin = ""
    names: dict[str, int] = {}
    wildcards: set[str] = set()
    open_parens = 0  # inside a record spread over lines with ( ... ), such as an SOA
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.split(";", 1)[0].strip()
        if open_parens or "(" in stripped:
            open_parens = max(0, open_parens + stripped.count("(") - stripped.count(")"))
            continue
        if stripped.upper().startswith("$ORIGIN"):
            origin = stripped.split()[1].rstrip(".")
            continue
        if not stripped or stripped.startswith((";", "$", "@", "(", ")")) or " SOA " in stripped:
            continue
        if re.search(r"\s(NS|SOA)\s", f" {stripped} "):
            continue
        record = _RECORD.fullmatch(stripped)
        if record is None:
            ctx.reject(number, "bad-rpz-line", line, "expected a policy record (CNAME, A, AAAA)")
            continue
        if record.group("rtype").upper() == "CNAME" and record.group("rdata") == "rpz-passthru.":
            ctx.reject(number, "rpz-passthru", line, "a pass-through (allow) rule, not a block")
            continue
        owner = record.group("owner")
        if owner.endswith("."):
            owner = owner[:-1]
            if origin and owner.endswith("." + origin):
                owner = owner[: -len(origin) - 1]
        labels = owner.split(".")
        if labels[-1] in _OTHER_TRIGGERS:
            ctx.reject(number, "unsupported-trigger", line, f"{labels[-1]} trigger")
        elif labels[-1] == "rpz-ip":
            network = _parse_ip_trigger(labels[:-1])
            yield RawEntry(network, number, type_hint=IndicatorType.CIDR, tags=ctx.tags)
        elif labels[0] == "*":
            wildcards.add(".".join(labels[1:]))
        else:
            names.setdefault(owner, number)
    for name, number in names.items():
        kind = IndicatorType.DOMAIN if name in wildcards else IndicatorType.HOSTNAME
        yield RawEntry(name, number, type_hint=kind, tags=ctx.tags)
    for name in sorted(wildcards - names.keys()):
        yield RawEntry(name, None, where=f"*.{name}", type_hint=IndicatorType.DOMAIN, tags=ctx.tags)


FORMAT = IndicatorFormat("rpz", "DNS response policy zone", _sniff, read_rpz, priority=12)
