"""Result files of the measurement tools' own benchmarks -> measurement dicts.

Each rule is recognised by the columns or keys its tool writes, never by the file's name:

* ``json.mlenergy_config``: an ML.ENERGY leaderboard per-configuration JSON object ("Model",
  "GPU model", "#GPUs", "Energy per request (J)"; diffusion files "Energy per image (J)" beside
  "Batch size"). Energy per request is Zeus's GPU energy of all the run's GPUs over the run,
  divided by the requests completed.
* ``csv.mlenergy_legacy``: the ML.ENERGY leaderboard's per-GPU CSVs (``model, [batch_size,]
  throughput, response_length, latency, energy``). The file gives no units; the leaderboard
  documents its columns: ``energy`` (J) is the average GPU energy to generate one response,
  ``throughput`` (token/s). The GPU stands only in the file's name (``A100_chat_benchmark.csv``).
* ``parquet.mlenergy_v3``: ML.ENERGY benchmark v3 run summaries (``runs/llm.parquet``,
  ``runs/diffusion.parquet`` of ml-energy/benchmark-v3): ``avg_power_watts`` is the steady-state
  energy over its duration summed over the run's ``num_gpus`` GPUs, so the power per GPU is it
  divided by ``num_gpus``. ``max_num_seqs`` is vLLM's cap on concurrent sequences, not a batch
  size: it goes into the notes and ``batch_size`` stays null. Runs that failed ML.ENERGY's
  stability checks (``is_stable`` false) are kept, flagged ``unstable_run`` with their reason.
* ``csv.llm_perf``: LLM-Perf leaderboard CSVs (optimum-benchmark reports flattened to dotted
  columns, ``report.decode.efficiency.value`` in tokens/kWh). optimum-benchmark divides tokens by
  the CPU + RAM + GPU energy CodeCarbon measured, so 3.6e6 / value J per token has scope
  ``gpu+cpu+ram``; LLM-Perf runs batch 1 on one GPU per machine.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from .datafiles import Problem, TableExtraction
from .gpus import normalise_gpu
from .models import params_from_name
from .records import number_or_none, row_excerpt, text_or_none

KWH_J = 3_600_000.0


def _whole(value) -> int | None:
    number = number_or_none(value)
    return int(number) if number and number >= 1 and number == int(number) else None


def _locator(file_path: str, parts: dict, index: int, taken: set[str]) -> str:
    """Where a row stands by what it measures (stable while rows are added), its row number only
    when that is not enough to tell it from an earlier row."""
    named = "&".join(f"{name}={value}" for name, value in parts.items() if value is not None)
    locator = f"{file_path}#{named}" if named else f"{file_path}#row={index}"
    if locator in taken:
        locator += f"&row={index}"
    taken.add(locator)
    return locator


def _model_fields(model: str | None, params_b: float | None = None) -> dict:
    return {"model_id": model if model and "/" in model else None, "model_name": model,
            "model_params_b": params_b if params_b and params_b > 0 else params_from_name(model)}


# --- ML.ENERGY per-configuration JSON ------------------------------------------------------------

_MLENERGY_PER_UNIT_RE = re.compile(r"^Energy per (request|image|video|generation) \(J\)$")
_MLENERGY_CONFIG_CONTEXT = ("Backend", "Request rate", "Requests per second", "Latency per request (s)",
                            "Number of inference steps", "Batch latency (s)", "Batch energy (J)")


def _mlenergy_energy_key(row: dict) -> str | None:
    return next((key for key in row if isinstance(key, str) and _MLENERGY_PER_UNIT_RE.match(key)), None)


def is_mlenergy_config(columns) -> bool:
    return "GPU model" in columns and any(
        isinstance(key, str) and _MLENERGY_PER_UNIT_RE.match(key) for key in columns)


def extract_mlenergy_config(rows: list[dict], file_path: str) -> TableExtraction:
    result = TableExtraction("json.mlenergy_config")
    for index, row in enumerate(rows, start=1):
        energy_key = _mlenergy_energy_key(row)
        energy = number_or_none(row.get(energy_key)) if energy_key else None
        if energy is None:
            result.problems.append(Problem(
                "non_numeric_cell", f"{file_path} row {index}: {energy_key}={row.get(energy_key)!r}"))
            continue
        model = text_or_none(row.get("Model"))
        count = _whole(row.get("#GPUs"))
        unit = _MLENERGY_PER_UNIT_RE.match(energy_key)[1]  # type: ignore[index, arg-type]  # picked by this pattern
        notes = [f"ML.ENERGY leaderboard result: Zeus GPU energy per {unit}"
                 + (f", summed over the run's {count} GPUs" if count and count > 1 else "")]
        notes += [f"{key}={text_or_none(row.get(key))}" for key in _MLENERGY_CONFIG_CONTEXT
                  if text_or_none(row.get(key)) is not None]
        result.records.append({
            "extractor": result.extractor,
            "locator": f"{file_path}#row={index}" if len(rows) > 1 else file_path,
            "excerpt": row_excerpt(row, prefix=f"{file_path}: "),
            **_model_fields(model),
            "gpu_raw": text_or_none(row.get("GPU model")),
            "gpu_count": count,
            "batch_size": _whole(row.get("Batch size")),
            "workload": "inference",
            "energy_per_query_j": energy,
            "scope": "gpu",
            "method": "zeus",
            "flags": [],
            "notes": "; ".join(notes),
        })
    return result


# --- ML.ENERGY leaderboard CSVs (one per GPU and task) -------------------------------------------

# The first leaderboard files have no batch_size column (one batch size per file); later ones do.
MLENERGY_LEGACY_COLUMNS = frozenset({"model", "throughput", "response_length", "latency", "energy"})


def _gpu_from_file_name(file_path: str) -> str | None:
    """"A100" of "data/A100_chat_benchmark.csv", when that first word is a GPU the taxonomy knows."""
    first = PurePosixPath(file_path).stem.split("_")[0]
    return first if first and normalise_gpu(first).spec is not None else None


def extract_mlenergy_legacy(rows: list[dict], file_path: str) -> TableExtraction:
    result = TableExtraction("csv.mlenergy_legacy")
    gpu = _gpu_from_file_name(file_path)
    gpu_note = (f"GPU {gpu} from the file name, as the leaderboard names its files" if gpu
                else "the file name names no GPU the taxonomy knows")
    taken: set[str] = set()
    for index, row in enumerate(rows, start=1):
        energy = number_or_none(row.get("energy"))
        if energy is None:
            result.problems.append(Problem("non_numeric_cell", f"{file_path} row {index}: energy={row.get('energy')!r}"))
            continue
        model = text_or_none(row.get("model"))
        batch = _whole(row.get("batch_size"))
        result.records.append({
            "extractor": result.extractor,
            "locator": _locator(file_path, {"model": model, "batch": batch}, index, taken),
            "excerpt": row_excerpt(row, prefix=f"{file_path}: "),
            **_model_fields(model),
            "gpu_raw": gpu,
            "gpu_count": 1 if gpu else None,
            "batch_size": batch,
            "workload": "inference",
            "energy_per_query_j": energy,
            "throughput_tokens_per_s": number_or_none(row.get("throughput")),
            "scope": "gpu",
            "method": "zeus",
            "flags": [],
            "notes": ("ML.ENERGY leaderboard CSV; the file has no units: the leaderboard documents "
                      "energy (J) as the average GPU energy per response and throughput in token/s; "
                      + gpu_note),
        })
    return result


# --- ML.ENERGY benchmark v3 run summaries --------------------------------------------------------

MLENERGY_V3_COLUMNS = frozenset({"gpu_model", "num_gpus", "avg_power_watts"})
_MLENERGY_V3_EXCERPT = ("task", "model_id", "gpu_model", "num_gpus", "max_num_seqs", "batch_size",
                        "avg_power_watts", "energy_per_token_joules", "energy_per_request_joules",
                        "energy_per_generation_joules", "output_throughput_tokens_per_sec",
                        "is_stable", "unstable_reason")


def is_mlenergy_v3(columns) -> bool:
    return MLENERGY_V3_COLUMNS <= set(columns) and (
        "energy_per_token_joules" in columns or "energy_per_generation_joules" in columns)


def _unstable(value) -> bool:
    """is_stable false (a bool in Parquet, "False"/"false" as text)."""
    return value is False or (isinstance(value, str) and value.strip().lower() in ("false", "0"))


def extract_mlenergy_v3(rows: list[dict], file_path: str) -> TableExtraction:
    result = TableExtraction("parquet.mlenergy_v3")
    for index, row in enumerate(rows, start=1):
        llm = "energy_per_token_joules" in row
        count = _whole(row.get("num_gpus"))
        run_power = number_or_none(row.get("avg_power_watts"))
        per_token = number_or_none(row.get("energy_per_token_joules"))
        per_query = number_or_none(row.get("energy_per_request_joules" if llm else "energy_per_generation_joules"))
        if run_power is None and per_token is None and per_query is None:
            result.problems.append(Problem("non_numeric_cell", f"{file_path} row {index}: no figure"))
            continue
        flags, notes = [], ["ML.ENERGY benchmark v3 run summary (Zeus GPU energy over the steady state)"
                            if llm else "ML.ENERGY benchmark v3 diffusion run (Zeus GPU energy per batch)"]
        power = run_power
        if run_power is not None and count:
            power = run_power / count
            if count > 1:
                flags.append("per_gpu_from_total")
                notes.append(f"avg_power_watts {run_power:g} W is the sum over {count} GPUs; power_w is per GPU, "
                             f"while energy_j and the energy per token and per request cover all {count} GPUs")
        elif run_power is not None:
            power = None
            notes.append(f"avg_power_watts {run_power:g} W covers an unstated number of GPUs; left out")
        if llm and text_or_none(row.get("max_num_seqs")) is not None:
            notes.append(f"max_num_seqs={text_or_none(row.get('max_num_seqs'))} is vLLM's cap on concurrent "
                         "sequences, not the batch size (batch_size left null)")
            if number_or_none(row.get("avg_batch_size")) is not None:
                notes.append(f"measured mean running batch {number_or_none(row.get('avg_batch_size')):g}")
        if _unstable(row.get("is_stable")):
            flags.append("unstable_run")
            notes.append(f"failed ML.ENERGY's stability checks: {text_or_none(row.get('unstable_reason')) or 'no reason given'}")
        model = text_or_none(row.get("model_id"))
        locator_key = text_or_none(row.get("results_path"))
        energy_j = number_or_none(row.get("steady_state_energy_joules"))
        result.records.append({
            "extractor": result.extractor,
            "locator": f"{file_path}#{locator_key}" if locator_key else f"{file_path}#row={index}",
            "excerpt": row_excerpt(row, _MLENERGY_V3_EXCERPT, prefix=f"{file_path}: "),
            **_model_fields(model, number_or_none(row.get("total_params_billions"))),
            "gpu_raw": text_or_none(row.get("gpu_model")),
            "gpu_count": count,
            "task": text_or_none(row.get("task")),
            "batch_size": None if llm else _whole(row.get("batch_size")),
            "workload": "inference",
            "phase": "steady" if llm else None,
            "power_w": power,
            "power_kind": "measured" if power is not None else None,
            "energy_j": energy_j if llm else None,
            "duration_s": number_or_none(row.get("steady_state_duration_seconds")) if llm else None,
            "energy_per_token_j": per_token,
            "energy_per_query_j": per_query,
            "throughput_tokens_per_s": number_or_none(row.get("output_throughput_tokens_per_sec")),
            "scope": "gpu",
            "method": "zeus",
            "flags": flags,
            "notes": "; ".join(notes),
        })
    return result


# --- LLM-Perf leaderboard CSVs -------------------------------------------------------------------

LLM_PERF_COLUMNS = frozenset({"config.backend.model", "report.decode.efficiency.value"})
_LLM_PERF_EXCERPT = ("config.name", "config.backend.model", "config.environment.gpu",
                     "config.scenario.input_shapes.batch_size", "report.decode.throughput.value",
                     "report.decode.efficiency.value", "report.decode.efficiency.unit")


def _first_listed(text: str | None) -> str | None:
    """"['NVIDIA A100-SXM4-80GB']" (a list written by pandas) -> "NVIDIA A100-SXM4-80GB"."""
    if text is None:
        return None
    first = text.strip().strip("[]").split(",")[0].strip().strip("'\"").strip()
    return first or None


def extract_llm_perf(rows: list[dict], file_path: str) -> TableExtraction:
    result = TableExtraction("csv.llm_perf")
    taken: set[str] = set()
    for index, row in enumerate(rows, start=1):
        efficiency = number_or_none(row.get("report.decode.efficiency.value"))
        unit = text_or_none(row.get("report.decode.efficiency.unit")) or "tokens/kWh"
        if efficiency is None or efficiency <= 0:
            if text_or_none(row.get("report.decode.efficiency.value")) is not None:
                result.problems.append(Problem(
                    "non_numeric_cell",
                    f"{file_path} row {index}: report.decode.efficiency.value="
                    f"{row.get('report.decode.efficiency.value')!r}"))
            continue
        if unit.replace(" ", "").lower() != "tokens/kwh":
            result.problems.append(Problem("unexpected_unit", f"{file_path} row {index}: decode efficiency in {unit!r}"))
            continue
        model = text_or_none(row.get("config.backend.model"))
        gpu = _first_listed(text_or_none(row.get("config.environment.gpu")))
        batch = _whole(row.get("config.scenario.input_shapes.batch_size"))
        notes = [f"decode efficiency {efficiency:g} tokens/kWh inverted (3.6e6 / value); optimum-benchmark "
                 "divides by CPU + RAM + GPU energy (CodeCarbon)"]
        if batch is None:
            notes.append("batch 1 as LLM-Perf documents (no batch column)")
        if text_or_none(row.get("config.name")):
            notes.append(f"config.name={text_or_none(row.get('config.name'))}")
        result.records.append({
            "extractor": result.extractor,
            "locator": _locator(file_path, {"model": model, "config": text_or_none(row.get("config.name"))},
                                index, taken),
            "excerpt": row_excerpt(row, _LLM_PERF_EXCERPT, prefix=f"{file_path}: "),
            **_model_fields(model),
            "gpu_raw": gpu,
            "gpu_count": _whole(row.get("config.environment.gpu_count")) or (1 if gpu else None),
            "batch_size": batch or 1,
            "workload": "inference",
            "phase": "decode",
            "energy_per_token_j": KWH_J / efficiency,
            "throughput_tokens_per_s": number_or_none(row.get("report.decode.throughput.value")),
            "scope": "gpu+cpu+ram",
            "method": "codecarbon",
            "flags": [],
            "notes": "; ".join(notes),
        })
    return result


# --- choosing one of them ------------------------------------------------------------------------

def extract_benchmark_result(rows: list[dict], file_path: str) -> TableExtraction | None:
    """The rule whose shape the rows' columns (the first row's) have, applied; None when none has."""
    columns = set(rows[0]) if rows else set()
    if is_mlenergy_v3(columns):
        return extract_mlenergy_v3(rows, file_path)
    if LLM_PERF_COLUMNS <= columns:
        return extract_llm_perf(rows, file_path)
    if is_mlenergy_config(columns):
        return extract_mlenergy_config(rows, file_path)
    if MLENERGY_LEGACY_COLUMNS <= columns:
        return extract_mlenergy_legacy(rows, file_path)
    return None
