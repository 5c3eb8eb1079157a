"""Canonical forms of indicator values: refanging, host names, IPs, networks, URLs and hashes.

Every reader and the matcher use these functions, so a value from a list and the same value seen
in a log end up as the same string.
"""

from __future__ import annotations

import ipaddress
import re
import string
from urllib.parse import urlsplit

import idna

from lamsach.indicators.model import IndicatorType


class InvalidIndicator(ValueError):
    """A value that is not a usable indicator; ``reason`` is a short stable code for counting."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


# --- refanging -----------------------------------------------------------------------------------

_DEFANG_RE = re.compile(
    r"""
    (?P<scheme>\b(?:h[xX*]{2}p|h[tT]{2}p|fxp|f[tT]p)(?P<s>[sS]?)(?=\s*(?:\[:\]|:|\[://\]))) |
    (?P<colonslashes>\[://\]|\(://\)|\{://\}) |
    (?P<dot>\s?[\[({]\s*(?:\.|dot|DOT|Dot)\s*[\])}]\s?) |
    (?P<colon>[\[({]:[\])}]) |
    (?P<slash>[\[({]/[\])}]) |
    (?P<at>\s?[\[({]\s*(?:@|at|AT|At)\s*[\])}]\s?)
    """,
    re.VERBOSE,
)
_DEFANG_HINT = re.compile(r"[\[({]|h[x*]{2}p|fxp", re.IGNORECASE)


def _undefang(match: re.Match[str]) -> str:
    if match.group("scheme") is not None:
        word = match.group("scheme").lower()
        base = "ftp" if word.startswith("f") else "http"
        return base + match.group("s").lower()
    if match.group("colonslashes") is not None:
        return "://"
    if match.group("dot") is not None:
        return "."
    if match.group("colon") is not None:
        return ":"
    if match.group("slash") is not None:
        return "/"
    return "@"


def refang(text: str) -> str:
    """Undo the usual defanging: hxxp, [.], (.), {.}, [dot], [:], [at] and the like."""
    if _DEFANG_HINT.search(text) is None:
        return text
    return _DEFANG_RE.sub(_undefang, text)


# --- host names ----------------------------------------------------------------------------------

# DNS allows underscores and real malicious names use them (``track_x.example.info``), so labels
# are letters, digits, hyphen and underscore, not starting or ending with a hyphen.
_LABEL_RE = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_ASCII_NAME_RE = re.compile(
    r"(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
)
_REGEX_CHARS = frozenset("[](){}|\\^$*+?")


def normalize_hostname(name: str) -> str:
    """Lower-case, drop the trailing dot and encode international names to punycode (UTS-46)."""
    text = name.strip()
    if not text:
        raise InvalidIndicator("empty", "empty host name")
    if text.isascii():
        text = text.lower()
        if text.endswith("."):
            text = text[:-1]
        if len(text) <= 253 and _ASCII_NAME_RE.fullmatch(text):
            return _check_tld(text, name)
        raise InvalidIndicator(_bad_name_reason(text), f"not a valid host name: {name!r}")
    return _normalize_idn(text, name)


def _normalize_idn(text: str, original: str) -> str:
    try:
        mapped = idna.uts46_remap(text, std3_rules=False, transitional=False)
    except idna.IDNAError as exc:
        raise InvalidIndicator(
            "bad-domain", f"not a valid host name: {original!r} ({exc})"
        ) from None
    if mapped.endswith("."):
        mapped = mapped[:-1]
    labels = []
    for label in mapped.split("."):
        if label.isascii():
            if not _LABEL_RE.fullmatch(label):
                raise InvalidIndicator("bad-domain", f"not a valid host name: {original!r}")
            labels.append(label)
            continue
        try:
            labels.append(idna.alabel(label).decode("ascii"))
        except (idna.IDNAError, UnicodeError) as exc:
            raise InvalidIndicator(
                "bad-domain", f"not a valid host name: {original!r} ({exc})"
            ) from None
    result = ".".join(labels)
    if len(result) > 253:
        raise InvalidIndicator("bad-domain", f"host name too long: {original!r}")
    return _check_tld(result, original)


def _check_tld(name: str, original: str) -> str:
    # A numeric last label is never a name: it is a mistyped or out-of-range IP address.
    tld = name.rpartition(".")[2]
    if tld.isdigit():
        raise InvalidIndicator("bad-ip", f"not a valid IP address: {original!r}")
    # Top-level labels are letters only (or an A-label); "evil.ru-f" is a typo, not a name.
    if not (tld.isalpha() or tld.startswith("xn--")):
        raise InvalidIndicator("bad-domain", f"not a valid top-level domain in {original!r}")
    return name


def _bad_name_reason(text: str) -> str:
    if any(char in _REGEX_CHARS for char in text):
        return "regex"
    return "bad-domain"


# --- addresses and networks ----------------------------------------------------------------------

_IP_CHARS = frozenset(string.hexdigits + ".:")


def normalize_ip(text: str) -> str:
    """Canonical text of an IPv4 or IPv6 address (IPv6 compressed, brackets allowed)."""
    value = text.strip()
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise InvalidIndicator("bad-ip", f"not a valid IP address: {text!r}") from None


def normalize_cidr(text: str) -> str:
    """Canonical ``net/prefix`` of a network, host bits cleared (10.1.2.3/8 is 10.0.0.0/8)."""
    value = text.strip()
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        raise InvalidIndicator("bad-cidr", f"not a valid network: {text!r}") from None


def normalize_ip_port(text: str) -> str:
    """Canonical ``1.2.3.4:80`` or ``[2001:db8::1]:443``."""
    value = text.strip()
    if value.startswith("["):
        host, sep, port = value[1:].partition("]:")
        if not sep:
            raise InvalidIndicator("bad-ip", f"not a valid IP:port: {text!r}")
    else:
        host, _, port = value.rpartition(":")
    address = ipaddress.ip_address(normalize_ip(host))
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidIndicator("bad-port", f"not a valid port in {text!r}")
    if address.version == 6:
        return f"[{address}]:{int(port)}"
    return f"{address}:{int(port)}"


# --- URLs -----------------------------------------------------------------------------------------

_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21, "ws": 80, "wss": 443}
_SCHEME_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://")


def normalize_url(text: str) -> str:
    """Canonical URL: scheme and host lower-case, default port and fragment dropped.

    A URL written without scheme (``evil.com/gate.php``) is taken as ``http``. User info is dropped
    because logs never show it; the path and query are kept as written (they are case-sensitive).
    """
    value = text.strip()
    if not value:
        raise InvalidIndicator("empty", "empty URL")
    if not _SCHEME_RE.match(value):
        if value.startswith("/"):
            raise InvalidIndicator("url-path", f"URL path without a host: {text!r}")
        value = "http://" + value
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise InvalidIndicator("bad-url", f"not a valid URL: {text!r}") from None
    scheme = parts.scheme.lower()
    raw_host = parts.hostname
    if not raw_host:
        raise InvalidIndicator("bad-url", f"URL without a host: {text!r}")
    host = _url_host(raw_host, text)
    netloc = host if port is None or _DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    path = parts.path or "/"
    if any(char.isspace() for char in path + parts.query):
        raise InvalidIndicator("bad-url", f"URL with white space: {text!r}")
    query = f"?{parts.query}" if parts.query else ""
    return f"{scheme}://{netloc}{path}{query}"


def _url_host(raw_host: str, original: str) -> str:
    if ":" in raw_host:
        try:
            return f"[{ipaddress.IPv6Address(raw_host)}]"
        except ValueError:
            raise InvalidIndicator("bad-url", f"bad IPv6 host in URL: {original!r}") from None
    if raw_host.replace(".", "").isdigit():
        return normalize_ip(raw_host)
    try:
        return normalize_hostname(raw_host)
    except InvalidIndicator as exc:
        raise InvalidIndicator("bad-url", f"bad host in URL {original!r}: {exc}") from None


# --- hashes --------------------------------------------------------------------------------------

_HASH_TYPES = {32: IndicatorType.MD5, 40: IndicatorType.SHA1, 64: IndicatorType.SHA256}
_HEX = frozenset(string.hexdigits)


def normalize_hash(text: str) -> tuple[IndicatorType, str]:
    """Type (by length) and lower-case hex of an MD5, SHA-1 or SHA-256."""
    value = text.strip().lower()
    kind = _HASH_TYPES.get(len(value))
    if kind is None or not _HEX.issuperset(value):
        raise InvalidIndicator("bad-hash", f"not an MD5, SHA-1 or SHA-256: {text!r}")
    return kind, value


# --- classification ------------------------------------------------------------------------------


def parse_value(
    text: str, *, bare_name: IndicatorType = IndicatorType.DOMAIN
) -> tuple[IndicatorType, str]:
    """Classify and normalise one value: IP, CIDR, IP:port, URL, hash or host name.

    Defanged forms are refanged first. A host name is typed ``bare_name`` (domain by default,
    meaning the name and all its subdomains). ``*.evil.com`` and ``.evil.com`` are the domain.
    """
    value = refang(text).strip()
    if not value:
        raise InvalidIndicator("empty", "empty value")
    if len(value) > 2048:
        raise InvalidIndicator("too-long", f"value longer than 2048 characters: {value[:40]!r}...")
    if "://" in value:
        return IndicatorType.URL, normalize_url(value)
    if len(value) in _HASH_TYPES and _HEX.issuperset(value):
        return normalize_hash(value)
    if "/" in value:
        return _parse_slashed(value)
    if _IP_CHARS.issuperset(value) or value.startswith("["):
        parsed = _parse_address(value)
        if parsed is not None:
            return parsed
    if "@" in value:
        raise InvalidIndicator("email", f"e-mail address, not a host: {value!r}")
    if ":" in value:
        raise InvalidIndicator("host-port", f"host name with a port is not an indicator: {value!r}")
    if value.startswith("*."):
        return IndicatorType.DOMAIN, normalize_hostname(value[2:])
    if value.startswith(".") and not value.startswith(".."):
        return IndicatorType.DOMAIN, normalize_hostname(value[1:])
    return bare_name, normalize_hostname(value)


def _parse_slashed(value: str) -> tuple[IndicatorType, str]:
    if value.startswith("/"):
        raise InvalidIndicator("url-path", f"URL path without a host: {value!r}")
    head, _, tail = value.partition("/")
    if tail.isdigit() and _IP_CHARS.issuperset(head):
        network = ipaddress.ip_network(normalize_cidr(value))
        if network.num_addresses == 1:
            kind = IndicatorType.IPV4 if network.version == 4 else IndicatorType.IPV6
            return kind, str(network.network_address)
        return IndicatorType.CIDR, str(network)
    return IndicatorType.URL, normalize_url(value)


def _parse_address(value: str) -> tuple[IndicatorType, str] | None:
    """An IP or IP:port, None for hex-looking host names such as ``dead.beef.cafe``."""
    bare = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    try:
        address = ipaddress.ip_address(bare)
    except ValueError:
        pass
    else:
        kind = IndicatorType.IPV4 if address.version == 4 else IndicatorType.IPV6
        return kind, str(address)
    # "1.2.3.4:80" or "[2001:db8::1]:443"; an unbracketed IPv6 never carries a port.
    if value.startswith("[") or value.count(":") == 1:
        return IndicatorType.IP_PORT, normalize_ip_port(value)
    if ":" not in value and not value.replace(".", "").isdigit():
        return None
    raise InvalidIndicator("bad-ip", f"not a valid IP address: {value!r}")
