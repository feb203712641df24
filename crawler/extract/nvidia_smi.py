"""Pasted ``nvidia-smi`` output -> one power reading per GPU line.

Two forms: the default table (a GPU row "| 0  NVIDIA H100 PCIe  On | ...", then a row with the
power draw and cap "| N/A 45C P0 285W / 350W | ...") and the CSV of
``--query-gpu=...,power.draw,... --format=csv`` ("name, power.draw [W]" header, then rows).
"""

from __future__ import annotations

import csv
import io
import re

from .records import truncate

# "|   0  NVIDIA H100 PCIe                On  | 00000000:17:00.0 Off |"
_GPU_ROW_RE = re.compile(r"^\|\s*(?P<index>\d+)\s+(?P<name>.+?)\s+(?:On|Off)\s*\|", re.MULTILINE)
# "| N/A   45C    P0   285W / 350W |   1024MiB / 81559MiB |"
_POWER_ROW_RE = re.compile(
    r"^\|[^|\n]*?(?P<temp>\d+C)?\s+(?P<pstate>P\d+)\s+(?:\S+\s+)?(?P<draw>\d+(?:\.\d+)?)\s*W\s*/\s*"
    r"(?P<cap>\d+(?:\.\d+)?)\s*W\s*\|", re.MULTILINE)
_QUERY_HEADER_RE = re.compile(r"^\s*(?P<header>[a-z_.]+(?: \[[^\]]*\])?(?:,\s*[a-z_.]+(?: \[[^\]]*\])?)+)\s*$",
                              re.MULTILINE)


def _reading(excerpt: str, name: str, draw: float, cap: float | None, locator: str) -> dict:
    notes = ["instantaneous nvidia-smi reading"]
    if cap is not None:
        notes.append(f"power cap {cap:g} W")
    return {
        "extractor": "nvidia_smi",
        "locator": locator,
        "excerpt": truncate(excerpt),
        "gpu_raw": name,
        "gpu_count": 1,
        "power_w": draw,
        "power_kind": "measured",
        "method": "nvidia-smi",
        "scope": "gpu",
        "flags": [],
        "notes": "; ".join(notes),
    }


def nvidia_smi_table_records(text: str, locator_prefix: str = "") -> list[dict]:
    """Readings from the default ``nvidia-smi`` table: each GPU row paired with the power row after it."""
    records = []
    for gpu in _GPU_ROW_RE.finditer(text):
        power = _POWER_ROW_RE.search(text, gpu.end())
        if not power or text.count("\n", gpu.end(), power.start()) > 1:
            continue
        excerpt = text[gpu.start(): power.end()]
        records.append(_reading(excerpt, gpu["name"].strip(), float(power["draw"]), float(power["cap"]),
                                f"{locator_prefix}#nvidia-smi-gpu={gpu['index']}@{gpu.start()}"))
    return records


def _unit_value(cell: str) -> float | None:
    match = re.match(r"^\s*(\d+(?:\.\d+)?)\s*(?:W)?\s*$", cell)
    return float(match[1]) if match else None


def nvidia_smi_query_records(text: str, locator_prefix: str = "") -> list[dict]:
    """Readings from ``--query-gpu=...,power.draw,... --format=csv`` output."""
    records = []
    for header in _QUERY_HEADER_RE.finditer(text):
        columns = [c.strip() for c in header["header"].split(",")]
        keys = [c.split(" [")[0] for c in columns]
        if "power.draw" not in keys:
            continue
        lines = []
        for line in text[header.end():].lstrip("\n").splitlines():
            if line.count(",") != len(columns) - 1:
                break
            lines.append(line)
        for number, row in enumerate(csv.reader(io.StringIO("\n".join(lines)), skipinitialspace=True), start=1):
            values = dict(zip(keys, (cell.strip() for cell in row)))
            draw = _unit_value(values.get("power.draw", ""))
            if draw is None:
                continue
            cap = _unit_value(values.get("power.limit", "")) if "power.limit" in values else None
            name = values.get("name") or values.get("gpu_name")
            records.append(_reading(f"{header['header']}\n{lines[number - 1]}", name, draw, cap,
                                    f"{locator_prefix}#nvidia-smi-query@{header.start()}:{number}"))
    return records
