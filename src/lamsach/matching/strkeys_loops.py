"""The compiled (numba) steps of string keys: FNV-1a over bytes read from the right."""

from __future__ import annotations

import numba
import numpy as np

from lamsach.matching.strkeys import FNV_PRIME


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
