"""Power traces in the records: each one's idle level, load level and how fast it rises, and a plot
of them over time (idle -> load), for the report's stretch criterion on traces and transitions.

A trace is a record's ``trace``: ``readings_w`` at ``interval_s`` seconds, and for MLPerf results
``load_window_s``, the timed run's [start, end] in seconds from the first reading. Where a trace
says where the load is, idle is what comes before it and load what lies inside it; where it does
not (nvidia-smi readings pasted in an issue), idle is its quietest quarter and load its busiest.
The figures are of what the record's ``scope`` covers: one GPU, or the whole server.

The synthesis keeps ``transition(view)`` of every trace (the report's trace table, and the verdict
on the plan's stretch criterion on traces and transitions); the report draws ``draw_traces``.
"""

from __future__ import annotations

import io
import math
from collections import Counter
from dataclasses import dataclass, replace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import pandas as pd  # noqa: E402

from crawler.extract.mlperf import idle_level  # noqa: E402  (the idle level the spider records)

# Plotted at most: more lines than this on one axis cannot be told apart.
MAX_PLOTTED = 6
LABEL_CHARS = 60
# The rise: seconds from the load's start to the first reading at 90 % of the way from idle to load.
RISE_FRACTION = 0.9


@dataclass(frozen=True)
class TraceView:
    label: str
    url: str
    scope: str | None
    interval_s: float | None
    readings_w: tuple[float, ...]
    load_window_s: tuple[float, float] | None
    where: str = ""  # the last part of the record's locator
    gpu: str | None = None  # the catalogue's name of the GPU, None when the record names none it knows
    hardware: str | None = None  # as written: "8 x H100 PCIe", or the GPU as its source names it
    source: str | None = None


def _label(text: str) -> str:
    """Scraped text as a label: on one line and short."""
    text = " ".join(str(text).split())
    return text if len(text) <= LABEL_CHARS else text[:LABEL_CHARS - 1] + "…"


def _plot_label(text: str) -> str:
    """A label as matplotlib must get it: "$" escaped (it reads $...$ as maths)."""
    return text.replace("$", r"\$")


def _finite_readings(trace) -> tuple[float, ...] | None:
    readings = trace.get("readings_w") if isinstance(trace, dict) else None
    if not isinstance(readings, list) or not readings:
        return None
    numbers = [float(value) for value in readings if isinstance(value, (int, float)) and not isinstance(value, bool)]
    return tuple(numbers) if numbers and len(numbers) == len(readings) and all(map(math.isfinite, numbers)) else None


def _positive_or_none(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else None


def _text(value) -> str | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def trace_views(frame: pd.DataFrame) -> list[TraceView]:
    """The records with a usable trace, the longest first (the most telling idle -> load curves)."""
    views = []
    # Only rows with a trace are read one by one: a million-record table holds few.
    frame = frame[frame["trace"].notna()] if "trace" in frame.columns else frame.iloc[0:0]
    for row in frame.itertuples(index=False):
        trace = getattr(row, "trace", None)
        readings = _finite_readings(trace)
        if readings is None:
            continue
        window = trace.get("load_window_s")
        load_window = (tuple(float(edge) for edge in window)
                       if isinstance(window, list) and len(window) == 2
                       and all(isinstance(edge, (int, float)) and not isinstance(edge, bool) for edge in window)
                       and window[0] < window[1] else None)
        catalogue_gpu = _text(getattr(row, "gpu", None))
        gpu = catalogue_gpu or _text(getattr(row, "gpu_raw", None))
        count = getattr(row, "gpu_count", None)
        hardware = f"{int(count)} x {gpu}" if isinstance(count, (int, float)) and not pd.isna(count) and gpu else gpu
        parts = [getattr(row, "source", None), getattr(row, "model_name", None), hardware,
                 "whole server" if getattr(row, "scope", None) == "system" else None]
        locator = getattr(row, "locator", None)
        where = str(locator).split("#")[0].rsplit("/", 1)[-1] if isinstance(locator, str) else ""
        views.append(TraceView(label=", ".join(str(part) for part in parts if part and not pd.isna(part)),
                               url=str(getattr(row, "url", "")), scope=getattr(row, "scope", None),
                               interval_s=_positive_or_none(trace.get("interval_s")), readings_w=readings,
                               load_window_s=load_window, where=where,
                               gpu=catalogue_gpu, hardware=hardware, source=_text(getattr(row, "source", None))))
    # Two traces of one source, model and GPU (an MLPerf system's Offline and Server runs) are told
    # apart by where they stand in their document (the scenario, for MLPerf).
    labels = Counter(view.label for view in views)
    views = [replace(view, label=_label(f"{view.label} ({view.where})" if labels[view.label] > 1 and view.where
                                        else view.label)) for view in views]
    return sorted(views, key=lambda view: -len(view.readings_w))


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def transition(view: TraceView) -> dict:
    """Idle level, load level, their ratio and the rise time of one trace.

    With a load window: idle is the median of the quietest quarter of the readings before it (as
    the mlperf_power spider's idle records: before the load the trace also holds the warm-up), load
    the mean of those inside it, and the rise is timed from the window's start. Without: idle is
    the median of the quietest quarter, load the mean of the busiest quarter, and the rise is timed from the last idle-level
    reading before the first load-level one. A trace too short to have both is reported without them.
    """
    readings = list(view.readings_w)
    step = view.interval_s
    times = [index * step for index in range(len(readings))] if step else None
    idle = load = start_index = None
    if view.load_window_s and times:
        begin, end = view.load_window_s
        before = [w for t, w in zip(times, readings) if t < begin]
        inside = [w for t, w in zip(times, readings) if begin <= t <= end]
        if before and inside:
            idle, load = idle_level(before), sum(inside) / len(inside)
            start_index = len(before)
    if idle is None and len(readings) >= 4:
        quarter = max(1, len(readings) // 4)
        ordered = sorted(readings)
        idle, load = _median(ordered[:quarter]), sum(ordered[-quarter:]) / quarter
        first_load = next(index for index, w in enumerate(readings) if w >= load)
        start_index = max((index for index in range(first_load) if readings[index] <= idle), default=None)
    rise_s = None
    if idle is not None and load > idle and step and start_index is not None:
        threshold = idle + RISE_FRACTION * (load - idle)
        reached = next((index for index in range(start_index, len(readings)) if readings[index] >= threshold), None)
        rise_s = round((reached - start_index) * step, 3) if reached is not None else None
    return {"label": view.label, "url": view.url, "scope": view.scope, "gpu": view.gpu, "hardware": view.hardware,
            "source": view.source, "readings": len(readings),
            "interval_s": step, "idle_w": idle, "load_w": None if load is None else round(load, 3),
            "load_to_idle": round(load / idle, 3) if idle and load is not None else None, "rise_s": rise_s}


def draw_traces(figure, views: list[TraceView], limit: int = MAX_PLOTTED) -> None:
    """The longest ``limit`` traces over time on ``figure``, the load windows shaded.

    Whole-server traces and per-GPU traces are drawn on axes of their own: their watts differ by
    an order of magnitude and are not the same quantity."""
    shown = views[:limit]
    groups = [(title, [view for view in shown if (view.scope == "system") == system])
              for title, system in (("whole server at the wall (W)", True), ("per GPU (W)", False))]
    groups = [(title, members) for title, members in groups if members]
    figure.set_size_inches(9, 3.6 * len(groups))
    for position, (title, members) in enumerate(groups, start=1):
        axes = figure.add_subplot(len(groups), 1, position)
        for view in members:
            step = view.interval_s or 1.0
            times = [index * step for index in range(len(view.readings_w))]
            line, = axes.plot(times, view.readings_w, linewidth=1.2, label=_plot_label(view.label))
            if view.load_window_s:
                axes.axvspan(*view.load_window_s, color=line.get_color(), alpha=0.08)
        axes.set_ylabel(title)
        axes.set_xlabel("seconds from the first reading (the reading's number where no interval is given)")
        axes.legend(fontsize=7, loc="best")
        axes.grid(alpha=0.3)
    figure.suptitle("Power traces: idle, then load (shaded: the timed run where the source states it)"
                    + (f"; the {len(shown)} longest of {len(views)}" if len(views) > len(shown) else ""))


def plot_traces(views: list[TraceView], limit: int = MAX_PLOTTED) -> bytes | None:
    """``draw_traces`` as one PNG; None without traces."""
    if not views:
        return None
    figure = plt.figure()
    try:
        draw_traces(figure, views, limit)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
        return buffer.getvalue()
    finally:
        plt.close(figure)
