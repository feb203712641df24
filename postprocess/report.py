"""The report, in Markdown and in self-contained HTML (plots embedded), from the synthesis.

Both are rendered from one list of sections. Every piece of scraped text is escaped, in HTML and
in Markdown (where it can neither open a tag nor form a link), shortened for display (a GPU name may
be a megabyte long), and links are only ever http(s) URLs.
"""

from __future__ import annotations

import base64
import html
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import pandas as pd  # noqa: E402

from crawler.extract.gpus import spec_for  # noqa: E402

from .schema_check import shorten  # noqa: E402
from .synthesis import measured_power  # noqa: E402

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


@dataclass
class Section:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    plot: str | None = None  # name of a plot in the plots dict


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return shorten(str(value), DISPLAY_CHARS)


def _label(text, limit: int = LABEL_CHARS) -> str:
    """Scraped text as a plot label: short, and with "$" escaped (matplotlib would parse $...$ as
    math, and a malformed formula stops the drawing)."""
    text = str(text)
    text = text if len(text) <= limit else text[:limit - 1] + "…"
    return text.replace("$", r"\$")


def _links(urls, limit=3) -> list[Link]:
    return [Link(f"source {i}", url) for i, url in enumerate(urls[:limit], start=1)]


BATCH_LINES_SHOWN = 10

# --- plots ----------------------------------------------------------------------------------------

def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def _drawn(draw, *data) -> bytes:
    """A plot as PNG; if matplotlib cannot draw it (a valid figure of 1e308 J overflows the ticks),
    a plot that says so, and the report goes on."""
    figure, axes = plt.subplots(figsize=(8, 4))
    try:
        draw(axes, *data)
        return _png(figure)
    except (ValueError, OverflowError) as error:
        plt.close(figure)
        figure, axes = plt.subplots(figsize=(8, 4))
        axes.text(0.5, 0.5, _label(f"this plot could not be drawn: {error}", 80), ha="center", va="center")
        return _png(figure)


def _draw_power(axes, frame: pd.DataFrame) -> None:
    measured = measured_power(frame)
    measured = measured[measured["gpu"].notna()]
    if measured.empty:
        axes.text(0.5, 0.5, "no measured steady-state inference power", ha="center", va="center")
        return
    gpus = sorted(measured["gpu"].unique())
    groups = [measured.loc[measured["gpu"] == gpu, "power_w"].to_numpy(dtype=float) for gpu in gpus]
    axes.boxplot(groups, positions=range(len(gpus)), widths=0.5, showfliers=True)
    for position, gpu in enumerate(gpus):
        spec = spec_for(gpu)
        if spec and (spec.tdp_w or spec.power_ceiling_w):
            axes.hlines(spec.tdp_w or spec.power_ceiling_w, position - 0.35, position + 0.35, colors="tab:red")
    axes.set_xticks(range(len(gpus)), [_label(gpu) for gpu in gpus], rotation=30, ha="right")
    axes.set_ylabel("average power per GPU (W)")
    axes.set_title("Measured inference power by GPU (red: TDP)")


def _draw_energy_per_token(axes, frame: pd.DataFrame) -> None:
    tokens = frame[frame["energy_per_token_j"].notna() & frame["model_params_b"].notna()]
    if tokens.empty:
        axes.text(0.5, 0.5, "no energy-per-token figures with a model size", ha="center", va="center")
        return
    # One point per GPU and model size (the median), so a million records draw as fast as ten.
    medians = tokens.groupby([tokens["gpu"].fillna("unknown"), "model_params_b"])["energy_per_token_j"].median()
    for gpu, group in medians.groupby(level=0):
        axes.plot(group.index.get_level_values(1), group.to_numpy(), marker="o", linestyle="", label=_label(gpu))
    axes.set_xscale("log")
    axes.set_xlabel("model size (billions of parameters)")
    axes.set_ylabel("median energy per token (J)")
    axes.legend(fontsize=7, loc="upper left")
    axes.set_title("Energy per token against model size")


def _draw_batch_effect(axes, batches: list[dict]) -> None:
    if not batches:
        axes.text(0.5, 0.5, "no GPU and model with three or more batch sizes", ha="center", va="center")
        return
    shown = batches[:BATCH_LINES_SHOWN]
    for entry in shown:
        axes.plot(entry["batch_sizes"], entry["values"], marker="o",
                  label=f"{_label(entry['gpu'])} · {_label(entry['model'])} · {entry['quantity']} "
                        f"(r={_fmt(entry['pearson_r'])})")
    axes.set_xlabel("batch size")
    axes.legend(fontsize=7, loc="upper left")
    axes.set_title(f"Batch-size effect (first {len(shown)} of {len(batches)}; all in the table)"
                   if len(batches) > len(shown) else "Batch-size effect")


def make_plots(frame: pd.DataFrame, synthesis: dict) -> dict[str, bytes]:
    return {"power_by_gpu": _drawn(_draw_power, frame),
            "energy_per_token": _drawn(_draw_energy_per_token, frame),
            "batch_effect": _drawn(_draw_batch_effect, synthesis["batch_effects"])}


# --- content --------------------------------------------------------------------------------------

def build_sections(synthesis: dict, tools: list[dict]) -> list[Section]:
    estimate = synthesis["h100_pcie_estimate"]
    coverage = synthesis["coverage"]
    criteria = synthesis["success_criteria"]
    met = sum(1 for c in criteria if c["met"])
    band = estimate["band_w"]
    grade = next((f["confidence"] for f in synthesis["confidence"] if f["finding"].startswith("H100 PCIe")), "none")
    summary = Section("Summary", [
        f"{coverage['records']} measurements from {len(coverage['by_source'])} sources; "
        f"{coverage['h100_pcie_records']} on H100 PCIe.",
        (f"H100 PCIe steady-state inference power: {_fmt(band[0])}–{_fmt(band[1])} W "
         f"(median {_fmt(estimate['power_w']['median'])} W, basis: {estimate['basis']}, confidence: {grade})."
         if estimate["basis"] != "none" else "No evidence yet for H100 PCIe steady-state inference power."),
        f"Success criteria met: {met} of {len(criteria)}.",
    ])
    sections = [summary]
    sections.append(Section("Coverage", tables=[
        Table(["by", "value", "records"], [[group, key, count] for group in ("by_source", "by_gpu", "by_workload", "by_method")
                                            for key, count in coverage[group].items()])]))
    sections.append(Section(
        "Steady-state inference power per GPU",
        ["Measured figures only, per GPU; system-level (whole server) figures and rated or estimated "
         "figures are shown on rows of their own."],
        [Table(["GPU", "level", "n", "median W", "IQR W", "range W", "median / TDP", "sources"],
               [[r["gpu"], r["level"], r["power_w"]["n"], r["power_w"]["median"],
                 f"{_fmt(r['power_w']['q1'])}–{_fmt(r['power_w']['q3'])}",
                 f"{_fmt(r['power_w']['min'])}–{_fmt(r['power_w']['max'])}", r["fraction_of_tdp"]["median"],
                 _links(r["sources"])] for r in synthesis["power_by_gpu"]])],
        plot="power_by_gpu"))
    estimate_text = {"direct": "Direct H100 PCIe measurements.",
                     "inferred": "Inferred: no direct H100 PCIe measurement; the fraction of TDP drawn by A100 "
                                 "and H100 SXM was applied to 350 W.",
                     "none": "No H100 PCIe, A100 or H100 SXM measured inference power to go on."}[estimate["basis"]]
    sections.append(Section("H100 PCIe estimate", [estimate_text, f"Band: {_fmt(band[0])}–{_fmt(band[1])} W."],
                            [Table(["source"], [[link] for link in _links(estimate.get("sources", []), 20)])]))
    sections.append(Section("Energy per token and per query", tables=[
        Table(["quantity", "GPU", "model size (B)", "n", "median J", "range J", "sources"],
              [[r["quantity"], r["gpu"], r["model_params_b"], r["n"], r["median"],
                f"{_fmt(r['min'])}–{_fmt(r['max'])}", _links(r["sources"])]
               for r in synthesis["energy_by_gpu_and_size"]])], plot="energy_per_token"))
    sections.append(Section("Batch-size effect", ["Wherever a GPU and model have three or more batch sizes."], [
        Table(["quantity", "GPU", "model", "batch sizes", "slope per batch", "Pearson r", "sources"],
              [[b["quantity"], b["gpu"], b["model"], ", ".join(map(str, b["batch_sizes"])), b["slope_per_batch"],
                b["pearson_r"], _links(b["sources"])] for b in synthesis["batch_effects"]])], plot="batch_effect"))
    checks = synthesis["validation"]
    sections.append(Section("Validation", [
        f"{len(checks['above_tdp'])} above TDP, {len(checks['outliers'])} outliers, "
        f"{len(checks['zeros'])} zeros that mean not measured, {len(checks['no_figure'])} without a figure."],
        [Table(["check", "GPU", "model", "power W", "source"],
               [[c["reason"], c["gpu"], c["model"], c["power_w"], Link("source", c["url"])]
                for key in ("above_tdp", "outliers", "zeros", "no_figure") for c in checks[key]])]))
    assumptions = synthesis["assumptions"]
    sections.append(Section(f"Assumptions ({assumptions['gpu']}, {assumptions['workload']})", tables=[
        Table(["assumption", "expected", "n", "evidence", "verdict", "sources"],
              [[a["name"], a["expected"], a["n"],
                a["evidence_w"] if not isinstance(a["evidence_w"], dict) else
                f"median {_fmt(a['evidence_w']['median'])} W, range {_fmt(a['evidence_w']['min'])}–{_fmt(a['evidence_w']['max'])}",
                a["verdict"], _links([s for s in a["sources"] if s.startswith("http")])]
               for a in assumptions["results"]])]))
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
            [Table(["id", "field", "values", "kept", "source"],
                   [[d["id"], name, " → ".join(_fmt(v[name]) for v in d["versions"]), d["kept"],
                     Link("source", d["url"])]
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


def render_markdown(sections: list[Section], plot_files: dict[str, str]) -> str:
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
            lines += [f"![{_md_text(section.title)}]({plot_files[section.plot]})", ""]
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


def render_html(sections: list[Section], plots: dict[str, bytes]) -> str:
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
            parts.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in table.headers) + "</tr>")
            parts += ["<tr>" + "".join(f"<td>{_html_cell(c)}</td>" for c in row) + "</tr>" for row in table.rows]
            parts.append("</table>")
        if section.plot:
            data = base64.b64encode(plots[section.plot]).decode("ascii")
            parts.append(f'<img class="plot" alt="{html.escape(section.title)}" src="data:image/png;base64,{data}">')
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(frame: pd.DataFrame, synthesis: dict, tools: list[dict], out: Path) -> tuple[Path, Path]:
    plots = make_plots(frame, synthesis)
    plot_dir = out / "plots"
    plot_dir.mkdir(parents=True, exist_ok=True)
    plot_files = {}
    for name, png in plots.items():
        (plot_dir / f"{name}.png").write_bytes(png)
        plot_files[name] = f"plots/{name}.png"
    sections = build_sections(synthesis, tools)
    markdown, page = out / "report.md", out / "report.html"
    markdown.write_text(render_markdown(sections, plot_files), "utf-8")
    page.write_text(render_html(sections, plots), "utf-8")
    return markdown, page
