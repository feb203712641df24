"""The report, in Markdown and in self-contained HTML (plots embedded), from the synthesis.

Both are rendered from one list of sections. Every piece of scraped text is escaped, in HTML and
in Markdown (where it can neither open a tag nor form a link), shortened for display (a GPU name may
be a megabyte long), and links are only ever http(s) URLs.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import pandas as pd  # noqa: E402

from crawler.extract.gpus import spec_for  # noqa: E402

from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: E402

from .schema_check import shorten  # noqa: E402
from .synthesis import (MODEL_NOT_NAMED, TRANSITION_RATIO, measured_power, on_gpus, plain_number,  # noqa: E402
                        plural, read_columns)
from .traces import MAX_PLOTTED, RISE_FRACTION, draw_traces, trace_views  # noqa: E402

# Scraped text shown in a cell or paragraph, and in a plot's labels, is cut to this many characters.
DISPLAY_CHARS = 200
LABEL_CHARS = 40
PROBLEMS_SHOWN = 50


@dataclass
class Link:
    text: str
    url: str


@dataclass
class Table:
    headers: list[str]
    rows: list[list]
    key: str | None = None  # names the table in the HTML (data-table), for readers and checks


@dataclass
class Section:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    plot: str | None = None  # name of a plot in the plots dict


@dataclass
class Plot:
    png: bytes
    # What each drawn axes shows, read back from matplotlib after drawing: (x label, y label,
    # x tick labels, y tick labels), so the page can say what the axes are.
    axes: list[tuple[str, str, list[str], list[str]]] = field(default_factory=list)

    def describe(self) -> str:
        return "; ".join(f"x: {x}, y: {y}" for x, y, _, _ in self.axes) or "no data to plot"


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "–"
    if isinstance(value, float):
        return plain_number(value, 4)
    return shorten(str(value), DISPLAY_CHARS)


def _stat(value) -> str:
    """A computed figure (quartile, percentage, slope) to three significant digits."""
    return plain_number(value, 3)


def _median(value) -> str:
    """A median, like the figures it is taken from, to four significant digits."""
    return plain_number(value, 4)


def _span(low, high, digits: int = 3) -> str:
    """A range, or its one value when both ends agree (a single figure)."""
    if low is None:
        return "–"
    low, high = plain_number(low, digits), plain_number(high, digits)
    return low if low == high else f"{low}–{high}"


def _extent(stats: dict) -> str:
    """min–max of figures as the sources give them (four significant digits: 210.5 W stays 210.5)."""
    return _span(stats["min"], stats["max"], 4)


def _label(text, limit: int = LABEL_CHARS) -> str:
    """Scraped text as a plot label: short, and with "$" escaped (matplotlib would parse $...$ as
    math, and a malformed formula stops the drawing)."""
    text = str(text)
    text = text if len(text) <= limit else text[:limit - 1] + "…"
    return text.replace("$", r"\$")


def _links(urls, limit=3) -> list[Link]:
    return [Link(f"source {i}", url) for i, url in enumerate(urls[:limit], start=1)]


BATCH_LINES_SHOWN = 10
LOAD_LABELS = {"steady": "steady load or run average", "idle": "idle", "peak": "peak", "prefill": "prefill",
               "decode": "decode"}
# What a rated or estimated figure is (the rated table's "kind").
LEVEL_LABELS = {"rated": "rated (TDP-like)", "estimated": "estimated",
                "system_share": "estimate: whole-server power ÷ accelerators (includes the host's share)",
                "system_rated": "whole server, rated (not per GPU)",
                "system_estimated": "whole server, estimated (not per GPU)"}
SCOPE_LABELS = {"gpu": "GPU only", "gpu+cpu+ram": "GPU + CPU + RAM", "system": "whole server", None: "not stated"}
TASK_LABELS = {"text_generation": "text generation", "asr": "speech recognition (ASR)",
               "image_classification": "image classification", "text_classification": "text classification",
               "summarization": "summarisation", "image_generation": "image generation",
               "object_detection": "object detection", "sentence_similarity": "sentence similarity",
               "question_answering": "question answering"}
# The figure fields, as a reader names them (with their unit).
FIELD_LABELS = {"power_w": "power (W)", "energy_j": "energy (J)", "energy_per_token_j": "energy per token (J/token)",
                "energy_per_query_j": "energy per query (J/query)", "duration_s": "duration (s)",
                "gpu_hours": "GPU hours (h)", "co2_kg": "CO₂ (kg)",
                "throughput_tokens_per_s": "throughput (tokens/s)",
                "energy_score": "energy score (stars, 1–5)"}
QUANTITY_UNITS = {"power_w": "W", "energy_per_token_j": "J/token"}
COVERAGE_LABELS = {"by_source": "source", "by_gpu": "GPU", "by_workload": "workload",
                   "by_method": "measurement method"}


def _size_or_model(row: dict):
    if row["model_params_b"] is not None:
        return row["model_params_b"]
    return f"size not stated: {row['model']}" if row["model"] != MODEL_NOT_NAMED else "not stated"


def _task(task) -> str:
    return "task not stated" if not task else TASK_LABELS.get(task, str(task).replace("_", " "))


# --- plots ----------------------------------------------------------------------------------------

def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def _axes_text(figure) -> list[tuple[str, str, list[str], list[str]]]:
    return [(axes.get_xlabel(), axes.get_ylabel(), [t.get_text() for t in axes.get_xticklabels()],
             [t.get_text() for t in axes.get_yticklabels()]) for axes in figure.axes if axes.axison]


def _drawn(draw, *data) -> Plot:
    """A plot as PNG with what its axes show; if matplotlib cannot draw it (a valid figure of 1e308 J
    overflows the ticks), a plot that says so, and the report goes on."""
    figure = plt.figure(figsize=(8, 4))
    try:
        draw(figure, *data)
        return Plot(_png(figure), _axes_text(figure))
    except (ValueError, OverflowError) as error:
        plt.close(figure)
        figure = plt.figure(figsize=(8, 4))
        _message(figure, _label(f"this plot could not be drawn: {error}", 80))
        return Plot(_png(figure))
    finally:
        plt.close(figure)


def _message(figure, text: str) -> None:
    axes = figure.add_subplot()
    axes.text(0.5, 0.5, text, ha="center", va="center")
    axes.set_axis_off()


def _draw_power(figure, frame: pd.DataFrame) -> None:
    measured = measured_power(on_gpus(frame))
    measured = measured[measured["scope"].ne("system")]
    if measured.empty:
        _message(figure, "no measured steady-state inference power per GPU")
        return
    axes = figure.add_subplot()
    gpus = sorted(measured["gpu"].unique())
    groups = [measured.loc[measured["gpu"] == gpu, "power_w"].to_numpy(dtype=float) for gpu in gpus]
    axes.boxplot(groups, positions=range(len(gpus)), widths=0.5, showfliers=True)
    for position, gpu in enumerate(gpus):
        spec = spec_for(gpu)
        if spec and (spec.tdp_w or spec.power_ceiling_w):
            axes.hlines(spec.tdp_w or spec.power_ceiling_w, position - 0.35, position + 0.35, colors="tab:red")
    axes.set_xticks(range(len(gpus)), [_label(gpu) for gpu in gpus], rotation=30, ha="right")
    axes.set_xlabel("GPU")
    axes.set_ylabel("average power per GPU (W)")
    axes.set_title("Measured steady-state inference power per GPU (box: interquartile range; red: catalogue TDP)",
                   fontsize=9)


def _draw_energy_per_token(figure, frame: pd.DataFrame) -> None:
    tokens = on_gpus(frame)
    tokens = tokens[tokens["energy_per_token_j"].notna() & tokens["model_params_b"].notna()
                    & tokens["scope"].ne("system")]  # a whole server's joules are not a GPU's (table only)
    if tokens.empty:
        _message(figure, "no energy-per-token figures with a model size")
        return
    axes = figure.add_subplot()
    # One point per GPU and model size (the median), so a million records draw as fast as ten.
    medians = tokens.groupby(["gpu", "model_params_b"])["energy_per_token_j"].median()
    for gpu, group in medians.groupby(level=0):
        axes.plot(group.index.get_level_values(1), group.to_numpy(), marker="o", linestyle="", label=_label(gpu))
    for axis, values in ((axes.xaxis, medians.index.get_level_values(1)), (axes.yaxis, medians.to_numpy())):
        if len(values) and min(values) > 0 and max(values) / min(values) > 100:
            (axes.set_xscale if axis is axes.xaxis else axes.set_yscale)("log")
            axis.set_major_formatter(FuncFormatter(lambda value, _: plain_number(value, 3)))
            axis.set_minor_formatter(NullFormatter())
    axes.set_xlabel("model size (billions of parameters)")
    axes.set_ylabel("median energy per token (J/token)")
    axes.legend(fontsize=7, loc="upper left")
    axes.set_title("Energy per token against model size (whole-server figures: in the tables only)")


def _draw_batch_effect(figure, batches: list[dict]) -> None:
    if not batches:
        _message(figure, "no GPU and model with three or more batch sizes")
        return
    shown = batches[:BATCH_LINES_SHOWN]
    quantities = [q for q in QUANTITY_UNITS if any(entry["quantity"] == q for entry in shown)]
    names = {"power_w": "mean power per GPU", "energy_per_token_j": "mean energy per token"}
    for position, quantity in enumerate(quantities, start=1):
        axes = figure.add_subplot(1, len(quantities), position)
        for entry in shown:
            if entry["quantity"] == quantity:
                axes.plot(entry["batch_sizes"], entry["values"], marker="o",
                          label=f"{_label(entry['gpu'])} · {_label(entry['model'])} (r={_stat(entry['pearson_r'])})")
        axes.set_xlabel("batch size (requests per batch)")
        axes.set_ylabel(f"{names[quantity]} ({QUANTITY_UNITS[quantity]})")
        axes.legend(fontsize=7, loc="upper left")
    figure.suptitle(f"Batch-size effect (first {len(shown)} of {len(batches)}; all in the table)"
                    if len(batches) > len(shown) else "Batch-size effect")


def make_plots(frame: pd.DataFrame, synthesis: dict) -> dict[str, Plot]:
    frame = read_columns(frame)
    plots = {"power_by_gpu": _drawn(_draw_power, frame),
             "energy_per_token": _drawn(_draw_energy_per_token, frame),
             "batch_effect": _drawn(_draw_batch_effect, synthesis["batch_effects"])}
    views = trace_views(frame)
    if views:  # without a trace the section says so; an empty plot would say nothing more
        plots["traces"] = _drawn(draw_traces, views)
    return plots


# --- content --------------------------------------------------------------------------------------

def _assumed(result: dict) -> str:
    expected = result["expected"]
    if isinstance(expected, list):
        return f"{_median(expected[0])}–{_median(expected[1])} W"
    return f"{_median(expected)} W"


def _evidence(result: dict) -> str:
    stats = result["evidence_w"]
    if result.get("kind") == "tdp":
        if not stats["n"]:
            return (f"no published rated figure; catalogue: {_median(result['catalogue_w'])} W (not evidence)"
                    if result["catalogue_w"] else "no published rated figure")
        return f"{stats['n']} published rated: {_extent(stats)} W"
    if not stats["n"]:
        return "no measured figure"
    if stats["n"] == 1:
        return f"1 measured figure: {_median(stats['median'])} W"
    return (f"{stats['n']} measured: median {_median(stats['median'])} W, "
            f"min–max {_extent(stats)} W")


def _rack_plan_section(synthesis: dict) -> Section:
    plan = synthesis["rack_plan"]
    gpu = plan["gpu"]
    estimate = synthesis["h100_pcie_estimate"]
    steady = plan["loads"]["steady"]
    stats = estimate["power_w"]
    if estimate["basis"] == "direct":
        answer = (f"Steady-state inference power per {gpu} GPU: median {_median(stats['median'])} W; the middle half "
                  f"of the figures (interquartile range) lies at {_span(stats['q1'], stats['q3'])} W, all of them at "
                  f"{_extent(stats)} W. From {plural(stats['n'], 'measured figure')} in "
                  f"{plural(steady['documents'], 'document')}. Confidence: {steady['confidence']} ({steady['why']}).")
    elif estimate["basis"] == "inferred":
        answer = (f"No measured {gpu} inference power was found. Inferred from other GPUs' fraction of their TDP: "
                  f"interquartile range {_span(*estimate['band_w'])} W, median {_median(stats['median'])} W. "
                  "Confidence: medium (another GPU's behaviour scaled).")
    else:
        answer = f"No evidence for the {gpu}'s steady-state inference power was found."
    loads = Table(["load", "figures", "median (W)", "interquartile range (W)", "min–max (W)", "confidence"],
                  [[LOAD_LABELS[phase], entry["power_w"]["n"], _median(entry["power_w"]["median"]),
                    _span(entry["power_w"]["q1"], entry["power_w"]["q3"]),
                    _extent(entry["power_w"]), entry["confidence"]]
                   for phase, entry in plan["loads"].items()], key="rack_plan_loads")
    results = synthesis["assumptions"]["results"]
    verdicts = Table(["assumption", "assumed", "crawled evidence", "verdict", "confidence"],
                     [[a["name"], _assumed(a), _evidence(a), a["verdict"], a["confidence"]] for a in results],
                     key="rack_plan_assumptions")
    missing = Table(["what the crawled evidence does not cover"], [[item] for item in plan["missing"]],
                    key="rack_plan_missing")
    return Section(f"{gpu} power for a rack plan", [
        answer, "All figures here are per GPU (whole servers at the wall follow, kept apart): by load, then the "
        "assumptions checked, then what is missing."], [loads, verdicts, missing])


def _rack_plan_servers_section(synthesis: dict) -> Section | None:
    """The target GPU's whole servers at the wall, beside the per-GPU answer and never in it."""
    plan = synthesis["rack_plan"]
    if not plan["whole_server"]:
        return None
    gpu, share = plan["gpu"], plan["system_share"]
    return Section(f"Whole {gpu} servers at the wall", [
        f"Measured power of whole {gpu} servers (CPUs, memory, fans and power-supply losses included), by "
        "accelerators per server and load: what a rack's power feed sees, but no per-GPU figure."
        + (f" Divided by their accelerators they give {_median(share['power_w']['median'])} W per GPU (median of "
           f"{plural(share['power_w']['n'], 'estimate')}): an estimate that holds the host's share, so more than "
           "one GPU draws, and in none of the per-GPU figures above." if share else "")],
        [_whole_server_table(plan["whole_server"], "rack_plan_whole_server")])


def _whole_server_table(rows: list[dict], key: str) -> Table:
    """Whole servers at the wall: by GPU, accelerators per server and load, compared with the TDPs of
    all their accelerators together (none where the count is not stated)."""
    return Table(["GPU", "accelerators per server", "load", "figures", "median (W)", "min–max (W)",
                  "accelerators × catalogue TDP (W)", "median / (accelerators × TDP) (%)", "sources"],
                 [[r["gpu"], r["accelerators"] or "not stated", LOAD_LABELS.get(r["load"], r["load"]),
                   r["power_w"]["n"], _median(r["power_w"]["median"]), _extent(r["power_w"]),
                   _median(r["compared_tdp_w"]),
                   _stat(None if r["fraction_of_tdp"]["median"] is None else 100 * r["fraction_of_tdp"]["median"]),
                   _links(r["sources"])] for r in rows], key=key)


def _traces_section(synthesis: dict, has_plot: bool) -> Section:
    traces = synthesis["traces"]
    criteria = {c["criterion"]: c for c in synthesis["success_criteria"]}
    available, transitions = criteria["power traces"], criteria["idle→inference transitions"]
    verdict = ("The plan's stretch criterion, judged from these traces: power traces "
               f"{'available' if available['met'] else 'not available'} ({available['figure']}); idle → load "
               f"transitions {'seen' if transitions['met'] else 'not seen'} ({transitions['figure']}).")
    how = ("Each trace as its source gives it, in watts, of what its record covers: one GPU, or the whole server "
           "at the wall (drawn on axes of their own). Where the trace says where the load runs (an MLPerf timed "
           "run), idle is the median of the quietest quarter of the readings before it and load the mean of those "
           "inside it; otherwise idle is the median of the quietest quarter of all readings and load the mean of "
           "the busiest quarter. Rise: seconds from the load's start to the first reading "
           f"{RISE_FRACTION * 100:g} % of the way from idle to load (no finer than the sampling interval). "
           f"A transition counts when the load level is at least {TRANSITION_RATIO:g} times the idle level. The "
           "sampling interval is that of the readings kept (a long MLPerf run is kept as means of blocks of readings).")
    shown = (f" The plot shows the {MAX_PLOTTED} longest." if has_plot and len(traces) > MAX_PLOTTED else "")
    table = Table(["trace", "GPU or server", "measured for", "readings", "sampling interval (s)", "idle level (W)",
                   "load level (W)", "load / idle", f"rise to {RISE_FRACTION * 100:g} % (s)", "source"],
                  [[t["label"], t["hardware"] or "not named", "whole server (at the wall)" if t["scope"] == "system"
                    else "per GPU", t["readings"], _stat(t["interval_s"]), _median(t["idle_w"]),
                    _median(t["load_w"]), _stat(t["load_to_idle"]), _stat(t["rise_s"]), Link("source", t["url"])]
                   for t in traces], key="traces")
    # How the levels are read matters only where there are levels to read.
    return Section("Power traces: idle → load", [verdict, how + shown] if traces else [verdict], [table],
                   plot="traces" if has_plot else None)


def build_sections(synthesis: dict, tools: list[dict], has_traces_plot: bool = False) -> list[Section]:
    """The report's sections; ``has_traces_plot`` when make_plots drew the traces (there are some)."""
    coverage = synthesis["coverage"]
    criteria = synthesis["success_criteria"]
    met = sum(1 for c in criteria if c["met"])
    sections = [_rack_plan_section(synthesis)]
    servers = _rack_plan_servers_section(synthesis)
    sections += [servers] if servers else []
    sections.append(Section("Coverage", [
        f"{coverage['records']} records from {len(coverage['by_source'])} sources; {coverage['h100_pcie_records']} "
        f"on the H100 PCIe"
        + (f" ({coverage['h100_pcie_system_records']} of them of whole servers, or estimates from them)"
           if coverage.get("h100_pcie_system_records") else "")
        + f". Success criteria met: {met} of {len(criteria)}.",
        f"Records from CPU-only runs ({coverage['cpu_only_records']}) and records naming no hardware "
        f"(\"not stated\", {coverage['by_gpu'].get('not stated', 0)}) are left out of every GPU table and plot. "
        "A GPU name the catalogue does not know is shown as written."], [
        Table(["grouped by", "value", "records"], [[COVERAGE_LABELS[group], key, count]
                                                   for group in COVERAGE_LABELS
                                                   for key, count in coverage[group].items()], key="coverage")]))
    rows = synthesis["power_by_gpu"]
    per_gpu = [r for r in rows if r["level"] == "gpu"]
    sections.append(Section(
        "Steady-state inference power per GPU",
        ["Measured per-GPU inference figures at a steady load, or averaged over a run when the source states no "
         "phase; whole servers measured at the wall have a section of their own below. The TDP is the project's "
         "catalogue figure. Interquartile range: the middle half of the figures."],
        [Table(["GPU", "figures", "median (W)", "interquartile range (W)", "min–max (W)",
                "median / TDP (%)", "sources"],
               [[r["gpu"], r["power_w"]["n"], _median(r["power_w"]["median"]),
                 _span(r["power_w"]["q1"], r["power_w"]["q3"]), _extent(r["power_w"]),
                 _stat(None if r["fraction_of_tdp"]["median"] is None else 100 * r["fraction_of_tdp"]["median"]),
                 _links(r["sources"])] for r in per_gpu if r["load"] == "steady"], key="power_steady")],
        plot="power_by_gpu"))
    sections.append(Section(
        "Idle and peak power per GPU", ["Measured per-GPU inference figures the source states as idle, peak or "
                                        "another phase; never mixed with the steady figures above."],
        [Table(["GPU", "load", "figures", "median (W)", "min–max (W)", "sources"],
               [[r["gpu"], LOAD_LABELS.get(r["load"], r["load"]), r["power_w"]["n"],
                 _median(r["power_w"]["median"]), _extent(r["power_w"]),
                 _links(r["sources"])] for r in per_gpu if r["load"] != "steady"], key="power_other_loads")]))
    sections.append(Section(
        "Whole server at the wall", [
            "Measured power of whole servers at the wall (accelerators, CPUs, memory, fans and power-supply losses "
            "together; MLPerf Inference power runs), by GPU, accelerators per server and load. A server's figure is "
            "compared with the catalogue TDP of all its accelerators together, and with none where it does not say "
            "how many it holds. These figures are in no per-GPU table, median or verdict."],
        [_whole_server_table([r for r in rows if r["level"] == "system"], "power_whole_server")]))
    sections.append(Section(
        "Rated and estimated figures per GPU", ["Figures the sources give as a rating (TDP, \"peak power "
                                                "capacity\") or an estimate: not measurements, and in no "
                                                "median of measured figures. A whole server's power divided by "
                                                "its accelerators is such an estimate: it holds the host's share "
                                                "too, so it is more than one accelerator draws."],
        [Table(["GPU", "kind", "figures", "median (W)", "min–max (W)", "catalogue TDP (W)", "sources"],
               [[r["gpu"], LEVEL_LABELS[r["level"]], r["power_w"]["n"], _median(r["power_w"]["median"]),
                 _extent(r["power_w"]), _median(r["tdp_w"]), _links(r["sources"])]
                for r in rows if r["level"] not in ("gpu", "system")], key="power_rated")]))
    sections.append(_traces_section(synthesis, has_traces_plot))
    energy = synthesis["energy_by_gpu_and_size"]
    energy_headers = {"energy_per_token_j": "J/token", "energy_per_query_j": "J/query"}
    sections.append(Section("Energy per token and per query, by task", [
        "One row per task, GPU, model size and what the energy covers: a speech-recognition query and a "
        "70-billion-parameter model's answer are not compared."], [
        Table(["task", "GPU", "model size (billion parameters) or model", "energy covers", "figures",
               f"median ({unit})", f"min–max ({unit})", "sources"],
              [[_task(r["task"]), r["gpu"], _size_or_model(r),
                SCOPE_LABELS.get(r["scope"], r["scope"]), r["n"],
                _median(r["median"]), _extent(r), _links(r["sources"])]
               for r in energy if r["quantity"] == quantity], key=quantity.removesuffix("_j"))
        for quantity, unit in energy_headers.items()], plot="energy_per_token"))
    sections.append(Section("Batch-size effect", [
        "Wherever a GPU and model have three or more batch sizes; power at a steady load only, per-GPU figures "
        "only (whole servers left out). Pearson r runs from −1 to 1 (no unit)."], [
        Table(["quantity", "GPU", "model", "batch sizes (requests)", "slope (per request added)", "Pearson r",
               "sources"],
              [[FIELD_LABELS[b["quantity"]], b["gpu"], b["model"], ", ".join(map(str, b["batch_sizes"])),
                f"{_stat(b['slope_per_batch'])} {QUANTITY_UNITS[b['quantity']]}", _stat(b["pearson_r"]),
                _links(b["sources"])] for b in synthesis["batch_effects"]], key="batch_effects")],
        plot="batch_effect"))
    checks = synthesis["validation"]
    sections.append(Section("Validation", [
        f"{len(checks['above_tdp'])} above TDP, {len(checks['outliers'])} outliers, "
        f"{len(checks['zeros'])} zeros that mean not measured, {len(checks['no_figure'])} without a figure. "
        "An outlier is compared only with figures of its own GPU, workload, load and kind."],
        [Table(["check", "GPU", "load", "model", "power (W)", "source"],
               [[c["reason"], c["gpu"], LOAD_LABELS.get(c["load"], c["load"]), c["model"], c["power_w"],
                 Link("source", c["url"])]
                for key in ("above_tdp", "outliers", "zeros", "no_figure") for c in checks[key]], key="validation")]))
    assumptions = synthesis["assumptions"]
    sections.append(Section(f"Assumptions ({assumptions['gpu']}, {assumptions['workload']})", [
        "Each assumption is judged from crawled documents only. A TDP is compared with the rated figures "
        "documents publish; the project's GPU catalogue is where assumed TDPs come from, so a verdict resting "
        "on it alone is \"not judged (catalogue only)\". A power band is supported when the median of the "
        "measured per-GPU figures of its load lies inside it."], [
        Table(["assumption", "assumed", "judged from", "crawled evidence", "verdict", "confidence", "why",
               "sources"],
              [[a["name"], _assumed(a), a["basis"], a.get("note") or _evidence(a), a["verdict"], a["confidence"],
                a["why"], _links(a["sources"])] for a in assumptions["results"]], key="assumptions")]))
    sections.append(Section("Confidence", tables=[
        Table(["finding", "confidence", "why"], [[f["finding"], f["confidence"], f["why"]] for f in synthesis["confidence"]])]))
    sections.append(Section("Success criteria", tables=[
        Table(["level", "criterion", "met", "figure"],
              [[c["level"], c["criterion"], "yes" if c["met"] else "no", c["figure"]] for c in criteria])]))
    sections.append(Section("Community: tools and practices", tables=[
        Table(["tool or practice", "discussions", "posts", "links"],
              [[t["tool"], t["discussions"], t["posts"], _links(t["links"])] for t in tools])]))
    sections += _input_sections(synthesis["input"])
    return sections


def _input_sections(read: dict) -> list[Section]:
    """What was left out of the input, and ids whose crawls disagree."""
    sections = []
    problems = read["problems"]
    if problems["count"]:
        kinds = ", ".join(f"{count} {kind}" for kind, count in problems["by_kind"].items())
        fields = ", ".join(f"{name} {count}" for name, count in problems["by_field"].items())
        shown = problems["listed"][:PROBLEMS_SHOWN]
        sections.append(Section("Input problems", [
            f"{problems['count']} lines or records left out ({kinds})."
            + (f" Fields at fault: {fields}." if fields else ""),
            f"The first {len(shown)} follow; synthesis.json lists up to {problems['listed_limit']}."],
            [Table(["file", "line", "reason"], [[p["file"], p["line"], p["reason"]] for p in shown])]))
    disagreeing = read["disagreeing_duplicates"]
    if disagreeing["count"]:
        sections.append(Section("Duplicates that disagree", [
            f"{disagreeing['count']} ids were read more than once with different figures; the latest "
            "retrieved_at is kept. The first follow (oldest value first)."],
            [Table(["id", "figure", "values", "kept (retrieved at)", "source"],
                   [[d["id"], FIELD_LABELS.get(name, name), " → ".join(_fmt(v[name]) for v in d["versions"]),
                     d["kept"], Link("source", d["url"])]
                    for d in disagreeing["listed"][:PROBLEMS_SHOWN] for name in d["fields"]])]))
    return sections


# --- rendering ------------------------------------------------------------------------------------

# Markdown escaping, for scraped text. CommonMark lets any ASCII punctuation be backslash-escaped;
# these are the characters that open HTML (tags, entities), links, code, emphasis, strikethrough or
# end a table cell. The others only mean something at the start of a paragraph (_MD_BLOCK_START).
_MD_INLINE = re.compile(r"([\\`*_\[\]<>&|~])")
# Anything a renderer (or str.splitlines) takes for a line break would end a table row or paragraph.
_MD_BREAKS = re.compile(r"[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]")
# What would make a paragraph a heading, quote, list item, rule or setext underline.
_MD_BLOCK_START = re.compile(r"^(\d*)([#>+\-=.)])")


def _md_text(text: str) -> str:
    return _MD_INLINE.sub(r"\\\1", _MD_BREAKS.sub(" ", text))


def _md_paragraph(text: str) -> str:
    # Leading spaces would make an indented code block.
    return _MD_BLOCK_START.sub(r"\1\\\2", _md_text(text).lstrip())


def _md_url(url: str) -> str:
    """A link destination that cannot leave its <...>: spaces, brackets, pipes, line breaks and any
    non-ASCII character percent-encoded."""
    return quote(url, safe="!#$%&'()*+,/:;=?@[]~-._")


def _md_cell(value) -> str:
    if isinstance(value, list):
        return " ".join(_md_cell(v) for v in value)
    if isinstance(value, Link):
        text = _md_text(value.text)
        return f"[{text}](<{_md_url(value.url)}>)" if value.url.startswith(("http://", "https://")) else text
    return _md_text(_fmt(value))


def render_markdown(sections: list[Section], plots: dict[str, Plot], plot_files: dict[str, str]) -> str:
    lines = ["# GPU power evidence: synthesis report", ""]
    for section in sections:
        lines += [f"## {_md_text(section.title)}", ""]
        lines += [f"{_md_paragraph(p)}\n" for p in section.paragraphs]
        for table in section.tables:
            if not table.rows:
                lines += ["(none)", ""]
                continue
            lines.append("| " + " | ".join(table.headers) + " |")
            lines.append("|" + "---|" * len(table.headers))
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
            lines.append("")
        if section.plot:
            plot = plots[section.plot]
            lines += [f"![{_md_text(section.title)} ({_md_text(plot.describe())})]({plot_files[section.plot]})", ""]
    return "\n".join(lines)


def _html_cell(value) -> str:
    if isinstance(value, list):
        return " ".join(_html_cell(v) for v in value)
    if isinstance(value, Link):
        if value.url.startswith(("http://", "https://")):
            return (f'<a href="{html.escape(value.url, quote=True)}" rel="nofollow noopener noreferrer">'
                    f"{html.escape(value.text)}</a>")
        return html.escape(value.text)
    return html.escape(_fmt(value))


def render_html(sections: list[Section], plots: dict[str, Plot]) -> str:
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             # No script runs in this page, whatever the scraped text holds.
             "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">",
             "<title>GPU power evidence: synthesis report</title>",
             "<style>body{font-family:sans-serif;max-width:70em;margin:auto;padding:1em}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.2em .5em;"
             "font-size:.9em;vertical-align:top}img{max-width:100%}</style></head><body>",
             "<h1>GPU power evidence: synthesis report</h1>"]
    for section in sections:
        parts.append(f"<h2>{html.escape(section.title)}</h2>")
        parts += [f"<p>{html.escape(p)}</p>" for p in section.paragraphs]
        for table in section.tables:
            if not table.rows:
                parts.append("<p>(none)</p>")
                continue
            key = f' data-table="{html.escape(table.key, quote=True)}"' if table.key else ""
            parts.append(f"<table{key}><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in table.headers) + "</tr>")
            parts += ["<tr>" + "".join(f"<td>{_html_cell(c)}</td>" for c in row) + "</tr>" for row in table.rows]
            parts.append("</table>")
        if section.plot:
            plot = plots[section.plot]
            data = base64.b64encode(plot.png).decode("ascii")
            # The axes as drawn (labels and tick labels), for readers of the page without the image.
            axes = json.dumps([{"x": x, "y": y, "x_ticks": x_ticks, "y_ticks": y_ticks}
                               for x, y, x_ticks, y_ticks in plot.axes], ensure_ascii=False)
            parts.append(f'<img class="plot" alt="{html.escape(section.title)} ({html.escape(plot.describe())})" '
                         f'data-axes="{html.escape(axes, quote=True)}" src="data:image/png;base64,{data}">')
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(frame: pd.DataFrame, synthesis: dict, tools: list[dict], out: Path) -> tuple[Path, Path]:
    plots = make_plots(frame, synthesis)
    plot_dir = out / "plots"
    plot_dir.mkdir(parents=True, exist_ok=True)
    plot_files = {}
    for name, plot in plots.items():
        (plot_dir / f"{name}.png").write_bytes(plot.png)
        plot_files[name] = f"plots/{name}.png"
    sections = build_sections(synthesis, tools, "traces" in plots)
    markdown, page = out / "report.md", out / "report.html"
    markdown.write_text(render_markdown(sections, plots, plot_files), "utf-8")
    page.write_text(render_html(sections, plots), "utf-8")
    return markdown, page
