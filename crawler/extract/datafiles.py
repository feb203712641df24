"""Data files (CSV, JSON, JSONL, Parquet) as bytes in, rows out.

Reading keeps every good row it reaches: a ragged or truncated row, a bad JSONL line or a CSV that
breaks part-way is reported as a problem next to the rows read before it.

A JSON file whose top level is one object is kept whole as ``TableRead.document`` (reports such as
optimum-benchmark's are shaped by their nesting, not by rows); its rows are the list of records it
holds, or else the object itself as one row (a CodeCarbon run, a run summary).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import PurePosixPath

DATA_FILE_SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".parquet")


@dataclass(frozen=True)
class Problem:
    """Something in the input that was skipped; ``error`` says whether the input was broken."""

    kind: str
    detail: str
    error: bool = True


@dataclass
class TableRead:
    rows: list[dict] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    document: dict | None = None  # the top-level object of a JSON file


@dataclass
class TableExtraction:
    """What a rule read from a table: its name, the measurement dicts and the problems met."""

    extractor: str | None
    records: list[dict] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


class DataFileError(ValueError):
    """The file cannot be read as a table at all."""

    def __init__(self, kind: str, detail: str):
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


def is_data_file(path: str) -> bool:
    return path.lower().endswith(DATA_FILE_SUFFIXES)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataFileError("not_utf8", f"not UTF-8 text (byte {exc.start})") from exc


def read_delimited(text: str, delimiter: str = ",") -> TableRead:
    """Rows of CSV or TSV text; a malformed line (a field past csv's size limit, a stray quote)
    ends the reading with a problem, keeping the rows before it."""
    result = TableRead()
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
        if not header:
            raise DataFileError("empty", "no header row")
        header = [name.strip() for name in header]
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                result.problems.append(Problem(
                    "ragged_row",
                    f"line {reader.line_num}: {len(row)} fields where the header has {len(header)}",
                ))
                continue
            result.rows.append(dict(zip(header, row)))
    except csv.Error as exc:
        result.problems.append(Problem("malformed_csv", f"line {reader.line_num}: {exc}"))
    return result


def _rows_from_json_value(value) -> list[dict] | None:
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        return value
    if isinstance(value, dict):
        for inner in value.values():
            rows = _rows_from_json_value(inner)
            if rows:
                return rows
    return None


def _read_json(text: str) -> TableRead:
    try:
        value = json.loads(text)
        rows = _rows_from_json_value(value)
    except ValueError as exc:  # JSONDecodeError, or an integer past the 4,300-digit conversion limit
        raise DataFileError("invalid_json", f"invalid JSON: {str(exc)[:200]}") from exc
    except RecursionError as exc:  # "[[[[..." thousands deep: no table anyone publishes
        raise DataFileError("nested_too_deep", "JSON nested deeper than Python's recursion limit") from exc
    if isinstance(value, dict):
        return TableRead(rows=rows or ([value] if value else []), document=value)
    if rows is None:
        raise DataFileError("no_table", "JSON holds no object or list of records")
    return TableRead(rows=rows)


def _read_jsonl(text: str) -> TableRead:
    result = TableRead()
    # Lines end at "\n" only: str.splitlines() would also split a row inside a string holding
    # U+2028 or U+0085, which JSON allows unescaped.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:  # JSONDecodeError, or an integer past the conversion limit
            result.problems.append(Problem("invalid_json_line", f"line {number}: {str(exc)[:200]}"))
            continue
        except RecursionError:
            result.problems.append(Problem("invalid_json_line", f"line {number}: nested too deep to read"))
            continue
        if isinstance(value, dict):
            result.rows.append(value)
        else:
            result.problems.append(Problem("invalid_json_line", f"line {number}: not an object"))
    return result


def _read_parquet(data: bytes) -> TableRead:
    import pyarrow
    import pyarrow.parquet

    try:
        table = pyarrow.parquet.read_table(io.BytesIO(data))
    except (pyarrow.ArrowException, OSError) as exc:
        raise DataFileError("bad_parquet", f"unreadable Parquet: {exc}") from exc
    return TableRead(rows=table.to_pylist())


def read_rows(data: bytes, path: str) -> TableRead:
    """Rows of a data file as dicts; raises DataFileError when nothing at all can be read."""
    suffix = PurePosixPath(path.lower()).suffix
    if suffix == ".parquet":
        result = _read_parquet(data)
    elif suffix in (".csv", ".tsv"):
        result = read_delimited(_decode(data), "\t" if suffix == ".tsv" else ",")
    elif suffix == ".jsonl":
        result = _read_jsonl(_decode(data))
    elif suffix == ".json":
        result = _read_json(_decode(data))
    else:
        raise DataFileError("unsupported", f"not a data file type this crawler reads: {path}")
    if not result.rows and not result.problems:
        raise DataFileError("empty", "no data rows")
    return result
