"""Measuring-tool output pasted into a post -> power and energy records.

Tool output is read wherever it stands, in a fenced code block or pasted as plain text, and is
recognised by each tool's documented output shape (its header lines and separators), never by the
look of one sample. Other code (scripts, shell commands, configs) yields nothing.

* ``nvidia-smi`` default table, old (2019-2022) and new (535+ drivers) layouts: one reading per
  GPU row; the power cap goes into the notes. A GPU at 0 % GPU-Util with no process on it is idle.
* ``nvidia-smi --query-gpu=...,power.draw,... --format=csv`` (with its header): one reading per
  row, or, looped (``-l N``, ``-lms N``) or timestamped, one power trace per GPU.
* ``nvidia-smi dmon`` and ``dcgmi dmon -e 155,...``: one power trace per GPU index.
* Zeus ``Measurement(time=..., gpu_energy={0: ...})`` reprs and printouts: energy and time per GPU,
  the power derived from them.
* CodeCarbon log lines: the all-GPU energy and power; repeated lines of one run are a trace.

Figures seen and deliberately not recorded are counted by role in ``ToolReadings.skipped``:
"cap" (power limits), "component" (CodeCarbon CPU and RAM lines, Zeus CPU and DRAM energy),
"total" (CodeCarbon's all-component total), "unavailable" (N/A power readings).

Everything works line by line with plain string splitting and regexes without nested repetition,
so a 200 KB paste is read in linear time.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from .records import truncate

# No tool prints lines this long (an 8-GPU Zeus repr is ~300 characters); longer ones are skipped.
MAX_LINE_CHARS: Final = 2_000
# Lines one table or series is read for: a day of 1 s samples of one GPU; the rest is left unread.
MAX_BLOCK_LINES: Final = 86_400
# Lines above tool output searched for the command that made it (its sampling options).
COMMAND_CONTEXT_LINES: Final = 8
# How many rows of a series the excerpt shows before it is cut.
EXCERPT_ROWS: Final = 6

_NUMBER: Final = r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
_WATTS_RE: Final = re.compile(r"^(\d+(?:\.\d+)?)\s*W$")
_PLAIN_NUMBER_RE: Final = re.compile(r"^\d+(?:\.\d+)?$")
_CLOCK_RE: Final = re.compile(r"^(\d{1,2}):(\d\d):(\d\d)$")
# "power.draw [W]" or, with ``nounits``, "power.draw": a query property name and its unit.
_QUERY_COLUMN_RE: Final = re.compile(r"^([a-z][a-z0-9_.]*)(?: \[[^\]]*\])?$")
_QUERY_POWER_COLUMNS: Final = ("power.draw", "power.draw.average", "power.draw.instant")
_QUERY_CAP_COLUMNS: Final = ("power.limit", "enforced.power.limit", "power.default_limit", "power.max_limit",
                      "power.min_limit")
_QUERY_IDENTITY_COLUMNS: Final = ("index", "pci.bus_id", "uuid")
# Sampling options as written in a command, also inside inline code ("`nvidia-smi dmon -d 5`").
_LOOP_SECONDS_RE: Final = re.compile(r"(?<![\w-])(?:-l|--loop)(?:=|\s+)(\d+(?:\.\d+)?)\b")
_LOOP_MS_RE: Final = re.compile(r"(?<![\w-])(?:-lms|--loop-ms)(?:=|\s+)(\d+)\b")
_DELAY_RE: Final = re.compile(r"(?<![\w-])-d\s*(\d+(?:\.\d+)?)\b")
_ZEUS_TIME_RE: Final = re.compile(rf"\btime=({_NUMBER})")
# Zeus 0.7 named the GPU energies "energy"; 0.8+ "gpu_energy" beside "cpu_energy" and "dram_energy".
_ZEUS_ENERGY_RE: Final = re.compile(r"\b(gpu_energy|cpu_energy|dram_energy|energy)=\{([^{}]{0,1000})\}")
_ZEUS_PAIR_RE: Final = re.compile(rf"(\d+)\s*:\s*({_NUMBER})")
# Its "@" is what _may_hold_tool_output looks for before "[codecarbon ".
_CODECARBON_RE: Final = re.compile(r"^\[codecarbon [A-Z]+ @ (\d{1,2}:\d\d:\d\d)\]\s*")
_CODECARBON_V1_RE: Final = re.compile(
    rf"^(?:(?P<power_of>GPU|CPU|RAM) Power Consumption : Power\(kW=(?P<kw>{_NUMBER})\)"
    rf"|Energy consumed (?P<energy_of>GPU|CPU|RAM) : Energy\(kwh=(?P<kwh>{_NUMBER})\))\s*$")
KWH_TO_J: Final = 3_600_000.0


@dataclass
class ToolReadings:
    records: list[dict] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)


@dataclass(frozen=True)
class _Line:
    start: int
    end: int
    raw: str
    body: str  # stripped of indentation and Markdown quote markers


@dataclass
class _Document:
    lines: list[_Line]
    fence_opening: list[int | None]  # per line: the opening fence of the code block it is in
    locator_prefix: str
    found: list[tuple[int, dict]] = field(default_factory=list)  # (position, record)
    spans: list[tuple[int, int]] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)

    def span(self, first: int, last: int) -> None:
        self.spans.append((self.lines[first].start, self.lines[last].end))


def _may_hold_tool_output(text: str) -> bool:
    """Whether ``text`` holds a string each reader needs on a line before it reads anything ("Pwr:Usage",
    "power.draw", "pwr", "#Entity", "energy={", "[codecarbon "): text without any is not split into
    lines at all, which keeps the common case (a card with no tool output) cheap. Zeus's and
    CodeCarbon's strings are looked for only in a text holding "{" and "@" (a CodeCarbon line reads
    "[codecarbon INFO @ 18:28:46]"): one character is found at memchr speed, a string costs a byte
    by byte search of the whole text."""
    return ("Pwr:Usage" in text or "power.draw" in text or "pwr" in text or "#Entity" in text
            or ("{" in text and "energy={" in text) or ("@" in text and "[codecarbon " in text))


def tool_output_records(text: str, locator_prefix: str = "") -> ToolReadings:
    """Records from every tool output in ``text``, the spans that output occupies and what was skipped."""
    if not _may_hold_tool_output(text):
        return ToolReadings()
    lines = _split_lines(text)
    document = _Document(lines, _fence_openings(lines), locator_prefix)
    for reader in (_read_smi_tables, _read_smi_queries, _read_smi_dmon, _read_dcgmi_dmon, _read_zeus,
                   _read_codecarbon):
        reader(document)
    document.found.sort(key=lambda item: item[0])
    return ToolReadings(records=[record for _, record in document.found], spans=_merged(document.spans),
                        skipped=document.skipped)


# --- lines, blocks and commands ---------------------------------------------------------------

def _split_lines(text: str) -> list[_Line]:
    lines, position = [], 0
    while position <= len(text):
        end = text.find("\n", position)
        end = len(text) if end < 0 else end
        raw = text[position:end]
        body = raw.strip() if len(raw) <= MAX_LINE_CHARS else ""
        while body.startswith(">"):
            body = body[1:].lstrip()
        if body.startswith("\\#"):  # a "#" header escaped so Markdown does not make it a heading
            body = body[1:]
        lines.append(_Line(position, end, raw, body))
        position = end + 1
    return lines


def _is_fence(line: _Line) -> bool:
    return line.body.startswith(("```", "~~~"))


def _fence_openings(lines: list[_Line]) -> list[int | None]:
    openings: list[int | None] = []
    opening = None
    for index, line in enumerate(lines):
        if _is_fence(line):
            opening = index if opening is None else None
            openings.append(None)
        else:
            openings.append(opening)
    return openings


def _paragraph_above(lines: list[_Line], index: int) -> list[str]:
    """The non-blank lines just above ``index`` (after at most two blank ones), up to a fence."""
    position, blanks = index - 1, 0
    while position >= 0 and not lines[position].body and blanks < 2:
        position, blanks = position - 1, blanks + 1
    paragraph: list[str] = []
    while (position >= 0 and lines[position].body and not _is_fence(lines[position])
           and len(paragraph) < COMMAND_CONTEXT_LINES):
        paragraph.append(lines[position].body)
        position -= 1
    return paragraph[::-1]


def _command(document: _Document, index: int, program: str) -> str | None:
    """The last line naming ``program`` above line ``index`` in its code block or the paragraph
    introducing it ("Output of `nvidia-smi dmon -d 5`:"), where the sampling options are written."""
    opening = document.fence_opening[index]
    if opening is None:
        context = _paragraph_above(document.lines, index)
    else:
        first = max(opening + 1, index - COMMAND_CONTEXT_LINES)
        context = (_paragraph_above(document.lines, opening)
                   + [line.body for line in document.lines[first:index]])
    commands = [line for line in context if program in line]
    return commands[-1] if commands else None


def _option(command: str | None, regex: re.Pattern) -> float | None:
    match = regex.search(command) if command else None
    return float(match[1]) if match else None


# --- figures, times and records ----------------------------------------------------------------

def _watts(cell: str, bare_numbers: bool = False) -> float | None:
    """"285W", "312.45 W" (or "312.45" from a ``nounits`` query) -> watts; "N/A", "[N/A]", "ERR!" -> None."""
    cell = cell.strip()
    match = _WATTS_RE.match(cell)
    if match:
        return float(match[1])
    return float(cell) if bare_numbers and _PLAIN_NUMBER_RE.match(cell) else None


def _percent(cell: str) -> float | None:
    cell = cell.strip().rstrip("%").strip()
    return float(cell) if _PLAIN_NUMBER_RE.match(cell) else None


def _number(cell: str) -> float | None:
    cell = cell.strip()
    return float(cell) if _PLAIN_NUMBER_RE.match(cell) else None


def _clock_seconds(value: str) -> float | None:
    match = _CLOCK_RE.match(value.strip())
    return int(match[1]) * 3600 + int(match[2]) * 60 + int(match[3]) if match else None


def _timestamp_seconds(value: str) -> float | None:
    """nvidia-smi's ``timestamp`` query column, "2023/10/13 10:22:33.123"."""
    for layout in ("%Y/%m/%d %H:%M:%S.%f", "%Y/%m/%d %H:%M:%S"):
        try:
            # Naive on purpose: only the gaps between samples matter, and local time could jump.
            return (datetime.strptime(value.strip(), layout) - datetime(1970, 1, 1)).total_seconds()
        except ValueError:
            continue
    return None


def _interval_from_times(times: list[float | None], *, clock_only: bool) -> float | None:
    """The usual gap between consecutive sample times (median, so a stall does not skew it)."""
    known = [time for time in times if time is not None]
    gaps = []
    for earlier, later in zip(known, known[1:]):
        gap = later - earlier
        if gap < 0 and clock_only:  # a clock-only log that ran past midnight
            gap += 86_400
        gaps.append(gap)
    interval = statistics.median(gaps) if gaps else None
    return round(interval, 3) if interval and interval > 0 else None


def _mean(readings: list[float]) -> float:
    return round(sum(readings) / len(readings), 3)


def _idle_phase(utilisations: list[float | None]) -> str | None:
    """"idle" when the GPU's utilisation was read and was 0 % throughout; otherwise unknown."""
    known = [value for value in utilisations if value is not None]
    return "idle" if known and not any(known) else None


def _record(extractor: str, locator: str, excerpt: str, method: str, notes: list[str], *,
            power_w: float | None, gpu_raw: str | None = None, gpu_count: int | None = 1,
            scope: str = "gpu", flags: list[str] | None = None, **known) -> dict:
    record = {
        "extractor": extractor,
        "locator": locator,
        "excerpt": truncate(excerpt),
        "gpu_raw": gpu_raw,
        "gpu_count": gpu_count,
        "power_w": power_w,
        "power_kind": "measured",
        "method": method,
        "scope": scope,
        "flags": flags or [],
        "notes": "; ".join(notes),
    }
    record.update({name: value for name, value in known.items() if value is not None})
    return record


def _series_excerpt(head: list[str], rows: list[str]) -> str:
    shown = rows if len(rows) <= EXCERPT_ROWS else [*rows[:EXCERPT_ROWS - 1], "...", rows[-1]]
    return "\n".join(head + shown)


def _trace(interval_s: float | None, readings: list[float]) -> dict:
    return {"interval_s": interval_s, "readings_w": readings}


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1] + 1:  # touching: only the newline between them
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


# --- nvidia-smi default table ------------------------------------------------------------------

def _table_cells(body: str) -> list[str] | None:
    """The cells of a "| a | b | c |" table row; None for box borders and other lines."""
    if not body.startswith("|") or body.startswith("|-") or body.startswith("|="):
        return None
    return body.strip("|").split("|")


def _smi_gpu_row(body: str) -> tuple[str, str] | None:
    """"|   0  NVIDIA H100 PCIe     On  | 00000000:17:00.0 Off |  0 |" -> ("0", "NVIDIA H100 PCIe").

    The first cell ends with the persistence mode (On/Off), or on Windows the driver model
    (WDDM/TCC); the second is the PCI bus id.
    """
    cells = _table_cells(body)
    if not cells or len(cells) < 3 or ":" not in cells[1]:
        return None
    tokens = cells[0].split()
    if len(tokens) < 3 or not tokens[0].isdigit() or tokens[-1] not in ("On", "Off", "WDDM", "TCC"):
        return None
    return tokens[0], " ".join(tokens[1:-1])


def _smi_power_row(body: str) -> tuple[str, str, float | None] | None:
    """"| N/A   45C    P0   285W / 350W | 40960MiB / 81559MiB |  97%  Default |" -> ("285W", "350W", 97.0).

    The first cell is fan, temperature, performance state and "draw / cap"; the third starts
    with GPU-Util.
    """
    cells = _table_cells(body)
    if not cells or len(cells) < 3:
        return None
    tokens = cells[0].split()
    if "/" not in tokens:
        return None
    slash = tokens.index("/")
    if slash < 3 or slash + 1 >= len(tokens):
        return None
    utilisation = cells[2].split()
    return tokens[slash - 1], tokens[slash + 1], _percent(utilisation[0]) if utilisation else None


def _smi_process_gpu(body: str) -> int | None:
    """The GPU index of a row of the Processes box ("|  0  N/A  N/A  1234  C  python  40000MiB |")."""
    tokens = body.strip("|").split()
    return int(tokens[0]) if len(tokens) >= 4 and tokens[0].isdigit() else None


def _box_continues(lines: list[_Line], index: int) -> bool:
    """Whether the box at ``index`` (after at most two blank lines) is the Processes or MIG box
    nvidia-smi prints below the GPU box."""
    position = index
    while position < len(lines) and position - index < 2 and not lines[position].body:
        position += 1
    return (position + 1 < len(lines) and lines[position].body.startswith("+")
            and lines[position + 1].body.startswith("|")
            and ("Processes:" in lines[position + 1].body or "MIG devices:" in lines[position + 1].body))


def _read_smi_tables(document: _Document) -> None:
    lines, index = document.lines, 0
    while index < len(lines):
        if "Pwr:Usage/Cap" not in lines[index].body:
            index += 1
            continue
        header = index
        first = header  # the banner and column header above belong to the table
        while first > max(0, header - 4) and lines[first - 1].body.startswith(("|", "+")):
            first -= 1
        separator = next((position for position in range(header + 1, min(header + 4, len(lines)))
                          if lines[position].body.startswith("|=")), None)
        if separator is None:
            index = header + 1
            continue
        gpus: list[tuple[int, str, str, tuple]] = []  # (line, index, name, power row)
        busy: set[int] = set()
        in_processes, position = False, separator + 1
        while position < len(lines) and position - separator < MAX_BLOCK_LINES:
            body = lines[position].body
            if not body.startswith(("|", "+")):
                if not _box_continues(lines, position):
                    break
                while not lines[position].body:
                    position += 1
                continue
            if "Processes:" in body:
                in_processes = True
            elif in_processes:
                gpu = _smi_process_gpu(body)
                if gpu is not None:
                    busy.add(gpu)
            else:
                gpu_row = _smi_gpu_row(body)
                power_row = _smi_power_row(lines[position + 1].body) if gpu_row and position + 1 < len(lines) else None
                if gpu_row and power_row:
                    gpus.append((position, *gpu_row, power_row))
                    position += 1
            position += 1
        last = position - 1
        while not lines[last].body:
            last -= 1
        document.span(first, last)
        for line, gpu_index, name, (draw_cell, cap_cell, utilisation) in gpus:
            _smi_table_record(document, line, gpu_index, name, _watts(draw_cell), _watts(cap_cell),
                              utilisation, int(gpu_index) in busy)
        index = position


def _smi_table_record(document: _Document, line: int, gpu_index: str, name: str, draw: float | None,
                      cap: float | None, utilisation: float | None, has_process: bool) -> None:
    if cap is not None:
        document.skipped["cap"] += 1
    if draw is None:
        document.skipped["unavailable"] += 1
        return
    notes = ["instantaneous nvidia-smi reading"]
    if cap is not None:
        notes.append(f"power cap {cap:g} W")
    if name.endswith("..."):
        notes.append("GPU name cut short by nvidia-smi")
    gpu_line, power_line = document.lines[line], document.lines[line + 1]
    phase = "idle" if utilisation == 0 and not has_process else None
    document.found.append((gpu_line.start, _record(
        "nvidia_smi", f"{document.locator_prefix}#nvidia-smi-gpu={gpu_index}@{gpu_line.start}",
        f"{gpu_line.raw}\n{power_line.raw}", "nvidia-smi", notes, power_w=draw, gpu_raw=name, phase=phase)))


# --- nvidia-smi --query-gpu CSV ----------------------------------------------------------------

def _query_columns(body: str) -> list[str] | None:
    """Property names of a ``--format=csv`` header ("name, power.draw [W]") holding a power draw."""
    if "power.draw" not in body:
        return None
    names = []
    for column in body.split(","):
        match = _QUERY_COLUMN_RE.match(column.strip())
        if not match:
            return None
        names.append(match[1])
    return names if any(name in _QUERY_POWER_COLUMNS for name in names) else None


def _read_smi_queries(document: _Document) -> None:
    lines, header = document.lines, 0
    while header < len(lines):
        columns = _query_columns(lines[header].body)
        if columns is None:
            header += 1
            continue
        rows = []
        for position in range(header + 1, min(header + 1 + MAX_BLOCK_LINES, len(lines))):
            cells = [cell.strip() for cell in lines[position].body.split(",")]
            if len(cells) != len(columns) or not lines[position].body:
                break
            rows.append((position, dict(zip(columns, cells))))
        if rows:
            document.span(header, rows[-1][0])
            command = _command(document, header, "nvidia-smi")
            loop_ms = _option(command, _LOOP_MS_RE)
            interval = loop_ms / 1000 if loop_ms is not None else _option(command, _LOOP_SECONDS_RE)
            looped = interval is not None or "timestamp" in columns
            _query_records(document, header, columns, rows, looped, interval)
        header += len(rows) + 1


def _query_series_key(columns: list[str], values: dict, seen_at_time: Counter) -> tuple:
    """Which GPU a looped row belongs to: its index, bus id or UUID column; else, with timestamps,
    its place among the rows of one sample time; else its name alone."""
    for column in _QUERY_IDENTITY_COLUMNS:
        if column in columns:
            return (values[column],)
    name = values.get("name") or values.get("gpu_name")
    if "timestamp" in columns:
        seen_at_time[values["timestamp"]] += 1
        return name, seen_at_time[values["timestamp"]]
    return (name,)


def _query_records(document: _Document, header: int, columns: list[str], rows: list, looped: bool,
                   interval: float | None) -> None:
    power_column = next(name for name in _QUERY_POWER_COLUMNS if name in columns)
    bare_numbers = "[" not in document.lines[header].body  # ``nounits``: cells hold bare numbers
    series: dict[tuple, list] = defaultdict(list)
    seen_at_time: Counter = Counter()
    for number, (position, values) in enumerate(rows, start=1):
        draw = _watts(values[power_column], bare_numbers)
        caps = [_watts(values[name], bare_numbers) for name in _QUERY_CAP_COLUMNS if name in values]
        document.skipped["cap"] += sum(cap is not None for cap in caps)
        if draw is None:
            document.skipped["unavailable"] += 1
            continue
        key = _query_series_key(columns, values, seen_at_time) if looped else (number,)
        series[key].append((number, position, values, draw, caps[0] if caps else None))
    head = document.lines[header].raw
    for samples in series.values():
        number, position, values, _, cap = samples[0]
        notes = ["instantaneous nvidia-smi reading" if len(samples) == 1 else
                 f"mean of {len(samples)} nvidia-smi readings"]
        if cap is not None:
            notes.append(f"power cap {cap:g} W")
        if looped and not any(column in columns for column in _QUERY_IDENTITY_COLUMNS):
            notes.append("rows told apart by GPU name and sample time only")
        readings = [draw for _, _, _, draw, _ in samples]
        utilisations = [_percent(row_values["utilization.gpu"]) for _, _, row_values, _, _ in samples
                        if "utilization.gpu" in row_values]
        trace = None
        if len(samples) > 1:
            series_interval = interval if interval is not None else _interval_from_times(
                [_timestamp_seconds(row_values.get("timestamp", "")) for _, _, row_values, _, _ in samples],
                clock_only=False)
            trace = _trace(series_interval, readings)
        document.found.append((document.lines[position].start, _record(
            "nvidia_smi", f"{document.locator_prefix}#nvidia-smi-query@{document.lines[header].start}:{number}",
            _series_excerpt([head], [document.lines[row_position].raw for _, row_position, _, _, _ in samples]),
            "nvidia-smi", notes, power_w=_mean(readings), gpu_raw=values.get("name") or values.get("gpu_name"),
            phase=_idle_phase(utilisations), trace=trace)))


# --- nvidia-smi dmon and dcgmi dmon ------------------------------------------------------------

@dataclass
class _Series:
    """One GPU's readings in a monitoring table, in time order."""
    rows: list[str] = field(default_factory=list)
    readings: list[float] = field(default_factory=list)
    utilisations: list[float | None] = field(default_factory=list)
    times: list[float | None] = field(default_factory=list)
    first_line: int = 0


def _dmon_header(lines: list[_Line], index: int) -> list[str] | None:
    """``nvidia-smi dmon``'s two header lines: "# gpu   pwr  gtemp ..." and "# Idx     W      C ..."
    (with ``-o DT``: "#Date Time gpu pwr ..." over "#YYYYMMDD HH:MM:SS Idx W ...")."""
    body = lines[index].body
    if not body.startswith("#") or index + 1 >= len(lines):
        return None
    names = body.lstrip("#").split()
    units = lines[index + 1].body.lstrip("#").split()
    if ("gpu" not in names or "pwr" not in names or not lines[index + 1].body.startswith("#")
            or len(units) != len(names) or units[names.index("pwr")] != "W" or units[names.index("gpu")] != "Idx"):
        return None
    return names


def _read_smi_dmon(document: _Document) -> None:
    lines, index = document.lines, 0
    while index < len(lines):
        names = _dmon_header(lines, index)
        if names is None:
            index += 1
            continue
        header, header_lines = index, (lines[index].body, lines[index + 1].body)
        series: dict[str, _Series] = {}
        position = last = header + 1
        while position + 1 < len(lines) and position - header < MAX_BLOCK_LINES:
            position += 1
            body = lines[position].body
            if body in header_lines:  # dmon repeats its header every few screens
                last = position
                continue
            cells = body.split()
            if body.startswith("#") or len(cells) != len(names) or not cells[names.index("gpu")].isdigit():
                break
            last = position
            values = dict(zip(names, cells))
            draw = _number(values["pwr"])
            if draw is None:  # "-": no reading
                document.skipped["unavailable"] += 1
                continue
            gpu = series.setdefault(values["gpu"], _Series(first_line=position))
            gpu.rows.append(lines[position].raw)
            gpu.readings.append(draw)
            gpu.utilisations.append(_percent(values["sm"]) if "sm" in values else None)
            gpu.times.append(_clock_seconds(values["Time"]) if "Time" in values else None)
        document.span(header, last)
        command = _command(document, header, "dmon")
        delay = _option(command, _DELAY_RE)
        for gpu_index, gpu in series.items():
            interval = delay or _interval_from_times(gpu.times, clock_only=True)
            notes = [f"mean of {len(gpu.readings)} nvidia-smi dmon readings"]
            if interval is None:
                interval = 1.0
                notes.append("sampling interval: dmon's default of 1 s (no -d shown)")
            _monitor_record(document, "nvidia_smi", "nvidia-smi", "nvidia-smi-dmon", header, gpu_index, gpu,
                            interval, [lines[header].raw, lines[header + 1].raw], notes)
        index = last + 1


def _monitor_record(document: _Document, extractor: str, method: str, locator_kind: str, header: int,
                    gpu_index: str, gpu: _Series, interval: float | None, head: list[str],
                    notes: list[str]) -> None:
    document.found.append((document.lines[gpu.first_line].start, _record(
        extractor, f"{document.locator_prefix}#{locator_kind}@{document.lines[header].start}:gpu={gpu_index}",
        _series_excerpt(head, gpu.rows), method, notes, power_w=_mean(gpu.readings),
        phase=_idle_phase(gpu.utilisations), trace=_trace(interval, gpu.readings))))


def _read_dcgmi_dmon(document: _Document) -> None:
    """``dcgmi dmon -e 155,...``: "#Entity   POWER   GPUTL" over "ID", then rows "GPU 0   71.234   0"."""
    lines, index = document.lines, 0
    while index + 1 < len(lines):
        body = lines[index].body
        names = body[1:].split() if body.startswith("#Entity") else []
        if "POWER" not in names or not lines[index + 1].body.startswith("ID"):
            index += 1
            continue
        header, header_lines = index, (body, lines[index + 1].body)
        fields = names[1:]  # after the entity, which takes two cells in a row ("GPU 0")
        series: dict[str, _Series] = {}
        position = last = header + 1
        while position + 1 < len(lines) and position - header < MAX_BLOCK_LINES:
            position += 1
            body = lines[position].body
            if body in header_lines:
                last = position
                continue
            cells = body.split()
            if len(cells) != len(fields) + 2 or body.startswith("#"):
                break
            last = position
            if cells[0] != "GPU" or not cells[1].isdigit():  # GPU instances, CPUs, switches
                continue
            values = dict(zip(fields, cells[2:]))
            draw = _number(values["POWER"])
            if draw is None:  # "N/A"
                document.skipped["unavailable"] += 1
                continue
            gpu = series.setdefault(cells[1], _Series(first_line=position))
            gpu.rows.append(lines[position].raw)
            gpu.readings.append(draw)
            gpu.utilisations.append(_percent(values["GPUTL"]) if "GPUTL" in values else None)
        document.span(header, last)
        delay_ms = _option(_command(document, header, "dcgmi"), _DELAY_RE)
        interval = delay_ms / 1000 if delay_ms else None
        unshown = [] if interval else ["sampling interval not shown"]
        for gpu_index, gpu in series.items():
            # DCGM reads the driver's NVML power counter, so the method is NVML.
            _monitor_record(document, "dcgmi", "nvml", "dcgmi-dmon", header, gpu_index, gpu, interval,
                            [lines[header].raw, lines[header + 1].raw],
                            [f"mean of {len(gpu.readings)} dcgmi dmon readings (DCGM field 155, power usage)",
                             *unshown])
        index = last + 1


# --- Zeus --------------------------------------------------------------------------------------

def _read_zeus(document: _Document) -> None:
    """``Measurement(time=12.3, gpu_energy={0: 187.4}, cpu_energy=None, dram_energy=None)`` and
    printouts with ``time=`` and ``gpu_energy={...}``: energy (J) per GPU over a window of ``time`` s."""
    for line in document.lines:
        body = line.body
        if "energy={" not in body or "time=" not in body:
            continue
        time_match = _ZEUS_TIME_RE.search(body)
        energies = [(match[1], match[2]) for match in _ZEUS_ENERGY_RE.finditer(body)
                    if match[1] != "energy" or "Measurement(" in body]
        if not time_match or not energies:
            continue
        duration = float(time_match[1])
        document.spans.append((line.start, line.end))
        for kind, pairs in energies:
            readings = [(match[1], float(match[2])) for match in _ZEUS_PAIR_RE.finditer(pairs)]
            if kind in ("cpu_energy", "dram_energy"):
                document.skipped["component"] += len(readings)
                continue
            for gpu_index, energy in readings:
                notes = [f"GPU {gpu_index}: Zeus energy over a {duration:g} s window"]
                power = round(energy / duration, 3) if duration > 0 else None
                if power is not None:
                    notes.append("power is energy / time")
                document.found.append((line.start, _record(
                    "zeus", f"{document.locator_prefix}#zeus@{line.start}:gpu={gpu_index}", line.raw, "zeus", notes,
                    power_w=power, flags=["derived"] if power is not None else [], energy_j=energy,
                    duration_s=duration)))


# --- CodeCarbon --------------------------------------------------------------------------------

def _codecarbon_line(body: str) -> tuple[float | None, str] | None:
    """"[codecarbon INFO @ 18:28:46] message" -> (seconds of the day, message)."""
    match = _CODECARBON_RE.match(body)
    return (_clock_seconds(match[1]), body[match.end():]) if match else None


def _codecarbon_v1(message: str) -> tuple[str, str, float] | None:
    """CodeCarbon 1.x, one figure a line: "GPU Power Consumption : Power(kW=0.390005)" and
    "Energy consumed GPU : Energy(kwh=0.110069)" -> ("GPU", "power" in W | "energy" in kWh, value)."""
    match = _CODECARBON_V1_RE.match(message)
    if not match:
        return None
    component = match["power_of"] or match["energy_of"]
    value = float(match["kw"] or match["kwh"])
    return (component, "power", value * 1000) if match["kw"] else (component, "energy", value)


def _codecarbon_energy(message: str) -> tuple[str, float, float] | None:
    """"Energy consumed for all GPUs : 0.012 kWh. Total GPU Power : 245.3 W" (older: "All GPUs
    Power") -> ("all GPUs", kWh, W); the same for "all CPUs" and "RAM"."""
    if not message.startswith("Energy consumed for "):
        return None
    parts = message[len("Energy consumed for "):].split(" : ")
    if len(parts) != 3 or " kWh" not in parts[1] or not parts[2].strip().endswith("W"):
        return None
    energy, power = _number(parts[1].split(" kWh")[0]), _watts(parts[2])
    return (parts[0].strip(), energy, power) if energy is not None and power is not None else None


def _read_codecarbon(document: _Document) -> None:
    runs: list[list[tuple[_Line, float | None, float, float]]] = []
    pending_watts = None
    for line in document.lines:
        parsed = _codecarbon_line(line.body)
        if parsed is None:
            continue
        document.spans.append((line.start, line.end))
        time, message = parsed
        if "kWh of electricity used since the beginning" in message:
            document.skipped["total"] += 1
            continue
        energy = _codecarbon_energy(message)
        if energy is None:
            single = _codecarbon_v1(message)
            if single is None:
                continue
            component, kind, value = single
            if component != "GPU":
                document.skipped["component"] += 1
            elif kind == "power":
                pending_watts = value
            elif pending_watts is not None:  # 1.x writes the power line, then the energy line
                energy = ("all GPUs", value, pending_watts)
                pending_watts = None
            if energy is None:
                continue
        component, kwh, watts = energy
        if component != "all GPUs":
            document.skipped["component"] += 1
            continue
        # The energy is cumulative: when it falls, a new tracker (a new run) has started.
        if not runs or kwh < runs[-1][-1][2]:
            runs.append([])
        runs[-1].append((line, time, kwh, watts))
    for run in runs:
        first = run[0][0]
        readings = [watts for _, _, _, watts in run]
        notes = ["CodeCarbon total over all GPUs it tracked; energy cumulative since the tracker started"]
        trace = None
        if len(run) > 1:
            notes.append(f"power is the mean of {len(run)} readings; energy the last")
            trace = _trace(_interval_from_times([time for _, time, _, _ in run], clock_only=True), readings)
        document.found.append((first.start, _record(
            "codecarbon", f"{document.locator_prefix}#codecarbon@{first.start}",
            _series_excerpt([], [line.raw for line, _, _, _ in run]), "codecarbon", notes,
            power_w=_mean(readings), gpu_count=None, energy_j=round(run[-1][2] * KWH_TO_J, 3), trace=trace)))
