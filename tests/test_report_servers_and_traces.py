"""Issue 14, item 4: whole servers at the wall stay apart from per-GPU figures (in every table, the
outlier check and the lead answer), per-GPU shares of a server's power are labelled estimates, and
the report plots and tables the power traces and judges the stretch criterion from them. Small
hand-made records; every figure worked out by hand in the comments."""

import pandas as pd
import pytest

from postprocess.report import build_sections, make_plots, render_markdown
from postprocess.synthesis import power_by_gpu, synthesise, validation
from tests.test_postprocess import ASSUMPTIONS, record

RESULT = "https://example.org/mlperf/H100-PCIe-80GBx8/bert-99/Offline"
ISSUE = "https://example.org/issue/1"
# 1 s apart; the timed run from 2.5 s to 6.5 s. Before it (0, 1, 2 s): 800, 820, 1500, whose quietest
# quarter (one reading) is 800 W; inside it (3..6 s): 3000, 3100, 2900, 3000, mean 3000 W; 3000 / 800
# = 3.75. 90 % of the way: 800 + 0.9 x 2200 = 2780 W, reached by the first reading inside: 0 s.
SERVER_TRACE = {"interval_s": 1.0, "load_window_s": [2.5, 6.5],
                "readings_w": [800.0, 820.0, 1500.0, 3000.0, 3100.0, 2900.0, 3000.0, 900.0]}
# No window: quietest quarter 55 W, busiest 148 W, 148 / 55 = 2.69; from the last idle reading (0 s)
# to the first at 55 + 0.9 x 93 = 138.7 W or more (142 W at 2 s): 2 s.
GPU_TRACE = {"interval_s": 1.0, "readings_w": [55.0, 56.0, 142.0, 148.0]}


def per_gpu(i, watts, **fields):
    return record(id=f"1{i:019x}", gpu="H100 PCIe", power_w=watts, power_kind="measured", method="nvml",
                  scope="gpu", url=f"https://example.org/bench/{i}", **fields)


def server(i, watts, count, **fields):
    return record(id=f"2{i:019x}", source="mlperf_power", model_name="bert-99", gpu="H100 PCIe", gpu_count=count,
                  power_w=watts, power_kind="measured", phase="steady", method="external-meter", scope="system",
                  flags=["system_level"], url=RESULT, **fields)


def share(i, watts):
    """MLPerf's per-accelerator estimate: the server's power over its accelerators."""
    return record(id=f"3{i:019x}", source="mlperf_power", model_name="bert-99", gpu="H100 PCIe", gpu_count=1,
                  power_w=watts, power_kind="estimated", phase="steady", method="external-meter", scope="system",
                  flags=["per_gpu_from_total", "derived", "includes_host_power"], url=RESULT)


def servers_and_gpus():
    """Per GPU: steady 280, 300, 320 W (median 300). Whole servers: an 8 x H100 PCIe at 3000 W, one
    that does not say how many GPUs it holds at 1500 W, and the 8-GPU server's share, 375 W."""
    return ([per_gpu(i, watts) for i, watts in enumerate([280.0, 300.0, 320.0])]
            + [server(0, 3000.0, 8), server(1, 1500.0, None), share(0, 375.0)])


def markdown_of(frame):
    synthesis = synthesise(frame, ASSUMPTIONS)
    synthesis["input"] = {"problems": {"count": 0}, "disagreeing_duplicates": {"count": 0}}
    plots = make_plots(frame, synthesis)
    sections = build_sections(synthesis, [], "traces" in plots)
    return synthesis, plots, render_markdown(sections, plots, {name: f"plots/{name}.png" for name in plots})


def section(markdown, title):
    return next(part for part in markdown.split("\n## ") if part.startswith(title))


def test_a_whole_server_is_compared_with_all_its_accelerators_tdp():
    rows = {(r["level"], r["accelerators"]): r for r in power_by_gpu(pd.DataFrame(servers_and_gpus()))}
    gpu = rows[("gpu", None)]
    assert gpu["power_w"]["median"] == 300.0 and gpu["fraction_of_tdp"]["median"] == pytest.approx(300 / 350)
    eight = rows[("system", 8)]
    # 3000 W against 8 x 350 = 2800 W: 107 %, not 3000 / 350 = 857 %.
    assert (eight["power_w"]["median"], eight["compared_tdp_w"]) == (3000.0, 2800.0)
    assert eight["fraction_of_tdp"]["median"] == pytest.approx(3000 / 2800)
    unknown = rows[("system", None)]  # how many GPUs it holds is not stated: no ratio at all
    assert (unknown["power_w"]["median"], unknown["compared_tdp_w"], unknown["fraction_of_tdp"]["n"]) == (
        1500.0, None, 0)
    assert rows[("system_share", None)]["power_w"]["median"] == 375.0
    assert ("estimated", None) not in rows  # the share is not pooled with other estimates


def test_whole_servers_and_shares_stay_out_of_per_gpu_tables_and_the_answer():
    synthesis, _, markdown = markdown_of(pd.DataFrame(servers_and_gpus()))
    estimate = synthesis["h100_pcie_estimate"]
    assert (estimate["basis"], estimate["power_w"]["n"], estimate["power_w"]["median"]) == ("direct", 3, 300.0)
    lead = section(markdown, "H100 PCIe power for a rack plan")
    assert "| steady load or run average | 3 | 300 | 290–310 | 280–320 |" in lead
    assert "3000" not in lead and "1500" not in lead and "375" not in lead
    steady = section(markdown, "Steady-state inference power per GPU")
    assert "| H100 PCIe | 3 | 300 | 290–310 | 280–320 | 85.7 |" in steady  # 300 / 350
    assert "3000" not in steady and "1500" not in steady and "375" not in steady
    servers = section(markdown, "Whole H100 PCIe servers at the wall")
    assert "| H100 PCIe | 8 | steady load or run average | 1 | 3000 | 3000 | 2800 | 107 |" in servers
    assert "| H100 PCIe | not stated | steady load or run average | 1 | 1500 | 1500 | – | – |" in servers
    assert "375 W per GPU (median of 1 estimate): an estimate that holds the host's share" in servers
    assert "| H100 PCIe | 8 | steady load or run average | 1 | 3000 |" in section(markdown, "Whole server at the wall")
    rated = section(markdown, "Rated and estimated figures per GPU")
    assert ("| H100 PCIe | estimate: whole-server power ÷ accelerators (includes the host's share) | 1 | 375 | 375 "
            "| 350 |") in rated
    findings = section(markdown, "Confidence")
    assert "| 8 x H100 PCIe whole-server (at the wall) steady power: median 3000 W (1 figure) | low |" in findings
    assert "| H100 PCIe estimated per-GPU share of whole-server power: median 375 W (1 figure) | low |" in findings


def test_servers_are_outliers_only_among_servers_of_as_many_accelerators():
    # Four 8-GPU servers at 3000..3030 W (q1 3007.5, q3 3022.5) and a 1-GPU server at 400 W: pooled,
    # five figures with q1 3000 and q3 3020 would make 400 W an outlier; apart, the one-server group
    # is too small to judge and the 8-GPU group has none. The per-GPU 280..320 W are apart too.
    frame = pd.DataFrame([per_gpu(i, watts) for i, watts in enumerate([280.0, 300.0, 320.0, 310.0])]
                         + [server(i, watts, 8) for i, watts in enumerate([3000.0, 3010.0, 3020.0, 3030.0])]
                         + [server(9, 400.0, 1)])
    assert validation(frame)["outliers"] == []
    frame = pd.concat([frame, pd.DataFrame([server(10, 1000.0, 8)])], ignore_index=True)
    outlier, = validation(frame)["outliers"]
    assert outlier["power_w"] == 1000.0
    assert "whole-server (8 accelerators)" in outlier["reason"]


def test_traces_are_plotted_tabled_and_judge_the_stretch_criterion():
    frame = pd.DataFrame([per_gpu(0, 300.0), server(0, 3000.0, 8, trace=SERVER_TRACE, locator="v3.1/x/Offline#window"),
                          record(id="4" * 20, source="github_issues", gpu="A10", gpu_count=1, power_w=100.25,
                                 power_kind="measured", scope="gpu", method="nvidia-smi", url=ISSUE, trace=GPU_TRACE)])
    synthesis, plots, markdown = markdown_of(frame)
    criteria = {c["criterion"]: (c["met"], c["figure"]) for c in synthesis["success_criteria"]}
    assert criteria["power traces"] == (
        True, "2 traces (12 readings): 1 of whole servers at the wall (8 x H100 PCIe), 1 per GPU (1 x A10); "
              "H100 PCIe: 1 (whole-server only)")
    assert criteria["idle→inference transitions"] == (
        True, "all 2 go from idle to load (load / idle 2.69–3.75, rise to 90 % in 0–2 s); H100 PCIe: 1 "
              "(whole-server only)")
    traces = section(markdown, "Power traces: idle → load")
    assert traces.startswith("Power traces: idle → load\n\nThe plan's stretch criterion, judged from these traces: "
                             "power traces available (2 traces")
    assert ("| mlperf\\_power, bert-99, 8 x H100 PCIe, whole server | 8 x H100 PCIe | whole server (at the wall) "
            "| 8 | 1 | 800 | 3000 | 3.75 | 0 |") in traces
    assert "| github\\_issues, 1 x A10 | 1 x A10 | per GPU | 4 | 1 | 55 | 148 | 2.69 | 2 |" in traces
    assert "![Power traces: idle → load" in traces
    assert {axes[1] for axes in plots["traces"].axes} == {"whole server at the wall (W)", "per GPU (W)"}
    missing = section(markdown, "H100 PCIe power for a rack plan")
    assert "no per-GPU H100 PCIe power trace: 1 trace of it (8 x H100 PCIe), all of whole servers" in missing


def test_without_traces_the_criterion_is_not_met_and_nothing_is_drawn():
    synthesis, plots, markdown = markdown_of(pd.DataFrame(servers_and_gpus()))
    criteria = {c["criterion"]: (c["met"], c["figure"]) for c in synthesis["success_criteria"]}
    assert criteria["power traces"] == (False, "no time series in the sources crawled")
    assert criteria["idle→inference transitions"] == (False, "no power trace to see one in")
    assert "traces" not in plots
    traces = section(markdown, "Power traces: idle → load")
    assert "power traces not available" in traces and "(none)" in traces and "![" not in traces
    assert "no H100 PCIe power trace (readings over time)" in section(markdown, "H100 PCIe power for a rack plan")


def test_a_flat_trace_is_no_transition():
    # 280, 285, 290, 295 W: quietest quarter 280, busiest 295, 1.05 times: a steady run's wobble.
    frame = pd.DataFrame([per_gpu(0, 287.5, trace={"interval_s": 1.0, "readings_w": [280.0, 285.0, 290.0, 295.0]})])
    criteria = {c["criterion"]: (c["met"], c["figure"]) for c in synthesise(frame, ASSUMPTIONS)["success_criteria"]}
    assert criteria["power traces"] == (True, "1 trace (4 readings): 1 per GPU (H100 PCIe); H100 PCIe: 1 "
                                              "(per GPU only)")
    assert criteria["idle→inference transitions"] == (
        False, "no trace goes from an idle level to a load level 1.5 times as high (1 trace looked at)")


def test_a_whole_servers_rating_is_no_gpu_tdp():
    # A page rating an 8 x H100 PCIe server at 2800 W, and one rating the GPU at 350 W.
    rated = [record(id="5" * 20, gpu="H100 PCIe", gpu_count=8, power_w=2800.0, power_kind="rated", scope="system",
                    url="https://example.org/server-spec"),
             record(id="6" * 20, gpu="H100 PCIe", power_w=350.0, power_kind="rated", scope="gpu",
                    url="https://example.org/gpu-spec")]
    frame = pd.DataFrame(servers_and_gpus() + rated)
    tdp = synthesise(frame, ASSUMPTIONS)["assumptions"]["results"][0]
    # Judged from the GPU's 350 W alone: 2800 W is not a published TDP of the H100 PCIe.
    assert (tdp["verdict"], tdp["n"], tdp["sources"]) == ("supported", 1, ["https://example.org/gpu-spec"])
    rows = {r["level"]: r for r in power_by_gpu(frame) if r["level"] not in ("gpu", "system")}
    assert (rows["rated"]["power_w"]["median"], rows["rated"]["tdp_w"]) == (350.0, 350.0)
    assert (rows["system_rated"]["power_w"]["median"], rows["system_rated"]["tdp_w"]) == (2800.0, None)
    assert rows["system_share"]["power_w"]["median"] == 375.0
    _, _, markdown = markdown_of(frame)
    assert "| H100 PCIe | whole server, rated (not per GPU) | 1 | 2800 | 2800 | – |" in section(
        markdown, "Rated and estimated figures per GPU")
