"""Power and energy tables in documents (model cards, issue posts) -> records, as people write them.

Columns are recognised by header or, when the header names no unit, by the units in their cells:
time ("Time (GPU hours)"), power ("Power Consumption (W)", "71.8 W" cells), energy ("Energy (kWh)",
"135 MWh" cells), carbon ("Carbon Emitted (tCO2eq)"). The first other column names the row (a model
or a configuration); a "GPU" / "GPU Type" / "Hardware" column names its GPU. Also read:

* transposed tables, metrics as rows and configurations as columns;
* range cells ("180-200W": the midpoint, both ends in ``bounds``), scientific notation, footnote
  marks ("0*"), stage breakdowns ("Stage 1: 147K H100 hours Stage 2: 98K ..." is the sum);
* several columns of one quantity ("Bare idle | CUDA-ctx idle"): one record per column, its phase
  read from its header.

Not records (counted by role): carbon-intensity or price columns (``rate``), differences and
overheads (``delta``), power or energy that nothing ties to a GPU (``not_gpu``). A "Total" row
repeats the rows above and is left out. The GPU, workload and whether the wattage is a rating come
from the prose before and after the table.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final

from .context import classify_method, classify_phase, classify_workload
from .datafiles import Problem
from .figure_roles import DELTA, GPU as GPU_WORDS
from .gpus import find_gpus, normalise_gpu
from .models import params_from_name
from .records import truncate
from .tables import DocumentTable
from .units import find_carbon, find_figures, find_gpu_hours, parse_count, parse_number, symbol_kind_and_factor

_UNIT_IN_HEADER_RE: Final = re.compile(r"\(([^)]*)\)|\[([^\]]*)\]|\bin\s+(\w+)\s*$", re.IGNORECASE)
# A carbon column's mass unit, once "CO2", "eq" and spaces are taken off the header's unit:
# "tCO2eq", "tons CO2eq", "metric tons CO2eq", "kg CO₂e", "gCO2".
_CARBON_MASS_UNITS: Final = {"t": 1000.0, "ton": 1000.0, "tons": 1000.0, "tonne": 1000.0, "tonnes": 1000.0,
                      "metricton": 1000.0, "metrictons": 1000.0, "mt": 1000.0,
                      "kg": 1.0, "kgs": 1.0, "kilogram": 1.0, "kilograms": 1.0,
                      "g": 0.001, "gram": 0.001, "grams": 0.001}
_CARBON_HEADER_RE: Final = re.compile(r"carbon|co2|co₂|emission")  # matched against lower-cased text
_CO2_SUFFIX_RE: Final = re.compile(r"(?:of)?co2(?:equivalent|eq|e)?$")
# A rating stated in lower-cased text: "peak power capacity", "thermal design power", "rated power",
# "power capacity" or the word "tdp". Tested as substrings (the first holds the last): the
# alternation, whose branches start differently, was entered at every position of the caption.
_RATED_PHRASES: Final = ("power capacity", "thermal design power", "rated power")
_TDP_WORD_RE: Final = re.compile(r"\btdp\b")
_TDP_STATEMENT_RE: Final = re.compile(r"TDP of\s+([\d.,]+\s*(?:[-–]\s*[\d.,]+)?\s*W)")
_MEASURING_METHODS: Final = {"nvml", "nvidia-smi", "codecarbon", "zeus", "external-meter"}
_TOTAL_RE: Final = re.compile(r"^\s*(?:total|sum|overall)\b", re.IGNORECASE)
_RATE_HEADER_RE: Final = re.compile(r"/\s*k?wh|per\s+k?wh|intensity|price|cost|\$|€", re.IGNORECASE)
# Carbon after offsets or renewable purchases: an accounting result, not the carbon of the work.
_ACCOUNTING_HEADER_RE: Final = re.compile(r"market[- ]based|offset|net\b", re.IGNORECASE)
_EMPTY_CELLS: Final = {"", "-", "\\-", "—", "–", "n/a", "na", "none", "unknown", "?", "tbd"}
_FOOTNOTE_MARKS: Final = "*†‡§¹²³"
_DIGIT_THEN_LETTER_RE: Final = re.compile(r"\d\s*[A-Za-z]")  # a unit written in the cell ("400 W")
_SCIENTIFIC_RE: Final = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d{1,3}")
_STAGE_VALUE_RE: Final = re.compile(r"stage\s*\d+\s*:\s*~?\s*(\d[\d.,]*)\s*([kKmMbB](?![a-z]))?", re.IGNORECASE)
_GPU_HEADER_RE: Final = re.compile(r"^\s*(?:gpus?|gpu (?:model|name|type)|hardware(?: type)?|device|accelerator)s?\s*$",
                            re.IGNORECASE)
# A unit per something in a header: "J/token", "J/out_tok", "mJ per token", "Wh/query", "W/GPU".
_PER_UNIT_HEADER_RE: Final = re.compile(r"(?<![A-Za-z])(?P<unit>[kmM]?J|k?Wh|W)\s*(?:/|per\s+)\s*"
                                 r"(?P<per>out[_ ]?tok(?:en)?s?|tok(?:en)?s?|quer(?:y|ies)|requests?|prompts?|"
                                 r"samples?|images?|GPU)\b", re.IGNORECASE)
_MINIMUM_HEADER_RE: Final = re.compile(r"\bmin(?:imum)?\b")
_BATCH_HEADER_RE: Final = re.compile(r"\s*(?:batch(?:[ _-]?size)?|bs)\s*")


@dataclass(frozen=True)
class ColumnRole:
    field: str   # record field
    factor: float  # multiply the cell's number by this to get the canonical unit
    phase: str | None = None


@dataclass
class TableRecords:
    records: list[dict] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)


def _header_unit(header: str) -> str | None:
    match = _UNIT_IN_HEADER_RE.search(header)
    if not match:
        return None
    return next(group for group in match.groups() if group is not None).strip()


def _compact(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower().replace("₂", "2"))


@lru_cache(maxsize=4096)
def column_role(header: str) -> ColumnRole | None:
    """What a table column holds, judged by its header, or None for a non-figure column."""
    lowered = header.lower()
    if _BATCH_HEADER_RE.fullmatch(lowered):
        return ColumnRole("batch_size", 1.0)
    if _RATE_HEADER_RE.search(lowered) or DELTA.search(lowered) or _ACCOUNTING_HEADER_RE.search(lowered):
        return None
    unit = _header_unit(header)
    phase = classify_phase(lowered)
    if "gpu hour" in lowered or "gpu-hour" in lowered or (unit and unit.lower() == "gpu hours"):
        return ColumnRole("gpu_hours", 1.0, phase)
    if _CARBON_HEADER_RE.search(lowered):
        factor = _CARBON_MASS_UNITS.get(_CO2_SUFFIX_RE.sub("", _compact(unit or "")))
        return ColumnRole("co2_kg", factor, phase) if factor else None
    per = _PER_UNIT_HEADER_RE.search(header)
    if per:  # "J/token (prefill)", "J/out_tok", "mJ per token", "Wh/query", "W/GPU"
        kind_and_factor = symbol_kind_and_factor(per["unit"])
        if kind_and_factor and kind_and_factor[0] == "energy" and per["per"].lower().startswith(("tok", "out")):
            return ColumnRole("energy_per_token_j", kind_and_factor[1], phase)
        if kind_and_factor and kind_and_factor[0] == "energy":
            return ColumnRole("energy_per_query_j", kind_and_factor[1], phase)
        if kind_and_factor and kind_and_factor[0] == "power" and per["per"].lower() == "gpu":
            return ColumnRole("power_w", kind_and_factor[1], phase)
        return None
    known = symbol_kind_and_factor(unit) if unit else None
    if known is None:
        return None
    kind, factor = known
    if kind == "power" and _MINIMUM_HEADER_RE.search(lowered):
        return None  # the lowest reading of a series: a statistic, not a figure of the work
    if kind == "power" and re.search(r"power|watt|draw|consumption|idle|load|peak|max|mean|avg|average|median",
                                     lowered):
        return ColumnRole("power_w", factor, phase or ("peak" if re.search(r"\bmax", lowered) else None))
    if kind == "energy" and re.search(r"energy|consumption|power", lowered):
        return ColumnRole("energy_j", factor, phase)
    return None


@lru_cache(maxsize=4096)  # asked of each header two or three times per table, and headers repeat
def _skipped_column(header: str) -> str | None:
    """Why a column with figures is deliberately not read, if it is one of those."""
    lowered = header.lower()
    if _RATE_HEADER_RE.search(lowered):
        return "rate"
    if DELTA.search(lowered):
        return "delta"
    if _ACCOUNTING_HEADER_RE.search(lowered):
        return "accounting"
    return None


def _clean(cell: str) -> str:
    return cell.strip().rstrip(_FOOTNOTE_MARKS).strip()


def _cell_role(cells: list[str], header: str) -> ColumnRole | None:
    """A column's role from the units its cells carry ("71.8 W", "135 MWh"), for a bare header."""
    lowered = header.lower()
    if _skipped_column(header):
        return None
    kinds: dict[str, int] = {}  # cells per kind, in the order first seen
    carbon_header = bool(_CARBON_HEADER_RE.search(lowered))
    for cell in cells:
        cell = _clean(cell)
        if cell.lower() in _EMPTY_CELLS:
            continue
        if carbon_header and find_carbon(cell, unit_names_co2=False):
            kinds["co2"] = kinds.get("co2", 0) + 1
            continue
        figures = find_figures(cell)
        if len(figures) == 1 and figures[0].kind in ("power", "energy"):
            kinds[figures[0].kind] = kinds.get(figures[0].kind, 0) + 1
    if not kinds:
        return None
    kind = max(kinds, key=kinds.__getitem__)  # the first of the commonest, as Counter.most_common(1) gives
    field_name = {"power": "power_w", "energy": "energy_j", "co2": "co2_kg"}[kind]
    return ColumnRole(field_name, 0.0, classify_phase(lowered))  # factor 0: each cell has its unit


def _cell_value(cell: str, role: ColumnRole) -> tuple[float, float | None, float | None]:
    """(value, low, high) of a cell in the role's canonical unit; raises ValueError when unreadable."""
    text = _clean(cell)
    if role.factor != 0.0 and text.isdigit():  # "400", "70816": most cells of a power table
        count = parse_count(text)  # every pattern below needs a letter ("e", "stage", "hours", a unit)
        if count is not None:
            return count * role.factor, None, None
    if _SCIENTIFIC_RE.fullmatch(text):
        return float(text) * (role.factor or 1.0), None, None
    if role.field == "gpu_hours":
        parts = find_gpu_hours(text)
        if len(parts) > 1:  # "Stage 1: 147K H100 hours Stage 2: 98K H100 hours ...": the sum
            return sum(part.value for part in parts), None, None
    stages = _STAGE_VALUE_RE.findall(text)
    if len(stages) > 1:  # "Stage 1: 147K Stage 2: 98K": the figure is the sum
        # A stage parse_count cannot read (None) makes sum raise TypeError: an unreadable cell.
        return sum(parse_count(number + multiplier)  # type: ignore[misc]
                   for number, multiplier in stages) * (role.factor or 1.0), None, None
    if role.factor == 0.0 or role.field in ("power_w", "energy_j") and _DIGIT_THEN_LETTER_RE.search(text):
        if role.field == "co2_kg":
            found = find_carbon(text, unit_names_co2=False)
            if found:
                return found[0].value, found[0].low, found[0].high
        else:
            figures = [f for f in find_figures(text) if f.kind in ("power", "energy")]
            if figures:
                figure = figures[0]
                return figure.value, figure.low, figure.high
        if role.factor == 0.0:
            raise ValueError(text)
    count = parse_count(text)
    if count is not None:
        return count * role.factor, None, None
    pair = re.fullmatch(r"\s*([\d.,]+)\s*(?:-|–|to)\s*([\d.,]+)\s*[A-Za-z]*\s*", text)
    if pair:
        low, high = parse_number(pair[1]) * role.factor, parse_number(pair[2]) * role.factor
        return (low + high) / 2, low, high
    raise ValueError(text)


_METRIC_WORDS_RE: Final = re.compile(r"energy|power|watt|co2|co₂|carbon|emission|gpu[- ]hours?|[jw]\s*/\s*\w", re.IGNORECASE)


def _names_a_metric(label: str) -> bool:
    return column_role(label) is not None or bool(_METRIC_WORDS_RE.search(label))


def _transposed(table: DocumentTable) -> DocumentTable | None:
    """The table turned so that metrics are columns, when its first column holds the metrics
    ("Energy (J)" as a row label, configurations as the header)."""
    if any(_names_a_metric(header) for header in table.header[1:]):
        return None
    if not any(row and _names_a_metric(row[0]) for row in table.rows):
        return None
    header = [table.header[0]] + [row[0] if row else "" for row in table.rows]
    rows = [[table.header[column]] + [row[column] if column < len(row) else "" for row in table.rows]
            for column in range(1, len(table.header))]
    return DocumentTable(header=header, rows=rows, start=table.start, end=table.end, kind=table.kind)


def table_roles(table: DocumentTable) -> tuple[int | None, int | None, dict[int, ColumnRole]]:
    """(model column, GPU column, {column: role}) of a table; no roles means not a power table.

    The model column is the first column that is neither a figure nor the GPU.
    """
    roles = {}
    for index, header in enumerate(table.header):
        role = column_role(header)
        if role is None and not _GPU_HEADER_RE.match(header):
            role = _cell_role([row[index] for row in table.rows if index < len(row)], header)
        if role is not None:
            roles[index] = role
    gpu = next((index for index, header in enumerate(table.header)
                if index not in roles and _GPU_HEADER_RE.match(header)), None)
    label = next((index for index in range(len(table.header))
                  if index not in roles and index != gpu and not _skipped_column(table.header[index])), None)
    if not any(role.field != "batch_size" for role in roles.values()):
        return label, gpu, {}
    return label, gpu, roles


def _row_excerpt(table: DocumentTable, row: list[str]) -> str:
    return truncate(" | ".join(f"{h or '(row)'}: {c}" for h, c in zip(table.header, row)))


def table_records(table: DocumentTable, *, before: str, after: str, extractor: str,
                  locator_prefix: str, section_gpu=None) -> TableRecords:
    """Records from a power table, with context read from the text before and after it.

    ``section_gpu``: a callable giving the GPU its section names (the nearest earlier, else the
    only one); asked only when neither the table nor the text around it names a GPU.
    """
    result = TableRecords()
    table = _transposed(table) or table
    label_column, gpu_column, roles = table_roles(table)
    for index, header in enumerate(table.header):
        reason = _skipped_column(header)
        if reason and index not in roles:
            result.skipped[reason] += sum(1 for row in table.rows if index < len(row) and
                                          _clean(row[index]).lower() not in _EMPTY_CELLS)
    if not roles or (label_column is None and gpu_column is None):
        return result
    for number in table.ragged_rows:
        result.problems.append(Problem("ragged_row", f"{locator_prefix}: table row {number}"))
    headers = " ".join(table.header)
    context = before + "\n" + headers + "\n" + after
    lowered_context = context.lower()
    gpus_before = find_gpus(before)
    gpus_after = find_gpus(after) if not gpus_before else None  # read only when the caption names none
    context_gpu = (gpus_before[-1].match.raw if gpus_before else
                   gpus_after[0].match.raw if gpus_after else None)
    if context_gpu is None and gpu_column is None and section_gpu is not None:
        found = section_gpu()
        context_gpu = found.raw if found else None
    rated = (any(phrase in lowered_context for phrase in _RATED_PHRASES)
             or ("tdp" in lowered_context and bool(_TDP_WORD_RE.search(lowered_context))))
    tdp_statement = _TDP_STATEMENT_RE.search(context) if "TDP of" in context else None  # a scan at find's speed
    workload = classify_workload(headers)
    if workload == "unknown":
        workload = classify_workload(before[-600:] + " " + after[:300])
    table_phase = classify_phase(before[-300:])
    method = "tdp-estimate" if rated else classify_method(context)
    gpu_words = None  # whether the caption says GPU: read when a row's GPU is unknown, once
    notes = []
    if rated:
        notes.append("the card gives this wattage as peak power capacity / TDP, not a measured draw")
    if tdp_statement:
        notes.append(f"card states a TDP of {tdp_statement.group(1)}")
    by_field: dict[str, int] = {}  # columns per field: a loop, where Counter() runs its Python update
    for role in roles.values():
        by_field[role.field] = by_field.get(role.field, 0) + 1
    lowered_headers = headers.lower()
    gpu_scope = "from gpu" in lowered_headers or "gpu energy" in lowered_headers or "gpu power" in lowered_headers
    for number, row in enumerate(table.rows, start=1):
        label = row[label_column] if label_column is not None and label_column < len(row) else ""
        row_gpu = row[gpu_column].strip() if gpu_column is not None and gpu_column < len(row) else ""
        if _TOTAL_RE.match(label):
            result.problems.append(Problem("table_total_row", f"{locator_prefix}: {label!r}", error=False))
            continue
        shared: dict[str, Any] = {}  # field -> (value, low, high); "batch_size" -> a whole number
        separate: list[tuple[int, ColumnRole, tuple[float, float | None, float | None]]] = []
        shared_columns: list[int] = []
        for column, role in roles.items():
            cell = row[column] if column < len(row) else ""
            if _clean(cell).lower() in _EMPTY_CELLS:
                continue
            try:
                value = _cell_value(cell, role)
            except (ValueError, TypeError, AttributeError):
                result.problems.append(Problem(
                    "non_numeric_cell", f"{locator_prefix}: {table.header[column]!r} = {cell!r}"))
                continue
            if role.field == "batch_size":
                shared["batch_size"] = int(value[0])
            elif role.field == "gpu_hours" and value[0] == 0:
                continue  # no GPU time spent (a stage that did not run): nothing to record
            elif by_field[role.field] > 1 and (role.field in shared or role.phase):
                separate.append((column, role, value))
            else:
                shared[role.field] = value
                shared_columns.append(column)
        gpu_raw = row_gpu or context_gpu
        gpu_known = bool(gpu_raw) and (normalise_gpu(gpu_raw).spec is not None or bool(row_gpu))
        # In column order: the row's record (its first columns), and each column of its own.
        figures: list[tuple[int, int | None, ColumnRole | None, dict[str, Any]]] = sorted(
                         [(min(shared_columns, default=-1), None, None, shared)] +
                         [(column, column, role, {role.field: value}) for column, role, value in separate],
                         key=lambda figure: figure[0])
        for _, figure_column, figure_role, values in figures:
            figure_values = {k: v for k, v in values.items() if k != "batch_size"}
            if not figure_values:
                continue
            if {"power_w", "energy_j"} & set(figure_values) and not gpu_known:
                if gpu_words is None:
                    gpu_words = bool(GPU_WORDS.search(lowered_context))
                if not gpu_words:
                    result.skipped["not_gpu"] += len(figure_values)
                    continue
            record = _row_record(table, row, number, figure_column, label, gpu_raw, workload, method,
                                 notes, extractor, locator_prefix)
            record["batch_size"] = shared.get("batch_size")
            column_phase = figure_role.phase if figure_role else _single_phase([roles[c] for c in shared_columns])
            record["phase"] = column_phase or classify_phase(label) or table_phase
            bounds = {}
            for field_name, (amount, low, high) in figure_values.items():
                record[field_name] = amount
                if low is not None:
                    bounds[field_name] = [low, high]
            if bounds:
                record["bounds"] = bounds
                record["flags"].append("range_midpoint")
            if "power_w" in figure_values:
                if rated:
                    record["power_kind"] = "rated"
                    record["flags"].append("rated_not_measured")
                elif method in _MEASURING_METHODS or record["phase"]:
                    record["power_kind"] = "measured"
            if gpu_scope:
                record["scope"] = "gpu"
            result.records.append(record)
    return result


def _single_phase(roles: list[ColumnRole]) -> str | None:
    """The phase the columns of a row's record agree on, if their headers name one."""
    phases = {role.phase for role in roles if role.phase}
    return phases.pop() if len(phases) == 1 else None


def _row_record(table, row, number, column, label, gpu_raw, workload, method, notes, extractor,
                locator_prefix) -> dict:
    where = f"#row={number}:{label or gpu_raw or ''}"
    if column is not None:
        where += f"&column={table.header[column]}"
    return {
        "extractor": extractor,
        "locator": f"{locator_prefix}{where}",
        "excerpt": _row_excerpt(table, row),
        "model_name": label or None,
        "model_params_b": params_from_name(label),
        "gpu_raw": gpu_raw or None,
        "workload": workload,
        "method": method,
        "flags": [],
        "notes": "; ".join(notes) or None,
    }
