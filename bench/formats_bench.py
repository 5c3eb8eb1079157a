"""Time ``read_log`` on generated files of each text log format, column and per-line readers side
by side; with ``--scan``, also ``lamsach scan`` of each file on one worker and on every core.
Usage (files are seeded and cached under bench/out/formats/):

    .venv/bin/python bench/formats_bench.py [--lines 200000] [--formats bind,squid] [--seed 7]
    .venv/bin/python bench/formats_bench.py --lines 600000 --formats fortigate,panos --scan
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rich.console import Console
from rich.table import Table

from lamsach.logs.formats import ReadContext, ReadStats, all_formats
from lamsach.logs.reader import read_log

OUT = Path(__file__).resolve().parent / "out" / "formats"
CHUNK = 250_000  # lines generated at a time, to bound memory for big --lines
TOKEN = re.compile(r"\$([a-z]\w*)")


class Gen:
    """Random string columns for lines ``start .. start + n`` of one file (Arrow kernels)."""

    def __init__(self, seed: int, case: str, start: int, n: int) -> None:
        self.rng = np.random.default_rng([seed, zlib.crc32(case.encode()), start])
        self.i = np.arange(start, start + n, dtype=np.int64)

    def num(self, lo: int, hi: int, width: int = 0) -> pa.Array:
        return text(self.rng.integers(lo, hi, len(self.i)), width)

    def seq(self, mod: int, width: int = 0, add: int = 0) -> pa.Array:
        return text(self.i % mod + add, width)

    def ip(self, first: pa.Array | str = "10") -> pa.Array:
        return join(first, ".", self.num(0, 256), ".", self.num(0, 256), ".", self.num(1, 255))

    def name(self) -> pa.Array:
        return join("h", self.num(0, 10**6), ".example", self.num(0, 1000), ".com")

    def token(self, key: str) -> pa.Array:
        """The column a ``$key`` of a template stands for (fresh random values each time)."""
        i = self.i
        columns: dict[str, Callable[[], pa.Array]] = {
            "ip": self.ip,
            "pub": lambda: self.ip(self.num(1, 224)),
            "name": self.name,
            "ts": lambda: join(text(1_700_000_000 + i // 10), ".", text(i % 10), "00"),
            "sec": lambda: self.seq(60, 2),
            "digit": lambda: self.seq(10),
            "uid": lambda: self.seq(10**8, 8),
            "cport": lambda: self.seq(20000, add=40000),
            "sport": lambda: self.num(1024, 65535),
            "id16": lambda: self.seq(65536),
            "n": lambda: text(i),
            "label6": lambda: self.num(0, 10**6, 6),
            "hhmm": lambda: join(text(i // 3600 % 60, 2), ":", text(i // 60 % 60, 2)),
            "eventtime": lambda: text(1709601421123456789 + i),
            "dport": lambda: text(np.array([22, 80, 443, 3389])[self.rng.integers(0, 4, len(i))]),
        }
        return columns[key]()

    def lines(self, templates: tuple[str, ...]) -> pa.Array:
        """Line ``i`` filled from ``templates[i % len(templates)]``."""
        made = []
        for template in templates:
            parts = TOKEN.split(template)  # literal, key, literal, key, ..., literal
            made.append(join(*(self.token(p) if k % 2 else p for k, p in enumerate(parts))))
        if len(made) == 1:
            return made[0]
        return pc.choose(pa.array(self.i % len(made), pa.int8()), *made)


def text(values: np.ndarray, width: int = 0) -> pa.Array:
    out = pc.cast(pa.array(values), pa.string())
    return pc.utf8_lpad(out, width, padding="0") if width else out


def join(*parts: str | pa.Array) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def data_of(array: pa.Array) -> memoryview:
    """The characters of a string array without nulls, back to back."""
    offsets = np.frombuffer(array.buffers()[1], np.int32)[array.offset :]
    return memoryview(array.buffers()[2])[offsets[0] : offsets[len(array)]]


ZEEK_CONN = (
    '{"ts":$ts,"uid":"C$uid","id.orig_h":"$ip","id.orig_p":$cport,"id.resp_h":"$pub",'
    '"id.resp_p":443,"proto":"tcp","service":"ssl","duration":1.2,"orig_bytes":100,'
    '"resp_bytes":2000,"conn_state":"SF","history":"ShADadFf"}'
)
ZEEK_DNS = (
    '{"ts":$ts,"uid":"C$uid","id.orig_h":"$ip","id.orig_p":$cport,"id.resp_h":"10.0.0.1",'
    '"id.resp_p":53,"proto":"udp","trans_id":$id16,"query":"$name","qtype_name":"A",'
    '"rcode_name":"NOERROR","answers":["$pub","$pub"],"TTLs":[60.0,60.0]}'
)
SURICATA_EVE = (
    '{"timestamp":"2024-03-01T03:00:0$digit.123456+0000","flow_id":$n,"event_type":"dns",'
    '"src_ip":"$ip","src_port":$cport,"dest_ip":"10.0.0.1","dest_port":53,"proto":"UDP",'
    '"dns":{"version":2,"type":"answer","rrname":"$name","rrtype":"A","rcode":"NOERROR",'
    '"answers":[{"rrname":"x","rrtype":"A","ttl":5,"rdata":"$pub"}]}}'
)
WINDOWS_DNS = (
    "6/5/2013 10:00:$sec AM 0E70 PACKET  00000000033397A0 UDP Rcv $ip    5b47   Q "
    "[0001   D   NOERROR] A      (3)www(7)h$label6(8)example$digit(3)com(0)"
)
BIND = (
    "05-Jun-2013 10:20:$sec.123 queries: info: client @0x7f00$uid $ip#$cport ($name): "
    "query: $name IN A + (10.0.0.1)"
)
SQUID = "$ts    150 $ip TCP_MISS/200 5120 GET http://$name/path/$n - HIER_DIRECT/$pub text/html"
DNSMASQ = (
    "Jun 12 10:00:$sec dnsmasq[1234]: query[A] $name from $ip",
    "Jun 12 10:00:$sec dnsmasq[1234]: reply $name is $pub",
)
IPTABLES = (
    "Mar  5 08:$hhmm gw kernel: [81234.567890] [UFW BLOCK] IN=eth0 OUT= "
    "MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=$pub DST=$ip LEN=60 TOS=0x00 PREC=0x00 "
    "TTL=52 ID=$id16 DF PROTO=TCP SPT=$sport DPT=$dport WINDOW=64240 RES=0x00 SYN URGP=0"
)
FILTERLOG = (
    "<134>Mar  5 08:$hhmm filterlog[4123]: 5,,,1000000103,em0,match,block,in,4,0x0,,51,$id16,"
    "0,DF,6,tcp,60,$pub,$ip,$sport,22,0,S,1234567,,64240,,mss;sackOK;TS;nop;wscale"
)
FORTIGATE = (
    'date=2024-03-05 time=08:17:01 devname="FGT60F" devid="FGT60FTK0000001" logid="0000000013" '
    'type="traffic" subtype="forward" level="notice" vd="root" eventtime=$eventtime '
    'tz="+0700" srcip=$ip srcport=$sport srcintf="internal" dstip=$pub dstport=443 '
    'dstintf="wan1" proto=6 action="close" policyid=3 service="HTTPS" duration=2 sentbyte=4213 '
    "rcvdbyte=18230 sentpkt=12 rcvdpkt=10"
)
PANOS = (
    "Nov 30 16:09:08 PA-220 1,2018/11/30 16:09:07,012801096514,TRAFFIC,end,2049,2018/11/30 "
    "16:09:07,$ip,$pub,192.168.1.63,175.16.199.1,new_outbound_from_trust,,,apple-maps,vsys1,"
    "trust,untrust,ethernet1/2,ethernet1/1,send_to_mac,2018/11/30 16:09:07,22751,1,$sport,443,"
    "16418,443,0x400053,tcp,allow,7734,1758,5976,36,2018/11/30 15:59:04,586,"
    "computer-and-internet-info,0,32091112,0x0,192.168.0.0-192.168.255.255,United States,0,16,"
    "20,tcp-fin,0,0,0,0,,PA-220,from-policy,,,0,,0,,N/A,0,0,0,0"
)
NFDUMP_HEADER = (
    "ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt,in,out,sas,das,smk,dmk,dtos,dir,"
    "nh,nhb,svln,dvln,ismc,odmc,idmc,osmc,mpls1,mpls2,mpls3,mpls4,mpls5,mpls6,mpls7,mpls8,mpls9,"
    "mpls10,cl,sl,al,ra,eng,exid,tr"
)
NFDUMP = (
    "2024-03-05 08:15:02.312,2024-03-05 08:15:04.118,1.806,$ip,$pub,$sport,443,TCP,...AP.SF,"
    "0,0,12,4213,10,18230,2,3,0,0,24,0,0,0,0.0.0.0,0.0.0.0,0,0,"
    + ",".join(["00:00:00:00:00:00"] * 4 + ["0-0-0"] * 10)
    + ",0.000,0.000,0.000,10.1.1.254,0/0,1,1970-01-01 00:00:00.000"
)


@dataclass(frozen=True)
class Case:
    fmt: str  # the --format name given to read_log
    templates: tuple[str, ...]
    module: str = ""  # its module has read_lines(stream, ctx, fast): column and per-line
    header: str = ""


CASES = {
    "zeek-json-conn": Case("zeek-json", (ZEEK_CONN,), "zeek_json"),
    "zeek-json-dns": Case("zeek-json", (ZEEK_DNS,), "zeek_json"),
    "suricata-eve": Case("suricata-eve", (SURICATA_EVE,), "suricata"),
    "windows-dns": Case("windows-dns", (WINDOWS_DNS,), "windows_dns"),
    "bind": Case("bind", (BIND,), "bind"),
    "squid": Case("squid", (SQUID,), "squid"),
    "csv": Case("csv", ("$ts,$ip,$name,$pub",), "generic_csv", "timestamp,client,query,answer"),
    "dnsmasq": Case("dnsmasq", DNSMASQ),
    "iptables": Case("iptables", (IPTABLES,)),
    "filterlog": Case("filterlog", (FILTERLOG,)),
    "fortigate": Case("fortigate", (FORTIGATE,), "fortigate"),
    "panos": Case("panos", (PANOS,)),
    "nfdump": Case("nfdump", (NFDUMP,), header=NFDUMP_HEADER),
}


def generate(name: str, case: Case, lines: int, seed: int) -> Path:
    """The cached file of ``lines`` lines of one case, written first if missing."""
    path = OUT / f"{name}-{lines}-s{seed}.log"
    if path.exists():
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    with partial.open("wb") as f:
        f.write(f"{case.header}\n".encode() if case.header else b"")
        for start in range(0, lines, CHUNK):
            made = Gen(seed, name, start, min(CHUNK, lines - start)).lines(case.templates)
            f.write(data_of(join(made, "\n")))
    partial.replace(path)
    return path


@dataclass
class Timing:
    reader: str
    records: int = 0
    skipped: int = 0
    wall: float = 0.0
    cpu: float = 0.0
    error: str = ""


def batches(path: Path, case: Case, reader: str, stats: ReadStats) -> Iterator[pa.RecordBatch]:
    if reader == "read_log":
        yield from read_log(str(path), case.fmt, stats=stats)
        return
    module = importlib.import_module(f"lamsach.logs.formats.{case.module}")
    with open(path, encoding="utf-8", newline="") as stream:
        ctx = ReadContext(file=str(path), stats=stats)
        yield from module.read_lines(stream, ctx, reader == "column")


def timed(path: Path, case: Case, reader: str) -> Timing:
    out = Timing(reader)
    stats = ReadStats(file=str(path))
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        out.records = sum(batch.num_rows for batch in batches(path, case, reader, stats))
    except Exception as exc:  # a failing reader is shown in the table and fails the run
        out.error = f"{type(exc).__name__}: {exc}"
    out.wall, out.cpu = time.perf_counter() - wall, time.process_time() - cpu
    out.skipped = stats.skipped_total
    return out


def scan_seconds(path: Path, fmt: str, index: Path, workers: int) -> float:
    """Wall time of ``lamsach scan`` on the file with that many workers (no hits are planted:
    every record is read and matched)."""
    lamsach = Path(sys.executable).with_name("lamsach")
    command = [str(lamsach), "scan", str(path), "--format", fmt, "--ioc", str(index)]
    started = time.perf_counter()
    done = subprocess.run([*command, "--workers", str(workers), "--quiet"], capture_output=True)
    if done.returncode != 0:
        raise RuntimeError(f"lamsach scan {path.name} failed: {done.stderr.decode()[-300:]}")
    return time.perf_counter() - started


def scan_table(names: list[str], records: dict[str, int], seed: int, lines: int) -> Table:
    cores = os.cpu_count() or 1
    table = Table(title=f"lamsach scan, one worker against {cores} ({lines:,} lines a file)")
    for col in ("format", "records", "1 worker s", "rec/s", f"{cores} workers s", "rec/s", "x"):
        table.add_column(col, justify="left" if col == "format" else "right")
    with tempfile.TemporaryDirectory() as tmp:
        listed = Path(tmp) / "list.txt"
        listed.write_text("evil.example\n203.0.113.66\n198.51.100.0/28\n")
        index = Path(tmp) / "list.lsidx"
        subprocess.run(
            [str(Path(sys.executable).with_name("lamsach")), "ioc", "import", str(listed),
             "--out", str(index)],
            check=True, capture_output=True,
        )  # fmt: skip
        for name in names:
            path = OUT / f"{name}-{lines}-s{seed}.log"
            one = scan_seconds(path, CASES[name].fmt, index, 1)
            every = scan_seconds(path, CASES[name].fmt, index, cores)
            n = records[name]
            table.add_row(
                name, f"{n:,}", f"{one:.2f}", f"{n / one:,.0f}", f"{every:.2f}",
                f"{n / every:,.0f}", f"{one / every:.2f}",
            )  # fmt: skip
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=200_000, help="lines a file")
    parser.add_argument(
        "--formats", default=",".join(CASES), help="comma-separated, of: %(default)s"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--scan", action="store_true", help="also time lamsach scan, one worker and all cores"
    )
    args = parser.parse_args()
    names = [n.strip() for n in args.formats.split(",") if n.strip()]
    if unknown := [n for n in names if n not in CASES]:
        parser.error(f"unknown formats {', '.join(unknown)}; known: {', '.join(CASES)}")
    table = Table(title=f"lamsach log readers, {args.lines:,} generated lines a file")
    for col in ("format", "reader", "MB", "records", "skipped", "wall s", "CPU s", "records/s"):
        table.add_column(col, justify="left" if col in ("format", "reader") else "right")
    table.add_column("MB/s", justify="right")
    table.add_column("check")
    all_formats()  # imports every format module before the clocks start
    failed = False
    failures: list[tuple[str, Timing]] = []
    records: dict[str, int] = {}
    for name in names:
        case = CASES[name]
        path = generate(name, case, args.lines, args.seed)
        mb = path.stat().st_size / 1e6
        readers = ["read_log", "column", "per-line"] if case.module else ["read_log"]
        runs = [timed(path, case, reader) for reader in readers]
        records[name] = runs[0].records
        failures += [(name, r) for r in runs if r.error]
        agree = len({r.records for r in runs}) == 1 and runs[0].records > 0
        agree &= not any(r.error for r in runs)
        failed |= not agree
        for r in runs:
            rates = (
                (f"{r.records / r.wall:,.0f}", f"{mb / r.wall:.1f}")
                if r.wall and not r.error
                else ("", "")
            )
            figures = (f"{mb:.1f}", f"{r.records:,}", f"{r.skipped:,}", f"{r.wall:.2f}")
            check = r.error[:40] or ("ok" if agree else "MISMATCH" if r.records else "no records")
            label = name if r is runs[0] else ""
            table.add_row(label, r.reader, *figures, f"{r.cpu:.2f}", *rates, check)
        table.add_section()
    console = Console(width=140)
    console.print(table)
    for name, r in failures:
        console.print(f"{name} {r.reader} failed: {r.error}", style="red", markup=False)
    if args.scan and not failed:
        console.print(scan_table(names, records, args.seed, args.lines))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
