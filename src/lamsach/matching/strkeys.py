"""The 32-bit key of an indicator string: FNV-1a over its bytes read from the right.

Reading from the right means that, while a host name is hashed, the key of every parent name
(``evil.com`` inside ``a.b.evil.com``) is passed on the way; the prefilter probes them all in one
pass. The loops are compiled with numba.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numba
import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa

FNV_PRIME = np.uint64(0x100000001B3)
FNV_BASIS = 0xCBF29CE484222325


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


@numba.njit(cache=True, nogil=True, inline="always")
def fold(h: np.uint64) -> np.uint32:
    """The 32-bit key of a 64-bit running hash."""
    return np.uint32((h ^ (h >> np.uint64(32))) & np.uint64(0xFFFFFFFF))


@numba.njit(cache=True, nogil=True, inline="always")
def step(h: np.uint64, byte: np.uint8) -> np.uint64:
    return (h ^ np.uint64(byte)) * FNV_PRIME


@numba.njit(cache=True, nogil=True)
def string_keys_of_buffers(offsets: np.ndarray, data: np.ndarray, start: np.uint64) -> np.ndarray:
    n = len(offsets) - 1
    out = np.empty(n, dtype=np.uint32)
    for i in range(n):
        h = start
        for j in range(offsets[i + 1] - 1, offsets[i] - 1, -1):
            h = step(h, data[j])
        out[i] = fold(h)
    return out


def string_keys(values: pa.Array, seed: int) -> np.ndarray:
    """The key of every string of an Arrow array (nulls hash like empty strings)."""
    if len(values) == 0:
        return np.empty(0, dtype=np.uint32)
    offsets, data = string_buffers(values)
    return string_keys_of_buffers(offsets, data, basis(seed))
