"""Every column reader gives what its per-line reader gives, on shipped samples damaged at random.

The damage (seeded, so a failure repeats) includes the characters on which Python and the Rust
regexes of polars disagree: \\x1c-\\x1f are white space to Python's ``\\s``, ``split()`` and
``strip()``, and not to polars.
"""

from __future__ import annotations

import importlib
import random
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lamsach.logs.formats import ReadContext, ReadStats
from lamsach.logs.formats._columnar import PYTHON_WHITESPACE, answers_as_read, ip_series
from lamsach.logs.formats._rows import ip_or_none

DATA = Path(__file__).parent / "data"
# Module of a format with read_lines(stream, ctx, fast), and a shipped sample of it.
READERS = [
    ("fortigate", "b_fortigate.log"),
    ("bind", "a_bind_queries.log"),
    ("squid", "a_squid_native.log"),
    ("squid", "a_squid_common.log"),
    ("windows_dns", "a_windns_vi.log"),
    ("windows_dns", "a_windns_us.log"),
    ("zeek_json", "a_zeek_mixed.json.log"),
    ("suricata", "a_suricata_eve.json"),
    ("generic_csv", "a_generic_dns.csv"),
    ("generic_csv", "a_generic_proxy.tsv"),
]
DAMAGE = [
    *'\x1c\x1d\x1e\x1f\x85\xa0\u2028\u3000\t\r\x00\x01"\\=,:./%{}[] éİ\ufeff',
    "\\u001c",
    "\\u0041",
    "99999999999999999999",
    "::ffff:192.0.2.1",
    "256.1.1.1",
]


def damaged(line: str, rng: random.Random) -> str:
    chars = list(line)
    for _ in range(rng.randint(1, 4)):
        pick = rng.random()
        if pick < 0.4 and chars:
            del chars[rng.randrange(len(chars))]
        elif pick < 0.8:
            chars.insert(rng.randint(0, len(chars)), rng.choice(DAMAGE))
        else:
            start = rng.randint(0, len(chars))
            end = rng.randint(start, len(chars))
            chars[start:end] = chars[start:end][::-1]
    return "".join(chars)


def read(module: str, path: Path, fast: bool) -> tuple[pa.Table | None, ReadStats]:
    reader = importlib.import_module(f"lamsach.logs.formats.{module}")
    stats = ReadStats(file=str(path))
    with path.open(encoding="utf-8", newline="") as stream:
        # Small chunks: the column reader is tried on many, one damaged line in each.
        ctx = ReadContext(file=str(path), stats=stats, batch_size=16)
        batches = list(reader.read_lines(stream, ctx, fast))
    table = pa.Table.from_batches(batches) if batches else None
    return table, stats


def test_python_white_space_is_all_that_strip_takes() -> None:
    assert "".join(c for c in map(chr, range(0x110000)) if c.isspace()) == PYTHON_WHITESPACE
    assert set("\x1c\x1d\x1e\x1f") <= set(PYTHON_WHITESPACE)


@pytest.mark.parametrize(("module", "sample"), READERS)
def test_column_reader_equals_line_reader_on_damaged_samples(
    tmp_path: Path, module: str, sample: str
) -> None:
    lines = (DATA / sample).read_text(encoding="utf-8").splitlines()
    rng = random.Random(sample)
    path = tmp_path / sample
    for _ in range(120):
        body = [damaged(line, rng) if rng.random() < 0.3 else line for line in lines]
        path.write_text("\n".join(body) + "\n", encoding="utf-8")
        by_column, column_stats = read(module, path, fast=True)
        by_line, line_stats = read(module, path, fast=False)
        assert (by_column is None) == (by_line is None)
        if by_column is not None and by_line is not None:
            assert by_column.cast(by_line.schema).to_pylist() == by_line.to_pylist()
        assert column_stats.skipped == line_stats.skipped
        assert column_stats.examples == line_stats.examples


def test_names_are_trimmed_of_python_white_space_by_column_too(tmp_path: Path) -> None:
    path = tmp_path / "dns.json.log"
    names = ["\\u001cevil.example\\u001f", "\\u0085evil.example.\\u00a0", "\\u3000Evil.Example"]
    path.write_text(
        "".join(
            '{"ts":1700000000.5,"uid":"C1","id.orig_h":"10.0.0.1","id.orig_p":5353,'
            f'"id.resp_h":"10.0.0.53","id.resp_p":53,"proto":"udp","query":"{name}"}}\n'
            for name in names
        )
    )
    by_column, _ = read("zeek_json", path, fast=True)
    by_line, _ = read("zeek_json", path, fast=False)
    assert by_column is not None and by_line is not None
    assert by_column.column("host").to_pylist() == ["evil.example"] * 3
    assert by_line.column("host").to_pylist() == ["evil.example"] * 3


_OCTETS = st.sampled_from(["0", "1", "9", "10", "99", "100", "199", "255", "256", "01", "00"])
ADDRESS_LIKE = st.one_of(
    st.lists(_OCTETS, min_size=3, max_size=5).map(".".join),
    st.ip_addresses().map(str),
    st.ip_addresses(v=6).map(lambda a: a.exploded),
    st.sampled_from(["::ffff:192.0.2.1", "[2001:db8::1]", "fe80::1%eth0", "1.2.3.4 ", "", "-"]),
    st.text(alphabet="0123456789.:abcdefABCDEF[]% \x1c", max_size=20),
)


@given(st.lists(ADDRESS_LIKE, max_size=30))
def test_ip_series_reads_addresses_as_ip_or_none_does(values: list[str]) -> None:
    series = pl.Series("ip", values, dtype=pl.String)
    assert ip_series(series).to_list() == [ip_or_none(v) for v in values]
    answers = pl.Series("answers", [values], dtype=pl.List(pl.String))
    assert answers_as_read(answers) == all(ip_or_none(v) == v for v in values)
