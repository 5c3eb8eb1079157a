"""The compiled loops of the prefilter, each against a plain Python statement of what it does."""

from __future__ import annotations

import ipaddress

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from lamsach.matching.prefilter_loops import _ipv4, gather, separators
from lamsach.matching.strkeys import basis, string_keys_by_numpy
from lamsach.matching.strkeys_loops import string_keys_of_buffers

TEXT = st.lists(st.sampled_from([b"\t", b"\n", b"a", b"1", b".", b"\xff", b"\x00", b"\x09\x0a"]))


def naive_separators(data: bytes, begin: int, end: int, separator: int) -> list[int]:
    return [
        p if data[p] == separator else ~p for p in range(begin, end) if data[p] in (separator, 10)
    ]


@settings(max_examples=300, deadline=None)
@given(
    pieces=TEXT,
    cut=st.tuples(st.integers(0, 40), st.integers(0, 40)),
    sep=st.sampled_from([9, 44, 124]),
)
def test_separators_eight_bytes_at_a_time_equal_one_by_one(
    pieces: list[bytes], cut: tuple[int, int], sep: int
) -> None:
    data = b"".join(pieces) + b"," * 3
    base = np.frombuffer(data, dtype=np.uint8)
    begin = min(cut[0], len(data))
    end = max(begin, len(data) - cut[1])
    out = np.empty(len(data) + 8, dtype=np.int64)
    newlines = np.ones(len(out) + 1, dtype=np.int64)
    count = separators(base, begin, end, sep, out, newlines)
    assert out[:count].tolist() == naive_separators(data, begin, end, sep)
    # ... and where the newlines are among them.
    at = newlines[1 : newlines[0]].tolist()
    assert at == [i for i, p in enumerate(out[:count].tolist()) if p < 0]


def test_separators_say_when_there_is_no_room() -> None:
    data = np.frombuffer(b"\t" * 64, dtype=np.uint8)
    out = np.empty(10, dtype=np.int64)
    newlines = np.ones(11, dtype=np.int64)
    assert separators(data, 0, 64, 9, out, newlines) == -1
    assert separators(data, 3, 12, 9, out, newlines) == 9


def test_keys_are_fnv1a_read_from_the_right() -> None:
    text = b"evil.com"
    h = int(basis(0))
    for byte in reversed(text):
        h = ((h ^ byte) * 0x100000001B3) % (1 << 64)
    expected = (h ^ (h >> 32)) & 0xFFFFFFFF
    data = np.frombuffer(text, dtype=np.uint8)
    assert string_keys_of_buffers(np.array([0, 8]), data, basis(0)).tolist() == [expected]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=30), st.integers(0, 2**62))
def test_keys_by_numpy_equal_the_compiled_loop(strings: list[bytes], seed: int) -> None:
    # Small arrays are hashed by numpy (no numba in a process that matches a few lines): the
    # keys must be the index's own.
    offsets = np.cumsum([0] + [len(x) for x in strings]).astype(np.int64)
    data = np.frombuffer(b"".join(strings), dtype=np.uint8)
    compiled = string_keys_of_buffers(offsets, data, basis(seed))
    assert string_keys_by_numpy(offsets, data, basis(seed)).tolist() == compiled.tolist()


def test_gather_ends_every_line_with_a_newline() -> None:
    data = np.frombuffer(b"one\ntwo\nthree", dtype=np.uint8)
    got = gather(data, np.array([0, 8], dtype=np.int64), np.array([3, 13], dtype=np.int64))
    assert bytes(got) == b"one\nthree\n"


def python_ipv4(text: str) -> int:
    try:
        return int(ipaddress.IPv4Address(text))
    except ValueError:
        return -1


@settings(max_examples=3000, deadline=None)  # the first call loads the compiled loop
@given(st.text(alphabet="0123456789.", max_size=20) | st.text(max_size=16))
@example("0.0.0.0")
@example("255.255.255.255")
@example("256.1.1.1")
@example("01.2.3.4")
@example("1.2.3.00")
@example("1.2.3")
@example("1.2.3.4.5")
@example("1..2.3")
@example("1.2.3.4.")
@example("0001.2.3.4")
@example("1.2.3.99999999999999")
def test_ipv4_reads_what_ipaddress_reads(text: str) -> None:
    data = np.frombuffer(("x" + text + "\t").encode(), dtype=np.uint8).copy()
    assert _ipv4(data, 1, len(data) - 1) == python_ipv4(text)
