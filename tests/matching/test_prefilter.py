"""The prefilter is saved with the index, and a stored one is used only when it is sound."""

from __future__ import annotations

import json
import struct
from dataclasses import fields
from pathlib import Path
from unittest import mock

import numpy as np
import pytest

from lamsach.indicators.model import Indicator
from lamsach.indicators.model import IndicatorType as T
from lamsach.matching import engine_local, prefilter
from lamsach.matching.direction import DEFAULT_INTERNAL
from lamsach.matching.engine import plan_tasks
from lamsach.matching.index import IndicatorIndex
from lamsach.matching.index_file import MAGIC, read_index_file, write_index_file
from lamsach.matching.prefilter import KeyTable, Prefilter

LISTED = [
    Indicator(T.DOMAIN, "evil.example"),
    Indicator(T.HOSTNAME, "exact.host.example"),
    Indicator(T.IPV4, "203.0.113.66"),
    Indicator(T.CIDR, "198.51.100.0/28"),
]
HEADER = (
    "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n"
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tquery\n"
    "#types\ttime\tstring\taddr\tport\taddr\tport\tstring\n"
)


def same(a: Prefilter, b: Prefilter) -> bool:
    for f in fields(Prefilter):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, KeyTable):
            if not (np.array_equal(x.keys, y.keys) and np.array_equal(x.directory, y.directory)):
                return False
            if x.shift != y.shift:
                return False
        elif isinstance(x, np.ndarray):
            if x.dtype != y.dtype or not np.array_equal(x, y):
                return False
        elif x != y:
            return False
    return True


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    path = tmp_path / "i.lsidx"
    IndicatorIndex.build(LISTED).save(path)
    return path


def test_an_index_file_carries_its_prefilter(saved: Path) -> None:
    stored = Prefilter.stored(saved)
    assert stored is not None
    assert same(stored, Prefilter.of(IndicatorIndex.load(saved)))
    assert stored.any_ip and not stored.any_v6 and not stored.any_url


def test_a_damaged_prefilter_is_not_used(saved: Path) -> None:
    data = bytearray(saved.read_bytes())
    data[-100] ^= 0x40  # the prefilter blob is written last
    saved.write_bytes(bytes(data))
    assert Prefilter.stored(saved) is None
    IndicatorIndex.load(saved)  # the index itself is intact: only derived data was hit


def test_a_prefilter_made_another_way_is_not_used(
    saved: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prefilter, "KEY_SCHEME", "another-hash/2")
    assert Prefilter.stored(saved) is None


def test_an_index_without_a_prefilter_has_none_stored(saved: Path, tmp_path: Path) -> None:
    header, tables = read_index_file(saved)
    del header["prefilter"]
    older = tmp_path / "older.lsidx"
    write_index_file(older, header, tables)  # no raw blob, as indexes written before
    assert Prefilter.stored(older) is None
    assert len(IndicatorIndex.load(older)) == len(LISTED)


def test_an_index_of_format_1_still_loads(saved: Path, tmp_path: Path) -> None:
    header, tables = read_index_file(saved)
    del header["prefilter"]
    older = tmp_path / "v1.lsidx"
    write_index_file(older, header, tables)
    data = older.read_bytes()
    (size,) = struct.unpack_from("<Q", data, len(MAGIC))
    head = json.loads(data[len(MAGIC) + 8 : len(MAGIC) + 8 + size])
    head["format_version"] = 1
    text = json.dumps(head).encode()
    older.write_bytes(MAGIC + struct.pack("<Q", len(text)) + text + data[len(MAGIC) + 8 + size :])
    assert len(IndicatorIndex.load(older)) == len(LISTED)
    assert Prefilter.stored(older) is None


def test_workers_screen_with_the_stored_prefilter_before_the_index_is_loaded(
    saved: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A log with nothing to match: this process never needs the index at all.
    rows = [f"1700000000.{i}\tC{i}\t10.0.0.{i % 200}\t5353\t8.8.8.8\t53\tsite{i}.example.org"
            for i in range(4000)]  # fmt: skip
    clean = tmp_path / "dns.log"
    clean.write_text(HEADER + "\n".join(rows) + "\n")
    monkeypatch.setattr(engine_local, "INLINE_BYTES", 0)
    tasks, errors = plan_tasks([str(clean)], parts=2, min_split=64)
    assert not errors and len(tasks) == 2
    with mock.patch.object(IndicatorIndex, "load", side_effect=AssertionError("loaded")):
        report = engine_local.run_scan(tasks, None, DEFAULT_INTERNAL, workers=2, index_path=saved)
    assert report.records == 4000 and report.hits == 0 and not report.errors
    # A line with a listed name among them: it is handed back, and then the index is loaded.
    rows[1234] = rows[1234].replace("site1234.example.org", "www.evil.example")
    clean.write_text(HEADER + "\n".join(rows) + "\n")
    tasks, _ = plan_tasks([str(clean)], parts=2, min_split=64)
    found: list = []
    report = engine_local.run_scan(
        tasks, None, DEFAULT_INTERNAL, workers=2, index_path=saved, on_hits=found.append
    )
    assert report.hits == 1
    assert found[0].column("line").to_pylist() == [1234 + HEADER.count("\n") + 1]
