"""Checks every log format's tests share: damaged lines are counted, other formats not claimed."""

from __future__ import annotations

import io
from pathlib import Path

from hypothesis import strategies as st

from lamsach.logs.formats import LogFormat, ReadContext, ReadStats
from lamsach.logs.reader import open_text, read_head
from lamsach.logs.schema import LOG_SCHEMA


def check_damaged_lines_are_counted(
    fmt: LogFormat, sample: Path, data: st.DataObject, *, every_line_accounted: bool = True
) -> None:
    """Junk spliced into real-shaped lines gives rows or counted skips, never an exception.

    With ``every_line_accounted`` each non-blank line is exactly one row or one skip.
    """
    lines = [line for line in sample.read_text().splitlines() if line]
    picked = data.draw(st.lists(st.sampled_from(lines), min_size=1, max_size=4))
    damaged = []
    for line in picked:
        cut = data.draw(st.integers(0, len(line)))
        junk = data.draw(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12))
        damaged.append((line[:cut] + junk + line[cut:]).replace("\r", "").replace("\n", " "))
    stats = ReadStats(file="fuzz")
    ctx = ReadContext(file="fuzz", stats=stats, batch_size=2)
    batches = list(fmt.read(io.StringIO("\n".join(damaged) + "\n"), ctx))
    records = sum(batch.num_rows for batch in batches)
    assert all(batch.schema == LOG_SCHEMA for batch in batches)
    assert records + stats.skipped_total <= len(damaged)
    if every_line_accounted:
        assert records + stats.skipped_total == sum(1 for line in damaged if line.strip())


def check_claims_no_other_sample(fmt: LogFormat, shared_data: Path, *own: str) -> None:
    """The format's sniff claims none of the real samples outside its own folders."""
    for path in sorted((shared_data / "logs").rglob("*")):
        if path.parent.name in own or not path.is_file() or path.suffix == ".md":
            continue
        with open_text(str(path)) as stream:
            assert not fmt.sniff(read_head(stream)), path
