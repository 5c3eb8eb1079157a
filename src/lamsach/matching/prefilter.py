"""A compiled first pass over delimited log text: which lines could match the index at all.

It may pass a line that does not match (the kernel then says no), never the reverse: every line
it lets go holds no value that can match a listed indicator and is an ordinary record. Lines out of
the ordinary (comments, blank lines, wrong field counts, values needing normalisation such as
international names, ports or IPv6) are always passed on, so the format reader and the kernel
decide them exactly as without the prefilter. Like the kernel, it knows nothing of files.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lamsach.matching.strkeys import NAME_KEYS

if TYPE_CHECKING:
    import pyarrow as pa

    from lamsach.matching.index import IndicatorIndex

# What a field holds. An HTTP host is also the authority of the URL the reader builds from it and
# the URI, and an absolute URI has a host of its own.
SKIP, ADDRESS, ADDRESSES, NAME, NAMES, URL_HOST, URI = 0, 1, 2, 3, 4, 5, 6
_BUCKET_KEYS = 4  # keys per directory bucket on average
# How names become keys and Bloom bits (strkeys, bloom_bits): a stored prefilter made another
# way is not used. Change it with bloom_bits.
KEY_SCHEME = f"{NAME_KEYS}/bloom4x64/1"
BLOB = "prefilter"  # its blob in an index file
_ARRAYS = ("names", "blocks", "domains.keys", "domains.directory", "hostnames.keys",
           "hostnames.directory")  # fmt: skip


@dataclass(frozen=True)
class KeyTable:
    """Sorted 32-bit keys with a directory of buckets by their top bits."""

    keys: np.ndarray
    directory: np.ndarray
    shift: int

    @classmethod
    def of(cls, keys: np.ndarray) -> KeyTable:
        """From sorted keys (an index section's: shared, not copied)."""
        bits = max(1, min(24, int(np.ceil(np.log2(max(len(keys), 1) / _BUCKET_KEYS + 1)))))
        shift = 32 - bits
        edges = np.arange((1 << bits) + 1, dtype=np.uint64) << np.uint64(shift)
        directory = np.searchsorted(keys.astype(np.uint64), edges).astype(np.int32)
        return cls(keys, directory, shift)


@dataclass(frozen=True)
class Prefilter:
    """What the first pass needs of an index's listed indicators (the allow-list only removes).

    Plain arrays and flags: it pickles, so a process can make it once and hand it to others.
    """

    names: np.ndarray  # Bloom filter of the listed domains and host names (uint64 words)
    domains: KeyTable
    hostnames: KeyTable
    blocks: np.ndarray  # one bit per IPv4 /24 holding a listed address or meeting a network
    any_ip: bool  # some IP is listed: IPv6 values (maybe IPv4-mapped) go to the kernel
    any_v6: bool
    any_url: bool  # logs with URIs cannot be screened: the pass does not look at URLs
    any_hash: bool  # nor at file hashes
    basis: np.uint64

    @classmethod
    def of(cls, index: IndicatorIndex) -> Prefilter:
        # Here, not at the top: a process handed a made prefilter loads neither polars nor numba
        # (the compiled loops are imported where they run).
        from lamsach.matching.sections import HASH_SEED, V6_KINDS
        from lamsach.matching.strkeys import basis, string_keys

        listed = index.listed

        start = basis(HASH_SEED)
        strings = {
            kind: listed.sections[kind].strings(np.arange(len(listed.sections[kind])))
            for kind in ("domain", "hostname")
            if kind in listed.sections
        }

        def keys(kind: str) -> KeyTable:
            # The section's own keys when they are the keys this pass computes (they are,
            # unless the index was built with another hash): no second copy.
            if kind not in strings:
                return KeyTable.of(np.empty(0, np.uint32))
            own = string_keys(strings[kind], HASH_SEED)
            section_keys = listed.sections[kind].keys
            if np.array_equal(own, section_keys):
                return KeyTable.of(section_keys)
            return KeyTable.of(np.sort(own))

        return cls(
            names=make_bloom(list(strings.values()), start),
            domains=keys("domain"),
            hostnames=keys("hostname"),
            blocks=listed.v4_blocks(),
            any_ip=listed.has("ipv4", "cidr4", "ipport4", *V6_KINDS),
            any_v6=listed.has(*V6_KINDS),
            any_url=listed.has("url"),
            any_hash=listed.has("md5", "sha1", "sha256"),
            basis=start,
        )

    def to_blob(self) -> tuple[dict[str, Any], bytes]:
        """Its description (for an index file's header) and its arrays as one blob."""
        import zstandard

        from lamsach.matching.index_file import pack_arrays

        meta = {
            "scheme": KEY_SCHEME,
            "shifts": [self.domains.shift, self.hostnames.shift],
            "flags": [self.any_ip, self.any_v6, self.any_url, self.any_hash],
            "basis": int(self.basis),
        }
        meta, data = pack_arrays(meta, [self._array(name) for name in _ARRAYS])
        # Compressed: the /24 bitmap alone is 2 MiB, mostly zeros for a small list.
        return meta, zstandard.compress(data, 3)

    @classmethod
    def from_blob(cls, meta: dict[str, Any], blob: bytes) -> Prefilter | None:
        """A prefilter stored by :meth:`to_blob`; None if it was made another way or damaged."""
        import zstandard

        from lamsach.matching.index_file import unpack_arrays

        try:
            if meta["scheme"] != KEY_SCHEME:
                return None
            size = sum(np.dtype(t).itemsize * int(n) for t, n in meta["arrays"])
            if zstandard.frame_content_size(blob) != size:
                return None  # never trust a damaged frame with the size of an allocation
            arrays = unpack_arrays(meta, zstandard.decompress(blob))
            if arrays is None:
                return None
            found = dict(zip(_ARRAYS, arrays, strict=True))
            domain_shift, host_shift = (int(x) for x in meta["shifts"])
            any_ip, any_v6, any_url, any_hash = (bool(f) for f in meta["flags"])
            domains = KeyTable(found["domains.keys"], found["domains.directory"], domain_shift)
            hosts = KeyTable(found["hostnames.keys"], found["hostnames.directory"], host_shift)
            return cls(
                names=found["names"],
                domains=domains,
                hostnames=hosts,
                blocks=found["blocks"],
                any_ip=any_ip,
                any_v6=any_v6,
                any_url=any_url,
                any_hash=any_hash,
                basis=np.uint64(meta["basis"]),
            )
        except (KeyError, TypeError, ValueError, zstandard.ZstdError):
            return None

    @classmethod
    def stored(cls, index_path: str | Path) -> Prefilter | None:
        """The prefilter stored in an index file when it was saved, without loading the index."""
        from lamsach.matching.index_file import read_raw_blob

        found = read_raw_blob(index_path, BLOB)
        if found is None:
            return None
        header, data = found
        meta = header.get("prefilter")
        return cls.from_blob(meta, data) if isinstance(meta, dict) else None

    def _array(self, name: str) -> np.ndarray:
        owner, _, part = name.partition(".")
        value = getattr(getattr(self, owner), part) if part else getattr(self, owner)
        return np.ascontiguousarray(value)

    def can_screen(self, has_url: bool, has_hashes: bool) -> bool:
        """Whether the indicators a log's fields could match are all ones the pass looks for."""
        return not (has_url and self.any_url) and not (has_hashes and self.any_hash)


@dataclass(frozen=True)
class LineLayout:
    """Lines of ``fields`` values cut by one separator byte, and what each field holds."""

    fields: int
    separator: int
    set_separator: int
    kinds: np.ndarray  # int8 per field: SKIP, ADDRESS, ADDRESSES, NAME or NAMES
    read: np.ndarray  # bool per field: the reader takes it (a line with all of them null is odd)
    nulls: tuple[bytes, ...]  # the spellings of a null value

    # What the compiled pass is given, made once per log rather than once per block.
    @cached_property
    def taken(self) -> np.ndarray:
        """The fields the reader takes."""
        return np.flatnonzero(self.read).astype(np.int64)

    @cached_property
    def looked(self) -> np.ndarray:
        """The fields whose values are looked up."""
        return np.flatnonzero(self.kinds != SKIP).astype(np.int64)

    @cached_property
    def null_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The two spellings of a null value as byte arrays (an empty one where there is none)."""
        arrays = [np.frombuffer(n, np.uint8).copy() for n in self.nulls[:2]]
        arrays += [np.empty(0, np.uint8)] * (2 - len(arrays))
        return arrays[0], arrays[1]


@dataclass(frozen=True)
class Screened:
    """The outcome of one pass over a block of whole lines."""

    lines: int  # physical lines in the block
    records: int  # ordinary record lines that cannot match
    candidates: np.ndarray  # 0-based line numbers (in the block) of the other lines
    starts: np.ndarray  # their byte spans, newline excluded
    ends: np.ndarray


class Workspace:
    """The arrays of the pass, kept from one block to the next.

    Made afresh for each block, the separator positions (16 MiB for a block of 8) went back to
    the system after it, and their pages were faulted in again for the next.
    """

    def __init__(self) -> None:
        self.seps = np.empty(0, dtype=np.int64)
        self.newlines = np.empty(1, dtype=np.int64)
        self.out = np.empty(1024, dtype=np.int64)
        self.scratch: dict[int, tuple[np.ndarray, ...]] = {}

    def room(self, room: int) -> tuple[np.ndarray, np.ndarray]:
        """Arrays for ``room`` separator positions (and where the newlines are among them)."""
        if len(self.seps) < room:
            self.seps = np.empty(room, dtype=np.int64)
            self.newlines = np.empty(room + 1, dtype=np.int64)
        return self.seps, self.newlines

    def working(self, looked: int) -> tuple[np.ndarray, ...]:
        from lamsach.matching.prefilter_loops import scratch

        if looked not in self.scratch:
            self.scratch[looked] = scratch(looked)
        return self.scratch[looked]


def screen(
    base: np.ndarray,
    begin: int,
    end: int,
    layout: LineLayout,
    prefilter: Prefilter,
    workspace: Workspace | None = None,
) -> Screened:
    """Pass over ``base[begin:end]``, a block of whole lines (the last may lack its newline).

    ``base`` is uint8; byte spans in the result are in ``base``. A ``workspace`` given is reused
    (one for all the blocks of a file).
    """
    from lamsach.matching.prefilter_loops import screen_block, separators

    work = workspace if workspace is not None else Workspace()
    room = min(end - begin + 1, (end - begin) // 4 + 64)
    while True:
        seps, newlines = work.room(room)
        newlines[0] = 1
        nseps = separators(base, begin, end, layout.separator, seps, newlines)
        if nseps >= 0:
            break
        room = end - begin + 8  # a block of nothing but separators
    null1, null2 = layout.null_arrays
    while True:
        out = work.out
        lines, records, found = screen_block(
            base, begin, end, seps, nseps, newlines, layout.fields, layout.set_separator,
            layout.kinds, layout.taken, layout.looked, null1, null2, prefilter.any_ip,
            prefilter.any_v6,
            prefilter.basis, prefilter.names, prefilter.blocks, prefilter.domains.keys,
            prefilter.domains.directory, prefilter.domains.shift, prefilter.hostnames.keys,
            prefilter.hostnames.directory, prefilter.hostnames.shift, out,
            *work.working(len(layout.looked)),
        )  # fmt: skip
        if found <= len(out) // 3:
            break
        # More candidates than room: grow and pass again (rare: candidates are few).
        work.out = np.empty(3 * found + 3, dtype=np.int64)
    spans = out[: 3 * found].reshape(-1, 3) if found else np.empty((0, 3), np.int64)
    return Screened(lines, records, spans[:, 0].copy(), spans[:, 1].copy(), spans[:, 2].copy())


def gather_lines(block: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> bytes:
    """The given lines of a block, each ended by a newline, as one text."""
    from lamsach.matching.prefilter_loops import gather

    return bytes(gather(block, starts, ends))


def make_bloom(values: list[pa.Array], start: np.uint64) -> np.ndarray:
    """A Bloom filter of strings (about 16 bits each, 4 per string, in one 64-bit word)."""
    from lamsach.matching.prefilter_loops import fill_bloom
    from lamsach.matching.strkeys import string_buffers

    total = sum(len(v) for v in values)
    words = 1 << max(3, int(np.ceil(np.log2(max(total, 1) / 4))))
    bloom = np.zeros(words, dtype=np.uint64)
    for array in values:
        if len(array):
            offsets, data = string_buffers(array)
            fill_bloom(bloom, offsets, data, start)
    return bloom
