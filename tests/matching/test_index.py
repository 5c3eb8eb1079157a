"""The compiled index: build, save, load, counts and one-value look-ups."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from lamsach.indicators.model import Indicator
from lamsach.indicators.model import IndicatorType as T
from lamsach.matching import sections
from lamsach.matching.index import IndicatorIndex
from lamsach.matching.index_file import IndexFileError
from lamsach.matching.sections import BadValue

D1 = datetime(2024, 3, 1, 8, 30, tzinfo=UTC)
D2 = datetime(2024, 9, 30, tzinfo=UTC)


def sample() -> list[Indicator]:
    return [
        Indicator(
            T.DOMAIN, "evil.com", {"ncsc-2024"}, {"botnet"}, D1, D2, None, 90, {"ncsc/2024-03.csv"}
        ),
        Indicator(
            T.DOMAIN,
            "c2.bad.org",
            {"ncsc-2024", "maltrail"},
            {"emotet"},
            files={"ncsc/2024-03.csv", "maltrail/malware/emotet.txt"},
        ),
        Indicator(T.HOSTNAME, "login.example.net", {"maltrail"}, {"phishing"}),
        Indicator(T.IPV4, "203.0.113.7", {"ncsc-2024"}, set(), D1, None, D2, 70),
        Indicator(T.IPV6, "2001:db8::7", {"ncsc-2024"}),
        Indicator(T.CIDR, "198.51.100.0/24", {"spamhaus"}, {"drop"}),
        Indicator(T.CIDR, "198.51.0.0/16", {"spamhaus"}),
        Indicator(T.CIDR, "2001:db8:1::/48", {"spamhaus"}),
        Indicator(T.IP_PORT, "192.0.2.10:8080", {"feodo"}, {"c2"}),
        Indicator(T.IP_PORT, "[2001:db8::10]:443", {"feodo"}),
        Indicator(T.URL, "http://evil.com/gate.php", {"urlhaus"}),
        Indicator(T.MD5, "d41d8cd98f00b204e9800998ecf8427e", {"malwarebazaar"}),
        Indicator(T.SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709", {"malwarebazaar"}),
        Indicator(T.SHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    ]


def as_tuples(indicators: list[Indicator]) -> list[tuple[object, ...]]:
    return sorted(
        (
            i.type.value,
            i.value,
            tuple(sorted(i.sources)),
            tuple(sorted(i.tags)),
            i.first_seen,
            i.last_seen,
            i.expires,
            i.confidence,
            tuple(sorted(i.files)),
        )
        for i in indicators
    )


def test_round_trip_keeps_every_indicator_and_its_metadata(tmp_path: Path) -> None:
    allow = [Indicator(T.DOMAIN, "safe.evil.com", {"allow.txt"}), Indicator(T.CIDR, "10.0.0.0/8")]
    index = IndicatorIndex.build(sample(), allow)
    path = tmp_path / "lists.lsidx"
    index.save(path)
    loaded = IndicatorIndex.load(path)
    assert as_tuples(list(loaded.indicators())) == as_tuples(sample())
    assert as_tuples(list(loaded.allowed())) == as_tuples(allow)
    assert loaded.built_at == index.built_at
    assert len(loaded) == 14
    assert loaded.counts() == index.counts()
    assert loaded.counts()["cidr"] == 3 and loaded.counts()["ip_port"] == 2
    assert loaded.sources() == {
        "ncsc-2024": 4,
        "spamhaus": 3,
        "feodo": 2,
        "maltrail": 2,
        "malwarebazaar": 2,
        "urlhaus": 1,
    }


def test_naive_dates_are_taken_as_utc(tmp_path: Path) -> None:
    naive = Indicator(T.DOMAIN, "evil.com", first_seen=datetime(2024, 1, 2, 3, 4, 5))
    index = IndicatorIndex.build([naive])
    index.save(tmp_path / "i.lsidx")
    (back,) = IndicatorIndex.load(tmp_path / "i.lsidx").indicators()
    assert back.first_seen == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_duplicates_merge_without_changing_the_callers_objects() -> None:
    a = Indicator(T.DOMAIN, "evil.com", {"list-a"}, {"x"}, D2, D2)
    b = Indicator(T.DOMAIN, "evil.com", {"list-b"}, {"y"}, D1, D1)
    a.files, b.files = {"a.txt"}, {"b.txt"}
    (merged,) = IndicatorIndex.build([a, b]).indicators()
    assert merged.sources == {"list-a", "list-b"} and merged.tags == {"x", "y"}
    assert merged.files == {"a.txt", "b.txt"} and a.files == {"a.txt"}
    assert (merged.first_seen, merged.last_seen) == (D1, D2)
    assert a.sources == {"list-a"} and b.sources == {"list-b"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("evil.com", ["evil.com"]),
        ("a.b.EVIL.com.", ["evil.com"]),
        ("notevil.com", []),
        ("evil.com.example.org", []),
        ("login.example.net", ["login.example.net"]),
        ("x.login.example.net", []),  # a host name matches only itself
        ("203.0.113.7", ["203.0.113.7"]),
        ("::ffff:203.0.113.7", ["203.0.113.7"]),
        ("198.51.100.255", ["198.51.0.0/16", "198.51.100.0/24"]),
        ("198.51.101.0", ["198.51.0.0/16"]),
        ("198.52.0.0", []),
        ("2001:0DB8:0000::7", ["2001:db8::7"]),
        ("2001:db8:1:ffff::1", ["2001:db8:1::/48"]),
        ("192.0.2.10", ["192.0.2.10:8080"]),  # a bare address also shows its IP:port entries
        ("192.0.2.10:8080", ["192.0.2.10:8080"]),
        ("192.0.2.10:80", []),
        ("[2001:db8::10]:443", ["[2001:db8::10]:443"]),
        ("HTTP://Evil.COM:80/gate.php#top", ["evil.com", "http://evil.com/gate.php"]),
        ("https://evil.com/other", ["evil.com"]),
        ("D41D8CD98F00B204E9800998ECF8427E", ["d41d8cd98f00b204e9800998ecf8427e"]),
        ("evil[.]com", ["evil.com"]),
        ("hxxp://evil[.]com/gate.php", ["evil.com", "http://evil.com/gate.php"]),
        ("", []),
    ],
)
def test_lookup(value: str, expected: list[str]) -> None:
    index = IndicatorIndex.build(sample())
    assert sorted(i.value for i in index.lookup(value)) == sorted(expected)


def test_lookup_returns_metadata_and_honours_the_allow_list() -> None:
    allow = [Indicator(T.HOSTNAME, "safe.evil.com"), Indicator(T.IPV4, "198.51.100.1")]
    index = IndicatorIndex.build(sample(), allow)
    (hit,) = index.lookup("www.evil.com")
    assert hit.sources == {"ncsc-2024"} and hit.tags == {"botnet"} and hit.confidence == 90
    assert hit.first_seen == D1 and hit.last_seen == D2
    assert hit.files == {"ncsc/2024-03.csv"}
    (hit,) = index.lookup("c2.bad.org")
    assert hit.files == {"ncsc/2024-03.csv", "maltrail/malware/emotet.txt"}
    assert index.lookup("safe.evil.com") == []
    assert [i.value for i in index.lookup("x.safe.evil.com")] == ["evil.com"]
    assert index.lookup("198.51.100.1") == []
    assert len(index.lookup("198.51.100.2")) == 2


def test_international_names_match_their_punycode() -> None:
    index = IndicatorIndex.build([Indicator(T.DOMAIN, "xn--e1afmkfd.vn")])
    assert [i.value for i in index.lookup("www.ПРИМЕР.vn")] == ["xn--e1afmkfd.vn"]
    assert [i.value for i in index.lookup("a.xn--e1afmkfd.vn")] == ["xn--e1afmkfd.vn"]


def test_zero_prefix_network_is_handled() -> None:
    index = IndicatorIndex.build([Indicator(T.CIDR, "0.0.0.0/0"), Indicator(T.CIDR, "::/0")])
    assert [i.value for i in index.lookup("255.255.255.255")] == ["0.0.0.0/0"]
    assert [i.value for i in index.lookup("0.0.0.0")] == ["0.0.0.0/0"]
    assert [i.value for i in index.lookup("ffff::1")] == ["::/0"]


def test_hash_collisions_never_give_a_false_hit(monkeypatch: pytest.MonkeyPatch) -> None:
    # A hash that collides all the time: every answer must still be exact.
    def weak(values: pa.Array) -> np.ndarray:
        return (pc.binary_length(values).to_numpy(zero_copy_only=False) % 3).astype(np.uint32)

    monkeypatch.setattr(sections, "hash_arrow_strings", weak)
    names = ["evil.com", "bad.org", "worse.net", "abc.de", "x.io", "c2.example.com"]
    index = IndicatorIndex.build([Indicator(T.DOMAIN, n) for n in names])
    for name in names:
        assert [i.value for i in index.lookup("www." + name)] == [name]
    for other in ("good.com", "evil.co", "ab.de", "example.com", "io"):
        assert index.lookup(other) == []


def test_empty_index(tmp_path: Path) -> None:
    index = IndicatorIndex.build([])
    index.save(tmp_path / "empty.lsidx")
    loaded = IndicatorIndex.load(tmp_path / "empty.lsidx")
    assert len(loaded) == 0 and loaded.counts() == {} and loaded.sources() == {}
    assert loaded.lookup("evil.com") == [] and loaded.lookup("1.2.3.4") == []


def test_malformed_values_are_refused_with_the_value() -> None:
    with pytest.raises(BadValue, match=r"300\.1\.2\.3"):
        IndicatorIndex.build([Indicator(T.IPV4, "300.1.2.3")])
    with pytest.raises(BadValue, match=r"1\.2\.3\.0/33"):
        IndicatorIndex.build([Indicator(T.CIDR, "1.2.3.0/33")])
    with pytest.raises(BadValue, match="zz::1"):
        IndicatorIndex.build([Indicator(T.IPV6, "zz::1")])


def test_unreadable_files_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(IndexFileError, match="cannot read"):
        IndicatorIndex.load(tmp_path / "missing.lsidx")
    other = tmp_path / "list.txt"
    other.write_text("evil.com\n")
    with pytest.raises(IndexFileError, match="not a lamsach index"):
        IndicatorIndex.load(other)
    good = tmp_path / "good.lsidx"
    IndicatorIndex.build(sample()).save(good)
    cut = tmp_path / "cut.lsidx"
    cut.write_bytes(good.read_bytes()[:-50])
    with pytest.raises(IndexFileError, match=r"truncated|damaged"):
        IndicatorIndex.load(cut)


def test_saving_replaces_atomically(tmp_path: Path) -> None:
    path = tmp_path / "i.lsidx"
    IndicatorIndex.build(sample()).save(path)
    IndicatorIndex.build(sample()[:2]).save(path)
    assert len(IndicatorIndex.load(path)) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["i.lsidx"]


def test_load_resorts_when_the_hash_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "i.lsidx"
    IndicatorIndex.build(sample()).save(path)
    monkeypatch.setattr(sections, "HASH_SEED", 12345)  # as after an upgrade of the hash
    loaded = IndicatorIndex.load(path)
    assert [i.value for i in loaded.lookup("a.c2.bad.org")] == ["c2.bad.org"]
    assert as_tuples(list(loaded.indicators())) == as_tuples(sample())


def test_a_tampered_layout_is_refused(tmp_path: Path) -> None:
    from lamsach.matching.index_file import read_index_file, write_index_file

    good = tmp_path / "good.lsidx"
    IndicatorIndex.build(sample()).save(good)
    header, tables = read_index_file(good)
    header["layout"] = header["layout"] + header["layout"][:1]
    bad = tmp_path / "bad.lsidx"
    write_index_file(bad, header, tables)
    with pytest.raises(IndexFileError, match="damaged index"):
        IndicatorIndex.load(bad)


def test_a_tampered_value_is_refused(tmp_path: Path) -> None:
    import pyarrow as pa

    from lamsach.matching.index_file import read_index_file, write_index_file

    good = tmp_path / "good.lsidx"
    IndicatorIndex.build([Indicator(T.IPV4, "203.0.113.7")]).save(good)
    header, tables = read_index_file(good)
    rows = tables["rows"]
    tables["rows"] = rows.set_column(0, "value", pa.array(["999.0.113.7"]))
    bad = tmp_path / "bad.lsidx"
    write_index_file(bad, header, tables)
    with pytest.raises(IndexFileError, match=r"999\.0\.113\.7"):
        IndicatorIndex.load(bad)


def test_an_index_written_before_files_were_kept_still_loads(tmp_path: Path) -> None:
    from lamsach.matching.index_file import read_index_file, write_index_file

    new = tmp_path / "new.lsidx"
    IndicatorIndex.build(sample()).save(new)
    header, tables = read_index_file(new)
    tables["meta"] = tables["meta"].drop_columns(["files"])  # the metadata as it was written
    old = tmp_path / "old.lsidx"
    write_index_file(old, header, tables)
    loaded = IndicatorIndex.load(old)
    assert all(i.files == set() for i in loaded.indicators())
    without_files = [Indicator(i.type, i.value, i.sources, i.tags, i.first_seen, i.last_seen,
                               i.expires, i.confidence) for i in sample()]  # fmt: skip
    assert as_tuples(list(loaded.indicators())) == as_tuples(without_files)
    (hit,) = loaded.lookup("www.evil.com")
    assert hit.sources == {"ncsc-2024"} and hit.files == set()
    # Saved again, it is an index of today's shape.
    loaded.save(tmp_path / "again.lsidx")
    assert "files" in read_index_file(tmp_path / "again.lsidx")[1]["meta"].column_names


def test_stored_name_keys_are_used_as_they_were_computed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "i.lsidx"
    built = IndicatorIndex.build(sample())
    built.save(path)
    computed = sections.compute_keys

    def no_names(kind: str, values: pa.Array) -> np.ndarray:
        assert kind not in sections.STRING_KINDS, "name keys are stored with the index"
        return computed(kind, values)

    monkeypatch.setattr("lamsach.matching.index.compute_keys", no_names)
    loaded = IndicatorIndex.load(path)
    for mine, theirs in zip(loaded.sections, built.sections, strict=True):
        assert np.array_equal(mine.keys, theirs.keys)
    assert [i.value for i in loaded.lookup("a.c2.bad.org")] == ["c2.bad.org"]


def test_damaged_stored_keys_are_recomputed(tmp_path: Path) -> None:
    from lamsach.matching.index_file import read_index_blobs, write_index_file

    good = tmp_path / "good.lsidx"
    IndicatorIndex.build(sample()).save(good)
    header, tables, raw = read_index_blobs(good)
    keys = bytearray(raw["keys"])
    keys[0] ^= 0xFF
    bad = tmp_path / "bad.lsidx"
    write_index_file(bad, header, tables, {**raw, "keys": bytes(keys)})
    loaded = IndicatorIndex.load(bad)
    assert [i.value for i in loaded.lookup("a.c2.bad.org")] == ["c2.bad.org"]
    assert as_tuples(list(loaded.indicators())) == as_tuples(sample())


def test_loading_an_index_and_matching_a_few_lines_needs_no_numba(tmp_path: Path) -> None:
    # A scan's parent matches only the few lines its workers pass on: numba (half a second to
    # load) stays out of it.
    import subprocess
    import sys

    path = tmp_path / "i.lsidx"
    IndicatorIndex.build(sample()).save(path)
    code = (
        "import sys, pyarrow as pa\n"
        "from lamsach.matching.index import IndicatorIndex\n"
        "from lamsach.matching.kernel import match_batch\n"
        "from lamsach.matching.direction import DEFAULT_INTERNAL\n"
        "from lamsach.logs.schema import LOG_SCHEMA\n"
        f"index = IndicatorIndex.load({str(path)!r})\n"
        "rows = [{'src_ip': '10.0.0.5', 'host': 'a.c2.bad.org', 'line': 1}]\n"
        "batch = pa.RecordBatch.from_pylist(rows, schema=LOG_SCHEMA)\n"
        "print(match_batch(batch, index, DEFAULT_INTERNAL).num_rows, 'numba' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "False"]
