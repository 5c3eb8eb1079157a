"""The 32-bit key of an indicator string: FNV-1a over its bytes read from the right.

Reading from the right means that, while a host name is hashed, the key of every parent name
(``evil.com`` inside ``a.b.evil.com``) is passed on the way; the prefilter probes them all in one
pass. Big arrays are hashed by a loop compiled with numba (``strkeys_loops``); small ones, as a
scan's few passed lines, by numpy, so that a process matching only those never loads numba.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa

FNV_PRIME = np.uint64(0x100000001B3)
FNV_BASIS = 0xCBF29CE484222325
SMALL = 4096  # at most this many strings are hashed by numpy where numba is not loaded yet
_LOOPS = "lamsach.matching.strkeys_loops"
# How a string becomes its key: keys stored with another scheme are recomputed. Change it with
# the hash.
NAME_KEYS = "fnv1a-from-right/fold32/1"


def string_buffers(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets as int64, bytes as uint8) of a string array, without copying where possible."""
    import pyarrow as pa  # here: scan workers load this module before pyarrow (see worker_boot)

    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        values = values.cast(pa.large_string())
    _, offsets, data = values.buffers()
    width = np.int64 if pa.types.is_large_string(values.type) else np.int32
    offs = np.frombuffer(offsets, dtype=width)[values.offset : values.offset + len(values) + 1]
    raw = np.frombuffer(data if data is not None else b"", dtype=np.uint8)
    # Always the same array types (writable int64 offsets, read-only bytes): numba then loads one
    # compiled variant of each loop, not one per combination.
    return offs.astype(np.int64), raw


def basis(seed: int) -> np.uint64:
    """The FNV offset basis for a seed (a new seed gives every string a new key)."""
    return np.uint64((FNV_BASIS ^ seed) & 0xFFFFFFFFFFFFFFFF)


def string_keys(values: pa.Array, seed: int) -> np.ndarray:
    """The key of every string of an Arrow array (nulls hash like empty strings)."""
    if len(values) == 0:
        return np.empty(0, dtype=np.uint32)
    offsets, data = string_buffers(values)
    if len(values) <= SMALL and _LOOPS not in sys.modules:
        # Slower a string, but loading numba costs half a second, which a process matching a
        # few lines (a scan's parent) never makes up; once loaded, the loop is used for all.
        return string_keys_by_numpy(offsets, data, basis(seed))
    from lamsach.matching.strkeys_loops import string_keys_of_buffers

    keys: np.ndarray = string_keys_of_buffers(offsets, data, basis(seed))
    return keys


def string_keys_by_numpy(offsets: np.ndarray, data: np.ndarray, start: np.uint64) -> np.ndarray:
    """The keys of the strings of (offsets, bytes), a byte position at a time over all of them."""
    ends = offsets[1:]
    lengths = ends - offsets[:-1]
    h = np.full(len(lengths), start, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for back in range(1, int(lengths.max(initial=0)) + 1):
            live = np.flatnonzero(lengths >= back)
            h[live] = (h[live] ^ data[ends[live] - back].astype(np.uint64)) * FNV_PRIME
    return ((h ^ (h >> np.uint64(32))) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
