"""Imported once by the server that scan workers are forked from: what every worker needs.

The libraries are imported and the compiled loops loaded here, so that a forked worker starts
ready. Nothing here may start a thread (no polars or Arrow compute): a fork copies no threads.
"""

from __future__ import annotations

import numpy as np

from lamsach.matching import engine_local, kernel  # noqa: F401 - loaded for the workers
from lamsach.matching.prefilter import KeyTable, LineLayout, Prefilter, gather_lines, screen
from lamsach.matching.prefilter_loops import NAME
from lamsach.matching.strkeys import basis, string_keys_of_buffers


def _load_compiled_loops() -> None:
    """Run each compiled loop once on a tiny input: numba loads its machine code on first call.

    The inputs have the types of the real ones (read-only bytes, as from a file mapping), or
    numba would load a variant for other types.
    """
    text = np.frombuffer(b"a.example\t1\n", dtype=np.uint8)
    string_keys_of_buffers(np.array([0, 9], dtype=np.int64), text, basis(0))
    nothing = KeyTable.of(np.empty(0, dtype=np.uint32))
    empty = Prefilter(np.zeros(8, np.uint64), nothing, nothing, np.zeros(8, np.uint8), False, False,
                      basis(0))  # fmt: skip
    kinds = np.array([NAME, 0], dtype=np.int8)
    layout = LineLayout(2, 9, 44, kinds, np.ones(2, dtype=np.bool_), (b"-", b"(empty)"))
    found = screen(text, 0, len(text), layout, empty)
    gather_lines(text, found.starts, found.ends)


_load_compiled_loops()
