"""False-positive guard for imports, and the allow-list that suppresses matches.

An indicator that would match far too much (a public suffix, a private or special address, a very
wide network) is refused at import with a counted reason, never silently applied.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import idna
import publicsuffixlist
from publicsuffixlist import PublicSuffixList

from lamsach.indicators.model import Indicator, IndicatorType
from lamsach.indicators.normalize import InvalidIndicator, parse_value

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# RFC 6598 shared address space is not "private" to the ipaddress module but is never on the
# Internet either; a CGNAT address in a national list would hit every unit behind one.
_SHARED_V4 = ipaddress.IPv4Network("100.64.0.0/10")
_DOCUMENTATION = tuple(
    ipaddress.ip_network(net)
    for net in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)


@dataclass(frozen=True, slots=True)
class GuardSettings:
    """What the guard refuses; the prefixes are the widest networks still accepted."""

    max_prefix_v4: int = 16
    max_prefix_v6: int = 32
    refuse_public_suffix: bool = True
    refuse_special_addresses: bool = True


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an indicator is refused, or (``narrow_to`` set) kept only in a narrower form."""

    reason: str
    message: str
    narrow_to: IndicatorType | None = None


@cache
def _psl() -> PublicSuffixList:
    # The list shipped inside the package: offline and the same on every machine.
    return PublicSuffixList()


@dataclass(frozen=True, slots=True)
class _Rules:
    """The list's rules as sets: names that are rules, and parents of ``*.parent`` rules."""

    exact: frozenset[str]
    wildcard_parents: frozenset[str]


def _ascii(rule: str) -> set[str]:
    if rule.isascii():
        return {rule}
    forms = set()
    for encode in (
        lambda r: idna.encode(r, uts46=True).decode(),
        lambda r: r.encode("idna").decode(),
    ):
        try:
            forms.add(encode(rule))
        except (idna.IDNAError, UnicodeError):
            continue
    return forms


@cache
def _rules() -> _Rules:
    data = Path(publicsuffixlist.__file__).with_name("public_suffix_list.dat")
    exact: set[str] = set()
    wildcard: set[str] = set()
    for line in data.read_text(encoding="utf-8").splitlines():
        rule = line.strip()
        if not rule or rule.startswith(("//", "!")):
            continue
        if rule.startswith("*."):
            wildcard |= _ascii(rule[2:])
        else:
            exact |= _ascii(rule)
    return _Rules(frozenset(exact), frozenset(wildcard))


def is_public_suffix(name: str) -> bool:
    """``com``, ``com.vn``, ``blogspot.com``: names under which anyone can register."""
    # Only a name that is a rule, sits right under a wildcard rule or has one label can be a
    # public suffix; the library decides those few, so the bulk of names skip its slower walk.
    rules = _rules()
    parent = name.partition(".")[2]
    if not name.isascii() or name in rules.exact or not parent or parent in rules.wildcard_parents:
        return _psl().is_public(name)
    return False


def _under_wildcard(name: str) -> bool:
    # Under "*.localto.net" each customer gets "x.localto.net": a public suffix by the list's
    # rule, yet as one exact host it names one customer, not everyone under it.
    parent = name.partition(".")[2]
    return bool(parent) and parent in _rules().wildcard_parents


def check(indicator: Indicator, settings: GuardSettings = GuardSettings()) -> Refusal | None:
    """Why ``indicator`` must not be applied, or None when it is specific enough."""
    kind = indicator.type
    if kind in (IndicatorType.DOMAIN, IndicatorType.HOSTNAME):
        if "." not in indicator.value and indicator.value not in _rules().exact:
            return Refusal(
                "single-label",
                f"{indicator.value} is a single label, not a domain name on the Internet",
            )
        if settings.refuse_public_suffix and is_public_suffix(indicator.value):
            if _under_wildcard(indicator.value):
                return Refusal(
                    "public-suffix-host",
                    f"{indicator.value} is a public suffix under a wildcard rule: "
                    "kept as this exact host name only, not its subdomains",
                    narrow_to=IndicatorType.HOSTNAME,
                )
            return Refusal(
                "public-suffix",
                f"{indicator.value} is a public suffix: it would match every name under it",
            )
        return None
    if kind in (IndicatorType.IPV4, IndicatorType.IPV6):
        return _check_address(ipaddress.ip_address(indicator.value), settings)
    if kind is IndicatorType.IP_PORT:
        host = indicator.value.rpartition(":")[0].strip("[]")
        return _check_address(ipaddress.ip_address(host), settings)
    if kind is IndicatorType.CIDR:
        return _check_network(ipaddress.ip_network(indicator.value), settings)
    return None


def _special_kind(address: IPAddress) -> str | None:
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_unspecified:
        return "unspecified"
    if any(address in net for net in _DOCUMENTATION if net.version == address.version):
        return "documentation"
    if address.is_private or (address.version == 4 and address in _SHARED_V4):
        return "private"
    if address.is_reserved:
        return "reserved"
    return None


def _check_address(address: IPAddress, settings: GuardSettings) -> Refusal | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if not settings.refuse_special_addresses:
        return None
    kind = _special_kind(address)
    if kind is None:
        return None
    return Refusal(f"{kind}-address", f"{address} is a {kind} address, not one on the Internet")


def _check_network(network: IPNetwork, settings: GuardSettings) -> Refusal | None:
    limit = settings.max_prefix_v4 if network.version == 4 else settings.max_prefix_v6
    if network.prefixlen < limit:
        return Refusal(
            "wide-network",
            f"{network} is wider than /{limit} ({network.num_addresses:,} addresses)",
        )
    if settings.refuse_special_addresses:
        first = _check_address(network.network_address, settings)
        last = _check_address(network.broadcast_address, settings)
        refusal = first or last
        if refusal is not None:
            kind = refusal.reason.removesuffix("-address")
            return Refusal(refusal.reason, f"{network} holds {kind} addresses")
    return None


class AllowListError(ValueError):
    """An allow-list line that is not a domain, IP or network (file and line in the message)."""


def read_allow_list(path: str | Path) -> list[Indicator]:
    """Domains, IPs and CIDRs, one per line, ``#`` comments allowed; a bad line is an error.

    A listed name allows the name and all its subdomains, as MISP warning lists do.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise AllowListError(f"{file}: cannot read allow-list: {exc}") from None
    allowed: dict[tuple[IndicatorType, str], Indicator] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            kind, value = parse_value(line)
        except InvalidIndicator as exc:
            raise AllowListError(f"{file}:{number}: {exc}") from None
        if kind not in _ALLOWED_TYPES:
            raise AllowListError(f"{file}:{number}: {kind.value} values cannot be allow-listed")
        allowed.setdefault((kind, value), Indicator(kind, value, sources={f"allow:{file.name}"}))
    return list(allowed.values())


_ALLOWED_TYPES = frozenset(
    {
        IndicatorType.DOMAIN,
        IndicatorType.HOSTNAME,
        IndicatorType.IPV4,
        IndicatorType.IPV6,
        IndicatorType.CIDR,
        IndicatorType.URL,
    }
)
