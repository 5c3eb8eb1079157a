"""Write hits as they come to CSV, JSON Lines or Parquet, chosen by the output file's suffix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from lamsach.matching.hits import HIT_SCHEMA

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
LIST_JOIN = ";"  # sources and tags in one CSV cell


class OutputError(ValueError):
    """An output file name whose format cannot be told from its suffix."""


def output_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    try:
        return FORMATS[suffix]
    except KeyError:
        known = ", ".join(sorted(FORMATS))
        raise OutputError(f"{path}: unknown hits format {suffix!r} (use {known})") from None


def _time_text(table: pa.Table) -> pa.Array:
    return pc.strftime(table.column("time"), format="%Y-%m-%dT%H:%M:%SZ")


def flat_table(table: pa.Table) -> pa.Table:
    """Hits with the time as ISO 8601 text and list columns joined, for text formats."""
    columns = {}
    for name in table.column_names:
        column = table.column(name)
        if name == "time":
            column = _time_text(table)
        elif pa.types.is_list(column.type):
            column = pc.binary_join(column, LIST_JOIN)
        columns[name] = column
    return pa.table(columns)


class HitWriter:
    """Appends hit tables to one file in the format its suffix names."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.format = output_format(path)
        self.rows = 0
        self._parquet: pq.ParquetWriter | None = None
        self._csv: pacsv.CSVWriter | None = None
        self._text: IO[str] | None = None
        self._sink: Any = None
        if self.format == "parquet":
            self._parquet = pq.ParquetWriter(self.path, HIT_SCHEMA, compression="zstd")
        elif self.format == "csv":
            self._sink = pa.OSFile(str(self.path), "wb")
            header = flat_table(HIT_SCHEMA.empty_table()).schema
            self._csv = pacsv.CSVWriter(self._sink, header)
        else:
            self._text = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 - close() closes it

    def write(self, hits: pa.Table) -> None:
        if hits.num_rows == 0:
            return
        hits = hits.select(HIT_SCHEMA.names).cast(HIT_SCHEMA)
        self.rows += hits.num_rows
        if self._parquet is not None:
            self._parquet.write_table(hits)
        elif self._csv is not None:
            self._csv.write_table(flat_table(hits))
        elif self._text is not None:
            times = _time_text(hits).to_pylist()
            for when, row in zip(times, hits.drop_columns(["time"]).to_pylist(), strict=True):
                record = {"time": when, **row}
                self._text.write(json.dumps(record, ensure_ascii=False) + "\n")

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        if self._csv is not None:
            self._csv.close()
            self._sink.close()
        if self._text is not None:
            self._text.close()

    def __enter__(self) -> HitWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_hits(path: str | Path) -> pa.Table:
    """Read back a hits file written by ``HitWriter`` (time and lists as in HIT_SCHEMA)."""
    fmt = output_format(path)
    if fmt == "parquet":
        return pq.read_table(path)
    if fmt == "csv":
        text = flat_table(HIT_SCHEMA.empty_table()).schema
        table = pacsv.read_csv(
            path, convert_options=pacsv.ConvertOptions(column_types=text, strings_can_be_null=True)
        )
    else:
        with open(path, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
        text_time = HIT_SCHEMA.set(0, pa.field("time", pa.string()))
        table = pa.Table.from_pylist(rows, schema=text_time)
    columns = {}
    for fld in HIT_SCHEMA:
        column = table.column(fld.name)
        if fld.name == "time":
            column = column.cast(fld.type)
        elif pa.types.is_list(fld.type) and not pa.types.is_list(column.type):
            # An empty list is an empty (or, read back from CSV, missing) cell.
            empty = pc.fill_null(pc.equal(column, ""), True)
            column = pc.if_else(empty, pa.scalar([], fld.type), pc.split_pattern(column, LIST_JOIN))
        columns[fld.name] = column
    return pa.table(columns, schema=HIT_SCHEMA)
