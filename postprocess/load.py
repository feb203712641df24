"""Loading crawl output: every JSONL under a folder, checked against the record schemas, merged
across crawls, one row per id.

Input is untrusted. A line that is not JSON (strict JSON: NaN and Infinity are not numbers there), a
record that breaks its schema or whose ``retrieved_at`` is not an ISO 8601 date-time, and a record of
another kind than its file holds are left out and counted as input problems, with file, line and a
reason that quotes at most a little of the offending value. Records of one id that disagree on
their figures are kept apart from plain re-crawls and reported.

A Measurement file of 256 KB or more is read in one go by pyarrow, typed by the Arrow schema
``crawler.arrow_schema`` derives from the JSON Schema, and checked column by column (each distinct
value once). A file where anything is amiss (a line pyarrow cannot read or type, a blank line, a
value the schema refuses, a non-finite number pyarrow would take) is read again line by line, the
careful way that names each problem: the good rows of a damaged file are kept and only that file
pays. Smaller files, and Discussion files (one record per GitHub thread), are read line by line.
"""

from __future__ import annotations

import gc
import json
import math
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import compress
from operator import itemgetter
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json

from crawler.arrow_schema import TIMESTAMP, measurement_arrow_schema
from crawler.record_schemas import discussion_schema, measurement_schema

from .schema_check import REASON_CHARS, ScalarField, SchemaCheck, shorten, show

DISCUSSION_SUFFIX = ".discussions.jsonl"
UTF8_BOM = b"\xef\xbb\xbf"  # an editor's mark at the start of a file, not part of the first record
MEASUREMENT_CHECK = SchemaCheck(measurement_schema())
DISCUSSION_CHECK = SchemaCheck(discussion_schema())
CHECKS = (MEASUREMENT_CHECK, DISCUSSION_CHECK)
# Fields of one kind of record and of no other: what tells a Discussion found among Measurements.
OWN_FIELDS = {check: check.field_set.difference(*(other.field_set for other in CHECKS if other is not check))
              for check in CHECKS}
# The quantities a Measurement reports. Its id hashes where the figure stands (source, url, extractor,
# locator), so one id read again with other quantities means the source changed or two crawls disagree.
FIGURES = ("power_w", "energy_j", "energy_per_token_j", "energy_per_query_j", "duration_s", "gpu_hours", "co2_kg",
           "throughput_tokens_per_s", "energy_score")
# RFC 3339 (an ISO 8601 profile), the crawler's format; pandas then rejects impossible dates.
TIMESTAMP_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
# Records are turned into DataFrames this many at a time: a million dicts at once would need
# several GB, the frames a fraction of that.
CHUNK = 100_000
# Files smaller than this are read line by line: pyarrow's read and the column checks cost some 15 ms
# a file whatever its size, the careful read some 25 µs a record, so a folder of many small crawls
# reads faster that way (the two meet near 500 records, about 350 KB).
FAST_READ_MIN_BYTES = 256 << 10
# pyarrow parses a file in blocks of this many bytes, one per thread: 16 MB blocks read a 190 MB file
# about as fast as 1 MB ones and give tables of a dozen chunks instead of two hundred.
BLOCK_BYTES = 16 << 20
# pyarrow reads date-times leniently ("2026-01-01", a space for the T): they are read as text, held to
# the careful path's rule and converted by it.
READ_SCHEMA = pa.schema([field.with_type(pa.string()) if field.type == TIMESTAMP else field
                         for field in measurement_arrow_schema()])
READ_OPTIONS = pyarrow.json.ReadOptions(block_size=BLOCK_BYTES)
# pyarrow's JSON reader keeps about one core busy whatever its blocks (measured here: 2.2-2.5 s CPU
# and 2.1-2.4 s wall for a 190 MB file with threads, 2.4 s without): two files are read at once.
READ_THREADS = 2
PARSE_OPTIONS = pyarrow.json.ParseOptions(explicit_schema=READ_SCHEMA, unexpected_field_behavior="error")
# Arrays (flags) stay Arrow lists in the frame: the synthesis asks "which rows carry this flag" of a
# million rows at once. Objects (bounds, trace; few rows) are the values as the JSON wrote them.
LIST_FIELDS = {field.name: pd.ArrowDtype(field.type) for field in READ_SCHEMA if pa.types.is_list(field.type)}
OBJECT_FIELDS = [field.name for field in READ_SCHEMA if pa.types.is_struct(field.type)]
LISTED_PROBLEMS = 1000
LISTED_DISAGREEMENTS = 100

NOT_JSON = "not JSON"
NON_FINITE = "non-finite number"
NOT_OBJECT = "not a JSON object"
OTHER_KIND = "another kind of record"
SCHEMA = "breaks the schema"
TIMESTAMP = "retrieved_at not ISO 8601"


@dataclass
class LoadProblem:
    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


@dataclass
class InputProblems:
    """Every line left out, counted by kind (and by field for schema breaks); the first
    ``LISTED_PROBLEMS`` kept with file, line and reason."""

    count: int = 0
    by_kind: Counter = field(default_factory=Counter)
    by_field: Counter = field(default_factory=Counter)
    listed: list[LoadProblem] = field(default_factory=list)

    def add(self, path: Path, line: int, kind: str, reason: str, field_name: str | None = None) -> None:
        self.count += 1
        self.by_kind[kind] += 1
        if field_name:
            self.by_field[field_name] += 1
        if len(self.listed) < LISTED_PROBLEMS:
            self.listed.append(LoadProblem(str(path), line, shorten(reason, REASON_CHARS)))

    def summary(self) -> dict:
        return {"count": self.count, "by_kind": dict(sorted(self.by_kind.items())),
                "by_field": dict(sorted(self.by_field.items())), "listed_limit": LISTED_PROBLEMS,
                "listed": [{"file": p.path, "line": p.line, "reason": p.reason} for p in self.listed]}


@dataclass
class Loaded:
    measurements: pd.DataFrame
    discussions: pd.DataFrame
    problems: InputProblems = field(default_factory=InputProblems)
    disagreeing: int = 0  # ids read more than once with different figures
    disagreeing_listed: list[dict] = field(default_factory=list)
    files: int = 0

    def summary(self) -> dict:
        """What was read and what was left out, for synthesis.json and the report."""
        return {"files": self.files, "measurements": int(len(self.measurements)),
                "discussions": int(len(self.discussions)), "problems": self.problems.summary(),
                "disagreeing_duplicates": {"count": self.disagreeing, "listed_limit": LISTED_DISAGREEMENTS,
                                           "listed": self.disagreeing_listed}}


class _NonFinite(ValueError):
    pass


def _refuse_constant(name: str):
    raise _NonFinite(name)


def _finite(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise _NonFinite(text)
    return number


def _not_json(line: bytes, error: orjson.JSONDecodeError) -> tuple[str, str]:
    """(kind, reason) for a line orjson refused: NaN, Infinity or a number beyond a double in
    otherwise valid JSON is named as such (Python's json would read it), anything else gets orjson's
    message."""
    try:
        json.loads(line, parse_constant=_refuse_constant, parse_float=_finite, parse_int=_finite)
    except _NonFinite as exc:
        return NON_FINITE, f"skipped: {shorten(str(exc), 40)} is not a finite JSON number"
    except (ValueError, RecursionError):
        pass
    return NOT_JSON, f"skipped: not JSON: {str(error).splitlines()[0][:120]}"


def _timestamps(values: list) -> pd.Series:
    """ISO 8601 date-times as UTC datetimes; anything else NaT."""
    texts = [v if type(v) is str and TIMESTAMP_RE.fullmatch(v) else None for v in values]
    return pd.Series(pd.to_datetime(texts, format="ISO8601", utc=True, errors="coerce"))


def _frame(records: list[dict], lines: list[int], check: SchemaCheck, path: Path,
           problems: InputProblems) -> pd.DataFrame:
    """A chunk's records as a frame, without those that break the schema or have no readable
    retrieved_at (each an input problem)."""
    columns = dict(zip(check.fields, map(list, zip(*map(itemgetter(*check.fields), records)))))
    failures = {index: (SCHEMA, field_name, reason) for index, (field_name, reason) in check.failures(columns).items()}
    retrieved = _timestamps(columns["retrieved_at"])
    for index in retrieved.index[retrieved.isna()]:
        failures.setdefault(index, (TIMESTAMP, "retrieved_at", f"retrieved_at: {show(columns['retrieved_at'][index])} "
                                                               "is not an ISO 8601 date-time"))
    for index, (kind, field_name, reason) in sorted(failures.items()):
        problems.add(path, lines[index], kind, f"skipped: {reason}", field_name)
    if failures:
        keep = [index not in failures for index in range(len(records))]
        columns = {name: list(compress(values, keep)) for name, values in columns.items()}
        retrieved = retrieved[keep].reset_index(drop=True)
    frame = pd.DataFrame(columns)
    frame["retrieved_at"] = retrieved
    return frame


def _other_kind(record: dict, check: SchemaCheck) -> SchemaCheck | None:
    """The kind a record is of when it has none of the fields only ``check``'s kind has and some
    that only that other kind has."""
    if not OWN_FIELDS[check].isdisjoint(record):
        return None
    return next((other for other in CHECKS if other is not check and not OWN_FIELDS[other].isdisjoint(record)), None)


def _line_starts(data: bytes) -> np.ndarray:
    """Where each line of ``data`` starts, and (last) where the data ends."""
    return np.concatenate(([0], np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord("\n")) + 1, [len(data)]))


def _line_values(data: bytes, starts: np.ndarray, rows: np.ndarray, name: str) -> list:
    """``name``'s value in each of the given rows (0-based lines) of ``data``, as orjson reads it;
    ``starts`` as ``_line_starts`` gives them."""
    return [orjson.loads(data[starts[row]:starts[row + 1]])[name] for row in rows]


def _arrow_pass(check: ScalarField, column: pa.Array) -> bool:
    """Whether Arrow's kernels find every value of a column within its field's enum, pattern,
    lengths and bounds: a quick yes for the usual column, never a no (``_distinct_pass`` decides
    then). Arrow's regular expressions (RE2) match no more than Python's re: their character
    classes are ASCII where re's are Unicode and their ``$`` is the end of the text only; a pattern
    with inline flags, where the two could differ, is left to re."""
    present = pc.drop_null(column)
    if not len(present):
        return True
    if check.enum is not None:
        allowed = [value for value in check.enum if value is not None]
        if not pc.all(pc.is_in(present, value_set=pa.array(allowed, present.type))).as_py():
            return False
    if check.pattern is not None:
        if "(?" in check.pattern.pattern:
            return False
        try:
            if not pc.all(pc.match_substring_regex(present, check.pattern.pattern)).as_py():
                return False
        except pa.ArrowException:  # a construct RE2 does not have
            return False
    if check.min_length or check.max_length is not None:
        lengths = pc.utf8_length(present)
        if pc.min(lengths).as_py() < check.min_length or (
                check.max_length is not None and pc.max(lengths).as_py() > check.max_length):
            return False
    extremes = pc.min_max(present) if check.bounds else None
    for test, bound, _ in check.bounds:
        if not (test(extremes["min"].as_py(), bound) and test(extremes["max"].as_py(), bound)):
            return False
    return True


def _distinct_pass(check: ScalarField, column: pa.ChunkedArray) -> bool:
    """Whether every value of a column passes its field's scalar check: Arrow's quick yes, else
    each distinct value checked once, as the careful path would check it."""
    column = column.combine_chunks()
    return _arrow_pass(check, column) or not check.failures(column.unique().to_pylist())


# Joins a list's items into one text to find the distinct lists of a column (no flag holds it).
ITEM_SEPARATOR = "\x1f"


def _distinct_lists(column: pa.ChunkedArray) -> list[list]:
    """The distinct non-null lists of a list column, as Python lists. Lists of text are told apart
    joined in Arrow; where joining could make two lists one (an empty, null or separator-holding
    item) or the items are not text, as tuples in Python."""
    lists = column.combine_chunks()
    items = pc.list_flatten(lists)
    joinable = pa.types.is_string(items.type) and not items.null_count and not (len(items) and (
        pc.any(pc.match_substring(items, ITEM_SEPARATOR)).as_py() or pc.min(pc.utf8_length(items)).as_py() == 0))
    if not joinable:
        return [list(value) for value in {tuple(value) for value in lists.to_pylist() if value is not None}]
    joined = pc.unique(pc.binary_join(lists, ITEM_SEPARATOR)).to_pylist()
    return [text.split(ITEM_SEPARATOR) if text else [] for text in joined if text is not None]


def _all_finite(column: pa.ChunkedArray) -> bool:
    """No NaN or infinity anywhere in a column of numbers or of lists or structs of them (pyarrow
    reads them; strict JSON has none)."""
    arrays = [column.combine_chunks()]
    while arrays:
        array = arrays.pop()
        if pa.types.is_floating(array.type):
            if pc.all(pc.is_finite(array)).as_py() is False:
                return False
        elif pa.types.is_list(array.type):
            arrays.append(pc.list_flatten(array))
        elif pa.types.is_struct(array.type):
            arrays += [array.field(index) for index in range(array.type.num_fields)]
    return True


def _fast_frame(path: Path, check: SchemaCheck) -> pd.DataFrame | None:
    """A Measurement file read by pyarrow and checked column-wise, or None when any line of it
    needs the careful path (which then names the problem)."""
    if path.stat().st_size < FAST_READ_MIN_BYTES:
        return None
    data = path.read_bytes().removeprefix(UTF8_BOM)
    if not data:
        return None
    lines = data.count(b"\n") + (not data.endswith(b"\n"))
    try:
        table = pyarrow.json.read_json(pa.py_buffer(data), read_options=READ_OPTIONS, parse_options=PARSE_OPTIONS)
    except (pa.ArrowException, ValueError):  # not JSON, a wrong type, an unknown field, bad UTF-8...
        return None
    # pyarrow skips blank lines and reads "{..}{..}" as two rows: the careful path reports both.
    if table.num_rows != lines:
        return None
    for field_check in check.checks:
        column = table[field_check.name]
        if field_check.name in check.must_have and column.null_count:
            return None
        if not _all_finite(column):
            return None
        if isinstance(field_check, ScalarField):
            if field_check.needs_values and not _distinct_pass(field_check, column):
                return None
        elif field_check.name in LIST_FIELDS:
            if field_check.failures(_distinct_lists(column)):
                return None
    retrieved_texts = table["retrieved_at"].combine_chunks().dictionary_encode()
    retrieved = _timestamps(retrieved_texts.dictionary.to_pylist())
    if retrieved.isna().any():
        return None
    objects, starts = {}, None
    for name in OBJECT_FIELDS:
        values = np.full(table.num_rows, None, dtype=object)
        rows = np.flatnonzero(table[name].is_valid().to_numpy(zero_copy_only=False))
        if len(rows):
            # The lines are found once for both fields (a scan of the whole file).
            starts = _line_starts(data) if starts is None else starts
            present = _line_values(data, starts, rows, name)
            field_check = check.checks[check.fields.index(name)]
            if field_check.failures(present):
                return None
            values[rows] = present
        objects[name] = values
    del data
    frame = table.drop_columns(OBJECT_FIELDS + list(LIST_FIELDS) + ["retrieved_at"]).combine_chunks().to_pandas()
    frame["retrieved_at"] = retrieved.array.take(retrieved_texts.indices.to_numpy(zero_copy_only=False))
    for name, dtype in LIST_FIELDS.items():
        frame[name] = pd.Series(pd.arrays.ArrowExtensionArray(table[name].combine_chunks()), dtype=dtype)
    for name, values in objects.items():
        frame[name] = values
    return frame[list(check.fields)]


def _read_file(path: Path, check: SchemaCheck, problems: InputProblems) -> list[pd.DataFrame]:
    frames, records, lines = [], [], []
    with path.open("rb") as handle:
        # A binary file's lines end at b"\n" only: U+2028, U+2029 and the like inside a string are
        # data (str.splitlines would cut a record there).
        for number, line in enumerate(handle, start=1):
            if number == 1:
                line = line.removeprefix(UTF8_BOM)
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError as error:
                kind, reason = _not_json(line, error)
                problems.add(path, number, kind, reason)
                continue
            if not isinstance(value, dict):
                problems.add(path, number, NOT_OBJECT, "skipped: not a JSON object")
                continue
            if value.keys() != check.field_set:
                other = _other_kind(value, check)
                if other:
                    problems.add(path, number, OTHER_KIND, f"skipped: a {other.title} record where {check.title} "
                                                           "records are read")
                    continue
                wrong = check.problem_with_fields(value)
                if wrong:
                    problems.add(path, number, SCHEMA, f"skipped: {wrong[1]}", wrong[0])
                    continue
                value = dict.fromkeys(check.fields) | value  # fields it lacks (from older crawls) as null
            records.append(value)
            lines.append(number)
            if len(records) == CHUNK:
                frames.append(_frame(records, lines, check, path, problems))
                records, lines = [], []
    if records:
        frames.append(_frame(records, lines, check, path, problems))
    return frames


def _typed_lists(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame of the careful path with its arrays as the fast path has them (Arrow lists)."""
    return frame.assign(**{name: pd.array(frame[name].tolist(), dtype=dtype) for name, dtype in LIST_FIELDS.items()})


def _disagreeing(frame: pd.DataFrame, repeated_ids: pd.Series) -> tuple[int, list[dict]]:
    """How many ids were read more than once with different figures, and the first
    ``LISTED_DISAGREEMENTS`` of them with their versions, oldest first. ``repeated_ids``: which
    rows have an id that some other row has too."""
    repeated = frame[repeated_ids]
    if repeated.empty:
        return 0, []
    differing = repeated.groupby("id")[list(FIGURES)].nunique(dropna=False) > 1
    differing = differing[differing.any(axis=1)]
    listed = []
    for record_id, fields in differing.iloc[:LISTED_DISAGREEMENTS].iterrows():
        names = [name for name in FIGURES if fields[name]]
        versions = repeated[repeated["id"] == record_id].sort_values("retrieved_at", kind="stable")
        listed.append({"id": record_id, "url": versions["url"].iloc[-1], "fields": names,
                       "versions": [{"retrieved_at": row.retrieved_at.isoformat(),
                                     **{name: _plain(getattr(row, name)) for name in names}}
                                    for row in versions.itertuples()],
                       "kept": versions["retrieved_at"].iloc[-1].isoformat()})
    return len(differing), listed


def _plain(value):
    """A figure as JSON writes it: NaN (a null figure) as None, numpy scalars as Python numbers."""
    return None if pd.isna(value) else value.item() if hasattr(value, "item") else value


def _merge(frame: pd.DataFrame, repeated_ids: pd.Series | None = None) -> pd.DataFrame:
    """One row per id: the latest retrieved_at wins (of equal ones, the last read); first_seen and
    last_seen span every crawl. ``repeated_ids`` as for ``_disagreeing``, when already known."""
    repeated_ids = frame["id"].duplicated(keep=False) if repeated_ids is None else repeated_ids
    if frame.empty or not repeated_ids.any():  # each id read once: nothing to merge
        return _by_source_and_id(frame.assign(first_seen=frame["retrieved_at"], last_seen=frame["retrieved_at"]))
    seen = frame.groupby("id")["retrieved_at"].agg(first_seen="min", last_seen="max")
    latest = frame.sort_values("retrieved_at", kind="stable").drop_duplicates("id", keep="last")
    return _by_source_and_id(latest.join(seen, on="id"))


def _by_source_and_id(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows ordered by source, then id: a stable sort in Arrow (text by its UTF-8 bytes, the
    order of its code points, as pandas' sort of the same text)."""
    keys = pa.table({"source": pa.array(frame["source"].array, from_pandas=True),
                     "id": pa.array(frame["id"].array, from_pandas=True)})
    order = pc.sort_indices(keys, sort_keys=[("source", "ascending"), ("id", "ascending")])
    return frame.take(order.to_numpy(zero_copy_only=False)).reset_index(drop=True)


def _concat(frames: list[pd.DataFrame], check: SchemaCheck) -> pd.DataFrame:
    if frames:
        return pd.concat(frames, ignore_index=True)
    return pd.DataFrame(columns=list(check.fields)).astype({"retrieved_at": "datetime64[us, UTC]"})


def load_output(folder: Path) -> Loaded:
    """Every ``*.jsonl`` under ``folder``, tolerating bad lines and bad records."""
    # JSON makes no reference cycles, so the cyclic collector's passes over the millions of objects
    # read here find nothing and take a third of the loading time.
    gc.disable()
    try:
        return _load_output(folder)
    finally:
        gc.enable()


def _load_output(folder: Path) -> Loaded:
    problems = InputProblems()
    measurements, discussions = [], []
    paths = sorted(folder.rglob("*.jsonl"))
    measurement_paths = [path for path in paths if not path.name.endswith(DISCUSSION_SUFFIX)]
    # The fast reads (which note no problem) run ahead in threads; files are then taken in order, so
    # the frames and the problems of the careful reads come in the order of the paths.
    with ThreadPoolExecutor(READ_THREADS) as pool:
        fast_frames = pool.map(_fast_frame, measurement_paths, [MEASUREMENT_CHECK] * len(measurement_paths))
        for path in paths:
            if path.name.endswith(DISCUSSION_SUFFIX):
                discussions += _read_file(path, DISCUSSION_CHECK, problems)
                continue
            fast = next(fast_frames)
            measurements += ([fast] if fast is not None
                             else map(_typed_lists, _read_file(path, MEASUREMENT_CHECK, problems)))
    every_measurement = _concat(measurements, MEASUREMENT_CHECK)
    repeated_ids = every_measurement["id"].duplicated(keep=False)
    disagreeing, listed = _disagreeing(every_measurement, repeated_ids)
    return Loaded(measurements=_merge(every_measurement, repeated_ids),
                  discussions=_merge(_concat(discussions, DISCUSSION_CHECK)), problems=problems,
                  disagreeing=disagreeing, disagreeing_listed=listed, files=len(paths))
