"""Which addresses are the organisation's own, so a hit names the internal device to clean."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lamsach.matching.observed import parse_ip

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_NETWORKS = (
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",  # RFC 6598 carrier-grade NAT, used inside large public networks
    "127.0.0.0/8",
    "fc00::/7",
    "::1/128",
)


class InternalNetworks:
    """A set of networks counted as internal; by default RFC 1918, RFC 6598, ULA and loopback."""

    def __init__(self, networks: Iterable[str | Network] = DEFAULT_NETWORKS) -> None:
        nets: list[Network] = []
        for net in networks:
            if isinstance(net, str):
                try:
                    net = ipaddress.ip_network(net.strip(), strict=False)
                except ValueError:
                    raise ValueError(f"not a network: {net!r}") from None
            nets.append(net)
        self.networks: tuple[Network, ...] = tuple(nets)
        self._cached = lru_cache(maxsize=65536)(self._contains)

    @classmethod
    def from_strings(cls, text: str) -> InternalNetworks:
        """Networks separated by commas or white space, e.g. from a command-line option."""
        return cls(part for part in text.replace(",", " ").split() if part)

    def __reduce__(self) -> tuple[type[InternalNetworks], tuple[list[str]]]:
        # Sent to worker processes by value; the cache is rebuilt there.
        return (InternalNetworks, ([str(n) for n in self.networks],))

    def __repr__(self) -> str:
        return f"InternalNetworks({[str(n) for n in self.networks]!r})"

    def _contains(self, text: str) -> bool:
        address = parse_ip(text)
        if address is None:
            return False
        return any(address.version == n.version and address in n for n in self.networks)

    def contains(self, text: str | None) -> bool:
        """Whether an address, as written in a log, is internal (False for non-addresses)."""
        return text is not None and self._cached(text)

    def mask(self, values: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """Internal or not for each string of an array (nulls are not internal)."""
        encoded = pc.dictionary_encode(values)
        if isinstance(encoded, pa.ChunkedArray):
            encoded = encoded.combine_chunks()
        flags = np.array([self.contains(v) for v in encoded.dictionary.to_pylist()] + [False])
        codes = pc.fill_null(encoded.indices, -1).to_numpy()
        return flags[codes]


DEFAULT_INTERNAL = InternalNetworks()
