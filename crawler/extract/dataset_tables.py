"""Tables from Hub dataset files -> measurement dicts.

Rules, tried in order on a table's columns:

* ``table.ohdoking``: the per-prompt benchmark schema of
  ohdoking/energy_consumption_by_model_and_gpu, aggregated to one record per (model, GPU).
* ``csv.codecarbon``: CodeCarbon ``emissions.csv``, one record per run row.
* the measurement tools' benchmark results (ML.ENERGY, LLM-Perf), in ``benchmark_results``.
* ``table.generic``: any table whose column names carry power or energy with a unit
  (``avg_power_w``, ``energy_kwh``, ``energy_per_token_j``...) next to a GPU and a model column.

Each returns measurement dicts keyed by the Measurement fields, plus ``locator`` (where in the
file the figure stands, for the stable id) and the problems met.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import PurePosixPath

from .context import classify_method, classify_phase, classify_workload
from .benchmark_results import extract_benchmark_result
from .datafiles import Problem, TableExtraction, TableRead
from .gpus import normalise_gpu
from .models import params_from_count, params_from_name
from .records import number_or_none, row_excerpt, text_or_none
from .units import parse_figure, symbol_kind_and_factor, to_canonical


# --- ohdoking per-prompt benchmark files ---------------------------------------------------------

OHDOKING_COLUMNS = frozenset({
    "model_name", "huggingface_model", "num_params", "hardware_cpu", "hardware_gpu",
    "total_prompts", "prompt_runtime", "prompt_energy",
})
_OHDOKING_EXCERPT_COLUMNS = (
    "model_name", "huggingface_model", "num_params", "hardware_cpu", "hardware_gpu",
    "hardware_ram", "total_prompts", "average_runtime", "average_energy", "benchmark_timestamp",
)
_NO_GPU_VALUES = {"", "cpu", "n/a", "na", "none", "null", "false", "0"}


def _ohdoking_gpu(first_row: dict) -> tuple[str | None, str | None]:
    """(gpu_raw, note). The GPU name stands in hardware_gpu, or with underscores in hardware_cpu."""
    hardware_gpu = text_or_none(first_row.get("hardware_gpu")) or ""
    hardware_cpu = text_or_none(first_row.get("hardware_cpu")) or ""
    for candidate in (hardware_gpu, hardware_cpu):
        if candidate and normalise_gpu(candidate).spec is not None:
            return candidate, None
    if hardware_gpu.lower() not in _NO_GPU_VALUES and "cpu" not in hardware_gpu.lower():
        return hardware_gpu, None
    return None, (
        f"CPU baseline run, no GPU (hardware_gpu={hardware_gpu or 'empty'!s}, "
        f"hardware_cpu={hardware_cpu or 'empty'!s})"
    )


def extract_ohdoking(rows: list[dict], file_path: str) -> TableExtraction:
    result = TableExtraction("table.ohdoking")
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows:
        model = text_or_none(row.get("huggingface_model")) or text_or_none(row.get("model_name"))
        if model is None:
            result.problems.append(Problem("row_without_model", "a prompt row names no model"))
            continue
        groups[(model, str(row.get("hardware_gpu") or ""))].append(row)

    for (model, _), group in groups.items():
        energies, runtimes = [], []
        for row in group:
            energy = number_or_none(row.get("prompt_energy"))
            runtime = number_or_none(row.get("prompt_runtime"))
            if energy is None or runtime is None:
                result.problems.append(Problem(
                    "non_numeric_cell",
                    f"{model}: prompt {row.get('prompt_index')!s} has prompt_energy="
                    f"{row.get('prompt_energy')!r}, prompt_runtime={row.get('prompt_runtime')!r}",
                ))
                continue
            energies.append(energy)
            runtimes.append(runtime)
        if not energies:
            continue
        first = group[0]
        total_energy = sum(energies)
        total_runtime = sum(runtimes)
        gpu_raw, gpu_note = _ohdoking_gpu(first)
        notes = [
            f"aggregated from {len(energies)} prompt rows of {file_path} "
            f"(total_prompts column says {text_or_none(first.get('total_prompts'))}); "
            "CodeCarbon GPU energy of the whole loop apportioned to prompts by runtime, "
            "so per-prompt energy and power are derived",
        ]
        if gpu_note:
            notes.append(gpu_note)
        params = params_from_count(text_or_none(first.get("num_params")))
        model_name = text_or_none(first.get("model_name")) or model
        result.records.append({
            "extractor": result.extractor,
            "locator": f"{file_path}#model={model}&gpu={gpu_raw or 'cpu'}",
            "excerpt": row_excerpt(
                first, _OHDOKING_EXCERPT_COLUMNS,
                prefix=f"{file_path} ({len(energies)} prompt rows; first): ",
            ),
            "model_id": text_or_none(first.get("huggingface_model")),
            "model_name": model_name,
            "model_params_b": params if params is not None else params_from_name(model_name),
            "gpu_raw": gpu_raw,
            "gpu_count": 1 if gpu_raw else None,
            "workload": "inference",
            "batch_size": 1,
            "power_w": total_energy / total_runtime if total_runtime > 0 else None,
            "power_kind": "measured",
            "energy_j": total_energy,
            "energy_per_query_j": total_energy / len(energies),
            "duration_s": total_runtime,
            "scope": "gpu" if gpu_raw else None,
            "method": "codecarbon",
            # A CPU baseline run is kept (it is a figure the source gives) and marked, so that
            # GPU tables can leave it out.
            "flags": ["derived"] if gpu_raw else ["derived", "cpu_only"],
            "notes": "; ".join(notes),
        })
    return result


# --- CodeCarbon emissions.csv --------------------------------------------------------------------

CODECARBON_COLUMNS = frozenset({"duration", "emissions", "gpu_power", "gpu_energy", "gpu_count", "gpu_model"})
_CODECARBON_EXCERPT_COLUMNS = (
    "timestamp", "project_name", "run_id", "duration", "emissions", "gpu_power", "gpu_energy",
    "energy_consumed", "gpu_count", "gpu_model", "tracking_mode", "codecarbon_version",
)


def _codecarbon_locator(file_path: str, row: dict, index: int, taken: set[str]) -> str:
    """Where a CodeCarbon row stands: its run and timestamp, stable while rows are appended.

    CodeCarbon writes one row per flush, so rows of one run share a run_id; the timestamp tells
    them apart, and the row number is the last resort (no timestamp, or the same one twice).
    """
    parts = [f"{name}={value}" for name in ("run", "timestamp")
             if (value := text_or_none(row.get("run_id" if name == "run" else name)))]
    locator = f"{file_path}#{'&'.join(parts)}" if parts else f"{file_path}#row={index}"
    if locator in taken:
        locator += f"&row={index}"
    taken.add(locator)
    return locator


def extract_codecarbon(rows: list[dict], file_path: str, context: str = "") -> TableExtraction:
    """One record per CodeCarbon run row, from emissions.csv or the same rows as JSON / JSONL."""
    json_rows = PurePosixPath(file_path.lower()).suffix in (".json", ".jsonl")
    result = TableExtraction("json.codecarbon" if json_rows else "csv.codecarbon")
    # A file named for a phase ("prefill_codecarbon.json") holds that phase of an inference run.
    file_phase = classify_phase(_column_key(PurePosixPath(file_path).stem).replace("_", " "))
    taken: set[str] = set()
    for index, row in enumerate(rows, start=1):
        gpu_model = text_or_none(row.get("gpu_model"))
        gpu_count = number_or_none(row.get("gpu_count"))
        gpu_power = number_or_none(row.get("gpu_power"))
        gpu_energy_kwh = number_or_none(row.get("gpu_energy"))
        if not gpu_model and not gpu_count:
            result.problems.append(Problem("codecarbon_run_without_gpu", f"row {index}", error=False))
            continue
        count = int(gpu_count) if gpu_count else None
        flags, notes = [], ["CodeCarbon gpu_power and gpu_energy cover the GPUs only"]
        power = gpu_power
        if power is not None and count and count > 1:
            power = power / count
            flags.append("per_gpu_from_total")
            notes.append(f"gpu_power {gpu_power:g} W is the sum over {count} GPUs; power_w is per GPU")
        emissions = number_or_none(row.get("emissions"))
        if emissions is not None:
            notes.append("co2_kg covers CPU, GPU and RAM energy")
        for column in ("tracking_mode", "pue", "cloud_provider", "codecarbon_version"):
            if text_or_none(row.get(column)):
                notes.append(f"{column}={text_or_none(row.get(column))}")
        energy_j = to_canonical(gpu_energy_kwh, "kilowatt_hour")[1] if gpu_energy_kwh is not None else None
        if energy_j is not None and not math.isfinite(energy_j):  # kWh a float holds, joules it does not
            result.problems.append(Problem("non_numeric_cell", f"row {index}: gpu_energy {gpu_energy_kwh:g} kWh "
                                                               "is past what a float holds in joules", error=False))
            energy_j = None
        phase = file_phase if file_phase in ("prefill", "decode") else None
        if phase:
            notes.append(f"phase {phase} from the file name")
        workload_text = " ".join(filter(None, (text_or_none(row.get("project_name")), context,
                                               phase)))
        result.records.append({
            "extractor": result.extractor,
            "locator": _codecarbon_locator(file_path, row, index, taken),
            "excerpt": row_excerpt(row, _CODECARBON_EXCERPT_COLUMNS),
            "gpu_raw": gpu_model,
            "gpu_count": count,
            "workload": classify_workload(workload_text),
            "phase": phase,
            "power_w": power,
            "power_kind": "measured",
            "energy_j": energy_j,
            "duration_s": number_or_none(row.get("duration")),
            "co2_kg": emissions,
            "scope": "gpu",
            "method": "codecarbon",
            "flags": flags,
            "notes": "; ".join(notes),
        })
    return result


# --- Any table with power or energy columns ------------------------------------------------------

_GPU_COLUMNS = ("gpu", "gpu_name", "gpu_model", "gpu_type", "hardware_gpu", "hardware", "device",
                "device_name", "accelerator")
_MODEL_COLUMNS = ("model_id", "huggingface_model", "model", "model_name", "model_repo", "checkpoint")
_BATCH_COLUMNS = ("batch_size", "batch", "bs")
_GPU_COUNT_COLUMNS = ("gpu_count", "num_gpus", "n_gpus", "gpus")
_TASK_COLUMNS = ("task",)
_WORKLOAD_COLUMNS = ("workload", "mode", "stage")
_METHOD_COLUMNS = ("method", "measurement_method", "tool", "measured_with")
_THROUGHPUT_COLUMNS = ("tokens_per_s", "tokens_per_second", "throughput_tokens_per_s",
                       "throughput_tok_s", "tok_s")
_PER_TOKEN = ("token", "tokens", "tok")
_PER_QUERY = ("query", "queries", "prompt", "prompts", "request", "requests", "sample", "samples",
              "inference", "inferences")
_DURATION_WORDS = ("duration", "runtime", "elapsed", "time", "latency")
_POWER_WORDS = ("power", "watt", "watts", "draw")
# Column-name unit tokens, lower case as column names write them. "mwh"/"mj" are left out: in a
# lower-case name milli and mega cannot be told apart.
_COLUMN_UNITS = {"w": "W", "watt": "W", "watts": "W", "kw": "kW", "j": "J", "joule": "J",
                 "joules": "J", "kj": "kJ", "wh": "Wh", "kwh": "kWh", "s": "s", "sec": "s",
                 "seconds": "s", "ms": "ms", "h": "h", "hours": "h", "hrs": "h"}


def _column_key(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(name).lower()).strip("_")


def _figure_field(name: str) -> tuple[str, float] | None:
    """(record field, factor to canonical) for a figure column such as 'avg_power_w', or None."""
    tokens = _column_key(name).split("_")
    unit = next((_COLUMN_UNITS[t] for t in reversed(tokens) if t in _COLUMN_UNITS), None)
    known = symbol_kind_and_factor(unit) if unit else None
    if known is None:
        return None
    kind, factor = known
    after_per = tokens[tokens.index("per") + 1:] if "per" in tokens else []
    if kind == "power" and any(word in tokens for word in _POWER_WORDS):
        return "power_w", factor
    if kind == "energy":
        if any(t in _PER_TOKEN for t in after_per):
            return "energy_per_token_j", factor
        if any(t in _PER_QUERY for t in after_per):
            return "energy_per_query_j", factor
        if not after_per and ("energy" in tokens or "consumption" in tokens):
            return "energy_j", factor
    if kind == "duration" and any(word in tokens for word in _DURATION_WORDS) and not after_per:
        return "duration_s", factor
    return None


def _pick(columns_by_key: dict[str, str], candidates) -> str | None:
    return next((columns_by_key[key] for key in candidates if key in columns_by_key), None)


@dataclass(frozen=True)
class GenericColumns:
    figures: dict[str, tuple[str, float]]  # column -> (record field, factor)
    gpu: str | None
    model: str | None
    batch: str | None
    gpu_count: str | None
    task: str | None
    workload: str | None
    method: str | None
    throughput: str | None

    def describe(self) -> str:
        return ", ".join(f"{column} -> {target}" for column, (target, _) in self.figures.items())


def map_generic_columns(columns) -> GenericColumns:
    """The documented column heuristic: which columns hold figures, GPU, model and context."""
    by_key = {_column_key(column): column for column in columns}
    figures = {}
    for column in columns:
        mapped = _figure_field(column)
        if mapped and mapped[0] not in {target for target, _ in figures.values()}:
            figures[column] = mapped
    return GenericColumns(
        figures=figures,
        gpu=_pick(by_key, _GPU_COLUMNS),
        model=_pick(by_key, _MODEL_COLUMNS),
        batch=_pick(by_key, _BATCH_COLUMNS),
        gpu_count=_pick(by_key, _GPU_COUNT_COLUMNS),
        task=_pick(by_key, _TASK_COLUMNS),
        workload=_pick(by_key, _WORKLOAD_COLUMNS),
        method=_pick(by_key, _METHOD_COLUMNS),
        throughput=_pick(by_key, _THROUGHPUT_COLUMNS),
    )


def extract_generic(rows: list[dict], file_path: str, mapping: GenericColumns,
                    context: str = "") -> TableExtraction:
    result = TableExtraction("table.generic")
    interesting = [c for c in (mapping.model, mapping.gpu, mapping.gpu_count, mapping.batch,
                               mapping.task, mapping.workload, mapping.method) if c]
    interesting += list(mapping.figures)
    for index, row in enumerate(rows, start=1):
        record = {field_name: None for field_name, _ in mapping.figures.values()}
        for column, (field_name, factor) in mapping.figures.items():
            value = number_or_none(row.get(column))
            if value is None and text_or_none(row.get(column)) is not None:
                result.problems.append(Problem(
                    "non_numeric_cell", f"row {index}: {column}={row.get(column)!r}"))
            record[field_name] = value * factor if value is not None else None
        if all(value is None for value in record.values()):
            continue
        model = text_or_none(row.get(mapping.model))
        batch = number_or_none(row.get(mapping.batch)) if mapping.batch else None
        count = number_or_none(row.get(mapping.gpu_count)) if mapping.gpu_count else None
        workload_text = text_or_none(row.get(mapping.workload)) if mapping.workload else None
        method_text = text_or_none(row.get(mapping.method)) if mapping.method else None
        record.update({
            "extractor": result.extractor,
            "locator": f"{file_path}#row={index}",
            "excerpt": row_excerpt(row, interesting),
            "model_id": model if model and "/" in model else None,
            "model_name": model,
            "model_params_b": params_from_name(model),
            "gpu_raw": text_or_none(row.get(mapping.gpu)),
            "gpu_count": int(count) if count else None,
            "batch_size": int(batch) if batch else None,
            "task": text_or_none(row.get(mapping.task)) if mapping.task else None,
            "workload": classify_workload(workload_text or context),
            "method": (classify_method(method_text) or "unknown") if method_text else None,
            "throughput_tokens_per_s": (number_or_none(row.get(mapping.throughput))
                                        if mapping.throughput else None),
            "power_kind": "measured" if record.get("power_w") is not None else None,
            "flags": [],
            "notes": f"read by the generic column heuristic ({mapping.describe()})",
        })
        result.records.append(record)
    return result


def extract_table(rows: list[dict], file_path: str, context: str = "") -> TableExtraction:
    """Choose the rule for a table by its columns and apply it.

    ``context`` is text about where the table comes from (dataset id, tags) that may say what
    workload it measures.
    """
    columns = set(rows[0]) if rows else set()
    if OHDOKING_COLUMNS <= columns:
        return extract_ohdoking(rows, file_path)
    if CODECARBON_COLUMNS <= columns:
        return extract_codecarbon(rows, file_path, context)
    benchmark = extract_benchmark_result(rows, file_path)
    if benchmark is not None:
        return benchmark
    mapping = map_generic_columns(list(rows[0]) if rows else [])
    if not mapping.figures:
        return TableExtraction(None, problems=[Problem(
            "no_power_columns", f"{file_path}: no column carries power or energy with a unit",
            error=False)])
    if not (mapping.gpu and mapping.model):
        return TableExtraction(None, problems=[Problem(
            "no_gpu_or_model_column",
            f"{file_path}: figure columns ({mapping.describe()}) but no GPU and model columns",
            error=False)])
    return extract_generic(rows, file_path, mapping, context)


# --- One JSON object whose keys carry their units (a run summary) --------------------------------

# Words of a key that say which reading of a run it is. A peak or idle reading is its own record.
_KEY_PHASES = (("peak", {"peak", "max", "maximum"}), ("idle", {"idle", "baseline"}),
               ("prefill", {"prefill"}), ("decode", {"decode"}))
_MEAN_WORDS = {"avg", "average", "mean"}
# Figures computed from other figures (total minus the idle baseline, savings between runs), and
# statistics other than a mean or a peak: not readings of the run.
_DERIVED_WORDS = {"active", "overhead", "delta", "diff", "difference", "saved", "savings", "net",
                  "excess", "incremental", "extra", "reduction", "min", "minimum", "std", "stdev",
                  "stddev", "var", "variance", "median", "p50", "p90", "p95", "p99"}
# Parts of a machine other than its GPUs.
_OTHER_PARTS = {"cpu", "ram", "dram", "mem", "memory", "disk", "pkg", "package"}
# Per-request times are latencies, not the run's duration.
_LATENCY_WORDS = {"latency", "ttft", "tpot", "itl"}
_GPU_WORK_WORDS = {"gpu", "gpus", "cuda", "nvml", "nvidia", "token", "tokens"}
_SUMMARY_FIELDS = ("energy_j", "power_w", "energy_per_token_j", "energy_per_query_j", "duration_s")


@dataclass(frozen=True)
class SummaryKey:
    key: str
    field: str
    value: float  # in the field's canonical unit
    phase: str | None
    words: frozenset[str]


def _summary_key(key: str, value) -> SummaryKey | str | None:
    """The reading a unit-named key holds; a reason (str) when it is a figure left out; else None."""
    number = number_or_none(value)
    mapped = _figure_field(key)
    if number is None or mapped is None:
        return None
    field_name, factor = mapped
    words = frozenset(_column_key(key).split("_"))
    if words & _DERIVED_WORDS:
        return "derived from other figures"
    if words & _OTHER_PARTS:
        return "not the GPUs"
    if field_name == "duration_s" and words & (_MEAN_WORDS | _LATENCY_WORDS):
        return "a time per request or stage, not the run's duration"
    if field_name == "energy_j" and words & _MEAN_WORDS:
        return "an average energy of an unstated unit of work"
    phase = next((name for name, cues in _KEY_PHASES if words & cues), None)
    if field_name == "duration_s" and phase:
        return "a time per stage, not the run's duration"
    return SummaryKey(key, field_name, number * factor, phase, words)


def _choose(candidates: list[SummaryKey]) -> SummaryKey | None:
    """One key per field: the only one, else the one that says total, else the one that says GPU."""
    if len(candidates) == 1:
        return candidates[0]
    for word in ("total", "gpu"):
        preferred = [c for c in candidates if word in c.words]
        if len(preferred) == 1:
            return preferred[0]
    return None


def _throughput_key(document: dict) -> str | None:
    """A tokens-per-second key ('throughput_tokens_per_s', 'D2_tokens_per_second')."""
    for key in document:
        words = _column_key(key).split("_")
        per = words.index("per") if "per" in words else 0
        if per and words[per - 1] in ("tokens", "tok") and words[-1] in ("s", "sec", "second"):
            return key
    return None


def extract_unit_keyed_summary(document: dict, file_path: str, context: str = "") -> TableExtraction:
    """Figures of a JSON object whose keys name their unit (M1_total_energy_J, avg_power_W).

    The run's main figures make one record; peak, idle, prefill and decode readings one record
    each. Derived keys (active_energy_J = total minus idle) and other parts (cpu_energy_J) are
    left out and named in the notes.
    """
    result = TableExtraction("json.unit_keys")
    scalars = {key: value for key, value in document.items() if not isinstance(value, (dict, list))}
    readings, left_out = [], []
    for key, value in scalars.items():
        read = _summary_key(key, value)
        if isinstance(read, SummaryKey):
            readings.append(read)
        elif read:
            left_out.append(f"{key} ({read})")
    if not readings:
        return TableExtraction(None)
    by_key = {_column_key(key): key for key in scalars}
    gpu_key = _pick(by_key, _GPU_COLUMNS)
    gpu = text_or_none(scalars.get(gpu_key)) if gpu_key else None
    key_words = " ".join(_column_key(key).replace("_", " ") for key in document)
    if not (set(key_words.split()) & _GPU_WORK_WORDS or gpu or "gpu" in context.lower()):
        return TableExtraction(None, problems=[Problem(
            "no_gpu_work", f"{file_path}: figures under unit-named keys but nothing ties them to "
                           "GPUs or tokens", error=False)])
    model_key = _pick(by_key, _MODEL_COLUMNS)
    model = text_or_none(scalars.get(model_key)) if model_key else None
    count_key = _pick(by_key, _GPU_COUNT_COLUMNS)
    count = number_or_none(scalars.get(count_key)) if count_key else None
    throughput_key = _throughput_key(scalars)
    workload = classify_workload(" ".join((context, key_words)))

    for phase in (None, *(name for name, _ in _KEY_PHASES)):
        chosen, ambiguous = [], []
        for field_name in _SUMMARY_FIELDS:
            candidates = [r for r in readings if r.field == field_name and r.phase == phase]
            pick = _choose(candidates) if candidates else None
            if pick:
                chosen.append(pick)
            elif candidates:
                ambiguous.append(f"{field_name} from {', '.join(c.key for c in candidates)}")
        if ambiguous:
            result.problems.append(Problem(
                "ambiguous_keys", f"{file_path}: left out {'; '.join(ambiguous)}", error=False))
        if not chosen:
            continue
        used = [r.key for r in chosen]
        extra = [k for k in (gpu_key, model_key, count_key) if k]
        if phase is None and throughput_key:
            extra.append(throughput_key)
        notes = ["read from a JSON object's unit-named keys ("
                 + ", ".join(f"{r.key} -> {r.field}" for r in chosen) + ")"]
        if left_out:
            notes.append("left out " + ", ".join(left_out))
        record = {name: None for name in _SUMMARY_FIELDS}
        record.update({r.field: r.value for r in chosen})
        record.update({
            "extractor": result.extractor,
            "locator": f"{file_path}#keys={','.join(used)}",
            "excerpt": row_excerpt(scalars, [*used, *extra], prefix=f"{file_path}: "),
            "model_id": model if model and "/" in model else None,
            "model_name": model,
            "model_params_b": params_from_name(model),
            "gpu_raw": gpu,
            "gpu_count": int(count) if count else None,
            "workload": "inference" if phase in ("prefill", "decode") else workload,
            "phase": phase,
            "throughput_tokens_per_s": (number_or_none(scalars.get(throughput_key))
                                        if phase is None and throughput_key else None),
            "power_kind": "measured" if record["power_w"] is not None else None,
            "scope": "gpu" if all("gpu" in r.words for r in chosen) else None,
            "flags": [],
            "notes": "; ".join(notes),
        })
        result.records.append(record)
    return result


# --- optimum-benchmark reports (benchmark_report.json, or benchmark.json = config + report) ------

# Targets that run the model; loading and dataset preprocessing are left out.
_MODEL_RUN_TARGETS = ("prefill", "decode", "forward", "generate", "call")


def _optimum_targets(report: dict) -> dict[str, dict]:
    """Targets of a report that measured energy: {'prefill': {'energy': {...}, ...}, ...}."""
    return {name: value for name, value in report.items()
            if isinstance(value, dict) and isinstance(value.get("energy"), dict)
            and "unit" in value["energy"]}


def _optimum_context(config: dict) -> dict:
    """GPU, model and batch size from an optimum-benchmark config (environment, backend, scenario)."""
    environment = config.get("environment") if isinstance(config.get("environment"), dict) else {}
    backend = config.get("backend") if isinstance(config.get("backend"), dict) else {}
    scenario = config.get("scenario") if isinstance(config.get("scenario"), dict) else {}
    gpus = environment.get("gpu")
    gpu = text_or_none(gpus[0] if isinstance(gpus, list) and gpus else gpus)
    shapes = scenario.get("input_shapes") if isinstance(scenario.get("input_shapes"), dict) else {}
    batch = number_or_none(shapes.get("batch_size"))
    model = text_or_none(backend.get("model"))
    count = number_or_none(environment.get("gpu_count"))
    return {"gpu_raw": gpu, "gpu_count": int(count) if count and gpu else None,
            "model_id": model if model and "/" in model else None, "model_name": model,
            "model_params_b": params_from_name(model), "batch_size": int(batch) if batch else None}


def is_optimum_benchmark_report(document: dict) -> bool:
    report = document.get("report") if isinstance(document.get("report"), dict) else document
    return any(name in _MODEL_RUN_TARGETS for name in _optimum_targets(report))


def extract_optimum_benchmark(document: dict, file_path: str) -> TableExtraction:
    """Per model-running target: its GPU energy (scope gpu) and its efficiency inverted (all parts).

    optimum-benchmark measures with CodeCarbon; ``efficiency`` (tokens/kWh, samples/kWh) divides by
    the total of CPU, RAM and GPU energy, so the per-token or per-sample figure has that scope.
    """
    result = TableExtraction("json.optimum_benchmark")
    report = document.get("report") if isinstance(document.get("report"), dict) else document
    config = document.get("config") if isinstance(document.get("config"), dict) else {}
    context = _optimum_context(config)
    for target, measured in _optimum_targets(report).items():
        if target not in _MODEL_RUN_TARGETS:
            continue
        energy, efficiency = measured["energy"], measured.get("efficiency")
        base = {**context, "extractor": result.extractor, "workload": "inference",
                "phase": target if target in ("prefill", "decode") else None,
                "method": "codecarbon", "flags": []}
        gpu_energy = number_or_none(energy.get("gpu"))
        unit = text_or_none(energy.get("unit"))
        known = symbol_kind_and_factor(unit) if unit else None
        if gpu_energy is not None and known and known[0] == "energy":
            result.records.append({
                **base, "locator": f"{file_path}#{target}.energy.gpu",
                "excerpt": row_excerpt(energy, prefix=f"{file_path} {target}.energy: "),
                "energy_j": gpu_energy * known[1], "scope": "gpu",
                "notes": f"GPU energy of the {target} stage as optimum-benchmark measured it",
            })
        elif gpu_energy is not None:
            result.problems.append(Problem(
                "unexpected_unit", f"{file_path}: {target} energy in {unit!r}"))
        if not isinstance(efficiency, dict):
            continue
        value = number_or_none(efficiency.get("value"))
        figure = parse_figure(f"{value:f} {efficiency.get('unit')}") if value else None
        if figure is None or figure.kind not in ("energy_per_token", "energy_per_query"):
            result.problems.append(Problem(
                "unexpected_unit", f"{file_path}: {target} efficiency {value!r} "
                                   f"{efficiency.get('unit')!r}", error=False))
            continue
        result.records.append({
            **base, "locator": f"{file_path}#{target}.efficiency",
            "excerpt": row_excerpt(efficiency, prefix=f"{file_path} {target}.efficiency: "),
            f"{figure.kind}_j": figure.value, "scope": "gpu+cpu+ram",
            "notes": (f"{target} efficiency {value:g} {efficiency.get('unit')} inverted; "
                      "optimum-benchmark divides by CPU + RAM + GPU energy"),
        })
    if not context["gpu_raw"]:
        for record in result.records:
            record["notes"] += "; the report does not name its GPU"
    return result


# --- A data file: the rule for its shape ---------------------------------------------------------

def extract_data_file(table: TableRead, file_path: str, context: str = "") -> TableExtraction:
    """Choose the rule for a data file by its shape: a report, a single run object, a table.

    A JSON file that is one object is one run: a tool's result object (ML.ENERGY) by its keys;
    else its unit-named keys are read one by one (so a peak or idle reading stays apart from the
    average); when none has a unit, the object is read as a one-row table (a CodeCarbon run).
    """
    document = table.document
    if document is not None and is_optimum_benchmark_report(document):
        return extract_optimum_benchmark(document, file_path)
    if document is not None:
        # A tool's result object is one row, recognised by its own keys, even when it also holds
        # a list of records (per-request results beside the run's own figures).
        whole = extract_benchmark_result([document], file_path)
        if whole is not None:
            return whole
    summary = None
    if document is not None and table.rows == [document]:
        summary = extract_unit_keyed_summary(document, file_path, context)
        if summary.records:
            return summary
    extraction = extract_table(table.rows, file_path, context)
    if extraction.records or summary is None or not summary.problems:
        return extraction
    return summary
