"""The index and the kernel on the real samples: maltrail lists, logs written by real software."""

from __future__ import annotations

import contextlib
import ipaddress
import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from lamsach.indicators.model import Indicator
from lamsach.indicators.model import IndicatorType as T
from lamsach.indicators.normalize import InvalidIndicator, normalize_hostname, normalize_url
from lamsach.logs.reader import LogReadError, detect_format, expand_paths, read_log
from lamsach.matching.index import IndicatorIndex
from lamsach.matching.kernel import match_batch
from lamsach.matching.reference import ReferenceMatcher

pytestmark = pytest.mark.shared_data


def log_batches(shared_data: Path) -> dict[str, pa.Table]:
    tables = {}
    for path in expand_paths([shared_data / "logs"]):
        if path.endswith(".md"):
            continue
        try:
            detect_format(path)
            batches = list(read_log(path))
        except (LogReadError, KeyError, ValueError):
            continue
        if batches and sum(b.num_rows for b in batches):
            tables[path] = pa.Table.from_batches(batches)
    return tables


def planted(tables: dict[str, pa.Table]) -> list[Indicator]:
    """Indicators made from values the logs hold, so the logs do hit them."""
    rng = random.Random(5)
    found: dict[tuple[T, str], Indicator] = {}

    def add(kind: T, value: str) -> None:
        found.setdefault((kind, value), Indicator(kind, value, {"planted"}))

    for table in tables.values():
        rows = table.to_pylist()
        for row in rng.sample(rows, min(len(rows), 40)):
            for name in ("src_ip", "dst_ip"):
                value = row.get(name)
                try:
                    address = ipaddress.ip_address(value) if value else None
                except ValueError:
                    address = None
                if address is None or address.is_private or rng.random() < 0.5:
                    continue
                if address.version == 4:
                    add(T.CIDR, str(ipaddress.ip_network(f"{address}/24", strict=False)))
                else:
                    add(T.IPV6, str(address))
            host = row.get("host")
            if host and rng.random() < 0.7:
                try:
                    name = normalize_hostname(host.rsplit(":", 1)[0])
                except InvalidIndicator:
                    continue
                labels = name.split(".")
                add(T.DOMAIN, ".".join(labels[1:]) if len(labels) > 2 else name)
            url = row.get("url")
            if url and rng.random() < 0.5:
                with contextlib.suppress(InvalidIndicator):
                    add(T.URL, normalize_url(url))
            for answer in row.get("answers") or []:
                if answer and rng.random() < 0.3:
                    with contextlib.suppress(ValueError):
                        add(T.IPV4, str(ipaddress.IPv4Address(answer)))
    return list(found.values())


def key(hit: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(hit[name]) for name in sorted(hit))


def test_kernel_agrees_with_reference_on_real_logs(shared_data: Path) -> None:
    tables = log_batches(shared_data)
    assert len(tables) >= 10, sorted(tables)
    listed = planted(tables)
    allow = [i for i in listed[::9] if i.type is T.DOMAIN]
    index = IndicatorIndex.build(listed, allow)
    reference = ReferenceMatcher(listed, allow)
    total = 0
    for path, table in tables.items():
        got = match_batch(table, index).to_pylist()
        want = reference.match_rows(table.to_pylist())
        assert sorted(map(key, got)) == sorted(map(key, want)), path
        total += len(got)
    assert total > 50


@pytest.mark.slow
def test_maltrail_lists_round_trip_and_agree_with_reference(
    shared_data: Path, tmp_path: Path
) -> None:
    from lamsach.indicators.importer import import_paths

    result = import_paths([shared_data / "indicators" / "maltrail-subset"])
    assert len(result.indicators) > 100_000
    index = IndicatorIndex.build(result.indicators)
    index.save(tmp_path / "maltrail.lsidx")
    loaded = IndicatorIndex.load(tmp_path / "maltrail.lsidx")

    def as_tuples(items: list[Indicator]) -> set[tuple[object, ...]]:
        return {(i.type, i.value, frozenset(i.sources), frozenset(i.tags)) for i in items}

    assert as_tuples(list(loaded.indicators())) == as_tuples(result.indicators)
    assert loaded.counts() == index.counts()
    reference = ReferenceMatcher(result.indicators)
    rng = random.Random(11)
    sample = rng.sample(result.indicators, 3000)
    probes = [i.value for i in sample]
    probes += ["www." + i.value for i in sample if i.type is T.DOMAIN]
    probes += ["x" + i.value for i in sample if i.type is T.DOMAIN]
    for value in probes:
        got = sorted((i.type, i.value) for i in loaded.lookup(value))
        want = sorted({(i.type, i.value) for i in reference.lookup(value)})
        assert got == want, value
