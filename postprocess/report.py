"""The report, in Markdown and in self-contained HTML (plots embedded), from the synthesis.

Both are rendered from one list of sections. Every piece of scraped text is escaped in HTML and
links are only ever http(s) URLs.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import pandas as pd  # noqa: E402

from crawler.extract.gpus import spec_for  # noqa: E402

from .synthesis import measured_power  # noqa: E402


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
    return str(value)


def _links(urls, limit=3) -> list[Link]:
    return [Link(f"source {i}", url) for i, url in enumerate(urls[:limit], start=1)]


BATCH_LINES_SHOWN = 10

# --- plots ----------------------------------------------------------------------------------------

def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def make_plots(frame: pd.DataFrame, synthesis: dict) -> dict[str, bytes]:
    plots = {}
    measured = measured_power(frame)
    measured = measured[measured["gpu"].notna()]
    figure, axes = plt.subplots(figsize=(8, 4))
    if measured.empty:
        axes.text(0.5, 0.5, "no measured steady-state inference power", ha="center", va="center")
    else:
        gpus = sorted(measured["gpu"].unique())
        groups = [measured.loc[measured["gpu"] == gpu, "power_w"].to_numpy(dtype=float) for gpu in gpus]
        axes.boxplot(groups, positions=range(len(gpus)), widths=0.5, showfliers=True)
        for position, gpu in enumerate(gpus):
            spec = spec_for(gpu)
            if spec and (spec.tdp_w or spec.power_ceiling_w):
                axes.hlines(spec.tdp_w or spec.power_ceiling_w, position - 0.35, position + 0.35, colors="tab:red")
        axes.set_xticks(range(len(gpus)), gpus, rotation=30, ha="right")
        axes.set_ylabel("average power per GPU (W)")
        axes.set_title("Measured inference power by GPU (red: TDP)")
    plots["power_by_gpu"] = _png(figure)

    figure, axes = plt.subplots(figsize=(8, 4))
    tokens = frame[frame["energy_per_token_j"].notna() & frame["model_params_b"].notna()]
    if tokens.empty:
        axes.text(0.5, 0.5, "no energy-per-token figures with a model size", ha="center", va="center")
    else:
        # One point per GPU and model size (the median), so a million records draw as fast as ten.
        medians = tokens.groupby([tokens["gpu"].fillna("unknown"), "model_params_b"])["energy_per_token_j"].median()
        for gpu, group in medians.groupby(level=0):
            axes.plot(group.index.get_level_values(1), group.to_numpy(), marker="o", linestyle="", label=gpu)
        axes.set_xscale("log")
        axes.set_xlabel("model size (billions of parameters)")
        axes.set_ylabel("median energy per token (J)")
        axes.legend(fontsize=7, loc="upper left")
        axes.set_title("Energy per token against model size")
    plots["energy_per_token"] = _png(figure)

    figure, axes = plt.subplots(figsize=(8, 4))
    batches = synthesis["batch_effects"]
    if not batches:
        axes.text(0.5, 0.5, "no GPU and model with three or more batch sizes", ha="center", va="center")
    else:
        shown = batches[:BATCH_LINES_SHOWN]
        for entry in shown:
            axes.plot(entry["batch_sizes"], entry["values"], marker="o",
                      label=f"{entry['gpu']} · {entry['model']} · {entry['quantity']} (r={_fmt(entry['pearson_r'])})")
        axes.set_xlabel("batch size")
        axes.legend(fontsize=7, loc="upper left")
        if len(batches) > len(shown):
            axes.set_title(f"Batch-size effect (first {len(shown)} of {len(batches)}; all in the table)")
        axes.set_title("Batch-size effect")
    plots["batch_effect"] = _png(figure)
    return plots


# --- content --------------------------------------------------------------------------------------

def build_sections(synthesis: dict, tools: list[dict], load_problems: list[str]) -> list[Section]:
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
    if load_problems:
        sections.append(Section("Input problems", [f"{len(load_problems)} lines skipped while loading:"] + load_problems[:50]))
    return sections


# --- rendering ------------------------------------------------------------------------------------

def _md_cell(value) -> str:
    if isinstance(value, list):
        return " ".join(_md_cell(v) for v in value)
    if isinstance(value, Link):
        return f"[{value.text}](<{value.url}>)" if value.url.startswith(("http://", "https://")) else value.text
    return _fmt(value).replace("|", "\\|").replace("\n", " ")


def render_markdown(sections: list[Section], plot_files: dict[str, str]) -> str:
    lines = ["# GPU power evidence: synthesis report", ""]
    for section in sections:
        lines += [f"## {section.title}", ""]
        lines += [f"{p}\n" for p in section.paragraphs]
        for table in section.tables:
            if not table.rows:
                lines += ["(none)", ""]
                continue
            lines.append("| " + " | ".join(table.headers) + " |")
            lines.append("|" + "---|" * len(table.headers))
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
            lines.append("")
        if section.plot:
            lines += [f"![{section.title}]({plot_files[section.plot]})", ""]
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


def write_report(frame: pd.DataFrame, synthesis: dict, tools: list[dict], load_problems: list[str],
                 out: Path) -> tuple[Path, Path]:
    plots = make_plots(frame, synthesis)
    plot_dir = out / "plots"
    plot_dir.mkdir(parents=True, exist_ok=True)
    plot_files = {}
    for name, png in plots.items():
        (plot_dir / f"{name}.png").write_bytes(png)
        plot_files[name] = f"plots/{name}.png"
    sections = build_sections(synthesis, tools, load_problems)
    markdown, page = out / "report.md", out / "report.html"
    markdown.write_text(render_markdown(sections, plot_files), "utf-8")
    page.write_text(render_html(sections, plots), "utf-8")
    return markdown, page
