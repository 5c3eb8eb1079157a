"""Opening logs: folders, compression by magic, progress in compressed bytes, byte ranges."""

from __future__ import annotations

import bz2
import gzip
import random
import re
from pathlib import Path

import pytest
import zstandard

from lamsach.logs.formats import ReadStats
from lamsach.logs.reader import (
    STDIN,
    CountingReader,
    LogReadError,
    RangeReader,
    detect_format,
    expand_paths,
    line_ranges,
    open_binary,
    read_log,
)

ZEEK = (
    "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n"
    "#fields\tts\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\n"
    "#types\ttime\taddr\tport\taddr\tport\tenum\n"
)


def conn_lines(n: int, seed: int = 1) -> str:
    rng = random.Random(seed)
    return "".join(
        f"{1700000000 + i}.000000\t10.0.{rng.randrange(256)}.{rng.randrange(1, 255)}\t"
        f"{rng.randrange(1024, 65535)}\t198.51.100.{rng.randrange(256)}\t443\ttcp\n"
        for i in range(n)
    )


COMPRESSORS = {
    "gzip": gzip.compress,
    "bzip2": bz2.compress,
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
}


def test_expand_paths_walks_folders_sorted_and_skips_hidden(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "2.log").write_text("x")
    (tmp_path / "a.log").write_text("x")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("x")
    (tmp_path / ".hidden.log").write_text("x")
    assert expand_paths([tmp_path, STDIN]) == [
        str(tmp_path / "a.log"),
        str(tmp_path / "b" / "2.log"),
        STDIN,
    ]


def test_expand_paths_refuses_a_missing_path(tmp_path: Path) -> None:
    with pytest.raises(LogReadError, match="no such file"):
        expand_paths([tmp_path / "nope.log"])


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_decompression_by_magic_whatever_the_name(tmp_path: Path, kind: str) -> None:
    data = (ZEEK + conn_lines(300)).encode()
    path = tmp_path / "misnamed.txt"
    path.write_bytes(COMPRESSORS[kind](data))
    counter: list[CountingReader] = []
    with open_binary(str(path), counter) as stream:
        assert stream.read() == data
    assert counter[0].count == path.stat().st_size  # compressed bytes, for the progress bar
    assert detect_format(str(path)).name == "zeek-tsv"
    stats = ReadStats(file=str(path))
    records = sum(b.num_rows for b in read_log(str(path), stats=stats))
    assert records == stats.records == 300
    assert stats.bytes_read == path.stat().st_size


def test_detect_format_errors(tmp_path: Path) -> None:
    unknown = tmp_path / "notes.txt"
    unknown.write_text("just some words\nnothing like a log\n")
    with pytest.raises(LogReadError, match="unrecognised log format"):
        detect_format(str(unknown))
    with pytest.raises(LogReadError, match="standard input needs --format"):
        detect_format(STDIN)


def test_truncated_gzip_fails_reading_not_detection(tmp_path: Path) -> None:
    data = gzip.compress((ZEEK + conn_lines(5000)).encode())
    path = tmp_path / "cut.log.gz"
    path.write_bytes(data[: len(data) // 2])
    assert detect_format(str(path)).name == "zeek-tsv"
    with pytest.raises(EOFError):
        for _ in read_log(str(path)):
            pass


@pytest.mark.parametrize("parts", [1, 2, 3, 7])
def test_line_ranges_cover_every_line_once(tmp_path: Path, parts: int) -> None:
    body = conn_lines(2000).encode()
    path = tmp_path / "conn.log"
    path.write_bytes(ZEEK.encode() + body)
    start = len(ZEEK.encode())
    ranges = line_ranges(str(path), start, parts, min_size=1000)
    assert len(ranges) == parts
    assert ranges[0][0] == start and ranges[-1][1] == path.stat().st_size
    pieces = []
    for (a, b), (c, _) in zip(ranges, [*ranges[1:], (ranges[-1][1], 0)], strict=True):
        assert b == c  # contiguous
        with RangeReader(str(path), a, b) as reader:
            piece = reader.read()
        assert piece.endswith(b"\n")
        pieces.append(piece)
    assert b"".join(pieces) == body


@pytest.mark.parametrize(("parts", "fits", "ranges"), [(8, 7, 4), (8, 3, 2), (8, 9, 8), (6, 5, 3)])
def test_too_few_ranges_for_the_parts_asked_divide_them(
    tmp_path: Path, parts: int, fits: int, ranges: int
) -> None:
    path = tmp_path / "conn.log"
    path.write_bytes(conn_lines(3000).encode())
    min_size = path.stat().st_size // fits
    cut = line_ranges(str(path), 0, parts, min_size=min_size)
    assert len(cut) == ranges
    sizes = [b - a for a, b in cut]
    assert max(sizes) - min(sizes) < 2 * max(len(line) for line in conn_lines(3000).split("\n"))


def test_line_ranges_do_not_cut_small_files(tmp_path: Path) -> None:
    path = tmp_path / "conn.log"
    path.write_text(ZEEK + conn_lines(10))
    assert line_ranges(str(path), len(ZEEK), 8) == [(len(ZEEK), path.stat().st_size)]


def test_line_ranges_without_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "conn.log"
    text = conn_lines(500).rstrip("\n")
    path.write_text(text)
    ranges = line_ranges(str(path), 0, 4, min_size=100)
    joined = b""
    for a, b in ranges:
        with RangeReader(str(path), a, b) as reader:
            joined += reader.read()
    assert joined == text.encode()


def test_byte_order_marks_and_utf16_are_decoded(tmp_path: Path) -> None:
    # PowerShell 5.1 writes `> file` as UTF-16 with a mark; Notepad writes UTF-8 with one.
    text = (
        "dnsmasq: query[A] evil.example from 10.0.0.5\ndnsmasq: query[A] ok.example from 10.0.0.6\n"
    )
    for name, data in {
        "utf16le.log": "\ufeff".encode("utf-16-le") + text.encode("utf-16-le"),
        "utf16be.log": "\ufeff".encode("utf-16-be") + text.encode("utf-16-be"),
        "utf8bom.log": b"\xef\xbb\xbf" + text.encode(),
    }.items():
        path = tmp_path / name
        path.write_bytes(data)
        assert detect_format(str(path)).name == "dnsmasq", name
        stats = ReadStats(file=str(path))
        hosts = [
            h
            for batch in read_log(str(path), stats=stats)
            for h in batch.column("host").to_pylist()
        ]
        assert hosts == ["evil.example", "ok.example"], name
        assert stats.skipped_total == 0, name


def test_detecting_formats_loads_no_polars(tmp_path: Path) -> None:
    # The scan command plans its work (detects every file's format) before its workers are
    # ready; polars (0.1 s to import) is loaded only by the readers that use it.
    import subprocess
    import sys

    log = tmp_path / "conn.log"
    log.write_text("#separator \\x09\n#fields\tts\tid.orig_h\n#types\ttime\taddr\n1.0\t10.0.0.1\n")
    code = (
        "import sys\n"
        "from lamsach.logs.formats import all_formats\n"
        "from lamsach.logs.reader import detect_format\n"
        f"print(detect_format({str(log)!r}).name, len(all_formats()) > 10, 'polars' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["zeek-tsv", "True", "False"]


SHIPPED = Path(__file__).parent / "data"


def _detected(path: Path) -> str | None:
    try:
        return detect_format(str(path)).name
    except LogReadError:
        return None  # needs --format and a column mapping


TEXT_SAMPLES = {
    p.name: fmt for p in sorted(SHIPPED.iterdir()) if p.is_file() and (fmt := _detected(p))
}


@pytest.mark.parametrize(("sample", "fmt"), sorted(TEXT_SAMPLES.items()))
def test_numbers_past_64_bits_are_damage_not_a_failure(
    tmp_path: Path, sample: str, fmt: str
) -> None:
    """A run of digits grown past 64 bits (ports, sizes, epoch times) gives a null value or a
    counted skip; it never stops the reading, whatever field it lands in."""
    text = (SHIPPED / sample).read_text(encoding="utf-8")
    runs = list(re.finditer(r"\d+", text))
    path = tmp_path / sample
    for run in runs[:: max(1, len(runs) // 40)]:
        path.write_text(text[: run.start()] + "9" * 25 + text[run.end() :], encoding="utf-8")
        stats = ReadStats(file=str(path))
        records = sum(batch.num_rows for batch in read_log(str(path), fmt, stats=stats))
        assert records + stats.skipped_total > 0


def test_no_range_starts_on_a_line_with_a_byte_order_mark(tmp_path: Path) -> None:
    # Logs joined with cat keep each one's mark at the start of a line; readers drop a mark at
    # the start of what they are given, so a range starting there would read that line apart.
    body = conn_lines(2000).splitlines(keepends=True)
    lines = ["\ufeff" + line if i % 3 else line for i, line in enumerate(body)]
    path = tmp_path / "joined.log"
    path.write_text("".join(lines), encoding="utf-8")
    ranges = line_ranges(str(path), 0, 8, min_size=1000)
    assert len(ranges) == 8
    data = path.read_bytes()
    assert all(not data[a:].startswith(b"\xef\xbb\xbf") for a, _ in ranges[1:])
    assert b"".join(data[a:b] for a, b in ranges) == data
