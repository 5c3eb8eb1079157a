"""The real maltrail sample (about 600,000 lines of dirty real data) imports sanely."""

from __future__ import annotations

from pathlib import Path

import pytest

from lamsach.indicators.importer import import_paths
from lamsach.indicators.model import IndicatorType as T
from lamsach.indicators.normalize import parse_value


@pytest.mark.shared_data
@pytest.mark.slow
def test_maltrail_subset(shared_data: Path) -> None:
    root = shared_data / "indicators" / "maltrail-subset"
    result = import_paths([root])
    assert result.errors == []
    assert len(result.files) > 700 and {r.format for r in result.files} == {"maltrail"}
    assert [Path(p).name for p in result.skipped_files] == ["LICENSE"]
    counts = result.counts
    assert 300_000 < counts[T.DOMAIN.value] < 400_000
    assert 30_000 < counts[T.IP_PORT.value] < 60_000
    assert 10_000 < counts[T.IPV4.value] < 20_000
    assert 1_000 <= counts[T.CIDR.value] < 2_000
    assert 5_000 < counts[T.URL.value] < 10_000
    # Most lines are good; path-only trails (c2 panels) are the bulk of rejects.
    rejects = result.reject_counts
    entries = sum(r.entries for r in result.files)
    assert entries > 500_000
    assert sum(rejects.values()) < 0.05 * entries
    assert rejects.most_common(1)[0][0] == "url-path"
    by_key = {i.key: i for i in result.indicators}
    emotet = by_key[(T.IP_PORT, "95.178.241.254:465")]
    assert {"emotet", "malware"} <= emotet.tags
    assert (T.URL, "http://absongkhla.com/administrator/help/hurryup/") in by_key
    assert (T.DOMAIN, "unload.duckdns.org") in by_key  # trailing blank on the line
    assert (T.DOMAIN, "xn--polonix-y8a.com") in by_key
    assert (T.DOMAIN, "koldiv.ru") in by_key
    assert {"c2_panel", "malicious"} <= by_key[(T.DOMAIN, "koldiv.ru")].tags
    assert (T.CIDR, "5.63.151.0/24") in by_key
    where = {(Path(r.file).name, r.line, r.reason) for r in result.rejects}
    assert ("c2_panel.txt", 823, "bad-domain") in where  # koldiv.ru-F
    assert ("dynamic_domain.txt", 1, "public-suffix") not in where  # a comment line
    assert any(r.reason == "public-suffix" and r.text == "ddns.net" for r in result.rejects)
    # Every stored value is canonical: normalising it again gives itself.
    for indicator in result.indicators:
        bare = indicator.type if indicator.type in (T.DOMAIN, T.HOSTNAME) else T.DOMAIN
        assert parse_value(indicator.value, bare_name=bare) == indicator.key
