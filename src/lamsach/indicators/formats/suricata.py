"""Suricata dataset files (strings base64-encoded) and IP reputation lists, read and written."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lamsach.indicators.formats.base import IndicatorFormat, RawEntry, ReadContext
from lamsach.indicators.model import Indicator, IndicatorType

_BASE64_LINE = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_IPREP_LINE = re.compile(r"[0-9A-Fa-f.:]+(?:/\d{1,3})?,\d+,\d+")
_HASH_FILES = {
    IndicatorType.MD5: ("lamsach-md5.txt", "filemd5"),
    IndicatorType.SHA1: ("lamsach-sha1.txt", "filesha1"),
    IndicatorType.SHA256: ("lamsach-sha256.txt", "filesha256"),
}


def _decode(line: str) -> str | None:
    """The text of one dataset line (``value`` or ``value,reputation``), None if not base64."""
    token = line.split(",", 1)[0].strip()
    if len(token) % 4 or not _BASE64_LINE.fullmatch(token):
        return None
    try:
        text = base64.b64decode(token, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return text if text.isprintable() and text.strip() == text and text else None


def _data_lines(head: str) -> list[str]:
    return [line.strip() for line in head.splitlines() if line.strip()][:30]


def _sniff_dataset(head: str, path: Path) -> bool:
    # Host names and URLs hold dots and slashes once decoded and never as base64 text.
    lines = _data_lines(head)
    if not lines or sum("." in line for line in lines) > len(lines) // 5:
        return False
    decoded = [_decode(line) for line in lines]
    values = sum(text is not None and ("." in text or ":" in text) for text in decoded)
    return values >= max(1, len(lines) * 4 // 5)


def _sniff_iprep(head: str, path: Path) -> bool:
    lines = _data_lines(head)
    return bool(lines) and all(_IPREP_LINE.fullmatch(line) for line in lines)


def read_dataset(text: str, ctx: ReadContext) -> Iterator[RawEntry]:
    """A ``type string`` dataset: one base64 value per line, optionally ``,reputation``."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        value = _decode(line)
        if value is None:
            ctx.reject(number, "bad-base64", line, "not a base64-encoded dataset value")
            continue
        yield RawEntry(value, number, tags=ctx.tags)


def read_iprep(text: str, ctx: ReadContext) -> Iterator[RawEntry]:
    """An IP reputation file: ``address-or-network,category,score`` per line."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not _IPREP_LINE.fullmatch(line.strip()):
            ctx.reject(number, "bad-iprep-line", line, "expected address,category,score")
            continue
        yield RawEntry(line.split(",", 1)[0], number, tags=ctx.tags)


@dataclass(slots=True)
class SuricataExport:
    """The files of a Suricata export (name -> content) and what Suricata cannot take."""

    files: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)


def write_suricata(indicators: Iterable[Indicator]) -> SuricataExport:
    """Datasets for names and addresses, hash lists, an IP reputation list and the rules using them.

    Datasets match exactly: a listed domain does not cover its subdomains here (the RPZ export
    does, at the resolver). URLs and IP:port pairs have no dataset type and are counted as skipped.
    """
    names: list[str] = []
    ipv4: list[str] = []
    ipv6: list[str] = []
    networks: list[str] = []
    hashes: dict[IndicatorType, list[str]] = {kind: [] for kind in _HASH_FILES}
    out = SuricataExport()
    for indicator in indicators:
        kind = indicator.type
        if kind in (IndicatorType.DOMAIN, IndicatorType.HOSTNAME):
            names.append(base64.b64encode(indicator.value.encode()).decode("ascii"))
        elif kind is IndicatorType.IPV4:
            ipv4.append(indicator.value)
        elif kind is IndicatorType.IPV6:
            ipv6.append(indicator.value)
        elif kind is IndicatorType.CIDR:
            networks.append(f"{indicator.value},1,100")
        elif kind in hashes:
            hashes[kind].append(indicator.value)
        else:
            out.skipped[kind.value] = out.skipped.get(kind.value, 0) + 1
    out.files["lamsach-domains.lst"] = _lines(names)
    out.files["lamsach-ipv4.lst"] = _lines(ipv4)
    out.files["lamsach-ipv6.lst"] = _lines(ipv6)
    out.files["lamsach-iprep.list"] = _lines(networks)
    out.files["lamsach-iprep-categories.txt"] = "1,lamsach,Networks listed by lamsach\n"
    for kind, (name, _) in _HASH_FILES.items():
        out.files[name] = _lines(hashes[kind])
    out.files["lamsach.rules"] = _rules()
    return out


def _lines(values: list[str]) -> str:
    return "".join(f"{value}\n" for value in values)


def _rules() -> str:
    def rule(sid: int, proto: str, msg: str, body: str) -> str:
        return f'alert {proto} any any -> any any (msg:"lamsach {msg}"; {body} sid:{sid}; rev:1;)\n'

    domains = "dataset:isset,lamsach-domains,type string,load lamsach-domains.lst;"
    lines = [
        "# Rules for the lamsach export. Add to suricata.yaml:\n",
        "#   reputation-categories-file: lamsach-iprep-categories.txt\n",
        "#   reputation-files: [lamsach-iprep.list]\n",
        rule(9_900_001, "dns", "listed name in DNS query", f"dns.query; {domains}"),
        rule(9_900_002, "tls", "listed name in TLS SNI", f"tls.sni; {domains}"),
        rule(9_900_003, "http", "listed name in HTTP Host", f"http.host; {domains}"),
        rule(
            9_900_004,
            "ip",
            "listed IPv4 address",
            "ip.dst; dataset:isset,lamsach-ipv4,type ipv4,load lamsach-ipv4.lst;",
        ),
        rule(
            9_900_005,
            "ip",
            "listed IPv6 address",
            "ip.dst; dataset:isset,lamsach-ipv6,type ip,load lamsach-ipv6.lst;",
        ),
        rule(9_900_006, "ip", "address in a listed network", "iprep:dst,lamsach,>,0;"),
    ]
    for offset, (name, keyword) in enumerate(_HASH_FILES.values()):
        lines.append(
            rule(9_900_010 + offset, "http", f"listed file ({keyword})", f"{keyword}:{name};")
        )
    return "".join(lines)


DATASET = IndicatorFormat(
    "suricata", "Suricata string dataset (base64 values)", _sniff_dataset, read_dataset, priority=30
)
IPREP = IndicatorFormat(
    "suricata-iprep", "Suricata IP reputation list", _sniff_iprep, read_iprep, priority=31
)
FORMATS = (DATASET, IPREP)
