"""Internal networks: the defaults, configuration from strings, vectorised masks."""

from __future__ import annotations

import pyarrow as pa
import pytest

from lamsach.matching.direction import DEFAULT_INTERNAL, InternalNetworks


@pytest.mark.parametrize(
    ("address", "internal"),
    [
        ("10.0.0.0", True),
        ("10.255.255.255", True),
        ("11.0.0.0", False),
        ("172.16.0.1", True),
        ("172.32.0.1", False),
        ("192.168.100.1", True),
        ("100.64.0.1", True),  # RFC 6598
        ("100.128.0.1", False),
        ("127.0.0.1", True),
        ("fd12:3456::1", True),  # ULA
        ("fe80::1", False),
        ("::1", True),
        ("::ffff:192.168.1.1", True),  # v4-mapped
        ("8.8.8.8", False),
        ("not-an-ip", False),
    ],
)
def test_defaults(address: str, internal: bool) -> None:
    assert DEFAULT_INTERNAL.contains(address) is internal


def test_configured_from_strings() -> None:
    nets = InternalNetworks.from_strings("203.0.113.0/24,  2001:db8::/32 10.1.0.0/16")
    assert nets.contains("203.0.113.9") and nets.contains("2001:db8::5")
    assert nets.contains("10.1.2.3") and not nets.contains("10.2.0.1")
    assert not nets.contains(None)
    with pytest.raises(ValueError, match="not a network"):
        InternalNetworks.from_strings("10.0.0.0/8, bogus")


def test_mask_over_an_array() -> None:
    values = pa.array(["10.0.0.1", None, "8.8.8.8", "10.0.0.1", "fd00::2"])
    assert DEFAULT_INTERNAL.mask(values).tolist() == [True, False, False, True, True]


def test_pickles_for_worker_processes() -> None:
    import pickle

    nets = InternalNetworks.from_strings("203.0.113.0/24")
    back = pickle.loads(pickle.dumps(nets))
    assert back.networks == nets.networks and back.contains("203.0.113.5")
