"""Hugging Face model cards -> records: carbon metadata, power tables, template bullets, prose.

The front matter is parsed with huggingface_hub's card tools. Rules and their extractor names:

* ``card_yaml.co2_eq_emissions`` — the carbon metadata in every form cards use;
* ``card_table.markdown`` / ``card_table.html`` — power and energy tables (see power_tables);
* ``prose`` — sentences stating a figure (see prose);
* ``card_template.environmental_impact`` — the default template's bullets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml
from huggingface_hub import ModelCard

from .context import classify_method
from .datafiles import DataFileError, Problem
from .documents import document_records
from .records import truncate
from .units import parse_number

_FRONT_MATTER_RE = re.compile(r"\A\s*---[ \t]*\n(.*?\n)?---[ \t]*(?:\n|\Z)", re.DOTALL)
_GRAMS_RE = re.compile(r"^\s*([\d_.,]+)\s*(g|gram|grams|kg|t|tonnes?)?\s*(?:co2(?:eq|e)?)?\s*$",
                       re.IGNORECASE)
_MASS_TO_KG = {"g": 0.001, "gram": 0.001, "grams": 0.001, "kg": 1.0, "t": 1000.0,
               "tonne": 1000.0, "tonnes": 1000.0}
_MISSING = re.compile(r"^\s*(?:\[?\s*more information needed\s*\]?|n/?a|none|unknown|-|tbd)?\s*$",
                      re.IGNORECASE)
_BULLET_RE = re.compile(
    r"^\s*[-*+]\s*\*\*(?P<label>Hardware Type|Hours used|Cloud Provider|Compute Region|"
    r"Carbon Emitted)\s*:?\s*\*\*\s*:?\s*(?P<value>.*)$",
    re.IGNORECASE | re.MULTILINE,
)
_CARBON_VALUE_RE = re.compile(
    r"([\d.,]+)\s*(g|grams?|kg|kilograms?|t|tons?|tonnes?|metric tons?)\b", re.IGNORECASE)


@dataclass
class CardExtraction:
    records: list[dict] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)


def _grams(value) -> float | None:
    """co2_eq_emissions 'emissions' as grams: 17, 24_700_000, '17g', '1.5 kg'."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    match = _GRAMS_RE.match(str(value))
    if not match:
        return None
    try:
        number = parse_number(match[1].replace("_", ""))
    except ValueError:
        return None
    return number * _MASS_TO_KG[(match[2] or "g").lower()] * 1000


def _workload_from_training_type(value) -> str:
    text = str(value or "").lower()
    if "fine" in text:
        return "fine-tuning"
    return "training"  # the metadata describes training (pre-training or unstated)


def _method_from_source(value) -> str | None:
    if not value:
        return None
    text = str(value)
    if re.search(r"ml\s*co2|mlco2|impact calculator|lacoste", text, re.IGNORECASE):
        return "tdp-estimate"
    return classify_method(text) or "unknown"


def co2_eq_emissions_records(metadata: dict) -> list[dict]:
    """The card's ``co2_eq_emissions`` as a record (grams -> co2_kg), or none."""
    entry = metadata.get("co2_eq_emissions")
    if entry is None:
        return []
    details = entry if isinstance(entry, dict) else {"emissions": entry}
    grams = _grams(details.get("emissions"))
    if grams is None:
        return []
    notes = []
    for key in ("source", "geographical_location", "training_type"):
        if details.get(key):
            notes.append(f"{key}: {details[key]}")
    hardware = details.get("hardware_used")
    return [{
        "extractor": "card_yaml.co2_eq_emissions",
        "locator": "metadata#co2_eq_emissions",
        "excerpt": truncate("co2_eq_emissions: " + yaml.safe_dump(entry, default_flow_style=True,
                                                                  sort_keys=False).strip()),
        "co2_kg": grams / 1000,
        "workload": _workload_from_training_type(details.get("training_type")),
        "gpu_raw": str(hardware) if hardware else None,
        "method": _method_from_source(details.get("source")),
        "flags": [],
        "notes": "; ".join(notes) or None,
    }]


def _bullet_value(text: str) -> str | None:
    value = re.sub(r"[*_`]", "", text).strip()
    return None if _MISSING.match(value) else value


def template_records(body: str) -> list[dict]:
    """The default card template's "Environmental Impact" bullets as one record, if filled in."""
    found = {m["label"].lower(): (_bullet_value(m["value"]), m.group(0).strip())
             for m in _BULLET_RE.finditer(body)}
    values = {label: value for label, (value, _) in found.items() if value}
    hours_text, carbon_text = values.get("hours used"), values.get("carbon emitted")
    hours = None
    if hours_text and (number := re.search(r"[\d.,]+", hours_text)):
        hours = parse_number(number.group(0))
    co2_kg = None
    if carbon_text and (carbon := _CARBON_VALUE_RE.search(carbon_text)):
        unit = carbon[2].lower()
        factor = 0.001 if unit.startswith("g") else 1000.0 if unit.startswith("t") or "metric" in unit else 1.0
        co2_kg = parse_number(carbon[1]) * factor
    if hours is None and co2_kg is None:
        return []
    notes = [f"{label}: {values[label]}" for label in ("cloud provider", "compute region") if label in values]
    if hours is not None:
        notes.append("gpu_hours is the template's 'Hours used'")
    return [{
        "extractor": "card_template.environmental_impact",
        "locator": "template#environmental_impact",
        "excerpt": truncate(" ".join(line for _, line in found.values())),
        "gpu_raw": values.get("hardware type"),
        "gpu_hours": hours,
        "co2_kg": co2_kg,
        "method": classify_method(" ".join(values.values())),
        "flags": [],
        "notes": "; ".join(notes) or None,
    }]


def split_front_matter(content: str) -> tuple[dict, str, list[Problem]]:
    """(metadata, body, problems) with huggingface_hub's card parser; a broken block is reported."""
    if not _FRONT_MATTER_RE.match(content):
        return {}, content, [Problem("no_front_matter", "card has no YAML metadata", error=False)]
    try:
        card = ModelCard(content, ignore_metadata_errors=False)
    except (yaml.YAMLError, ValueError) as exc:
        body = _FRONT_MATTER_RE.sub("", content, count=1)
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return {}, body, [Problem("broken_yaml", f"unreadable card metadata: {first_line}")]
    return card.data.to_dict(), card.text, []


def extract_card(content: str, *, with_metadata: bool = True) -> CardExtraction:
    """Every record a model card yields.

    ``with_metadata=False`` leaves out the records of the front matter, for a caller that already
    read the same metadata from the API's cardData.
    """
    result = CardExtraction()
    result.metadata, body, problems = split_front_matter(content)
    result.problems += problems
    if with_metadata:
        result.records += co2_eq_emissions_records(result.metadata)
    # The template's bullets have their own rule; prose must not read them again.
    document = document_records(body, table_extractor="card_table", locator_prefix="",
                                prose_text_filter=lambda prose: _BULLET_RE.sub("", prose))
    result.records += document.records + template_records(body)
    result.problems += document.problems
    return result


def decode_card(data: bytes) -> str:
    """README bytes as text; a binary file (NUL bytes, not UTF-8) raises DataFileError('binary_card')."""
    if b"\x00" in data[:8192]:
        raise DataFileError("binary_card", "README is binary (NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataFileError("binary_card", f"README is not UTF-8 text (byte {exc.start})") from exc
