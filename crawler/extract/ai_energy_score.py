"""AI Energy Score: the methodology page, leaderboard task files and raw benchmark reports.

* ``methodology_facts`` reads how the scores were measured from the methodology page's text, and
  says which facts it could not find (the caller then uses ``DOCUMENTED_FACTS`` and says so).
* ``leaderboard_records`` turns a task file's rows (``model,total_gpu_energy,energy_score`` and
  ``class`` for text generation) into one record per model.
* ``benchmark_report_records`` turns an optimum-benchmark report into one record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from parsel import Selector

from .context import classify_method
from .datafiles import Problem
from .models import params_from_name
from .prose import batch_size
from .records import number_or_none, row_excerpt, text_or_none, truncate, without_surrogates
from .tables import html_tables
from .units import to_canonical

# total_gpu_energy is kWh per 1,000 queries; J per query = kWh * 3.6e6 J/kWh / 1000 queries.
J_PER_QUERY_PER_KWH_PER_1000 = 3_600_000 / 1000


@dataclass(frozen=True)
class MethodologyFacts:
    hardware: str
    batch_size: int
    unit: str
    runs: int
    tool: str  # a Measurement method
    missing: tuple[str, ...] = ()  # facts the page did not state; documented values used instead

    def notes(self) -> str:
        text = (f"AI Energy Score methodology: {self.hardware}, batch size {self.batch_size}, "
                f"GPU energy only (preprocess + prefill + decode) in {self.unit}, mean of "
                f"{self.runs} runs, measured with {self.tool}")
        if self.missing:
            text += (f"; the methodology page did not state {', '.join(self.missing)}: "
                     "documented values used")
        return text


# What the AI Energy Score documentation says (SOURCES.md), used where the page is silent.
DOCUMENTED_FACTS = MethodologyFacts(
    hardware="NVIDIA H100 80GB", batch_size=1, unit="Wh per 1,000 queries", runs=10, tool="codecarbon")

_HARDWARE_RE = re.compile(r"NVIDIA\s+H100(?:[\s-]+(?:SXM\d?|PCIe|NVL))?(?:[\s-]+\d{2,3}\s?GB)?(?:\s+HBM3)?")
_UNIT_RE = re.compile(r"\b(k?Wh)\s*(?:per|/)\s*(1,?000|1k|one thousand)\s*(?:queries|prompts|inferences)",
                      re.IGNORECASE)
_NUMBER_WORDS = {"three": 3, "five": 5, "ten": 10, "twenty": 20}
_RUNS_RE = re.compile(r"\b(\d{1,3}|three|five|ten|twenty)\s+(?:separate\s+|independent\s+)?runs\b",
                      re.IGNORECASE)


def page_text(html: str) -> str:
    """The visible text of an HTML page (scripts and styles left out)."""
    return " ".join(Selector(text=without_surrogates(html)).xpath(
        "//body//text()[not(ancestor::script) and not(ancestor::style)]").getall())


def methodology_facts(page_text: str | None) -> MethodologyFacts:
    """The measuring facts the page states; missing ones come from DOCUMENTED_FACTS and are listed."""
    text = " ".join((page_text or "").split())
    found: dict[str, Any] = {}
    if hardware := _HARDWARE_RE.search(text):
        found["hardware"] = hardware.group(0)
    if (batch := batch_size(text)) is not None:
        found["batch_size"] = batch
    if unit := _UNIT_RE.search(text):
        found["unit"] = f"{unit[1]} per 1,000 queries"
    if runs := _RUNS_RE.search(text):
        found["runs"] = int(runs[1]) if runs[1].isdigit() else _NUMBER_WORDS[runs[1].lower()]
    if (tool := classify_method(text)) in ("codecarbon", "nvml", "zeus", "nvidia-smi"):
        found["tool"] = tool
    missing = tuple(name for name in ("hardware", "batch_size", "unit", "runs", "tool") if name not in found)
    return replace(DOCUMENTED_FACTS, **found, missing=missing)


@dataclass
class LeaderboardExtraction:
    records: list[dict] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


_INDEX_COLUMNS = {"", "unnamed: 0", "index"}


def leaderboard_records(rows: list[dict], task: str, facts: MethodologyFacts,
                        file_path: str) -> LeaderboardExtraction:
    """One record per (task, model) from a leaderboard task file's rows."""
    result = LeaderboardExtraction()
    for number, row in enumerate(rows, start=1):
        row = {key: value for key, value in row.items() if str(key).strip().lower() not in _INDEX_COLUMNS}
        model = text_or_none(row.get("model"))
        energy_kwh = number_or_none(row.get("total_gpu_energy"))
        if model is None or energy_kwh is None:
            result.problems.append(Problem(
                "bad_leaderboard_row",
                f"{file_path} row {number}: model={row.get('model')!r}, "
                f"total_gpu_energy={row.get('total_gpu_energy')!r}"))
            continue
        stars = number_or_none(row.get("energy_score"))
        if stars is not None and not (1 <= stars <= 5 and stars == int(stars)):
            result.problems.append(Problem("bad_energy_score", f"{file_path} row {number}: {stars!r}"))
            stars = None
        notes = [facts.notes(), "H100 80GB does not say PCIe or SXM",
                 "stars are relative: the task's (class's) energy range split into five bands"]
        energy_class = text_or_none(row.get("class"))
        if energy_class:
            notes.insert(0, f"text generation class {energy_class}")
        result.records.append({
            "extractor": "aienergyscore.leaderboard",
            "locator": f"{task}#model={model}",
            "excerpt": row_excerpt(row, prefix=f"{file_path}: "),
            "model_id": model,
            "model_name": model.rsplit("/", 1)[-1],
            "model_params_b": params_from_name(model),
            "task": task,
            "energy_score": int(stars) if stars is not None else None,
            "energy_per_query_j": energy_kwh * J_PER_QUERY_PER_KWH_PER_1000,
            "gpu_raw": facts.hardware,
            "gpu_count": 1 if energy_class != "C" else None,
            "batch_size": facts.batch_size,
            "workload": "inference",
            "scope": "gpu",
            "method": facts.tool,
            "flags": [],
            "notes": "; ".join(notes),
        })
    return result


_PHASES = ("preprocess", "prefill", "decode")


def benchmark_report_records(report: dict, source: str, facts: MethodologyFacts) -> LeaderboardExtraction:
    """One record for an optimum-benchmark report: GPU energy over its phases, efficiency per token."""
    result = LeaderboardExtraction()
    gpu_kwh, total_kwh, notes = 0.0, 0.0, []
    phases_seen = []
    for phase in _PHASES:
        energy = (report.get(phase) or {}).get("energy") if isinstance(report.get(phase), dict) else None
        if not isinstance(energy, dict):
            continue
        if str(energy.get("unit", "kWh")) != "kWh":
            result.problems.append(Problem("unexpected_unit", f"{source}: {phase} energy in {energy.get('unit')}"))
            continue
        gpu, total = number_or_none(energy.get("gpu")), number_or_none(energy.get("total"))
        if gpu is None:
            continue
        phases_seen.append(phase)
        gpu_kwh += gpu
        total_kwh += total or 0.0
        notes.append(f"{phase}: GPU {gpu:.6g} kWh of {total:.6g} kWh total" if total is not None
                     else f"{phase}: GPU {gpu:.6g} kWh")
        measures = (report.get(phase) or {}).get("measures")
        if isinstance(measures, list) and measures:
            gpu_runs = [number_or_none(m.get("gpu")) for m in measures if isinstance(m, dict)]
            bad = sum(1 for value in gpu_runs if value is not None and value <= 0)
            notes.append(f"{phase}: {len(gpu_runs)} runs" + (f", {bad} with zero or negative GPU energy" if bad else ""))
    if not phases_seen:
        result.problems.append(Problem("report_without_energy", f"{source}: no phase has GPU energy"))
        return result
    record = {
        "extractor": "aienergyscore.benchmark_report",
        "locator": source,
        "excerpt": truncate(f"{source}: " + "; ".join(notes)),
        "energy_j": to_canonical(gpu_kwh, "kilowatt_hour")[1],
        "gpu_raw": facts.hardware,
        "batch_size": facts.batch_size,
        "workload": "inference",
        "scope": "gpu",
        "method": facts.tool,
        "flags": [],
    }
    for phase, field_name, per in (("decode", "energy_per_token_j", "tokens/kWh"),
                                   ("preprocess", "energy_per_query_j", "samples/kWh")):
        efficiency = (report.get(phase) or {}).get("efficiency") if isinstance(report.get(phase), dict) else None
        if isinstance(efficiency, dict) and efficiency.get("unit") == per:
            value = number_or_none(efficiency.get("value"))
            if value:
                # tokens (or samples) per kWh -> J per token (or sample)
                record[field_name] = 3_600_000 / value
                notes.append(f"{field_name} from the {phase} efficiency {value:.6g} {per} (all energy)")
    notes.append(f"energy_j is the GPU part ({', '.join(phases_seen)}); "
                 f"all parts (CPU, RAM, GPU) add up to {total_kwh:.6g} kWh")
    notes.append("the report does not name its hardware: " + facts.notes())
    record["notes"] = "; ".join(notes)
    result.records.append(record)
    return result


_TASK_SLUG_RE = re.compile(r"[^a-z0-9]+")


def task_slug(label: str) -> str:
    """'Text Generation' -> 'text_generation' (the task file names' form)."""
    return _TASK_SLUG_RE.sub("_", label.lower()).strip("_")


_HEADING_RE = re.compile(r"<h[1-4][^>]*>(.*?)</h[1-4]\s*>", re.IGNORECASE | re.DOTALL)
_TAG_RE = re.compile(r"<[^>]+>")
_STAR = "⭐"


def _energy_column(header: list[str]) -> tuple[int, float] | None:
    """(column, factor to kWh per 1,000 queries) of the energy column of a rendered table."""
    for index, name in enumerate(header):
        lowered = name.lower()
        if "energy" not in lowered:
            continue
        if "kwh" in lowered:
            return index, 1.0
        if "wh" in lowered:  # the app shows Wh per 1,000 queries (kWh * 1000)
            return index, 0.001
    return None


def rendered_leaderboard_rows(html: str) -> tuple[list[tuple[str | None, list[dict]]], list[Problem]]:
    """Tables of the rendered leaderboard page as (task, rows in the task files' shape).

    The task is read from the heading before each table ("Text Generation" -> text_generation);
    energies shown in Wh per 1,000 queries are turned back into the files' kWh.
    """
    found, problems = [], []
    for number, table in enumerate(html_tables(html), start=1):
        lowered = [name.lower() for name in table.header]
        model_column = next((i for i, name in enumerate(lowered) if "model" in name), None)
        energy = _energy_column(table.header)
        if model_column is None or energy is None:
            problems.append(Problem("unrecognised_table", f"rendered table {number}: {table.header}",
                                    error=False))
            continue
        energy_column, factor = energy
        score_column = next((i for i, name in enumerate(lowered) if "score" in name or "rating" in name), None)
        class_column = next((i for i, name in enumerate(lowered) if name.strip() == "class"), None)
        headings = _HEADING_RE.findall(html, 0, table.start)
        task = task_slug(_TAG_RE.sub(" ", headings[-1])) if headings else None
        rows = []
        for cells in table.rows:
            kwh = number_or_none(cells[energy_column])
            score_text = cells[score_column] if score_column is not None else ""
            stars = score_text.count(_STAR) or number_or_none(score_text)
            row = {"model": cells[model_column],
                   "total_gpu_energy": kwh * factor if kwh is not None else cells[energy_column],
                   "energy_score": stars}
            if class_column is not None:
                row["class"] = cells[class_column]
            rows.append(row)
        for ragged in table.ragged_rows:
            problems.append(Problem("ragged_row", f"rendered table {number}, row {ragged}"))
        found.append((task, rows))
    return found, problems
