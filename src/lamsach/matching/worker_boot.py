"""Imported once by the server that scan workers are forked from: the compiled loops.

numba and the machine code of the loops a worker runs load here once, so that a forked worker
starts with them (the prefilter itself is made by the parent and handed to the workers).
Only what is safe to fork is loaded: no polars, no Arrow (they run threads of their own, which a
fork would not copy); each worker imports those itself.
"""

from __future__ import annotations

import numpy as np

from lamsach.matching.prefilter import NAME
from lamsach.matching.prefilter_loops import gather, screen_block, separators
from lamsach.matching.strkeys import basis


def _load_compiled_loops() -> None:
    """Run each compiled loop once on a tiny input: numba loads its machine code on first call.

    The inputs have the types of the real ones (a writable buffer of bytes, as fastpath reads
    into), or numba would load a variant for other types.
    """
    start = basis(0)
    bloom = np.zeros(8, dtype=np.uint64)
    text = np.frombuffer(bytearray(b"a.example\t1\n"), dtype=np.uint8)
    seps = np.empty(16, dtype=np.int64)
    newlines = np.ones(17, dtype=np.int64)
    count = separators(text, text[:8].view(np.uint64), 0, len(text), 9, seps, newlines)
    keys = np.empty(0, dtype=np.uint32)
    directory = np.zeros(3, dtype=np.int32)
    kinds = np.array([NAME, 0], dtype=np.int8)
    read = np.ones(2, dtype=np.bool_)
    nulls = np.frombuffer(b"-", dtype=np.uint8).copy(), np.frombuffer(b"(empty)", np.uint8).copy()
    out = np.empty(30, dtype=np.int64)
    screen_block(
        text, 0, len(text), seps, count, newlines, 2, 44, kinds, np.arange(2, dtype=np.int64), read,
        nulls[0], nulls[1], False, False, start, bloom, np.zeros(8, dtype=np.uint8), keys,
        directory, 31, keys, directory, 31, out,
    )  # fmt: skip
    gather(text, np.array([0], dtype=np.int64), np.array([9], dtype=np.int64))


_load_compiled_loops()
