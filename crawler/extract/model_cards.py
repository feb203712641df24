"""Hugging Face model cards -> records: carbon metadata, power tables, template bullets, prose.

The front matter is read as huggingface_hub reads it. Rules and their extractor names:

* ``card_yaml.co2_eq_emissions`` — the carbon metadata in every form cards use;
* ``card_table.markdown`` / ``card_table.html`` — power and energy tables (see power_tables);
* ``prose`` — sentences stating a figure (see prose);
* ``card_template.environmental_impact`` — the default template's bullets.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any, Final

import yaml

from collections import Counter

from .context import classify_method, classify_workload
from .datafiles import DataFileError, Problem
from .documents import document_records, reading_plan
from .gpus import normalise_gpu
from .markdown_doc import Block, parse_blocks
from .records import number_or_none, truncate, without_surrogates
from .units import find_carbon, find_figures, parse_number

_FRONT_MATTER_RE: Final = re.compile(r"\A\s*---[ \t]*(?:\r\n|\r|\n)([\S\s]*?)(?:\r\n|\r|\n)---[ \t]*(?:\r\n|\n|\Z)")
# Its two ends, found apart: the closing line is searched for (the engine skips to line breaks)
# where the lazy group above tries the closing pattern at every character of the block.
_FRONT_MATTER_OPENING_RE: Final = re.compile(r"\A\s*---[ \t]*(?:\r\n|\r|\n)")
_FRONT_MATTER_CLOSING_RE: Final = re.compile(r"(?:\r\n|\r|\n)---[ \t]*(?:\r\n|\n|\Z)")
_YAML_LOADER: Final = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_GRAMS_RE: Final = re.compile(r"^\s*([\d_.,]+)\s*(g|gram|grams|kg|t|tonnes?)?\s*(?:co2(?:eq|e)?)?\s*$",
                       re.IGNORECASE)
_MASS_TO_KG: Final = {"g": 0.001, "gram": 0.001, "grams": 0.001, "kg": 1.0, "kilogram": 1.0, "kilograms": 1.0,
               "t": 1000.0, "ton": 1000.0, "tons": 1000.0, "tonne": 1000.0, "tonnes": 1000.0}
_MISSING: Final = re.compile(r"^\s*(?:\[?\s*more information needed\s*\]?|n/?a|none|unknown|-|tbd)?\s*$",
                      re.IGNORECASE)
# What _MISSING matches in an ASCII value with its spaces made single and none at its ends, lower-cased:
# a set lookup where the pattern (case-blind, an alternation) costs as much as the rest of a field.
_MISSING_VALUES: Final = frozenset({"", "n/a", "na", "none", "unknown", "-", "tbd"} |
                            {opening + "more information needed" + closing
                             for opening in ("", "[", "[ ") for closing in ("", "]", " ]")})
_FIGURE_FIELDS: Final = ("power_w", "energy_j", "energy_per_token_j", "energy_per_query_j", "co2_kg", "gpu_hours")


@dataclass
class CardExtraction:
    records: list[dict] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)
    skipped: Counter = field(default_factory=Counter)


def _grams(value) -> float | None:
    """co2_eq_emissions 'emissions' as grams: 17, 24_700_000, '17g', '1.5 kg'."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return number_or_none(value)
    match = _GRAMS_RE.match(str(value))
    if not match:
        return None
    try:
        number = parse_number(match[1].replace("_", ""))
    except ValueError:
        return None
    return number * _MASS_TO_KG[(match[2] or "g").lower()] * 1000


def _unreadable_emissions(metadata: dict) -> str | None:
    """The card's stated emissions as written when they are no number of grams ("lots", 400
    digits, infinity), else None (no emissions stated, or readable ones)."""
    entry = metadata.get("co2_eq_emissions")
    value = entry.get("emissions") if isinstance(entry, dict) else entry
    if value is None or _grams(value) is not None:
        return None
    return f"{type(value).__name__} {value!r:.80}" if not isinstance(value, int) else "an integer past a float"


def _workload_from_training_type(value) -> str:
    text = str(value or "").lower()
    if "fine" in text:
        return "fine-tuning"
    return "training"  # the metadata describes training (pre-training or unstated)


_CALCULATOR_RE: Final = re.compile(r"ml\s*co2|mlco2|impact calculator|lacoste", re.IGNORECASE)


def _method_from_source(value) -> str | None:
    if not value:
        return None
    text = str(value)
    if _CALCULATOR_RE.search(text):
        return "tdp-estimate"
    return classify_method(text) or "unknown"


# json.dumps(entry, ensure_ascii=False, default=str), without building an encoder per card.
_METADATA_JSON: Final = json.JSONEncoder(ensure_ascii=False, default=str)


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
    method = _method_from_source(details.get("source"))
    figures: dict[str, Any] = {}
    energy_kwh = number_or_none(details.get("energy_consumed"))
    if energy_kwh is not None and energy_kwh > 0:
        figures["energy_j"] = energy_kwh * 3_600_000
        if method == "codecarbon":  # CodeCarbon's energy_consumed is CPU + GPU + RAM
            figures["scope"] = "gpu+cpu+ram"
    hours = number_or_none(details.get("hours_used"))
    if hours is not None and hours > 0:
        figures["duration_s"] = hours * 3600
        if hardware and normalise_gpu(str(hardware)).count == 1:
            figures["gpu_hours"] = hours
    return [{
        "extractor": "card_yaml.co2_eq_emissions",
        "locator": "metadata#co2_eq_emissions",
        # The metadata as JSON (what the Hub API's cardData holds): YAML's dumper costs more than
        # the rest of the record.
        "excerpt": truncate("co2_eq_emissions: " + _METADATA_JSON.encode(entry)),
        "co2_kg": grams / 1000,
        "workload": _workload_from_training_type(details.get("training_type")),
        "gpu_raw": str(hardware) if hardware else None,
        "method": method,
        "flags": [],
        "notes": "; ".join(notes) or None,
        **figures,
    }]


# The Environmental Impact template's labels, and the variants cards write: "Hours used" /
# "Hours Used" / "Total GPU hours" / "Training Time"; "Carbon Emitted (Power consumption x Time x
# Carbon produced based on location of power grid)"; AutoTrain's "CO2 Emissions (in grams)".
_TEMPLATE_LABELS: Final = (
    ("hardware", r"hardware(?: type| used)?|gpu(?: model| type)?"),
    ("gpu_hours", r"(?:total )?(?:gpu )?hours used|total gpu hours|gpu hours"),
    ("training_time", r"training time|training duration|time used"),
    ("carbon", r"carbon emitted|carbon emissions|co2 emissions|co2 emitted|co2eq emitted|emissions"),
    ("energy", r"energy consumed|energy consumption|energy used|total energy"),
    ("cloud provider", r"cloud provider"),
    ("compute region", r"compute region|location"),
)
_TEMPLATE_LINE_RE: Final = re.compile(
    r"^\s*(?P<label>" + "|".join(f"(?P<{name.replace(' ', '_')}>{pattern})" for name, pattern in _TEMPLATE_LABELS)
    + r")\s*(?P<paren>\([^)]*\))?\s*:\s*(?P<value>.*)$", re.IGNORECASE | re.DOTALL)
# (label name, its group's number): which label matched, without building each group's name.
_LABEL_GROUPS: Final = tuple((name, _TEMPLATE_LINE_RE.groupindex[name.replace(" ", "_")]) for name, _ in _TEMPLATE_LABELS)
_FIGURE_LABELS: Final = {"gpu_hours", "training_time", "carbon", "energy"}
# A paragraph is split into its lines only when one of them may be a template figure's label.
_TEMPLATE_WORDS_RE: Final = re.compile(r"hours|carbon|co2|emission|energy|training time|hardware|gpu", re.IGNORECASE)
_LEADING_NUMBER_RE: Final = re.compile(r"(?:~|about|around|approx(?:\.|imately)?|roughly)?\s*(\d[\d,]*(?:\.\d+)?)"
                                r"(?:\s*(?:-|–|to)\s*(\d[\d,]*(?:\.\d+)?))?", re.IGNORECASE)
_UNIT_IN_LABEL_RE: Final = re.compile(r"\b(grams?|g|kg|kilograms?|tonnes?|tons?|t)\b", re.IGNORECASE)


# Words one of the labels holds: a block whose source has none (most) is no template line, and its
# text need not be worked out. Single words, so markup inside a label ("**Carbon** Emitted") does not hide it.
_TEMPLATE_LABEL_WORDS: Final = ("hardware", "gpu", "hours", "training", "time", "carbon", "co2", "emission", "energy",
                         "cloud", "compute", "location")


def _may_hold_a_template_label(source: str) -> bool:
    if ":" not in source:  # most blocks: decided without lower-casing them
        return False
    lowered = source.lower()
    for word in _TEMPLATE_LABEL_WORDS:  # a loop, not any() over a generator: half the instructions
        if word in lowered:
            return True
    return False


def _template_fields(text: str) -> tuple[str, str] | None:
    """(label name, value) of a template bullet ("Hours used: 72 (3 days)"), None for other text."""
    match = _TEMPLATE_LINE_RE.match(text)
    if not match:
        return None
    name = next(name for name, group in _LABEL_GROUPS if match.group(group))
    value = " ".join(match["value"].split())
    lowered = value.lower()
    if lowered.startswith(("unknown", "[more information", "more information")) or (
            lowered in _MISSING_VALUES if value.isascii() else _MISSING.match(value)):
        return None
    return name, value + (f" {match['paren']}" if name == "carbon" and match["paren"] and
                          not find_carbon(value, unit_names_co2=False) else "")


# Durations as templates write them: "72 (3 days)", "About 400 hours", "14 days", "3 hours and 26
# minutes", "960 - 1080 hours"; a bare number is hours.
_DURATION_PART_RE: Final = re.compile(r"(\d[\d,]*(?:\.\d+)?)(?:\s*(?:-|–|to)\s*(\d[\d,]*(?:\.\d+)?))?\s*"
                               r"(weeks?|days?|hours?|hrs?|h\b|minutes?|mins?|seconds?|secs?)?", re.IGNORECASE)
_HOURS_PER_UNIT: Final = {"week": 168.0, "day": 24.0, "hour": 1.0, "hr": 1.0, "h": 1.0, "minute": 1 / 60, "min": 1 / 60,
                   "second": 1 / 3600, "sec": 1 / 3600}


def _hours(value: str) -> tuple[float, list[float] | None] | None:
    """Hours a template value states, summing its parts ("3 hours and 26 minutes"); the first
    figure only when a second one restates it in another unit ("72 (3 days)")."""
    first = _DURATION_PART_RE.search(value)
    if not first:
        return None
    head = value[: value.find("(")] if "(" in value else value  # "72 (3 days)": the days restate it
    # Parts that carry a time unit add up ("3 hours and 26 minutes"; "8 GPUs x 24 hours" is 24);
    # without any, the first number is the hours.
    parts = [m for m in _DURATION_PART_RE.finditer(head) if m[1] and m[3]] or [first]
    total, low_total, high_total = 0.0, 0.0, 0.0
    for part in parts:
        unit = (part[3] or "hour").lower().rstrip("s")
        factor = _HOURS_PER_UNIT.get(unit, 1.0)
        low = parse_number(part[1]) * factor
        high = parse_number(part[2]) * factor if part[2] else low
        low_total, high_total = low_total + low, high_total + high
        total += (low + high) / 2
    return (total, [low_total, high_total]) if high_total != low_total else (total, None)


_PER_SOMETHING_RE: Final = re.compile(r"\s*/")  # "0.4 kg/kWh": a rate, not the carbon emitted
_ESTIMATE_RE: Final = re.compile(r"\bestimat")  # matched against lower-cased text


def _carbon_kg(value: str) -> float | None:
    """The carbon a template value states; of a value that shows its working ("250 W x 10 h x
    0.4 kg/kWh = 1 kg"), the result after the last "="."""
    result = value.rsplit("=", 1)[-1] if "=" in value else value
    found = [q for q in find_carbon(result, unit_names_co2=False) if not _PER_SOMETHING_RE.match(result, q.end)]
    if found:
        return found[0].value
    unit = _UNIT_IN_LABEL_RE.search(value)  # "CO2 Emissions (in grams): 25.4476"
    number = _LEADING_NUMBER_RE.match(result.strip())
    if unit and number and number[1]:
        return parse_number(number[1]) * _MASS_TO_KG[unit[1].lower()]
    return None


def template_records(blocks: list[Block], context: str = "") -> tuple[list[dict], set[int]]:
    """The Environmental Impact template's bullets: one record per filled-in list, and the indexes
    of the blocks read (so prose does not read them again).

    The template is also pasted without its bullets, one "Label: value" line or paragraph after
    another; such a run of paragraphs is read as one list.
    """
    by_list: dict[object, list[tuple[int, str, str]]] = {}
    paragraph_run = 0
    for index, block in enumerate(blocks):
        if block.kind in ("list_item", "paragraph") and not (block.source_contains(b":") and
                                                             _may_hold_a_template_label(block.raw)):
            continue  # most blocks: passed over without decoding their source
        if block.kind == "list_item" and block.list_id is not None:
            fields = _template_fields(block.text)
            if fields:
                by_list.setdefault(block.list_id, []).append((index, *fields))
        elif block.kind == "paragraph" and ":" in block.text and _TEMPLATE_WORDS_RE.search(block.text):
            found = [fields for line in block.lines if (fields := _template_fields(line))]
            if not found:
                paragraph_run += 1
            for fields in found:
                by_list.setdefault(("paragraphs", paragraph_run), []).append((index, *fields))
        elif block.kind == "heading":
            paragraph_run += 1
    records: list[dict] = []
    claimed: set[int] = set()
    for items in by_list.values():
        values = {name: value for _, name, value in items}
        # A training time alone is a training-details list: a figure of GPU work only when the
        # list names the one GPU it ran on (then it is GPU-hours); the template states hours or carbon.
        one_gpu = "hardware" in values and normalise_gpu(values["hardware"]).count == 1
        if not {"gpu_hours", "carbon", "energy"} & set(values) and not ("training_time" in values and one_gpu):
            continue
        claimed.update(index for index, name, _ in items if name in _FIGURE_LABELS)
        record = _template_record(values, blocks, items, context)
        if record:
            records.append(record)
    return records, claimed


def _readable(read, value: str):
    """A template value read by ``read``, or None when its number is not one (400 digits)."""
    try:
        return read(value)
    except ValueError:
        return None


def _template_record(values: dict, blocks: list[Block], items, context: str) -> dict | None:
    first = items[0][0]
    section = blocks[first].section
    section_text = " ".join(b.text for b in blocks if b.section == section and b.kind != "code")
    record: dict[str, Any] = {"extractor": "card_template.environmental_impact",
              "locator": f"template#environmental_impact&line={blocks[first].line}",
              "excerpt": truncate(" ".join(blocks[index].text for index, _, _ in items)),
              "gpu_raw": values.get("hardware"), "flags": []}
    notes = [f"{label}: {values[label]}" for label in ("cloud provider", "compute region") if label in values]
    if "gpu_hours" in values and (hours := _readable(_hours, values["gpu_hours"])):
        record["gpu_hours"], bounds = hours
        if bounds:
            record["bounds"] = {"gpu_hours": bounds}
            record["flags"].append("range_midpoint")
        notes.append("gpu_hours is the template's 'Hours used'")
    if "training_time" in values and (hours := _readable(_hours, values["training_time"])):
        record["duration_s"] = hours[0] * 3600
        notes.append(f"training time as written: {values['training_time']}")
        if "gpu_hours" not in record and "hardware" in values and normalise_gpu(values["hardware"]).count == 1:
            record["gpu_hours"] = hours[0]  # a training time on one GPU is its GPU-hours
            notes.append("gpu_hours is the training time on one GPU")
    if "carbon" in values:
        record["co2_kg"] = _readable(_carbon_kg, values["carbon"])
    if "energy" in values:
        energy = [f for f in find_figures(values["energy"]) if f.kind == "energy"]
        record["energy_j"] = energy[0].value if energy else None
    if all(record.get(name) is None for name in ("gpu_hours", "duration_s", "co2_kg", "energy_j")):
        return None
    written = " ".join(values.values())
    lowered_written = written.lower()
    estimated = "estimat" in lowered_written
    method = classify_method(written) or classify_method(section_text)
    if method is None and estimated and _ESTIMATE_RE.search(lowered_written):
        method = "tdp-estimate"
    record["method"] = method
    workload = classify_workload(section_text)
    record["workload"] = workload if workload != "unknown" else classify_workload(context)
    if estimated:
        record["flags"].append("estimated")
    record["notes"] = "; ".join(notes) or None
    return record


# More values than any card's metadata holds (a long model-index has a few thousand). YAML aliases
# let 500 bytes stand for a billion values ("billion laughs"); loading shares them, but anything
# that walks or prints the metadata would expand them.
MAX_METADATA_VALUES: Final = 100_000


def _expanded_size(value) -> int:
    """How many values ``value`` holds with every alias expanded, counted up to just past
    MAX_METADATA_VALUES; a structure that contains itself counts as past it. Each shared
    container is counted once (its size is remembered), so the walk is linear in what was loaded."""
    past = MAX_METADATA_VALUES + 1
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()
    stack = [(value, False)]
    while stack:
        node, children_counted = stack.pop()
        if not isinstance(node, (dict, list)):
            continue
        key = id(node)
        children = list(node.values()) if isinstance(node, dict) else node
        if children_counted:
            in_progress.discard(key)
            sizes[key] = min(past, 1 + len(children) + sum(sizes.get(id(child), 0) for child in children))
            continue
        if key in sizes:
            continue
        if key in in_progress:  # reached again from inside itself: an alias to an ancestor
            return past
        in_progress.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in children if isinstance(child, (dict, list)))
    return sizes.get(id(value), 1)


class _NotSimple(Exception):
    """The front matter uses YAML beyond what _simple_front_matter reads: load it with PyYAML."""


# The YAML most front matter is written in: "key: value" lines, nested mappings by indentation,
# and lists of plain words ("[en, fr]", or "- item" lines), in printable ASCII. Anything else
# (quotes, comments after a value, anchors, multi-line values, tabs, non-ASCII) goes to PyYAML.
_OUTSIDE_SIMPLE_YAML_RE: Final = re.compile(r"[^\x20-\x7e\n]")
# A line: its indent, then "key:" with a value or none, "- item", a comment or nothing; trailing
# spaces are not part of a value. Other lines ("-x", "key:value", "? x") are not simple. A value
# runs to its last character that is no space: greedy, where a lazy group ("(.*?) *") tried the end
# of the line after every character of the value.
_SIMPLE_LINE_RE: Final = re.compile(r"( *)(?:([A-Za-z][A-Za-z0-9_-]*):(?: +(.*[^ ]|))?|- +(.*[^ ]|)|#.*)? *")
# A plain scalar with none of YAML's indicators: no ": ", " #", quote, flow or block mark in it.
_SIMPLE_SCALAR_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _./+()-]*")
_SIMPLE_DECIMAL_RE: Final = re.compile(r"0|[1-9][0-9]{0,17}")
_SIMPLE_FLOAT_RE: Final = re.compile(r"[0-9]{1,15}\.[0-9]{1,15}")
_SIMPLE_MAX_DEPTH: Final = 20
_YAML_TAG: Final = "tag:yaml.org,2002:"


def _simple_scalar(text: str):
    """The value PyYAML's safe loader gives a plain scalar, for the forms whose construction is
    plainly Python's (str, decimal int, float, bool, null); _NotSimple for any other."""
    readable, value = _read_simple_scalar(text)
    if not readable:
        raise _NotSimple
    return value


@functools.lru_cache(maxsize=4096)  # the same keys and words on card after card; the values are immutable
def _read_simple_scalar(text: str) -> tuple[bool, object]:
    """(True, value) of _simple_scalar, or (False, None)."""
    try:
        return True, _scalar_value(text)
    except _NotSimple:
        return False, None


def _scalar_value(text: str):
    if not _SIMPLE_SCALAR_RE.fullmatch(text):
        raise _NotSimple
    # The tag PyYAML's resolver gives it (the same table, the same order: Resolver.resolve).
    tag = next((tag for tag, pattern in _YAML_LOADER.yaml_implicit_resolvers.get(text[0], ()) if pattern.match(text)),
               _YAML_TAG + "str")
    if tag == _YAML_TAG + "str":
        return text
    if tag == _YAML_TAG + "bool":
        return _YAML_LOADER.bool_values[text.lower()]
    if tag == _YAML_TAG + "null":
        return None
    if tag == _YAML_TAG + "int" and _SIMPLE_DECIMAL_RE.fullmatch(text):
        return int(text)
    if tag == _YAML_TAG + "float" and _SIMPLE_FLOAT_RE.fullmatch(text):
        return float(text)
    raise _NotSimple  # octal, hexadecimal, sexagesimal, underscores, timestamps, ...


def _simple_value(text: str):
    if text.startswith("[") and text.endswith("]"):
        inside = text[1:-1].strip(" ")
        return [_simple_scalar(item.strip(" ")) for item in inside.split(",")] if inside else []
    return _simple_scalar(text)


def _simple_front_matter(text: str) -> dict:
    """The front matter as PyYAML's safe loader reads it, when it is written in the simple YAML
    above; else _NotSimple. PyYAML's constructor is Python code that costs a card more than its
    whole table reading; this reads the usual front matter several times faster."""
    if not text or _OUTSIDE_SIMPLE_YAML_RE.search(text):
        raise _NotSimple
    lines = []  # (indent, key, value, item) of each line that is not blank or a comment
    for line in text.split("\n"):
        match = _SIMPLE_LINE_RE.fullmatch(line)
        if not match:
            raise _NotSimple
        if match[2] is not None or match[4] is not None:
            lines.append((len(match[1]), match[2], match[3], match[4]))
    if not lines:
        raise _NotSimple
    mapping, end = _simple_mapping(lines, 0, lines[0][0], 0)
    if end != len(lines):
        raise _NotSimple
    return mapping


def _simple_mapping(lines: list[tuple], start: int, indent: int, depth: int) -> tuple[dict, int]:
    """The mapping whose keys stand at ``indent`` from line ``start``, and the line after it."""
    if depth > _SIMPLE_MAX_DEPTH:
        raise _NotSimple
    mapping, number = {}, start
    while number < len(lines) and lines[number][0] >= indent:
        line_indent, key_text, value_text, _ = lines[number]
        if line_indent != indent or key_text is None:
            raise _NotSimple
        key = _simple_scalar(key_text)
        if not isinstance(key, str):  # "yes:", "null:": keys PyYAML makes a bool or None
            raise _NotSimple
        number += 1
        if value_text:
            mapping[key] = _simple_value(value_text)
            continue
        value: list | dict | None = None
        if number < len(lines):
            below, _, _, item = lines[number]
            if item is not None and below >= indent:
                value, number = _simple_sequence(lines, number, below)
            elif below > indent:
                value, number = _simple_mapping(lines, number, below, depth + 1)
        mapping[key] = value
    return mapping, number


def _simple_sequence(lines: list[tuple], start: int, indent: int) -> tuple[list, int]:
    """The "- item" lines at ``indent`` from line ``start``, and the line after them."""
    items, number = [], start
    while number < len(lines) and lines[number][0] == indent and lines[number][3] is not None:
        if not lines[number][3]:  # "- " alone: a null item
            raise _NotSimple
        items.append(_simple_scalar(lines[number][3]))
        number += 1
    return items, number


def _front_matter_bounds(content: str) -> tuple[int, int, int] | None:
    """(start, end) of the front matter block and where the body starts, as _FRONT_MATTER_RE
    finds them, or None when the card has none."""
    opening = _FRONT_MATTER_OPENING_RE.match(content)
    if opening:
        # The first closing after the opening is where the lazy group stops, when the opening's
        # line break is read as the pattern reads it first ("\r\n" before "\r").
        closing = _FRONT_MATTER_CLOSING_RE.search(content, opening.end())
        if closing:
            return opening.end(), closing.start(), closing.end()
    match = _FRONT_MATTER_RE.match(content)  # no closing line, or only with "---\r" "\n---" split so
    return (match.start(1), match.end(1), match.end()) if match else None


def split_front_matter(content: str) -> tuple[dict, str, list[Problem]]:
    """(metadata, body, problems); a broken block is reported.

    Read as huggingface_hub's card parser reads it (the same block pattern, YAML's safe subset,
    null values dropped): front matter in the simple YAML most cards write by _simple_front_matter,
    which gives the same objects, any other with libyaml's loader when PyYAML has it; both several
    times faster than PyYAML alone, and the front matter of every card is read.
    """
    bounds = _front_matter_bounds(content)
    if not bounds:
        return {}, content, [Problem("no_front_matter", "card has no YAML metadata", error=False)]
    block = content[bounds[0]:bounds[1]]
    body = content[bounds[2]:]
    metadata: Any  # whatever YAML holds: a mapping, a list, a scalar or None
    simple = True
    try:
        try:
            metadata = _simple_front_matter(block)
        except _NotSimple:
            simple = False
            metadata = yaml.load(block, Loader=_YAML_LOADER)
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        # ValueError: an integer past Python's 4,300-digit conversion limit; RecursionError: nesting
        # deeper than the constructor's recursion allows.
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return {}, body, [Problem("broken_yaml", f"unreadable card metadata: {first_line[:200]}")]
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        return {}, body, [Problem("broken_yaml", "card metadata is not a mapping")]
    # What the simple reader gives has no aliases and counts no more values than the block has
    # characters (a "key:" line, a "- item" line, an "item," of a list): a short block is not walked.
    if (not simple or len(block) > MAX_METADATA_VALUES) and _expanded_size(metadata) > MAX_METADATA_VALUES:
        return {}, body, [Problem("yaml_alias_expansion", f"card metadata expands to more than {MAX_METADATA_VALUES:,} "
                                                          "values through YAML aliases (or refers to itself)")]
    return {key: value for key, value in metadata.items() if value is not None}, body, []


def _repeats(record: dict, known: list[dict]) -> bool:
    """Whether every figure of a body record restates one of the front matter (to 1%)."""
    if not known:  # most cards state no co2_eq_emissions
        return False
    figures = [(name, record[name]) for name in _FIGURE_FIELDS if isinstance(record.get(name), (int, float))]
    if not figures:
        return False
    for other in known:  # loops, not any(all(...)) over generators built for every record
        for name, value in figures:
            stated = other.get(name)
            if not (isinstance(stated, (int, float)) and abs(stated - value) <= 0.01 * abs(stated)):
                break
        else:
            return True
    return False


# The longest real cards are a few hundred KB (mostly evaluation tables); past this a card is
# generated text, and the rest is not worth the time.
MAX_CARD_CHARS: Final = 500_000


def extract_card(content: str, *, with_metadata: bool = True) -> CardExtraction:
    """Every record a model card yields.

    ``with_metadata=False`` leaves out the records of the front matter, for a caller that already
    read the same metadata from the API's cardData. Body figures that restate the front matter
    (the template bullet repeating ``co2_eq_emissions``) are left out either way.
    """
    result = CardExtraction()
    if len(content) > MAX_CARD_CHARS:
        result.problems.append(Problem("too_long", f"card of {len(content):,} characters: the first "
                                                   f"{MAX_CARD_CHARS:,} read", error=False))
        content = content[:MAX_CARD_CHARS]
    result.metadata, body, problems = split_front_matter(without_surrogates(content))
    result.problems += problems
    metadata_records = co2_eq_emissions_records(result.metadata)
    if not metadata_records and (unreadable := _unreadable_emissions(result.metadata)) is not None:
        result.problems.append(Problem("unreadable_co2_eq_emissions",
                                       f"co2_eq_emissions holds no number of grams: {truncate(unreadable, 80)}"))
    if with_metadata:
        result.records += metadata_records
    plan = reading_plan(body)
    blocks = parse_blocks(body, plan.lines, plan.layout) if plan.lines else []
    templates, claimed = template_records(blocks, body[:3000])
    document = document_records(body, table_extractor="card_table", locator_prefix="", is_post=False,
                                blocks=blocks, plan=plan, claimed=claimed)
    for record in document.records + templates:
        if _repeats(record, metadata_records):
            document.skipped["repeat"] += 1
        else:
            result.records.append(record)
    result.problems += document.problems
    result.skipped = document.skipped
    return result


def decode_card(data: bytes) -> str:
    """README bytes as text; a binary file (NUL bytes, not UTF-8) raises DataFileError('binary_card')."""
    if b"\x00" in data[:8192]:
        raise DataFileError("binary_card", "README is binary (NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataFileError("binary_card", f"README is not UTF-8 text (byte {exc.start})") from exc
