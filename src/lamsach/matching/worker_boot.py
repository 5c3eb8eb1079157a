"""Imported once by the server that scan workers are forked from: what a worker runs.

numba, the machine code of the loops, Arrow and the scanning modules load here once, so that a
forked worker starts with them (the prefilter itself is made by the parent and handed over).
A fork copies only the thread that calls it, so the server must run no other: numpy's BLAS and
Arrow's allocator are told to start none, and polars (which always does) is left to the workers.
"""

from __future__ import annotations

import os

# Before numpy and pyarrow are imported; inherited by the workers.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ["JE_ARROW_MALLOC_CONF"] = "background_thread:false"

import numpy as np

# The modules a worker runs, Arrow with them.
import lamsach.matching.direction
import lamsach.matching.engine_local
import lamsach.matching.fastpath  # noqa: F401
from lamsach.matching.prefilter import NAME
from lamsach.matching.prefilter_loops import gather, scratch, screen_block, separators
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
    count = separators(text, 0, len(text), 9, seps, newlines)
    keys = np.empty(0, dtype=np.uint32)
    directory = np.zeros(3, dtype=np.int32)
    kinds = np.array([NAME, 0], dtype=np.int8)
    fields = np.arange(2, dtype=np.int64)
    nulls = np.frombuffer(b"-", dtype=np.uint8).copy(), np.frombuffer(b"(empty)", np.uint8).copy()
    out = np.empty(30, dtype=np.int64)
    screen_block(
        text, 0, len(text), seps, count, newlines, 2, 44, kinds, fields, fields[:1], nulls[0],
        nulls[1], False, False, start, bloom, np.zeros(8, dtype=np.uint8), keys, directory, 31,
        keys, directory, 31, out, *scratch(1),
    )  # fmt: skip
    gather(text, np.array([0], dtype=np.int64), np.array([9], dtype=np.int64))


_load_compiled_loops()
