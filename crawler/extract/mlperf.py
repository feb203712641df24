"""MLPerf Inference power results -> system power over the timed run, idle level, peak, energy.

One result is a folder ``<division>/<submitter>/results/<system>/<benchmark>/<scenario>/performance/``
whose ``run_1/`` holds three files read here:

* ``mlperf_log_summary.txt``: the scenario and the throughput ("Samples per second: 39646.9",
  "Completed samples per second : ...", "Tokens per second: ..."); it has no power section;
* ``mlperf_log_detail.txt``: ``:::MLLOG {json}`` lines, among them ``power_begin`` / ``power_end``
  (UTC, "08-02-2023 23:16:57.942") that bound the timed run, and ``result_query_count``;
* ``spl.txt``: the analyzer's trace, one line a second,
  ``Time,08-02-2023 23:16:38.727,Watts,738.400000,Volts,206.46,Amps,1.25,PF,0.95,Mark,...``.

MLPerf's own figure (the submission checker's) is the mean of the Watts field over the trace
lines strictly inside (power_begin, power_end) with W > 0: the idle start and the tail of the
trace are not part of it. In SingleStream and MultiStream the metric is energy per query: that
mean times the window's duration, divided by the queries of the run.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime

POWER_TIME_FORMAT = "%m-%d-%Y %H:%M:%S.%f"
# Scenarios whose metric is energy per query (the checker's list); the others report watts.
PER_QUERY_SCENARIOS = ("SingleStream", "MultiStream")
SCENARIOS = ("Offline", "Server", "SingleStream", "MultiStream")
# A plotted trace holds at most this many points: an hours-long LLM run at 1 Hz is averaged
# over blocks of consecutive readings, and its interval says how long each block is.
MAX_TRACE_POINTS = 600
# The idle level is read from the quietest quarter of the readings before the timed run: before
# power_begin the trace also holds the warm-up, which is not idle.
IDLE_QUANTILE = 0.25

_SUMMARY_LINE_RE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9 ()_./-]*?)\s*:\s*(\S.*?)\s*$")


class MLPerfInputError(ValueError):
    """A result's files cannot give a figure; ``kind`` is the counted reason."""

    def __init__(self, kind: str, detail: str):
        super().__init__(detail)
        self.kind = kind


def scenario_name(folder: str) -> str | None:
    """The canonical scenario of a results folder: some submitters write 'offline' or 'server'."""
    lowered = folder.strip().lower()
    return next((scenario for scenario in SCENARIOS if scenario.lower() == lowered), None)


@dataclass(frozen=True)
class Summary:
    scenario: str | None
    samples_per_s: float | None
    tokens_per_s: float | None
    valid: bool | None


def _positive(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value > 0 else None


def parse_summary(text: str) -> Summary:
    """The scenario, throughput and validity of ``mlperf_log_summary.txt``.

    A Server run states both the scheduled and the completed rate: the completed one is what the
    system did (the scheduled one is the load offered), and is taken when present.
    """
    fields: dict[str, str] = {}
    for line in text.splitlines():
        match = _SUMMARY_LINE_RE.match(line)
        if match:
            fields.setdefault(match[1].strip().lower(), match[2])
    if "scenario" not in fields:
        raise MLPerfInputError("malformed_summary", "no 'Scenario :' line")

    def rate(*names: str) -> float | None:
        return next((value for name in names if (value := _positive(fields.get(name, ""))) is not None), None)

    validity = fields.get("result is", "").upper()
    return Summary(
        scenario=scenario_name(fields["scenario"]),
        samples_per_s=rate("completed samples per second", "samples per second", "scheduled samples per second"),
        tokens_per_s=rate("completed tokens per second", "tokens per second"),
        valid={"VALID": True, "INVALID": False}.get(validity),
    )


@dataclass(frozen=True)
class DetailLog:
    power_begin: datetime
    power_end: datetime
    scenario: str | None
    query_count: int | None


def parse_power_time(text: str) -> datetime:
    return datetime.strptime(text.strip(), POWER_TIME_FORMAT)


def parse_detail_log(text: str) -> DetailLog:
    """power_begin, power_end, the effective scenario and the query count of ``mlperf_log_detail.txt``.

    Only the keys needed are decoded: the log holds hundreds of lines and every line is JSON."""
    wanted = {"power_begin", "power_end", "effective_scenario", "result_query_count"}
    values: dict[str, object] = {}
    for line in text.splitlines():
        if not line.startswith(":::MLLOG") or not any(f'"{key}"' in line for key in wanted):
            continue
        try:
            entry = json.loads(line[len(":::MLLOG"):])
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("key") in wanted:
            values.setdefault(entry["key"], entry.get("value"))
    if "power_begin" not in values or "power_end" not in values:
        raise MLPerfInputError("malformed_detail_log", "no power_begin / power_end in the detail log")
    try:
        begin, end = parse_power_time(str(values["power_begin"])), parse_power_time(str(values["power_end"]))
    except ValueError as error:
        raise MLPerfInputError("malformed_detail_log", f"unreadable power_begin / power_end: {error}") from None
    if end <= begin:
        raise MLPerfInputError("malformed_detail_log", f"power_end {end} is not after power_begin {begin}")
    count = values.get("result_query_count")
    return DetailLog(begin, end, scenario_name(str(values.get("effective_scenario") or "")),
                     count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else None)


@dataclass(frozen=True)
class PowerTrace:
    times: tuple[datetime, ...]
    watts: tuple[float, ...]
    unreadable_lines: int


def parse_spl(text: str) -> PowerTrace:
    """The (time, watts) readings of ``spl.txt``, in file order; lines that are not readings
    (a cut last line, a stray header) are counted, not read."""
    times, watts, unreadable = [], [], 0
    for line in text.splitlines():
        if not line.strip():
            continue
        fields = line.split(",")
        try:
            if fields[0] != "Time" or fields[2] != "Watts":
                raise ValueError(line[:40])
            reading = float(fields[3])
            moment = parse_power_time(fields[1])
        except (IndexError, ValueError):
            unreadable += 1
            continue
        if not math.isfinite(reading):
            unreadable += 1
            continue
        times.append(moment)
        watts.append(reading)
    if not watts:
        raise MLPerfInputError("malformed_trace", "no 'Time,...,Watts,...' readings in spl.txt")
    return PowerTrace(tuple(times), tuple(watts), unreadable)


@dataclass(frozen=True)
class WindowPower:
    mean_w: float  # MLPerf's average: readings strictly inside the window, W > 0
    peak_w: float
    readings: int
    duration_s: float  # power_end - power_begin
    idle_w: float | None  # the quiet level before the timed run, None when the trace starts with it
    interval_s: float | None  # the trace's sampling interval (median gap between readings)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def sampling_interval(times: tuple[datetime, ...]) -> float | None:
    gaps = [(later - earlier).total_seconds() for earlier, later in zip(times, times[1:])]
    gaps = [gap for gap in gaps if gap > 0]
    return round(_median(gaps), 3) if gaps else None


def idle_level(before: list[float]) -> float | None:
    """The median of the quietest quarter (at least one) of the readings before the timed run."""
    if not before:
        return None
    quiet = sorted(before)[:max(1, math.ceil(len(before) * IDLE_QUANTILE))]
    return _median(quiet)


def window_power(trace: PowerTrace, log: DetailLog) -> WindowPower:
    """MLPerf's average over the timed run, its peak, and the idle level before it.

    A trace that stops before power_end does not cover the run (a cut or truncated file): its
    mean would be of part of the run only, so it gives no figure (``truncated_trace``).
    """
    if trace.times[-1] < log.power_end:
        raise MLPerfInputError("truncated_trace", f"the trace ends at {trace.times[-1]}, before power_end {log.power_end}")
    inside = [watts for moment, watts in zip(trace.times, trace.watts)
              if log.power_begin < moment < log.power_end and watts > 0]
    if not inside:
        raise MLPerfInputError("no_readings_in_window",
                               f"no reading above 0 W between {log.power_begin} and {log.power_end}")
    before = [watts for moment, watts in zip(trace.times, trace.watts) if moment <= log.power_begin and watts > 0]
    return WindowPower(mean_w=sum(inside) / len(inside), peak_w=max(inside), readings=len(inside),
                       duration_s=(log.power_end - log.power_begin).total_seconds(),
                       idle_w=idle_level(before), interval_s=sampling_interval(trace.times))


def plotted_trace(trace: PowerTrace, log: DetailLog, interval_s: float | None,
                  max_points: int = MAX_TRACE_POINTS) -> dict:
    """The whole trace (idle start, warm-up, load, tail) for plotting, as block means of at most
    ``max_points`` points, with the timed run's place in it (seconds from the first reading)."""
    block = max(1, math.ceil(len(trace.watts) / max_points))
    readings = [round(sum(chunk) / len(chunk), 2)
                for chunk in (trace.watts[start:start + block] for start in range(0, len(trace.watts), block))]
    start = trace.times[0]
    return {
        "interval_s": round(interval_s * block, 3) if interval_s else None,
        "readings_w": readings,
        "load_window_s": [round((log.power_begin - start).total_seconds(), 3),
                          round((log.power_end - start).total_seconds(), 3)],
    }


def count_value(value) -> int | None:
    """A count of a system description: 8, "8" or "8.0" -> 8; anything else (blank, "N/A") -> None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        try:
            number = float(str(value).strip())
        except ValueError:
            return None
    return int(number) if math.isfinite(number) and number >= 1 and number == int(number) else None


@dataclass(frozen=True)
class SystemDescription:
    name: str | None
    accelerator: str | None
    accelerators: int | None  # accelerators per node x nodes


def parse_system(document) -> SystemDescription:
    """``systems/<system>.json``: the accelerator and how many the system holds."""
    if not isinstance(document, dict):
        raise MLPerfInputError("malformed_system_description", "the system description is not a JSON object")

    def text(key: str) -> str | None:
        value = document.get(key)
        return str(value).strip() or None if value is not None else None

    per_node = count_value(document.get("accelerators_per_node"))
    nodes = count_value(document.get("number_of_nodes")) or 1
    accelerator = text("accelerator_model_name")
    if accelerator and accelerator.lower() in ("n/a", "none", "-"):
        accelerator = None
    return SystemDescription(name=text("system_name"), accelerator=accelerator,
                             accelerators=per_node * nodes if per_node else None)


# MLPerf benchmark names -> the project's task names (the first that the benchmark starts with).
BENCHMARK_TASKS = (
    ("llama", "text_generation"), ("gptj", "text_generation"), ("mixtral", "text_generation"),
    ("stable-diffusion", "image_generation"), ("bert", "question_answering"),
    ("resnet", "image_classification"), ("retinanet", "object_detection"),
    ("3d-unet", "image_segmentation"), ("rnnt", "asr"), ("dlrm", "recommendation"),
)


def benchmark_task(benchmark: str) -> str | None:
    lowered = benchmark.lower()
    return next((task for prefix, task in BENCHMARK_TASKS if lowered.startswith(prefix)), None)


@dataclass(frozen=True)
class ResultFiles:
    """Where a result stands: ``locator`` is round/division/submitter/system/benchmark/scenario."""

    locator: str
    benchmark: str
    scenario_folder: str
    summary: str
    detail_log: str
    spl: str


def _figure(value: float | None, digits: int = 4) -> float | None:
    return float(f"{value:.{digits}g}") if value is not None else None


def result_records(files: ResultFiles, system: SystemDescription) -> list[dict]:
    """The records of one power result: the system's power over the timed run (with energy per
    query or token, and the trace), its idle level and peak, and a per-accelerator estimate.

    Raises MLPerfInputError (its ``kind`` is the counted reason) when the files give no figure.
    """
    summary = parse_summary(files.summary)
    log = parse_detail_log(files.detail_log)
    trace = parse_spl(files.spl)
    window = window_power(trace, log)
    scenario = summary.scenario or log.scenario or scenario_name(files.scenario_folder)
    mean = window.mean_w
    energy_per_query = energy_per_token = None
    per_query_note = ""
    if scenario in PER_QUERY_SCENARIOS:
        if log.query_count:
            energy_per_query = mean * window.duration_s / log.query_count
            per_query_note = (f"energy per query = mean power x {window.duration_s:g} s / "
                              f"{log.query_count} queries (MLPerf's {scenario} metric)")
    else:
        if summary.samples_per_s:
            energy_per_query = mean / summary.samples_per_s
            per_query_note = f"energy per query = mean power / {summary.samples_per_s:g} samples per second"
        if summary.tokens_per_s:
            energy_per_token = mean / summary.tokens_per_s
    where = files.locator
    system_text = (f"{system.accelerators} x {system.accelerator}" if system.accelerators
                   else system.accelerator or "accelerator unknown")
    method_note = "whole server at the wall, external power analyzer (PTDaemon), MLPerf Inference power run"
    flags = [] if summary.valid is not False else ["result_invalid"]
    common = {
        "model_name": files.benchmark, "gpu_raw": system.accelerator, "gpu_count": system.accelerators,
        "workload": "inference", "task": benchmark_task(files.benchmark), "scope": "system",
        "method": "external-meter",
    }
    excerpt = (f"{where}: {scenario or files.scenario_folder}, {system_text}; mean {mean:.1f} W over "
               f"{window.readings} spl.txt readings between power_begin {log.power_begin:%m-%d-%Y %H:%M:%S.%f} "
               f"and power_end {log.power_end:%m-%d-%Y %H:%M:%S.%f}; peak {window.peak_w:.1f} W"
               + (f"; idle {window.idle_w:.1f} W" if window.idle_w is not None else "")
               + (f"; {summary.samples_per_s:g} samples/s" if summary.samples_per_s else "")
               + (f"; {summary.tokens_per_s:g} tokens/s" if summary.tokens_per_s else ""))
    records: list[dict] = [{
        **common, "extractor": "mlperf.power_window", "locator": f"{where}#window", "excerpt": excerpt,
        "phase": "steady", "power_w": round(mean, 3), "power_kind": "measured",
        "duration_s": window.duration_s, "energy_j": round(mean * window.duration_s, 1),
        "energy_per_query_j": _figure(energy_per_query), "energy_per_token_j": _figure(energy_per_token),
        "throughput_tokens_per_s": summary.tokens_per_s,
        "trace": plotted_trace(trace, log, window.interval_s),
        "flags": ["system_level", *flags],
        "notes": "; ".join(filter(None, [
            f"{method_note}; mean of the readings strictly inside the timed run (power_begin to power_end) "
            f"with W > 0, as MLPerf's submission checker computes it", per_query_note,
            f"trace: the whole spl.txt ({len(trace.watts)} readings), the timed run at load_window_s",
            f"{trace.unreadable_lines} lines of spl.txt were no readings and were passed over"
            if trace.unreadable_lines else "",
        ])),
    }, {
        **common, "extractor": "mlperf.peak", "locator": f"{where}#peak", "excerpt": excerpt,
        "phase": "peak", "power_w": window.peak_w, "power_kind": "peak", "flags": ["system_level", *flags],
        "notes": f"{method_note}; highest reading inside the timed run",
    }]
    if window.idle_w is not None:
        records.append({
            **common, "extractor": "mlperf.idle", "locator": f"{where}#idle", "excerpt": excerpt,
            "phase": "idle", "power_w": round(window.idle_w, 3), "power_kind": "measured",
            "flags": ["system_level", *flags],
            "notes": f"{method_note}; idle level before the timed run: median of the quietest quarter of "
                     f"the readings before power_begin",
        })
    if system.accelerators:
        records.append({
            **common, "extractor": "mlperf.per_accelerator_estimate", "locator": f"{where}#per_accelerator",
            "excerpt": excerpt, "phase": "steady", "power_w": round(mean / system.accelerators, 3),
            "power_kind": "estimated", "gpu_count": 1,
            "flags": ["per_gpu_from_total", "derived", "includes_host_power", *flags],
            "notes": f"ESTIMATE: whole-server power {mean:.1f} W divided by {system.accelerators} accelerators; "
                     f"it includes the host (CPUs, memory, fans, power supplies), so it overstates what one "
                     f"accelerator draws",
        })
    return records
