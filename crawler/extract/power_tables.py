"""Power and energy tables in documents (model cards, issue comments) -> one record per model row.

Columns are recognised by header: time ("Time (GPU hours)"), power ("Power Consumption (W)"),
energy ("Energy (kWh)", "MWh", "J"), carbon ("Carbon Emitted (tCO2eq)"). The first other column
names the row (a model or model size). A "Total" row is not a model and is left out. The GPU,
workload and whether the wattage is a rating come from the prose around the table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from .context import classify_method, classify_workload
from .datafiles import Problem
from .gpus import find_gpus
from .models import params_from_name
from .records import truncate
from .tables import DocumentTable
from .units import parse_count, symbol_kind_and_factor

# Text around a table that is read for its GPU and for how its wattage was obtained.
CONTEXT_BEFORE = 1500
CONTEXT_AFTER = 600

_UNIT_IN_HEADER_RE = re.compile(r"\(([^)]*)\)|\[([^\]]*)\]|\bin\s+(\w+)\s*$", re.IGNORECASE)
_CARBON_UNITS = {"tco2eq": 1000.0, "tco2e": 1000.0, "tco2": 1000.0, "tonnes": 1000.0, "t": 1000.0,
                 "kgco2eq": 1.0, "kgco2e": 1.0, "kgco2": 1.0, "kg": 1.0,
                 "gco2eq": 0.001, "gco2e": 0.001, "gco2": 0.001, "g": 0.001}
_RATED_RE = re.compile(r"peak power capacity|\btdp\b|thermal design power|rated power|"
                       r"power capacity")  # matched against lower-cased text
_TDP_STATEMENT_RE = re.compile(r"TDP of\s+([\d.,]+\s*(?:[-–]\s*[\d.,]+)?\s*W)")
_MEASURING_METHODS = {"nvml", "nvidia-smi", "codecarbon", "zeus", "external-meter"}
_TOTAL_RE = re.compile(r"^\s*(?:total|sum|overall)\b", re.IGNORECASE)


@dataclass(frozen=True)
class ColumnRole:
    field: str   # record field
    factor: float  # multiply the cell's number by this to get the canonical unit


@dataclass
class TableRecords:
    records: list[dict] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def _header_unit(header: str) -> str | None:
    match = _UNIT_IN_HEADER_RE.search(header)
    if not match:
        return None
    return next(group for group in match.groups() if group is not None).strip()


@lru_cache(maxsize=4096)
def column_role(header: str) -> ColumnRole | None:
    """What a table column holds, judged by its header, or None for a non-figure column."""
    lowered = header.lower()
    if re.fullmatch(r"\s*(?:batch(?:[ _-]?size)?|bs)\s*", lowered):
        return ColumnRole("batch_size", 1.0)
    unit = _header_unit(header)
    if "gpu hour" in lowered or "gpu-hour" in lowered or (unit and unit.lower() == "gpu hours"):
        return ColumnRole("gpu_hours", 1.0)
    if re.search(r"carbon|co2|emission", lowered):
        compact = re.sub(r"[^a-z0-9]", "", (unit or "").lower().replace("₂", "2"))
        factor = _CARBON_UNITS.get(compact)
        return ColumnRole("co2_kg", factor) if factor else None
    known = symbol_kind_and_factor(unit) if unit else None
    if known is None:
        return None
    kind, factor = known
    if kind == "power" and re.search(r"power|watt|draw|consumption", lowered):
        return ColumnRole("power_w", factor)
    if kind == "energy" and re.search(r"energy|consumption|power", lowered):
        return ColumnRole("energy_j", factor)
    return None


_GPU_HEADER_RE = re.compile(r"^\s*(?:gpu|gpu model|gpu name|hardware|device|accelerator)\s*$", re.IGNORECASE)


def table_roles(table: DocumentTable) -> tuple[int | None, int | None, dict[int, ColumnRole]]:
    """(model column, GPU column, {column: role}) of a table; no roles means not a power table.

    The model column is the first column that is neither a figure nor the GPU.
    """
    roles = {index: role for index, header in enumerate(table.header)
             if (role := column_role(header)) is not None}
    gpu = next((index for index, header in enumerate(table.header)
                if index not in roles and _GPU_HEADER_RE.match(header)), None)
    label = next((index for index in range(len(table.header)) if index not in roles and index != gpu), None)
    if not any(role.field != "batch_size" for role in roles.values()):
        return label, gpu, {}
    return label, gpu, roles


def _row_excerpt(table: DocumentTable, row: list[str]) -> str:
    return truncate(" | ".join(f"{h or '(row)'}: {c}" for h, c in zip(table.header, row)))


def table_records(table: DocumentTable, document: str, *, extractor: str,
                  locator_prefix: str) -> TableRecords:
    """Records from a power table, with context read from the document around it."""
    result = TableRecords()
    label_column, gpu_column, roles = table_roles(table)
    if not roles or (label_column is None and gpu_column is None):
        return result
    for number in table.ragged_rows:
        result.problems.append(Problem("ragged_row", f"{locator_prefix}: table row {number}"))
    before = document[max(0, table.start - CONTEXT_BEFORE): table.start]
    after = document[table.end: table.end + CONTEXT_AFTER]
    context = before + "\n" + " ".join(table.header) + "\n" + after
    gpus_before, gpus_after = find_gpus(before), find_gpus(after)
    gpu = gpus_before[-1].match if gpus_before else (gpus_after[0].match if gpus_after else None)
    rated = bool(_RATED_RE.search(context.lower()))
    tdp_statement = _TDP_STATEMENT_RE.search(context)
    workload = classify_workload(" ".join(table.header))
    if workload == "unknown":
        workload = classify_workload(before[-600:] + " " + after[:300])
    method = "tdp-estimate" if rated else classify_method(context)
    notes = []
    if rated:
        notes.append("the card gives this wattage as peak power capacity / TDP, not a measured draw")
    if tdp_statement:
        notes.append(f"card states a TDP of {tdp_statement.group(1)}")
    for number, row in enumerate(table.rows, start=1):
        label = row[label_column] if label_column is not None else ""
        row_gpu = row[gpu_column].strip() if gpu_column is not None else ""
        if _TOTAL_RE.match(label):
            result.problems.append(Problem("table_total_row", f"{locator_prefix}: {label!r}", error=False))
            continue
        values = {}
        for column, role in roles.items():
            cell = row[column].strip()
            if not cell or cell in {"-", "—", "–", "n/a", "N/A"}:
                continue
            count = parse_count(cell)
            if count is None:
                result.problems.append(Problem(
                    "non_numeric_cell", f"{locator_prefix}: {table.header[column]!r} = {cell!r}"))
                continue
            values[role.field] = int(count) if role.field == "batch_size" else count * role.factor
        if not set(values) - {"batch_size"}:
            continue
        record = {
            "extractor": extractor,
            "locator": f"{locator_prefix}#row={number}:{label or row_gpu}",
            "excerpt": _row_excerpt(table, row),
            "model_name": label or None,
            "model_params_b": params_from_name(label),
            "gpu_raw": row_gpu or (gpu.raw if gpu else None),
            "workload": workload,
            "flags": [],
            "notes": "; ".join(notes) or None,
            **values,
        }
        record["method"] = method
        if "power_w" in values:
            if rated:
                record["power_kind"] = "rated"
                record["flags"] = ["rated_not_measured"]
            elif record["method"] in _MEASURING_METHODS:
                record["power_kind"] = "measured"
        result.records.append(record)
    return result
