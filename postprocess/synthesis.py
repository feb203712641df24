"""The numbers of the report: the rack-plan answer for the H100 PCIe (per-GPU power by load, how
sure, what is missing), coverage, power per GPU and load, the H100 PCIe estimate, energy per token
and query by task, batch-size effects, validation lists, assumption verdicts, confidence grades and
the plan's success criteria. Everything here is a pure function of the merged table.

Only crawled evidence judges an assumption: the project's GPU catalogue is where assumed TDPs come
from, so it is shown beside a verdict, never used as one. CPU-only runs and records naming no
hardware stay out of every GPU table, and idle, steady and peak figures are never pooled."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from crawler.extract.gpus import spec_for

from .traces import RISE_FRACTION, trace_views, transition

TARGET_GPU = "H100 PCIe"
TARGET_TDP_W = 350.0
KNOWN_METHODS = {"nvml", "nvidia-smi", "codecarbon", "zeus", "external-meter"}
# The loads a power figure can be taken at, in the order tables show them. A figure states its phase,
# or is a peak reading (power_kind "peak"), or else is a steady load or an average over a run.
LOADS = ("steady", "idle", "peak", "prefill", "decode")
# A published rated figure agrees with an assumed TDP within this fraction ("~350 W", rounding).
RATED_TOLERANCE = 0.02
# What names a CPU where the GPU name should stand (a CPU baseline run, "Intel Xeon", "CPU").
CPU_NAME = r"(?i)\bcpus?\b|xeon|epyc|ryzen|threadripper|\bcore i\d|apple m\d"
NOT_IN_CATALOGUE = " (not in the GPU catalogue)"
MODEL_NOT_NAMED = "model not named"
SIGNIFICANT_DIGITS = 12  # enough for any figure a source gives; drops float noise (5934.618907200001)
# A trace shows an idle -> load transition when its load level is at least this many times its idle
# level: a steady run's readings wobble by a few per cent, and their quietest and busiest quarters
# are no idle and no load.
TRANSITION_RATIO = 1.5


def _clean(value):
    """JSON-friendly numbers: NaN -> None, numpy scalars -> Python, float noise rounded away."""
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(value) else float(f"{float(value):.{SIGNIFICANT_DIGITS}g}")
    if isinstance(value, np.integer):
        return int(value)
    return value


def describe(values: pd.Series) -> dict:
    """n, median, quartiles and range of a series of numbers."""
    values = values.dropna().astype(float)
    if values.empty:
        return {"n": 0, "median": None, "q1": None, "q3": None, "min": None, "max": None}
    return {"n": int(values.size), "median": _clean(values.median()), "q1": _clean(values.quantile(0.25)),
            "q3": _clean(values.quantile(0.75)), "min": _clean(values.min()), "max": _clean(values.max())}


def load(frame: pd.DataFrame) -> pd.Series:
    """The load each figure was taken at: its stated phase, "peak" for a peak reading without one,
    else "steady" (a steady load, or an average over a run, which the sources mostly give)."""
    peak = frame["power_kind"].eq("peak") & frame["phase"].isna()
    return frame["phase"].where(frame["phase"].notna(), "steady").mask(peak, "peak")


def _distinct(values: pd.Series, limit: int | None = None) -> list[str]:
    """The distinct values, sorted (the first ``limit``): vectorised, for groups of a million rows
    (Arrow sorts text by its UTF-8 bytes, which is the order of its code points, as ``sorted``)."""
    distinct = pd.Series(values.dropna().unique())
    return distinct.sort_values(kind="stable").iloc[:limit].tolist()


def _has_flag(frame: pd.DataFrame, flag: str) -> pd.Series:
    """Which rows carry ``flag``: over the Arrow lists the loader gives, in one pass over every flag
    of every row; row by row for a frame of Python lists (as tests build them)."""
    flags = frame["flags"]
    if not isinstance(flags.dtype, pd.ArrowDtype):
        has = flags.apply(lambda value: isinstance(value, (list, np.ndarray)) and flag in list(value))
        return has.astype(bool)
    lists = pa.array(flags.array)
    lists = lists.combine_chunks() if isinstance(lists, pa.ChunkedArray) else lists
    # Each flag's row, from the lists' lengths (list_parent_indices counts from the start of the
    # array a selection was sliced from).
    lengths = pc.list_value_length(lists).fill_null(0).to_numpy(zero_copy_only=False)
    rows = np.repeat(np.arange(len(lists)), lengths)
    matches = pc.equal(pc.list_flatten(lists), flag).to_numpy(zero_copy_only=False)
    has = np.zeros(len(frame), dtype=bool)
    has[rows[matches]] = True
    return pd.Series(has, index=frame.index)


def hardware(frame: pd.DataFrame) -> pd.Series:
    """The GPU each record ran on: the catalogue name, or for a GPU the catalogue does not know its
    name as written (marked so); None where no GPU ran (a CPU-only run, flagged ``cpu_only`` or with
    a CPU named as its hardware) or none is named."""
    labels = frame["gpu"].astype(object)
    unnamed = frame[frame["gpu"].isna()]  # only these are looked at: few rows, read one by one
    if not unnamed.empty:
        labels = labels.copy()
        labels[unnamed.index] = [None if cpu or pd.isna(raw) else f"{raw}{NOT_IN_CATALOGUE}"
                                 for raw, cpu in zip(unnamed["gpu_raw"], cpu_only(unnamed))]
    return labels


def cpu_only(frame: pd.DataFrame) -> pd.Series:
    """Runs with no GPU: flagged ``cpu_only`` by their extractor, or naming a CPU as their hardware."""
    result = pd.Series(False, index=frame.index)
    unnamed = frame[frame["gpu"].isna()]
    named_cpu = unnamed["gpu_raw"].astype("string").str.contains(CPU_NAME).fillna(False).astype(bool)
    result[unnamed.index] = _has_flag(unnamed, "cpu_only") | named_cpu
    return result


def on_gpus(frame: pd.DataFrame) -> pd.DataFrame:
    """The records that ran on a named GPU, with ``gpu`` as ``hardware`` labels it: what every GPU
    table and plot reads. CPU-only runs and records naming no hardware are left out."""
    if frame["gpu"].notna().all():
        return frame
    labels = hardware(frame)
    return frame[labels.notna()].assign(gpu=labels[labels.notna()])


def measured_power(frame: pd.DataFrame) -> pd.DataFrame:
    """Measured, per-GPU inference power at a steady load (rated and estimated figures left out)."""
    return frame[(frame["power_w"].notna()) & (frame["workload"] == "inference")
                 & (frame["power_kind"] == "measured") & load(frame).eq("steady")]


def coverage(frame: pd.DataFrame) -> dict:
    def counts(series):
        return {str(k): int(v) for k, v in series.value_counts().sort_index().items()}
    gpu = hardware(frame).where(~cpu_only(frame), "no GPU (CPU-only run)").fillna("not stated")
    return {"records": int(len(frame)), "by_source": counts(frame["source"]), "by_gpu": counts(gpu),
            "by_workload": counts(frame["workload"].fillna("not stated")),
            "by_method": counts(frame["method"].fillna("not stated")),
            "cpu_only_records": int(cpu_only(frame).sum()),
            "h100_pcie_records": int((frame["gpu"] == TARGET_GPU).sum()),
            "h100_pcie_system_records": int(((frame["gpu"] == TARGET_GPU) & frame["scope"].eq("system")).sum()),
            "h100_pcie_found": bool((frame["gpu"] == TARGET_GPU).any())}


def _tdp(gpu: str) -> float | None:
    spec = spec_for(gpu)
    return spec.tdp_w if spec else None


def system_share(frame: pd.DataFrame) -> pd.Series:
    """Per-GPU estimates taken from a whole server's power (MLPerf's power at the wall divided by the
    server's accelerators): they hold the host's share too, so they are neither measured per-GPU
    figures nor whole-server ones, and are shown apart from both."""
    return frame["power_kind"].eq("estimated") & _has_flag(frame, "per_gpu_from_total")


def accelerators(frame: pd.DataFrame) -> pd.Series:
    """The accelerators of a whole-server record (its gpu_count), 0 where it does not say and for
    per-GPU records: what whole-server figures are grouped by (an 8-GPU and a 1-GPU server apart)."""
    counts = pd.to_numeric(frame["gpu_count"], errors="coerce")
    return counts.where(frame["scope"].eq("system") & counts.gt(0)).fillna(0).astype(int)


def power_by_gpu(frame: pd.DataFrame) -> list[dict]:
    """Inference power per GPU and load (steady, idle, peak...): measured figures per GPU, and whole
    servers (by accelerators per server) apart, with fractions of the catalogue TDP (of a server's
    accelerators x TDP for a whole server, none where its count is not stated); then rated figures,
    estimates, and per-GPU shares of whole-server power (estimates)."""
    rows = []
    frame = on_gpus(frame)[["gpu", "power_w", "workload", "power_kind", "phase", "scope", "gpu_count", "flags", "url"]]
    measured = frame[frame["power_w"].notna() & (frame["workload"] == "inference")
                     & frame["power_kind"].isin(["measured", "peak"])]
    loads = load(measured)
    # Each load's place in LOADS (NaN for one not there, which groupby leaves out as map would).
    order = pd.Index(LOADS).get_indexer(loads)
    keys = [measured["gpu"], pd.Series(np.where(order >= 0, order, np.nan), index=measured.index), loads,
            measured["scope"].eq("system"), accelerators(measured)]
    # Only the columns each group reads: iterating groups sorts every column of the frame it is given.
    for (gpu, _, phase, system, count), group in measured[["power_w", "url"]].groupby(keys, sort=True):
        tdp = _tdp(gpu)
        # A whole server draws for all its accelerators (and its host): its figure is compared with
        # their TDPs together, and with none where it does not say how many it holds.
        budget = (float(tdp * count) if tdp and count else None) if system else tdp
        fraction = group["power_w"] / budget if budget else pd.Series(dtype=float)
        rows.append({"gpu": gpu, "level": "system" if system else "gpu", "load": phase, "tdp_w": tdp,
                     "accelerators": int(count) if system and count else None, "compared_tdp_w": budget,
                     "power_w": describe(group["power_w"]), "fraction_of_tdp": describe(fraction),
                     "sources": _distinct(group["url"], 20)})
    others = frame[frame["power_w"].notna() & frame["power_kind"].isin(["rated", "estimated"])]
    shares = system_share(others)
    # A rating or estimate of a whole server (a DGX's rated kW) is no GPU's: a row of its own.
    level = (others["power_kind"].where(~others["scope"].eq("system"), "system_" + others["power_kind"])
             .where(~shares, "system_share"))
    for (gpu, kind), group in others[["power_w", "url"]].groupby([others["gpu"], level], sort=True):
        # One GPU's TDP says nothing about a whole server's rating: shown beside per-GPU figures only.
        tdp = None if kind in ("system_rated", "system_estimated") else _tdp(gpu)
        rows.append({"gpu": gpu, "level": kind, "load": None, "tdp_w": tdp, "accelerators": None,
                     "compared_tdp_w": None, "power_w": describe(group["power_w"]),
                     "fraction_of_tdp": describe(pd.Series(dtype=float)), "sources": _distinct(group["url"], 20)})
    return rows


def h100_pcie_estimate(frame: pd.DataFrame, measured: pd.DataFrame | None = None) -> dict:
    """Direct H100 PCIe evidence when there is some; else a band inferred from A100 and H100 SXM.
    The band is the interquartile range of the figures."""
    measured = measured_power(frame) if measured is None else measured
    gpu_level = measured[measured["scope"].ne("system")]
    direct = gpu_level[gpu_level["gpu"] == TARGET_GPU]
    if not direct.empty:
        stats = describe(direct["power_w"])
        return {"basis": "direct", "power_w": stats, "band": "interquartile range",
                "band_w": [stats["q1"], stats["q3"]], "sources": _distinct(direct["url"])}
    proxies = gpu_level[gpu_level["gpu"].isin(["A100 SXM", "A100 PCIe 40GB", "A100 PCIe 80GB", "H100 SXM"])]
    tdps = {gpu: spec_for(gpu).tdp_w for gpu in proxies["gpu"].unique()}
    fractions = proxies["power_w"] / proxies["gpu"].map(tdps).astype(float)
    stats = describe(fractions)
    if not stats["n"]:
        return {"basis": "none", "power_w": describe(pd.Series(dtype=float)), "band": "interquartile range",
                "band_w": [None, None], "sources": []}
    return {"basis": "inferred", "fraction_of_tdp": stats, "band": "interquartile range",
            "power_w": {key: (_clean(value * TARGET_TDP_W) if isinstance(value, float) else value)
                        for key, value in stats.items()},
            "band_w": [_clean(stats["q1"] * TARGET_TDP_W), _clean(stats["q3"] * TARGET_TDP_W)],
            "sources": _distinct(proxies["url"])}


def energy_by_gpu_and_size(frame: pd.DataFrame) -> list[dict]:
    """Energy per token and per query by task, GPU, model size and what the energy covers (GPU
    alone, GPU + CPU + RAM...): a speech-recognition query and a 70B model's generation are not
    one population."""
    rows = []
    frame = on_gpus(frame)[["task", "gpu", "model_params_b", "model_id", "model_name", "scope", "url",
                            "energy_per_token_j", "energy_per_query_j"]]
    for column in ("energy_per_token_j", "energy_per_query_j"):
        subset = frame[frame[column].notna()]
        # Figures of one model size are compared; a model of no stated size stands alone.
        model = subset["model_id"].fillna(subset["model_name"]).fillna(MODEL_NOT_NAMED)
        keys = [subset["task"].fillna(""), subset["gpu"], subset["model_params_b"].fillna(-1),
                model.where(subset["model_params_b"].isna(), ""), subset["scope"].fillna("")]
        for (task, gpu, size, name, scope), group in subset[[column, "url"]].groupby(keys, sort=True):
            rows.append({"quantity": column, "task": task or None, "gpu": gpu,
                         "model_params_b": None if size == -1 else float(size), "model": name or None,
                         "scope": scope or None,
                         **describe(group[column]), "sources": _distinct(group["url"], 10)})
    return rows


def batch_effects(frame: pd.DataFrame) -> list[dict]:
    """Slope and Pearson r of power (and energy per token) against batch size, where a GPU and model
    have three or more batch sizes."""
    rows = []
    frame = on_gpus(frame)[["gpu", "model_id", "model_name", "batch_size", "power_w", "energy_per_token_j", "phase",
                            "power_kind", "scope", "url"]]
    model = frame["model_id"].fillna(frame["model_name"])
    steady = load(frame).eq("steady") & frame["power_kind"].eq("measured")
    for column in ("power_w", "energy_per_token_j"):
        keep = frame[column].notna() & frame["batch_size"].notna() & frame["gpu"].notna() & model.notna()
        if column == "power_w":  # one load: idle readings between batches are no batch effect
            keep &= steady
        keep &= frame["scope"].ne("system")  # a whole server's figures are not one GPU's
        # The rows are selected once, and only the columns read below are copied out of them.
        subset = frame.loc[keep, ["gpu", "batch_size", column, "url"]].assign(model=model[keep])
        keys = ["gpu", "model"]
        means = subset.groupby(keys + ["batch_size"])[column].mean()
        # The first 20 distinct sources of each GPU and model, in order, without listing them all:
        # the distinct (GPU, model, source) triples come sorted out of a group-by.
        triples = subset.groupby(keys + ["url"], sort=True).size().index.to_frame(index=False)
        sources = triples.groupby(keys, sort=False).head(20).groupby(keys)["url"].agg(list)
        for (gpu, name), series in means.groupby(level=[0, 1], sort=True):
            if len(series) < 3:
                continue
            x, y = series.index.get_level_values(2).to_numpy(dtype=float), series.to_numpy(dtype=float)
            slope = float(np.polyfit(x, y, 1)[0])
            r = float(np.corrcoef(x, y)[0, 1]) if np.std(y) > 0 else None
            rows.append({"quantity": column, "gpu": gpu, "model": name, "batch_sizes": [int(b) for b in x],
                         "values": [_clean(v) for v in y], "slope_per_batch": _clean(slope),
                         "pearson_r": _clean(r), "sources": sources[(gpu, name)]})
    return rows


def validation(frame: pd.DataFrame) -> dict:
    def listing(rows: pd.DataFrame, reason: str) -> list[dict]:
        return [{"id": r.id, "gpu": r.gpu, "model": r.model_id if isinstance(r.model_id, str) else r.model_name,
                 "power_w": _clean(r.power_w), "load": r.load, "reason": reason, "url": r.url}
                for r in rows.itertuples()]

    measured = frame["power_kind"].isin(["measured", "peak"])
    frame = frame.assign(gpu=hardware(frame), load=load(frame).where(frame["power_w"].notna() & measured, None))
    above = frame[_has_flag(frame, "exceeds_tdp")]
    outliers = []
    # Figures are compared only with figures of the same kind: one GPU, workload, load (an idle
    # reading is no outlier among steady ones), kind (measured, rated...) and level (GPU or server).
    gpus = frame[frame["power_w"].notna() & frame["gpu"].notna()]
    # Whole servers are compared only with servers of as many accelerators; per-GPU shares of a
    # server's power (estimates) only with each other.
    shares = system_share(gpus)
    keys = [gpus["gpu"], gpus["workload"], gpus["load"].fillna(""), gpus["power_kind"].fillna(""),
            gpus["scope"].eq("system") & ~shares, accelerators(gpus), shares]
    listed = gpus[["id", "gpu", "model_id", "model_name", "power_w", "load", "url"]]
    # Only the figures are grouped (iterating groups sorts every column it is given); the few odd rows'
    # other fields are looked up by their labels, in the group's order.
    for (_, _, phase, kind, system, count, share), group in gpus["power_w"].groupby(keys):
        if len(group) < 4:
            continue
        q1, q3 = group.quantile([0.25, 0.75])
        spread = q3 - q1
        odd = ((group < q1 - 1.5 * spread) | (group > q3 + 1.5 * spread)).to_numpy()
        if not odd.any():  # the usual group: no label lookup in a million-row index
            continue
        odd = listed.loc[group.index[odd]]
        kind_text = ((f"measured {phase}" if phase else kind or "unclassified")
                     + (f" whole-server ({count} accelerators)" if system and count else
                        " whole-server" if system else "")
                     + (" per-GPU share of whole-server" if share else ""))
        outliers += listing(odd, f"more than 1.5 × IQR outside the other {kind_text} figures of its GPU and workload")
    zeros = frame[_has_flag(frame, "zero_not_measured")]
    figure_columns = ["power_w", "energy_j", "energy_per_token_j", "energy_per_query_j", "gpu_hours", "co2_kg"]
    empty = frame[frame[figure_columns].isna().all(axis=1)]
    return {"above_tdp": listing(above, "average power above the GPU's TDP"), "outliers": outliers,
            "zeros": listing(zeros, "reported 0 (not measured)"),
            "no_figure": listing(empty, "no figure left after normalising")}


def plain_number(value, digits: int = 3) -> str:
    """A figure as a reader wants it: ``digits`` significant digits, never fewer than its whole part
    (5934.6 J -> "5935"), no exponent between 0.001 and a billion, no trailing zeros."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    value = float(value)
    if value == 0 or math.isinf(value) or not 1e-3 <= abs(value) < 1e9:
        return f"{value:.{digits}g}"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    text = f"{round(value, decimals):.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


# What a set of figures is graded, described and sourced by (load, grade, describe, _distinct): the
# columns copied out when the figures are selected from a million rows, not all the frame's.
GRADED_COLUMNS = ["power_w", "phase", "power_kind", "scope", "url", "method", "flags"]


def grade(figures: pd.DataFrame) -> tuple[str, str]:
    """(confidence, why) for a set of direct figures: high when three or more were measured with a
    named tool (nvml, nvidia-smi, CodeCarbon, Zeus, a meter) and not derived; medium for two or more
    figures otherwise; low for a single figure; none without one."""
    count = int(len(figures))
    if not count:
        return "none", "no figure"
    documents = figures["url"].nunique()
    tooled = figures[figures["method"].isin(KNOWN_METHODS) & ~_has_flag(figures, "derived")]
    methods = ", ".join(_distinct(tooled["method"]))
    why = (f"{plural(count, 'figure')} from {plural(documents, 'document')}; {len(tooled)} measured with a "
           f"named tool{f' ({methods})' if methods else ''}")
    if len(tooled) >= 3:
        return "high", why
    return ("medium" if count >= 2 else "low"), why


def _rated_agrees(row, value: float) -> bool:
    """A published rated figure agrees with an assumed TDP when the TDP lies in the range it was
    written as, or within RATED_TOLERANCE of it."""
    bounds = row.bounds.get("power_w") if isinstance(row.bounds, dict) else None
    if bounds and bounds[0] <= value <= bounds[1]:
        return True
    return abs(row.power_w - value) <= RATED_TOLERANCE * value


def check_tdp(frame: pd.DataFrame, gpu: str, assumption: dict) -> dict:
    """An assumed TDP against the rated figures crawled documents publish for the GPU. The project's
    catalogue (crawler/extract/gpus.csv) is where the assumed figure usually comes from, so it is
    never evidence: without a published figure the assumption is not judged, and the catalogue is
    only shown beside it."""
    value = float(assumption["value_w"])
    rated = frame[(frame["gpu"] == gpu) & frame["power_w"].notna() & frame["power_kind"].eq("rated")
                  & frame["scope"].ne("system")]  # a whole server's rating is not its GPUs' TDP
    catalogue = _tdp(gpu)
    agreeing = sum(_rated_agrees(row, value) for row in rated.itertuples())
    if rated.empty:
        verdict, basis = ("not judged (catalogue only)" if catalogue else "no evidence"), "catalogue only"
        note = (f"no crawled document publishes a rated figure for the {gpu}; the project's own catalogue "
                f"lists {plain_number(catalogue)} W, which is where such an assumption comes from, so it is "
                "not evidence" if catalogue else f"no crawled document publishes a rated figure for the {gpu}")
        confidence, why = "none", "no published rated figure"
    else:
        verdict = ("supported" if agreeing == len(rated) else "contradicted" if not agreeing else "mixed")
        basis = "published rated figures"
        note = (f"{agreeing} of {plural(len(rated), 'published rated figure')} agree with "
                f"{plain_number(value)} W" + (f"; the project's catalogue lists {plain_number(catalogue)} W"
                                              if catalogue else ""))
        confidence = "high" if rated["url"].nunique() >= 2 else "medium"
        why = f"{plural(len(rated), 'rated figure')} from {plural(rated['url'].nunique(), 'document')}"
    return {"name": assumption["name"], "kind": "tdp", "expected": value, "n": int(len(rated)),
            "evidence_w": describe(rated["power_w"]), "catalogue_w": catalogue, "basis": basis,
            "verdict": verdict, "confidence": confidence, "why": why, "note": note,
            "sources": _distinct(rated["url"])}


def check_assumptions(frame: pd.DataFrame, assumptions: dict) -> list[dict]:
    """Each assumption against crawled evidence only: a TDP against published rated figures, a power
    band against the measured per-GPU figures of its load (idle, steady or peak)."""
    gpu = assumptions.get("gpu", TARGET_GPU)
    workload = assumptions.get("workload", "inference")
    # The measured per-GPU figures every band is checked against, selected once.
    measured = frame.loc[(frame["gpu"] == gpu) & (frame["workload"] == workload) & frame["power_w"].notna()
                         & frame["power_kind"].isin(["measured", "peak"]) & frame["scope"].ne("system"),
                         GRADED_COLUMNS]
    results = []
    for assumption in assumptions.get("assumptions", []):
        if assumption.get("kind") == "tdp":
            results.append(check_tdp(frame, gpu, assumption))
            continue
        phase = assumption.get("phase")
        subset = measured[load(measured) == (phase or "steady")]
        low, high = assumption["band_w"]
        stats = describe(subset["power_w"])
        verdict = ("no evidence" if not stats["n"] else
                   "supported" if low <= stats["median"] <= high else "contradicted")
        confidence, why = grade(subset)
        results.append({"name": assumption["name"], "kind": "band", "load": phase or "steady",
                        "expected": [low, high], "n": stats["n"], "evidence_w": stats, "basis": "measured figures",
                        "verdict": verdict, "confidence": confidence, "why": why,
                        "sources": _distinct(subset["url"])})
    return results


def rack_plan(frame: pd.DataFrame, estimate: dict, verdicts: list[dict], power_rows: list[dict] | None = None,
              traces: list[dict] | None = None) -> dict:
    """What someone sizing racks of the target GPU needs first: its per-GPU power at each load, how
    sure that is, whole servers at the wall beside it (never in it), and what the crawled evidence
    does not cover."""
    power_rows = power_by_gpu(frame) if power_rows is None else power_rows
    traces = trace_summaries(frame) if traces is None else traces
    target = frame.loc[(frame["gpu"] == TARGET_GPU) & frame["power_w"].notna() & (frame["workload"] == "inference")
                       & frame["power_kind"].isin(["measured", "peak"]), GRADED_COLUMNS]
    per_gpu = target[target["scope"].ne("system")]
    loads = {}
    for phase in ("steady", "idle", "peak"):
        figures = per_gpu[load(per_gpu) == phase]
        confidence, why = grade(figures)
        loads[phase] = {"power_w": describe(figures["power_w"]), "documents": int(figures["url"].nunique()),
                        "confidence": confidence, "why": why}
    missing = []
    if estimate["basis"] == "inferred":
        missing.append(f"no measured {TARGET_GPU} inference power: the steady figure is other GPUs' fraction of "
                       f"their TDP applied to {plain_number(TARGET_TDP_W)} W")
    for phase, entry in loads.items():
        count = entry["power_w"]["n"]
        if count == 0:
            missing.append(f"no measured {phase} power for the {TARGET_GPU}")
        elif count < 3:
            missing.append(f"only {plural(count, f'measured {phase} figure')} for the {TARGET_GPU} "
                           f"({plural(entry['documents'], 'document')}): too few for a spread")
    steady = per_gpu[load(per_gpu) == "steady"]
    untooled = int((~steady["method"].isin(KNOWN_METHODS)).sum())
    if untooled:
        missing.append(f"{untooled} of {plural(len(steady), 'steady figure')} do not say what measured them")
    for verdict in verdicts:
        if verdict.get("kind") == "tdp" and verdict["basis"] == "catalogue only":
            missing.append(f"no published rated (TDP) figure for the {TARGET_GPU} was crawled, so the assumed "
                           f"TDP of {plain_number(verdict['expected'])} W is not checked against any source")
    if not target["scope"].eq("system").any():
        missing.append(f"no whole-server (at the wall) {TARGET_GPU} figure: CPUs, memory, fans and power-supply "
                       "losses must come from the server's own specification")
    own_traces = [trace for trace in traces if trace["gpu"] == TARGET_GPU]
    if not own_traces:
        missing.append(f"no {TARGET_GPU} power trace (readings over time): short spikes above the averages "
                       "are not covered")
    elif all(trace["scope"] == "system" for trace in own_traces):
        servers = ", ".join(_distinct(pd.Series([trace["hardware"] for trace in own_traces])))
        missing.append(f"no per-GPU {TARGET_GPU} power trace: {plural(len(own_traces), 'trace')} of it ({servers}), "
                       "all of whole servers at the wall, whose swing holds the host's")
    whole_server = [row for row in power_rows if row["gpu"] == TARGET_GPU and row["level"] == "system"]
    shares = [row for row in power_rows if row["gpu"] == TARGET_GPU and row["level"] == "system_share"]
    return {"gpu": TARGET_GPU, "loads": loads, "whole_server": whole_server,
            "system_share": shares[0] if shares else None, "missing": missing}


def confidence(frame: pd.DataFrame, power_rows: list[dict], estimate: dict,
               measured: pd.DataFrame | None = None) -> list[dict]:
    """Graded findings: high = three or more direct H100 PCIe measured inference figures from a named
    tool; medium = fewer or untooled direct figures, or another GPU scaled, system-level, or
    training power; low = rated or estimated figures, a single figure, or training-only data."""
    findings = []
    if estimate["basis"] == "direct":
        direct = measured_power(frame) if measured is None else measured
        direct = direct[(direct["gpu"] == TARGET_GPU) & direct["scope"].ne("system")]
        grade_of, why = grade(direct)
        stats = estimate["power_w"]
        findings.append({"finding": f"{TARGET_GPU} steady-state inference power per GPU: median "
                                    f"{plain_number(stats['median'])} W, interquartile range "
                                    f"{plain_number(stats['q1'])}–{plain_number(stats['q3'])} W",
                         "confidence": grade_of, "why": f"direct measurements: {why}"})
    elif estimate["basis"] == "inferred":
        findings.append({"finding": f"{TARGET_GPU} steady-state inference power per GPU inferred at "
                                    f"{plain_number(estimate['band_w'][0])}–{plain_number(estimate['band_w'][1])} W "
                                    "(interquartile range)", "confidence": "medium",
                         "why": f"other GPUs' fraction of TDP scaled to {plain_number(TARGET_TDP_W)} W"})
    levels = {"gpu": "per-GPU", "system": "whole-server (at the wall)", "rated": "rated", "estimated": "estimated",
              "system_share": "estimated per-GPU share of whole-server", "system_rated": "whole-server rated",
              "system_estimated": "whole-server estimated"}
    for row in power_rows:
        if row["gpu"] == TARGET_GPU and row["level"] == "gpu" and row["load"] == "steady":
            continue
        count = row["power_w"]["n"]
        grade_of = ("low" if row["level"] not in ("gpu", "system") or count == 1 else "medium")
        load_text = f" {row['load']}" if row["load"] else ""
        hardware = (f"{row['accelerators']} x {row['gpu']}" if row.get("accelerators") else
                    f"{row['gpu']} (accelerators per server not stated)" if row["level"] == "system" else row["gpu"])
        findings.append({"finding": f"{hardware} {levels[row['level']]}{load_text} power: median "
                                    f"{plain_number(row['power_w']['median'])} W ({plural(count, 'figure')})",
                         "confidence": grade_of,
                         "why": {"gpu": "another GPU" if row["gpu"] != TARGET_GPU else "another load",
                                 "system": "whole-server power, not per GPU",
                                 "rated": "rated (TDP-like) figures, not measurements",
                                 "estimated": "estimated figures",
                                 "system_rated": "a whole server's rating, not a measurement and not per GPU",
                                 "system_estimated": "a whole server's estimate, not a measurement and not per GPU",
                                 "system_share": "an estimate: whole-server power divided by its accelerators, "
                                                 "so it holds the host's share too"}[row["level"]]
                                + ("; a single figure" if count == 1 and row["level"] in ("gpu", "system") else "")})
    training = frame[(frame["workload"].isin(["training", "fine-tuning"])) & frame["power_w"].notna()]
    if not training.empty:
        findings.append({"finding": f"training power figures: {len(training)}", "confidence": "low"
                         if frame[frame["workload"] == "inference"]["power_w"].notna().sum() == 0 else "medium",
                         "why": "training power (low when it is the only data)"})
    return findings


def trace_summaries(frame: pd.DataFrame) -> list[dict]:
    """Each power trace's idle level, load level, load / idle, rise time and sampling interval (W and
    s), the longest first: what the report's trace table shows and the stretch criterion is judged from."""
    return [transition(view) for view in trace_views(frame)]


def is_transition(trace: dict) -> bool:
    return bool(trace["idle_w"] and trace["load_w"] and trace["load_w"] >= TRANSITION_RATIO * trace["idle_w"])


def _what_was_traced(traces: list[dict]) -> str:
    """"2 of whole servers at the wall (8 x H100 PCIe (2)), 1 per GPU (1 x A10)"."""
    parts = []
    for scope_name, system in (("of whole servers at the wall", True), ("per GPU", False)):
        members = [trace for trace in traces if (trace["scope"] == "system") == system]
        if members:
            counts = pd.Series([trace["hardware"] or "accelerator not named" for trace in members]).value_counts()
            hardware = ", ".join(f"{name} ({count})" if count > 1 else name
                                 for name, count in sorted(counts.items()))
            parts.append(f"{len(members)} {scope_name} ({hardware})")
    return ", ".join(parts)


def _target_traces(traces: list[dict]) -> str:
    own = [trace for trace in traces if trace["gpu"] == TARGET_GPU]
    if not own:
        return f"none of the {TARGET_GPU}"
    systems = sum(trace["scope"] == "system" for trace in own)
    where = ("whole-server only" if systems == len(own) else "per GPU only" if not systems
             else f"{systems} whole-server, {len(own) - systems} per GPU")
    return f"{TARGET_GPU}: {len(own)} ({where})"


def trace_criteria(traces: list[dict]) -> tuple[tuple[bool, str], tuple[bool, str]]:
    """The plan's stretch criterion judged from the traces themselves: (met, figure) for "power
    traces" and for "idle→inference transitions" (traces whose load level is at least
    TRANSITION_RATIO times their idle level), each saying of which GPUs or servers and whether any
    is of the target GPU."""
    if not traces:
        return (False, "no time series in the sources crawled"), (False, "no power trace to see one in")
    readings = sum(trace["readings"] for trace in traces)
    available = (f"{plural(len(traces), 'trace')} ({readings} readings): {_what_was_traced(traces)}; "
                 f"{_target_traces(traces)}")
    swings = [trace for trace in traces if is_transition(trace)]
    if not swings:
        return (True, available), (False, f"no trace goes from an idle level to a load level {TRANSITION_RATIO:g} "
                                          f"times as high ({plural(len(traces), 'trace')} looked at)")
    ratios = [trace["load_to_idle"] for trace in swings]
    rises = [trace["rise_s"] for trace in swings if trace["rise_s"] is not None]
    timing = f", rise to {RISE_FRACTION * 100:g} % in {_range(rises)} s" if rises else ""
    levels = f"from idle to load (load / idle {_range(ratios)}{timing})"
    if len(swings) == len(traces):  # which ones the "power traces" figure says
        return (True, available), (True, f"all {len(traces)} go {levels}; {_target_traces(swings)}")
    return (True, available), (True, f"{len(swings)} of {len(traces)} go {levels}: {_what_was_traced(swings)}; "
                                     f"{_target_traces(swings)}")


def _range(values: list[float]) -> str:
    low, high = plain_number(min(values)), plain_number(max(values))
    return low if low == high else f"{low}–{high}"


def success_criteria(frame: pd.DataFrame, assumptions: list[dict], batches: list[dict],
                     traces: list[dict] | None = None) -> list[dict]:
    measurements = int(len(frame))
    dataset = frame["url"].str.contains("ohdoking/energy_consumption_by_model_and_gpu", regex=False).any()
    aes = int((frame["source"] == "ai_energy_score").sum())
    h100 = int(frame["gpu"].fillna("").str.startswith("H100").sum())
    per_model = frame[frame["energy_per_query_j"].notna() | frame["energy_per_token_j"].notna()]
    models = int(per_model["model_id"].fillna(per_model["model_name"]).nunique())
    steady = next((a for a in assumptions if a.get("name", "").startswith("steady")), None)
    correlations = [b for b in batches if b["pearson_r"] is not None]
    available, transitions = trace_criteria(trace_summaries(frame) if traces is None else traces)

    def item(level, name, met, figure):
        return {"level": level, "criterion": name, "met": bool(met), "figure": figure}

    return [
        item("minimum", "the ohdoking dataset reached", dataset, "yes" if dataset else "no"),
        item("minimum", "5–10 measurements", measurements >= 5, measurements),
        item("minimum", "AI Energy Score reviewed", aes > 0, aes),
        item("target", "20+ measurements", measurements >= 20, measurements),
        item("target", "H100 data", h100 > 0, h100),
        item("target", "model-specific variation", models >= 3, f"{models} models with energy per query/token"),
        item("target", "steady-state inference power validated", steady and steady["verdict"] == "supported",
             steady["verdict"] if steady else "no assumption"),
        item("stretch", "power traces", *available),
        item("stretch", "idle→inference transitions", *transitions),
        item("stretch", "batch effects", bool(batches), len(batches)),
        item("stretch", "a correlation coefficient", bool(correlations),
             correlations[0]["pearson_r"] if correlations else None),
    ]


# What the synthesis and the report read of a record; the rest (excerpts, notes, dates...) is not
# carried through their dozens of row selections.
READ_COLUMNS = ("id", "source", "url", "locator", "model_id", "model_name", "model_params_b", "gpu", "gpu_raw",
                "gpu_count", "workload", "task", "batch_size", "phase", "power_w", "power_kind", "energy_j",
                "energy_per_token_j", "energy_per_query_j", "gpu_hours", "co2_kg", "scope", "method", "flags",
                "bounds", "trace")


def read_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """The columns of ``frame`` the synthesis and report read (a frame's own selection, not a copy)."""
    return frame[[column for column in frame.columns if column in READ_COLUMNS]]


def synthesise(frame: pd.DataFrame, assumptions: dict) -> dict:
    frame = read_columns(frame)
    power_rows = power_by_gpu(frame)
    measured = measured_power(frame)  # the estimate and the confidence grades read the same rows
    estimate = h100_pcie_estimate(frame, measured)
    batches = batch_effects(frame)
    verdicts = check_assumptions(frame, assumptions)
    traces = trace_summaries(frame)
    return {
        "rack_plan": rack_plan(frame, estimate, verdicts, power_rows, traces),
        "coverage": coverage(frame),
        "power_by_gpu": power_rows,
        "h100_pcie_estimate": estimate,
        "energy_by_gpu_and_size": energy_by_gpu_and_size(frame),
        "batch_effects": batches,
        "validation": validation(frame),
        "assumptions": {"gpu": assumptions.get("gpu"), "workload": assumptions.get("workload"),
                        "results": verdicts},
        "confidence": confidence(frame, power_rows, estimate, measured),
        "traces": traces,
        "success_criteria": success_criteria(frame, verdicts, batches, traces),
    }
