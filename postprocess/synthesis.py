"""The numbers of the report: coverage, steady-state power per GPU, the H100 PCIe estimate, energy
per token and query, batch-size effects, validation lists, assumption verdicts, confidence grades
and the plan's success criteria. Everything here is a pure function of the merged table."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from crawler.extract.gpus import spec_for

TARGET_GPU = "H100 PCIe"
TARGET_TDP_W = 350.0
KNOWN_METHODS = {"nvml", "nvidia-smi", "codecarbon", "zeus", "external-meter"}
# Phases that are a steady load; figures without a phase are averages over a run.
STEADY_PHASES = {"steady", None}


def _clean(value):
    """JSON-friendly numbers: NaN -> None, numpy scalars -> Python."""
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(value) else round(float(value), 6)
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


def _phase(frame: pd.DataFrame) -> pd.Series:
    return frame["phase"].where(frame["phase"].notna(), None)


def _has_flag(frame: pd.DataFrame, flag: str) -> pd.Series:
    return frame["flags"].apply(lambda flags: isinstance(flags, (list, np.ndarray)) and flag in list(flags))


def measured_power(frame: pd.DataFrame) -> pd.DataFrame:
    """Measured, per-GPU inference power at a steady load (rated and estimated figures left out)."""
    phase = _phase(frame)
    return frame[(frame["power_w"].notna()) & (frame["workload"] == "inference")
                 & (frame["power_kind"] == "measured") & phase.isin(STEADY_PHASES)]


def coverage(frame: pd.DataFrame) -> dict:
    def counts(column):
        return {str(k): int(v) for k, v in frame[column].fillna("unknown").value_counts().sort_index().items()}
    return {"records": int(len(frame)), "by_source": counts("source"), "by_gpu": counts("gpu"),
            "by_workload": counts("workload"), "by_method": counts("method"),
            "h100_pcie_records": int((frame["gpu"] == TARGET_GPU).sum()),
            "h100_pcie_found": bool((frame["gpu"] == TARGET_GPU).any())}


def power_by_gpu(frame: pd.DataFrame) -> list[dict]:
    """Steady-state inference power per GPU, GPU-level and system-level apart, with TDP fractions."""
    rows = []
    measured = measured_power(frame)
    for (gpu, system), group in measured.groupby(
            [measured["gpu"].fillna("unknown"), measured["scope"].eq("system")], sort=True):
        tdp = spec_for(gpu).tdp_w if spec_for(gpu) else None
        fraction = group["power_w"] / tdp if tdp else pd.Series(dtype=float)
        rows.append({"gpu": gpu, "level": "system" if system else "gpu", "tdp_w": tdp,
                     "power_w": describe(group["power_w"]), "fraction_of_tdp": describe(fraction),
                     "sources": sorted(set(group["url"]))[:20]})
    others = frame[frame["power_w"].notna() & frame["power_kind"].isin(["rated", "estimated"])]
    for (gpu, kind), group in others.groupby([others["gpu"].fillna("unknown"), "power_kind"], sort=True):
        rows.append({"gpu": gpu, "level": kind, "tdp_w": spec_for(gpu).tdp_w if spec_for(gpu) else None,
                     "power_w": describe(group["power_w"]), "fraction_of_tdp": describe(pd.Series(dtype=float)),
                     "sources": sorted(set(group["url"]))[:20]})
    return rows


def h100_pcie_estimate(frame: pd.DataFrame) -> dict:
    """Direct H100 PCIe evidence when there is some; else a band inferred from A100 and H100 SXM."""
    measured = measured_power(frame)
    gpu_level = measured[measured["scope"].ne("system")]
    direct = gpu_level[gpu_level["gpu"] == TARGET_GPU]
    if not direct.empty:
        stats = describe(direct["power_w"])
        return {"basis": "direct", "power_w": stats,
                "band_w": [stats["q1"], stats["q3"]], "sources": sorted(set(direct["url"]))}
    proxies = gpu_level[gpu_level["gpu"].isin(["A100 SXM", "A100 PCIe 40GB", "A100 PCIe 80GB", "H100 SXM"])]
    fractions = proxies["power_w"] / proxies["gpu"].map(lambda g: spec_for(g).tdp_w).astype(float)
    stats = describe(fractions)
    if not stats["n"]:
        return {"basis": "none", "power_w": describe(pd.Series(dtype=float)), "band_w": [None, None],
                "sources": []}
    return {"basis": "inferred", "fraction_of_tdp": stats,
            "power_w": {key: (_clean(value * TARGET_TDP_W) if isinstance(value, float) else value)
                        for key, value in stats.items()},
            "band_w": [_clean(stats["q1"] * TARGET_TDP_W), _clean(stats["q3"] * TARGET_TDP_W)],
            "sources": sorted(set(proxies["url"]))}


def energy_by_gpu_and_size(frame: pd.DataFrame) -> list[dict]:
    rows = []
    for column in ("energy_per_token_j", "energy_per_query_j"):
        subset = frame[frame[column].notna()]
        for (gpu, size), group in subset.groupby([subset["gpu"].fillna("unknown"),
                                                   subset["model_params_b"].fillna(-1)], sort=True):
            rows.append({"quantity": column, "gpu": gpu, "model_params_b": None if size == -1 else float(size),
                         **describe(group[column]),
                         "sources": sorted(set(group["url"]))[:10]})
    return rows


def batch_effects(frame: pd.DataFrame) -> list[dict]:
    """Slope and Pearson r of power (and energy per token) against batch size, where a GPU and model
    have three or more batch sizes."""
    rows = []
    frame = frame.assign(model=frame["model_id"].fillna(frame["model_name"]))
    for column in ("power_w", "energy_per_token_j"):
        subset = frame[frame[column].notna() & frame["batch_size"].notna() & frame["gpu"].notna()
                       & frame["model"].notna()]
        keys = ["gpu", "model"]
        means = subset.groupby(keys + ["batch_size"])[column].mean()
        sizes = means.groupby(level=[0, 1]).size()
        sources = subset.groupby(keys)["url"].unique()
        for (gpu, name), count in sizes.items():
            if count < 3:
                continue
            series = means.loc[(gpu, name)]
            x, y = series.index.to_numpy(dtype=float), series.to_numpy(dtype=float)
            slope = float(np.polyfit(x, y, 1)[0])
            r = float(np.corrcoef(x, y)[0, 1]) if np.std(y) > 0 else None
            rows.append({"quantity": column, "gpu": gpu, "model": name, "batch_sizes": [int(b) for b in x],
                         "values": [_clean(v) for v in y], "slope_per_batch": _clean(slope),
                         "pearson_r": _clean(r), "sources": sorted(sources[(gpu, name)])[:20]})
    return rows


def validation(frame: pd.DataFrame) -> dict:
    def listing(rows: pd.DataFrame, reason: str) -> list[dict]:
        return [{"id": r.id, "gpu": r.gpu, "model": r.model_id if isinstance(r.model_id, str) else r.model_name,
                 "power_w": _clean(r.power_w), "reason": reason, "url": r.url}
                for r in rows.itertuples()]

    above = frame[_has_flag(frame, "exceeds_tdp")]
    outliers = []
    with_power = frame[frame["power_w"].notna()]
    for _, group in with_power.groupby([with_power["gpu"].fillna("unknown"), "workload"]):
        if len(group) < 4:
            continue
        q1, q3 = group["power_w"].quantile([0.25, 0.75])
        spread = q3 - q1
        odd = group[(group["power_w"] < q1 - 1.5 * spread) | (group["power_w"] > q3 + 1.5 * spread)]
        outliers += listing(odd, "outside 1.5 IQR of its GPU and workload")
    zeros = frame[_has_flag(frame, "zero_not_measured")]
    figure_columns = ["power_w", "energy_j", "energy_per_token_j", "energy_per_query_j", "gpu_hours", "co2_kg"]
    empty = frame[frame[figure_columns].isna().all(axis=1)]
    return {"above_tdp": listing(above, "average power above the GPU's TDP"), "outliers": outliers,
            "zeros": listing(zeros, "reported 0 (not measured)"),
            "no_figure": listing(empty, "no figure left after normalising")}


def check_assumptions(frame: pd.DataFrame, assumptions: dict) -> list[dict]:
    gpu = assumptions.get("gpu", TARGET_GPU)
    workload = assumptions.get("workload", "inference")
    results = []
    for assumption in assumptions.get("assumptions", []):
        if assumption.get("kind") == "tdp":
            spec = spec_for(gpu)
            evidence = frame.loc[(frame["gpu"] == gpu) & frame["gpu_tdp_w"].notna(), "gpu_tdp_w"]
            known = spec.tdp_w if spec else None
            verdict = ("no evidence" if known is None else
                       "supported" if float(assumption["value_w"]) == known else "contradicted")
            results.append({"name": assumption["name"], "expected": assumption["value_w"], "n": int(evidence.size),
                            "evidence_w": known, "verdict": verdict, "sources": ["crawler/extract/gpus.csv"]})
            continue
        phase = assumption.get("phase")
        subset = frame[(frame["gpu"] == gpu) & (frame["workload"] == workload) & frame["power_w"].notna()
                       & frame["power_kind"].isin(["measured", "peak"]) & frame["scope"].ne("system")]
        subset = subset[_phase(subset) == phase] if phase != "steady" else subset[_phase(subset).isin(STEADY_PHASES)]
        low, high = assumption["band_w"]
        stats = describe(subset["power_w"])
        verdict = ("no evidence" if not stats["n"] else
                   "supported" if low <= stats["median"] <= high else "contradicted")
        results.append({"name": assumption["name"], "expected": [low, high], "n": stats["n"],
                        "evidence_w": stats, "verdict": verdict, "sources": sorted(set(subset["url"]))})
    return results


def confidence(frame: pd.DataFrame, power_rows: list[dict], estimate: dict) -> list[dict]:
    """Graded findings: high = direct H100 PCIe measured inference power with a known method;
    medium = another GPU scaled, system-level, derived from energy, or training power;
    low = performance-only, cloud figures with overhead, or training-only data."""
    findings = []
    direct = measured_power(frame)
    direct = direct[(direct["gpu"] == TARGET_GPU) & direct["method"].isin(KNOWN_METHODS) & direct["scope"].ne("system")]
    if estimate["basis"] == "direct":
        grade = "high" if not direct.empty and not _has_flag(direct, "derived").all() else "medium"
        findings.append({"finding": f"H100 PCIe steady-state inference power {estimate['band_w'][0]}–"
                                    f"{estimate['band_w'][1]} W (median {estimate['power_w']['median']} W)",
                         "confidence": grade, "why": "direct measured H100 PCIe inference figures"
                         + ("" if grade == "high" else " without a known method or only derived")})
    elif estimate["basis"] == "inferred":
        findings.append({"finding": f"H100 PCIe steady-state inference power inferred at {estimate['band_w'][0]}–"
                                    f"{estimate['band_w'][1]} W", "confidence": "medium",
                         "why": "another GPU's fraction of TDP scaled to 350 W"})
    for row in power_rows:
        if row["gpu"] == TARGET_GPU and row["level"] == "gpu":
            continue
        grade = {"gpu": "medium", "system": "medium", "rated": "low", "estimated": "low"}[row["level"]]
        findings.append({"finding": f"{row['gpu']} {row['level']} power median {row['power_w']['median']} W "
                                    f"(n={row['power_w']['n']})", "confidence": grade,
                         "why": {"gpu": "another GPU", "system": "system-level power",
                                 "rated": "rated (TDP-like) figures, not measurements",
                                 "estimated": "estimated figures"}[row["level"]]})
    training = frame[(frame["workload"].isin(["training", "fine-tuning"])) & frame["power_w"].notna()]
    if not training.empty:
        findings.append({"finding": f"training power figures: {len(training)}", "confidence": "low"
                         if frame[frame["workload"] == "inference"]["power_w"].notna().sum() == 0 else "medium",
                         "why": "training power (low when it is the only data)"})
    return findings


def success_criteria(frame: pd.DataFrame, assumptions: list[dict], batches: list[dict]) -> list[dict]:
    measurements = int(len(frame))
    dataset = frame["url"].str.contains("ohdoking/energy_consumption_by_model_and_gpu", regex=False).any()
    aes = int((frame["source"] == "ai_energy_score").sum())
    h100 = int(frame["gpu"].fillna("").str.startswith("H100").sum())
    per_model = frame[frame["energy_per_query_j"].notna() | frame["energy_per_token_j"].notna()]
    models = int(per_model["model_id"].fillna(per_model["model_name"]).nunique())
    steady = next((a for a in assumptions if a.get("name", "").startswith("steady")), None)
    idle_gpus = set(frame.loc[frame["phase"] == "idle", "gpu"].dropna())
    busy_gpus = set(measured_power(frame)["gpu"].dropna())
    correlations = [b for b in batches if b["pearson_r"] is not None]
    traces = [trace for trace in frame["trace"] if isinstance(trace, dict) and trace.get("readings_w")]

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
        item("stretch", "idle→inference transitions", bool(idle_gpus & busy_gpus),
             ", ".join(sorted(idle_gpus & busy_gpus)) or "none"),
        item("stretch", "batch effects", bool(batches), len(batches)),
        item("stretch", "a correlation coefficient", bool(correlations),
             correlations[0]["pearson_r"] if correlations else None),
        item("stretch", "power traces", bool(traces), _traces_figure(traces)),
    ]


def _traces_figure(traces: list[dict]) -> str:
    """"2 traces (7 readings, 1 with an idle-to-load swing)": how much time-series evidence there is."""
    if not traces:
        return "no time series in the sources crawled"
    readings = sum(len(trace["readings_w"]) for trace in traces)
    # A swing from idle to load within one trace: its lowest reading under half its highest.
    swings = sum(1 for trace in traces if min(trace["readings_w"]) < 0.5 * max(trace["readings_w"]))
    return (f"{len(traces)} trace{'s' if len(traces) != 1 else ''} ({readings} readings, "
            f"{swings} with an idle-to-load swing)")


def synthesise(frame: pd.DataFrame, assumptions: dict) -> dict:
    power_rows = power_by_gpu(frame)
    estimate = h100_pcie_estimate(frame)
    batches = batch_effects(frame)
    verdicts = check_assumptions(frame, assumptions)
    return {
        "coverage": coverage(frame),
        "power_by_gpu": power_rows,
        "h100_pcie_estimate": estimate,
        "energy_by_gpu_and_size": energy_by_gpu_and_size(frame),
        "batch_effects": batches,
        "validation": validation(frame),
        "assumptions": {"gpu": assumptions.get("gpu"), "workload": assumptions.get("workload"),
                        "results": verdicts},
        "confidence": confidence(frame, power_rows, estimate),
        "success_criteria": success_criteria(frame, verdicts, batches),
    }
