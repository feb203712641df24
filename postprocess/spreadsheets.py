"""The plan's extraction spreadsheets (CSV) and the merged table (CSV, and Parquet with the typed schema).

Scraped text is untrusted: a text cell that a spreadsheet would read as a formula (=, +, -, @, or a
leading tab or carriage return) is prefixed with an apostrophe.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow
import pyarrow.compute
import pyarrow.parquet

from crawler.arrow_schema import TIMESTAMP, measurement_arrow_schema


def merged_arrow_schema(schema: pyarrow.Schema) -> pyarrow.Schema:
    """A record kind's Arrow schema (from its JSON Schema) and the merge's span across crawls."""
    return schema.append(pyarrow.field("first_seen", TIMESTAMP)).append(pyarrow.field("last_seen", TIMESTAMP))


MERGED_SCHEMA = merged_arrow_schema(measurement_arrow_schema())


def _cell(value):
    if isinstance(value, (list, tuple, np.ndarray)):
        return "; ".join(map(str, value))
    if isinstance(value, dict):
        return "; ".join(f"{k}: {v}" for k, v in value.items())
    return value


_FORMULA_RE = r"^[=+\-@\t\r]"


def _neutralised(text: pyarrow.Array, index: pd.Index) -> pd.Series:
    """Text cells a spreadsheet would read as a formula prefixed with an apostrophe: one regular
    expression pass over the column in Arrow."""
    formula = pyarrow.compute.match_substring_regex(text, _FORMULA_RE)
    if pyarrow.compute.any(formula).as_py():
        prefixed = pyarrow.compute.binary_join_element_wise(pyarrow.scalar("'", text.type), text.fill_null(""),
                                                             pyarrow.scalar("", text.type))
        text = pyarrow.compute.if_else(formula, prefixed, text)
    return pd.Series(text.to_pandas().array, index=index)


def _safe_objects(series: pd.Series) -> pd.Series:
    """An object column (mappings such as bounds and trace, or a column pandas could not type): its
    lists and mappings as text, formula-like text neutralised, anything else as it is."""
    present = series.dropna()
    if not present.empty and isinstance(present.iloc[0], (list, tuple, np.ndarray, dict)):
        series = series.map(_cell)
    text = series.astype("string")
    formula = text.str.contains(_FORMULA_RE, regex=True).fillna(False).astype(bool)
    if formula.any():
        # Only text is a formula: a negative number in a column pandas left untyped (one file's
        # column all null, another's figures) stays a number, not the text "'-5.0".
        formula[formula] = series[formula].map(lambda value: isinstance(value, str)).astype(bool)
    return series.where(~formula, "'" + text)


def safe_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Lists and mappings joined into text, and formula-like text neutralised, for spreadsheets.

    Only text columns are looked at, each in one vectorised pass (Arrow for text and lists of text),
    so that a million-row table takes a second, not minutes.
    """
    table = {}
    for column in frame.columns:
        series = frame[column]
        dtype = series.dtype
        if (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)
                or pd.api.types.is_datetime64_any_dtype(series)):
            table[column] = series
        elif isinstance(dtype, pd.ArrowDtype) and pyarrow.types.is_list(dtype.pyarrow_dtype) and \
                pyarrow.types.is_string(dtype.pyarrow_dtype.value_type):
            table[column] = _neutralised(pyarrow.compute.binary_join(pyarrow.array(series.array), "; "), series.index)
        elif isinstance(dtype, pd.StringDtype):
            table[column] = _neutralised(pyarrow.array(series.array), series.index)
        else:
            table[column] = _safe_objects(series)
    return pd.DataFrame(table, index=frame.index)


# Significant digits a spreadsheet cell keeps: more than any source gives, fewer than the noise of a
# unit conversion (0.0016485 kWh * 3.6e6 is 5934.618907200001 J, written 5934.6189072).
CELL_DIGITS = 12
_EXACT_POWERS = 22  # 10**k is an exact double up to k = 22


def without_float_noise(values: pd.Series) -> pd.Series:
    """Floats rounded to CELL_DIGITS significant digits, vectorised; values whose rounding would
    need a power of ten beyond the exact ones (below 1e-11, above 1e33) are left as they are."""
    numbers = values.to_numpy(dtype=float, na_value=np.nan)
    if not values.notna().any():  # a figure no row gives (most columns of a source's sheet): nothing to round
        return pd.Series(numbers, index=values.index, name=values.name)
    with np.errstate(all="ignore"):
        decimals = CELL_DIGITS - 1 - np.floor(np.log10(np.abs(numbers)))
        usable = np.isfinite(decimals) & (np.abs(decimals) <= _EXACT_POWERS)
        decimals = np.where(usable, decimals, 0.0)
        power = 10.0 ** np.abs(decimals)
        rounded = np.where(decimals >= 0, np.round(numbers * power) / power, np.round(numbers / power) * power)
    return pd.Series(np.where(usable, rounded, numbers), index=values.index, name=values.name)


# Rows formatted at a time (a batch's text is a few tens of MB), two batches at once: Arrow's kernels
# run outside the GIL.
CSV_BATCH_ROWS = 100_000
CSV_THREADS = 2


def _cell_text(values: pyarrow.Array) -> pyarrow.Array:
    """Values (no nulls among them) as pyarrow's CSV writer writes them (its default options): text
    quoted with inner quotes doubled, anything else as Arrow casts it to text. UTC date-times are
    formatted without their zone and given its "Z": Arrow looks the zone up for every value."""
    kind = values.type
    if pyarrow.types.is_string(kind) or pyarrow.types.is_large_string(kind):
        inner = pyarrow.compute.replace_substring(values.cast(pyarrow.string()), '"', '""')
        return pyarrow.compute.binary_join_element_wise('"', inner, '"', "")
    if pyarrow.types.is_timestamp(kind) and kind.tz == "UTC":
        naive = pyarrow.compute.cast(values.cast(pyarrow.timestamp(kind.unit)), pyarrow.string())
        return pyarrow.compute.binary_join_element_wise(naive, "Z", "")
    return pyarrow.compute.cast(values, pyarrow.string())


def _csv_column(column: pyarrow.Array) -> pyarrow.Array:
    """A column's cells, nulls empty. Each distinct value is formatted once (a GPU name or a date
    repeats over thousands of rows). No null reaches a join: pyarrow 26's element-wise join can
    drop rows around them."""
    if pyarrow.types.is_null(column.type):
        return pyarrow.array([""] * len(column), pyarrow.string())
    encoded = pyarrow.compute.dictionary_encode(column)
    return _cell_text(encoded.dictionary.cast(column.type)).take(encoded.indices).fill_null("")


def _csv_lines(batch: pyarrow.RecordBatch) -> pyarrow.Buffer:
    """A batch's rows as CSV lines, one after another."""
    lines = pyarrow.compute.binary_join_element_wise(*map(_csv_column, batch.columns), ",")
    lines = pyarrow.compute.binary_join_element_wise(lines, "\n", "").cast(pyarrow.large_string())
    # The lines' text is the array's value buffer between its first and last offset.
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[lines.offset:lines.offset + len(lines) + 1]
    return lines.buffers()[2][int(offsets[0]):int(offsets[-1])]


def _write_csv_table(table: pyarrow.Table, path: Path) -> None:
    header = ",".join('"' + name.replace('"', '""') + '"' for name in table.column_names) + "\n"
    batches = [batch for batch in table.to_batches(max_chunksize=CSV_BATCH_ROWS) if batch.num_rows]
    with path.open("wb") as handle, ThreadPoolExecutor(CSV_THREADS) as pool:
        handle.write(header.encode("utf-8"))
        for start in range(0, len(batches), CSV_THREADS):  # no more batches' text held than are formatted at once
            for lines in pool.map(_csv_lines, batches[start:start + CSV_THREADS]):
                handle.write(lines)


def write_csv(table: pd.DataFrame, path: Path) -> None:
    """A spreadsheet-safe CSV, figures without float noise, written as pyarrow's CSV writer writes
    it, a batch of rows at a time in Arrow."""
    table = safe_table(table)
    for column in table.columns:
        if pd.api.types.is_float_dtype(table[column]):
            table[column] = without_float_noise(table[column])
    _write_csv_table(pyarrow.Table.from_pandas(table, preserve_index=False), path)


def _power_energy(frame: pd.DataFrame) -> pd.Series:
    """'power_w=400 W; gpu_hours=184320 GPU h' style summaries of a row's power and energy figures
    ("" for a row with none). Each distinct figure is formatted once."""
    parts = []
    for column, unit in (("power_w", "W"), ("energy_j", "J"), ("gpu_hours", "GPU h"), ("co2_kg", "kg CO2")):
        codes, distinct = pd.factorize(frame[column])  # a missing figure's code is -1: the last text, ""
        texts = np.array([f"; {column}={value:g} {unit}" for value in distinct] + [""], dtype=object)
        parts.append(pyarrow.array(texts[codes], type=pyarrow.string()))
    # Each present part starts with "; ": joined, the text after the first one. (No null reaches the
    # join: pyarrow 26's join skipping nulls can return fewer rows than it is given.)
    joined = pyarrow.compute.binary_join_element_wise(*parts, "")
    summaries = pyarrow.compute.utf8_slice_codeunits(joined, 2)
    return pd.Series(summaries.to_numpy(zero_copy_only=False), index=frame.index, dtype=object)


SPREADSHEETS = {
    "datasets.csv": ("hub_datasets", {
        "GPU model": "gpu", "GPU as written": "gpu_raw", "model name": "model_name", "power (W)": "power_w",
        "energy per iteration (J)": "energy_per_query_j", "energy per token (J)": "energy_per_token_j",
        "batch size": "batch_size", "workload": "workload", "method": "method", "notes": "notes",
        "source": "url"}),
    "ai_energy_score.csv": ("ai_energy_score", {
        "model": "model_id", "task": "task", "energy score (stars)": "energy_score", "GPU power (W)": "power_w",
        "energy per inference (J)": "energy_per_query_j", "energy per token (J)": "energy_per_token_j",
        "carbon (kg)": "co2_kg", "hardware": "gpu_raw", "methodology": "notes", "source": "url"}),
    "model_cards.csv": ("hub_models", {
        "model": "model_name_or_id", "hardware tested": "gpu_raw", "performance (tokens/s)": "throughput_tokens_per_s",
        "power/energy data": "power_energy", "benchmark results (GPU hours)": "gpu_hours",
        "inference efficiency (J/token)": "energy_per_token_j", "inference efficiency (J/query)": "energy_per_query_j",
        "workload": "workload", "kind": "power_kind", "extractor": "extractor", "source": "url"}),
}


def typed_table(frame: pd.DataFrame, schema: pyarrow.Schema) -> pyarrow.Table:
    """A frame as an Arrow table of ``schema``. pandas' dtype hints are left out of the metadata: the
    schema types every column, and a hint for an Arrow-backed column (flags) is one pandas itself
    cannot read back."""
    table = pyarrow.Table.from_pandas(frame, schema=schema, preserve_index=False)
    metadata = {key: value for key, value in (table.schema.metadata or {}).items() if key != b"pandas"}
    return table.replace_schema_metadata(metadata)


# Columns the spreadsheets derive from a row's own fields, and the fields each reads.
DERIVED = {"model_name_or_id": lambda rows: rows["model_id"].fillna(rows["model_name"]),
           "power_energy": _power_energy}
DERIVED_FROM = {"model_name_or_id": ["model_id", "model_name"],
                "power_energy": ["power_w", "energy_j", "gpu_hours", "co2_kg"]}


def write_spreadsheets(measurements: pd.DataFrame, discussions: pd.DataFrame, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (source, columns) in SPREADSHEETS.items():
        read = {field for column in columns.values() for field in DERIVED_FROM.get(column, [column])}
        # Only the fields the sheet shows are copied out of the source's rows.
        subset = measurements.loc[measurements["source"] == source, [c for c in measurements.columns if c in read]]
        table = pd.DataFrame({title: DERIVED[column](subset) if column in DERIVED else subset[column]
                              for title, column in columns.items()})
        write_csv(table, out / name)
        written.append(out / name)
    community = pd.DataFrame({
        "discussion": discussions.get("title", pd.Series(dtype=object)),
        "state": discussions.get("state", pd.Series(dtype=object)),
        "comments read": discussions.get("comments_read", pd.Series(dtype=object)),
        "tools and practices": discussions.get("tools", pd.Series(dtype=object)),
        "mentions": discussions.get("tool_mentions", pd.Series(dtype=object)),
        "measurements": discussions.get("measurement_count", pd.Series(dtype=object)),
        "link": discussions.get("url", pd.Series(dtype=object)),
    })
    write_csv(community, out / "community.csv")
    written.append(out / "community.csv")
    write_csv(measurements, out / "measurements.csv")
    pyarrow.parquet.write_table(typed_table(measurements, MERGED_SCHEMA), out / "measurements.parquet")
    written += [out / "measurements.csv", out / "measurements.parquet"]
    return written


def tool_counts(discussions: pd.DataFrame) -> list[dict]:
    """Tools and practices across discussions: in how many, how many posts, and the links."""
    counts: dict[str, dict] = {}
    for row in discussions.itertuples():
        for tool, posts in (row.tool_mentions or {}).items():
            entry = counts.setdefault(tool, {"tool": tool, "discussions": 0, "posts": 0, "links": []})
            entry["discussions"] += 1
            entry["posts"] += int(posts)
            entry["links"].append(row.url)
    return sorted(counts.values(), key=lambda e: (-e["discussions"], e["tool"]))
